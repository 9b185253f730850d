"""Reuse the last briefing when nothing it is built from has changed.

A re-run over an archive whose reports did not change must not spend a minute rebuilding the
same briefing: aggregate and render are the costly stages once extraction is skipped. The
outputs are a function of

- the store's content that reaches the briefing (documents, facts, vague phrases, and the
  quarantined, duplicate and missing sources of the folder),
- the analysts' overrides file, the template, the header block (``Organisation``) and the
  language,
- the code and data that aggregate and render (``tasks/render.py``, ``tasks/aggregate.py``,
  ``tasks/store.py``'s readers, the templates, the catalog),

so a run hashes all of them into one key. The store's part is read through the rows that
decide the facts rather than the million facts themselves (``store_content`` says why that is
enough). The key, the sha256, size and time of each output are recorded with the briefing;
the next run with the same key reuses the outputs when they are still in ``out`` with the same
bytes (the same size and time, or else the same sha256), and renders anew otherwise (another
``out``, a file edited or deleted by hand). Nothing is guessed: any doubt means a render.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tasks.artifacts import SUMMARY_KEY
from tasks.store import connect, file_sha256, files_digest

HERE = Path(__file__).resolve().parent

#: Outputs of a render, by the file name they have in ``out``.
OUTPUT_NAMES = ("facts.csv", "documents.csv", "quarantine.csv", "comparison.xlsx", "briefing.docx")

#: The recipe of the key. A key of another recipe (an older tonghop's, kept in ``renders``)
#: never equals one of this recipe, so a store written by an older tonghop renders once.
KEY_SCHEME = 2

#: What the store contributes to the key (see ``store_content``): every source row, of every
#: folder (the briefing holds the documents of all of them), by the columns that decide what a
#: file's documents and facts are; the documents' metadata (every column but ``directions``,
#: two thirds of the cost: sentences of the text, like the facts); the vague phrases whole; the
#: facts by their number. Run bookkeeping (``first_run``, ``last_run``) and the MinHash
#: signature (a function of the text) are left out on purpose.
_CONTENT_QUERIES = (
    "SELECT count(*), sum(hash(path, member, root, rel, doc_id, size, mtime_ns, content_hash,"
    " fingerprint, status, reason)::HUGEINT) FROM sources",
    "SELECT count(*), sum(hash(doc_id, source, title, year, plan_year, period_start, period_end,"
    " province, province_reason, military_region, conference_date, chair, attendees, organiser,"
    " n_facts, status)::HUGEINT) FROM documents",
    "SELECT count(*), sum(hash(doc_id, phrase)::HUGEINT) FROM vague",
    "SELECT count(*), NULL FROM facts",
)


def render_fingerprint() -> str:
    """A hash of the code, data and templates that turn the store into the outputs."""
    paths = [
        HERE / "aggregate.py",
        HERE / "render.py",
        HERE / "overrides.py",
        HERE / "catalog.py",
        HERE / "store.py",  # the readers aggregate uses, and the migrations of stored rows
        *(HERE / "data").glob("*"),
        *(HERE.parent / "report_templates").glob("*"),
    ]
    return files_digest(paths)


def store_content(con: duckdb.DuckDBPyConnection, root: Path) -> list[list[str]]:
    """What the briefing of ``root`` is built from, in the store: the folder, then row counts
    and order-free sums of 64-bit row hashes (any edited, added or removed row changes them).

    The facts are counted, not hashed: hashing a million facts read from disk costs ~0.5 s,
    ten times the rest, and their rows are already decided by what the key does hash:

    - only ``save_batch`` writes documents, facts and vague phrases, and only for files a scan
      sent to be read; it rewrites those files' source rows in the same transaction;
    - a scan reads a file only when the store has no row for it (a new row), its size or time
      moved (``size``, ``mtime_ns``), its extractor changed (``fingerprint``) or it had gone
      (``status`` was ``missing``): so every write of facts changes a hashed source column;
    - what is written is a function of the hashed columns: the file's bytes (pinned by size and
      time, the trust the scan itself rests on; the text also by ``content_hash``), the
      extractor (``fingerprint``), the duplicate and id decisions (``status``, ``reason``,
      ``doc_id``), and the ``manifest.csv`` entry read with the file, which reaches only the
      document's metadata (province, year): the metadata columns are hashed, and the rest (a
      document's ``directions``, its facts) is read from its text alone, one document at a
      time, given its metadata (a fact's year and province are its document's).

    The hashed document metadata also closes the cycles that the source columns alone would
    miss: a file read again under another manifest after its extractor went from A to B and
    back to A has the same source rows as before, not the same province.

    Not seen: an edit of the ``facts`` table by hand in SQL that keeps its row count (figures
    are corrected in the overrides file, which is hashed), and a file whose content changed
    while its size and time were set back to the nanosecond (which the scan misses too).

    Returns:
        ``[[folder], [count, sum] per query of _CONTENT_QUERIES]``, as strings.
    """
    out = [[str(root.resolve())]]
    for query in _CONTENT_QUERIES:
        ((count, total),) = con.execute(query).fetchall()
        out.append([str(count), str(total)])
    return out


def briefing_key(
    content: list[list[str]],
    overrides: Path | None,
    template: Path | None,
    organisation: Any,
    lang: str,
    code: str,
) -> str:
    """One hash of everything a briefing depends on (see the module docstring)."""
    parts = {
        "scheme": KEY_SCHEME,
        "content": content,
        "overrides": file_sha256(overrides) if overrides and overrides.exists() else "",
        "template": file_sha256(template) if template else "",
        "organisation": dataclasses.asdict(organisation),
        "lang": lang,
        "code": code,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Reusable:
    """Outputs of an earlier run that the current run can keep as they are.

    Attributes:
        run_id: the run that rendered them.
        paths: output name → path in ``out``.
        info: what the flow's summary needs without loading the data (documents and facts in
            the briefing, unknown overrides, the scope of the archive name).
    """

    run_id: str
    paths: dict[str, Path]
    info: dict[str, Any]


def outputs_of(written: Any) -> dict[str, Path]:
    """Output name → path, from a render result (any dataclass of paths)."""
    paths = [p for p in dataclasses.asdict(written).values() if isinstance(p, Path)]
    return {p.name: p for p in paths}


def output_record(path: Path) -> dict[str, Any]:
    """What ``find_reusable`` checks an output against: its sha256, size and time."""
    st = path.stat()
    return {"sha256": file_sha256(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def record_outputs(
    con: duckdb.DuckDBPyConnection, run_id: str, key: str, outputs: dict[str, Path], info: dict
) -> None:
    """Keep the key of a render with each output's ``output_record`` and the summary's counts."""
    records = {name: output_record(path) for name, path in sorted(outputs.items())}
    con.execute(
        "INSERT OR REPLACE INTO renders VALUES (?, ?, ?, ?)",
        [key, run_id, json.dumps(records), json.dumps(info, ensure_ascii=False, sort_keys=True)],
    )


def is_intact(path: Path, recorded: dict[str, Any] | str) -> bool:
    """Whether ``path`` still holds the bytes recorded for it.

    The same size and time (to the nanosecond) as recorded is taken as the same bytes, the
    trust the scan puts in the sources: hashing the outputs again costs ~0.5 s at 100,000
    reports (facts.csv is ~300 MB). Otherwise the sha256 decides, so an output copied back
    with a new time is still recognised. A file edited by hand has a new time; one that is
    gone or not a regular file is never intact. A record of an older tonghop is the sha256
    alone.
    """
    try:
        st = path.stat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    if isinstance(recorded, str):
        recorded = {"sha256": recorded}
    if (recorded.get("size"), recorded.get("mtime_ns")) == (st.st_size, st.st_mtime_ns):
        return True
    return file_sha256(path) == recorded["sha256"]


def find_reusable(con: duckdb.DuckDBPyConnection, key: str, out: Path) -> Reusable | None:
    """The outputs recorded under ``key``, if ``out`` still holds each of them (``is_intact``)."""
    rows = con.execute("SELECT run_id, outputs, info FROM renders WHERE key = ?", [key]).fetchall()
    if not rows:
        return None
    run_id, outputs, info = rows[0]
    paths: dict[str, Path] = {}
    for name, recorded in json.loads(outputs).items():
        path = out / name
        if not is_intact(path, recorded):
            return None
        paths[name] = path
    if "briefing.docx" not in paths:
        return None
    return Reusable(run_id, paths, json.loads(info))


@dataclass(frozen=True)
class ReuseCheck:
    """The key of this run's briefing, and the earlier outputs that match it, if any."""

    key: str
    reusable: Reusable | None


def check_reuse(
    store: Path,
    root: Path,
    out: Path,
    overrides: Path | None,
    template: Path | None,
    organisation: Any,
    lang: str,
) -> ReuseCheck:
    """Key this run's briefing and look for outputs of an earlier run with the same key."""
    with connect(store) as con:
        content = store_content(con, root)
        key = briefing_key(content, overrides, template, organisation, lang, render_fingerprint())
        return ReuseCheck(key, find_reusable(con, key, out))


@task(name="check-reuse", cache_policy=NO_CACHE)
def check_reuse_task(
    store: Path,
    root: Path,
    out: Path,
    overrides: Path | None,
    template: Path | None,
    organisation: Any,
    lang: str,
) -> ReuseCheck:
    """Prefect wrapper of ``check_reuse``."""
    return check_reuse(store, root, out, overrides, template, organisation, lang)


@task(name="record-outputs", cache_policy=NO_CACHE)
def record_outputs_task(
    store: Path, run_id: str, key: str, outputs: dict[str, Path], info: dict
) -> None:
    """Prefect wrapper of ``record_outputs``."""
    with connect(store) as con:
        record_outputs(con, run_id, key, outputs, info)


def reused_markdown(summary: dict[str, Any], archived: Path | None) -> str:
    """The run summary artifact of a run that kept the outputs of an earlier one."""
    counts = summary.get("documents", {})
    lines = [
        "# tonghop: nothing changed",
        "",
        f"The outputs of run `{summary['reused_from']}` are kept: the store, the overrides, "
        "the template, the header block and the code are what they were then.",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| files {k} | {v} |" for k, v in sorted(counts.items())),
        f"| documents in the briefing | {summary['documents_in_briefing']} |",
        f"| facts | {summary['facts']} |",
        f"| briefing | `{summary['briefing']}` |",
    ]
    if archived is not None:
        lines.append(f"| archived as | `{archived}` |")
    return "\n".join(lines) + "\n"


@task(name="publish artifacts (reused)", cache_policy=NO_CACHE)
def reused_artifact_task(summary: dict[str, Any], archived: Path | None) -> None:
    """Publish the summary of a run that kept earlier outputs, under the usual summary key."""
    create_markdown_artifact(
        reused_markdown(summary, archived),
        key=SUMMARY_KEY,
        description="tonghop: nothing changed since the run named here",
    )
