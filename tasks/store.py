"""The store: an embedded DuckDB database that remembers sources, documents, facts and runs.

A run reads only what is new or changed: ``plan_scan`` compares the files of a source folder
with what the store knows (size and modification time first, the content hash when those
moved), and ``save_batch`` replaces a document's rows when it is read again. A source that
disappears is marked ``missing``, never deleted, so no fact of an earlier run is lost; the
briefing is always built from the store, so a run with nothing new still renders it.

Tables: ``sources`` (one row per file ever seen), ``documents``, ``facts`` (the columns of
documents.csv and facts.csv), ``vague``, ``runs`` and ``briefings``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.ingest import Deduplicator
from tasks.records import DOCUMENT_COLUMNS, FACT_COLUMNS

SCHEMA_VERSION = 1

_FACT_TYPES = {
    "fact_id": "VARCHAR",
    "doc_id": "VARCHAR",
    "indicator": "VARCHAR",
    "label": "VARCHAR",
    "value": "DOUBLE",
    "value_max": "DOUBLE",
    "unit": "VARCHAR",
    "denominator": "DOUBLE",
    "qualifier": "VARCHAR",
    "kind": "VARCHAR",
    "year": "INTEGER",
    "province": "VARCHAR",
    "sentence": "VARCHAR",
    "start": "INTEGER",
    "end": "INTEGER",
    "noun_phrase": "VARCHAR",
}
_DOC_TYPES = {
    "doc_id": "VARCHAR",
    "source": "VARCHAR",
    "title": "VARCHAR",
    "year": "INTEGER",
    "plan_year": "INTEGER",
    "period_start": "INTEGER",
    "period_end": "INTEGER",
    "province": "VARCHAR",
    "province_reason": "VARCHAR",
    "military_region": "VARCHAR",
    "conference_date": "VARCHAR",
    "chair": "VARCHAR",
    "attendees": "VARCHAR",
    "organiser": "VARCHAR",
    "n_facts": "INTEGER",
    "status": "VARCHAR",
    "directions": "VARCHAR",
}


def _columns(types: dict[str, str], order: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}" {types[c]}' for c in order)


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS sources (
    path VARCHAR,                  -- absolute path of the file
    member VARCHAR,                -- the document inside it (a file may hold several)
    root VARCHAR,                  -- the source folder it was found in
    rel VARCHAR,                   -- its path inside that folder
    doc_id VARCHAR,
    size BIGINT,
    mtime_ns BIGINT,
    content_hash VARCHAR,
    fingerprint VARCHAR,           -- the extractor version that read it
    status VARCHAR,                -- active | duplicate | quarantined | missing
    reason VARCHAR,                -- why quarantined, or what it duplicates
    first_run VARCHAR,
    last_run VARCHAR,
    signature BLOB,                -- MinHash of the text, for near-duplicates
    shingles INTEGER,              -- how many word 5-grams the text has
    PRIMARY KEY (path, member)
);
CREATE TABLE IF NOT EXISTS documents ({_columns(_DOC_TYPES, (*DOCUMENT_COLUMNS, "directions"))});
CREATE TABLE IF NOT EXISTS facts ({_columns(_FACT_TYPES, FACT_COLUMNS)});
CREATE TABLE IF NOT EXISTS vague (doc_id VARCHAR, phrase VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, started VARCHAR, finished VARCHAR, summary VARCHAR
);
CREATE TABLE IF NOT EXISTS briefings (
    run_id VARCHAR, path VARCHAR, sha256 VARCHAR, lang VARCHAR
);
CREATE TABLE IF NOT EXISTS renders (   -- see tasks/reuse.py
    key VARCHAR PRIMARY KEY, run_id VARCHAR, outputs VARCHAR, info VARCHAR
);
"""


#: Stores held open in this process by ``held``: resolved path -> the connection.
_HELD: dict[str, duckdb.DuckDBPyConnection] = {}


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Keep the store open while a stage's tasks run: ``connect`` inside uses it.

    DuckDB checkpoints a database (its log written into the file) whenever its last
    connection closes. A flow saves each batch in a task run of its own, and opening and
    closing the store around each save was about a third of the saves' CPU (10,000 reports:
    ten checkpoints, ~1.8 CPU-s beside the workers on two cores) where the same functions
    called in one go checkpoint once. Held, a stage checkpoints once too.

    In this process only, and to be released before the store is opened read-only (the
    briefing's queries: DuckDB refuses a second configuration of an open database).
    """
    key = str(path.resolve())
    if key in _HELD:  # already held by an outer stage
        yield
        return
    with connect(path) as con:
        _HELD[key] = con
        try:
            yield
        finally:
            del _HELD[key]


@contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (and create) the store; one writer at a time, closed on exit.

    Inside ``held``: a connection of its own to the store already open (a DuckDB cursor),
    which closes without a checkpoint.
    """
    open_store = _HELD.get(str(path.resolve()))
    if open_store is not None:
        cursor = open_store.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA)
        _migrate(con)
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
        yield con
    finally:
        con.close()


#: Columns added since the first store: (table, column, type). An older store gains them.
_ADDED_COLUMNS = (("sources", "signature", "BLOB"), ("sources", "shingles", "INTEGER"))


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a store written by an earlier tonghop up to this schema, keeping its rows."""
    for table, column, kind in _ADDED_COLUMNS:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")


def files_digest(paths: Iterable[Path]) -> str:
    """A short hash of the names and bytes of ``paths`` (missing ones are skipped)."""
    digest = hashlib.sha256()
    for p in sorted(paths):
        if p.is_file():
            digest.update(p.name.encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (outputs reach hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def extractor_fingerprint() -> str:
    """A hash of the code and data that turn text into facts: a new extractor re-reads sources."""
    here = Path(__file__).parent
    modules = ("normalize", "numbers", "metadata", "extract", "catalog", "ingest", "readers")
    code = [here / f"{name}.py" for name in (*modules, "encodings")]
    return files_digest([*code, *(here / "data").glob("*")])


# --- scanning ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileStat:
    """A file of the source folder as the file system sees it."""

    path: str  # absolute
    rel: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Listing:
    """The files of a source folder as the file system sees them, one tuple per column, in
    the order the file system lists them (``plan_scan`` puts what it returns in ``rel`` order).

    Columns rather than a ``FileStat`` per file: at 100,000 files the objects cost more than the
    comparison with the store, and DuckDB reads columns in one go (``plan_scan``). A
    ``FileStat`` is made only for a file that a run reads.

    Attributes:
        prefix: the folder's resolved path and a separator: ``prefix`` + ``rel`` (in the
            platform's separators) is a file's absolute path, its key in the store.
        rel: each file's path inside the folder, with ``/`` separators.
        size: each file's size in bytes.
        mtime_ns: each file's modification time in nanoseconds.
    """

    prefix: str
    rel: tuple[str, ...] = ()
    size: tuple[int, ...] = ()
    mtime_ns: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.rel)

    def __iter__(self) -> Iterator[FileStat]:
        return (self.file(i) for i in range(len(self.rel)))

    def file(self, i: int) -> FileStat:
        """The ``i``-th file as a ``FileStat``."""
        rel = self.rel[i]
        return FileStat(self.prefix + _native(rel), rel, self.size[i], self.mtime_ns[i])


@dataclass
class ScanPlan:
    """What a run must do with each file of the source folder.

    Attributes:
        to_read: new or changed files (or read by an older extractor), in path order.
        n_unchanged: how many files the store holds with the same size, time and extractor.
        missing: files the store knows under this folder that are gone.
        status: for every file to read, "new", "changed" or "reprocessed".
    """

    root: str
    to_read: list[FileStat] = field(default_factory=list)
    n_unchanged: int = 0
    missing: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)


def _native(rel: str) -> str:
    """``rel`` in the platform's separators (``rel`` itself on POSIX)."""
    return rel if os.sep == "/" else rel.replace("/", os.sep)


#: List folders through open descriptors (``fstatat`` of each name) where the platform can.
_BY_DESCRIPTOR = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")


def scan_folder(root: Path, ignored: frozenset[str]) -> Listing:
    """Every file under ``root`` with its size and time, in the file system's order.

    One ``stat`` per file and little else: the stat is the floor of a re-run's cost (about
    0.3 s of kernel time for 100,000 files), so the loop around it only appends to three
    lists; it does not sort (100,000 paths sorted and regrouped cost ~0.2 s more, while
    ``plan_scan`` sorts the few files it returns).
    Each file is stat'ed by its name in an open descriptor of its folder, which spares the
    kernel a walk of the folder's path per file (a third less time than a stat by absolute
    path). Links and special files are left out (not followed), as ``ingest`` would refuse them.

    Raises:
        OSError: a folder that cannot be listed (a permission denied is not silently skipped:
            its files would look missing and be marked so).
    """
    base = str(root.resolve())
    prefix = base if base.endswith(os.sep) else base + os.sep
    rel: list[str] = []
    size: list[int] = []
    mtime_ns: list[int] = []
    folders = [""]  # relative to the root, "/"-separated, each ending with "/"
    while folders:
        folder = folders.pop()
        path = prefix + _native(folder)
        handle: int | str = os.open(path, os.O_RDONLY | os.O_DIRECTORY) if _BY_DESCRIPTOR else path
        try:
            with os.scandir(handle) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(f"{folder}{entry.name}/")
                    elif entry.is_file(follow_symlinks=False) and entry.name.lower() not in ignored:
                        st = entry.stat(follow_symlinks=False)
                        rel.append(folder + entry.name)
                        size.append(st.st_size)
                        mtime_ns.append(st.st_mtime_ns)
        finally:
            if isinstance(handle, int):
                os.close(handle)
    return Listing(prefix, tuple(rel), tuple(size), tuple(mtime_ns))


#: The listing against the store, in one join. ``known`` is the store's view of each file of
#: the folder (a file may hold several documents, one row each); each listed file gets the
#: reason it must be read, or none, and each known file that is not listed any more is
#: ``missing`` (unless it was already). NULLs compare as different (``IS DISTINCT FROM``): a
#: row of an older store without a size or fingerprint is read again, never trusted.
_PLAN_SQL = """
WITH known AS (
    SELECT path,
           any_value(size) AS size,
           any_value(mtime_ns) AS mtime_ns,
           any_value(fingerprint) AS fingerprint,
           CASE WHEN bool_and(status = 'missing') THEN 'missing'
                WHEN bool_and(status = 'quarantined') THEN 'quarantined'
                ELSE 'seen' END AS state
    FROM sources WHERE root = $root GROUP BY path
), listed AS (
    SELECT i, rel, $prefix || replace(rel, '/', $sep) AS path, size, mtime_ns FROM _listing
), verdicts AS (
    SELECT l.i, l.rel, k.path AS known_path, CASE
        WHEN l.i IS NULL THEN CASE WHEN k.state <> 'missing' THEN 'missing' END
        WHEN k.path IS NULL THEN 'new'
        WHEN k.state = 'missing' THEN 'changed'
        WHEN k.size IS DISTINCT FROM l.size OR k.mtime_ns IS DISTINCT FROM l.mtime_ns
            THEN 'changed'
        WHEN k.fingerprint IS DISTINCT FROM $fingerprint AND k.state <> 'quarantined'
            THEN 'reprocessed'
    END AS verdict
    FROM listed l FULL OUTER JOIN known k ON l.path = k.path
)
SELECT i, known_path, verdict FROM verdicts WHERE verdict IS NOT NULL
ORDER BY rel NULLS LAST, known_path
"""


def plan_scan(
    con: duckdb.DuckDBPyConnection, root: Path, files: Listing, fingerprint: str
) -> ScanPlan:
    """Split ``files`` into what must be read and what the store already holds.

    A file is read when the store has no row for it, or only a ``missing`` one, when its size
    or time moved, or when an older extractor read it (a quarantined file is not read again
    for that: a new extractor does not make it readable). The comparison runs in DuckDB on
    the listing's columns: only the files that need something come back to Python, so a
    re-run over 100,000 unchanged files costs one join, not 100,000 dictionary look-ups.

    Raises:
        ValueError: ``files`` is the listing of another folder.
    """
    base = str(root.resolve())
    if files.prefix not in (base, base + os.sep):
        raise ValueError(f"listing of {files.prefix!r}, not of {base!r}")
    listing = pd.DataFrame(
        {
            "i": np.arange(len(files), dtype=np.int64),
            "rel": np.array(files.rel, dtype=object),
            "size": np.array(files.size, dtype=np.int64),
            "mtime_ns": np.array(files.mtime_ns, dtype=np.int64),
        }
    )
    con.register("_listing", listing)
    try:
        rows = con.execute(
            _PLAN_SQL,
            {"root": base, "prefix": files.prefix, "sep": os.sep, "fingerprint": fingerprint},
        ).fetchall()
    except duckdb.InvalidInputException as err:
        raise _undecodable_names(files) or err from err
    finally:
        con.unregister("_listing")
    plan = ScanPlan(root=base)
    for i, known_path, verdict in rows:
        if verdict == "missing":
            plan.missing.append(str(known_path))
        else:
            f = files.file(int(i))
            plan.to_read.append(f)
            plan.status[f.path] = str(verdict)
    plan.n_unchanged = len(files) - len(plan.to_read)
    return plan


def _undecodable_names(files: Listing) -> ValueError | None:
    """A clear error for file names that are not UTF-8 (bytes a POSIX file system allows, that
    Python keeps as surrogates and the store cannot hold), or None if there are none."""
    bad = []
    for rel in files.rel:
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            bad.append(os.fsencode(rel).decode("utf-8", "backslashreplace"))
    if not bad:
        return None
    return ValueError(f"file names that are not UTF-8, rename them: {', '.join(sorted(bad)[:5])}")


# --- writing -----------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What one batch of sources gave: compact frames, cheap to send between processes.

    ``sources`` rows: path, rel, doc_id, size, mtime_ns, content_hash, status, reason.
    """

    sources: pd.DataFrame
    documents: pd.DataFrame
    facts: pd.DataFrame
    vague: pd.DataFrame


SOURCE_COLUMNS = (
    "path",
    "member",
    "rel",
    "doc_id",
    "size",
    "mtime_ns",
    "content_hash",
    "status",
    "reason",
    "signature",
    "shingles",
)
_SOURCE_TABLE_COLUMNS = (
    "path",
    "member",
    "root",
    "rel",
    "doc_id",
    "size",
    "mtime_ns",
    "content_hash",
    "fingerprint",
    "status",
    "reason",
    "first_run",
    "last_run",
    "signature",
    "shingles",
)


@dataclass
class RunIndex:
    """What a run checks new documents against: the texts and ids the store already holds.

    Loaded once per run (not per batch or per row: a query per row is what makes a store slow)
    and updated as batches are saved.
    """

    dedup: Deduplicator = field(default_factory=Deduplicator)
    doc_ids: dict[str, str] = field(default_factory=dict)  # doc_id -> the file that has it


def load_run_index(con: duckdb.DuckDBPyConnection, rereading: list[str]) -> RunIndex:
    """Index the active documents of the store, leaving out the files about to be read again
    (a changed file must not be a near-duplicate of its own earlier version)."""
    con.register("_rereading", pd.DataFrame({"path": rereading}, dtype="object"))
    rows = con.execute(
        "SELECT member, doc_id, content_hash, signature, shingles FROM sources "
        "WHERE status = 'active' AND path NOT IN (SELECT path FROM _rereading) ORDER BY member"
    ).fetchall()
    con.unregister("_rereading")
    index = RunIndex()
    signed = [r for r in rows if r[3]]
    if signed:
        index.dedup.add_known(
            [r[2] for r in signed],
            np.frombuffer(b"".join(r[3] for r in signed), dtype=np.uint64).reshape(len(signed), -1),
            [int(r[4]) for r in signed],
            [r[0] for r in signed],
        )
    for member, doc_id, key, signature, _ in rows:
        if not signature:  # too short to sign: known by its exact text only
            index.dedup.check_parts(key, None, member)
        index.doc_ids[doc_id] = member
    return index


def classify(sources: pd.DataFrame, index: RunIndex) -> pd.DataFrame:
    """Decide each active row's fate against the index: active, duplicate (exact or near), or
    quarantined for a document id another file already has. Updates the index.

    Works on the columns as lists (``itertuples`` built a tuple per row, a third of the cost
    outside the dedup check)."""
    status = sources["status"].tolist()
    reason = sources["reason"].tolist()
    active = [i for i, s in enumerate(status) if s == "active"]
    keys, members, doc_ids = (sources[c].tolist() for c in ("content_hash", "member", "doc_id"))
    signatures, shingles = sources["signature"].tolist(), sources["shingles"].tolist()
    hits = index.dedup.check_batch(
        [keys[i] for i in active],
        [
            (np.frombuffer(signatures[i], dtype=np.uint64), int(shingles[i]))
            if signatures[i] is not None
            else None
            for i in active
        ],
        [members[i] for i in active],
    )
    for i, hit in zip(active, hits, strict=True):
        doc_id, member = doc_ids[i], members[i]
        if hit:
            kind, original = hit
            status[i], reason[i] = "duplicate", f"{kind} duplicate of {original}"
        elif doc_id in index.doc_ids and index.doc_ids[doc_id] != member:
            status[i] = "quarantined"
            reason[i] = f"document id {doc_id!r} is taken by {index.doc_ids[doc_id]}"
        else:
            index.doc_ids[doc_id] = member
    return sources.assign(status=status, reason=reason)


def save_batch(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    batch: BatchResult,
    run_id: str,
    fingerprint: str,
    index: RunIndex,
) -> list[tuple[str, str]]:
    """Write one batch: replace what the store held for its files, keep duplicates and
    quarantined files as source rows only, and store the documents and facts of the rest.

    One transaction. The flow's own process runs it while the workers extract the next
    batches, on the same cores: each statement is a whole frame (no row goes through Python
    on its own), and the store's old rows are looked up once and deleted only if there are
    any (``_clear_known``).

    Returns:
        (path, status) of every row written: active, duplicate or quarantined.
    """
    sources = classify(batch.sources, index)
    con.execute("BEGIN TRANSACTION")
    try:
        first = _clear_known(con, sorted(set(sources["path"].tolist())))
        active = sources["status"] == "active"
        rows = sources.assign(
            root=str(root.resolve()),
            doc_id=sources["doc_id"].where(active, ""),
            fingerprint=fingerprint,
            first_run=[first.get(p, run_id) for p in sources["path"]] if first else run_id,
            last_run=run_id,
        )
        _insert(con, "sources", rows[list(_SOURCE_TABLE_COLUMNS)])
        keep = set(sources.loc[active, "doc_id"].tolist())
        for table in ("documents", "facts", "vague"):
            _insert(con, table, _of_documents(getattr(batch, table), keep))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return list(zip(sources["path"].tolist(), sources["status"].tolist(), strict=True))


def _clear_known(con: duckdb.DuckDBPyConnection, paths: list[str]) -> dict[str, str | None]:
    """Delete what the store holds for the files ``paths`` (their source rows, and the
    documents, facts and vague amounts of their documents); return each known file's first run.

    One query finds the files' rows; the deletes run only when it finds some. A batch of new
    files (every batch of a first run) has none, and each delete is a scan of its whole table:
    a million facts at 100,000 documents.

    Returns:
        path -> the earliest run that saw it (None if the store never recorded one), for the
        paths the store knew.
    """
    con.register("_paths", pd.DataFrame({"path": paths}, dtype="object"))
    try:
        known = con.execute(
            "SELECT path, min(first_run), list(doc_id) FILTER (WHERE doc_id <> '') "
            "FROM sources WHERE path IN (SELECT path FROM _paths) GROUP BY path"
        ).fetchall()
        if not known:
            return {}
        doc_ids = sorted({d for _, _, ids in known for d in ids or ()})
        if doc_ids:
            con.register("_doc_ids", pd.DataFrame({"doc_id": doc_ids}, dtype="object"))
            try:
                for table in ("documents", "facts", "vague"):
                    con.execute(
                        f"DELETE FROM {table} WHERE doc_id IN (SELECT doc_id FROM _doc_ids)"
                    )
            finally:
                con.unregister("_doc_ids")
        con.execute("DELETE FROM sources WHERE path IN (SELECT path FROM _paths)")
    finally:
        con.unregister("_paths")
    return {str(path): first for path, first, _ in known}


def _of_documents(frame: pd.DataFrame, keep: set[str]) -> pd.DataFrame:
    """The rows of ``frame`` whose ``doc_id`` is in ``keep``: ``frame`` itself when that is all
    of them (a batch with no duplicate), rather than a copy of every column."""
    mask = frame["doc_id"].isin(keep)
    return frame if mask.all() else frame[mask]


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("_incoming", frame)
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
    con.unregister("_incoming")


#: The store's rows of the files a plan found unchanged: the folder's rows that the run neither
#: read (``_read``) nor found gone (``_missing``), nor already knew to be gone.
_UNCHANGED_ROWS = (
    "root = ? AND status <> 'missing' "
    "AND path NOT IN (SELECT path FROM _read) AND path NOT IN (SELECT path FROM _missing)"
)


def touch_unchanged(con: duckdb.DuckDBPyConnection, plan: ScanPlan, run_id: str) -> Counter[str]:
    """Record that the unchanged files were seen by this run, and mark the missing ones.

    Set-based, in one transaction: the unchanged files are named by what they are not (the
    few files read or gone), so the statements cost the same whatever the number of files and
    the paths of 100,000 unchanged files never travel from Python to the store. Call it after
    the plan's files are saved (their rows then belong to this run already) and before
    anything else writes the folder's rows.

    Returns:
        Stored status -> count of the unchanged files' document rows.
    """
    statuses: Counter[str] = Counter()
    con.register("_read", pd.DataFrame({"path": [f.path for f in plan.to_read]}, dtype="object"))
    con.register("_missing", pd.DataFrame({"path": plan.missing}, dtype="object"))
    con.execute("BEGIN TRANSACTION")
    try:
        if plan.n_unchanged:
            for status, n in con.execute(
                f"SELECT status, count(*) FROM sources WHERE {_UNCHANGED_ROWS} GROUP BY status",
                [plan.root],
            ).fetchall():
                statuses[str(status)] = int(n)
            con.execute(
                f"UPDATE sources SET last_run = ? WHERE {_UNCHANGED_ROWS}", [run_id, plan.root]
            )
        if plan.missing:
            con.execute(
                "UPDATE sources SET status = 'missing' WHERE path IN (SELECT path FROM _missing)"
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_read")
        con.unregister("_missing")
    return statuses


# --- reading -----------------------------------------------------------------------------------


def load_facts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored fact of a document whose source is active or missing, in a stable order."""
    frame = con.execute(
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in FACT_COLUMNS)} FROM facts "
        "ORDER BY doc_id, start, fact_id"
    ).fetchdf()
    return frame.astype({"year": "Int64", "start": "Int64", "end": "Int64"})


def load_documents(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored document (with ``directions`` for the briefing), sorted by doc_id."""
    cols = (*DOCUMENT_COLUMNS, "directions")
    frame = con.execute(
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM documents ORDER BY doc_id"
    ).fetchdf()
    return frame.astype(
        {
            "year": "Int64",
            "plan_year": "Int64",
            "period_start": "Int64",
            "period_end": "Int64",
            "n_facts": "Int64",
        }
    )


def load_vague(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The vague amounts of the stored documents."""
    rows = con.execute("SELECT doc_id, phrase FROM vague ORDER BY doc_id, phrase").fetchall()
    return [(str(a), str(b)) for a, b in rows]


def load_source_issues(
    con: duckdb.DuckDBPyConnection, root: Path | None = None
) -> dict[str, list[tuple[str, str]]]:
    """Quarantined, duplicate and missing sources as (path inside its folder, reason)."""
    where = "WHERE root = ?" if root else ""
    params = [str(root.resolve())] if root else []
    rows = con.execute(
        f"SELECT status, rel, reason FROM sources {where} ORDER BY rel", params
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {"quarantined": [], "duplicate": [], "missing": []}
    for status, rel, reason in rows:
        if status in out:
            out[status].append((str(rel), str(reason or "")))
    return out


def record_run(
    con: duckdb.DuckDBPyConnection, run_id: str, started: str, finished: str, summary: dict
) -> None:
    """Keep the summary of a run (the content of run.json)."""
    con.execute(
        "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
        [run_id, started, finished, json.dumps(summary, ensure_ascii=False, sort_keys=True)],
    )


def record_briefing(con: duckdb.DuckDBPyConnection, run_id: str, path: Path, lang: str) -> None:
    """Keep the briefing a run issued, with its hash."""
    con.execute(
        "INSERT INTO briefings VALUES (?, ?, ?, ?)", [run_id, str(path), file_sha256(path), lang]
    )


# --- tasks -------------------------------------------------------------------------------------


@dataclass
class Scan:
    """The start of a run: the plan, the manifest and the extractor version."""

    plan: ScanPlan
    manifest: dict[str, dict[str, str]]
    fingerprint: str


@task(name="scan", cache_policy=NO_CACHE)
def scan_task(source: Path, store: Path) -> Scan:
    """List the source folder and decide what to read (nothing is written to the folder)."""
    from tasks.ingest import IGNORED_NAMES, read_manifest

    if not source.is_dir():
        raise FileNotFoundError(f"source folder not found: {source}")
    fingerprint = extractor_fingerprint()
    files = scan_folder(source, IGNORED_NAMES)
    with connect(store) as con:
        plan = plan_scan(con, source, files, fingerprint)
    return Scan(plan, read_manifest(source), fingerprint)


@task(name="save-batch", cache_policy=NO_CACHE)
def save_batch_task(
    store: Path, root: Path, batch: BatchResult, run_id: str, fingerprint: str, index: RunIndex
) -> list[tuple[str, str]]:
    """Prefect wrapper of ``save_batch``."""
    with connect(store) as con:
        return save_batch(con, root, batch, run_id, fingerprint, index)


@task(name="load-run-index", cache_policy=NO_CACHE)
def load_run_index_task(store: Path, rereading: list[str]) -> RunIndex:
    """Prefect wrapper of ``load_run_index``."""
    with connect(store) as con:
        return load_run_index(con, rereading)


@task(name="finish-scan", cache_policy=NO_CACHE)
def finish_scan_task(store: Path, plan: ScanPlan, run_id: str) -> Counter[str]:
    """Prefect wrapper of ``touch_unchanged``."""
    with connect(store) as con:
        return touch_unchanged(con, plan, run_id)


@task(name="record-run", cache_policy=NO_CACHE)
def record_run_task(
    store: Path, run_id: str, started: str, finished: str, summary: dict, briefing: Path, lang: str
) -> None:
    """Keep the run and the briefing it issued in the store."""
    with connect(store) as con:
        record_run(con, run_id, started, finished, summary)
        record_briefing(con, run_id, briefing, lang)
