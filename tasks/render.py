"""Render stage: DataFrames -> the Word briefing, comparison.xlsx and the CSV outputs.

``build_context`` is pure: it turns the frames into the dict the template asks for, with every
figure in the briefing's number format (Vietnamese: "3.340", "1,66%", "~ 200 triệu"; English:
"3,340", "1.66%", "~ 200 million") and numbered in the sources annex ("[n]"), so that each
figure can be traced to its document and sentence. ``render_docx`` fills a docxtpl template in a
jinja2 sandbox with autoescaping and strict undefined variables, and returns bytes that are the
same for the same inputs (fixed core properties, fixed zip timestamps, PNG charts without
timestamps). ``comparison_xlsx`` writes the same tables for analysts, one sheet each.

The layout (Decree 30/2020/NĐ-CP: A4, margins, Times New Roman, header block, page numbers from
page 2, signature block) lives in the Word templates of ``report_templates/``; the values that
belong to the issuing office come from ``Organisation`` (filled from the config file).
"""

from __future__ import annotations

import gc
import io
import math
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any, BinaryIO

import jinja2
import numpy as np
import pandas as pd
import yaml
from jinja2.sandbox import SandboxedEnvironment
from prefect import task

from tasks.aggregate import (
    CITED_IDS,
    BriefingDB,
    BriefingInput,
    StoredFacts,
    open_briefing,
    province_sql,
)
from tasks.catalog import Indicator, indicator_by_key
from tasks.records import DOCUMENT_COLUMNS, FACT_COLUMNS

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "report_templates"
FIXED_TIME = datetime(2000, 1, 1)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
LANGS = ("vi", "en")

#: How a qualifier shows before a figure in the tables: "hơn 21.000" -> "> 21.000".
QUALIFIER_SIGNS = {
    "hơn": "> ",
    "trên": "> ",
    "vượt": "> ",
    "lên tới": "≤ ",
    "tới": "≤ ",
    "gần": "~ ",
    "khoảng": "~ ",
    "ước": "~ ",
    "ước đạt": "~ ",
    "xấp xỉ": "~ ",
    "trên dưới": "~ ",
    "gần như": "~ ",
}

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "subject": "Kết quả công tác quốc phòng, quân sự địa phương",
        "subject_years": " năm {years}",
        "unknown": "chưa xác định",
        "coverage": "Báo cáo tổng hợp {n} văn bản{years}.",
        "coverage_years": ", số liệu các năm {years}",
        "provinces_all": "Các văn bản thuộc {n} địa phương: {names}.",
        "provinces_known": "{n} văn bản xác định được địa phương ({names})",
        "provinces_unknown": "{n} văn bản chưa xác định địa phương",
        "provinces_none": "Chưa xác định được địa phương của các văn bản.",
        "facts": "Đã trích xuất {n} số liệu: {r} số liệu kết quả gắn với {i} chỉ tiêu, "
        "{p} số liệu kế hoạch, {o} số liệu chưa gắn với chỉ tiêu.",
        "quarantine_note": "{n} tệp không sử dụng được (xem Phụ lục III).",
        "headline": "{label}: {series}{change}.",
        "up": "tăng",
        "down": "giảm",
        "same": "không đổi",
        "points": "điểm %",
        "scope": "(Tổng hợp từ {n} văn bản; số liệu các năm {years})",
        "plan": "kế hoạch",
        "quarantined": "{source}: {reason}",
        "unknown_doc": "{doc_id}: {what}",
        "no_year": "chưa xác định năm",
        "year_word": "năm",
        "no_province": "chưa xác định địa phương",
        "no_prov": "chưa xác định địa phương ({reason})",
        "province_table": "{label}",
        "unknown_province": "Chưa xác định địa phương",
        "more_items": "… và {n} mục khác (xem {where}).",
        "chart": "Biểu đồ {n}. {label}",
        "chart_sources": "Nguồn số liệu từng năm (Phụ lục II): {cited}.",
        "province_chart": "Biểu đồ {n}. {label}: năm {year}, theo địa phương (số liệu và nguồn: "
        "các bảng dưới đây)",
        "duplicate": "{source} trùng với {original}",
        "more_facts": "(và {n} số liệu khác của ô này: xem facts.csv theo chỉ tiêu, năm, "
        "địa phương)",
        "more_plans": "… và {n} số liệu kế hoạch khác (xem comparison.xlsx, trang Kế hoạch, "
        "và facts.csv).",
        "more_sources": "… và {n} văn bản khác (xem documents.csv).",
        "province_note": "Mỗi bảng trình bày {n} chỉ tiêu có số liệu ở nhiều địa phương nhất, "
        "các năm như bảng ở mục II; mọi chỉ tiêu, mọi năm của từng địa phương: xem "
        "comparison.xlsx, trang Theo địa phương.",
        "years_note": "Các bảng trình bày {n} năm gần nhất ({span}); số liệu các năm "
        "{first}–{last}: xem comparison.xlsx.",
        "more_conferences": "Ngoài ra còn {n} văn bản khác, không trình bày chi tiết ở đây "
        "(xem documents.csv, facts.csv).",
        "doc_heading": "Văn bản {doc_id}",
        "doc_year": " (năm {year})",
        "region": "Quân khu {region}",
        "other_label": "“{phrase}”",
        "date": "ngày {date}",
        "day": "ngày",
        "month": "tháng",
        "year": "năm",
    },
    "en": {
        "subject": "Results of local defence and military work",
        "subject_years": ", {years}",
        "unknown": "unknown",
        "coverage": "This briefing consolidates {n} documents{years}.",
        "coverage_years": " with figures for {years}",
        "provinces_all": "The documents come from {n} provinces: {names}.",
        "provinces_known": "{n} documents name their province ({names})",
        "provinces_known_one": "1 document names its province ({names})",
        "provinces_unknown": "{n} documents do not say which province they come from",
        "provinces_unknown_one": "1 document does not say which province it comes from",
        "coverage_one": "This briefing consolidates 1 document{years}.",
        "provinces_all_one": "The documents come from 1 province: {names}.",
        "quarantine_note_one": "1 file could not be used (see Annex III).",
        "provinces_none": "No document says which province it comes from.",
        "facts": "{n} figures were extracted: {r} results mapped to {i} indicators, "
        "{p} plan figures and {o} figures mapped to no indicator.",
        "quarantine_note": "{n} files could not be used (see Annex III).",
        "headline": "{label}: {series}{change}.",
        "up": "up",
        "down": "down",
        "same": "unchanged",
        "points": "points",
        "scope": "(From {n} documents; figures for {years})",
        "plan": "plan",
        "quarantined": "{source}: {reason}",
        "unknown_doc": "{doc_id}: {what}",
        "no_year": "year unknown",
        "year_word": "year",
        "no_province": "province unknown",
        "no_prov": "province unknown ({reason})",
        "province_table": "{label}",
        "unknown_province": "Province unknown",
        "more_items": "… and {n} more (see {where}).",
        "chart": "Chart {n}. {label}",
        "chart_sources": "Source of each year's figure (Annex II): {cited}.",
        "province_chart": "Chart {n}. {label}: {year}, by province (figures and sources: the "
        "tables below)",
        "duplicate": "{source} duplicates {original}",
        "more_facts": "(and {n} more figures of this cell: see facts.csv by indicator, year, "
        "province)",
        "more_plans": "… and {n} more plan figures (see comparison.xlsx, sheet Plans, and "
        "facts.csv).",
        "more_sources": "… and {n} more documents (see documents.csv).",
        "province_note": "Each table shows the {n} indicators with figures in the most "
        "provinces, for the years of the table in section II; every indicator and year of each "
        "province: see comparison.xlsx, sheet By province.",
        "years_note": "The tables show the latest {n} years ({span}); for {first}–{last} "
        "see comparison.xlsx.",
        "more_conferences": "{n} more documents are not detailed here "
        "(see documents.csv, facts.csv).",
        "doc_heading": "Document {doc_id}",
        "doc_year": " ({year})",
        "region": "Military Region {region}",
        "other_label": "“{phrase}”",
        "date": "{date}",
        "day": "",
        "month": "",
        "year": "",
    },
}

POINT_LETTERS = "abcdđeghiklmnopqrstuvxy"

EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


#: The Vietnamese alphabet: "ă", "â" come after "a", "đ" after "d", "ơ" after "ô" …
VI_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_VI_MODIFIERS = {"\u0306", "\u0302", "\u031b"}  # breve, circumflex, horn: part of the letter


def vi_sort_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sort key in Vietnamese dictionary order: letters first, tone marks break ties.

    Code-point order puts "Bắc Kạn" after "Bình Thuận"; Vietnamese puts "ă" right after "a":
    ``sorted(["Bình Thuận", "Bắc Kạn", "Bà Rịa"], key=vi_sort_key)`` gives
    ["Bà Rịa", "Bắc Kạn", "Bình Thuận"].
    """
    letters: list[int] = []
    tones: list[int] = []
    for char in text.lower():
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize(
            "NFC", parts[0] + "".join(c for c in parts[1:] if c in _VI_MODIFIERS)
        )
        tone = "".join(c for c in parts[1:] if c not in _VI_MODIFIERS)
        letters.append(VI_ALPHABET.index(base) if base in VI_ALPHABET else 100 + ord(base))
        tones.append(sum(ord(c) for c in tone))
    return tuple(letters), tuple(tones)


def _s(value: Any) -> str:
    """A text cell as str: "" for None/NaN (frames read back from CSV hold NaN for "")."""
    if type(value) is str:  # most cells: tens of thousands a briefing
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def _num(value: Any) -> float | None:
    """A number cell as float, None when missing."""
    if type(value) is float:
        return None if math.isnan(value) else value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


@cache
def units_en() -> dict[str, str]:
    """English names of the catalog units (``report_templates/glossary_en.yaml``)."""
    raw = yaml.safe_load((TEMPLATES_DIR / "glossary_en.yaml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in (raw.get("units") or {}).items()}


def unit_label(unit: str, lang: str) -> str:
    """The unit as the briefing prints it: Vietnamese as written; English from the glossary."""
    return units_en().get(unit, unit) if lang == "en" else unit


# --- numbers -------------------------------------------------------------------------------


def format_number(value: float | None, decimals: int = 2, lang: str = "vi") -> str:
    """A number in the briefing's format, without trailing zeros.

    Vietnamese writes "." for thousands and "," for decimals; English the other way round.

    >>> format_number(3340), format_number(1.66), format_number(21000.5, lang="en")
    ('3.340', '1,66', '21,000.5')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:,.{decimals}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if whole in {"-0", "-"}:
        whole = "0"
    if lang == "en":
        return f"{whole}.{frac}" if frac else whole
    whole = whole.replace(",", ".")
    return f"{whole},{frac}" if frac else whole


def format_money(value: float, lang: str = "vi") -> str:
    """Money with its scale word: 200000000 -> "200 triệu", 11400000000 -> "11,4 tỷ"."""
    words = ("tỷ", "triệu") if lang == "vi" else ("billion", "million")
    for scale, word in zip((1e9, 1e6), words, strict=True):
        if abs(value) >= scale:
            return f"{format_number(value / scale, lang=lang)} {word}"
    return format_number(value, lang=lang)


def format_value(
    value: float,
    unit: str,
    qualifier: str = "",
    with_unit: bool = False,
    lang: str = "vi",
    value_max: float | None = None,
) -> str:
    """A figure as the briefing prints it: "> 21.000", "~ 200 triệu", "1,66%", "25–30%".

    Args:
        value: the figure (scaled: "200 triệu" is 200000000).
        unit: its unit; "%" and "đồng" have their own forms.
        qualifier: the word before it in the source (hơn, gần, …), shown as a sign.
        with_unit: append the unit (tables print it in their own column).
        lang: "vi" or "en".
        value_max: the upper end of a range ("25-30%"), if any.
    """
    sign = QUALIFIER_SIGNS.get(_s(qualifier), "")
    top = _num(value_max)

    def one(v: float) -> str:
        return format_money(v, lang) if unit == "đồng" else format_number(v, lang=lang)

    number = one(value) + (f"–{one(top)}" if top is not None and top != value else "")
    if unit == "%":
        return f"{sign}{number}%"
    name = unit_label(unit, lang)
    return f"{sign}{number}" + (f" {name}" if with_unit and name else "")


def change_parts(previous: float, current: float, unit: str, lang: str = "vi") -> tuple[str, str]:
    """Change against the previous year: ("↑ 3.185", "+2.054,8%").

    A percentage changes by points ("↑ 0,11 điểm %") and gets no relative change; a change from
    zero gets none either.
    """
    delta = current - previous
    arrow = "↑" if delta > 0 else ("↓" if delta < 0 else "→")
    if unit == "%":
        return f"{arrow} {format_number(abs(delta), lang=lang)} {TEXT[lang]['points']}", ""
    amount = (
        format_money(abs(delta), lang) if unit == "đồng" else format_number(abs(delta), lang=lang)
    )
    pct = ""
    if previous:
        sign = "+" if delta > 0 else ("-" if delta < 0 else "±")
        pct = f"{sign}{format_number(abs(delta) / abs(previous) * 100, 1, lang)}%"
    return f"{arrow} {amount}", pct


def format_change(previous: float, current: float, unit: str, lang: str = "vi") -> str:
    """Change with its arrow and relative change: "↑ 3.185 (+2.054,8%)"."""
    change, pct = change_parts(previous, current, unit, lang)
    return f"{change} ({pct})" if pct else change


# --- the issuing office ----------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """The issuing office and signer, from the ``[organisation]`` table of the config file.

    Every field has a default so that a briefing can be built without a config; the defaults
    leave blanks for a staff officer to fill by hand, as drafts do.

    Attributes:
        parent_body: the body above the issuer, printed above it, not bold ("QUÂN KHU 4").
        issuing_body: the issuer, upper case, bold ("BỘ CHỈ HUY QUÂN SỰ TỈNH NGHỆ AN").
        number: number and symbol after "Số:" ("15/BC-BCH"); blanks keep room to write it.
        place: the place of the place-and-date line ("Nghệ An").
        issue_date: ISO date of the briefing; empty leaves "ngày … tháng … năm …" to fill.
        subject: the summary line under "BÁO CÁO TỔNG HỢP"; empty: generated from the years.
        signer_authority: "TM. …"/"KT. …" line of the signature block, or "".
        signer_title: the signer's post ("CHỈ HUY TRƯỞNG").
        signer_rank: military rank before the name ("Đại tá"), or "".
        signer_name: the signer's name, or "" (left blank for signing).
        recipients: "Nơi nhận" entries, each printed after "- "; the last is "Lưu: VT, …".
    """

    parent_body: str = "QUÂN KHU …"
    issuing_body: str = "BỘ CHỈ HUY QUÂN SỰ TỈNH …"
    number: str = "      /BC-BCH"
    place: str = "……"
    issue_date: str = ""
    subject: str = ""
    signer_authority: str = ""
    signer_title: str = "CHỈ HUY TRƯỞNG"
    signer_rank: str = ""
    signer_name: str = ""
    recipients: tuple[str, ...] = ("Như trên;", "Lưu: VT, TM.")


def place_date(org: Organisation, lang: str = "vi") -> str:
    """The place-and-date line.

    Decree 30 writes a leading zero for days below 10 and for months 1 and 2:
    "Nghệ An, ngày 05 tháng 01 năm 2024", "…, ngày 27 tháng 11 năm 2020".
    """
    if not org.issue_date:
        return f"{org.place}, ngày … tháng … năm …" if lang == "vi" else f"{org.place}, … 20…"
    d = datetime.fromisoformat(org.issue_date)
    if lang == "en":
        return f"{org.place}, {d.day} {EN_MONTHS[d.month - 1]} {d.year}"
    month = f"{d.month:02d}" if d.month <= 2 else str(d.month)
    return f"{org.place}, ngày {d.day:02d} tháng {month} năm {d.year}"


def fact_value(f: Any, lang: str) -> str:
    """A fact with its unit as the text reads: "~ 200 triệu đồng", "319/411 xã", "25–30%"."""
    unit = _s(f["unit"])
    value = format_value(f["value"], unit, _s(f["qualifier"]), False, lang, _num(f["value_max"]))
    denominator = _num(f["denominator"])
    if denominator is not None:
        bare = value.removesuffix("%")
        value = f"{bare}/{format_number(denominator, lang=lang)}" + ("%" if bare != value else "")
    return value + (f" {unit_label(unit, lang)}" if unit and unit != "%" else "")


def _fmt_date(iso: str, lang: str) -> str:
    """A conference date: "29/12/2017" (vi), "29 December 2017" (en); unknown when empty."""
    if not iso:
        return TEXT[lang]["unknown"]
    d = datetime.fromisoformat(iso)
    if lang == "en":
        return f"{d.day} {EN_MONTHS[d.month - 1]} {d.year}"
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _year_span(years: list[int]) -> str:
    if not years:
        return "—"
    return str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"


def _ind_label(ind: Indicator | None, fallback: str, lang: str) -> str:
    if ind is None:
        return TEXT[lang]["other_label"].format(phrase=fallback) if fallback else "—"
    return ind.label_vi if lang == "vi" else ind.label_en


def _catalog_order() -> dict[str, int]:
    return {k: i for i, k in enumerate(indicator_by_key())}


# --- context ---------------------------------------------------------------------------------


#: Facts quoted in the sources annex for one figure; the rest are counted, to be found in
#: facts.csv by indicator, year and province, so that a figure summing thousands of reports
#: keeps a short entry.
QUOTED_PER_FIGURE = CITED_IDS
#: Sentences quoted for a figure of the province annex: its first (by conference date), the
#: others counted. 65 provinces × 4 indicators × 6 years quoting three sentences each made the
#: sources annex 440 pages long at 100,000 reports.
QUOTED_PER_PROVINCE_FIGURE = 1

#: Conference sections in the briefing; beyond it, the latest ones, and a line that says how
#: many more documents are in documents.csv and facts.csv.
MAX_CONFERENCES = 50

#: Year columns of the briefing's tables (the latest); every year is in comparison.xlsx.
MAX_TABLE_YEARS = 6
#: Lines of each list of the data-quality annex; the rest are counted and left to the CSVs.
MAX_QUALITY_ITEMS = 100
#: Fact rows of the workbook's fact sheets (Excel stops at 1,048,576 rows; facts.csv has all).
MAX_XLSX_FACT_ROWS = 10_000
#: Rows of the plan-targets table (the latest plan years); the rest are in the workbook.
MAX_PLAN_ROWS = 100
#: Documents named in the source list when there are more: those the figures cite.
MAX_SOURCES = 300
#: Indicators of each province's table in the province annex: those with figures in the most
#: (province, year) cells of the years shown; every indicator is in comparison.xlsx.
PROVINCE_TOP_INDICATORS = 4


def _records(
    db: BriefingDB, sql: str, frames: dict[str, pd.DataFrame] | None = None
) -> list[dict[str, Any]]:
    """Rows of a query as dicts (NULL as None), with small frames registered for it."""
    for name, frame in (frames or {}).items():
        db.con.register(name, frame)
    try:
        cur = db.con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        for name in frames or {}:
            db.con.unregister(name)


def _texts(column: pd.Series) -> list[str]:
    """``column.map(_s)`` as a list: a pandas text column is read whole (``tolist``), not
    element by element (10,000 documents: ~50 ms each time)."""
    return [_s(v) for v in column.tolist()]


def _frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` (the same plain Python values) without pandas' work per
    element: one ``tolist()`` per column, then a dict per row. ``to_dict`` boxed each of the
    25,000 cells of the per-province table one by one."""
    columns = [str(c) for c in frame.columns]
    values = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _by_indicator(comp: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The rows of a comparison frame per indicator (``_frame_records``), each list by year,
    the indicators in sorted order and without a missing one, as ``groupby`` gives them."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in _frame_records(comp):
        if not pd.isna(r["indicator"]):  # as groupby, which drops a missing key
            groups.setdefault(r["indicator"], []).append(r)
    return {k: sorted(groups[k], key=lambda r: r["year"]) for k in sorted(groups)}


def _ids_frame(ids: Any, column: str = "fact_id") -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series([str(i) for i in ids], dtype=object)})


def _scalar(db: BriefingDB, sql: str) -> int:
    rows = db.con.execute(sql).fetchall()  # fetchall: DuckDB wants a result finished
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _desc(order: str) -> str:
    """ "doc_id, start" -> "doc_id DESC, start DESC"."""
    return ", ".join(f"{c.strip()} DESC" for c in order.split(","))


class _Sources:
    """Numbers the figures for the sources annex: one number per figure (a table cell or a
    single fact), given at its first citation; the entry quotes the sentences behind it.

    A figure is known by its first ``QUOTED_PER_FIGURE`` fact ids and its count of facts (two
    figures with the same first facts and as many facts have the same facts); it quotes as
    many sentences as its most generous citation asked for. The facts themselves are read
    from the store once, at the end, for the quoted ids only.
    """

    def __init__(self, db: BriefingDB, lang: str) -> None:
        self.db = db
        self.lang = lang
        self.keys: list[tuple[tuple[str, ...], int]] = []
        self.number: dict[tuple[tuple[str, ...], int], int] = {}
        self.quoted: dict[tuple[tuple[str, ...], int], int] = {}

    def cite(
        self, fact_ids: list[str], total: int | None = None, quote: int = QUOTED_PER_FIGURE
    ) -> str:
        """ "[3]": the annex number of the figure made of these facts (``total`` of them,
        ``len(fact_ids)`` if not given), numbering it if new; its entry quotes ``quote``."""
        ids = tuple(str(f) for f in fact_ids)
        key = (ids[:QUOTED_PER_FIGURE], len(ids) if total is None else int(total))
        if key not in self.number:
            self.number[key] = len(self.keys) + 1
            self.keys.append(key)
        self.quoted[key] = max(self.quoted.get(key, 0), min(max(quote, 1), QUOTED_PER_FIGURE))
        return f"[{self.number[key]}]"

    def rows(self) -> list[dict[str, Any]]:
        """The annex entries, in number order."""
        needed = sorted({f for key in self.keys for f in key[0][: self.quoted[key]]})
        facts = {
            str(r["fact_id"]): r
            for r in _records(
                self.db,
                "SELECT * FROM b_facts WHERE fact_id IN (SELECT fact_id FROM _cited)",
                {"_cited": _ids_frame(needed)},
            )
        }
        docs = {str(r["doc_id"]) for r in facts.values()}
        source = {
            str(r["doc_id"]): _s(r["source"])
            for r in _records(
                self.db,
                "SELECT doc_id, any_value(source) AS source FROM b_docs "
                "WHERE doc_id IN (SELECT doc_id FROM _docs) GROUP BY doc_id",
                {"_docs": _ids_frame(docs, "doc_id")},
            )
        }
        return [
            self._row([facts[f] for f in key[0][: self.quoted[key]]], key[1], n, source)
            for n, key in enumerate(self.keys, start=1)
        ]

    def _row(
        self, shown: list[dict[str, Any]], total: int, n: int, source: dict[str, str]
    ) -> dict[str, Any]:
        t = TEXT[self.lang]
        first = shown[0]
        more = total - len(shown)
        ind = indicator_by_key().get(_s(first["indicator"]))
        docs = list(dict.fromkeys(_s(f["doc_id"]) for f in shown))
        sentences = list(dict.fromkeys(_s(f["sentence"]) for f in shown))
        tail = " " + t["more_facts"].format(n=format_number(more, lang=self.lang)) if more else ""
        return {
            "n": n,
            "fact_id": _s(first["fact_id"]),
            "fact_ids": [_s(f["fact_id"]) for f in shown],
            "count": total,
            "doc": "; ".join(docs) + ("; …" if more else ""),
            "source": "; ".join(source.get(d, "") for d in docs),
            "label": _ind_label(ind, _s(first["noun_phrase"]) or _s(first["label"]), self.lang),
            "kind": t["plan"] if first["kind"] == "plan" else "",
            "value": "; ".join(fact_value(f, self.lang) for f in shown) + ("; …" if more else ""),
            "sentence": " ".join(f"“{x}”" for x in sentences) + tail,
        }


def build_context(
    data: BriefingInput,
    org: Organisation,
    lang: str = "vi",
    charts: list[dict[str, Any]] | None = None,
    max_conferences: int | None = MAX_CONFERENCES,
    db: BriefingDB | None = None,
    provinces: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The template context: every value the templates ask for, in display form.

    Figures carry "[n]", their number in the sources annex, which quotes the document and
    the sentence each came from. Facts are read through SQL (``open_briefing``): only those
    the briefing prints, whatever the number of reports.

    Args:
        data: the frames of the aggregate stage.
        org: the issuing office (header block, signature, recipients).
        lang: "vi" or "en".
        charts: chart entries (filled by ``render_docx``; [] here).
        max_conferences: conference sections to write (the latest); None for all.
        db: an open ``open_briefing`` view of ``data`` (opened here when None).
        provinces: ``province_sql`` of ``data``, if already computed.

    Raises:
        ValueError: for a language other than "vi" or "en".
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGS)}")
    if db is None:
        with open_briefing(data) as own:
            return build_context(data, org, lang, charts, max_conferences, own, provinces)
    t = TEXT[lang]
    docs = data.documents
    comp = data.comparison
    all_years, years = table_years(comp)
    doc_years = sorted(int(y) for y in docs["year"].dropna().unique())
    src = _Sources(db, lang)

    table = comparison_rows(comp, years, lang, src.cite)
    # every figure printed outside the table (a headline's first year, a chart's bars of the
    # years before the table's) is cited too
    heads = headlines(comp, lang, src.cite)
    chart_notes = [chart_sources(comp, key, lang, src.cite) for key in chart_keys(comp)]
    province_tables = _province_tables(
        data, province_sql(db) if provinces is None else provinces, years, lang, src.cite
    )
    plans, plans_total = _plans(data, db, lang, src.cite)
    conferences = _conferences(data, db, lang, src.cite, max_conferences)
    trace = src.rows()
    sources, sources_more = _source_list(docs, trace, lang)
    span = _year_span(doc_years)
    subject = org.subject or t["subject"] + (
        t["subject_years"].format(years=span) if doc_years else ""
    )
    return {
        "org": {
            "parent_body": org.parent_body,
            "issuing_body": org.issuing_body,
            "number": org.number,
            "place_date": place_date(org, lang),
            "signer_authority": org.signer_authority,
            "signer_title": org.signer_title,
            "signer_rank": org.signer_rank,
            "signer_name": org.signer_name,
            "recipients": list(org.recipients),
        },
        "title": subject,
        "subject": subject,
        "scope": t["scope"].format(
            n=format_number(len(docs), lang=lang),
            years=", ".join(map(str, doc_years)) if doc_years else t["unknown"],
        ),
        "summary": summary_sentences(data, lang, fact_counts(db)),
        "headlines": heads,
        "years": [str(y) for y in years],
        "years_note": t["years_note"].format(
            n=len(years), span=_year_span(years), first=all_years[0], last=years[0] - 1
        )
        if len(all_years) > len(years)
        else "",
        "table": table,
        "province_tables": province_tables,
        "province_note": t["province_note"].format(n=PROVINCE_TOP_INDICATORS)
        if province_tables
        else "",
        "plans": plans,
        "plans_more": t["more_plans"].format(n=format_number(plans_total - len(plans), lang=lang))
        if plans_total > len(plans)
        else "",
        "charts": charts or [],
        "chart_notes": chart_notes,
        "province_charts": [],
        "conferences": conferences,
        "conferences_more": TEXT[lang]["more_conferences"].format(
            n=format_number(len(docs) - len(conferences), lang=lang)
        )
        if len(docs) > len(conferences)
        else "",
        "trace": trace,
        "sources": sources,
        "sources_more": sources_more,
        "quality": _quality(data, db, lang),
    }


def table_years(comp: pd.DataFrame) -> tuple[list[int], list[int]]:
    """Every year of the comparison, and the latest ``MAX_TABLE_YEARS`` the tables show."""
    all_years = sorted(int(y) for y in comp["year"].unique()) if not comp.empty else []
    return all_years, all_years[-MAX_TABLE_YEARS:]


def _no_citation(*args: Any, **kwargs: Any) -> str:
    return ""


def province_annex_charts(
    data: BriefingInput, provinces: pd.DataFrame, lang: str
) -> list[tuple[str, bytes]]:
    """``province_chart_pngs`` of the province annex that ``build_context`` lays out, without
    waiting for it: which tables and rows the annex has does not depend on the numbers of
    the sources annex, so the render stage draws these charts while the context is built."""
    years = table_years(data.comparison)[1]
    tables = _province_tables(data, provinces, years, lang, _no_citation)
    return province_chart_pngs(tables, provinces, years, lang)


def _source_list(
    docs: pd.DataFrame, trace: list[dict[str, Any]], lang: str
) -> tuple[list[dict[str, Any]], str]:
    """The source documents, numbered: file, title, year, province, conference date.

    All of them when they are few; beyond ``MAX_SOURCES``, those the figures of the briefing
    quote (the first ``MAX_SOURCES``), and a line that says how many more are in
    documents.csv.
    """
    t = TEXT[lang]
    total = len(docs)
    if total > MAX_SOURCES:
        cited = {d for row in trace for d in row["doc"].split("; ") if d != "…"}
        docs = docs[docs["doc_id"].astype(str).isin(cited)].head(MAX_SOURCES)
    out = []
    for i, d in enumerate(docs.to_dict("records"), start=1):
        year = "" if _num(d["year"]) is None else str(int(d["year"]))
        parts = [
            _s(d["title"]),
            f"{t['year_word']} {year}" if year else t["no_year"],
            _s(d["province"]) or t["no_province"],
        ]
        if _s(d["conference_date"]):
            parts.append(_fmt_date(_s(d["conference_date"]), lang))
        out.append(
            {
                "n": i,
                "doc_id": _s(d["doc_id"]),
                "source": _s(d["source"]),
                "title": _s(d["title"]) or "—",
                "desc": "; ".join(p for p in parts if p),
            }
        )
    more = (
        t["more_sources"].format(n=format_number(total - len(out), lang=lang))
        if total > len(out)
        else ""
    )
    return out, more


def comparison_rows(
    comp: pd.DataFrame, years: list[int], lang: str, cite: Callable[..., str]
) -> list[dict[str, Any]]:
    """Rows of a comparison table (indicators × years), in catalog order.

    Each row: the label, the unit, a cell per year ("3.340 [7]" or "—"), and the change of
    the latest year against the previous year with figures ("2023/2017", "↑ 3.185",
    "+2.054,8%").
    """
    by_key: dict[str, dict[int, dict[str, Any]]] = {}
    for r in _frame_records(comp):
        by_key.setdefault(str(r["indicator"]), {})[int(r["year"])] = r
    order = _catalog_order()
    return [
        _table_row(key, by_key[key], years, lang, cite)
        for key in sorted(by_key, key=lambda k: order.get(k, 10**6))
    ]


def _table_row(
    key: str,
    by_year: dict[int, dict[str, Any]],
    years: list[int],
    lang: str,
    cite: Callable[..., str],
) -> dict[str, Any]:
    """One row of a comparison table from its figures by year (see ``comparison_rows``)."""
    known = sorted(by_year)
    first = by_year[known[0]]
    unit = _s(first["unit"])
    cells = [
        f"{format_value(r['value'], unit, _s(r['qualifier']), lang=lang)} "
        f"{cite(list(r['fact_ids']), r.get('n_facts'))}"
        if (r := by_year.get(y)) is not None
        else "—"
        for y in years
    ]
    compared, change, pct = "—", "—", "—"
    if len(known) >= 2:
        a, b = by_year[known[-2]], by_year[known[-1]]
        compared = f"{known[-1]}/{known[-2]}"
        change, pct = change_parts(float(a["value"]), float(b["value"]), unit, lang)
        pct = pct or "—"
    return {
        "key": key,
        "label": _s(first["label_vi"] if lang == "vi" else first["label_en"]),
        "unit": unit_label(unit, lang),
        "cells": cells,
        "compared": compared,
        "change": change,
        "pct": pct,
    }


def _say(lang: str, key: str, n: int, **kw: Any) -> str:
    """``TEXT[lang][key]`` for ``n`` things; English has a "_one" form for a single one."""
    t = TEXT[lang]
    text = t[f"{key}_one"] if n == 1 and f"{key}_one" in t else t[key]
    return text.format(n=format_number(n, lang=lang), **kw)  # "100.000 văn bản"


def fact_counts(db: BriefingDB) -> dict[str, int]:
    """Facts in all, results on a catalog indicator (and how many indicators), plans, and
    results on no indicator, counted where the facts are."""
    row = db.con.execute(
        "SELECT count(*), "
        "count(*) FILTER (WHERE kind = 'result' AND indicator <> 'other'), "
        "count(DISTINCT indicator) FILTER (WHERE kind = 'result' AND indicator <> 'other'), "
        "count(*) FILTER (WHERE kind = 'plan'), "
        "count(*) FILTER (WHERE kind = 'result' AND indicator = 'other'), "
        "count(*) FILTER (WHERE indicator <> 'other') FROM b_facts"
    ).fetchall()[0]
    keys = ("n", "results", "indicators", "plans", "other", "on_indicator")
    return dict(zip(keys, (int(v or 0) for v in row), strict=True))


def summary_sentences(
    data: BriefingInput, lang: str, counts: dict[str, int] | None = None
) -> list[str]:
    """Coverage sentences: documents, years, provinces, figures, files left out."""
    if counts is None:
        with open_briefing(data) as db:
            counts = fact_counts(db)
    t = TEXT[lang]
    docs = data.documents
    years = sorted(int(y) for y in docs["year"].dropna().unique())
    provinces = _texts(docs["province"])
    known = sorted({p for p in provinces if p}, key=vi_sort_key)
    n_unknown = provinces.count("")
    span = t["coverage_years"].format(years=", ".join(map(str, years))) if years else ""
    out = [_say(lang, "coverage", len(docs), years=span)]
    if not known:
        out.append(t["provinces_none"])
    elif n_unknown:
        named = _say(lang, "provinces_known", len(docs) - n_unknown, names=", ".join(known))
        out.append(f"{named}; {_say(lang, 'provinces_unknown', n_unknown)}.")
    else:
        out.append(_say(lang, "provinces_all", len(known), names=", ".join(known)))
    if counts["n"]:
        out.append(
            t["facts"].format(
                **{
                    k: format_number(counts[name], lang=lang)
                    for k, name in (
                        ("n", "n"),
                        ("r", "results"),
                        ("i", "indicators"),
                        ("p", "plans"),
                        ("o", "other"),
                    )
                }
            )
        )
    if len(data.quarantine):
        out.append(_say(lang, "quarantine_note", len(data.quarantine)))
    return out


def headlines(comp: pd.DataFrame, lang: str, cite: Callable[..., str] | None = None) -> list[str]:
    """One sentence per indicator with figures in two or more years, in catalog order:
    "Mô hình "Dân vận khéo" xây dựng mới: 155 (2017) → 3.340 (2023), tăng 3.185 (+2.054,8%)."

    With ``cite``, each figure carries its number in the sources annex: "155 (2017) [3]".
    """
    t = TEXT[lang]
    out = []
    order = _catalog_order()
    groups = _by_indicator(comp)
    for key in sorted(groups, key=lambda k: order.get(k, 10**6)):
        group = groups[key]  # by year
        if len({r["year"] for r in group if not pd.isna(r["year"])}) < 2:
            continue
        first = group[0]
        unit = _s(first["unit"])
        points = [
            f"{format_value(r['value'], unit, _s(r['qualifier']), lang=lang)} ({int(r['year'])})"
            + (f" {cite(list(r['fact_ids']), r.get('n_facts'))}" if cite else "")
            for r in group
        ]
        # a long series reads as its first year and its last two: "155 (2009) → … → 3.340 (2025)"
        series = " → ".join(points if len(points) <= 4 else [points[0], "…", *points[-2:]])
        a, b = float(group[-2]["value"]), float(group[-1]["value"])
        if a == b:
            change = f", {t['same']}"
        else:
            amount, pct = change_parts(a, b, unit, lang)
            word = t["up"] if b > a else t["down"]
            change = f", {word} {amount[2:]}" + (f" ({pct})" if pct else "")
        label = _s(first["label_vi"] if lang == "vi" else first["label_en"])
        out.append(t["headline"].format(label=label, series=series, change=change))
    return out


def top_indicators(long: pd.DataFrame, years: list[int], limit: int) -> list[str]:
    """The indicators with figures in the most (province, year) cells of ``years``, catalog
    order breaking ties; at most ``limit``, returned in catalog order."""
    shown = long[long["year"].isin(years) & (long["province"] != "")]
    if shown.empty:
        return []
    cells = shown.groupby("indicator").size()
    order = _catalog_order()
    best = sorted(cells.index, key=lambda k: (-int(cells[k]), order.get(k, 10**6)))[:limit]
    return sorted(best, key=lambda k: order.get(k, 10**6))


def _province_tables(
    data: BriefingInput,
    long: pd.DataFrame,
    years: list[int],
    lang: str,
    cite: Callable[..., str],
) -> list[dict[str, Any]]:
    """The province annex: one table per province (Vietnamese order, unknown last), rows the
    top indicators, columns the years of the main table; when the documents name two or more
    provinces. 63 provinces × 17 years × 30 indicators would be one unreadable table: the
    rest is in comparison.xlsx ("Theo địa phương")."""
    known = set(_texts(data.documents["province"])) - {""}
    if len(known) < 2 or long.empty:
        return []
    top = top_indicators(long, years, PROVINCE_TOP_INDICATORS)
    nested: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for r in _frame_records(long[long["indicator"].isin(top)]):
        nested.setdefault(r["province"], {}).setdefault(r["indicator"], {})[int(r["year"])] = r
    out: list[dict[str, Any]] = []
    for prov in sorted(nested, key=lambda p: (p == "", vi_sort_key(p))):
        rows = [
            _table_row(
                key, nested[prov][key], years, lang, partial(cite, quote=QUOTED_PER_PROVINCE_FIGURE)
            )
            for key in top
            if key in nested[prov] and any(y in nested[prov][key] for y in years)
        ]
        if not rows:
            continue  # no figure of a top indicator in the years shown
        name = prov or TEXT[lang]["unknown_province"]
        out.append(
            {
                "title": f"{len(out) + 1}. {name}",
                "unit": "",
                "years": [str(y) for y in years],
                "rows": rows,
            }
        )
    return out


def _plans(
    data: BriefingInput, db: BriefingDB, lang: str, cite: Callable[..., str]
) -> tuple[list[dict[str, Any]], int]:
    """Plan figures (targets for the next period), apart from the results: by plan year and
    document, the latest ``MAX_PLAN_ROWS`` of them; and how many there are in all."""
    catalog = indicator_by_key()
    year = "coalesce(CAST(d.plan_year AS VARCHAR), '—')"
    order = ", ".join(f"f.{c.strip()}" for c in db.order.split(","))
    picked = _records(
        db,
        f"""SELECT f.*, {year} AS _plan_year FROM b_facts f
            LEFT JOIN (SELECT doc_id, any_value(plan_year) AS plan_year FROM b_docs
                       GROUP BY doc_id) d ON d.doc_id = f.doc_id
            WHERE f.kind = 'plan'
            ORDER BY {year} DESC, f.doc_id DESC, {_desc(order)} LIMIT {MAX_PLAN_ROWS}""",
    )
    total = _scalar(db, "SELECT count(*) FROM b_facts WHERE kind = 'plan'")
    rows = []
    for f in reversed(picked):
        ind = catalog.get(_s(f["indicator"]))
        rows.append(
            {
                "doc": _s(f["doc_id"]),
                "year": _s(f["_plan_year"]),
                "label": _ind_label(ind, _s(f["noun_phrase"]) or _s(f["label"]), lang),
                "value": f"{fact_value(f, lang)} {cite([f['fact_id']])}",
            }
        )
    return [{"n": i, **r} for i, r in enumerate(rows, start=1)], total


def _conferences(
    data: BriefingInput,
    db: BriefingDB,
    lang: str,
    cite: Callable[..., str],
    limit: int | None = MAX_CONFERENCES,
) -> list[dict[str, Any]]:
    """One entry per document (a conference or review), by year and date; the latest
    ``limit`` when there are more. Their details and facts are read for them only."""
    t = TEXT[lang]
    catalog = indicator_by_key()
    docs = data.documents
    keys = pd.DataFrame(
        {
            "doc_id": docs["doc_id"].astype(str).to_numpy(),
            "_y": docs["year"].fillna(0).astype(int).to_numpy(),
            "_d": _texts(docs["conference_date"]),
        }
    ).sort_values(["_y", "_d", "doc_id"])
    shown_ids = keys["doc_id"].tolist()
    if limit is not None and len(shown_ids) > limit:
        shown_ids = shown_ids[len(shown_ids) - limit :]
    shown = pd.DataFrame(
        {"doc_id": pd.Series(shown_ids, dtype=object), "_pos": range(len(shown_ids))}
    )
    ordered = _records(
        db,
        "SELECT d.* FROM b_docs d JOIN _shown s ON s.doc_id = d.doc_id ORDER BY s._pos",
        {"_shown": shown},
    )
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for f in _records(
        db,
        f"SELECT * FROM b_facts WHERE doc_id IN (SELECT doc_id FROM _shown) ORDER BY {db.order}",
        {"_shown": shown},
    ):
        by_doc.setdefault(str(f["doc_id"]), []).append(f)
    out = []
    for i, d in enumerate(ordered, start=1):
        results: list[str] = []
        plans: list[str] = []
        for f in by_doc.get(str(d["doc_id"]), []):
            ind = catalog.get(_s(f["indicator"]))
            value = fact_value(f, lang)
            label = _ind_label(ind, _s(f["noun_phrase"]) or _s(f["label"]), lang)
            line = f"{label}: {value} {cite([f['fact_id']])}"
            (plans if f["kind"] == "plan" else results).append(line)
        year = "" if _num(d["year"]) is None else t["doc_year"].format(year=int(d["year"]))
        title = _s(d["title"]) or t["doc_heading"].format(doc_id=d["doc_id"])
        province = _s(d["province"]) or t["unknown"]
        # "4" from the text, 4.0 when read back from documents.csv
        region = _s(d.get("military_region")).removesuffix(".0")
        if region:
            province += f" ({t['region'].format(region=region)})"
        out.append(
            {
                "heading": f"{i}. {title}{year}",
                "doc_id": _s(d["doc_id"]),
                "date": _fmt_date(_s(d["conference_date"]), lang),
                "province": province,
                "organiser": _s(d.get("organiser")) or t["unknown"],
                "chair": _s(d["chair"]) or t["unknown"],
                "attendees": _s(d["attendees"]) or t["unknown"],
                "facts": results,
                "plans": plans,
                "directions": [s for s in _s(d.get("directions")).split("\n") if s],
            }
        )
    return out


def _quality(data: BriefingInput, db: BriefingDB, lang: str) -> dict[str, list[str]]:
    """The data-quality annex: what could not be used or placed, each with its reason."""
    t = TEXT[lang]
    docs = data.documents
    no_year = docs["year"].isna().to_numpy()
    no_prov = np.array([p == "" for p in _texts(docs["province"])], dtype=bool)
    unknown = []
    for d in docs[no_year | no_prov].head(MAX_QUALITY_ITEMS + 1).to_dict("records"):
        if _num(d["year"]) is None:
            unknown.append(t["unknown_doc"].format(doc_id=d["doc_id"], what=t["no_year"]))
        if not _s(d["province"]):
            unknown.append(
                t["unknown_doc"].format(
                    doc_id=d["doc_id"],
                    what=t["no_prov"].format(reason=_s(d["province_reason"]) or t["unknown"]),
                )
            )
    n_unknown = int(no_year.sum() + no_prov.sum())
    other = _records(
        db,
        f"SELECT * FROM b_facts WHERE indicator = 'other' ORDER BY {db.order} "
        f"LIMIT {MAX_QUALITY_ITEMS + 1}",
    )
    n_other = _scalar(db, "SELECT count(*) FROM b_facts WHERE indicator = 'other'")
    more = TEXT[lang]["more_items"]
    return {
        "quarantine": _capped(
            [
                t["quarantined"].format(source=r.source, reason=r.reason)
                for r in data.quarantine.head(MAX_QUALITY_ITEMS + 1).itertuples()
            ],
            len(data.quarantine),
            more.format(n="{n}", where="quarantine.csv"),
            lang,
        ),
        "duplicates": _capped(
            [
                t["duplicate"].format(source=a, original=b)
                for a, b, *_ in data.duplicates[: MAX_QUALITY_ITEMS + 1]
            ],
            len(data.duplicates),
            more.format(n="{n}", where="run.json"),
            lang,
        ),
        "unknown": _capped(unknown, n_unknown, more.format(n="{n}", where="documents.csv"), lang),
        "other": _capped(
            [
                f"{r['doc_id']}: {fact_value(r, lang)} — “{_s(r['noun_phrase']) or _s(r['label'])}”"
                for r in other
            ],
            n_other,
            more.format(n="{n}", where="facts.csv"),
            lang,
        ),
        "vague": _capped(
            [f"{doc_id}: “{phrase}”" for doc_id, phrase in data.vague[: MAX_QUALITY_ITEMS + 1]],
            len(data.vague),
            more.format(n="{n}", where="facts.csv"),
            lang,
        ),
    }


def _capped(items: list[str], total: int, more: str, lang: str = "vi") -> list[str]:
    """At most ``MAX_QUALITY_ITEMS`` lines, then one saying how many more and where they are:
    at 100,000 reports the annex would otherwise run to thousands of pages."""
    if total <= MAX_QUALITY_ITEMS:
        return items
    rest = format_number(total - MAX_QUALITY_ITEMS, lang=lang)
    return [*items[:MAX_QUALITY_ITEMS], more.format(n=rest)]


# --- charts ------------------------------------------------------------------------------------


def chart_keys(comp: pd.DataFrame, limit: int = 8) -> list[str]:
    """The indicators charted: figures in two or more years, most years first, then catalog
    order; at most ``limit``."""
    if comp.empty:
        return []
    counts = comp.groupby("indicator")["year"].nunique()
    order = _catalog_order()
    keys = sorted(
        (str(k) for k, n in counts.items() if n >= 2), key=lambda k: (-counts[k], order.get(k, 0))
    )
    return keys[:limit]


def chart_sources(comp: pd.DataFrame, key: str, lang: str, cite: Callable[..., str]) -> str:
    """The line under a chart that cites each bar: "Nguồn: 2009 [31]; 2010 [32]; …"."""
    rows = sorted(_frame_records(comp[comp["indicator"] == key]), key=lambda r: r["year"])
    cited = "; ".join(
        f"{int(r['year'])} {cite(list(r['fact_ids']), r.get('n_facts'))}" for r in rows
    )
    return TEXT[lang]["chart_sources"].format(cited=cited)


def chart_pngs(comp: pd.DataFrame, lang: str, limit: int = 8) -> list[tuple[str, bytes]]:
    """Bar charts (PNG) of the indicators of ``chart_keys``.

    Years are categories, so that a gap (2017, then 2020) is not drawn as a trend. Each bar is
    labelled with the figure as the table prints it; the context's ``chart_notes`` cite them.
    The PNGs carry no timestamp or software tag, so the same data give the same bytes.
    """
    out: list[tuple[str, bytes]] = []
    for i, key in enumerate(chart_keys(comp, limit), start=1):
        group = comp[comp["indicator"] == key].sort_values("year")
        first = group.iloc[0]
        unit = _s(first["unit"])
        values = [float(v) for v in group["value"].tolist()]
        labels = [
            format_value(v, unit, _s(q), lang=lang)
            for v, q in zip(values, group["qualifier"].tolist(), strict=True)
        ]
        png = bar_chart(
            [str(int(y)) for y in group["year"].tolist()],
            values,
            labels,
            unit_label(unit, lang),
            partial(format_value, unit=unit, lang=lang),  # "200 triệu", "100%"
        )
        label = _s(first["label_vi"] if lang == "vi" else first["label_en"])
        out.append((TEXT[lang]["chart"].format(n=i, label=label), png))
    return out


def province_chart_pngs(
    tables: list[dict[str, Any]], long: pd.DataFrame, years: list[int], lang: str
) -> list[tuple[str, bytes]]:
    """One chart per indicator of the province annex: its latest year shown, by province.

    Only figures the annex tables print (and cite), so that every number of a chart can be
    traced through the table; known provinces in the order of the tables.
    """
    if not tables or not years:
        return []
    keys = [row["key"] for t in tables for row in t["rows"]]
    order = _catalog_order()
    out: list[tuple[str, bytes]] = []
    unknown = TEXT[lang]["unknown_province"]
    for key in sorted(set(keys), key=lambda k: order.get(k, 10**6)):
        rows = long[(long["indicator"] == key) & long["year"].isin(years)]
        if rows.empty:
            continue
        year = int(rows["year"].max())
        latest = rows[rows["year"] == year]
        by_province = dict(zip(_texts(latest["province"]), _frame_records(latest), strict=True))
        # the documents of no known province add up across provinces: a bar of them would
        # dwarf every province's (their row stays in the annex tables)
        names = [t["title"].split(". ", 1)[1] for t in tables]
        shown = [(n, by_province[n]) for n in names if n != unknown and n in by_province]
        if len(shown) < 2:
            continue
        ind = indicator_by_key()[key]
        unit = ind.unit
        png = bar_chart(
            [n for n, _ in shown],
            [float(r["value"]) for _, r in shown],
            [format_value(r["value"], unit, _s(r["qualifier"]), lang=lang) for _, r in shown],
            unit_label(unit, lang),
            partial(format_value, unit=unit, lang=lang),
            horizontal=True,
        )
        label = ind.label_vi if lang == "vi" else ind.label_en
        caption = TEXT[lang]["province_chart"].format(n=len(out) + 1, label=label, year=year)
        out.append((caption, png))
    return out


@cache
def _font(size: int) -> Any:
    """DejaVu Sans (matplotlib's bundled copy: the same glyphs, so the same PNG bytes, on every
    machine; it has every Vietnamese letter)."""
    from importlib.util import find_spec

    from PIL import ImageFont

    spec = find_spec("matplotlib")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size)


def _nice_ticks(top: float) -> list[float]:
    """Round axis marks from 0 to ``top``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if top <= 0:
        return [0.0]
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [k * step for k in range(int(top // step) + 1)]


CHART_BAR = (31, 59, 115)  # #1f3b73, the navy of the headings
CHART_GRID = (222, 222, 222)
CHART_INK = (51, 51, 51)


def bar_chart(
    categories: list[str],
    values: list[float],
    labels: list[str],
    unit: str,
    tick: Callable[[float], str],
    horizontal: bool = False,
) -> bytes:
    """A bar chart as PNG bytes, drawn with Pillow: bars, the figure above (or after) each
    bar, light grid lines at round values, the unit on the value axis.

    Pillow draws one in a few milliseconds (matplotlib took a quarter of a second a chart,
    most of the CPU of a 10,000-report briefing); its PNG has no timestamp.
    """
    from PIL import Image, ImageDraw

    small = _font(15)
    n = len(values)
    top_value = max(values) if values and max(values) > 0 else 1.0
    if horizontal:
        name_w = max(int(small.getlength(c)) for c in categories) + 14
        left, right, top, bottom, row = min(name_w, 330), 150, 14, 34, 24
        width, height = 1100, top + bottom + row * n
        plot_w = width - left - right
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        scale = plot_w / top_value
        for t in _nice_ticks(top_value):
            x = left + t * scale
            draw.line([(x, top), (x, height - bottom)], fill=CHART_GRID)
            draw.text((x, height - bottom + 6), tick(t), font=small, fill=CHART_INK, anchor="mt")
        for k, (name, v, text) in enumerate(zip(categories, values, labels, strict=True)):
            y = top + k * row
            draw.rectangle([left, y + 4, left + max(v, 0) * scale, y + row - 4], fill=CHART_BAR)
            draw.text((left - 8, y + row / 2), name, font=small, fill=CHART_INK, anchor="rm")
            draw.text(
                (left + max(v, 0) * scale + 6, y + row / 2),
                text,
                font=small,
                fill=CHART_INK,
                anchor="lm",
            )
        draw.line([(left, top), (left, height - bottom)], fill=CHART_INK, width=2)
        draw.text((width - 8, height - 6), unit, font=small, fill=CHART_INK, anchor="rd")
    else:
        left, right, top, bottom = 120, 20, 34, 44
        width, height = 930, 390
        plot_w, plot_h = width - left - right, height - top - bottom
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        y_max = top_value * 1.18
        scale = plot_h / y_max
        base = height - bottom
        for t in _nice_ticks(y_max):
            level = base - t * scale
            draw.line([(left, level), (width - right, level)], fill=CHART_GRID)
            draw.text((left - 8, level), tick(t), font=small, fill=CHART_INK, anchor="rm")
        slot = plot_w / max(n, 1)
        # the figure labels shrink until the widest fits its bar's slot (17 years of 5 digits)
        fit = next(
            (f for f in map(_font, (16, 14, 12, 11)) if max(map(f.getlength, labels)) < slot - 4),
            _font(10),
        )
        for k, (name, v, text) in enumerate(zip(categories, values, labels, strict=True)):
            x = left + slot * (k + 0.5)
            half = slot * 0.55 / 2
            draw.rectangle([x - half, base - max(v, 0) * scale, x + half, base], fill=CHART_BAR)
            draw.text(
                (x, base - max(v, 0) * scale - 4),
                text,
                font=fit,
                fill=CHART_INK,
                anchor="md",
            )
            draw.text((x, base + 8), name, font=small, fill=CHART_INK, anchor="mt")
        draw.line([(left, base), (width - right, base)], fill=CHART_INK, width=2)
        draw.line([(left, top), (left, base)], fill=CHART_INK, width=2)
        if unit:
            box = Image.new("RGB", (int(small.getlength(unit)) + 4, 22), "white")
            ImageDraw.Draw(box).text((2, 2), unit, font=small, fill=CHART_INK)
            rotated = box.rotate(90, expand=True)
            image.paste(rotated, (6, top + max(0, (plot_h - rotated.height) // 2)))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


# --- docx --------------------------------------------------------------------------------------


class TemplateError(ValueError):
    """A template that cannot be filled; the message names what is wrong."""


def default_template(lang: str) -> Path:
    """The bundled template for a language."""
    return TEMPLATES_DIR / f"briefing_{lang}.docx"


def _fit_width(png: bytes, width_mm: float, height_mm: float) -> float:
    """The width (mm) at which a PNG fits ``width_mm`` × ``height_mm`` (its IHDR size)."""
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return min(width_mm, height_mm * w / h) if w and h else width_mm


#: A text node of WordprocessingML holding a tab, bell, line end or form feed.
_LISTING_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\f\n]")


def _has_listing_text(xml: str) -> bool:
    """``_LISTING_TEXT.search(xml)``, without a regex over the 9 MB of a large briefing's
    XML (~50 ms): each tab, bell, form feed or line end (a few, outside text, in a rendered
    template) is checked where it stands. It is in a text node when the last "<" before it
    opens a ``<w:t>`` or ``<w:t …>`` tag that closes before it (text and attributes hold no
    raw "<" or ">": both are escaped)."""
    for char in "\t\a\f\n":
        at = xml.find(char)
        while at != -1:
            lt = xml.rfind("<", 0, at)
            if (
                lt != -1
                and (xml.startswith("<w:t>", lt) or xml.startswith("<w:t ", lt))
                and xml.find(">", lt, at) != -1
            ):
                return True
            at = xml.find(char, at + 1)
    return False


#: A namespace declaration as lxml writes it (a prefix, double quotes), at " xmlns".
_NS_DECLARATION = re.compile(r' xmlns:([A-Za-z_][\w.\-]*)="([^"<>]*)"')


def _element_end(xml: str, lt: int) -> int:
    """The index just past the element whose start tag opens at ``lt`` (its matching end
    tag, found by counting the start and end tags of its name), -1 if it has none. For XML
    without comments, CDATA or processing instructions: there every "<" opens a tag."""
    gt = xml.find(">", lt)
    if gt == -1:
        return -1
    if xml[gt - 1] == "/":  # an empty element: <a:x …/>
        return gt + 1
    name = re.match(r"[^\s/>]+", xml[lt + 1 : gt + 1])
    if name is None:
        return -1
    opening, closing = "<" + name.group(0), "</" + name.group(0) + ">"
    depth, at = 1, gt + 1
    while True:
        close = xml.find(closing, at)
        if close == -1:
            return -1
        start = xml.find(opening, at, close)
        while start != -1:  # the start tags of the same name before that end tag
            if xml[start + len(opening)] in " \t\r\n/>" and xml[xml.find(">", start) - 1] != "/":
                depth += 1
            start = xml.find(opening, start + 1, close)
        depth -= 1
        at = close + len(closing)
        if depth == 0:
            return at


def _moved_namespaces(xml: str, root_ns: dict[str | None, str]) -> str | None:
    """A rendered body ``xml`` with the namespace declarations lxml strips when it moves the
    parsed body into the document (``map_tree``), so that parsing it in place in the
    document gives the same tree: a declaration whose URI an enclosing element (or the
    document element) already declares goes, the first one of a URI is kept.

    Only what lxml does without renaming is done here: None (the body is then moved as
    docxtpl moves it) for a default namespace, a URI declared under another prefix than
    the one already in scope, a prefix declared twice for different URIs along a path, or
    a comment, CDATA section or processing instruction in the body.

    >>> root = {"w": "urn:w", "r": "urn:r"}
    >>> _moved_namespaces('<w:body xmlns:w="urn:w"><a:x xmlns:a="urn:a"><a:y xmlns:a="urn:a" '
    ...                   'xmlns:r="urn:r"/></a:x></w:body>', root)
    '<w:body><a:x xmlns:a="urn:a"><a:y/></a:x></w:body>'
    """
    if "<!--" in xml or "<![CDATA[" in xml or "<?" in xml:
        return None
    first: dict[str, str | None] = {}
    for prefix, uri in root_ns.items():
        first.setdefault(uri, prefix)
    kept: list[tuple[int, int, str, str]] = []  # (content start, end, prefix, URI) in scope
    cuts: list[tuple[int, int]] = []
    at = xml.find("xmlns")
    while at != -1:
        lt, gt = xml.rfind("<", 0, at), xml.rfind(">", 0, at)
        if lt > gt:  # in a tag (in text and attribute values, "<" and ">" are escaped)
            m = _NS_DECLARATION.match(xml, at - 1)
            if m is None:
                return None
            prefix, uri = m.group(1), m.group(2)
            enclosing = [k for k in kept if k[0] <= at < k[1]]
            if any(k[2] == prefix and k[3] != uri for k in enclosing):
                return None  # a prefix shadowed along the path: lxml's search is subtler
            if any(k[3] == uri for k in enclosing) or first.get(uri) == prefix:
                if any(k[3] == uri and k[2] != prefix for k in enclosing):
                    return None  # lxml would rename the prefix
                cuts.append((at - 1, m.end()))
            elif uri in first or prefix in root_ns:
                return None  # a URI of the root under another prefix; a root prefix shadowed
            else:  # a new URI: kept, and in scope for the element's content
                end = _element_end(xml, lt)
                if end == -1:
                    return None
                kept.append((xml.find(">", at) + 1, end, prefix, uri))
        at = xml.find("xmlns", at + 5)
    parts, start = [], 0
    for a, b in cuts:
        parts.append(xml[start:a])
        start = b
    parts.append(xml[start:])
    return "".join(parts)


def _line_per_paragraph(xml: str) -> str:
    """docxtpl's "\n" before each paragraph (so that a template error names a line)."""
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


@cache
def _template_env() -> SandboxedEnvironment:
    """The jinja2 environment of every briefing: sandboxed, autoescaping, strict."""
    return SandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)


@lru_cache(maxsize=32)
def _patched(xml: str) -> str:
    """docxtpl's ``patch_xml`` of a template part (regexes over its XML: ~40 ms for the
    bundled template's body), once per template part and process."""
    from docxtpl import DocxTemplate

    return str(DocxTemplate.patch_xml(None, xml))


@lru_cache(maxsize=32)
def _compiled(env: jinja2.Environment, source: str) -> jinja2.Template:
    """A template part compiled by jinja2 (~50 ms for the bundled body), once per part."""
    return env.from_string(source)


def warm_template(template: Path) -> None:
    """Patch and compile the parts of ``template`` (``_patched``, ``_compiled``) ahead of
    ``render_docx``: the render stage calls it while it waits for the store's tables, so that
    the DOCX, last in line, starts at once. A template that cannot be read is left for
    ``render_docx`` to report."""
    try:
        tpl = _lean_template_class()(str(template))
        tpl.init_docx()
        parts = [tpl.get_xml()] + [
            tpl.get_part_xml(part)
            for uri in (tpl.HEADER_URI, tpl.FOOTER_URI)
            for _, part in tpl.get_headers_footers(uri)
        ]
        for xml in parts:
            _compiled(_template_env(), _line_per_paragraph(tpl.patch_xml(xml)))
    except Exception:  # a warm-up only: render_docx raises the TemplateError
        return


@cache
def _lean_template_class() -> type:
    """docxtpl's template, without the passes over the whole rendered XML that a briefing of
    thousands of table rows pays for nothing (a third of the DOCX time at 10,000 reports):

    - ``resolve_listing`` turns tabs, line and page breaks inside text into Word elements; it
      runs three regexes per paragraph, so it runs here only when a text node has such a
      character (then exactly as docxtpl does; an image's XML has line ends outside text),
      found without a regex over the whole XML (``_has_listing_text``);
    - ``fix_tables`` re-counts the grid columns of every table; ``fit_tables`` rebuilds the
      grid of every table whose columns a ``{%tc %}`` loop changed, so only the parse is kept,
      and it parses the body inside the document element (``_parse_whole``), so that
      ``map_tree`` has no tree to move from one document to another (~0.15 s at 10,000
      reports);
    - ``render_xml_part`` joins each paragraph back to the line before it with ``str.replace``
      where docxtpl calls ``re.sub`` with a group (a template expansion per paragraph);
    """
    from docx.oxml.ns import nsmap
    from docxtpl import DocxTemplate
    from jinja2 import Template
    from jinja2.exceptions import TemplateError as JinjaTemplateError
    from lxml import etree

    class LeanTemplate(DocxTemplate):  # type: ignore[misc]
        docx: Any  # python-docx's Document (docxtpl is untyped)
        _whole: Any = None  # the document element ``_parse_whole`` gave, if it did

        def patch_xml(self, src_xml: str) -> str:
            return _patched(src_xml)

        def resolve_listing(self, xml: str) -> str:
            if _has_listing_text(xml):
                return str(super().resolve_listing(xml))
            return xml

        def render_xml_part(
            self, src_xml: str, part: Any, context: dict[str, Any], jinja_env: Any = None
        ) -> str:
            # docxtpl's, but for the two replaces that undo its "\n<w:p" (equal to its
            # re.sub(r"\n<w:p([ >])", r"<w:p\1", ...): the two patterns cannot overlap)
            src_xml = _line_per_paragraph(src_xml)
            try:
                self.current_rendering_part = part
                template = _compiled(jinja_env, src_xml) if jinja_env else Template(src_xml)
                dst_xml = template.render(context)
            except JinjaTemplateError as exc:
                if getattr(exc, "lineno", None) is not None:
                    line_number = max(exc.lineno - 4, 0)  # type: ignore[attr-defined]
                    exc.docx_context = [  # type: ignore[attr-defined]
                        re.sub(r"<[^>]+>", "", x)
                        for x in src_xml.splitlines()[line_number : line_number + 7]
                    ]
                raise
            dst_xml = dst_xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
            dst_xml = (
                dst_xml.replace("{_{", "{{")
                .replace("}_}", "}}")
                .replace("{_%", "{%")
                .replace("%_}", "%}")
            )
            return self.resolve_listing(dst_xml)

        def fix_tables(self, xml: str) -> Any:
            whole = self._parse_whole(xml)
            if whole is not None:
                return whole
            return etree.fromstring(xml, parser=etree.XMLParser(recover=True))

        def _parse_whole(self, body_xml: str) -> Any:
            """The document element with the rendered body, parsed in one piece: what
            docxtpl's parse of the body then ``map_tree`` give (lxml walks each of the
            half a million nodes of a large briefing to move them into the document,
            ~0.15 s), as long as the namespaces it would strip are stripped here
            (``_moved_namespaces``). None when that cannot be sure (a namespace
            of another kind, a body not last in the document, an XML error to recover)."""
            from docx.oxml.parser import element_class_lookup

            root = self.docx.element
            body = root.body
            if body.getnext() is not None or body.tail or not root.prefix or not body.prefix:
                return None
            full = etree.tostring(root, encoding="unicode")
            start = full.find(f"<{body.prefix}:body")
            close = f"</{root.prefix}:{etree.QName(root).localname}>"
            stripped = _moved_namespaces(body_xml, root.nsmap)
            if start == -1 or not full.endswith(f"</{body.prefix}:body>{close}") or not stripped:
                return None
            parser = etree.XMLParser(recover=True)
            parser.set_element_class_lookup(element_class_lookup)
            whole = etree.fromstring(full[:start] + stripped + close, parser=parser)
            if parser.error_log.filter_from_errors():
                return None
            self._whole = whole
            return whole

        def fix_docpr_ids(self, tree: Any) -> None:
            # docxtpl's, by ``iter`` (its XPath "//wp:docPr": the same elements, in
            # document order), which also takes python-docx's elements of ``_parse_whole``
            for elt in tree.iter(f"{{{nsmap['wp']}}}docPr"):
                self.docx_ids_index += 1
                elt.attrib["id"] = str(self.docx_ids_index)

        def map_tree(self, tree: Any) -> None:
            if tree is not self._whole:
                super().map_tree(tree)
                return
            part = self.docx.part
            part._element = tree
            self.docx = part.document

    return LeanTemplate


def _package_bytes(document: Any) -> bytes:
    """The DOCX of a python-docx document, as ``stable_zip`` of its ``save`` gives it, written
    once: python-docx would compress every part (at the default level), then ``stable_zip``
    would read and compress them again. Parts in the order ``save`` writes them."""
    from docx.opc.pkgwriter import PackageWriter

    package = document.part.package
    for part in package.parts:
        part.before_marshal()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:

        class Writer:
            def write(self, uri: Any, blob: bytes) -> None:
                z.writestr(_stable_info(uri.membername), blob, compresslevel=1)

        writer: Any = Writer()  # the one method of python-docx's PhysPkgWriter it calls
        PackageWriter._write_content_types_stream(writer, package.parts)
        PackageWriter._write_pkg_rels(writer, package.rels)
        PackageWriter._write_parts(writer, package.parts)
    return out.getvalue()


def render_docx(
    template: Path,
    context: dict[str, Any],
    charts: list[tuple[str, bytes]] | None = None,
    province_charts: list[tuple[str, bytes]] | None = None,
) -> bytes:
    """Fill ``template`` with ``context``; return deterministic DOCX bytes.

    Tables wider than the widest page of the document (many years) are scaled to fit it.

    Raises:
        TemplateError: when the template is missing or not valid, or asks for a value the
            context lacks (the message names the value).
    """
    from docx.opc.exceptions import PackageNotFoundError
    from docx.shared import Mm
    from docxtpl import InlineImage

    if not template.is_file():
        raise TemplateError(f"template not found: {template}")
    try:
        tpl = _lean_template_class()(str(template))
        tpl.init_docx()
    except (zipfile.BadZipFile, KeyError, ValueError, PackageNotFoundError) as err:
        raise TemplateError(f"template {template} is not a Word document: {err}") from err
    context = dict(context)
    notes = list(context.get("chart_notes") or [])
    context["charts"] = [
        {
            "image": InlineImage(tpl, io.BytesIO(png), width=Mm(150)),
            "caption": caption,
            "note": notes[i] if i < len(notes) else "",
        }
        for i, (caption, png) in enumerate(charts or [])
    ]
    # a chart of 63 provinces is tall: as wide as fits the landscape page in 150 mm of height
    context["province_charts"] = [
        {
            "image": InlineImage(tpl, io.BytesIO(png), width=Mm(_fit_width(png, 220, 150))),
            "caption": caption,
        }
        for caption, png in (province_charts or [])
    ]
    env = _template_env()
    try:
        tpl.render(context, env, autoescape=True)
    except jinja2.UndefinedError as err:
        raise TemplateError(
            f"template {template.name} asks for a value the data do not provide: {err.message}"
        ) from err
    except jinja2.TemplateError as err:
        raise TemplateError(f"template {template.name} is not valid: {err}") from err
    fit_tables(tpl.docx)
    props = tpl.docx.core_properties
    props.created = props.modified = props.last_printed = FIXED_TIME
    props.revision = 1
    props.author = props.last_modified_by = "tonghop"
    props.title = str(context.get("title", ""))
    return _package_bytes(tpl.docx)


def fit_tables(document: Any) -> None:
    """Make each table's grid follow its cells, and scale tables wider than the page.

    A template's year column is repeated once per year ("{%tc for y in years %}"): the copies
    keep the cell width, but the table grid still has the template's columns, tag columns
    included, and LibreOffice lays the table out by the grid. The grid is rebuilt from the cell
    widths of the fullest row; a table wider than the widest text area of the document (many
    years) is scaled down to fit it.
    """
    from docx.oxml.ns import qn

    widest = max(s.page_width - s.left_margin - s.right_margin for s in document.sections)
    limit = int(widest / 635)  # EMU -> twips
    # the names once, not once a cell: the sources annex of a large briefing has 2,500 rows
    tr, tc, span, tcw, kind, w = (
        qn(n) for n in ("w:tr", "w:tc", "w:gridSpan", "w:tcW", "w:type", "w:w")
    )
    width_path, span_path = f"{qn('w:tcPr')}/{tcw}", f".//{span}"
    for table in document.tables:
        tbl = table._tbl
        widths: list[int] = []
        for row in tbl.iterchildren(tr):
            tcs = row.findall(tc)
            if len(tcs) <= len(widths) or any(c.find(span_path) is not None for c in tcs):
                continue
            found = [c.find(width_path) for c in tcs]
            if all(x is not None and x.get(kind) in (None, "dxa") for x in found):
                widths = [int(x.get(w)) for x in found]  # type: ignore[union-attr]
        if not widths:
            continue
        factor = min(1.0, limit / sum(widths))
        grid = tbl.tblGrid
        for col in list(grid):
            grid.remove(col)
        for width in widths:
            col = grid.makeelement(qn("w:gridCol"), {w: str(int(width * factor))})
            grid.append(col)
        if factor < 1.0:
            for cell_width in tbl.iter(tcw):
                if cell_width.get(kind) in (None, "dxa") and cell_width.get(w):
                    cell_width.set(w, str(int(int(cell_width.get(w)) * factor)))


def _stable_info(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed time and attributes."""
    fixed = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    fixed.compress_type = zipfile.ZIP_DEFLATED
    fixed.external_attr = 0o644 << 16
    return fixed


def stable_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps and attributes, so equal content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            # level 1: a third of the time of the default, the file ~15% larger
            dst.writestr(_stable_info(info.filename), src.read(info.filename), compresslevel=1)
    return out.getvalue()


# --- xlsx --------------------------------------------------------------------------------------

XLSX_TEXT = {
    "vi": {
        "comparison": "So sánh theo năm",
        "provinces": "Theo địa phương",
        "plans": "Kế hoạch",
        "sources": "Nguồn",
        "indicator": "Chỉ tiêu",
        "key": "Mã chỉ tiêu",
        "unit": "Đơn vị tính",
        "province": "Địa phương",
        "qualifiers": "Ghi chú (từ định lượng)",
        "compared": "Năm so sánh",
        "change": "Tăng/giảm",
        "pct": "Tỷ lệ tăng/giảm (%)",
        "n": "TT",
        "doc": "Văn bản",
        "year": "Năm",
        "value": "Số liệu",
        "qualifier": "Từ định lượng",
        "sentence": "Câu nguồn",
        "kind": "Loại",
        "plan_year": "Năm kế hoạch",
    },
    "en": {
        "comparison": "Yearly comparison",
        "provinces": "By province",
        "plans": "Plans",
        "sources": "Sources",
        "indicator": "Indicator",
        "key": "Indicator key",
        "unit": "Unit",
        "province": "Province",
        "qualifiers": "Notes (qualifiers)",
        "compared": "Years compared",
        "change": "Change",
        "pct": "Change (%)",
        "n": "No.",
        "doc": "Document",
        "year": "Year",
        "value": "Figure",
        "qualifier": "Qualifier",
        "sentence": "Source sentence",
        "kind": "Kind",
        "plan_year": "Plan year",
    },
}


def _wide_rows(long: pd.DataFrame, years: list[int], lang: str) -> list[list[Any]]:
    """Indicators × years with numeric cells, and the latest change, for a sheet."""
    rows = []
    order = _catalog_order()
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in _frame_records(long):  # rows in frame order within each indicator, as groupby
        if not pd.isna(r["indicator"]):
            groups.setdefault(r["indicator"], []).append(r)
    for key in sorted(sorted(groups), key=lambda k: order.get(k, 10**6)):
        group = groups[key]
        by_year = {int(r["year"]): r for r in group}
        first = group[0]
        known = sorted(by_year)
        notes = "; ".join(
            f"{y}: {_s(by_year[y]['qualifier'])}" for y in known if _s(by_year[y]["qualifier"])
        )
        compared: str | None = None
        change: float | None = None
        pct: float | None = None
        if len(known) >= 2:
            a, b = float(by_year[known[-2]]["value"]), float(by_year[known[-1]]["value"])
            compared, change = f"{known[-1]}/{known[-2]}", b - a
            pct = round((b - a) / abs(a) * 100, 2) if a and _s(first["unit"]) != "%" else None
        rows.append(
            [
                _s(first["label_vi"] if lang == "vi" else first["label_en"]),
                str(key),
                unit_label(_s(first["unit"]), lang),
                *[float(by_year[y]["value"]) if y in by_year else None for y in years],
                compared,
                change,
                pct,
                notes or None,
            ]
        )
    return rows


def comparison_xlsx(
    data: BriefingInput,
    lang: str = "vi",
    numbers: dict[str, int] | None = None,
    db: BriefingDB | None = None,
    provinces: pd.DataFrame | None = None,
) -> bytes:
    """The briefing's tables as a workbook for analysts: numbers stay numbers.

    Sheets: the yearly comparison (indicators × years, with the latest change), the same per
    province, the plan figures, and the facts with their source sentences, those the
    briefing quotes first with their number [n]. Fact sheets stop at ``MAX_XLSX_FACT_ROWS``
    with a row that says how many more facts.csv has. Workbook properties and zip entries
    carry fixed times, so the same data give the same bytes.
    """
    if db is None:
        with open_briefing(data) as own:
            return comparison_xlsx(data, lang, numbers, own, provinces)
    from tasks.export import Sheet, stream_xlsx

    x = XLSX_TEXT[lang]
    sheets: list[Sheet] = []

    def sheet(title: str, header: list[str], rows: list[list[Any]], total: int) -> None:
        """A sheet of at most ``MAX_XLSX_FACT_ROWS`` rows, and a row saying how many more."""
        more = [[XLSX_MORE[lang].format(n=total - MAX_XLSX_FACT_ROWS)]]
        kept = rows[:MAX_XLSX_FACT_ROWS] + (more if total > MAX_XLSX_FACT_ROWS else [])
        sheets.append(Sheet(title, header, kept))

    comp = data.comparison
    years = sorted(int(y) for y in comp["year"].unique()) if not comp.empty else []
    tail = [x["compared"], x["change"], x["pct"], x["qualifiers"]]
    wide = _wide_rows(comp, years, lang)
    head = [x["indicator"], x["key"], x["unit"], *map(str, years), *tail]
    sheet(x["comparison"], head, wide, len(wide))
    long = province_sql(db) if provinces is None else provinces
    prov_rows: list[list[Any]] = []
    if not long.empty:
        order = _catalog_order()
        ranks = [order.get(k, 10**6) for k in long["indicator"].tolist()]
        ordered = long.assign(_o=np.array(ranks, dtype="int64"))
        # the sheet keeps its first MAX_XLSX_FACT_ROWS rows: only those are made into cells
        ordered = ordered.sort_values(["_o", "province", "year"]).head(MAX_XLSX_FACT_ROWS)
        label = _texts(ordered["label_vi" if lang == "vi" else "label_en"])
        unknown = TEXT[lang]["unknown_province"]
        units = {u: unit_label(_s(u), lang) for u in set(ordered["unit"].tolist())}
        prov_rows = [
            [
                lab,
                ind,
                units[unit],
                prov or unknown,
                int(y),
                float(v),
                _s(q) or None,
            ]
            for lab, ind, unit, prov, y, v, q in zip(
                label,
                ordered["indicator"].tolist(),
                ordered["unit"].tolist(),
                ordered["province"].tolist(),
                ordered["year"].tolist(),
                ordered["value"].tolist(),
                ordered["qualifier"].tolist(),
                strict=True,
            )
        ]
    sheet(
        x["provinces"],
        [x["indicator"], x["key"], x["unit"], x["province"], x["year"], x["value"], x["qualifier"]],
        prov_rows,
        len(long),  # cut like the fact sheets, with the row that says how many more
    )
    # the numbers [n] of the briefing's sources annex, so that a cell can be looked up here
    if numbers is None:
        numbers = trace_numbers(build_context(data, Organisation(), lang, db=db)["trace"])
    head = [
        x["n"],
        "fact_id",
        x["doc"],
        x["indicator"],
        x["key"],
        x["unit"],
        x["year"],
        x["value"],
        x["qualifier"],
        x["kind"],
        x["sentence"],
    ]
    cap = MAX_XLSX_FACT_ROWS
    numbered = pd.DataFrame(
        {
            "fact_id": pd.Series(list(numbers), dtype=object),
            "n": pd.Series(list(numbers.values()), dtype="int64"),
        }
    )

    # a temporary table, not a registered frame: DuckDB joins a million facts with it faster
    db.con.register("_numbers_frame", numbered)
    db.con.execute("CREATE OR REPLACE TEMP TABLE _numbers AS SELECT * FROM _numbers_frame")
    db.con.unregister("_numbers_frame")
    plan_year = (
        "LEFT JOIN (SELECT doc_id, any_value(plan_year) AS plan_year FROM b_docs "
        "GROUP BY doc_id) d ON d.doc_id = p.doc_id"
    )

    def picked(select: str, order: str) -> list[list[Any]]:
        """The facts of ``select`` in ``order`` as rows of a fact sheet, with their plan year
        (joined to those only: joining a million facts to the documents first cost seconds
        at 100,000 reports)."""
        cur = db.con.execute(
            f"SELECT {_FACT_ROW_COLUMNS} FROM ({select}) p {plan_year} ORDER BY {order}"
        )
        return _fact_rows(cur.fetchall(), lang)

    # the facts of a sheet are picked by the keys of their order, then read whole: sorting
    # every fact with all its columns (its sentence) cost 1.4 of 3 s at 100,000 reports.
    # The keys are all those of the order, so the join gives back exactly the rows picked (a
    # fact id alone is not unique: a sentence copied twice into a report repeats its id)
    keys = [c.strip() for c in db.order.split(",")]
    same = " AND ".join(f"k.{c} IS NOT DISTINCT FROM f.{c}" for c in keys)
    key_cols = ", ".join(f"f.{c}" for c in keys)
    first_plans = (
        f"SELECT {key_cols} FROM b_facts f WHERE f.kind = 'plan' ORDER BY {db.order} LIMIT {cap}"
    )
    plans = picked(
        "SELECT f.*, n.n AS _n FROM (SELECT f.* FROM b_facts f "
        f"SEMI JOIN ({first_plans}) k ON {same} WHERE f.kind = 'plan') f "
        "LEFT JOIN _numbers n ON n.fact_id = f.fact_id",
        db.order,
    )
    n_plans = _scalar(db, "SELECT count(*) FROM b_facts WHERE kind = 'plan'")
    sheet(x["plans"], [*head[:6], x["plan_year"], *head[7:]], plans, n_plans)
    # the quoted facts first, by their number; then results and plans in the order of facts.csv
    # (two queries: a join of the few numbered facts, then the first others, cost a third of
    # one ordered left join of every fact)
    every = picked(
        "SELECT f.*, n.n AS _n FROM b_facts f JOIN _numbers n ON n.fact_id = f.fact_id "
        f"ORDER BY n.n LIMIT {cap}",
        "_n",
    )
    if len(every) < cap:
        first = (
            f"SELECT {key_cols} FROM b_facts f "
            "ANTI JOIN _numbers n ON n.fact_id = f.fact_id "
            f"ORDER BY f.kind = 'plan', {db.order} LIMIT {cap - len(every)}"
        )
        every += picked(
            f"SELECT f.*, NULL::BIGINT AS _n FROM b_facts f SEMI JOIN ({first}) k ON {same}",
            f"kind = 'plan', {db.order}",
        )
    sheet(x["sources"], head, every, len(data.facts))
    return stream_xlsx(sheets)


#: The columns ``_fact_rows`` reads, in its order (``p``: the facts, ``d``: their plan year).
_FACT_ROW_COLUMNS = (
    "p._n, p.fact_id, p.doc_id, p.indicator, p.noun_phrase, p.label, p.unit, p.kind, p.year, "
    "d.plan_year, p.value, p.qualifier, p.sentence"
)


def _fact_rows(facts: list[tuple[Any, ...]], lang: str) -> list[list[Any]]:
    """Facts read by SQL (``_FACT_ROW_COLUMNS``; text is str or None) as rows of the
    workbook's fact sheets, with the plan year for a plan: 20,000 of them per workbook, so
    plain tuples, and a label and a unit looked up once per indicator and unit."""
    catalog = indicator_by_key()
    plan_word = TEXT[lang]["plan"]
    labels: dict[str, str] = {}
    units: dict[str, str] = {}
    rows = []
    for n, fact_id, doc_id, *rest in facts:
        raw_key, phrase, label, raw_unit, kind, fact_year, plan_year, value, q, text = rest
        key = raw_key or ""
        name = labels.get(key)
        if name is None:
            ind = catalog.get(key)
            if ind is None:  # “the noun phrase” of a figure on no indicator
                name = _ind_label(None, phrase or label or "", lang)
            else:
                name = labels[key] = _ind_label(ind, "", lang)
        unit = raw_unit or ""
        shown = units.get(unit)
        if shown is None:
            shown = units[unit] = unit_label(unit, lang)
        is_plan = kind == "plan"
        year = plan_year if is_plan else fact_year
        rows.append(
            [
                n,
                fact_id or "",
                doc_id or "",
                name,
                key,
                shown,
                None if year is None else int(year),
                float(value),
                q or None,
                plan_word if is_plan else "",
                text or "",
            ]
        )
    return rows


XLSX_MORE = {
    "vi": "… và {n} dòng khác: xem facts.csv",
    "en": "… and {n} more rows: see facts.csv",
}


def trace_numbers(trace: list[dict[str, Any]]) -> dict[str, int]:
    """fact_id -> the number [n] of the first figure of the sources annex it stands behind."""
    numbers: dict[str, int] = {}
    for row in trace:
        for fid in row["fact_ids"]:
            numbers.setdefault(fid, row["n"])
    return numbers


# --- files -------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename,
    so a reader never sees half a file."""
    with atomic_file(path) as handle:
        handle.write(data)
    return path


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, in pieces: renamed into place when the block
    ends, removed if it fails, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes (with a BOM, so that Excel reads Vietnamese right)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


_FACT_CSV_TYPES = {"value": "DOUBLE", "value_max": "DOUBLE", "denominator": "DOUBLE",
                   "year": "INTEGER", "start": "INTEGER", "end": "INTEGER",
                   "original_value": "DOUBLE"}  # fmt: skip
_DOC_CSV_TYPES = {"year": "INTEGER", "plan_year": "INTEGER", "period_start": "INTEGER",
                  "period_end": "INTEGER", "n_facts": "INTEGER"}  # fmt: skip


def csv_select(columns: tuple[str, ...], types: dict[str, str], bom: bool = False) -> str:
    """The SELECT list of ``write_csv_query`` for columns of a table: text columns with
    ``NULLIF(c, '')``, because DuckDB writes an empty text as ``""`` and pandas as nothing.

    With ``bom``, the first column is named with a leading U+FEFF: DuckDB then writes the BOM
    as the first bytes of the header, and the file needs no second pass to get it.
    """
    parts = []
    for i, c in enumerate(columns):
        name = f"\ufeff{c}" if bom and i == 0 else c
        parts.append(f'"{c}" AS "{name}"' if c in types else f'NULLIF("{c}", \'\') AS "{name}"')
    return ", ".join(parts)


def write_csv_query(path: Path, db: BriefingDB, sql: str) -> Path:
    """Write a query's rows as ``csv_bytes`` writes a frame, without a frame: DuckDB writes
    the CSV (a million facts in about a second, in constant memory) straight to ``path``.

    The bytes are those of pandas for the same rows: a BOM, a header, "," and minimal quoting
    with doubled quotes, "\\n" line ends, NULL as nothing, integers as integers, floats in
    their shortest form ("106.0"); the columns must come through ``csv_select(...,
    bom=True)`` (the BOM is in the first column's name). ``path`` is written in place: the
    render stage gives a temporary name (``_Staged``) and renames it when every output is
    ready.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    target = str(path).replace("'", "''")
    db.con.execute(
        f"COPY ({sql}) TO '{target}' "
        "(FORMAT csv, HEADER, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NEW_LINE '\\n')"
    )
    return path


@dataclass(frozen=True)
class RenderResult:
    """The files the render stage wrote."""

    briefing: Path
    facts: Path
    documents: Path
    quarantine: Path
    comparison: Path | None = None


class _Staged:
    """Output files written under temporary names in their folder, renamed into place only
    when every one is ready: a template error, or a failure in any thread, leaves the last
    outputs as they were and no half-written file.
    """

    def __init__(self) -> None:
        self.temps: dict[Path, Path] = {}

    def temp(self, path: Path) -> Path:
        """A new temporary file beside ``path``, to be renamed to it by ``commit``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        self.temps[path] = Path(tmp)
        return Path(tmp)

    def write(self, path: Path, data: bytes) -> None:
        """Stage ``data`` for ``path``."""
        self.temp(path).write_bytes(data)

    def commit(self, order: list[Path]) -> None:
        """Rename the staged files into place, in ``order`` (the briefing last: a reader that
        sees a new briefing finds the tables of the same run beside it)."""
        for path in order:
            tmp = self.temps.pop(path)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
            os.replace(tmp, path)

    def discard(self) -> None:
        """Remove every staged file not renamed yet."""
        for tmp in self.temps.values():
            tmp.unlink(missing_ok=True)
        self.temps.clear()


def _write_csvs(data: BriefingInput, db: BriefingDB, paths: RenderResult, staged: _Staged) -> None:
    """facts.csv and documents.csv, staged: streamed by DuckDB from the store (in a thread of
    their own: the COPY releases the GIL), or from the frames of a small run."""
    if isinstance(data.facts, StoredFacts):
        fact_cols = csv_select(
            (*FACT_COLUMNS, "override", "original_value"), _FACT_CSV_TYPES, bom=True
        )
        write_csv_query(
            staged.temp(paths.facts), db, f"SELECT {fact_cols} FROM b_facts ORDER BY {db.order}"
        )
        doc_cols = csv_select(DOCUMENT_COLUMNS, _DOC_CSV_TYPES, bom=True)
        write_csv_query(
            staged.temp(paths.documents), db, f"SELECT {doc_cols} FROM b_docs ORDER BY doc_id"
        )
    else:
        staged.write(paths.facts, csv_bytes(data.facts))
        docs = data.documents.drop(columns=["directions"], errors="ignore")
        staged.write(paths.documents, csv_bytes(docs))


def _xlsx_on_cursor(
    data: BriefingInput,
    lang: str,
    numbers: dict[str, int],
    db: BriefingDB,
    provinces: pd.DataFrame,
) -> bytes:
    """``comparison_xlsx`` on a connection of its own (it runs beside the DOCX)."""
    with db.cursor() as own:
        return comparison_xlsx(data, lang, numbers, own, provinces)


def _provinces_on_cursor(db: BriefingDB) -> pd.DataFrame:
    """``province_sql`` on a connection of its own (it runs beside the first charts)."""
    with db.cursor() as own:
        return province_sql(own)


def _all_charts(
    data: BriefingInput, lang: str, provinces: Future[pd.DataFrame]
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """The yearly charts, then (once the per-province table is read) the province charts."""
    charts = chart_pngs(data.comparison, lang)
    return charts, province_annex_charts(data, provinces.result(), lang)


@contextmanager
def _cycles_collected_after() -> Iterator[None]:
    """Python's collector of reference cycles paused for the block (as it was after).

    Building a large briefing allocates millions of short-lived objects (lxml proxies,
    context dicts, cells), which set off ~200 collections during the render stage, each
    walking every young object, and a full one or two over all the process holds: a tenth of
    the stage's CPU at 10,000 reports, all of it under the GIL the stage's threads share.
    Objects are still freed by reference counting; cycles wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def render_outputs(
    data: BriefingInput,
    out: Path,
    org: Organisation,
    lang: str = "vi",
    template: Path | None = None,
) -> RenderResult:
    """Write facts.csv, documents.csv, quarantine.csv, comparison.xlsx and briefing.docx.

    The outputs are built side by side on two cores: DuckDB writes the CSVs and reads the
    per-province table on connections of their own, a thread draws every chart while the
    context of the briefing is built, and the workbook is built in a thread once the
    briefing's sources are numbered, beside the DOCX (DuckDB, zlib, lxml's parser and
    Pillow's PNG encoder release the GIL). Each output is a pure function of the data, so
    the bytes do not depend on which thread finishes first. Every file is written under a
    temporary name and renamed into place only when all are ready (the briefing last), so
    that a template error leaves no half-written output. With the facts in the store
    (``StoredFacts``) the CSVs are streamed from it and only the facts the briefing prints
    are read.
    """
    paths = RenderResult(
        briefing=out / "briefing.docx",
        facts=out / "facts.csv",
        documents=out / "documents.csv",
        quarantine=out / "quarantine.csv",
        comparison=out / "comparison.xlsx",
    )
    staged = _Staged()
    try:
        with (
            _cycles_collected_after(),
            open_briefing(data) as db,
            db.cursor() as csv_db,
            # one thread draws every chart: a FreeType font must not be used by two at once
            ThreadPoolExecutor(1, thread_name_prefix="render-charts") as draw,
            ThreadPoolExecutor(2, thread_name_prefix="render") as pool,
        ):
            csvs = pool.submit(_write_csvs, data, csv_db, paths, staged)
            read = pool.submit(_provinces_on_cursor, db)
            charts = draw.submit(_all_charts, data, lang, read)
            warm_template(template or default_template(lang))  # while DuckDB reads
            provinces = read.result()
            context = build_context(data, org, lang, db=db, provinces=provinces)
            numbers = trace_numbers(context["trace"])
            xlsx = pool.submit(_xlsx_on_cursor, data, lang, numbers, db, provinces)
            by_year, by_province = charts.result()
            docx = render_docx(template or default_template(lang), context, by_year, by_province)
            staged.write(paths.briefing, docx)
            staged.write(paths.quarantine, csv_bytes(data.quarantine))
            assert paths.comparison is not None
            staged.write(paths.comparison, xlsx.result())
            csvs.result()
        staged.commit(
            [paths.facts, paths.documents, paths.quarantine, paths.comparison, paths.briefing]
        )
    finally:
        staged.discard()
    return paths


@task(name="render")
def render_task(
    data: BriefingInput,
    out: Path,
    org: Organisation,
    lang: str = "vi",
    template: Path | None = None,
) -> RenderResult:
    """Prefect wrapper of ``render_outputs``."""
    return render_outputs(data, out, org, lang, template)
