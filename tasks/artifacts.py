"""Artifacts of a run: what an operator sees in the Prefect UI without opening the DOCX.

Three artifacts per flow run, under stable keys so that the UI keeps their history run by run:

- ``tonghop-summary`` (markdown): documents, facts, how many facts found a catalog indicator,
  provinces and years covered, documents without a year or a province, quarantined files,
  duplicates, and where the briefing went (archive, e-mail);
- ``tonghop-comparison`` (table): the yearly comparison table of the briefing, one row per
  indicator, figures in Vietnamese format ("3.340", "~ 200 triệu");
- ``tonghop-briefing`` (link): a ``file://`` URL of the briefing.

``summary_markdown`` and ``comparison_rows`` are pure; ``artifacts_task`` publishes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pandas as pd
from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from tasks.aggregate import BriefingInput, open_briefing
from tasks.render import fact_counts, format_change, format_number, format_value

SUMMARY_KEY = "tonghop-summary"
TABLE_KEY = "tonghop-comparison"
LINK_KEY = "tonghop-briefing"


@dataclass(frozen=True)
class Coverage:
    """What a briefing covers, counted from the frames.

    Attributes:
        documents, facts: documents and facts of the briefing.
        facts_indicator: facts that matched a catalog indicator (not ``other``).
        provinces, years: distinct known values among the documents.
        no_year, no_province: documents whose year or province stayed unknown.
        quarantined, duplicates: files left out, and why is in quarantine.csv.
        indicators: rows of the comparison table.
    """

    documents: int
    facts: int
    facts_indicator: int
    provinces: tuple[str, ...]
    years: tuple[int, ...]
    no_year: int
    no_province: int
    quarantined: int
    duplicates: int
    indicators: int


def coverage(data: BriefingInput) -> Coverage:
    """Count what the briefing covers (unknowns counted as unknown, never guessed).

    Facts are counted where they are (in the store at scale), never loaded.
    """
    docs = data.documents
    province = docs["province"].fillna("").astype(str) if len(docs) else pd.Series(dtype=str)
    with open_briefing(data) as db:
        counts = fact_counts(db)
    return Coverage(
        documents=len(docs),
        facts=counts["n"],
        facts_indicator=counts["on_indicator"],
        provinces=tuple(sorted(p for p in province.unique() if p)),
        years=tuple(sorted(int(y) for y in docs["year"].dropna().unique())) if len(docs) else (),
        no_year=int(docs["year"].isna().sum()) if len(docs) else 0,
        no_province=int((province == "").sum()),
        quarantined=len(data.quarantine),
        duplicates=len(data.duplicates),
        indicators=int(data.comparison["indicator"].nunique()) if len(data.comparison) else 0,
    )


def _percent(part: int, whole: int) -> str:
    return f"{format_number(100 * part / whole, 1)}%" if whole else "—"


def summary_markdown(
    data: BriefingInput,
    briefing: Path,
    archived: Path | None = None,
    emailed: list[str] | None = None,
    counts: Mapping[str, Any] | None = None,
) -> str:
    """The markdown summary of a run, in Vietnamese with the English key words.

    Args:
        data: the frames the briefing was built from.
        briefing: the DOCX written.
        archived: its copy in the archive, if distributed.
        emailed: the recipients it was sent to.
        counts: more counts to show as they are (e.g. ``run.json``'s ``documents``:
            new, changed, unchanged, duplicate, quarantined).
    """
    c = coverage(data)
    lines = [
        f"# Báo cáo tổng hợp: {briefing.name}",
        "",
        "| | |",
        "| --- | --- |",
        f"| Văn bản (documents) | {c.documents} |",
        f"| Số liệu (facts) | {c.facts} |",
        f"| Số liệu theo chỉ tiêu (facts on an indicator) | {c.facts_indicator} "
        f"({_percent(c.facts_indicator, c.facts)}) |",
        f"| Chỉ tiêu trong bảng so sánh (indicators compared) | {c.indicators} |",
        f"| Địa phương (provinces) | {len(c.provinces)}: {', '.join(c.provinces) or '—'} |",
        f"| Năm (years) | {', '.join(map(str, c.years)) or '—'} |",
        f"| Chưa xác định năm (year unknown) | {c.no_year} |",
        f"| Chưa xác định địa phương (province unknown) | {c.no_province} |",
        f"| Không đọc được (quarantined) | {c.quarantined} |",
        f"| Trùng lặp (duplicates) | {c.duplicates} |",
    ]
    for key, value in (counts or {}).items():
        lines.append(f"| {key} | {value} |")
    lines += ["", f"Briefing: `{briefing}`"]
    if archived is not None:
        lines.append(f"Archive: `{archived}`")
    if emailed:
        lines.append(f"E-mailed to {len(emailed)}: {', '.join(emailed)}")
    return "\n".join(lines) + "\n"


def comparison_rows(comparison: pd.DataFrame, lang: str = "vi") -> list[dict[str, str]]:
    """The comparison table as rows of strings: indicator, unit, one column per year, change.

    The same figures as the briefing's table ("> 21.000", "~ 200 triệu", "—" when a year has
    none); every row has every column so that the UI draws a rectangle.
    """
    if comparison.empty:
        return []
    years = sorted(int(y) for y in comparison["year"].unique())
    label = "label_vi" if lang == "vi" else "label_en"
    rows = []
    for _, group in comparison.groupby("indicator", sort=True):
        by_year = {int(r["year"]): r for _, r in group.iterrows()}
        first = group.iloc[0]
        row = {"indicator": str(first[label]), "unit": str(first["unit"])}
        for y in years:
            r = by_year.get(y)
            row[str(y)] = (
                format_value(r["value"], r["unit"], r["qualifier"]) if r is not None else "—"
            )
        known = [y for y in years if y in by_year]
        row["change"] = (
            format_change(by_year[known[-2]]["value"], by_year[known[-1]]["value"], first["unit"])
            if len(known) >= 2
            else ""
        )
        rows.append(row)
    return rows


@task(name="publish artifacts", cache_policy=NO_CACHE)
def artifacts_task(
    data: BriefingInput,
    briefing: Path,
    archived: Path | None = None,
    emailed: list[str] | None = None,
    counts: Mapping[str, Any] | None = None,
    lang: str = "vi",
) -> list[UUID]:
    """Publish the summary, the comparison table and the link to the briefing.

    Returns:
        The ids of the three artifacts (summary, table, link).
    """
    summary = create_markdown_artifact(
        summary_markdown(data, briefing, archived, emailed, counts),
        key=SUMMARY_KEY,
        description="tonghop: what this briefing covers",
    )
    table = create_table_artifact(
        comparison_rows(data.comparison, lang),
        key=TABLE_KEY,
        description="tonghop: the yearly comparison table of the briefing",
    )
    target = archived or briefing
    link = create_link_artifact(
        target.resolve().as_uri(),
        link_text=target.name,
        key=LINK_KEY,
        description="tonghop: the briefing (DOCX)",
    )
    # the create_* functions are sync-or-async; called from a sync task they return the id
    return [cast(UUID, summary), cast(UUID, table), cast(UUID, link)]
