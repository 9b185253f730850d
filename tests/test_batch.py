"""The batch unit of work: one pass over its files gives what the separate stages give."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal
from prefect.utilities.collections import visit_collection

from tasks.aggregate import documents_frame, facts_frame
from tasks.batch import FileBatch, process_batch, process_batch_task
from tasks.extract import extract_docs
from tasks.ingest import DEFAULT_MAX_BYTES, IGNORED_NAMES, ingest_folder, minhash, read_manifest
from tasks.normalize import normalize_docs
from tasks.store import FileStat, scan_folder
from tests.conftest import ROOT, SEEDS

FIXTURES = ROOT / "tests" / "fixtures" / "extraction" / "texts"


def _batch(folder: Path, size: int) -> dict[str, pd.DataFrame]:
    files = sorted(scan_folder(folder, IGNORED_NAMES), key=lambda f: f.rel)
    manifest = read_manifest(folder)
    parts = [
        process_batch(folder, files[i : i + size], DEFAULT_MAX_BYTES, manifest)
        for i in range(0, len(files), size)
    ]
    return {
        name: pd.concat([getattr(p, name) for p in parts], ignore_index=True)
        for name in ("sources", "documents", "facts", "vague")
    }


def test_process_batch_gives_the_frames_of_the_separate_stages() -> None:
    for folder in (SEEDS, FIXTURES):
        got = _batch(folder, size=100)  # one batch: concatenating several would change dtypes
        extractions = extract_docs(normalize_docs(ingest_folder(folder).sources))
        want_docs = documents_frame(extractions)
        got_docs = got["documents"].sort_values("doc_id", ignore_index=True)
        assert_frame_equal(got_docs, want_docs)
        order = {d: i for i, d in enumerate(want_docs["doc_id"])}
        got_facts = got["facts"].sort_values(
            "doc_id", key=lambda s: s.map(order), kind="stable", ignore_index=True
        )
        assert_frame_equal(got_facts, facts_frame(extractions))


def test_sources_are_active_and_signed() -> None:
    sources = _batch(SEEDS, size=2)["sources"]  # several batches, as the flow runs them
    assert set(sources["status"]) == {"active"}
    for row in sources.itertuples():
        text = (SEEDS / row.rel).read_text(encoding="utf-8")
        signed = minhash(text)
        assert signed is not None
        assert row.signature == signed[0].tobytes() and row.shingles == signed[1]


def test_a_file_batch_is_one_value_to_prefect_and_reads_as_its_files() -> None:
    """Prefect looks inside every list and dataclass of a task's arguments, three times per
    task run; a batch is one value to it, and through pickle (to a worker) it gives the frames
    of its files and manifest."""
    files = sorted(scan_folder(SEEDS, IGNORED_NAMES), key=lambda f: f.rel)
    manifest = read_manifest(SEEDS)
    batch = FileBatch(files, manifest)
    seen: list[object] = []
    visit_collection({"batch": batch}, seen.append, return_data=False)
    assert any(x is batch for x in seen)
    assert not any(isinstance(x, FileStat) for x in seen)
    # the plain list, for contrast: every record is visited
    seen.clear()
    visit_collection({"files": files}, seen.append, return_data=False)
    assert sum(isinstance(x, FileStat) for x in seen) == len(files) > 0

    assert len(batch) == len(files) and repr(batch).startswith(f"FileBatch({len(files)} files")
    got = process_batch_task.fn(SEEDS, pickle.loads(pickle.dumps(batch)), DEFAULT_MAX_BYTES)
    want = process_batch(SEEDS, files, DEFAULT_MAX_BYTES, manifest)
    for name in ("sources", "documents", "facts", "vague"):
        assert_frame_equal(getattr(got, name), getattr(want, name))
