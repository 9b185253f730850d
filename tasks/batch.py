"""One batch of source files through ingest → normalise → extract, as compact frames.

This is the unit of work that a task run (or a Dask worker) does: it reads the files it is
given, never the whole folder, and returns DataFrames rather than the texts, so that memory
stays bounded however many sources a run has and results are cheap to send between processes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.aggregate import documents_frame, facts_frame
from tasks.extract import extract_docs
from tasks.ingest import read_source
from tasks.normalize import normalize_docs
from tasks.records import SourceDoc
from tasks.store import SOURCE_COLUMNS, BatchResult, FileStat


def process_batch(
    root: Path,
    files: list[FileStat],
    max_bytes: int,
    manifest: dict[str, dict[str, str]],
) -> BatchResult:
    """Read, normalise and extract ``files`` (paths under ``root``).

    A file that cannot be used becomes a quarantined source row with its reason; a file that
    holds several documents (an archive, a JSON Lines export) gives one row per document.
    """
    root = root.resolve()  # file paths in the plan are absolute
    sources: list[dict] = []
    docs: list[SourceDoc] = []
    for f in files:
        try:
            found = _read(Path(f.path), root, max_bytes, manifest)
        except ValueError as err:  # UnreadableError and friends: the reason is the message
            sources.append(_source_row(f, "", "", "quarantined", str(err)))
            continue
        for doc in found:
            docs.append(doc)
            sources.append(_source_row(f, doc.doc_id, doc.content_hash, "active", ""))
    extractions = extract_docs(normalize_docs(docs))
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


def _read(
    path: Path, root: Path, max_bytes: int, manifest: dict[str, dict[str, str]]
) -> list[SourceDoc]:
    doc = read_source(path, root, max_bytes)
    rel = path.relative_to(root).as_posix()
    extra = manifest.get(path.name) or manifest.get(rel) or {}
    if not extra:
        return [doc]
    meta = tuple(sorted({**dict(doc.meta), **extra}.items()))
    return [SourceDoc(doc.doc_id, doc.source, doc.text, doc.title, meta, doc.content_hash)]


def _source_row(f: FileStat, doc_id: str, content_hash: str, status: str, reason: str) -> dict:
    return {
        "path": f.path,
        "member": doc_id,  # a file that holds several documents has one row per document
        "rel": f.rel,
        "doc_id": doc_id,
        "size": f.size,
        "mtime_ns": f.mtime_ns,
        "content_hash": content_hash or hashlib.sha256(b"").hexdigest(),
        "status": status,
        "reason": reason,
    }


@task(name="process-batch", cache_policy=NO_CACHE)
def process_batch_task(
    root: Path, files: list[FileStat], max_bytes: int, manifest: dict[str, dict[str, str]]
) -> BatchResult:
    """Prefect wrapper of ``process_batch`` (one task run per batch of files)."""
    return process_batch(root, files, max_bytes, manifest)
