"""Build the Word templates of the briefing (``briefing_vi.docx``, ``briefing_en.docx``).

The templates are ordinary .docx files with jinja2 tags (docxtpl): a staff officer may open
and restyle them in Word (the styles "Normal", "Heading 1-3", "Caption" carry the look), and
tonghop fills them with ``tasks.render.build_context``. This script only makes the first version
of each, laid out after Decree 30/2020/NĐ-CP, Appendix I:

- A4 portrait, margins top/bottom 20 mm, left 30 mm, right 15 mm; the comparison tables in a
  landscape section (wide tables are allowed there);
- Times New Roman, body 14 pt justified with a 1 cm first-line indent and 6 pt after;
- the header block (parent body, issuing body with a short rule, "Số: …"; national name, motto
  with a rule as long as it, the italic place-and-date line), the document type and summary line;
- page numbers centred in the top margin, none on page 1;
- headings "I. …" as Word heading styles (navigation pane), tables repeating their header row;
- the signature block and "Nơi nhận:" (12 pt bold italic, entries 11 pt);
- annexes "Phụ lục I" (figures by province: one table per province, the top indicators),
  "Phụ lục II" (the source of every figure) and "Phụ lục III" (data quality).

Run it again after changing it, and commit the .docx files:

    .venv/bin/python report_templates/make_templates.py
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph

HERE = Path(__file__).parent
FONT = "Times New Roman"
CENTER = WD_ALIGN_PARAGRAPH.CENTER
JUSTIFY = WD_ALIGN_PARAGRAPH.JUSTIFY
RIGHT = WD_ALIGN_PARAGRAPH.RIGHT
PORTRAIT_TEXT_MM = 210 - 30 - 15  # 165 mm of text width
LANDSCAPE_TEXT_MM = 297 - 30 - 15  # 252 mm

TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "lang": "vi-VN",
        "national": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "motto": "Độc lập - Tự do - Hạnh phúc",
        "number": "Số: ",
        "doc_type": "BÁO CÁO TỔNG HỢP",
        "s_summary": "I. TÓM TẮT",
        "headlines": "Những thay đổi chính:",
        "s_table": "II. SO SÁNH SỐ LIỆU THEO NĂM",
        "table_note": "Số trong ngoặc vuông [n] là số thứ tự nguồn của số liệu ở Phụ lục II; "
        "“—”: không có số liệu; “>”: hơn, “~”: khoảng, gần. Cột tăng/giảm so sánh năm gần "
        "nhất với năm có số liệu liền trước; chỉ tiêu tính bằng % so sánh theo điểm phần trăm.",
        "s_plan": "III. CHỈ TIÊU KẾ HOẠCH",
        "s_charts": "IV. BIỂU ĐỒ",
        "s_conf": "V. CÁC HỘI NGHỊ, VĂN BẢN ĐƯỢC TỔNG HỢP",
        "col_n": "TT",
        "col_indicator": "Chỉ tiêu",
        "col_province": "Địa phương",
        "col_unit": "Đơn vị tính",
        "col_compared": "Năm so sánh",
        "col_change": "Tăng/giảm",
        "col_pct": "Tỷ lệ tăng/giảm",
        "col_doc": "Văn bản",
        "col_plan_year": "Năm kế hoạch",
        "col_value": "Số liệu",
        "col_sentence": "Câu nguồn",
        "doc": "Văn bản",
        "date": "Ngày",
        "chair": "Chủ trì",
        "organiser": "Đơn vị tổ chức",
        "attendees": "Thành phần dự",
        "province": "Địa phương",
        "facts": "a) Kết quả chủ yếu:",
        "plans": "b) Chỉ tiêu kế hoạch:",
        "directions": "c) Phương hướng, nhiệm vụ (trích nguyên văn):",
        "annex": "Kèm theo Báo cáo số {{ org.number }}",
        "annex_provinces": "Phụ lục I",
        "annex_provinces_title": "SỐ LIỆU THEO ĐỊA PHƯƠNG",
        "annex_sources": "Phụ lục II",
        "annex_sources_title": "NGUỒN CỦA CÁC SỐ LIỆU",
        "annex_quality": "Phụ lục III",
        "annex_quality_title": "CHẤT LƯỢNG DỮ LIỆU",
        "quarantine": "1. Tệp không sử dụng được",
        "duplicates": "2. Văn bản trùng lặp",
        "unknown": "3. Văn bản chưa xác định địa phương hoặc năm",
        "other": "4. Số liệu chưa gắn với chỉ tiêu",
        "vague": "5. Số lượng không có con số cụ thể",
        "source_list": "Danh sách văn bản nguồn",
        "recipients": "Nơi nhận:",
        "no_data": "Không có.",
    },
    "en": {
        "lang": "en-GB",
        "national": "SOCIALIST REPUBLIC OF VIETNAM",
        "motto": "Independence - Freedom - Happiness",
        "number": "No.: ",
        "doc_type": "CONSOLIDATED REPORT",
        "s_summary": "I. SUMMARY",
        "headlines": "Main changes:",
        "s_table": "II. YEARLY COMPARISON",
        "table_note": "A number in square brackets [n] is the figure's source in Annex II; "
        "“—”: no figure; “>”: more than, “~”: about. The change compares the latest year with "
        "the previous year that has a figure; percentages change by percentage points.",
        "s_plan": "III. PLAN TARGETS",
        "s_charts": "IV. CHARTS",
        "s_conf": "V. CONFERENCES AND DOCUMENTS CONSOLIDATED",
        "col_n": "No.",
        "col_indicator": "Indicator",
        "col_province": "Province",
        "col_unit": "Unit",
        "col_compared": "Years compared",
        "col_change": "Change",
        "col_pct": "Change (%)",
        "col_doc": "Document",
        "col_plan_year": "Plan year",
        "col_value": "Figure",
        "col_sentence": "Source sentence (Vietnamese)",
        "doc": "Document",
        "date": "Date",
        "chair": "Chaired by",
        "organiser": "Organised by",
        "attendees": "Attended by",
        "province": "Province",
        "facts": "a) Main results:",
        "plans": "b) Plan targets:",
        "directions": "c) Directions (quoted in Vietnamese):",
        "annex": "Attached to report No. {{ org.number }}",
        "annex_provinces": "Annex I",
        "annex_provinces_title": "FIGURES BY PROVINCE",
        "annex_sources": "Annex II",
        "annex_sources_title": "SOURCES OF THE FIGURES",
        "annex_quality": "Annex III",
        "annex_quality_title": "DATA QUALITY",
        "quarantine": "1. Files that could not be used",
        "duplicates": "2. Duplicate documents",
        "unknown": "3. Documents with unknown province or year",
        "other": "4. Figures mapped to no indicator",
        "vague": "5. Amounts without a figure",
        "source_list": "Source documents",
        "recipients": "Recipients:",
        "no_data": "None.",
    },
}


# --- low-level helpers ---------------------------------------------------------------------------

# WordprocessingML fixes the order of the children of these elements (ECMA-376 part 1, 17.3 and
# 17.4); Word refuses a file that breaks it, so new children are inserted in their place.
SEQUENCES: dict[str, tuple[str, ...]] = {
    "w:pPr": (
        "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr",
        "w:widowControl", "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs",
        "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
        "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
        "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
        "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
        "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr",
        "w:pPrChange",
    ),
    "w:tblPr": (
        "w:tblStyle", "w:tblpPr", "w:tblOverlap", "w:bidiVisual", "w:tblStyleRowBandSize",
        "w:tblStyleColBandSize", "w:tblW", "w:jc", "w:tblCellSpacing", "w:tblInd",
        "w:tblBorders", "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption",
        "w:tblDescription", "w:tblPrChange",
    ),
    "w:tcPr": (
        "w:cnfStyle", "w:tcW", "w:gridSpan", "w:hMerge", "w:vMerge", "w:tcBorders", "w:shd",
        "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark",
        "w:headers", "w:cellIns", "w:cellDel", "w:cellMerge", "w:tcPrChange",
    ),
    "w:rPr": (
        "w:rStyle", "w:rFonts", "w:b", "w:bCs", "w:i", "w:iCs", "w:caps", "w:smallCaps",
        "w:strike", "w:dstrike", "w:outline", "w:shadow", "w:emboss", "w:imprint",
        "w:noProof", "w:snapToGrid", "w:vanish", "w:webHidden", "w:color", "w:spacing", "w:w",
        "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:effect", "w:bdr",
        "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang",
        "w:eastAsianLayout", "w:specVanish", "w:oMath",
    ),
}  # fmt: skip


def _insert(parent: Any, child: Any) -> Any:
    """Insert ``child`` into ``parent`` before the first sibling that must follow it."""
    order = SEQUENCES[_prefixed(parent.tag)]
    tag = _prefixed(child.tag)
    for later in order[order.index(tag) + 1 :]:
        found = parent.find(qn(later))
        if found is not None:
            found.addprevious(child)
            return child
    parent.append(child)
    return child


def _prefixed(clark: str) -> str:
    """ "{http://…/main}pPr" -> "w:pPr"."""
    return "w:" + clark.split("}", 1)[1]


def _fonts(element: Any) -> None:
    """Times New Roman for every script, and no theme font (a theme font would win in Word)."""
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = _insert(rpr, OxmlElement("w:rFonts"))
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _run(p: Paragraph, text: str, size: float = 14, bold: bool = False, italic: bool = False):
    run = p.add_run(text)
    run.font.name = FONT
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.italic = italic
    _fonts(run._r)
    return run


def _para(
    container: Any,
    text: str = "",
    *,
    size: float = 14,
    bold: bool = False,
    italic: bool = False,
    align: Any = None,
    indent: bool = False,
    after: float = 6,
    style: str | None = None,
) -> Paragraph:
    p = container.add_paragraph(style=style) if style else container.add_paragraph()
    if text:
        _run(p, text, size, bold, italic)
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Mm(10)
    p.paragraph_format.space_after = Pt(after)
    return p


def _tag(container: Any, tag: str) -> None:
    """A paragraph holding only a docxtpl block tag ({%p … %}); docxtpl removes it."""
    container.add_paragraph(tag)


def _rule(container: Any, width_mm: float, within_mm: float, before: float = 0) -> None:
    """A centred horizontal rule ``width_mm`` long: the bottom border of an empty, tiny
    paragraph indented from both sides of a ``within_mm`` wide column."""
    p = container.add_paragraph()
    side = Mm((within_mm - width_mm) / 2)
    p.paragraph_format.left_indent = side
    p.paragraph_format.right_indent = side
    p.paragraph_format.space_before = Pt(before)
    p.paragraph_format.space_after = Pt(2)
    p.paragraph_format.line_spacing = Pt(2)
    ppr = p._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    _insert(ppr, borders)


def _no_borders(table: Any) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    _insert(table._tbl.tblPr, borders)


def _zero_cell_margins(table: Any) -> None:
    margins = OxmlElement("w:tblCellMar")
    for edge in ("left", "right"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:w"), "0")
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    _insert(table._tbl.tblPr, margins)


def _row_flags(row: Any, header: bool = False) -> None:
    """Rows never split across pages; a header row repeats on every page of the table and is
    shaded light grey."""
    trpr = row._tr.get_or_add_trPr()
    cant = OxmlElement("w:cantSplit")
    trpr.append(cant)
    if header:
        el = OxmlElement("w:tblHeader")
        el.set(qn("w:val"), "true")
        trpr.append(el)
        for cell in row.cells:
            shd = OxmlElement("w:shd")
            for key, value in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", "E7E6E6")):
                shd.set(qn(key), value)
            _insert(cell._tc.get_or_add_tcPr(), shd)


def _widths(table: Any, widths_mm: list[float]) -> None:
    """Fixed column widths (grid and every cell), as Word and LibreOffice both read them."""
    table.autofit = False
    for col, width in zip(table._tbl.tblGrid.iter(qn("w:gridCol")), widths_mm, strict=True):
        col.set(qn("w:w"), str(int(Mm(width).twips)))
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm, strict=True):
            cell.width = Mm(width)


def _cell(
    cell: Any,
    text: str,
    *,
    bold: bool = False,
    size: float = 12,
    align: Any = None,
    italic: bool = False,
) -> None:
    p = cell.paragraphs[0]
    if text:
        _run(p, text, size, bold, italic)
    p.paragraph_format.space_after = Pt(0)
    p.paragraph_format.first_line_indent = Mm(0)
    p.alignment = align if align is not None else WD_ALIGN_PARAGRAPH.LEFT


def _field(run: Any, instruction: str) -> None:
    for kind, text in (("begin", None), (None, instruction), ("end", None)):
        if kind:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)
        else:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)


# --- document parts ------------------------------------------------------------------------------


def _styles(doc: Any, lang_tag: str) -> None:
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    _fonts(normal.element)
    rpr = normal.element.get_or_add_rPr()
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), lang_tag)
    _insert(rpr, lang)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.1
    for name, size, italic, align in (
        ("Heading 1", 14, False, None),
        ("Heading 2", 14, False, None),
        ("Heading 3", 14, True, None),
        ("Title", 14, False, CENTER),
        ("Caption", 12, True, CENTER),
        ("Header", 13, False, CENTER),
    ):
        style = doc.styles[name]
        style.font.name = FONT
        style.font.size = Pt(size)
        style.font.bold = name.startswith(("Heading", "Title"))
        style.font.italic = italic
        style.font.color.rgb = None
        _fonts(style.element)
        rpr = style.element.get_or_add_rPr()
        for el in rpr.findall(qn("w:color")):
            rpr.remove(el)
        if name.startswith("Heading"):
            style.paragraph_format.space_before = Pt(12)
            style.paragraph_format.space_after = Pt(6)
            style.paragraph_format.keep_with_next = True
        if align is not None:
            style.paragraph_format.alignment = align


def _setup_page(section: Any, landscape: bool = False) -> None:
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Mm(297), Mm(210)
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.header_distance = Mm(10)
    section.footer_distance = Mm(10)


def _page_number_header(section: Any) -> None:
    """PAGE centred in the top margin; the first page has its own (empty) header."""
    section.different_first_page_header_footer = True
    p = section.header.paragraphs[0]
    p.style = "Header"
    p.alignment = CENTER
    _field(_run(p, "", 13), "PAGE")


def _header_block(doc: Any, t: dict[str, str]) -> None:
    left_mm, right_mm = 62, 103
    table = doc.add_table(rows=2, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_borders(table)
    _zero_cell_margins(table)
    _widths(table, [left_mm, right_mm])
    left, right = table.rows[0].cells
    _cell(left, "{{ org.parent_body }}", size=13, align=CENTER)
    p = _para(left, "{{ org.issuing_body }}", size=13, bold=True, align=CENTER, after=0)
    _rule(left, 24, left_mm)
    _cell(right, t["national"], bold=True, size=12, align=CENTER)
    _para(right, t["motto"], size=13, bold=True, align=CENTER, after=0)
    _rule(right, 64, right_mm)
    left, right = table.rows[1].cells
    _cell(left, t["number"] + "{{ org.number }}", size=13, align=CENTER)
    _cell(right, "{{ org.place_date }}", size=13, align=CENTER, italic=True)
    for cell in (left, right):
        cell.paragraphs[0].paragraph_format.space_before = Pt(6)
    del p


def _heading(doc: Any, text: str, level: int = 1) -> Paragraph:
    p = doc.add_heading(level=level)
    _run(p, text, 14, True, level == 3)
    return p


def _annex_heading(doc: Any, t: dict[str, str], number: str, title: str) -> None:
    """ "Phụ lục I" and its title, one Heading 1 (one entry in the navigation pane)."""
    p = doc.add_heading(level=1)
    p.alignment = CENTER
    _run(p, t[number], 14, True)
    _run(p, "", 14, True).add_break(WD_BREAK.LINE)
    _run(p, t[title], 14, True)
    _para(doc, "(" + t["annex"] + ")", italic=True, align=CENTER)


def _comparison_table(doc: Any, t: dict[str, str], rows: str, years: str, first: str) -> None:
    """Indicators (or provinces) × years; the year column repeats once per year ({%tc %})."""
    table = doc.add_table(rows=3, cols=8)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    head, loop, body = table.rows
    titles = (
        (0, t[first]),
        (1, t["col_unit"]),
        (5, t["col_compared"]),
        (6, t["col_change"]),
        (7, t["col_pct"]),
    )
    for i, text in titles:
        _cell(head.cells[i], text, bold=True, align=CENTER)
    _cell(head.cells[2], "{%tc for y in " + years + " %}", size=8)
    _cell(head.cells[3], "{{ y }}", bold=True, align=CENTER)
    _cell(head.cells[4], "{%tc endfor %}", size=8)
    _row_flags(head, header=True)
    _cell(loop.cells[0], "{%tr for row in " + rows + " %}", size=8)
    _cell(body.cells[0], "{{ row.label }}")
    _cell(body.cells[1], "{{ row.unit }}", align=CENTER)
    _cell(body.cells[2], "{%tc for v in row.cells %}", size=8)
    _cell(body.cells[3], "{{ v }}", align=RIGHT)
    _cell(body.cells[4], "{%tc endfor %}", size=8)
    _cell(body.cells[5], "{{ row.compared }}", align=CENTER)
    _cell(body.cells[6], "{{ row.change }}", align=RIGHT)
    _cell(body.cells[7], "{{ row.pct }}", align=RIGHT)
    _row_flags(body)
    end = table.add_row()
    _cell(end.cells[0], "{%tr endfor %}", size=8)
    # label, unit, [tc], year, [tc], compared, change, pct: 4 years fill a landscape page,
    # more are scaled to fit by tasks.render.fit_tables
    _widths(table, [49, 24, 4, 26, 4, 23, 26, 24])


def _simple_table(
    doc: Any, header: list[str], cells: list[str], loop: str, widths: list[float], size: float = 12
) -> None:
    """A table with a repeating header row and one row per item of ``loop`` ({%tr %})."""
    table = doc.add_table(rows=3, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        _cell(cell, text, bold=True, align=CENTER, size=size)
    _row_flags(table.rows[0], header=True)
    _cell(table.rows[1].cells[0], "{%tr for " + loop + " %}", size=8)
    for i, text in enumerate(cells):
        _cell(table.rows[2].cells[i], text, size=size, align=CENTER if i == 0 else None)
    _row_flags(table.rows[2])
    row = table.add_row()
    _cell(row.cells[0], "{%tr endfor %}", size=8)
    _widths(table, widths)


def _labelled(doc: Any, label: str, field: str) -> None:
    p = _para(doc, indent=True, align=JUSTIFY, after=3)
    _run(p, f"{label}: ", 14, True)
    _run(p, "{{ " + field + " }}", 14)


def _bullets(doc: Any, items: str, var: str, size: float = 14, italic: bool = False) -> None:
    _tag(doc, "{%p for " + var + " in " + items + " %}")
    _para(doc, "- {{ " + var + " }}", size=size, italic=italic, indent=True, align=JUSTIFY)
    _tag(doc, "{%p endfor %}")


def _signature(doc: Any, t: dict[str, str]) -> None:
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    _zero_cell_margins(table)
    _widths(table, [80, 85])
    _row_flags(table.rows[0])
    left, right = table.rows[0].cells
    _cell(left, t["recipients"], size=12, bold=True, italic=True)
    left.paragraphs[0].paragraph_format.space_before = Pt(12)
    _tag(left, "{%p for r in org.recipients %}")
    _para(left, "- {{ r }}", size=11, after=0)
    _tag(left, "{%p endfor %}")
    _cell(right, "", size=14)
    right.paragraphs[0].paragraph_format.space_before = Pt(12)
    _tag(right, "{%p if org.signer_authority %}")
    _para(right, "{{ org.signer_authority|upper }}", bold=True, align=CENTER, after=0)
    _tag(right, "{%p endif %}")
    _para(right, "{{ org.signer_title|upper }}", bold=True, align=CENTER, after=0)
    for _ in range(4):
        _para(right, "", after=0)
    _para(
        right,
        "{{ (org.signer_rank ~ ' ' ~ org.signer_name)|trim }}",
        bold=True,
        align=CENTER,
        after=0,
    )


def build(lang: str, folder: Path = HERE) -> Path:
    """Write ``briefing_<lang>.docx`` into ``folder`` (beside this script) and return its path."""
    t = TEXTS[lang]
    doc = Document()
    _styles(doc, t["lang"])
    first = doc.sections[0]
    _setup_page(first)
    _page_number_header(first)

    # --- header block, document type, summary line ---
    _header_block(doc, t)
    _para(doc, "", after=0)
    _para(doc, t["doc_type"], bold=True, align=CENTER, after=0)
    _para(doc, "{{ subject }}", bold=True, align=CENTER, after=0)
    _para(doc, "{{ scope }}", italic=True, align=CENTER, after=0)
    _rule(doc, 40, PORTRAIT_TEXT_MM, before=6)
    _para(doc, "", after=0)

    # --- I. summary ---
    _heading(doc, t["s_summary"])
    _tag(doc, "{%p for line in summary %}")
    _para(doc, "{{ line }}", indent=True, align=JUSTIFY)
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p if headlines %}")
    _para(doc, t["headlines"], bold=True, indent=True)
    _bullets(doc, "headlines", "h")
    _tag(doc, "{%p endif %}")

    # --- II. comparison tables, landscape ---
    wide = doc.add_section(WD_SECTION.NEW_PAGE)
    _setup_page(wide, landscape=True)
    wide.different_first_page_header_footer = False
    _heading(doc, t["s_table"])
    _para(doc, t["table_note"], size=12, italic=True, align=JUSTIFY)
    _tag(doc, "{%p if years_note %}")
    _para(doc, "{{ years_note }}", size=12, italic=True, align=JUSTIFY)
    _tag(doc, "{%p endif %}")
    _comparison_table(doc, t, "table", "years", "col_indicator")

    # --- III. plans, IV. charts, V. conferences: portrait again ---
    rest = doc.add_section(WD_SECTION.NEW_PAGE)
    _setup_page(rest)
    rest.different_first_page_header_footer = False
    _heading(doc, t["s_plan"])
    _tag(doc, "{%p if plans %}")
    _simple_table(
        doc,
        [t["col_n"], t["col_doc"], t["col_plan_year"], t["col_indicator"], t["col_value"]],
        ["{{ p.n }}", "{{ p.doc }}", "{{ p.year }}", "{{ p.label }}", "{{ p.value }}"],
        "p in plans",
        [12, 45, 20, 53, 35],
    )
    _tag(doc, "{%p if plans_more %}")
    _para(doc, "{{ plans_more }}", size=12, italic=True, align=JUSTIFY)
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p else %}")
    _para(doc, t["no_data"], indent=True)
    _tag(doc, "{%p endif %}")

    _heading(doc, t["s_charts"])
    _tag(doc, "{%p for chart in charts %}")
    p = _para(doc, "{{ chart.image }}", align=CENTER, after=0)
    p.paragraph_format.keep_with_next = True
    p = _para(doc, "{{ chart.caption }}", style="Caption", italic=True, size=12, align=CENTER)
    p.paragraph_format.keep_with_next = True
    _para(doc, "{{ chart.note }}", italic=True, size=10, align=JUSTIFY)
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p if not charts %}")
    _para(doc, t["no_data"], indent=True)
    _tag(doc, "{%p endif %}")

    _heading(doc, t["s_conf"])
    _tag(doc, "{%p for c in conferences %}")
    _heading(doc, "{{ c.heading }}", 2)
    for key, field in (
        ("doc", "c.doc_id"),
        ("date", "c.date"),
        ("province", "c.province"),
        ("organiser", "c.organiser"),
        ("chair", "c.chair"),
        ("attendees", "c.attendees"),
    ):
        _labelled(doc, t[key], field)
    _tag(doc, "{%p if c.facts %}")
    _para(doc, t["facts"], bold=True, italic=True, indent=True, after=3)
    _bullets(doc, "c.facts", "f")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p if c.plans %}")
    _para(doc, t["plans"], bold=True, italic=True, indent=True, after=3)
    _bullets(doc, "c.plans", "f")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p if c.directions %}")
    _para(doc, t["directions"], bold=True, italic=True, indent=True, after=3)
    _bullets(doc, "c.directions", "d", italic=True)
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p if conferences_more %}")
    _para(doc, "{{ conferences_more }}", italic=True, indent=True, align=JUSTIFY)
    _tag(doc, "{%p endif %}")

    _signature(doc, t)
    _annexes(doc, t)
    path = folder / f"briefing_{lang}.docx"
    core = doc.core_properties
    core.author = core.last_modified_by = "tonghop"
    core.created = core.modified = core.last_printed = datetime(2000, 1, 1)
    core.revision = 1
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_stable_zip(buf.getvalue()))
    return path


def _stable_zip(data: bytes) -> bytes:
    """The same zip with fixed entry times, so that rebuilding an unchanged template gives
    the same bytes (and no noise in git)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _annexes(doc: Any, t: dict[str, str]) -> None:
    provinces = doc.add_section(WD_SECTION.NEW_PAGE)  # provinces × years: a wide page
    _setup_page(provinces, landscape=True)
    provinces.different_first_page_header_footer = False
    _annex_heading(doc, t, "annex_provinces", "annex_provinces_title")
    _tag(doc, "{%p if province_tables %}")
    _para(doc, "{{ province_note }}", size=12, italic=True, align=JUSTIFY)
    _tag(doc, "{%p for chart in province_charts %}")
    p = _para(doc, "{{ chart.image }}", align=CENTER, after=0)
    p.paragraph_format.keep_with_next = True
    _para(doc, "{{ chart.caption }}", style="Caption", italic=True, size=12, align=CENTER)
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p for pt in province_tables %}")
    _heading(doc, "{{ pt.title }}", 2)
    _comparison_table(doc, t, "pt.rows", "pt.years", "col_indicator")
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p else %}")
    _para(doc, t["no_data"], indent=True)
    _tag(doc, "{%p endif %}")

    sources = doc.add_section(WD_SECTION.NEW_PAGE)  # the sentences need a wide page
    _setup_page(sources, landscape=True)
    sources.different_first_page_header_footer = False
    _annex_heading(doc, t, "annex_sources", "annex_sources_title")
    _simple_table(
        doc,
        [t["col_n"], t["col_doc"], t["col_indicator"], t["col_value"], t["col_sentence"]],
        [
            "{{ s.n }}",
            "{{ s.doc }}",
            "{{ s.label }}{% if s.kind %} ({{ s.kind }}){% endif %}",
            "{{ s.value }}",
            "{{ s.sentence }}",
        ],
        "s in trace",
        # 10 pt and the widest column for the sentences: thousands of rows at scale
        [12, 40, 40, 28, 132],
        size=10,
    )
    _heading(doc, t["source_list"], 2)
    _tag(doc, "{%p for s in sources %}")
    _para(doc, "{{ s.n }}. {{ s.source }}: {{ s.desc }}", size=12, after=3)
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p if sources_more %}")
    _para(doc, "{{ sources_more }}", size=12, italic=True, after=3)
    _tag(doc, "{%p endif %}")

    quality = doc.add_section(WD_SECTION.NEW_PAGE)
    _setup_page(quality)
    quality.different_first_page_header_footer = False
    _annex_heading(doc, t, "annex_quality", "annex_quality_title")
    for key, items in (
        ("quarantine", "quality.quarantine"),
        ("duplicates", "quality.duplicates"),
        ("unknown", "quality.unknown"),
        ("other", "quality.other"),
        ("vague", "quality.vague"),
    ):
        _heading(doc, t[key], 2)
        _tag(doc, "{%p for q in " + items + " %}")
        _para(doc, "- {{ q }}", size=12, after=2)
        _tag(doc, "{%p endfor %}")
        _tag(doc, "{%p if not " + items + " %}")
        _para(doc, t["no_data"], size=12)
        _tag(doc, "{%p endif %}")


def main() -> int:
    """Build both templates."""
    for lang in TEXTS:
        print(build(lang))
    return 0


if __name__ == "__main__":
    sys.exit(main())
