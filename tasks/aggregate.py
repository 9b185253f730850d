"""Aggregate stage: extractions -> DataFrames (facts, documents, the yearly comparison table).

From here on the data are pandas frames. The comparison table holds one row per
(indicator, year): the facts of that year combined by the indicator's rule (sum, mean, max,
latest) first within a province, then across provinces, with the ids of the facts behind each
figure so that the briefing can trace it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.catalog import indicator_by_key
from tasks.overrides import apply_overrides, load_overrides
from tasks.records import DOCUMENT_COLUMNS, FACT_COLUMNS, Extraction, IngestResult, Quarantined
from tasks.store import connect, load_documents, load_facts, load_source_issues, load_vague

COMPARISON_COLUMNS = (
    "indicator",
    "label_vi",
    "label_en",
    "unit",
    "year",
    "value",
    "qualifier",
    "n_facts",
    "n_documents",
    "fact_ids",
)


@dataclass
class BriefingInput:
    """Everything the render stage needs: the frames and the data-quality lists."""

    facts: pd.DataFrame
    documents: pd.DataFrame
    comparison: pd.DataFrame
    quarantine: pd.DataFrame
    # (source, duplicate of[, kind])
    duplicates: list[tuple[str, ...]] = field(default_factory=list)
    vague: list[tuple[str, str]] = field(default_factory=list)  # (doc_id, phrase)
    missing: list[str] = field(default_factory=list)  # sources gone from the folder, kept


def facts_frame(extractions: list[Extraction]) -> pd.DataFrame:
    """One row per fact, columns ``FACT_COLUMNS``, in document then text order."""
    rows = []
    for ex in extractions:
        for f in ex.facts:
            rows.append(
                {
                    "fact_id": f.fact_id,
                    "doc_id": f.doc_id,
                    "indicator": f.indicator,
                    "label": f.label,
                    "value": f.value,
                    "value_max": f.value_max,
                    "unit": f.unit,
                    "denominator": f.denominator,
                    "qualifier": f.qualifier,
                    "kind": f.kind,
                    "year": ex.meta.year,
                    "province": ex.meta.province,
                    "sentence": ex.doc.text[f.sentence_start : f.sentence_end],
                    "start": f.start,
                    "end": f.end,
                    "noun_phrase": f.noun_phrase,
                }
            )
    frame = pd.DataFrame(rows, columns=list(FACT_COLUMNS))
    return frame.astype({"year": "Int64", "start": "Int64", "end": "Int64"})


def documents_frame(extractions: list[Extraction]) -> pd.DataFrame:
    """One row per document, columns ``DOCUMENT_COLUMNS``, sorted by ``doc_id``."""
    rows = []
    for ex in sorted(extractions, key=lambda e: e.doc.doc_id):
        m = ex.meta
        rows.append(
            {
                "doc_id": m.doc_id,
                "source": ex.doc.source,
                "title": m.title,
                "year": m.year,
                "plan_year": m.plan_year,
                "period_start": m.period_start,
                "period_end": m.period_end,
                "province": m.province,
                "province_reason": m.province_reason,
                "military_region": m.military_region,
                "conference_date": m.conference_date,
                "chair": "; ".join(m.chairs),
                "attendees": "; ".join(m.attendees),
                "organiser": m.organiser,
                "n_facts": len(ex.facts),
                "status": ex.status,
                "directions": "\n".join(m.directions),
            }
        )
    # "directions" feeds the briefing only; documents.csv keeps DOCUMENT_COLUMNS
    frame = pd.DataFrame(rows, columns=[*DOCUMENT_COLUMNS, "directions"])
    return frame.astype(
        {"year": "Int64", "plan_year": "Int64", "period_start": "Int64", "period_end": "Int64"}
    )


def quarantine_frame(items: list[Quarantined]) -> pd.DataFrame:
    """The quarantine list as a frame (header only when empty)."""
    return pd.DataFrame([(q.source, q.reason) for q in items], columns=["source", "reason"])


def comparison_long(facts: pd.DataFrame, documents: pd.DataFrame) -> pd.DataFrame:
    """The yearly comparison table in long form: one row per (indicator, year).

    Only results count (plans are kept apart), only facts with a catalog indicator and a
    known year, never facts an analyst suppressed. Within a province the indicator's rule
    combines the facts (sum, mean, max, or the latest by conference date); across provinces,
    counts add up, maxima stay maxima and percentages average. Vectorised: one groupby per
    level, whatever the number of documents.
    """
    catalog = indicator_by_key()
    usable = facts[
        (facts["kind"] == "result") & (facts["indicator"] != "other") & facts["year"].notna()
    ]
    if "override" in usable.columns:  # analysts' suppressions leave the tables
        usable = usable[usable["override"] != "suppressed"]
    if usable.empty:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    dates = documents.set_index("doc_id")["conference_date"].fillna("")
    usable = usable.assign(
        _date=usable["doc_id"].map(dates).fillna(""),
        _prov=usable["province"].fillna(""),
        _rule=usable["indicator"].map(lambda k: catalog[k].agg),
        qualifier=usable["qualifier"].fillna(""),
    ).sort_values(["_date", "doc_id", "start"], kind="stable")
    keys = ["indicator", "year", "_prov"]
    per_province = usable.groupby(keys, sort=True).agg(
        _rule=("_rule", "first"),
        sum=("value", "sum"),
        mean=("value", "mean"),
        max=("value", "max"),
        latest=("value", "last"),
    )
    rule = per_province["_rule"].to_numpy()
    picked = per_province[["sum", "mean", "max", "latest"]].to_numpy()
    column = pd.Series(rule).map({"sum": 0, "mean": 1, "max": 2, "latest": 3}).to_numpy()
    per_province = per_province.assign(
        value=picked[range(len(picked)), column],
        _across=pd.Series(rule).map({"mean": "mean", "max": "max"}).fillna("sum").to_numpy(),
    ).reset_index()
    across = per_province.groupby(["indicator", "year"], sort=True).agg(
        _across=("_across", "first"),
        sum=("value", "sum"),
        mean=("value", "mean"),
        max=("value", "max"),
    )
    pick = across["_across"].map({"sum": 0, "mean": 1, "max": 2}).to_numpy()
    values = across[["sum", "mean", "max"]].to_numpy()[range(len(across)), pick]
    grouped = usable.groupby(["indicator", "year"], sort=True)
    qualifiers = grouped["qualifier"].agg(lambda q: q.iloc[0] if q.nunique() == 1 else "")
    out = pd.DataFrame(
        {
            "value": values,
            "qualifier": qualifiers,
            "n_facts": grouped.size(),
            "n_documents": grouped["doc_id"].nunique(),
            "fact_ids": grouped["fact_id"].agg(list),
        },
        index=across.index,
    ).reset_index()
    out = out.assign(
        label_vi=out["indicator"].map(lambda k: catalog[k].label_vi),
        label_en=out["indicator"].map(lambda k: catalog[k].label_en),
        unit=out["indicator"].map(lambda k: catalog[k].unit),
        year=out["year"].astype(int),
    )
    return out[list(COMPARISON_COLUMNS)]


def comparison_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Indicators x years (the table of the briefing), in catalog order; NaN where no data."""
    if long.empty:
        return pd.DataFrame()
    order = {key: i for i, key in enumerate(indicator_by_key())}
    wide = long.pivot(index="indicator", columns="year", values="value")
    return wide.loc[sorted(wide.index, key=lambda k: order.get(k, len(order)))]


def aggregate(extractions: list[Extraction], ingested: IngestResult) -> BriefingInput:
    """All frames of a run, and the data-quality lists, for the render stage."""
    facts = facts_frame(extractions)
    documents = documents_frame(extractions)
    return BriefingInput(
        facts=facts,
        documents=documents,
        comparison=comparison_long(facts, documents),
        quarantine=quarantine_frame(ingested.quarantined),
        duplicates=list(ingested.duplicates),
        vague=[(v.doc_id, v.phrase) for ex in extractions for v in ex.vague],
    )


def aggregate_store(
    store: Path, root: Path, overrides: Path | None = None
) -> tuple[BriefingInput, list[str]]:
    """All frames of the briefing, read from the store, with the analysts' overrides applied.

    Returns:
        The briefing input, and the ids of overrides that matched no fact.
    """
    with connect(store) as con:
        facts = load_facts(con)
        documents = load_documents(con)
        vague = load_vague(con)
        issues = load_source_issues(con, root)
    facts, unknown = apply_overrides(facts, load_overrides(overrides) if overrides else [])
    quarantine = pd.DataFrame(issues["quarantined"], columns=["source", "reason"])
    data = BriefingInput(
        facts=facts,
        documents=documents,
        comparison=comparison_long(facts, documents),
        quarantine=quarantine,
        duplicates=[(rel, reason) for rel, reason in issues["duplicate"]],
        vague=vague,
        missing=[rel for rel, _ in issues["missing"]],
    )
    return data, unknown


@task(name="aggregate-store", cache_policy=NO_CACHE)
def aggregate_store_task(
    store: Path, root: Path, overrides: Path | None = None
) -> tuple[BriefingInput, list[str]]:
    """Prefect wrapper of ``aggregate_store``."""
    return aggregate_store(store, root, overrides)
