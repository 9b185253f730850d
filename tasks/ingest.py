"""Ingest stage: read a source folder into ``SourceDoc`` records, quarantining what cannot be used.

Only this stage reads sources. Nothing in the source folder is ever written. A file that cannot
be used goes to the quarantine list with a reason a user can act on, and the run goes on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from prefect import task

from tasks.records import IngestResult, Quarantined, SourceDoc

#: Extensions read as plain text.
TEXT_SUFFIXES = frozenset({".txt", ".md", ".text"})
#: Files of the source folder that are not reports.
IGNORED_NAMES = frozenset({"manifest.csv", ".ds_store", "thumbs.db", "desktop.ini"})
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: Share of control or replacement characters above which decoded text is called noise.
NOISE_SHARE = 0.05
MIN_LETTERS = 20


class UnreadableError(ValueError):
    """A source that cannot be turned into text; the message is the quarantine reason."""


def decode_text(data: bytes) -> str:
    """Decode the bytes of a text file: UTF-8 (with or without BOM), UTF-16 (BOM), else fail.

    Raises:
        UnreadableError: when the bytes are not text in a known encoding.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnreadableError(
            f"not UTF-8 or UTF-16 text (byte {err.start}: {data[err.start : err.start + 1]!r})"
        ) from err


def check_text(text: str) -> None:
    """Refuse text that is empty or mostly noise.

    Raises:
        UnreadableError: with the reason.
    """
    if not text.strip():
        raise UnreadableError("empty file")
    bad = sum(
        1
        for ch in text
        if ch == "\ufffd" or (unicodedata.category(ch) in {"Cc", "Cs", "Co"} and ch not in "\n\r\t")
    )
    if bad / len(text) > NOISE_SHARE:
        raise UnreadableError(f"binary noise ({bad} control characters in {len(text)})")
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        raise UnreadableError("no readable text (fewer than 20 letters)")


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """Read ``manifest.csv`` (file, province, url, published) if the folder has one.

    Returns:
        Per-file metadata keyed by the file name as written in the manifest.
    """
    path = folder / "manifest.csv"
    if not path.is_file():
        return {}
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        name = (row.get("file") or "").strip()
        if name:
            out[name] = {k: (v or "").strip() for k, v in row.items() if k and k != "file" and v}
    return out


def list_sources(folder: Path) -> list[Path]:
    """List the candidate files of a source folder, recursively, in a stable order."""
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.name.lower() not in IGNORED_NAMES),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def read_source(path: Path, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> SourceDoc:
    """Read one file into a ``SourceDoc``.

    Raises:
        UnreadableError: when the file cannot be used; the message says why.
    """
    rel = path.relative_to(folder).as_posix()
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise UnreadableError(f"unsupported file type {suffix or '(none)'!r}")
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableError(f"file too large ({size} bytes > limit {max_bytes})")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UnreadableError(f"cannot read file: {err.strerror or err}") from err
    text = decode_text(data)
    check_text(text)
    return SourceDoc(
        doc_id=path.stem,
        source=rel,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def ingest_folder(folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> IngestResult:
    """Read every file of ``folder``; quarantine what cannot be used; drop exact duplicates.

    Raises:
        FileNotFoundError: when the folder does not exist.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"source folder not found: {folder}")
    manifest = read_manifest(folder)
    result = IngestResult()
    seen_hash: dict[str, str] = {}
    seen_id: set[str] = set()
    for path in list_sources(folder):
        rel = path.relative_to(folder).as_posix()
        try:
            doc = read_source(path, folder, max_bytes)
        except UnreadableError as err:
            result.quarantined.append(Quarantined(rel, str(err)))
            continue
        if doc.content_hash in seen_hash:
            result.duplicates.append((rel, seen_hash[doc.content_hash]))
            continue
        if doc.doc_id in seen_id:
            result.quarantined.append(Quarantined(rel, f"duplicate document id {doc.doc_id!r}"))
            continue
        seen_hash[doc.content_hash] = rel
        seen_id.add(doc.doc_id)
        extra = manifest.get(path.name) or manifest.get(rel) or {}
        result.sources.append(_with_meta(doc, extra.items()))
    return result


def _with_meta(doc: SourceDoc, items: Iterable[tuple[str, str]]) -> SourceDoc:
    meta = tuple(sorted({**dict(doc.meta), **dict(items)}.items()))
    return SourceDoc(doc.doc_id, doc.source, doc.text, doc.title, meta, doc.content_hash)


@task(name="ingest")
def ingest_task(folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> IngestResult:
    """Prefect wrapper of ``ingest_folder``."""
    return ingest_folder(folder, max_bytes)
