"""End to end: the real flow on the seeds, the DOCX read back and checked against facts.csv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from docx import Document

from flows.briefing import build_briefing
from tasks.aggregate import comparison_long
from tasks.render import format_value
from tests.conftest import ROOT, SEED_BAR, SHARED


@pytest.fixture(scope="module")
def built(prefect_harness, seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    result = build_briefing(source=seeds, out=out, store=out / "store.duckdb")
    assert Path(result["briefing"]).is_file()
    return out


def test_deployment_runs_read_batches_in_worker_processes() -> None:
    """A deployment run (``tonghop serve``, the work pool of prefect.yaml) loads the flow from
    its entrypoint with the flow's own runner: a process pool, not Prefect's thread pool that
    would read every batch on one core. (Runs of it end to end: ``built`` above and the served
    run of tests/test_server.py.)"""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.task_runners import ProcessPoolTaskRunner

    loaded = load_flow_from_entrypoint(str(ROOT / "flows" / "briefing.py") + ":build_briefing")
    assert isinstance(loaded.task_runner, ProcessPoolTaskRunner)


def _docx_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_outputs_have_the_promised_columns(built: Path) -> None:
    facts = pd.read_csv(built / "facts.csv", encoding="utf-8-sig")
    docs = pd.read_csv(built / "documents.csv", encoding="utf-8-sig")
    quarantine = pd.read_csv(built / "quarantine.csv", encoding="utf-8-sig")
    for column in (
        "doc_id",
        "indicator",
        "label",
        "value",
        "unit",
        "denominator",
        "qualifier",
        "kind",
        "sentence",
        "start",
        "end",
    ):
        assert column in facts.columns
    for column in (
        "doc_id",
        "title",
        "year",
        "period_start",
        "period_end",
        "province",
        "military_region",
        "conference_date",
        "chair",
        "n_facts",
        "status",
    ):
        assert column in docs.columns
    assert list(quarantine.columns) == ["source", "reason"]
    assert len(quarantine) == 0
    assert sorted(docs["doc_id"]) == sorted(p.stem for p in (ROOT / "seeds").glob("*.txt"))
    assert set(facts["kind"]) <= {"result", "plan"}


def test_every_fact_points_into_its_sentence(built: Path, seeds: Path) -> None:
    from tasks.normalize import normalize_text

    facts = pd.read_csv(built / "facts.csv", encoding="utf-8-sig")
    for row in facts.itertuples():
        text = normalize_text((seeds / f"{row.doc_id}.txt").read_text(encoding="utf-8"))
        number = text[row.start : row.end]
        assert number in row.sentence
        assert row.sentence in text


def test_comparison_table_cells_equal_the_aggregated_facts(built: Path) -> None:
    facts = pd.read_csv(built / "facts.csv", encoding="utf-8-sig", dtype={"fact_id": str})
    docs = pd.read_csv(built / "documents.csv", encoding="utf-8-sig")
    facts["year"] = facts["year"].astype("Int64")
    facts["qualifier"] = facts["qualifier"].fillna("")
    comp = comparison_long(facts, docs)
    assert not comp.empty
    doc = Document(str(built / "briefing.docx"))
    table = next(t for t in doc.tables if t.rows[0].cells[0].text in {"Chỉ tiêu", "Indicator"})
    header = [c.text for c in table.rows[0].cells]
    years = [h for h in header if h.isdigit()]
    assert years == [str(y) for y in sorted(comp["year"].unique())]
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in table.rows[1:]}
    for _, r in comp.iterrows():
        cells = rows[r["label_vi"]]
        cell = cells[header.index(str(r["year"]))]
        assert cell.split(" [")[0] == format_value(r["value"], r["unit"], r["qualifier"])
    assert len(rows) == comp["indicator"].nunique()


def test_briefing_cites_every_source_and_leaves_no_tags(built: Path) -> None:
    text = _docx_text(built / "briefing.docx")
    assert "{{" not in text and "{%" not in text
    for path in (ROOT / "seeds").glob("*.txt"):
        assert path.stem in text
    assert "BÁO CÁO" in text


def test_seed_score_passes_the_spine_bar(built: Path) -> None:
    scorer = SHARED / "eval" / "score.py"
    if not scorer.is_file():
        pytest.skip("shared/eval not beside the checkout")
    args = [
        sys.executable,
        str(scorer),
        "--gold",
        str(SHARED / "eval" / "gold"),
        "--facts",
        str(built / "facts.csv"),
        "--documents",
        str(built / "documents.csv"),
        "--texts",
        str(ROOT / "seeds"),
        *SEED_BAR,
    ]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:]


def test_same_inputs_give_the_same_bytes(
    prefect_harness, seeds: Path, built: Path, tmp_path: Path
) -> None:
    # a fresh store, so that this run extracts again rather than reading the first run's store
    build_briefing(source=seeds, out=tmp_path, store=tmp_path / "store.duckdb")
    for name in ("briefing.docx", "facts.csv", "documents.csv"):
        assert (tmp_path / name).read_bytes() == (built / name).read_bytes(), name
