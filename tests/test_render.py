"""Render stage: number formats, the context, and the DOCX/XLSX read back from small frames.

The frames are made by hand (no Prefect, no extraction), so that each test says exactly which
figure must land where: the summary sentence, the comparison cell, the sources annex.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.shared import Mm
from openpyxl import load_workbook

from tasks.aggregate import BriefingInput, comparison_long
from tasks.catalog import indicators
from tasks.records import DOCUMENT_COLUMNS, FACT_COLUMNS
from tasks.render import (
    Organisation,
    TemplateError,
    build_context,
    change_parts,
    chart_pngs,
    comparison_xlsx,
    default_template,
    format_change,
    format_number,
    format_value,
    place_date,
    render_docx,
    render_outputs,
    trace_numbers,
    units_en,
)

# --- number formats ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        (3340, "vi", "3.340"),  # "." groups thousands in Vietnamese
        (1.66, "vi", "1,66"),  # "," marks decimals
        (21000.5, "vi", "21.000,5"),
        (1234567, "vi", "1.234.567"),
        (2.0, "vi", "2"),  # no trailing zeros
        (0.004, "vi", "0"),  # rounds to two decimals
        (3340, "en", "3,340"),
        (1.66, "en", "1.66"),
        (-3185, "vi", "-3.185"),
    ],
)
def test_format_number(value: float, lang: str, expected: str) -> None:
    assert format_number(value, lang=lang) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((21000, "lượt", "hơn"), "> 21.000"),  # qualifier shown as a sign
        ((200_000_000, "đồng", "gần"), "~ 200 triệu"),  # money with its scale word
        ((11_400_000_000, "đồng", ""), "11,4 tỷ"),
        ((1.66, "%", ""), "1,66%"),
        ((100, "%", "đạt"), "100%"),  # "đạt" (reached) is not a hedge
        ((3340, "mô hình", ""), "3.340"),
    ],
)
def test_format_value(args: tuple[float, str, str], expected: str) -> None:
    assert format_value(*args) == expected


def test_format_value_with_unit_range_and_english() -> None:
    assert format_value(200_000_000, "đồng", "gần", with_unit=True) == "~ 200 triệu đồng"
    assert format_value(25, "%", value_max=30) == "25–30%"
    assert format_value(200_000_000, "đồng", "gần", True, "en") == "~ 200 million VND"
    assert format_value(3340, "mô hình", "", True, "en") == "3,340 models"


@pytest.mark.parametrize(
    ("previous", "current", "unit", "expected"),
    [
        (155, 3340, "mô hình", ("↑ 3.185", "+2.054,8%")),
        (23, 5, "tập thể", ("↓ 18", "-78,3%")),
        (100, 100, "%", ("→ 0 điểm %", "")),  # percentages change by points
        (1.55, 1.66, "%", ("↑ 0,11 điểm %", "")),
        (0, 5, "người", ("↑ 5", "")),  # no relative change from zero
    ],
)
def test_change_parts(
    previous: float, current: float, unit: str, expected: tuple[str, str]
) -> None:
    assert change_parts(previous, current, unit) == expected


def test_format_change_joins_the_parts() -> None:
    assert format_change(155, 3340, "mô hình") == "↑ 3.185 (+2.054,8%)"
    assert format_change(155, 3340, "mô hình", "en") == "↑ 3,185 (+2,054.8%)"


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2024-01-05", "Nghệ An, ngày 05 tháng 01 năm 2024"),  # zero before day < 10, month 1-2
        ("2020-11-27", "Nghệ An, ngày 27 tháng 11 năm 2020"),
        ("2023-03-09", "Nghệ An, ngày 09 tháng 3 năm 2023"),  # no zero for month 3..12
        ("", "Nghệ An, ngày … tháng … năm …"),  # left blank to fill at signing
    ],
)
def test_place_date_follows_decree_30(iso: str, expected: str) -> None:
    assert place_date(Organisation(place="Nghệ An", issue_date=iso)) == expected


def test_every_catalog_unit_has_an_english_name() -> None:
    missing = {i.unit for i in indicators()} - set(units_en())
    assert not missing, (
        f"add English names of {sorted(missing)} to report_templates/glossary_en.yaml"
    )


# --- hand-made frames --------------------------------------------------------------------------


def _fact(fid: str, doc: str, indicator: str, value: float, unit: str, **kw: Any) -> dict:
    row = dict.fromkeys(FACT_COLUMNS, "")
    row.update(
        fact_id=fid,
        doc_id=doc,
        indicator=indicator,
        value=float(value),
        unit=unit,
        value_max=None,
        denominator=None,
        year=None,
        kind="result",
        label=kw.get("noun", unit),
        noun_phrase=kw.get("noun", unit),
        sentence=kw.get("sentence", f"Câu nguồn của {fid}: {value} {unit}."),
        start=0,
        end=1,
    )
    row.update({k: v for k, v in kw.items() if k in FACT_COLUMNS})
    return row


DOCS = [
    # doc_id, year, province, date, title, plan_year
    ("nghe_an_2017", 2017, "Nghệ An", "2017-12-29", "Hội nghị tổng kết năm 2017", 2018),
    ("ha_tinh_2023", 2023, "Hà Tĩnh", "2023-12-20", "", 2024),
    ("nghe_an_2023", 2023, "Nghệ An", "2024-01-05", "Tổng kết công tác quân sự 2023", None),
    ("no_meta", None, "", "", "", None),
]


def _data(*, provinces: bool = True) -> BriefingInput:
    docs = []
    for doc_id, year, prov, date, title, plan_year in DOCS:
        row = dict.fromkeys(DOCUMENT_COLUMNS, "")
        row.update(
            doc_id=doc_id,
            source=f"{doc_id}.txt",
            title=title,
            year=year,
            plan_year=plan_year,
            period_start=None,
            period_end=None,
            province=prov if provinces else "",
            province_reason="named in the text" if prov else "not named in the text",
            conference_date=date,
            chair="Nguyễn Văn Hưởng" if year else "",
            attendees="Phan Văn Sỹ - Phó Chủ nhiệm Chính trị" if year else "",
            n_facts=0,
            status="ok",
            directions="Năm 2024, tiếp tục xây dựng mô hình “Dân vận khéo” & nhân rộng <điển hình>."
            if year == 2023
            else "",
        )
        docs.append(row)
    documents = pd.DataFrame(docs, columns=[*DOCUMENT_COLUMNS, "directions"]).astype(
        {"year": "Int64", "plan_year": "Int64", "period_start": "Int64", "period_end": "Int64"}
    )
    facts_rows = [
        _fact("f1", "nghe_an_2017", "dan_van_kheo_new", 155, "mô hình", year=2017),
        _fact("f2", "ha_tinh_2023", "dan_van_kheo_new", 1340, "mô hình", year=2023),
        _fact("f3", "nghe_an_2023", "dan_van_kheo_new", 2000, "mô hình", year=2023),
        _fact("f4", "nghe_an_2017", "giao_quan_pct", 100, "%", year=2017, qualifier="đạt"),
        _fact("f5", "nghe_an_2023", "giao_quan_pct", 100, "%", year=2023),
        _fact("f6", "ha_tinh_2023", "kinh_phi", 200_000_000, "đồng", year=2023, qualifier="gần"),
        _fact(
            "f7", "nghe_an_2023", "luot_can_bo_chien_si", 21000, "lượt", year=2023, qualifier="hơn"
        ),
        _fact("f8", "nghe_an_2023", "dien_tap_kvpt", 6, "huyện", year=2023, kind="plan"),
        _fact("f9", "nghe_an_2023", "other", 147, "điểm", year=2023, noun="điểm sáng"),
        _fact("f10", "no_meta", "xa_nong_thon_moi", 319, "xã", denominator=411.0),
    ]
    facts = pd.DataFrame(facts_rows, columns=list(FACT_COLUMNS))
    if not provinces:
        facts["province"] = ""
    else:
        prov = dict(zip(documents["doc_id"], documents["province"], strict=True))
        facts["province"] = facts["doc_id"].map(prov)
    facts = facts.astype({"year": "Int64", "start": "Int64", "end": "Int64"})
    return BriefingInput(
        facts=facts,
        documents=documents,
        comparison=comparison_long(facts, documents),
        quarantine=pd.DataFrame([("bad.pdf", "not a text file")], columns=["source", "reason"]),
        duplicates=[("copy.txt", "nghe_an_2017.txt")],
        vague=[("nghe_an_2023", "hàng chục nghìn ngày công")],
    )


ORG = Organisation(
    parent_body="QUÂN KHU 4",
    issuing_body="BỘ CHỈ HUY QUÂN SỰ TỈNH NGHỆ AN",
    number="15/BC-BCH",
    place="Nghệ An",
    issue_date="2024-01-05",
    signer_authority="KT. CHỈ HUY TRƯỞNG",
    signer_title="PHÓ CHỈ HUY TRƯỞNG",
    signer_rank="Đại tá",
    signer_name="Nguyễn Văn A",
    recipients=("Bộ Tư lệnh Quân khu 4;", "Lưu: VT, TM."),
)


# --- context -----------------------------------------------------------------------------------


def _with_facts(data: BriefingInput, rows: list[dict]) -> BriefingInput:
    """``data`` with these fact rows in place of its own, and the comparison made from them."""
    facts = pd.DataFrame(rows, columns=list(FACT_COLUMNS)).astype({"year": "Int64"})
    return BriefingInput(
        facts=facts,
        documents=data.documents,
        comparison=comparison_long(facts, data.documents),
        quarantine=data.quarantine,
    )


def _uncited(text: str) -> str:
    """A headline without its annex numbers: "155 (2017) [1] → …" -> "155 (2017) → …"."""
    return re.sub(r" \[\d+\]", "", text)


def test_summary_says_coverage_and_headline_changes() -> None:
    ctx = build_context(_data(), ORG, "vi")
    # the headline figures carry their annex numbers: "155 (2017) [1] → 3.340 (2023) [2]"
    cited = r"155 \(2017\) \[\d+\] → 3\.340 \(2023\) \[\d+\]"
    assert any(re.search(cited, h) for h in ctx["headlines"])
    text = " ".join(ctx["summary"] + [_uncited(h) for h in ctx["headlines"]])
    assert "4 văn bản" in text and "2017, 2023" in text
    assert "(Hà Tĩnh, Nghệ An)" in text and "1 văn bản chưa xác định địa phương" in text
    assert 'Mô hình "Dân vận khéo" xây dựng mới: 155 (2017) → 3.340 (2023), tăng 3.185' in text
    assert "(+2.054,8%)" in text
    assert "Giao quân (% chỉ tiêu): 100% (2017) → 100% (2023), không đổi." in text
    assert "1 tệp không sử dụng được" in text


def test_comparison_rows_cells_changes_and_qualifiers() -> None:
    ctx = build_context(_data(), ORG, "vi")
    assert ctx["years"] == ["2017", "2023"]
    rows = {r["key"]: r for r in ctx["table"]}
    new = rows["dan_van_kheo_new"]
    assert [c.split(" [")[0] for c in new["cells"]] == ["155", "3.340"]
    assert (new["compared"], new["change"], new["pct"]) == ("2023/2017", "↑ 3.185", "+2.054,8%")
    assert rows["kinh_phi"]["cells"] == ["—", rows["kinh_phi"]["cells"][1]]
    assert rows["kinh_phi"]["cells"][1].startswith("~ 200 triệu [")
    assert rows["luot_can_bo_chien_si"]["cells"][1].startswith("> 21.000 [")
    assert rows["giao_quan_pct"]["change"] == "→ 0 điểm %"
    # plans and unmapped figures stay out of the comparison table
    assert "dien_tap_kvpt" not in rows and "other" not in rows


def test_every_cited_number_traces_to_its_sentence() -> None:
    data = _data()
    ctx = build_context(data, ORG, "vi")
    trace = {s["n"]: s for s in ctx["trace"]}
    sentences = dict(zip(data.facts["fact_id"], data.facts["sentence"], strict=True))
    cell = next(r for r in ctx["table"] if r["key"] == "dan_van_kheo_new")["cells"][1]
    entry = trace[int(re.fullmatch(r"3\.340 \[(\d+)\]", cell).group(1))]  # one number a figure
    assert entry["fact_ids"] == ["f2", "f3"]
    assert entry["sentence"] == f"“{sentences['f2']}” “{sentences['f3']}”"
    assert entry["doc"] == "ha_tinh_2023; nghe_an_2023"
    # every fact, plans and unmapped ones included, stands behind a numbered entry
    assert {f for s in ctx["trace"] for f in s["fact_ids"]} == set(sentences)
    assert [s["n"] for s in ctx["trace"]] == list(range(1, len(ctx["trace"]) + 1))


def test_a_figure_of_many_facts_quotes_a_few_and_counts_the_rest() -> None:
    data = _data()
    rows = [
        {**data.facts.iloc[1].to_dict(), "fact_id": f"m{i}", "doc_id": f"d{i}", "value": 1.0}
        for i in range(10)
    ]
    many = _with_facts(data, rows)
    ctx = build_context(many, ORG, "vi")
    entry = ctx["trace"][0]
    # three quoted, the seven others counted and found in facts.csv by the cell's keys
    assert entry["fact_ids"] == ["m0", "m1", "m2"] and entry["count"] == 10
    assert entry["doc"] == "d0; d1; d2; …"
    assert entry["sentence"].endswith(
        "(và 7 số liệu khác của ô này: xem facts.csv theo chỉ tiêu, năm, địa phương)"
    )


def test_conference_sections_are_capped_with_a_note() -> None:
    ctx = build_context(_data(), ORG, "vi", max_conferences=2)
    assert [c["doc_id"] for c in ctx["conferences"]] == ["ha_tinh_2023", "nghe_an_2023"]
    assert ctx["conferences_more"].startswith("Ngoài ra còn 2 văn bản khác")
    assert build_context(_data(), ORG, "vi")["conferences_more"] == ""


def test_province_annex_has_a_table_per_province_of_the_top_indicators(monkeypatch) -> None:
    from tasks import render

    ctx = build_context(_data(), ORG, "vi")
    tables = {t["title"]: t for t in ctx["province_tables"]}
    assert list(tables) == ["1. Hà Tĩnh", "2. Nghệ An"]  # Vietnamese order, numbered
    cells = {
        title: {r["key"]: [c.split(" [")[0] for c in r["cells"]] for r in t["rows"]}
        for title, t in tables.items()
    }
    assert cells["1. Hà Tĩnh"] == {
        "dan_van_kheo_new": ["—", "1.340"],
        "kinh_phi": ["—", "~ 200 triệu"],
    }
    assert cells["2. Nghệ An"]["dan_van_kheo_new"] == ["155", "2.000"]
    top = render.PROVINCE_TOP_INDICATORS
    assert ctx["province_note"].startswith(f"Mỗi bảng trình bày {top} chỉ tiêu")
    # room for one indicator: the one with figures in the most (province, year) cells
    monkeypatch.setattr(render, "PROVINCE_TOP_INDICATORS", 1)
    ctx = build_context(_data(), ORG, "vi")
    assert {r["key"] for t in ctx["province_tables"] for r in t["rows"]} == {"dan_van_kheo_new"}
    assert build_context(_data(provinces=False), ORG, "vi")["province_tables"] == []


def test_caps_say_how_many_more_and_where(monkeypatch) -> None:
    from tasks import render

    monkeypatch.setattr(render, "MAX_PLAN_ROWS", 0)
    monkeypatch.setattr(render, "MAX_SOURCES", 2)
    ctx = build_context(_data(), ORG, "vi")
    assert ctx["plans"] == []
    assert ctx["plans_more"] == (
        "… và 1 số liệu kế hoạch khác (xem comparison.xlsx, trang Kế hoạch, và facts.csv)."
    )
    # beyond the cap, the documents the figures quote, and a count of the rest
    cited = {d for row in ctx["trace"] for d in row["doc"].split("; ")}
    assert len(ctx["sources"]) == 2 and {s["doc_id"] for s in ctx["sources"]} <= cited
    assert ctx["sources_more"] == "… và 2 văn bản khác (xem documents.csv)."


def test_plans_conferences_and_quality() -> None:
    ctx = build_context(_data(), ORG, "vi")
    assert [(p["year"], p["label"]) for p in ctx["plans"]] == [("—", "Diễn tập khu vực phòng thủ")]
    assert ctx["plans"][0]["value"].startswith("6 huyện [")
    conf = {c["doc_id"]: c for c in ctx["conferences"]}
    assert list(conf) == ["no_meta", "nghe_an_2017", "ha_tinh_2023", "nghe_an_2023"]
    first = conf["nghe_an_2017"]
    assert first["heading"] == "2. Hội nghị tổng kết năm 2017 (năm 2017)"
    assert first["date"] == "29/12/2017" and first["chair"] == "Nguyễn Văn Hưởng"
    assert conf["nghe_an_2023"]["directions"][0].startswith("Năm 2024, tiếp tục")
    assert any(f.startswith("“điểm sáng”: 147 điểm [") for f in conf["nghe_an_2023"]["facts"])
    assert conf["no_meta"]["facts"][0].startswith("Xã đạt chuẩn nông thôn mới: 319/411 xã [")
    q = ctx["quality"]
    assert q["quarantine"] == ["bad.pdf: not a text file"]
    assert q["duplicates"] == ["copy.txt trùng với nghe_an_2017.txt"]
    assert "no_meta: chưa xác định năm" in q["unknown"]
    assert q["other"] == ["nghe_an_2023: 147 điểm — “điểm sáng”"]
    assert q["vague"] == ["nghe_an_2023: “hàng chục nghìn ngày công”"]


def test_english_context_uses_catalog_labels_and_english_numbers() -> None:
    ctx = build_context(_data(), ORG, "en")
    labels = {r["label"] for r in ctx["table"]}
    assert 'New "skilled mass mobilisation" models' in labels
    assert any("155 (2017) → 3,340 (2023), up 3,185" in _uncited(h) for h in ctx["headlines"])
    assert "1 document does not say which province it comes from." in " ".join(ctx["summary"])
    # the quoted source sentences stay Vietnamese
    assert all(s["sentence"].startswith("“Câu nguồn") for s in ctx["trace"])


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        build_context(_data(), ORG, "fr")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_bundled_templates_ask_only_for_what_the_context_gives(lang: str) -> None:
    from docxtpl import DocxTemplate

    ctx = build_context(_data(), ORG, lang)
    missing = DocxTemplate(str(default_template(lang))).get_undeclared_template_variables(
        context=ctx
    )
    assert not missing


# --- DOCX read back ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for lang in ("vi", "en"):
        folder = tmp_path_factory.mktemp(f"render-{lang}")
        render_outputs(_data(), folder, ORG, lang)
        out[lang] = folder
    return out


def _all_text(doc: Any) -> str:
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_page_setup_and_fonts(rendered: dict[str, Path]) -> None:
    doc = Document(str(rendered["vi"] / "briefing.docx"))
    first = doc.sections[0]
    assert (round(first.page_width.mm), round(first.page_height.mm)) == (210, 297)
    assert 20 <= round(first.top_margin.mm) <= 25 and 20 <= round(first.bottom_margin.mm) <= 25
    assert 30 <= round(first.left_margin.mm) <= 35 and 15 <= round(first.right_margin.mm) <= 20
    assert any(s.orientation == WD_ORIENT.LANDSCAPE for s in doc.sections)
    for section in doc.sections:
        assert {round(section.page_width.mm), round(section.page_height.mm)} == {210, 297}
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman" and 13 <= normal.font.size.pt <= 14
    for name in ("Heading 1", "Heading 2"):
        fonts = doc.styles[name].element.rPr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:ascii")) == "Times New Roman"
        assert fonts.get(qn("w:asciiTheme")) is None  # a theme font would override it


def test_page_numbers_from_page_two(rendered: dict[str, Path]) -> None:
    doc = Document(str(rendered["vi"] / "briefing.docx"))
    first = doc.sections[0]
    assert first.different_first_page_header_footer
    assert not "".join(p.text for p in first.first_page_header.paragraphs).strip()
    assert "PAGE" in first.header._element.xml
    assert all(not s.different_first_page_header_footer for s in doc.sections[1:])


def test_header_block_title_and_signature(rendered: dict[str, Path]) -> None:
    doc = Document(str(rendered["vi"] / "briefing.docx"))
    block = doc.tables[0]
    left = block.rows[0].cells[0].text
    right = block.rows[0].cells[1].text
    assert "QUÂN KHU 4" in left and "BỘ CHỈ HUY QUÂN SỰ TỈNH NGHỆ AN" in left
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in right and "Độc lập - Tự do - Hạnh phúc" in right
    assert block.rows[1].cells[0].text == "Số: 15/BC-BCH"
    assert block.rows[1].cells[1].text == "Nghệ An, ngày 05 tháng 01 năm 2024"
    texts = [p.text for p in doc.paragraphs]
    i = texts.index("BÁO CÁO TỔNG HỢP")
    assert texts[i + 1] == "Kết quả công tác quốc phòng, quân sự địa phương năm 2017–2023"
    assert texts[i + 2].startswith("(Tổng hợp từ 4 văn bản")
    text = _all_text(doc)
    assert "Nơi nhận:" in text and "- Lưu: VT, TM." in text
    assert "KT. CHỈ HUY TRƯỞNG" in text and "Đại tá Nguyễn Văn A" in text


def test_headings_are_word_headings(rendered: dict[str, Path]) -> None:
    doc = Document(str(rendered["vi"] / "briefing.docx"))
    h1 = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert h1[:5] == [
        "I. TÓM TẮT",
        "II. SO SÁNH SỐ LIỆU THEO NĂM",
        "III. CHỈ TIÊU KẾ HOẠCH",
        "IV. BIỂU ĐỒ",
        "V. CÁC HỘI NGHỊ, VĂN BẢN ĐƯỢC TỔNG HỢP",
    ]
    assert any(t.startswith("Phụ lục I") for t in h1) and any("Phụ lục II" in t for t in h1)
    h2 = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert "2. Hội nghị tổng kết năm 2017 (năm 2017)" in h2


def test_comparison_table_in_the_docx(rendered: dict[str, Path]) -> None:
    data = _data()
    doc = Document(str(rendered["vi"] / "briefing.docx"))
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Chỉ tiêu")
    header = [c.text for c in table.rows[0].cells]
    assert header[2:4] == ["2017", "2023"]
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # repeats on each page
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in table.rows[1:]}
    for _, r in data.comparison.iterrows():
        cell = rows[r["label_vi"]][header.index(str(r["year"]))]
        assert cell.split(" [")[0] == format_value(r["value"], r["unit"], r["qualifier"])
    assert rows['Mô hình "Dân vận khéo" xây dựng mới'][-3:] == ["2023/2017", "↑ 3.185", "+2.054,8%"]
    # the grid follows the repeated year column and fits the landscape page
    grid = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.iter(qn("w:gridCol"))]
    assert len(grid) == len(header)
    assert sum(grid) <= Mm(297 - 45).twips + 1


def test_docx_has_a_chart_sources_and_no_tags(rendered: dict[str, Path]) -> None:
    doc = Document(str(rendered["vi"] / "briefing.docx"))
    text = _all_text(doc)
    assert "{{" not in text and "{%" not in text and "}}" not in text
    assert doc.inline_shapes, "no chart"
    assert "Biểu đồ 1." in text
    for doc_id, *_ in DOCS:
        assert f"{doc_id}.txt" in text
    # escaped, not broken, by autoescaping: & and < from a source sentence
    assert "“Dân vận khéo” & nhân rộng <điển hình>." in text
    assert "bad.pdf: not a text file" in text


def test_english_docx_has_english_headings(rendered: dict[str, Path]) -> None:
    doc = Document(str(rendered["en"] / "briefing.docx"))
    h1 = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert h1[:2] == ["I. SUMMARY", "II. YEARLY COMPARISON"]
    text = _all_text(doc)
    assert "CONSOLIDATED REPORT" in text and "Recipients:" in text
    assert 'New "skilled mass mobilisation" models' in text
    assert "Nghệ An, 5 January 2024" in text


def test_xlsx_has_a_sheet_per_table_with_numbers(rendered: dict[str, Path]) -> None:
    wb = load_workbook(rendered["vi"] / "comparison.xlsx")
    assert wb.sheetnames == ["So sánh theo năm", "Theo địa phương", "Kế hoạch", "Nguồn"]
    ws = wb["So sánh theo năm"]
    header = [c.value for c in ws[1]]
    rows = {r[1]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    new = rows["dan_van_kheo_new"]
    assert new[header.index("2017")] == 155 and new[header.index("2023")] == 3340
    assert new[header.index("Tăng/giảm")] == 3185
    assert rows["kinh_phi"][header.index("Ghi chú (từ định lượng)")] == "2023: gần"
    provinces = list(wb["Theo địa phương"].iter_rows(min_row=2, values_only=True))
    assert ("dan_van_kheo_new", "Hà Tĩnh", 2023, 1340.0) in [
        (r[1], r[3], r[4], r[5]) for r in provinces
    ]


# --- errors and determinism --------------------------------------------------------------------


def _custom_template(path: Path, text: str) -> Path:
    doc = Document()
    doc.add_paragraph(text)
    doc.save(str(path))
    return path


def test_template_asking_for_a_missing_value_names_it(tmp_path: Path) -> None:
    template = _custom_template(
        tmp_path / "mine.docx", "{{ org.issuing_body }}: {{ budget_total }}"
    )
    ctx = build_context(_data(), ORG, "vi")
    with pytest.raises(TemplateError, match="budget_total"):
        render_docx(template, ctx)
    template = _custom_template(tmp_path / "attr.docx", "{{ org.fax_number }}")
    with pytest.raises(TemplateError, match="fax_number"):
        render_docx(template, ctx)


def test_custom_template_renders(tmp_path: Path) -> None:
    template = _custom_template(tmp_path / "mine.docx", "{{ org.issuing_body }} – {{ subject }}")
    data = render_docx(template, build_context(_data(), ORG, "vi"))
    text = Document(io.BytesIO(data)).paragraphs[0].text
    assert text == "BỘ CHỈ HUY QUÂN SỰ TỈNH NGHỆ AN – " + (
        "Kết quả công tác quốc phòng, quân sự địa phương năm 2017–2023"
    )


def test_bad_templates_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template not found"):
        render_docx(tmp_path / "none.docx", {})
    (tmp_path / "junk.docx").write_bytes(b"not a zip")
    with pytest.raises(TemplateError, match="not a Word document"):
        render_docx(tmp_path / "junk.docx", {})
    broken = _custom_template(tmp_path / "broken.docx", "{{ subject ")
    with pytest.raises(TemplateError, match="not valid"):
        render_docx(broken, {"subject": "x"})


def test_same_data_give_the_same_bytes(tmp_path: Path) -> None:
    data = _data()
    assert chart_pngs(data.comparison, "vi") == chart_pngs(data.comparison, "vi")
    assert comparison_xlsx(data, "vi") == comparison_xlsx(data, "vi")
    a = render_outputs(data, tmp_path / "a", ORG, "vi")
    b = render_outputs(data, tmp_path / "b", ORG, "vi")
    assert a.briefing.read_bytes() == b.briefing.read_bytes()
    assert a.comparison is not None and b.comparison is not None
    assert a.comparison.read_bytes() == b.comparison.read_bytes()


def test_many_years_show_the_latest_and_fit_the_page(tmp_path: Path) -> None:
    data = _data()
    rows = [
        {**data.facts.iloc[0].to_dict(), "fact_id": f"y{y}", "year": y, "value": float(y)}
        for y in range(2010, 2024)
    ]
    many = _with_facts(data, rows)
    ctx = build_context(many, ORG)
    # the latest six years in the briefing, every year in comparison.xlsx
    assert ctx["years"] == [str(y) for y in range(2018, 2024)]
    assert ctx["years_note"] == (
        "Các bảng trình bày 6 năm gần nhất (2018–2023); số liệu các năm 2010–2017: "
        "xem comparison.xlsx."
    )
    assert _uncited(ctx["headlines"][0]).endswith(
        ": 2.010 (2010) → … → 2.022 (2022) → 2.023 (2023), tăng 1 (+0%)."
    )
    # figures of years before the table's are printed too (a headline, a chart): cited as well
    trace = {s["n"]: s for s in ctx["trace"]}
    first = re.search(r"2\.010 \(2010\) \[(\d+)\]", ctx["headlines"][0])
    assert first and trace[int(first.group(1))]["fact_ids"] == ["y2010"]
    note = ctx["chart_notes"][0]
    cited = dict(re.findall(r"(\d{4}) \[(\d+)\]", note))
    assert sorted(cited) == [str(y) for y in range(2010, 2024)]
    assert all(trace[int(n)]["fact_ids"] == [f"y{y}"] for y, n in cited.items())
    doc = Document(io.BytesIO(render_docx(default_template("vi"), ctx)))
    assert ctx["years_note"] in _all_text(doc)
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Chỉ tiêu")
    assert len(table.rows[0].cells) == 6 + 5
    grid = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.iter(qn("w:gridCol"))]
    assert sum(grid) <= Mm(297 - 45).twips + 1


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_turns_it_into_pdf(rendered: dict[str, Path], tmp_path: Path) -> None:
    from pypdf import PdfReader

    done = subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(rendered["vi"] / "briefing.docx"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reader = PdfReader(str(tmp_path / "briefing.pdf"))
    assert len(reader.pages) >= 4
    first = reader.pages[0].extract_text()
    assert "BÁO CÁO TỔNG HỢP" in first and "Độc lập - Tự do - Hạnh phúc" in first
    assert first.strip().splitlines()[0].strip() != "1"  # no page number on page 1
    assert reader.pages[1].extract_text().strip().startswith("2")
    sizes = {(round(p.mediabox.width), round(p.mediabox.height)) for p in reader.pages}
    assert sizes <= {(595, 842), (842, 595)}  # A4 portrait and landscape, in points


def _make_templates() -> Any:
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location(
        "make_templates", ROOT / "report_templates" / "make_templates.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _schema_order() -> dict[str, tuple[str, ...]]:
    return _make_templates().SEQUENCES


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_committed_templates_are_what_the_script_builds(lang: str, tmp_path: Path) -> None:
    """After editing make_templates.py, run it and commit the .docx files."""
    built = _make_templates().build(lang, tmp_path)
    assert built.read_bytes() == default_template(lang).read_bytes()


def test_properties_keep_the_order_word_requires(rendered: dict[str, Path]) -> None:
    """Word refuses a file whose pPr/tblPr/tcPr/rPr children are out of schema order."""
    import zipfile

    from lxml import etree

    order = _schema_order()
    with zipfile.ZipFile(rendered["vi"] / "briefing.docx") as z:
        parts = [
            n for n in z.namelist() if re.fullmatch(r"word/(document|styles|header\d*)\.xml", n)
        ]
        for name in parts:
            root = etree.fromstring(z.read(name))
            for parent, seq in order.items():
                for element in root.iter(qn(parent)):
                    tags = ["w:" + etree.QName(c).localname for c in element]
                    known = [t for t in tags if t in seq]
                    assert known == sorted(known, key=seq.index), (name, parent, tags)


def test_xlsx_sources_carry_the_briefing_numbers(rendered: dict[str, Path]) -> None:
    numbers = trace_numbers(build_context(_data(), ORG, "vi")["trace"])
    wb = load_workbook(rendered["vi"] / "comparison.xlsx")
    rows = list(wb["Nguồn"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1]) for r in rows] == sorted((n, f) for f, n in numbers.items())
    plans = list(wb["Kế hoạch"].iter_rows(values_only=True))
    assert plans[0][6] == "Năm kế hoạch" and plans[1][6] is None  # unknown stays unknown


def test_a_document_without_figures_still_renders() -> None:
    data = _data()
    facts = pd.DataFrame(columns=list(FACT_COLUMNS))
    empty = BriefingInput(
        facts=facts,
        documents=data.documents.head(1),
        comparison=comparison_long(facts, data.documents),
        quarantine=data.quarantine.head(0),
    )
    ctx = build_context(empty, ORG, "vi")
    assert ctx["table"] == [] and ctx["headlines"] == [] and ctx["trace"] == []
    doc = Document(io.BytesIO(render_docx(default_template("vi"), ctx, [])))
    text = _all_text(doc)
    assert "Báo cáo tổng hợp 1 văn bản" in text and "{{" not in text
    assert comparison_xlsx(empty, "vi")


def test_provinces_sort_in_vietnamese_order() -> None:
    from tasks.render import vi_sort_key

    names = ["Cao Bằng", "Bình Thuận", "Bắc Kạn", "Bà Rịa - Vũng Tàu", "Điện Biên", "Đà Nẵng"]
    assert sorted(names + ["Gia Lai", "Ân Thi", "An Giang"], key=vi_sort_key) == [
        "An Giang",
        "Ân Thi",  # â after a
        "Bà Rịa - Vũng Tàu",  # tone marks only break ties
        "Bắc Kạn",  # ă after a
        "Bình Thuận",
        "Cao Bằng",
        "Đà Nẵng",  # đ after every d… word; a before i
        "Điện Biên",
        "Gia Lai",
    ]


def test_long_quality_lists_are_capped_and_say_how_many_more(monkeypatch) -> None:
    from tasks import render

    monkeypatch.setattr(render, "MAX_QUALITY_ITEMS", 3)
    items = [f"doc{i}" for i in range(5)]
    more = render.TEXT["vi"]["more_items"].format(n="{n}", where="facts.csv")
    assert render._capped(items, 5, more) == [
        "doc0",
        "doc1",
        "doc2",
        "… và 2 mục khác (xem facts.csv).",
    ]
    assert render._capped(items[:3], 3, more) == items[:3]


# --- the store path: same briefing, facts read only where printed ------------------------------


def _store_of(data: BriefingInput, path: Path) -> Path:
    from tasks.store import connect

    with connect(path) as con:
        for table, frame, columns in (
            ("documents", data.documents, (*DOCUMENT_COLUMNS, "directions")),
            ("facts", data.facts, FACT_COLUMNS),
        ):
            con.register("_in", frame[list(columns)])
            cols = ", ".join(f'"{c}"' for c in columns)
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _in")
            con.unregister("_in")
    return path


def test_the_store_gives_the_briefing_the_frames_give(tmp_path: Path) -> None:
    from dataclasses import replace

    from tasks.aggregate import StoredFacts, aggregate_store

    data = _data()
    # documents in the store's order (by doc_id), as aggregate_store gives them
    data = replace(data, documents=data.documents.sort_values("doc_id").reset_index(drop=True))
    stored, unknown = aggregate_store(_store_of(data, tmp_path / "s.duckdb"), tmp_path)
    assert isinstance(stored.facts, StoredFacts) and len(stored.facts) == len(data.facts)
    assert unknown == []
    # the store knows no quarantine, duplicates or vague amounts of these hand-made frames
    stored = replace(
        stored, quarantine=data.quarantine, duplicates=data.duplicates, vague=data.vague
    )
    a = render_outputs(data, tmp_path / "frames", ORG, "vi")
    b = render_outputs(stored, tmp_path / "store", ORG, "vi")
    assert a.briefing.read_bytes() == b.briefing.read_bytes()
    assert a.comparison is not None and b.comparison is not None
    assert a.comparison.read_bytes() == b.comparison.read_bytes()
    # DuckDB's COPY (the BOM in the first column's name) writes the bytes pandas writes
    # (facts.csv from the store has two more columns: the analysts' overrides)
    for name in ("facts.csv", "documents.csv"):
        body = (tmp_path / "store" / name).read_bytes()
        assert body.startswith("\ufeff".encode()) and body.count("\ufeff".encode()) == 1
    assert (tmp_path / "store" / "documents.csv").read_bytes() == (
        tmp_path / "frames" / "documents.csv"
    ).read_bytes()
    rows = {
        where: list(
            csv.reader(io.StringIO((tmp_path / where / "facts.csv").read_text("utf-8-sig")))
        )
        for where in ("store", "frames")
    }
    assert rows["store"][0] == [*FACT_COLUMNS, "override", "original_value"]
    # the same rows (the store's in document order), the same text for each field
    assert sorted(r[:-2] for r in rows["store"][1:]) == sorted(rows["frames"][1:])
    assert all(r[-2:] == ["", ""] for r in rows["store"][1:])
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [
        "briefing.docx",
        "comparison.xlsx",
        "documents.csv",
        "facts.csv",
        "quarantine.csv",
    ]


def test_a_template_error_leaves_the_last_outputs_and_no_temporary_file(tmp_path: Path) -> None:
    from dataclasses import replace

    from tasks.aggregate import aggregate_store

    data = _data()
    data = replace(data, documents=data.documents.sort_values("doc_id").reset_index(drop=True))
    stored, _ = aggregate_store(_store_of(data, tmp_path / "s.duckdb"), tmp_path)
    out = tmp_path / "out"
    render_outputs(stored, out, ORG, "vi")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = tmp_path / "broken.docx"
    _custom_template(broken, "{{ no_such_value }}")
    # the CSVs and the workbook are built in threads beside the DOCX: all are thrown away
    with pytest.raises(TemplateError, match="no_such_value"):
        render_outputs(stored, out, ORG, "vi", broken)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_every_figure_in_the_docx_has_a_number_that_quotes_its_sentence(
    rendered: dict[str, Path],
) -> None:
    data = _data()
    ctx = build_context(data, ORG, "vi")
    trace = {s["n"]: s for s in ctx["trace"]}
    doc = Document(str(rendered["vi"] / "briefing.docx"))
    annex = next(
        t
        for t in doc.tables
        if t.rows[0].cells[0].text == "TT" and "Câu nguồn" in [c.text for c in t.rows[0].cells]
    )
    # every year cell of every comparison table (body and province annex) carries its [n]
    tables = [t for t in doc.tables if t.rows[0].cells[0].text == "Chỉ tiêu"]
    assert len(tables) == 1 + len(ctx["province_tables"])
    for table in tables:
        header = [c.text for c in table.rows[0].cells]
        year_cols = [i for i, h in enumerate(header) if h.isdigit()]
        for row in table.rows[1:]:
            for i in year_cols:
                cell = row.cells[i].text
                if cell != "—":
                    n = int(re.fullmatch(r".+ \[(\d+)\]", cell).group(1))
                    assert n in trace
    # and the annex row [n] quotes the sentences of the facts behind it
    sentences = dict(zip(data.facts["fact_id"], data.facts["sentence"], strict=True))
    printed = {int(r.cells[0].text): r.cells[4].text for r in annex.rows[1:]}
    assert set(printed) == set(trace)
    for n, entry in trace.items():
        for fid in entry["fact_ids"]:
            assert f"“{sentences[fid]}”" in printed[n]
    # anywhere in the text (headlines, chart notes, plans, conferences) a [n] is an annex row
    text = _all_text(doc)
    assert "Nguồn số liệu từng năm (Phụ lục II): 2017 [" in text
    assert {int(n) for n in re.findall(r"\[(\d+)\]", text)} <= set(trace)


def test_province_charts_draw_the_annex_figures_of_the_latest_year() -> None:
    from tasks.aggregate import open_briefing, province_sql
    from tasks.render import province_annex_charts, province_chart_pngs

    data = _data()
    with open_briefing(data) as db:
        long = province_sql(db)
        ctx = build_context(data, ORG, "vi", db=db, provinces=long)
    charts = province_chart_pngs(ctx["province_tables"], long, [2017, 2023], "vi")
    # only an indicator with figures of two provinces in its latest year gets a chart
    assert [caption for caption, _ in charts] == [
        'Biểu đồ 1. Mô hình "Dân vận khéo" xây dựng mới: năm 2023, theo địa phương '
        "(số liệu và nguồn: các bảng dưới đây)"
    ]
    assert charts[0][1].startswith(b"\x89PNG")
    assert charts == province_chart_pngs(ctx["province_tables"], long, [2017, 2023], "vi")
    # drawn before the context is built (the render stage's chart thread): the same charts
    for lang in ("vi", "en"):
        ctx_lang = build_context(data, ORG, lang, provinces=long)
        years = [int(y) for y in ctx_lang["years"]]
        assert province_annex_charts(data, long, lang) == province_chart_pngs(
            ctx_lang["province_tables"], long, years, lang
        )
    doc = Document(io.BytesIO(render_docx(default_template("vi"), ctx, [], charts)))
    assert len(doc.inline_shapes) == 1 and charts[0][0] in _all_text(doc)


def test_a_province_figure_quotes_its_first_sentence_and_counts_the_rest() -> None:
    data = _data()
    base = data.facts.iloc[2].to_dict()  # f3: nghe_an_2023, dan_van_kheo_new, 2023
    rows = [{**base, "fact_id": f"na{i}", "value": 1.0} for i in range(4)]
    rows.append({**data.facts.iloc[1].to_dict(), "fact_id": "ht0", "value": 1.0})  # Hà Tĩnh
    many = _with_facts(data, rows)
    ctx = build_context(many, ORG, "vi")
    national = ctx["trace"][int(re.search(r"\[(\d+)\]", ctx["table"][0]["cells"][-1]).group(1)) - 1]
    assert national["count"] == 5 and len(national["fact_ids"]) == 3
    nghe_an = next(t for t in ctx["province_tables"] if t["title"].endswith("Nghệ An"))
    n = int(re.search(r"\[(\d+)\]", nghe_an["rows"][0]["cells"][-1]).group(1))
    entry = ctx["trace"][n - 1]
    assert entry["fact_ids"] == ["na0"] and entry["count"] == 4
    assert entry["sentence"].endswith(
        "(và 3 số liệu khác của ô này: xem facts.csv theo chỉ tiêu, năm, địa phương)"
    )


def test_xlsx_facts_after_the_cited_ones_keep_the_order_even_with_twin_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from tasks import render
    from tasks.aggregate import aggregate_store

    data = _data()
    # a sentence copied twice into one report: its figure has the same id at two places
    base = data.facts.iloc[0].to_dict()
    twins = [
        {**base, "fact_id": "twin", "doc_id": "aaa", "indicator": "other", "start": s}
        for s in (0, 40)
    ]
    facts = pd.concat([data.facts, pd.DataFrame(twins)], ignore_index=True)
    data = replace(
        data,
        facts=facts.astype({"year": "Int64", "start": "Int64", "end": "Int64"}),
        documents=data.documents.sort_values("doc_id").reset_index(drop=True),
    )
    stored, _ = aggregate_store(_store_of(data, tmp_path / "s.duckdb"), tmp_path)
    numbers = trace_numbers(build_context(stored, ORG, "vi")["trace"])
    assert "twin" not in numbers
    # room for the cited facts and one more: the first twin (by place in the text), not both
    monkeypatch.setattr(render, "MAX_XLSX_FACT_ROWS", len(numbers) + 1)
    xlsx = comparison_xlsx(stored, "vi", numbers)
    rows = list(load_workbook(io.BytesIO(xlsx))["Nguồn"].iter_rows(min_row=2, values_only=True))
    assert sorted((r[0], r[1]) for r in rows[: len(numbers)]) == sorted(
        (n, f) for f, n in numbers.items()
    )
    assert rows[len(numbers)][:3] == (None, "twin", "aaa")
    assert rows[-1][0] == f"… và {len(facts) - len(numbers) - 1} dòng khác: xem facts.csv"
    assert len(rows) == len(numbers) + 2


def test_xlsx_province_sheet_cut_says_how_many_rows_are_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a sheet cut at the cap says so, as the fact sheets do: no province row silently dropped
    from tasks import render
    from tasks.aggregate import open_briefing, province_sql

    data = _data()
    with open_briefing(data) as db:
        total = len(province_sql(db))
    assert total > 2
    monkeypatch.setattr(render, "MAX_XLSX_FACT_ROWS", total - 2)
    book = load_workbook(io.BytesIO(comparison_xlsx(data, "en", {})))
    rows = list(book["By province"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == total - 1
    assert rows[-1][0] == "… and 2 more rows: see facts.csv"
    # at the cap exactly: every row, no note
    monkeypatch.setattr(render, "MAX_XLSX_FACT_ROWS", total)
    book = load_workbook(io.BytesIO(comparison_xlsx(data, "en", {})))
    assert book["By province"].max_row == total + 1


# --- the DOCX pipeline's shortcuts: the same results as docxtpl's own steps ---------------------


def test_docx_parsed_in_place_is_the_docx_docxtpl_moves(monkeypatch) -> None:
    # the rendered body is parsed inside the document element (namespaces stripped as lxml
    # strips them when it moves a tree): the bytes are those of docxtpl's parse-then-move,
    # with the charts' own namespace declarations (a:, pic:) too
    from tasks.aggregate import open_briefing, province_sql
    from tasks.render import _lean_template_class, province_annex_charts

    data = _data()
    with open_briefing(data) as db:
        long = province_sql(db)
        ctx = build_context(data, ORG, "vi", db=db, provinces=long)
    charts = chart_pngs(data.comparison, "vi")
    by_province = province_annex_charts(data, long, "vi")
    assert charts and by_province
    cls = _lean_template_class()
    used: list[bool] = []
    parse_whole = cls._parse_whole

    def spy(self: Any, xml: str) -> Any:
        whole = parse_whole(self, xml)
        used.append(whole is not None)
        return whole

    monkeypatch.setattr(cls, "_parse_whole", spy)
    in_place = render_docx(default_template("vi"), ctx, charts, by_province)
    assert used == [True]
    monkeypatch.setattr(cls, "_parse_whole", lambda self, xml: None)
    assert render_docx(default_template("vi"), ctx, charts, by_province) == in_place


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the body's copies of the root's declarations go
        ('<w:body xmlns:w="urn:w" xmlns:r="urn:r"><w:p/></w:body>', "<w:body><w:p/></w:body>"),
        # a new URI stays where it is first declared; a repeat inside it goes
        (
            '<w:body><a:x xmlns:a="urn:a"><a:y xmlns:a="urn:a"/></a:x><a:z xmlns:a="urn:a"/>'
            "</w:body>",
            '<w:body><a:x xmlns:a="urn:a"><a:y/></a:x><a:z xmlns:a="urn:a"/></w:body>',
        ),
        # "xmlns" in text is text
        (
            "<w:body><w:t>xmlns:w=&quot;x&quot;</w:t></w:body>",
            "<w:body><w:t>xmlns:w=&quot;x&quot;</w:t></w:body>",
        ),
        # what lxml would rename or search further for: left to docxtpl's way
        ('<w:body xmlns="urn:w"/>', None),  # a default namespace
        ('<w:body xmlns:ww="urn:w"/>', None),  # the root's URI under another prefix
        ('<w:body><w:x xmlns:w="urn:other"/></w:body>', None),  # a root prefix shadowed
        ('<w:body><a:x xmlns:a="urn:a"><b:y xmlns:b="urn:a"/></a:x></w:body>', None),
        ('<w:body><a:x xmlns:a="urn:a"><a:y xmlns:a="urn:b"/></a:x></w:body>', None),
        ('<w:body><!-- <a:x xmlns:a="urn:a"> --></w:body>', None),  # a comment
    ],
)
def test_moved_namespaces(body: str, expected: str | None) -> None:
    from tasks.render import _moved_namespaces

    assert _moved_namespaces(body, {"w": "urn:w", "r": "urn:r"}) == expected


@pytest.mark.parametrize(
    "xml",
    [
        "<w:p><w:r><w:t>plain</w:t></w:r></w:p>",
        "<w:p><w:r><w:t>a\tb</w:t></w:r></w:p>",  # a tab in text: docxtpl makes it a <w:tab/>
        '<w:p><w:r><w:t xml:space="preserve">line\nend</w:t></w:r></w:p>',
        "<w:p>\n<w:r><w:t>text</w:t></w:r>\n</w:p>",  # line ends between tags only
        "<w:tbl>\n<w:tr/></w:tbl><w:tab/>\f",  # <w:tbl>, <w:tab/> are no text nodes
        '<w:t\txml:space="preserve">x\n</w:t>',  # a tab inside the tag: no match, as the regex
        "<w:t>a</w:t><w:r>\a</w:r>",
    ],
)
def test_listing_text_check_is_the_regex(xml: str) -> None:
    from tasks.render import _LISTING_TEXT, _has_listing_text

    assert _has_listing_text(xml) == bool(_LISTING_TEXT.search(xml))


def test_a_warmed_template_renders_the_same_and_a_bad_one_warms_quietly(tmp_path: Path) -> None:
    from tasks.render import _compiled, _patched, warm_template

    ctx = build_context(_data(), ORG, "vi")
    cold = render_docx(default_template("vi"), ctx)
    _compiled.cache_clear()
    _patched.cache_clear()
    warm_template(default_template("vi"))
    assert _compiled.cache_info().currsize >= 1  # the body (and headers, footers) compiled
    assert render_docx(default_template("vi"), ctx) == cold
    junk = tmp_path / "junk.docx"
    junk.write_bytes(b"not a zip")
    warm_template(junk)  # no error here: render_docx is the one to report it
    with pytest.raises(TemplateError, match="not a Word document"):
        render_docx(junk, ctx)


def test_the_cycle_collector_is_paused_for_the_stage_and_restored() -> None:
    import gc

    from tasks.render import _cycles_collected_after

    assert gc.isenabled()
    with _cycles_collected_after():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # a caller that had paused it keeps it paused
    try:
        with _cycles_collected_after():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
