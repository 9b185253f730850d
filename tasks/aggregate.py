"""Aggregate stage: extractions -> DataFrames (facts, documents, the yearly comparison table).

From here on the data are pandas frames. The comparison table holds one row per
(indicator, year): the facts of that year combined by the indicator's rule (sum, mean, max,
latest) first within a province, then across provinces, with the ids of the facts behind each
figure so that the briefing can trace it.

At scale (100,000 reports, a million facts with their sentences) the facts stay in the store:
``aggregate_store`` keeps only small per-document columns in memory and computes the
comparison in DuckDB SQL (``comparison_sql``, the same rule as ``comparison_long``, with the
count of facts and the first few fact ids of each figure). ``open_briefing`` gives the render
stage one SQL view of the facts (``b_facts``, the analysts' overrides applied) and of the
documents (``b_docs``) whether they sit in the store or in frames made in memory.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import duckdb
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.catalog import indicator_by_key
from tasks.overrides import Override, load_overrides
from tasks.records import DOCUMENT_COLUMNS, FACT_COLUMNS, Extraction, IngestResult, Quarantined
from tasks.store import connect, load_source_issues, load_vague

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


#: Fact ids kept per figure of the comparison made in SQL: the briefing quotes this many
#: sentences for a figure and counts the rest (``tasks.render.QUOTED_PER_FIGURE``).
CITED_IDS = 3

#: Per-document columns held in memory when the facts stay in the store (the briefing's
#: summary, sources list and quality annex; the scope of the archive). Chair, attendees and
#: directions are read from the store for the few conferences the briefing details.
BRIEF_DOCUMENT_COLUMNS = (
    "doc_id",
    "source",
    "title",
    "year",
    "plan_year",
    "province",
    "province_reason",
    "conference_date",
    "military_region",
)


@dataclass(frozen=True)
class StoredFacts:
    """The facts of a briefing left in the store: only where they are and how many.

    ``len()`` and ``empty`` behave like a frame's, so that a caller counting facts need not
    know where they are. ``overrides`` are applied in SQL each time the facts are read.
    """

    store: Path
    overrides: tuple[Override, ...] = ()
    count: int = 0

    def __len__(self) -> int:
        return self.count

    @property
    def empty(self) -> bool:
        """True when the store holds no fact."""
        return self.count == 0


@dataclass
class BriefingInput:
    """Everything the render stage needs: the frames and the data-quality lists.

    ``facts`` is a frame (small runs, tests) or ``StoredFacts`` (the facts stay in the store
    and are read through ``open_briefing``); ``documents`` then holds only
    ``BRIEF_DOCUMENT_COLUMNS``.
    """

    facts: pd.DataFrame | StoredFacts
    documents: pd.DataFrame
    comparison: pd.DataFrame
    quarantine: pd.DataFrame
    # (source, duplicate of[, kind])
    duplicates: list[tuple[str, ...]] = field(default_factory=list)
    vague: list[tuple[str, str]] = field(default_factory=list)  # (doc_id, phrase)
    missing: list[str] = field(default_factory=list)  # sources gone from the folder, kept


#: The columns that ``facts_frame`` and ``documents_frame`` fill, in the order of their row
#: tuples: a change of FACT_COLUMNS or DOCUMENT_COLUMNS must change them too.
_FACT_ROW = (
    "fact_id", "doc_id", "indicator", "label", "value", "value_max", "unit", "denominator",
    "qualifier", "kind", "year", "province", "sentence", "start", "end", "noun_phrase",
)  # fmt: skip
_DOCUMENT_ROW = (
    "doc_id", "source", "title", "year", "plan_year", "period_start", "period_end", "province",
    "province_reason", "military_region", "conference_date", "chair", "attendees",
    "organiser", "n_facts", "status",
)  # fmt: skip
if (_FACT_ROW, _DOCUMENT_ROW) != (FACT_COLUMNS, DOCUMENT_COLUMNS):
    raise RuntimeError("facts_frame/documents_frame rows no longer follow the column constants")


def facts_frame(extractions: list[Extraction]) -> pd.DataFrame:
    """One row per fact, columns ``FACT_COLUMNS``, in document then text order."""
    # one tuple a fact, in FACT_COLUMNS order (a dict a fact cost twice as much)
    rows = [
        (
            f.fact_id,
            f.doc_id,
            f.indicator,
            f.label,
            f.value,
            f.value_max,
            f.unit,
            f.denominator,
            f.qualifier,
            f.kind,
            ex.meta.year,
            ex.meta.province,
            ex.doc.text[f.sentence_start : f.sentence_end],
            f.start,
            f.end,
            f.noun_phrase,
        )
        for ex in extractions
        for f in ex.facts
    ]
    frame = pd.DataFrame(rows, columns=list(FACT_COLUMNS))
    return frame.astype({"year": "Int64", "start": "Int64", "end": "Int64"})


def documents_frame(extractions: list[Extraction]) -> pd.DataFrame:
    """One row per document, columns ``DOCUMENT_COLUMNS``, sorted by ``doc_id``."""
    # one tuple a document, in DOCUMENT_COLUMNS order (a dict a row cost more)
    rows = [
        (
            m.doc_id,
            ex.doc.source,
            m.title,
            m.year,
            m.plan_year,
            m.period_start,
            m.period_end,
            m.province,
            m.province_reason,
            m.military_region,
            m.conference_date,
            "; ".join(m.chairs),
            "; ".join(m.attendees),
            m.organiser,
            len(ex.facts),
            ex.status,
            "\n".join(m.directions),
        )
        for ex in sorted(extractions, key=lambda e: e.doc.doc_id)
        for m in (ex.meta,)
    ]
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
    """The briefing input from the store, with the analysts' overrides applied in SQL.

    Memory does not grow with the facts: they stay in the store (``StoredFacts``); the
    comparison is computed there, and only per-document columns are loaded.

    Returns:
        The briefing input, and the ids of overrides that matched no fact.
    """
    rules = tuple(load_overrides(overrides)) if overrides else ()
    with connect(store) as con:  # creates or migrates the store, as every stage does
        vague = load_vague(con)
        issues = load_source_issues(con, root)
    data = BriefingInput(
        facts=StoredFacts(store, rules),
        documents=pd.DataFrame(columns=list(BRIEF_DOCUMENT_COLUMNS)),
        comparison=pd.DataFrame(columns=list(COMPARISON_COLUMNS)),
        quarantine=pd.DataFrame(issues["quarantined"], columns=["source", "reason"]),
        duplicates=[(rel, reason) for rel, reason in issues["duplicate"]],
        vague=vague,
        missing=[rel for rel, _ in issues["missing"]],
    )
    with open_briefing(data) as db:
        count = int(db.con.execute("SELECT count(*) FROM b_facts").fetchall()[0][0])
        unknown = unknown_overrides(db)
        comparison = comparison_sql(db)
        documents = brief_documents(db)
    data = replace(
        data,
        facts=StoredFacts(store, rules, count),
        documents=documents,
        comparison=comparison,
    )
    return data, unknown


# --- SQL over the facts, wherever they are ---------------------------------------------------

_FACT_SQL_TYPES = {
    "value": "DOUBLE",
    "value_max": "DOUBLE",
    "denominator": "DOUBLE",
    "year": "INTEGER",
    "start": "INTEGER",
    "end": "INTEGER",
}
_DOC_SQL_TYPES = {
    "year": "INTEGER",
    "plan_year": "INTEGER",
    "period_start": "INTEGER",
    "period_end": "INTEGER",
    "n_facts": "INTEGER",
}

#: Facts in the order of facts.csv: by document, then by place in the text.
STORE_ORDER = "doc_id, start, fact_id"


@dataclass(frozen=True)
class BriefingDB:
    """A DuckDB connection with the views ``b_facts`` and ``b_docs``, and ``order``: the
    SQL order of facts.csv (the store's order, or the row order of an in-memory frame).

    A DuckDB connection serves one thread at a time: ``cursor()`` gives another thread its own
    connection to the same database, with the same views.
    """

    con: duckdb.DuckDBPyConnection
    order: str
    stored: bool
    setup: Callable[[duckdb.DuckDBPyConnection], None] = field(
        default=lambda con: None, repr=False, compare=False
    )

    @contextmanager
    def cursor(self) -> Iterator[BriefingDB]:
        """The same views on a new connection to the same database, for another thread (the
        render stage writes the CSVs while it builds the DOCX); closed when the block ends."""
        cur = self.con.cursor()
        try:
            self.setup(cur)
            yield BriefingDB(cur, self.order, self.stored, self.setup)
        finally:
            cur.close()


def _overrides_frame(rules: tuple[Override, ...]) -> pd.DataFrame:
    """The overrides as rows; for a fact named twice the last entry wins."""
    last = {o.fact_id: o for o in rules}
    return pd.DataFrame(
        {
            "fact_id": pd.Series([o.fact_id for o in last.values()], dtype=object),
            "action": pd.Series([o.action for o in last.values()], dtype=object),
            "new_value": pd.Series([o.value for o in last.values()], dtype="float64"),
        }
    )


def _casts(columns: tuple[str, ...], types: dict[str, str], present: set[str]) -> str:
    """SELECT list casting each column to its store type (NULL for one the frame lacks)."""
    parts = []
    for c in columns:
        source = f'"{c}"' if c in present else "NULL"
        parts.append(f'CAST({source} AS {types.get(c, "VARCHAR")}) AS "{c}"')
    return ", ".join(parts)


def _create_views(con: duckdb.DuckDBPyConnection, data: BriefingInput) -> None:
    """``b_facts`` and ``b_docs`` (and what they read) on ``con``: temporary views belong to
    one connection, so each connection of ``BriefingDB.cursor`` makes its own."""
    facts = data.facts
    if isinstance(facts, StoredFacts):
        stored = True
        raw_facts, raw_docs = "main.facts", "main.documents"
        rules = facts.overrides
        fact_cols = ", ".join(f'f."{c}"' for c in FACT_COLUMNS if c != "value")
    else:
        stored = False
        frame = facts.reset_index(drop=True)
        present = set(frame.columns)
        con.register("_facts_frame", frame)
        con.execute(
            "CREATE TEMP VIEW _facts_raw AS SELECT "
            + _casts(FACT_COLUMNS, _FACT_SQL_TYPES, present)
            + (", CAST(override AS VARCHAR) AS _mark" if "override" in present else ", '' AS _mark")
            + ", "
            + ("CAST(original_value AS DOUBLE)" if "original_value" in present else "NULL::DOUBLE")
            + " AS _orig"
            + ", row_number() OVER () AS _ord FROM _facts_frame"
        )
        docs = data.documents.reset_index(drop=True)
        con.register("_docs_frame", docs)
        con.execute(
            "CREATE TEMP VIEW _docs_raw AS SELECT "
            + _casts((*DOCUMENT_COLUMNS, "directions"), _DOC_SQL_TYPES, set(docs.columns))
            + " FROM _docs_frame"
        )
        raw_facts, raw_docs = "_facts_raw", "_docs_raw"
        rules = ()
        fact_cols = ", ".join(f'f."{c}"' for c in FACT_COLUMNS if c != "value") + ", f._ord"
    # a temporary table, not a registered frame: DuckDB plans a join with it 2x faster
    con.register("_overrides_frame", _overrides_frame(rules))
    con.execute("CREATE TEMP TABLE _overrides AS SELECT * FROM _overrides_frame")
    con.unregister("_overrides_frame")
    # an in-memory frame may carry marks of an earlier apply_overrides: keep them
    mark = "coalesce(f._mark, '')" if not stored else "''"
    orig = "f._orig" if not stored else "CAST(NULL AS DOUBLE)"
    if rules:
        con.execute(
            f"""CREATE TEMP VIEW b_facts AS SELECT {fact_cols},
                CASE WHEN o.action = 'correct' THEN o.new_value ELSE f.value END AS value,
                CASE o.action WHEN 'correct' THEN 'corrected' WHEN 'suppress'
                     THEN 'suppressed' ELSE {mark} END AS override,
                CASE WHEN o.action = 'correct' THEN f.value ELSE {orig} END
                     AS original_value
            FROM {raw_facts} f LEFT JOIN _overrides o ON o.fact_id = f.fact_id"""
        )
    else:  # no join at all: a query that reads a few facts then reads only those
        con.execute(
            f"""CREATE TEMP VIEW b_facts AS SELECT {fact_cols}, f.value AS value,
                {mark} AS override, {orig} AS original_value FROM {raw_facts} f"""
        )
    con.execute(f"CREATE TEMP VIEW b_docs AS SELECT * FROM {raw_docs}")


@contextmanager
def open_briefing(data: BriefingInput) -> Iterator[BriefingDB]:
    """One SQL view of the briefing's facts and documents.

    ``b_facts`` has ``FACT_COLUMNS`` plus ``override`` ("corrected", "suppressed" or "") and
    ``original_value``, the overrides applied; ``b_docs`` every document column and
    ``directions``. The store is opened read-only, with a memory limit: DuckDB spills a
    large sort to a temporary folder instead of growing.
    """
    tmp = tempfile.mkdtemp(prefix="tonghop-duckdb-")
    if isinstance(data.facts, StoredFacts):
        con = duckdb.connect(str(data.facts.store), read_only=True)
        order, stored = STORE_ORDER, True
    else:
        con = duckdb.connect()
        order, stored = "_ord", False
    try:
        con.execute(f"SET temp_directory = '{tmp}'")
        con.execute("SET memory_limit = '400MB'")
        # one thread per query: the briefing's queries are small but for the CSV sort, and a
        # second thread cost more CPU than it saved time (10k reports: 0.5 s of 4.5 s) on two
        # cores that extraction workers and other users share; the render stage runs the
        # CSVs on a connection of their own (``BriefingDB.cursor``) beside the DOCX instead
        con.execute("SET threads = 1")
        con.execute("SET preserve_insertion_order = true")
        setup = partial(_create_views, data=data)
        setup(con)
        yield BriefingDB(con, order, stored, setup)
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def unknown_overrides(db: BriefingDB) -> list[str]:
    """Ids of overrides that match no fact (to report, not to fail on), in file order."""
    found = {
        r[0]
        for r in db.con.execute(
            "SELECT DISTINCT o.fact_id FROM _overrides o "
            "SEMI JOIN b_facts f ON f.fact_id = o.fact_id"
        ).fetchall()
    }
    frame = db.con.execute("SELECT fact_id FROM _overrides").fetchall()
    return [r[0] for r in frame if r[0] not in found]


def brief_documents(db: BriefingDB) -> pd.DataFrame:
    """The per-document columns the briefing keeps in memory, sorted by doc_id."""
    cols = ", ".join(f'"{c}"' for c in BRIEF_DOCUMENT_COLUMNS)
    frame = db.con.execute(f"SELECT {cols} FROM b_docs ORDER BY doc_id").fetchdf()
    return frame.astype({"year": "Int64", "plan_year": "Int64"})


def _catalog_frame() -> pd.DataFrame:
    catalog = indicator_by_key()
    return pd.DataFrame(
        {
            "indicator": pd.Series(list(catalog), dtype=object),
            "agg": pd.Series([i.agg for i in catalog.values()], dtype=object),
            "label_vi": pd.Series([i.label_vi for i in catalog.values()], dtype=object),
            "label_en": pd.Series([i.label_en for i in catalog.values()], dtype=object),
            "unit": pd.Series([i.unit for i in catalog.values()], dtype=object),
        }
    )


def _comparison_query(db: BriefingDB, by_province: bool) -> pd.DataFrame:
    """The rule of ``comparison_long`` in SQL, per (indicator, year) or per province too."""
    db.con.register("_catalog", _catalog_frame())
    # facts of a province in the order "latest" reads them: conference date, then the text
    within = "_date, doc_id, start, fact_id"
    keys = "indicator, year, prov" if by_province else "indicator, year"
    per_province = f"""
        SELECT indicator, year, prov, any_value(agg) AS agg,
            CASE any_value(agg) WHEN 'sum' THEN fsum(value) WHEN 'mean' THEN avg(value)
                WHEN 'max' THEN max(value) ELSE last(value ORDER BY {within}) END AS value
        FROM usable GROUP BY indicator, year, prov"""
    across = f"""
        SELECT indicator, year, CASE any_value(agg) WHEN 'mean' THEN avg(value)
            WHEN 'max' THEN max(value) ELSE fsum(value) END AS value
        FROM ({per_province}) GROUP BY indicator, year"""
    values = f"SELECT indicator, year, prov, value FROM ({per_province})" if by_province else across
    frame = db.con.execute(
        f"""WITH usable AS (
            SELECT f.fact_id, f.doc_id, f.indicator, f.value, f.year, f.start,
                coalesce(f.province, '') AS prov, coalesce(f.qualifier, '') AS qualifier,
                coalesce(d.conference_date, '') AS _date, c.agg
            FROM b_facts f JOIN _catalog c ON c.indicator = f.indicator
            LEFT JOIN (SELECT doc_id, any_value(conference_date) AS conference_date
                       FROM b_docs GROUP BY doc_id) d ON d.doc_id = f.doc_id
            WHERE f.kind = 'result' AND f.indicator <> 'other' AND f.year IS NOT NULL
                AND f.override <> 'suppressed'
        ), counted AS (
            SELECT {keys},
                CASE WHEN min(qualifier) = max(qualifier) THEN min(qualifier) ELSE '' END
                    AS qualifier,
                count(*) AS n_facts, count(DISTINCT doc_id) AS n_documents,
                -- the first few by (date, document, place): min_by keeps only them, where an
                -- ordered list() of every fact id of a cell took 2.6 s at 100,000 reports
                min_by(fact_id, ({within}), {CITED_IDS}) AS fact_ids
            FROM usable GROUP BY {keys}
        )
        SELECT v.*, k.qualifier, k.n_facts, k.n_documents, k.fact_ids,
            c.label_vi, c.label_en, c.unit
        FROM ({values}) v JOIN counted k USING ({keys}) JOIN _catalog c USING (indicator)
        ORDER BY {keys}"""
    ).fetchdf()
    db.con.unregister("_catalog")
    frame = frame.assign(
        year=frame["year"].astype(int),
        value=frame["value"].astype(float),
        n_facts=frame["n_facts"].astype(int),
        n_documents=frame["n_documents"].astype(int),
        fact_ids=[list(ids) for ids in frame["fact_ids"]],
    )
    if by_province:
        frame = frame.rename(columns={"prov": "province"})
        return frame[["province", *COMPARISON_COLUMNS]].reset_index(drop=True)
    return frame[list(COMPARISON_COLUMNS)].reset_index(drop=True)


def comparison_sql(db: BriefingDB) -> pd.DataFrame:
    """``comparison_long`` computed by DuckDB where the facts are: one row per (indicator,
    year), with ``n_facts`` and only the first ``CITED_IDS`` fact ids (by conference date,
    then text order) in ``fact_ids``."""
    return _comparison_query(db, by_province=False)


def province_sql(db: BriefingDB) -> pd.DataFrame:
    """The same per (indicator, province, year); ``province`` is "" where unknown."""
    return _comparison_query(db, by_province=True)


@task(name="aggregate-store", cache_policy=NO_CACHE)
def aggregate_store_task(
    store: Path, root: Path, overrides: Path | None = None
) -> tuple[BriefingInput, list[str]]:
    """Prefect wrapper of ``aggregate_store``."""
    return aggregate_store(store, root, overrides)
