"""Reuse the last briefing when nothing it is built from has changed.

A re-run over an archive whose reports did not change must not spend a minute rebuilding the
same briefing: aggregate and render are the costly stages once extraction is skipped. The
outputs are a function of

- the store's content that reaches the briefing (documents, facts, vague phrases, and the
  quarantined, duplicate and missing sources of the folder),
- the analysts' overrides file, the template, the header block (``Organisation``) and the
  language,
- the code and data that aggregate and render (``tasks/render.py``, ``tasks/aggregate.py``,
  the templates, the catalog),

so a run hashes all of them into one key. The key and the sha256 of each output are recorded
with the briefing; the next run with the same key reuses the outputs when they are still in
``out`` with the same bytes, and renders anew otherwise (another ``out``, a file edited or
deleted by hand). Nothing is guessed: any doubt means a render.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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

#: What each table contributes to the key: the columns that can reach the briefing. Run
#: bookkeeping (``first_run``, ``last_run``, the MinHash signature) is left out on purpose.
_CONTENT_QUERIES = (
    "SELECT count(*), sum(hash(f)::HUGEINT) FROM facts f",
    "SELECT count(*), sum(hash(d)::HUGEINT) FROM documents d",
    "SELECT count(*), sum(hash(doc_id, phrase)::HUGEINT) FROM vague",
    "SELECT count(*), sum(hash(rel, member, doc_id, content_hash, status, reason)::HUGEINT)"
    " FROM sources WHERE root = ?",
)


def render_fingerprint() -> str:
    """A hash of the code, data and templates that turn the store into the outputs."""
    paths = [
        HERE / "aggregate.py",
        HERE / "render.py",
        HERE / "overrides.py",
        HERE / "catalog.py",
        *(HERE / "data").glob("*"),
        *(HERE.parent / "report_templates").glob("*"),
    ]
    return files_digest(paths)


def store_content(con: duckdb.DuckDBPyConnection, root: Path) -> list[list[str]]:
    """Row counts and order-free row-hash sums of what the briefing of ``root`` is built from.

    Sums of 64-bit row hashes are cheap (well under a second for a million facts) and change
    with any edited, added or removed row.
    """
    out = []
    for query in _CONTENT_QUERIES:
        params = [str(root.resolve())] if "?" in query else []
        count, total = con.execute(query, params).fetchone() or (0, 0)
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


def record_outputs(
    con: duckdb.DuckDBPyConnection, run_id: str, key: str, outputs: dict[str, Path], info: dict
) -> None:
    """Keep the key of a render with the sha256 of each output and the summary's counts."""
    hashes = {name: file_sha256(path) for name, path in sorted(outputs.items())}
    con.execute(
        "INSERT OR REPLACE INTO renders VALUES (?, ?, ?, ?)",
        [key, run_id, json.dumps(hashes), json.dumps(info, ensure_ascii=False, sort_keys=True)],
    )


def find_reusable(con: duckdb.DuckDBPyConnection, key: str, out: Path) -> Reusable | None:
    """The outputs recorded under ``key``, if ``out`` still holds each of them byte for byte."""
    row = con.execute("SELECT run_id, outputs, info FROM renders WHERE key = ?", [key]).fetchone()
    if row is None:
        return None
    run_id, outputs, info = row
    paths: dict[str, Path] = {}
    for name, sha in json.loads(outputs).items():
        path = out / name
        if not path.is_file() or file_sha256(path) != sha:
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
