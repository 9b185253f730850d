"""One batch of source files through ingest → normalise → extract, as compact frames.

This is the unit of work that a task run (or a Dask worker) does: it reads the files it is
given, never the whole folder, and returns DataFrames rather than the texts, so that memory
stays bounded however many sources a run has and results are cheap to send between processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.aggregate import documents_frame, facts_frame
from tasks.extract import extract_docs
from tasks.ingest import minhash, read_path
from tasks.normalize import normalize_doc
from tasks.records import NormalizedDoc
from tasks.store import SOURCE_COLUMNS, BatchResult, FileStat


def process_batch(
    root: Path,
    files: Sequence[FileStat],
    max_bytes: int,
    manifest: dict[str, dict[str, str]],
) -> BatchResult:
    """Read, normalise and extract ``files`` (paths under ``root``).

    A file that cannot be used becomes a quarantined source row with its reason; a file that
    holds several documents (an archive, a JSON Lines export) gives one row per document, and
    a bad member of an archive is quarantined on its own. Each document is signed (MinHash) so
    that the flow can find near-duplicates across batches and runs.
    """
    root = root.resolve()  # file paths in the plan are absolute
    sources: list[dict] = []
    docs: list[NormalizedDoc] = []
    for f in files:
        try:
            found = read_path(Path(f.path), root, max_bytes, manifest)
        except ValueError as err:  # UnreadableError: the message is the reason
            sources.append(_source_row(f, "", "", "quarantined", str(err)))
            continue
        for bad in found.quarantined:
            sources.append(_source_row(f, "", "", "quarantined", bad.reason, member=bad.source))
        for doc in found.docs:
            # normalised right away: its normalised text was just made for its content hash
            docs.append(normalize_doc(doc))
            sources.append(
                _source_row(
                    f,
                    doc.doc_id,
                    doc.content_hash,
                    "active",
                    "",
                    member=doc.source,
                    signed=minhash(doc.text),
                )
            )
    extractions = extract_docs(docs)
    documents = documents_frame(extractions)
    vague = pd.DataFrame(
        [(v.doc_id, v.phrase) for ex in extractions for v in ex.vague], columns=["doc_id", "phrase"]
    )
    return BatchResult(
        sources=pd.DataFrame(sources, columns=list(SOURCE_COLUMNS)),
        documents=documents,
        facts=facts_frame(extractions),
        vague=vague,
    )


def _source_row(
    f: FileStat,
    doc_id: str,
    content_hash: str,
    status: str,
    reason: str,
    member: str = "",
    signed: tuple[np.ndarray, int] | None = None,
) -> dict:
    return {
        "path": f.path,
        "member": member or f.rel,  # a file that holds several documents: one row each
        "rel": f.rel,
        "doc_id": doc_id,
        "size": f.size,
        "mtime_ns": f.mtime_ns,
        "content_hash": content_hash,
        "status": status,
        "reason": reason,
        "signature": signed[0].tobytes() if signed else None,
        "shingles": signed[1] if signed else None,
    }


class FileBatch:
    """The files one task run reads and the folder's manifest: one value to the orchestrator.

    Prefect walks every list, tuple, dict, dataclass and model in a task's arguments, looking
    for futures to wait on: once before a process-pool submit, twice more in the worker (to
    record the run's inputs, then to resolve them). A batch holds no future, and its 1,000
    ``FileStat`` records walked three times cost ~0.2 s of CPU per task run (about a tenth
    of the run's work at 10,000 reports), more with a large manifest. A plain class is one
    value to Prefect, to ``pickle`` and to Dask alike (``quote`` is a tuple, which Dask
    unpacks, and Prefect removes it before the worker sees it).
    """

    __slots__ = ("files", "manifest")

    def __init__(
        self, files: Sequence[FileStat], manifest: dict[str, dict[str, str]] | None = None
    ) -> None:
        self.files: tuple[FileStat, ...] = tuple(files)
        self.manifest: dict[str, dict[str, str]] = manifest if manifest is not None else {}

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:  # what a log line or an error shows: not 1,000 records
        first = self.files[0].rel if self.files else ""
        return f"FileBatch({len(self.files)} files from {first!r})"


@task(name="process-batch", cache_policy=NO_CACHE)
def process_batch_task(root: Path, batch: FileBatch, max_bytes: int) -> BatchResult:
    """Prefect wrapper of ``process_batch`` (one task run per batch of files)."""
    return process_batch(root, batch.files, max_bytes, batch.manifest)
