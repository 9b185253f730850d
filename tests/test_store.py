"""The store: re-runs read only what is new or changed, and nothing stored is ever lost."""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.briefing import build_briefing
from tasks.batch import process_batch
from tasks.ingest import IGNORED_NAMES, read_manifest
from tasks.overrides import OverrideError, apply_overrides, load_overrides, parse_overrides
from tasks.runlog import document_counts
from tasks.store import (
    SCHEMA,
    FileStat,
    Listing,
    ScanPlan,
    _clear_known,
    _of_documents,
    connect,
    held,
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


def _run(con, root: Path, run_id: str, fingerprint: str = "fp"):
    """One run of the flow's stages over ``root``, as the flow calls them (``fingerprint``
    stands for the extractor's version)."""
    files = scan_folder(root, IGNORED_NAMES)
    plan = plan_scan(con, root, files, fingerprint)
    index = load_run_index(con, [f.path for f in plan.to_read])
    batch = process_batch(root, plan.to_read, 10**7, read_manifest(root))
    outcomes = save_batch(con, root, batch, run_id, fingerprint, index)
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
        reason = con.execute("SELECT reason FROM sources WHERE rel = 'empty.txt'").fetchall()
        assert reason and "empty" in reason[0][0]
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


# --- the scan against a reference ------------------------------------------------------------
#
# ``plan_scan`` and ``touch_unchanged`` decide in SQL, set by set. The references below are the
# first version's plain Python (a dictionary of the store's files, one look-up per listed file,
# one update per path): on random stores and folders both must give the same plan and leave the
# same rows, or the set-based shortcut is wrong.


def _reference_plan(
    con: duckdb.DuckDBPyConnection, base: str, files: list[FileStat], fingerprint: str
) -> tuple[list[str], dict[str, str], list[str], list[str]]:
    known = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT path, any_value(size), any_value(mtime_ns), any_value(fingerprint), "
            "CASE WHEN bool_and(status = 'missing') THEN 'missing' "
            "WHEN bool_and(status = 'quarantined') THEN 'quarantined' ELSE 'seen' END "
            "FROM sources WHERE root = ? GROUP BY path",
            [base],
        ).fetchall()
    }
    to_read, status, unchanged = [], {}, []
    for f in sorted(files, key=lambda f: f.rel):
        old = known.get(f.path)
        if old is None or old[3] == "missing":
            to_read.append(f.path)
            status[f.path] = "new" if old is None else "changed"
        elif (old[0], old[1]) != (f.size, f.mtime_ns):
            to_read.append(f.path)
            status[f.path] = "changed"
        elif old[2] != fingerprint and old[3] != "quarantined":
            to_read.append(f.path)
            status[f.path] = "reprocessed"
        else:
            unchanged.append(f.path)
    seen = {f.path for f in files}
    missing = sorted(p for p, old in known.items() if p not in seen and old[3] != "missing")
    return to_read, status, unchanged, missing


def _reference_touch(
    con: duckdb.DuckDBPyConnection, unchanged: list[str], missing: list[str], run_id: str
) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for path in unchanged:
        con.execute("UPDATE sources SET last_run = ? WHERE path = ?", [run_id, path])
    for status, n in con.execute(
        "SELECT status, count(*) FROM sources WHERE list_contains(?, path) GROUP BY status",
        [unchanged],
    ).fetchall():
        statuses[status] += n
    for path in missing:
        con.execute("UPDATE sources SET status = 'missing' WHERE path = ?", [path])
    return statuses


def _random_store_and_folder(seed: int) -> tuple[list[tuple], Listing]:
    """Source rows of two folders (one inside the other, as a user may scan both) and a
    listing of the outer one: files kept, touched, resized, gone, new; rows of every status,
    several documents per file, and rows of an older store (no size, no extractor)."""
    rng = random.Random(seed)
    rows: list[tuple] = []
    listed: list[tuple[str, int, int]] = []
    for n in range(40):
        root, rel = ("/r/sub", f"f{n}.txt") if n % 7 == 0 else ("/r", f"d{n % 3}/f{n}.txt")
        outer_rel = rel if root == "/r" else f"sub/{rel}"
        size, mtime = rng.choice([None, 10, 20]), rng.choice([None, 100, 200])
        fp = rng.choice(["fp", "fp", "old", None])
        gone = rng.random() < 0.2
        for m in range(rng.choice([1, 1, 2])):
            status = "missing" if gone else rng.choice(["active", "duplicate", "quarantined"])
            rows.append(
                (f"{root}/{rel}", f"{rel}#{m}", root, rel, f"doc{n}-{m}", size, mtime,
                 f"h{n}", fp, status, "", "r0", "r0")
            )  # fmt: skip
        if rng.random() < 0.8:  # still in the folder, maybe touched or resized
            on_disk = (size or 10, mtime or 100)
            listed.append((outer_rel, on_disk[0] + (rng.random() < 0.2), on_disk[1]))
            if rng.random() < 0.2:
                listed[-1] = (outer_rel, on_disk[0], on_disk[1] + 1)
    listed += [(f"new{n}.txt", 5, 5) for n in range(rng.randint(0, 3))]
    rng.shuffle(listed)  # the file system's order is no order
    rel, size_, mtime_ = zip(*listed, strict=True) if listed else ((), (), ())
    return rows, Listing("/r/", tuple(rel), tuple(size_), tuple(mtime_))


def _memory_store(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(SCHEMA)
    con.executemany(
        "INSERT INTO sources (path, member, root, rel, doc_id, size, mtime_ns, content_hash, "
        "fingerprint, status, reason, first_run, last_run) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return con


def _all_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT * FROM sources ORDER BY path, member").fetchall()


@pytest.mark.parametrize("seed", range(60))
def test_plan_and_touch_agree_with_the_reference(seed: int) -> None:
    rows, listing = _random_store_and_folder(seed)
    ours, theirs = _memory_store(rows), _memory_store(rows)
    plan = plan_scan(ours, Path("/r"), listing, "fp")
    to_read, status, unchanged, missing = _reference_plan(theirs, "/r", list(listing), "fp")
    assert [f.path for f in plan.to_read] == to_read
    assert plan.status == status
    assert plan.missing == missing
    assert plan.n_unchanged == len(unchanged)
    assert touch_unchanged(ours, plan, "r1") == _reference_touch(theirs, unchanged, missing, "r1")
    assert _all_rows(ours) == _all_rows(theirs)


def test_plan_reasons_one_by_one() -> None:
    rows = [
        ("/r/same.txt", "same.txt", "/r", "same.txt", "a", 1, 1, "h", "fp", "active", "", "", ""),
        ("/r/touched.txt", "touched.txt", "/r", "touched.txt", "b", 1, 1, "h", "fp", "active",
         "", "", ""),
        ("/r/old.txt", "old.txt", "/r", "old.txt", "c", 1, 1, "h", "v0", "active", "", "", ""),
        ("/r/bad.txt", "bad.txt", "/r", "bad.txt", "", 1, 1, "", "v0", "quarantined", "empty",
         "", ""),
        ("/r/back.txt", "back.txt", "/r", "back.txt", "e", 1, 1, "h", "fp", "missing", "", "",
         ""),
        ("/r/gone.txt", "gone.txt", "/r", "gone.txt", "f", 1, 1, "h", "fp", "active", "", "", ""),
        ("/r/long.txt", "long.txt", "/r", "long.txt", "g", 1, 1, "h", "fp", "missing", "", "",
         ""),
    ]  # fmt: skip
    listing = Listing(
        "/r/",
        ("touched.txt", "same.txt", "old.txt", "bad.txt", "back.txt", "new.txt"),
        (1, 1, 1, 1, 1, 1),
        (2, 1, 1, 1, 1, 1),
    )
    plan = plan_scan(_memory_store(rows), Path("/r"), listing, "fp")
    assert plan.status == {
        "/r/back.txt": "changed",  # known only as missing: it came back
        "/r/new.txt": "new",
        "/r/old.txt": "reprocessed",  # read by an older extractor
        "/r/touched.txt": "changed",  # same size, another time
    }
    # in path order, whatever the listing's order; a quarantined file is not re-read for a
    # new extractor; a file already known to be gone is not reported again
    assert [f.rel for f in plan.to_read] == ["back.txt", "new.txt", "old.txt", "touched.txt"]
    assert plan.to_read[0] == FileStat("/r/back.txt", "back.txt", 1, 1)
    assert (plan.n_unchanged, plan.missing) == (2, ["/r/gone.txt"])
    with pytest.raises(ValueError, match="listing of"):
        plan_scan(_memory_store(rows), Path("/elsewhere"), listing, "fp")


def test_touch_leaves_other_folders_and_the_files_read_alone() -> None:
    rows = [
        ("/r/a.txt", "a.txt", "/r", "a.txt", "a", 1, 1, "h", "fp", "active", "", "r0", "r0"),
        ("/r/b.txt", "b.txt", "/r", "b.txt", "", 1, 1, "", "fp", "duplicate", "", "r0", "r0"),
        ("/r/c.txt", "c.txt", "/r", "c.txt", "c", 1, 1, "h", "fp", "active", "", "r0", "r0"),
        ("/r/d.txt", "d.txt", "/r", "d.txt", "d", 1, 1, "h", "fp", "active", "", "r0", "r0"),
        ("/q/e.txt", "e.txt", "/q", "e.txt", "e", 1, 1, "h", "fp", "active", "", "r0", "r0"),
    ]  # fmt: skip
    con = _memory_store(rows)
    plan = ScanPlan(
        "/r", to_read=[FileStat("/r/c.txt", "c.txt", 2, 2)], n_unchanged=2, missing=["/r/d.txt"]
    )
    assert touch_unchanged(con, plan, "r1") == Counter({"active": 1, "duplicate": 1})
    after = {r[0]: (r[9], r[12]) for r in _all_rows(con)}
    assert after == {
        "/r/a.txt": ("active", "r1"),
        "/r/b.txt": ("duplicate", "r1"),
        "/r/c.txt": ("active", "r0"),  # read this run: its rows are save_batch's to write
        "/r/d.txt": ("missing", "r0"),
        "/q/e.txt": ("active", "r0"),  # another folder
    }


# --- save_batch's clearing against a reference ------------------------------------------------
#
# ``_clear_known`` deletes a batch's old rows only when the store has some. The reference is
# the statements it replaced, run whatever the store holds: on random stores both must return
# the same first runs and leave the same rows in every table.


def _reference_clear(con: duckdb.DuckDBPyConnection, paths: list[str]) -> dict[str, str | None]:
    con.register("_paths", pd.DataFrame({"path": paths}, dtype="object"))
    first = dict(
        con.execute(
            "SELECT path, min(first_run) FROM sources WHERE path IN (SELECT path FROM _paths) "
            "GROUP BY path"
        ).fetchall()
    )
    for table in ("documents", "facts", "vague"):
        con.execute(
            f"DELETE FROM {table} WHERE doc_id IN (SELECT doc_id FROM sources "
            "WHERE path IN (SELECT path FROM _paths) AND doc_id <> '')"
        )
    con.execute("DELETE FROM sources WHERE path IN (SELECT path FROM _paths)")
    con.unregister("_paths")
    return first


def _store_with_documents(seed: int) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """A random store (``_random_store_and_folder``'s rows, with first runs that differ or are
    unknown and no document id on rows that are not active) whose documents have facts and
    vague amounts, and every path it knows."""
    rng = random.Random(seed)
    rows = []
    for row in _random_store_and_folder(seed)[0]:
        doc_id = row[4] if row[9] in ("active", "missing") else rng.choice(["", None])
        rows.append((*row[:4], doc_id, *row[5:11], rng.choice(["r0", "r1", None]), row[12]))
    con = _memory_store(rows)
    for doc_id in sorted({r[4] for r in rows if r[4]} | {"orphan"}):
        con.execute("INSERT INTO documents (doc_id, source) VALUES (?, ?)", [doc_id, doc_id])
        for k in range(rng.randint(0, 3)):
            con.execute(
                "INSERT INTO facts (fact_id, doc_id) VALUES (?, ?)", [f"{doc_id}:{k}", doc_id]
            )
        if rng.random() < 0.3:
            con.execute("INSERT INTO vague VALUES (?, 'khoảng')", [doc_id])
    return con, sorted({r[0] for r in rows})


def _every_table(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("sources", "documents", "facts", "vague")
    }


@pytest.mark.parametrize("seed", range(40))
def test_clear_known_agrees_with_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    ours, known = _store_with_documents(seed)
    theirs, _ = _store_with_documents(seed)
    # a batch: some files the store knows, maybe none, and new ones
    paths = sorted(rng.sample(known, rng.randint(0, len(known) // 2)) + ["/r/new.txt"])
    assert _clear_known(ours, paths) == _reference_clear(theirs, paths)
    assert _every_table(ours) == _every_table(theirs)


def test_clear_known_of_new_files_changes_nothing() -> None:
    con, _ = _store_with_documents(0)
    before = _every_table(con)
    assert _clear_known(con, ["/r/new.txt", "/elsewhere/x.txt"]) == {}
    assert _clear_known(con, []) == {}
    assert _every_table(con) == before


def test_of_documents_keeps_the_kept_rows_and_copies_only_when_some_go() -> None:
    frame = pd.DataFrame({"doc_id": ["a", "b", "a", "c"], "x": [1, 2, 3, 4]})
    assert _of_documents(frame, {"a", "b", "c", "z"}) is frame
    kept = _of_documents(frame, {"a", "c"})
    assert kept["x"].tolist() == [1, 3, 4]
    assert _of_documents(frame, set()).empty


def _tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "z.txt").write_bytes(b"12345")
    (root / "a" / "y.txt").write_bytes(b"1")
    (root / "a" / "b" / "x.txt").write_bytes(b"")
    (root / "a" / "Thumbs.db").write_bytes(b"ignored by name, in any case")
    (root / "manifest.csv").write_text("file,province\n", encoding="utf-8")
    (root / "link.txt").symlink_to(root / "z.txt")  # not followed
    (root / "linked").symlink_to(root / "a", target_is_directory=True)
    os.utime(root / "z.txt", ns=(7, 7_000_000_123))


@pytest.mark.parametrize("by_descriptor", [True, False])
def test_scan_lists_every_file_once_with_its_size_and_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by_descriptor: bool
) -> None:
    _tree(tmp_path / "src")
    monkeypatch.setattr("tasks.store._BY_DESCRIPTOR", by_descriptor)
    listing = scan_folder(tmp_path / "src", IGNORED_NAMES)
    base = str((tmp_path / "src").resolve()) + os.sep
    assert listing.prefix == base
    assert sorted(listing, key=lambda f: f.rel) == [
        FileStat(base + os.path.join("a", "b", "x.txt"), "a/b/x.txt", 0, _mtime(base, "a/b/x.txt")),
        FileStat(base + os.path.join("a", "y.txt"), "a/y.txt", 1, _mtime(base, "a/y.txt")),
        FileStat(base + "z.txt", "z.txt", 5, 7_000_000_123),
    ]
    assert len(listing) == 3
    assert scan_folder(tmp_path / "src" / "a" / "b", IGNORED_NAMES).rel == ("x.txt",)


def test_a_file_name_that_is_not_utf8_is_named_in_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_bytes(b"x")
    try:  # "báo-cáo" in Latin-1, as an old Windows archive may name it
        os.close(os.open(os.fsencode(src) + b"/b\xe1o-c\xe1o.txt", os.O_CREAT | os.O_WRONLY))
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    with connect(tmp_path / "s.duckdb") as con, pytest.raises(ValueError, match=r"b\\xe1o"):
        plan_scan(con, src, scan_folder(src, IGNORED_NAMES), "fp")


def _mtime(base: str, rel: str) -> int:
    return os.stat(base + rel).st_mtime_ns


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


def test_a_held_store_is_shared_by_its_connections_and_released_after(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    with held(store):
        with connect(store) as con:
            con.execute("CREATE TABLE t (x INTEGER)")
            con.execute("INSERT INTO t VALUES (1)")
        with held(store), connect(store) as con:  # nested: the same open store
            assert con.execute("SELECT sum(x) FROM t").fetchone() == (1,)
        with connect(store) as con:
            con.execute("INSERT INTO t VALUES (2)")
    # released: another configuration of the database opens, and the rows were written
    ro = duckdb.connect(str(store), read_only=True)
    try:
        assert ro.execute("SELECT sum(x) FROM t").fetchone() == (3,)
    finally:
        ro.close()
