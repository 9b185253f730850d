"""Reuse of the last outputs: only when nothing they are built from changed, never on doubt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.briefing import build_briefing
from tasks.render import Organisation
from tasks.reuse import (
    briefing_key,
    find_reusable,
    record_outputs,
    render_fingerprint,
    reused_markdown,
    store_content,
)
from tasks.store import connect
from tests.test_store import _copy_seeds, _run

ORG = Organisation()


@pytest.fixture()
def store(seeds: Path, tmp_path: Path) -> tuple[Path, Path]:
    root = _copy_seeds(seeds, tmp_path / "src")
    path = tmp_path / "s.duckdb"
    with connect(path) as con:
        _run(con, root, "r1")
    return path, root


def test_content_ignores_bookkeeping_and_sees_every_edit(store: tuple[Path, Path]) -> None:
    path, root = store
    with connect(path) as con:
        before = store_content(con, root)
        _run(con, root, "r2")  # touches last_run of every source, changes nothing else
        assert store_content(con, root) == before
        fact_id = con.execute("SELECT min(fact_id) FROM facts").fetchone()[0]
        con.execute("UPDATE facts SET value = value + 1 WHERE fact_id = ?", [fact_id])
        edited = store_content(con, root)
        assert edited != before
        con.execute("UPDATE facts SET value = value - 1 WHERE fact_id = ?", [fact_id])
        assert store_content(con, root) == before
        con.execute(
            "UPDATE sources SET status = 'missing' WHERE rel = (SELECT min(rel) FROM sources)"
        )
        assert store_content(con, root) != before
        # another folder's sources are not part of this folder's briefing
        assert store_content(con, root.parent / "other")[3] == ["0", "None"]


def test_key_changes_with_each_input(tmp_path: Path) -> None:
    content = [["3", "12345"]]
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("- {fact_id: 'a', action: suppress}\n", encoding="utf-8")
    template = tmp_path / "t.docx"
    template.write_bytes(b"one")
    base = briefing_key(content, overrides, template, ORG, "vi", "code")
    assert base == briefing_key(content, overrides, template, ORG, "vi", "code")
    variants = [
        briefing_key([["3", "12346"]], overrides, template, ORG, "vi", "code"),
        briefing_key(content, None, template, ORG, "vi", "code"),
        briefing_key(content, overrides, None, ORG, "vi", "code"),
        briefing_key(content, overrides, template, Organisation(place="Nghệ An"), "vi", "code"),
        briefing_key(content, overrides, template, ORG, "en", "code"),
        briefing_key(content, overrides, template, ORG, "vi", "other code"),
    ]
    assert len({base, *variants}) == len(variants) + 1
    overrides.write_text("- {fact_id: 'b', action: suppress}\n", encoding="utf-8")
    assert briefing_key(content, overrides, template, ORG, "vi", "code") != base


def test_render_fingerprint_covers_the_templates() -> None:
    assert len(render_fingerprint()) == 16


def _outputs(out: Path) -> dict[str, Path]:
    out.mkdir(exist_ok=True)
    paths = {}
    for name in ("facts.csv", "briefing.docx"):
        (out / name).write_bytes(f"bytes of {name}".encode())
        paths[name] = out / name
    return paths


def test_outputs_are_reused_only_while_they_are_intact(tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = _outputs(out)
    with connect(tmp_path / "s.duckdb") as con:
        assert find_reusable(con, "k1", out) is None
        record_outputs(con, "run-1", "k1", paths, {"facts": 2})
        found = find_reusable(con, "k1", out)
        assert found is not None and found.run_id == "run-1"
        assert found.paths == paths and found.info == {"facts": 2}
        assert find_reusable(con, "k2", out) is None  # another key
        assert find_reusable(con, "k1", tmp_path / "elsewhere") is None  # not in that folder
        (out / "facts.csv").write_bytes(b"edited by hand")
        assert find_reusable(con, "k1", out) is None
        _outputs(out)
        (out / "briefing.docx").unlink()
        assert find_reusable(con, "k1", out) is None


def test_reused_summary_names_the_run_and_the_counts() -> None:
    summary = {
        "reused_from": "run-1",
        "documents": {"new": 0, "unchanged": 5},
        "documents_in_briefing": 5,
        "facts": 57,
        "briefing": "out/briefing.docx",
    }
    text = reused_markdown(summary, Path("archive/b.docx"))
    assert "`run-1`" in text and "| facts | 57 |" in text and "| files unchanged | 5 |" in text
    assert "archive/b.docx" in text


def test_flow_rerun_keeps_the_outputs_and_renders_again_when_needed(
    prefect_harness, seeds: Path, tmp_path: Path
) -> None:
    root = _copy_seeds(seeds, tmp_path / "src")
    store, out = tmp_path / "s.duckdb", tmp_path / "out"
    first = build_briefing(source=root, out=out, store=store)
    written = {p.name: p.read_bytes() for p in out.glob("*.*") if p.name != "run.json"}
    second = build_briefing(source=root, out=out, store=store)
    assert second["reused_from"] == first["run_id"]
    assert "render" not in second["seconds"] and "aggregate" not in second["seconds"]
    assert (second["facts"], second["documents_in_briefing"]) == (first["facts"], 5)
    assert {n: (out / n).read_bytes() for n in written} == written
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["reused_from"]

    # an output removed by hand, or another language: render again
    (out / "facts.csv").unlink()
    third = build_briefing(source=root, out=out, store=store)
    assert third["reused_from"] == "" and "render" in third["seconds"]
    assert (out / "facts.csv").read_bytes() == written["facts.csv"]
    english = build_briefing(source=root, out=out, store=store, lang="en")
    assert english["reused_from"] == ""
