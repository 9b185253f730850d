"""Reuse of the last outputs: only when nothing they are built from changed, never on doubt."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flows.briefing import build_briefing
from tasks.render import Organisation
from tasks.reuse import (
    KEY_SCHEME,
    briefing_key,
    find_reusable,
    is_intact,
    output_record,
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


def _content(path: Path, root: Path) -> list[list[str]]:
    with connect(path) as con:
        return store_content(con, root)


def test_content_ignores_bookkeeping(store: tuple[Path, Path]) -> None:
    path, root = store
    before = _content(path, root)
    with connect(path) as con:
        _run(con, root, "r2")  # touches last_run of every source, changes nothing else
    assert _content(path, root) == before
    # the folder is part of it: another folder's briefing lists other quarantined files
    assert _content(path, root.parent / "other")[1:] == before[1:]
    assert _content(path, root.parent / "other") != before


def _replace(root: Path, name: str, old: str, new: str) -> None:
    p = root / name
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


#: Every way a run changes what a briefing is built from: each must change the key, though the
#: facts are counted, not hashed (store_content says why that is enough).
CHANGES = {
    "a figure added to a report": lambda root: _replace(
        root, "002_7da30444e6ba83f7.txt", "\n", "\nKhen thưởng 7 tập thể.\n"
    ),
    # as many facts as before, another value, the same size: only the text and time move
    "a figure changed in place": lambda root: _replace(
        root, "000_ab29536da2c60c8f.txt", "3.340", "3.341"
    ),
    # the same text saved again: read again and rendered again (never trusted to be the same)
    "a report saved again": lambda root: os.utime(root / "003_4762c48ca1099e9f.txt", ns=(1, 1)),
    "a report removed": lambda root: (root / "001_d8530aca4ce47485.txt").unlink(),
    "a copy of a report added": lambda root: shutil.copy2(
        root / "001_d8530aca4ce47485.txt", root / "zz_copy.txt"
    ),
    "an unreadable file added": lambda root: (root / "empty.txt").write_bytes(b""),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_content_sees_every_change_a_run_makes(store: tuple[Path, Path], change: str) -> None:
    path, root = store
    before = _content(path, root)
    CHANGES[change](root)
    with connect(path) as con:
        _run(con, root, "r2")
    assert _content(path, root) != before


def test_content_sees_a_new_extractor(store: tuple[Path, Path]) -> None:
    path, root = store
    before = _content(path, root)
    with connect(path) as con:
        counts = _run(con, root, "r2", fingerprint="fp-2")
    assert counts["reprocessed"] == 5
    assert _content(path, root) != before


def test_content_sees_the_manifest_a_file_was_read_with(store: tuple[Path, Path]) -> None:
    """The source rows alone are not enough: an extractor that goes A → B → A reads every
    file again, under whatever manifest.csv says then, and leaves the same source rows."""
    path, root = store
    before = _content(path, root)
    with connect(path) as con:
        _run(con, root, "r2", fingerprint="fp-2")
        (root / "manifest.csv").write_text(
            "file,province\n001_d8530aca4ce47485.txt,Cà Mau\n", encoding="utf-8"
        )
        _run(con, root, "r3", fingerprint="fp")
        province = con.execute(
            "SELECT province FROM documents WHERE doc_id = '001_d8530aca4ce47485'"
        ).fetchall()
    assert province == [("Cà Mau",)]
    after = _content(path, root)
    assert after[1] == before[1]  # the same source rows...
    assert after != before  # ...not the same briefing


def test_content_sees_stored_rows_edited_or_removed(store: tuple[Path, Path]) -> None:
    path, root = store
    before = _content(path, root)
    edits = [
        "UPDATE documents SET province = 'Cà Mau' WHERE doc_id = (SELECT min(doc_id) FROM "
        "documents)",
        "UPDATE sources SET status = 'missing' WHERE rel = (SELECT min(rel) FROM sources)",
        "DELETE FROM facts WHERE fact_id = (SELECT min(fact_id) FROM facts)",
        "DELETE FROM vague WHERE phrase = (SELECT min(phrase) FROM vague)",
    ]
    for edit in edits:
        with connect(path) as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(edit)
            assert store_content(con, root) != before, edit
            con.execute("ROLLBACK")
            assert store_content(con, root) == before


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


def test_a_key_of_another_recipe_never_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys that an older tonghop recorded in ``renders`` were made by another recipe."""
    base = briefing_key([["1"]], None, None, ORG, "vi", "code")
    monkeypatch.setattr("tasks.reuse.KEY_SCHEME", KEY_SCHEME - 1)
    assert briefing_key([["1"]], None, None, ORG, "vi", "code") != base


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
        _outputs(out)  # the same bytes again, at another time: recognised by their sha256
        assert find_reusable(con, "k1", out) is not None
        (out / "briefing.docx").unlink()
        assert find_reusable(con, "k1", out) is None


def test_an_output_of_the_recorded_size_and_time_is_not_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _outputs(tmp_path)["facts.csv"]
    recorded = output_record(path)
    monkeypatch.setattr("tasks.reuse.file_sha256", _no_hashing)
    assert is_intact(path, recorded)  # no sha256 of a 300 MB facts.csv on every re-run


def _no_hashing(path: Path) -> str:
    raise AssertionError(f"{path} hashed")


def _same_time(path: Path, recorded: dict) -> None:
    os.utime(path, ns=(recorded["mtime_ns"], recorded["mtime_ns"]))


@pytest.mark.parametrize(
    ("edit", "intact"),
    [
        # the same size, another byte, a new time: the sha256 decides, and says no
        (lambda p, r: p.write_bytes(p.read_bytes().replace(b"bytes", b"BYTES")), False),
        # the same bytes written again (a copy put back): the sha256 says yes
        (lambda p, r: p.write_bytes(p.read_bytes()), True),
        # another size at the recorded time (a copy with its time kept, cp -p): not the same
        (lambda p, r: (p.write_bytes(b"other"), _same_time(p, r)), False),
        (lambda p, r: p.unlink(), False),
        (lambda p, r: (p.unlink(), p.mkdir()), False),  # a folder in its place
    ],
)
def test_an_output_edited_or_replaced_is_checked_by_its_bytes(
    tmp_path: Path, edit, intact: bool
) -> None:
    path = _outputs(tmp_path)["facts.csv"]
    recorded = output_record(path)
    os.utime(path, ns=(1, 1))  # the edit gets a new time even on a coarse clock
    edit(path, recorded)
    assert is_intact(path, recorded) is intact


def test_a_record_of_an_older_tonghop_is_its_sha256(tmp_path: Path) -> None:
    path = _outputs(tmp_path)["facts.csv"]
    sha = output_record(path)["sha256"]
    assert is_intact(path, sha)
    path.write_bytes(b"edited by hand")
    assert not is_intact(path, sha)


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
