"""The yearly comparison: how facts combine within a province and across provinces.

Each rule is checked twice: in pandas (``comparison_long``, facts in memory) and in DuckDB SQL
(``comparison_sql``, what the store path uses at scale): both must give the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tasks.aggregate import (
    BriefingInput,
    StoredFacts,
    aggregate_store,
    comparison_long,
    comparison_sql,
    comparison_wide,
    open_briefing,
)
from tasks.records import DOCUMENT_COLUMNS, FACT_COLUMNS
from tasks.render import Organisation, csv_bytes, render_outputs
from tasks.store import connect, load_facts

Compare = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]


def _sql(facts: pd.DataFrame, docs: pd.DataFrame) -> pd.DataFrame:
    data = BriefingInput(
        facts=facts, documents=docs, comparison=pd.DataFrame(), quarantine=pd.DataFrame()
    )
    with open_briefing(data) as db:
        return comparison_sql(db)


@pytest.fixture(params=["pandas", "sql"])
def compare(request: pytest.FixtureRequest) -> Compare:
    return comparison_long if request.param == "pandas" else _sql


def _facts(rows: list[tuple]) -> pd.DataFrame:
    cols = [
        "fact_id",
        "doc_id",
        "indicator",
        "value",
        "year",
        "province",
        "kind",
        "start",
        "qualifier",
    ]
    return pd.DataFrame(rows, columns=cols).astype({"year": "Int64"})


def _docs(dates: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": list(dates), "conference_date": list(dates.values())})


def _value(comp: pd.DataFrame, key: str, year: int) -> float:
    row = comp[(comp["indicator"] == key) & (comp["year"] == year)]
    assert len(row) == 1
    return float(row["value"].iloc[0])


def test_counts_add_up_within_and_across_provinces(compare: Compare) -> None:
    facts = _facts(
        [
            ("a", "d1", "khen_thuong_tap_the", 5, 2020, "Nghệ An", "result", 1, ""),
            ("b", "d2", "khen_thuong_tap_the", 7, 2020, "Nghệ An", "result", 1, ""),
            ("c", "d3", "khen_thuong_tap_the", 3, 2020, "Hà Tĩnh", "result", 1, ""),
        ]
    )
    comp = compare(facts, _docs({"d1": "", "d2": "", "d3": ""}))
    assert _value(comp, "khen_thuong_tap_the", 2020) == 15
    assert comp["fact_ids"].iloc[0] == ["a", "b", "c"]
    assert comp["n_documents"].iloc[0] == 3


def test_latest_takes_the_last_conference_of_the_province_then_adds_provinces(
    compare: Compare,
) -> None:
    # xã đạt chuẩn nông thôn mới is a stock: a later report of the same year replaces the earlier
    facts = _facts(
        [
            ("a", "d1", "xa_nong_thon_moi", 300, 2023, "Nghệ An", "result", 1, ""),
            ("b", "d2", "xa_nong_thon_moi", 319, 2023, "Nghệ An", "result", 1, ""),
            ("c", "d3", "xa_nong_thon_moi", 100, 2023, "Hà Tĩnh", "result", 1, ""),
        ]
    )
    docs = _docs({"d1": "2023-06-30", "d2": "2023-12-20", "d3": "2023-12-01"})
    assert _value(compare(facts, docs), "xa_nong_thon_moi", 2023) == 419


def test_percentages_average_and_plans_others_and_suppressed_stay_out(compare: Compare) -> None:
    facts = _facts(
        [
            ("a", "d1", "giao_quan_pct", 100, 2022, "Tây Ninh", "result", 1, ""),
            ("b", "d2", "giao_quan_pct", 98, 2022, "Long An", "result", 1, ""),
            ("c", "d2", "giao_quan_pct", 10, 2022, "Long An", "plan", 9, ""),
            ("d", "d2", "other", 10, 2022, "Long An", "result", 5, ""),
            ("e", "d2", "khen_thuong_ca_nhan", 4, None, "Long An", "result", 7, ""),
            ("f", "d1", "khen_thuong_ca_nhan", 9, 2022, "Tây Ninh", "result", 8, ""),
        ]
    ).assign(override=["", "", "", "", "", "suppressed"])
    comp = compare(facts, _docs({"d1": "", "d2": ""}))
    assert _value(comp, "giao_quan_pct", 2022) == pytest.approx(99)
    assert set(comp["indicator"]) == {"giao_quan_pct"}


def test_one_qualifier_is_kept_and_mixed_ones_dropped(compare: Compare) -> None:
    facts = _facts(
        [
            ("a", "d1", "kinh_phi", 2e8, 2021, "", "result", 1, "gần"),
            ("b", "d2", "kinh_phi", 1e8, 2022, "", "result", 1, "gần"),
            ("c", "d3", "kinh_phi", 1e8, 2022, "", "result", 1, ""),
        ]
    )
    comp = compare(facts, _docs({"d1": "", "d2": "", "d3": ""}))
    assert list(comp.sort_values("year")["qualifier"]) == ["gần", ""]


def test_wide_table_is_indicators_by_years(compare: Compare) -> None:
    facts = _facts(
        [
            ("a", "d1", "dan_van_kheo_new", 155, 2017, "", "result", 1, ""),
            ("b", "d2", "dan_van_kheo_new", 3340, 2023, "", "result", 1, ""),
        ]
    )
    wide = comparison_wide(compare(facts, _docs({"d1": "", "d2": ""})))
    assert list(wide.columns) == [2017, 2023]
    assert list(wide.loc["dan_van_kheo_new"]) == [155, 3340]


def test_no_usable_fact_gives_an_empty_table(compare: Compare) -> None:
    facts = _facts([("a", "d1", "other", 1, 2020, "", "result", 1, "")])
    assert compare(facts, _docs({"d1": ""})).empty


def test_sql_keeps_the_first_fact_ids_and_counts_them_all() -> None:
    facts = _facts([(f"f{i:02d}", f"d{i:02d}", "khen_thuong_tap_the", 1, 2020, "Nghệ An",
                     "result", 1, "") for i in range(12)])  # fmt: skip
    docs = _docs({f"d{i:02d}": f"2020-12-{30 - i:02d}" for i in range(12)})
    comp = _sql(facts, docs)
    assert comp["n_facts"].iloc[0] == 12 and _value(comp, "khen_thuong_tap_the", 2020) == 12
    # the first by conference date: d11 (12-19), d10 (12-20), d09 (12-21)
    assert comp["fact_ids"].iloc[0] == ["f11", "f10", "f09"]


# --- the store path ------------------------------------------------------------------------


def _store(path: Path, n: int) -> Path:
    """A store with ``n`` facts over ``n // 10`` documents in two provinces."""
    docs = pd.DataFrame(
        {
            "doc_id": [f"d{i:05d}" for i in range(n // 10)],
            "source": [f"d{i:05d}.txt" for i in range(n // 10)],
            "year": [2020 + i % 3 for i in range(n // 10)],
            "province": ["Nghệ An" if i % 2 else "Hà Tĩnh" for i in range(n // 10)],
            "conference_date": [f"{2020 + i % 3}-12-{1 + i % 28:02d}" for i in range(n // 10)],
            "n_facts": 10,
            "status": "ok",
        }
    )
    facts = pd.DataFrame(
        {
            "fact_id": [f"{i:012x}" for i in range(n)],
            "doc_id": [f"d{i // 10:05d}" for i in range(n)],
            "indicator": ["khen_thuong_tap_the" if i % 3 else "other" for i in range(n)],
            "label": "tập thể",
            "value": [float(i % 7) for i in range(n)],
            "unit": "tập thể",
            "qualifier": ["hơn" if i % 5 == 0 else "" for i in range(n)],
            "kind": ["plan" if i % 10 == 9 else "result" for i in range(n)],
            "year": [2020 + (i // 10) % 3 for i in range(n)],
            "province": ["Nghệ An" if (i // 10) % 2 else "Hà Tĩnh" for i in range(n)],
            "sentence": [f'Khen thưởng {i % 7} tập thể, "đợt {i}".' for i in range(n)],
            "start": [i % 10 for i in range(n)],
            "end": [i % 10 + 1 for i in range(n)],
        }
    )
    with connect(path) as con:
        for table, frame, columns in (
            ("documents", docs, DOCUMENT_COLUMNS),
            ("facts", facts, FACT_COLUMNS),
        ):
            present = [c for c in columns if c in frame.columns]
            con.register("_in", frame[present])
            cols = ", ".join(f'"{c}"' for c in present)
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _in")
            con.unregister("_in")
    return path


def test_the_store_path_keeps_facts_out_of_memory_and_applies_overrides(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.duckdb", 600)
    overrides = tmp_path / "o.yaml"
    overrides.write_text(
        "- {fact_id: '000000000001', action: correct, value: 100}\n"
        "- {fact_id: '000000000002', action: suppress}\n"
        "- {fact_id: 'nothere', action: suppress}\n",
        encoding="utf-8",
    )
    data, unknown = aggregate_store(store, tmp_path, overrides)
    assert isinstance(data.facts, StoredFacts) and len(data.facts) == 600
    assert unknown == ["nothere"]
    assert "sentence" not in data.documents.columns and "attendees" not in data.documents.columns
    # the same table as the pandas rule over the whole frame, overrides applied
    with connect(store) as con:
        frame = load_facts(con)
    from tasks.overrides import apply_overrides, load_overrides

    applied, _ = apply_overrides(frame, load_overrides(overrides))
    expected = comparison_long(applied, data.documents)
    got = data.comparison
    assert list(got["year"]) == list(expected["year"])
    assert list(got["value"]) == pytest.approx(list(expected["value"]))
    assert list(got["n_facts"]) == list(expected["n_facts"])
    assert [ids[:3] for ids in expected["fact_ids"]] == list(got["fact_ids"])
    assert list(got["qualifier"]) == list(expected["qualifier"])


#: Values whose CSV form could differ between DuckDB's writer and pandas: quotes, commas, line
#: ends, spaces at the ends, an empty text; tiny, huge and inexact floats.
TRICKY = [
    ('Nói "hơn 3.340", tăng', 1e-05),
    ("hai dòng\nmột câu", 1e20),
    ("\r\nđầu dòng", 0.1 + 0.2),
    ("  cách ở đầu và cuối  ", 12345678901234567.0),
    ("", 2.5e-300),
    ("a,b;c", -3185.0),
    ("'nháy đơn'", 11_400_000_000.0),
]


def test_csvs_written_by_duckdb_are_the_bytes_pandas_writes(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.duckdb", 5000)
    with connect(store) as con:
        for i, (sentence, value) in enumerate(TRICKY):
            con.execute(
                "INSERT INTO facts (fact_id, doc_id, indicator, value, kind, sentence, label, "
                "qualifier, start) VALUES (?, 'd00001', 'other', ?, 'result', ?, ?, '', ?)",
                [f"t{i}", value, sentence, sentence, 100 + i],
            )
        con.execute("UPDATE documents SET title = '', chair = 'A, B' WHERE doc_id = 'd00002'")
    overrides = tmp_path / "o.csv"
    overrides.write_text("fact_id,action,value\n000000000004,correct,3340\n", encoding="utf-8")
    data, _ = aggregate_store(store, tmp_path, overrides)
    out = render_outputs(data, tmp_path / "out", Organisation(), "vi")
    from tasks.overrides import apply_overrides, load_overrides
    from tasks.store import load_documents

    with connect(store) as con:
        facts, _ = apply_overrides(load_facts(con), load_overrides(overrides))
        docs = load_documents(con)
    assert out.facts.read_bytes() == csv_bytes(facts)
    assert out.documents.read_bytes() == csv_bytes(docs[list(DOCUMENT_COLUMNS)])


def test_a_cursor_sees_the_same_views_from_another_thread(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = _store(tmp_path / "s.duckdb", 300)
    overrides = tmp_path / "o.csv"
    overrides.write_text("fact_id,action\n000000000004,suppress\n", encoding="utf-8")
    data, _ = aggregate_store(store, tmp_path, overrides)
    query = "SELECT fact_id, override FROM b_facts ORDER BY fact_id"
    with open_briefing(data) as db, db.cursor() as other:
        assert other.con is not db.con and other.order == db.order
        with ThreadPoolExecutor(1) as pool:
            theirs = pool.submit(lambda: other.con.execute(query).fetchall()).result()
        ours = db.con.execute(query).fetchall()
    # the overrides are applied on the cursor's views too
    assert theirs == ours and ("000000000004", "suppressed") in theirs
