"""Tests of the benchmark tools: the synthetic report generator and the harness.

The generator must be deterministic for a seed, give the promised variety (provinces, years,
kinds, levels), write gold files that ``../shared/eval/score.py`` reads, and its reports must be
extractable: extraction on generated reports is scored against the generated gold.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench.generate import (
    LAST_YEAR,
    MERGER_YEAR,
    generate,
    load_grammar,
    make_report,
    parse_frame,
    vn_decimal,
    vn_int,
)
from tasks.records import SourceDoc

ROOT = Path(__file__).resolve().parent.parent
SCORE = ROOT.parent / "shared" / "eval" / "score.py"


# --- the frame language and the number formats ------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "parsed"),
    [
        ("giao quân", ["giao quân"]),
        ("{n} xã", [("slot", "n"), " xã"]),
        ("[a|b]", [("alt", [["a"], ["b"]])]),
        ("x[ y|]", ["x", ("alt", [[" y"], []])]),  # an optional part
        ("[a [b|c]|d]", [("alt", [["a ", ("alt", [["b"], ["c"]])], ["d"]])]),  # nested
    ],
)
def test_parse_frame(frame: str, parsed: list) -> None:
    assert parse_frame(frame) == parsed


@pytest.mark.parametrize("bad", ["[a|b", "a]", "{n", "a|b"])
def test_parse_frame_refuses_unbalanced(bad: str) -> None:
    with pytest.raises(ValueError, match="unbalanced|unclosed"):
        parse_frame(bad)


@pytest.mark.parametrize(
    ("value", "text"),
    [(3340, "3.340"), (21000, "21.000"), (7, "7"), (1234567, "1.234.567")],
)
def test_vn_int(value: int, text: str) -> None:
    assert vn_int(value) == text


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (1.66, 2, "1,66"),
        (1.5, 2, "1,5"),
        (100.0, 0, "100"),
        (11.4, 1, "11,4"),
        (1200.5, 1, "1.200,5"),
    ],
)
def test_vn_decimal(value: float, decimals: int, text: str) -> None:
    assert vn_decimal(value, decimals) == text


def test_every_frame_of_the_grammar_parses() -> None:
    grammar = load_grammar()
    assert len(grammar.facts) >= 20
    for group in grammar.facts:
        for frames in group.frames.values():
            for frame in frames:
                slots = _slots(frame)
                # a fact frame names only its own numbers or words of the document context
                assert slots, f"{group.key}: a fact frame without a number slot"
                assert set(slots) & set(group.nums), f"{group.key}: no number of the frame used"


def _slots(seq: list) -> list[str]:
    out = []
    for node in seq:
        if isinstance(node, tuple) and node[0] == "slot":
            out.append(node[1])
        elif isinstance(node, tuple):
            for alt in node[1]:
                out += _slots(alt)
    return out


# --- the generator ----------------------------------------------------------------------------


def test_same_seed_same_reports_other_seed_other_reports() -> None:
    a = [make_report(1, i) for i in range(20)]
    b = [make_report(1, i) for i in range(20)]
    c = [make_report(2, i) for i in range(20)]
    assert [(r.doc_id, r.text, r.gold_yaml()) for r in a] == [
        (r.doc_id, r.text, r.gold_yaml()) for r in b
    ]
    assert sum(x.text == y.text for x, y in zip(a, c, strict=True)) == 0


def test_report_i_does_not_depend_on_the_corpus_size(tmp_path: Path) -> None:
    generate(5, tmp_path / "five", seed=3)
    generate(8, tmp_path / "eight", seed=3, jobs=2)  # two worker processes: the same files
    for path in (tmp_path / "five").iterdir():
        assert path.read_bytes() == (tmp_path / "eight" / path.name).read_bytes()
    assert len(list((tmp_path / "eight").iterdir())) == 8


@pytest.fixture(scope="module")
def corpus() -> list:
    """Four hundred reports of seed 5 (about 0.2 s)."""
    return [make_report(5, i) for i in range(400)]


def test_variety_of_provinces_years_kinds_levels(corpus: list) -> None:
    grammar = load_grammar()
    golds = [r.gold for r in corpus]
    provinces = {g["province_truth"] for g in golds}
    years = Counter(g["year"] for g in golds)
    kinds = Counter(g["kind"] for g in golds)
    assert len(provinces) >= 55  # of the 63 + 34 names
    assert set(years) == set(range(2009, LAST_YEAR + 1))
    assert set(kinds) == set(grammar.raw["kinds"])
    assert Counter(g["level"] for g in golds)["district"] >= 60
    assert sum(g["period"] is not None for g in golds) >= 60  # 5- and 10-year reviews
    assert sum(g["province"] is None for g in golds) >= 30  # reports that never name it
    new_units = {p.name for p in grammar.new_provinces}
    old_units = {p.name for p in grammar.old_provinces}
    for g in golds:
        # after the July 2025 merger a report names one of the 34 units, before it one of the 63
        assert g["province_truth"] in (new_units if g["year"] >= MERGER_YEAR else old_units)
        if g["year"] >= MERGER_YEAR:
            assert g["level"] == "province"  # the districts went with the merger
    assert "Huế" in new_units and len(new_units) == 34 and len(old_units) == 63


def test_sizes_are_those_of_real_reports(corpus: list) -> None:
    sizes = sorted(len(r.text.encode("utf-8")) for r in corpus)
    median = sizes[len(sizes) // 2]
    assert 2000 <= median <= 5000
    assert sizes[len(sizes) // 20] >= 1500 and sizes[-len(sizes) // 20] <= 6000


def test_phrasings_vary_and_distractors_appear(corpus: list) -> None:
    text = "\n".join(r.text for r in corpus)
    # the same fact in several phrasings
    for phrase in ("giao quân đạt 100% chỉ tiêu", "hoàn thành 100% chỉ tiêu giao quân"):
        assert phrase in text
    assert re.search(r"xây dựng mới [\d.]+ mô hình", text)
    assert re.search(r"duy trì [\d.]+ mô hình và xây dựng mới [\d.]+ mô hình", text)
    assert re.search(r"\d+/\d+ xã đạt chuẩn nông thôn mới", text)
    assert re.search(r"(gần|hơn|trên|khoảng) [\d.,]+ (triệu|tỷ|tỉ) (đồng|đ)", text)
    assert re.search(r"khen thưởng [\d.]+ tập thể(,| và) [\d.]+ cá nhân", text)
    assert "Ban CHQS huyện" in text and "Ảnh:" in text
    # distractors that must not become facts
    for pattern in (
        r"(Sáng|Chiều) (nay )?\d{1,2}[./-]\d{1,2}",
        r"Chỉ thị số \d+",
        r"Nghị quyết số \d+-NQ/TU",
        r"Quân khu \d",
        r"giai đoạn 20\d\d - 20\d\d",
        r"Qua (5|10) năm",
    ):
        assert re.search(pattern, text), pattern


def test_every_number_of_a_report_is_gold_or_a_known_distractor(corpus: list) -> None:
    """The gold misses no figure: a number outside the gold is a date, year or identifier."""
    distractor = re.compile(
        r"(?:Sáng|Chiều|Ngày|nay|date|Cập nhật:) ?[\d./:\s-]*$|(?:số|khóa|Trung ương|Quân khu|"
        r"Sư đoàn|năm|Qua|Trong|đối tượng(?: \d,)?|\d{1,2}[./-]|/) ?$"
    )
    for report in corpus[:120]:
        values = Counter()
        for f in report.facts:
            values[f.value] += 1
        for m in re.finditer(r"(?<![\d.,])\d+(?:\.\d{3})*(?:,\d+)?", report.text):
            token = m.group()
            before = report.text[max(0, m.start() - 30) : m.start()]
            after = report.text[m.end() : m.end() + 12]
            if len(token) == 4 and token.startswith(("19", "20")):
                continue  # a year
            if distractor.search(before) or re.match(r"[./-]\d|-[A-ZĐ]|/[A-ZĐ]|/20\d\d", after):
                continue
            if re.match(r" (năm|tháng)", after):
                continue  # a duration ("6 tháng cuối năm")
            number = float(token.replace(".", "").replace(",", "."))
            assert any(abs(number - v) < 1e-9 for v in values) or any(
                f.denominator == number for f in report.facts
            ), f"{report.doc_id}: {token!r} in {before + token + after!r} is not in the gold"


def test_gold_yaml_has_the_format_of_the_shared_gold(tmp_path: Path) -> None:
    generate(30, tmp_path / "src", seed=9, gold=tmp_path / "gold")
    for path in sorted((tmp_path / "gold").glob("*.yaml")):
        gold = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert gold["doc_id"] == path.stem and (tmp_path / "src" / f"{path.stem}.txt").is_file()
        assert 2009 <= gold["year"] <= LAST_YEAR
        assert gold["period"] is None or gold["period"][1] == gold["year"]
        assert gold["chair"] is None or all(isinstance(n, str) for n in gold["chair"])
        for fact in gold["facts"]:
            assert isinstance(fact["value"], int | float) and fact["unit"]
            if fact["unit"] == "đồng":
                assert fact["value_base"] >= 1_000_000  # money: its scale and đồng
            assert "denominator" not in fact or fact["denominator"] >= fact["value"]


# --- extraction scored on generated reports ---------------------------------------------------


def _score(tmp_path: Path, n: int, seed: int) -> tuple[str, str]:
    """Generate, extract (pure functions), score with score.py; (summary line, full output)."""
    from tasks.aggregate import documents_frame, facts_frame
    from tasks.extract import extract_docs
    from tasks.normalize import normalize_docs

    src, gold = tmp_path / "src", tmp_path / "gold"
    generate(n, src, seed=seed, gold=gold)
    # read the files directly: this scores extraction, not ingest's duplicate detection
    docs = [
        SourceDoc(doc_id=p.stem, source=p.name, text=p.read_text(encoding="utf-8"))
        for p in sorted(src.glob("*.txt"))
    ]
    extractions = extract_docs(normalize_docs(docs))
    facts_frame(extractions).to_csv(tmp_path / "facts.csv", index=False)
    documents = documents_frame(extractions).drop(columns=["directions"], errors="ignore")
    documents.to_csv(tmp_path / "documents.csv", index=False)
    done = subprocess.run(
        [
            sys.executable,
            str(SCORE),
            "--gold",
            str(gold),
            "--facts",
            str(tmp_path / "facts.csv"),
            "--documents",
            str(tmp_path / "documents.csv"),
            "--texts",
            str(src),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return lines[-1], done.stdout


@pytest.mark.skipif(not SCORE.is_file(), reason="../shared/eval/score.py is not there")
def test_extraction_scores_high_on_generated_reports(tmp_path: Path) -> None:
    summary, full = _score(tmp_path, 60, seed=7)
    got = dict(re.findall(r"(\w+)=([\d.]+)", summary))
    # Measured on 300 reports each of seeds 7 and 11 (tasks/ of 21:10 UTC): precision 1.000,
    # recall 0.998-0.999, year 298-300/300, chair 300/300, no wrong province. The misses are
    # small numbers spelled out after a verb ("chỉ đạo ba huyện, thành phố diễn tập …",
    # "chỉ đạo tám xã, thị trấn …", "cho ba huyện, thị xã"), and a lead paragraph that ends
    # in "… dự và phát biểu chỉ đạo hội nghị." taken for a photo caption. Reported to the lead,
    # not changed here (extraction is another engineer's); the thresholds are the brief's.
    assert float(got["precision"]) >= 0.9, full
    assert float(got["recall"]) >= 0.85, full
    assert re.search(r"province right=\d+ wrong=0 ", summary), full


# --- the harness ------------------------------------------------------------------------------


def test_run_smoke_pure_path(tmp_path: Path) -> None:
    """bench/run.py on 20 generated reports, pure path only: a record and a table."""
    results = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--sizes",
            "20",
            "--paths",
            "pure",
            "--data-root",
            str(tmp_path / "data"),
            "--results",
            str(results),
            "--seed",
            "4",
            "--rerun",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| 20 | pure |" in done.stdout
    records = [
        yaml.safe_load(line)
        for f in results.glob("*.jsonl")
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    assert len(records) == 1
    record = records[0]
    assert record["size"] == 20 and record["documents"] == 20 and record["facts"] > 60
    assert set(record["seconds"]) == {"scan", "extract", "reuse-check", "aggregate", "render"}
    # the re-run reads nothing and keeps the outputs: no extract work, no aggregate or render
    assert set(record["rerun_seconds"]) == {"scan", "extract", "reuse-check"}
    assert record["peak_rss_mb"] > 50 and record["machine"]["nproc"] >= 1
    assert 0 < record["probe_s"] < 10  # how fast the machine was just before (lower: faster)
    assert all(v > 0 for v in record["stage_docs_per_s"].values())
    # the program: launch to last output, so its imports and the stages at least
    assert record["program_s"] > record["import_s"] + record["total_s"]


def test_repeated_runs_each_read_every_report(prefect_harness, tmp_path: Path) -> None:
    """--repeat: each measurement of the command starts from an empty store (a store kept from
    the run before would make the second one a re-run with nothing to read)."""
    import os

    from prefect.settings import PREFECT_API_URL

    results = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--sizes",
            "20",
            "--paths",
            "cli",
            "--repeat",
            "2",
            "--data-root",
            str(tmp_path / "data"),
            "--results",
            str(results),
            "--seed",
            "4",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},  # no API to start
    )
    assert done.returncode == 0, done.stderr[-2000:]
    records = [
        yaml.safe_load(x) for f in results.glob("*.jsonl") for x in f.read_text().splitlines()
    ]
    assert len(records) == 2
    for record in records:
        assert record["documents"] == 20 and "render" in record["seconds"]
    assert "| 20 | cli | 2 |" in done.stdout  # the summary of the repeated runs


def test_table_compares_each_run_with_the_pure_run_measured_before_it() -> None:
    from bench.run import table

    def rec(path: str, total: float, stages: float, **extra: float) -> dict:
        seconds = {"extract": stages * 0.75, "render": stages * 0.25}
        return {"path": path, "size": 10, "total_s": total, "seconds": seconds, **extra}

    rows = table(
        [
            rec("pure", 10.0, 10.0, program_s=12.5),
            rec("cli", 15.0, 11.0),  # stages +10%, end to end 15 / 12.5: +20%
            rec("pure", 20.0, 20.0, program_s=25.0),  # a slower moment of the machine
            rec("cli", 27.5, 20.0),  # against the second pure run: +0%, +10%
            rec("flow", 21.0, 21.0),  # in-process: stages only
        ]
    ).splitlines()
    head = [c.strip() for c in rows[0].strip("|").split("|")]
    cells = [
        dict(zip(head, (c.strip() for c in r.strip("|").split("|")), strict=True)) for r in rows[2:]
    ]
    over = [(c["overhead stages"], c["overhead end to end"]) for c in cells]
    assert over == [("", ""), ("+10%", "+20%"), ("", ""), ("+0%", "+10%"), ("+5%", "")]
    assert [c["program s"] for c in cells] == ["12.5", "15.0", "25.0", "27.5", ""]


def test_summary_of_interleaved_runs_gives_medians_and_ranges() -> None:
    from bench.run import summary

    def rec(path: str, total: float, **extra: float) -> dict:
        return {"path": path, "size": 10, "total_s": total, "seconds": {"x": total}, **extra}

    runs = [rec("pure", 10.0, program_s=12.0), rec("cli", 13.2)]  # +32%, +10%
    runs += [rec("pure", 20.0, program_s=25.0), rec("cli", 30.0)]  # +50%, +20%
    runs += [rec("pure", 10.0, program_s=12.0), rec("cli", 12.0), {"path": "cli", "error": "x"}]
    rows = summary(runs).splitlines()[2:]
    assert rows[0] == "| 10 | pure | 3 | 10.0 (10.0 to 20.0) |  |  |"
    assert (
        rows[1]
        == "| 10 | cli | 3 | 13.2 (12.0 to 30.0) | +32% (+20% to +50%) | +10% (+0% to +20%) |"
    )


def test_run_cli_against_a_running_server(tmp_path: Path) -> None:
    """--server: `tonghop build` runs its flow on one `prefect server start` (the run is in that
    server's database) and starts no local API of its own (its PREFECT_HOME gets no database).
    """
    import os
    import sqlite3

    results = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--sizes",
            "20",
            "--paths",
            "cli",
            "--server",
            "--keep",
            "--data-root",
            str(tmp_path / "data"),
            "--results",
            str(results),
            "--seed",
            "4",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # where --keep leaves the scratch folder
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| 20 | cli@server |" in done.stdout
    [line] = [x for f in results.glob("*.jsonl") for x in f.read_text().splitlines()]
    record = yaml.safe_load(line)
    assert record["api"] == "server" and record["documents"] == 20
    [scratch] = tmp_path.glob("tonghop-bench-run-*")
    query = "SELECT f.name FROM flow_run r JOIN flow f ON f.id = r.flow_id"
    with sqlite3.connect(scratch / "prefect-home-server" / "prefect.db") as db:
        assert [name for (name,) in db.execute(query)] == ["build-briefing"]
    assert not (scratch / "prefect-home-cli-20" / "prefect.db").exists()


def test_spawn_sums_the_memory_of_the_whole_tree() -> None:
    """Two processes of ~150 MB each at once: the sampled tree peak sees both."""
    import os

    from bench.run import ROOT as BENCH_ROOT
    from bench.run import spawn

    hold = "import time; b = b'x' * (150 * 2**20); "  # 150 MB resident, no temporary copy
    script = (
        "import subprocess, sys, time; "
        f"child = subprocess.Popen([sys.executable, '-c', {hold + 'time.sleep(1.5)'!r}]); "
        f"exec({hold!r}); time.sleep(1.5); child.wait()"
    )
    status, _, err, _, max_single, _, tree = spawn(
        [sys.executable, "-c", script], dict(os.environ), BENCH_ROOT
    )
    assert status == 0, err
    # ru_maxrss: the largest single process (on Linux it also counts what a child had before
    # exec, i.e. this test process's own pages at fork time: no upper bound here)
    assert max_single > 140
    assert tree > 290  # both processes at once
