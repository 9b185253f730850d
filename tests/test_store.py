"""The store: re-runs read only what is new or changed, and nothing stored is ever lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from flows.briefing import build_briefing
from tasks.batch import process_batch
from tasks.ingest import IGNORED_NAMES
from tasks.overrides import OverrideError, apply_overrides, load_overrides, parse_overrides
from tasks.runlog import document_counts
from tasks.store import (
    connect,
    load_facts,
    load_run_index,
    plan_scan,
    save_batch,
    scan_folder,
    touch_unchanged,
)
from tonghop.cli import main as cli


def _copy_seeds(seeds: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for p in sorted(seeds.glob("*.txt")):
        shutil.copy2(p, dest / p.name)
    return dest


def _run(con, root: Path, run_id: str):
    files = scan_folder(root, IGNORED_NAMES)
    plan = plan_scan(con, root, files, "fp")
    index = load_run_index(con, [f.path for f in plan.to_read])
    batch = process_batch(root, plan.to_read, 10**7, {})
    outcomes = save_batch(con, root, batch, run_id, "fp", index)
    unchanged = touch_unchanged(con, plan, run_id)
    return document_counts(plan.status, outcomes, unchanged, len(plan.missing))


def test_second_scan_reads_nothing_and_changes_are_seen(seeds: Path, tmp_path: Path) -> None:
    root = _copy_seeds(seeds, tmp_path / "src")
    with connect(tmp_path / "s.duckdb") as con:
        first = _run(con, root, "r1")
        assert (first["new"], first["unchanged"]) == (5, 0)
        n_facts = len(load_facts(con))
        again = _run(con, root, "r2")
        assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, 5)
        assert len(load_facts(con)) == n_facts

        edited = root / "002_7da30444e6ba83f7.txt"
        edited.write_text(
            edited.read_text(encoding="utf-8") + "\nKhen thưởng 7 tập thể.\n", encoding="utf-8"
        )
        os.utime(edited, ns=(1, 1))
        changed = _run(con, root, "r3")
        assert (changed["changed"], changed["unchanged"]) == (1, 4)
        assert len(load_facts(con)) == n_facts + 1


def test_a_vanished_source_is_marked_and_its_facts_kept(seeds: Path, tmp_path: Path) -> None:
    root = _copy_seeds(seeds, tmp_path / "src")
    with connect(tmp_path / "s.duckdb") as con:
        _run(con, root, "r1")
        before = load_facts(con)
        (root / "001_d8530aca4ce47485.txt").unlink()
        counts = _run(con, root, "r2")
        assert counts["missing"] == 1
        after = load_facts(con)
        pd.testing.assert_frame_equal(before, after)
        status = con.execute(
            "SELECT status FROM sources WHERE rel = '001_d8530aca4ce47485.txt'"
        ).fetchone()
        assert status == ("missing",)


def test_a_copy_is_a_duplicate_and_counted_once(seeds: Path, tmp_path: Path) -> None:
    root = _copy_seeds(seeds, tmp_path / "src")
    shutil.copy2(root / "000_ab29536da2c60c8f.txt", root / "zz_copy.txt")
    with connect(tmp_path / "s.duckdb") as con:
        counts = _run(con, root, "r1")
        assert (counts["new"], counts["duplicate"]) == (5, 1)
        docs = {r[0] for r in con.execute("SELECT doc_id FROM documents").fetchall()}
        assert "zz_copy" not in docs


def test_unreadable_files_are_quarantined_with_a_reason(seeds: Path, tmp_path: Path) -> None:
    root = _copy_seeds(seeds, tmp_path / "src")
    (root / "empty.txt").write_bytes(b"")
    with connect(tmp_path / "s.duckdb") as con:
        counts = _run(con, root, "r1")
        assert (counts["new"], counts["quarantined"]) == (5, 1)
        reason = con.execute("SELECT reason FROM sources WHERE rel = 'empty.txt'").fetchone()
        assert reason and "empty" in reason[0]
        again = _run(con, root, "r2")
        assert (again["quarantined"], again["unchanged"]) == (1, 5)


def test_a_syndicated_copy_is_a_near_duplicate_across_runs(seeds: Path, tmp_path: Path) -> None:
    root = _copy_seeds(seeds, tmp_path / "src")
    with connect(tmp_path / "s.duckdb") as con:
        _run(con, root, "r1")
        text = (root / "001_d8530aca4ce47485.txt").read_text(encoding="utf-8")
        (root / "reprint.txt").write_text(
            "(Theo Báo Quân đội nhân dân)\n" + text + "\nPV\n", encoding="utf-8"
        )
        counts = _run(con, root, "r2")
        assert (counts["new"], counts["duplicate"], counts["unchanged"]) == (0, 1, 5)
        reason = con.execute("SELECT reason FROM sources WHERE rel = 'reprint.txt'").fetchone()
        assert reason and reason[0].startswith("near duplicate of 001_d8530aca4ce47485")


# --- overrides -----------------------------------------------------------------------------


def test_overrides_correct_and_suppress_without_touching_the_input() -> None:
    facts = pd.DataFrame({"fact_id": ["a", "b", "c"], "value": [1.0, 2.0, 3.0]})
    rows = [
        {"fact_id": "a", "action": "correct", "value": "10,5"},
        {"fact_id": "b", "action": "suppress"},
        {"fact_id": "zz", "action": "suppress"},
    ]
    out, unknown = apply_overrides(facts, parse_overrides(rows, "x"))
    assert list(out["value"]) == [10.5, 2.0, 3.0]
    assert list(out["override"]) == ["corrected", "suppressed", ""]
    assert out["original_value"].iloc[0] == 1.0
    assert unknown == ["zz"]
    assert list(facts["value"]) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"fact_id": "a", "action": "delete"}], "entry 1: action"),
        ([{"fact_id": "a", "action": "suppress"}, {"action": "suppress"}], "entry 2: fact_id"),
        ([{"fact_id": "a", "action": "correct", "value": "nhiều"}], "numeric value"),
    ],
)
def test_bad_overrides_name_the_entry(rows: list[dict], message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        parse_overrides(rows, "o.yaml")


def test_overrides_files_in_csv_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(
        "fact_id,action,value,note\nab,correct,5,typo\n", encoding="utf-8"
    )
    (tmp_path / "o.yaml").write_text(
        "- {fact_id: ab, action: suppress, note: trùng}\n", encoding="utf-8"
    )
    assert load_overrides(tmp_path / "o.csv")[0].value == 5.0
    assert load_overrides(tmp_path / "o.yaml")[0].action == "suppress"
    with pytest.raises(OverrideError, match="not found"):
        load_overrides(tmp_path / "none.yaml")


# --- through the flow --------------------------------------------------------------------------


def test_rerun_reports_nothing_new_and_still_writes_the_briefing(
    prefect_harness, seeds: Path, tmp_path: Path
) -> None:
    root = _copy_seeds(seeds, tmp_path / "src")
    store = tmp_path / "s.duckdb"
    build_briefing(source=root, out=tmp_path / "o1", store=store)
    second = build_briefing(source=root, out=tmp_path / "o2", store=store)
    assert second["documents"]["new"] == 0 and second["documents"]["changed"] == 0
    assert second["documents"]["unchanged"] == 5
    run = pd.read_json(tmp_path / "o2" / "run.json", typ="series")
    assert run["documents"]["new"] == 0 and run["documents"]["changed"] == 0
    assert set(run["seconds"]) >= {"scan", "extract", "aggregate", "render"}
    assert (tmp_path / "o2" / "briefing.docx").read_bytes() == (
        tmp_path / "o1" / "briefing.docx"
    ).read_bytes()


def test_overrides_reach_the_outputs_and_export_lists_ids(
    prefect_harness, seeds: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.duckdb"
    build_briefing(source=seeds, out=tmp_path / "o1", store=store)
    facts = pd.read_csv(tmp_path / "o1" / "facts.csv", encoding="utf-8-sig", dtype={"fact_id": str})
    target = facts[facts["value"] == 3340].iloc[0]
    dropped = facts[facts["value"] == 147].iloc[0]
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(
        f"- {{fact_id: '{target.fact_id}', action: correct, value: 3341}}\n"
        f"- {{fact_id: '{dropped.fact_id}', action: suppress}}\n",
        encoding="utf-8",
    )
    build_briefing(source=seeds, out=tmp_path / "o2", store=store, overrides=overrides)
    after = pd.read_csv(
        tmp_path / "o2" / "facts.csv", encoding="utf-8-sig", dtype={"fact_id": str}
    ).set_index("fact_id")
    assert after.loc[target.fact_id, "value"] == 3341
    assert after.loc[target.fact_id, "override"] == "corrected"
    assert after.loc[dropped.fact_id, "override"] == "suppressed"

    assert cli(["facts", "export", "--store", str(store), "--out", str(tmp_path / "rv")]) == 0
    exported = pd.read_csv(
        tmp_path / "rv" / "facts.csv", encoding="utf-8-sig", dtype={"fact_id": str}
    )
    assert set(exported["fact_id"]) == set(facts["fact_id"])
    assert (tmp_path / "rv" / "facts.xlsx").stat().st_size > 0


def test_an_empty_folder_builds_no_briefing_and_says_why(
    prefect_harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "noise.txt").write_bytes(os.urandom(2000))
    code = cli(
        [
            "build",
            "--source",
            str(tmp_path / "src"),
            "--out",
            str(tmp_path / "o"),
            "--store",
            str(tmp_path / "s.duckdb"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("tonghop: no briefing built: no readable report")
    assert not (tmp_path / "o" / "briefing.docx").exists()


def test_a_store_of_an_earlier_version_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE sources (path VARCHAR, member VARCHAR, root VARCHAR, rel VARCHAR, "
        "doc_id VARCHAR, size BIGINT, mtime_ns BIGINT, content_hash VARCHAR, fingerprint VARCHAR, "
        "status VARCHAR, reason VARCHAR, first_run VARCHAR, last_run VARCHAR, "
        "PRIMARY KEY (path, member))"
    )
    con.execute(
        "INSERT INTO sources VALUES ('/r/a.txt', 'a.txt', '/r', 'a.txt', 'a', 1, 1, "
        "'h', 'f', 'active', '', 'r1', 'r1')"
    )
    con.close()
    with connect(path) as con:
        assert load_run_index(con, []).doc_ids == {"a": "a.txt"}
