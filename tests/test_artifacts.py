"""Artifacts: the summary, the comparison table and the link, published in a real flow run on
the seeds and read back through the Prefect client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tasks.aggregate import BriefingInput, aggregate
from tasks.artifacts import (
    LINK_KEY,
    SUMMARY_KEY,
    TABLE_KEY,
    comparison_rows,
    coverage,
    summary_markdown,
)
from tasks.extract import extract_docs
from tasks.ingest import ingest_folder
from tasks.normalize import normalize_docs
from tasks.render import format_value


@pytest.fixture(scope="module")
def data(seeds: Path) -> BriefingInput:
    ingested = ingest_folder(seeds)
    return aggregate(extract_docs(normalize_docs(ingested.sources)), ingested)


def test_coverage_counts_the_frames(data: BriefingInput) -> None:
    c = coverage(data)
    assert c.documents == len(data.documents) == 5
    assert c.facts == len(data.facts)
    assert 0 < c.facts_indicator <= c.facts
    assert c.no_year == int(data.documents["year"].isna().sum())
    assert c.indicators == data.comparison["indicator"].nunique()
    assert list(c.years) == sorted(c.years)


def test_comparison_rows_match_the_comparison_frame(data: BriefingInput) -> None:
    rows = comparison_rows(data.comparison)
    years = sorted(str(int(y)) for y in data.comparison["year"].unique())
    assert len(rows) == data.comparison["indicator"].nunique()
    for row in rows:
        assert list(row) == ["indicator", "unit", *years, "change"]
    # every figure of the frame is in its row, in Vietnamese format
    by_label = {r["indicator"]: r for r in rows}
    for _, r in data.comparison.iterrows():
        cell = by_label[r["label_vi"]][str(int(r["year"]))]
        assert cell == format_value(r["value"], r["unit"], r["qualifier"])
    assert comparison_rows(data.comparison.iloc[0:0]) == []


def test_summary_markdown_names_the_counts(data: BriefingInput, tmp_path: Path) -> None:
    text = summary_markdown(
        data,
        tmp_path / "briefing.docx",
        archived=tmp_path / "archive" / "briefing-2025-01-01-x.docx",
        emailed=["a@x.vn"],
        counts={"documents.new": 5, "documents.unchanged": 0},
    )
    assert f"| Văn bản (documents) | {len(data.documents)} |" in text
    assert f"| Số liệu (facts) | {len(data.facts)} |" in text
    assert "| documents.new | 5 |" in text
    assert "briefing-2025-01-01-x.docx" in text
    assert "E-mailed to 1: a@x.vn" in text


def test_artifacts_published_in_a_flow_run(
    prefect_harness, data: BriefingInput, tmp_path: Path
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        TaskRunFilter,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    from tasks.artifacts import artifacts_task

    briefing = tmp_path / "briefing.docx"
    briefing.write_bytes(b"docx")

    @flow(name="artifacts-test")
    def run() -> None:
        artifacts_task(data, briefing, counts={"documents.new": 5})

    state = run(return_state=True)
    assert state.is_completed()

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
                ),
                # this server refuses the nulls the client sends by default
                flow_run_filter=FlowRunFilter(),
                task_run_filter=TaskRunFilter(),
                sort=ArtifactSort.KEY_ASC,
                limit=10,
            )

    artifacts = {a.key: a for a in asyncio.run(read())}
    assert set(artifacts) == {SUMMARY_KEY, TABLE_KEY, LINK_KEY}
    assert artifacts[SUMMARY_KEY].type == "markdown"
    assert f"| Số liệu (facts) | {len(data.facts)} |" in str(artifacts[SUMMARY_KEY].data)
    table = artifacts[TABLE_KEY].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert rows == comparison_rows(data.comparison)
    assert artifacts[LINK_KEY].type == "markdown"  # Prefect stores a link as markdown
    assert briefing.resolve().as_uri() in str(artifacts[LINK_KEY].data)
