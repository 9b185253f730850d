"""The yearly comparison: how facts combine within a province and across provinces."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.aggregate import comparison_long, comparison_wide


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


def test_counts_add_up_within_and_across_provinces() -> None:
    facts = _facts(
        [
            ("a", "d1", "khen_thuong_tap_the", 5, 2020, "Nghệ An", "result", 1, ""),
            ("b", "d2", "khen_thuong_tap_the", 7, 2020, "Nghệ An", "result", 1, ""),
            ("c", "d3", "khen_thuong_tap_the", 3, 2020, "Hà Tĩnh", "result", 1, ""),
        ]
    )
    comp = comparison_long(facts, _docs({"d1": "", "d2": "", "d3": ""}))
    assert _value(comp, "khen_thuong_tap_the", 2020) == 15
    assert comp["fact_ids"].iloc[0] == ["a", "b", "c"]
    assert comp["n_documents"].iloc[0] == 3


def test_latest_takes_the_last_conference_of_the_province_then_adds_provinces() -> None:
    # xã đạt chuẩn nông thôn mới is a stock: a later report of the same year replaces the earlier
    facts = _facts(
        [
            ("a", "d1", "xa_nong_thon_moi", 300, 2023, "Nghệ An", "result", 1, ""),
            ("b", "d2", "xa_nong_thon_moi", 319, 2023, "Nghệ An", "result", 1, ""),
            ("c", "d3", "xa_nong_thon_moi", 100, 2023, "Hà Tĩnh", "result", 1, ""),
        ]
    )
    docs = _docs({"d1": "2023-06-30", "d2": "2023-12-20", "d3": "2023-12-01"})
    assert _value(comparison_long(facts, docs), "xa_nong_thon_moi", 2023) == 419


def test_percentages_average_and_plans_others_and_suppressed_stay_out() -> None:
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
    comp = comparison_long(facts, _docs({"d1": "", "d2": ""}))
    assert _value(comp, "giao_quan_pct", 2022) == pytest.approx(99)
    assert set(comp["indicator"]) == {"giao_quan_pct"}


def test_one_qualifier_is_kept_and_mixed_ones_dropped() -> None:
    facts = _facts(
        [
            ("a", "d1", "kinh_phi", 2e8, 2021, "", "result", 1, "gần"),
            ("b", "d2", "kinh_phi", 1e8, 2022, "", "result", 1, "gần"),
            ("c", "d3", "kinh_phi", 1e8, 2022, "", "result", 1, ""),
        ]
    )
    comp = comparison_long(facts, _docs({"d1": "", "d2": "", "d3": ""}))
    assert list(comp.sort_values("year")["qualifier"]) == ["gần", ""]


def test_wide_table_is_indicators_by_years() -> None:
    facts = _facts(
        [
            ("a", "d1", "dan_van_kheo_new", 155, 2017, "", "result", 1, ""),
            ("b", "d2", "dan_van_kheo_new", 3340, 2023, "", "result", 1, ""),
        ]
    )
    wide = comparison_wide(comparison_long(facts, _docs({"d1": "", "d2": ""})))
    assert list(wide.columns) == [2017, 2023]
    assert list(wide.loc["dan_van_kheo_new"]) == [155, 3340]


def test_no_usable_fact_gives_an_empty_table() -> None:
    facts = _facts([("a", "d1", "other", 1, 2020, "", "result", 1, "")])
    assert comparison_long(facts, _docs({"d1": ""})).empty
