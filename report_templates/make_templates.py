"""Build the Word templates of the briefing (``briefing_vi.docx``, ``briefing_en.docx``).

The templates are ordinary .docx files with jinja2 tags (docxtpl): a staff officer may open
and restyle them in Word, and tonghop fills them with ``tasks.render.build_context``. This
script only makes the first version of each, laid out after Decree 30/2020/NĐ-CP (A4, margins
20/20/30/15 mm, Times New Roman 14 pt, header block, page numbers from page 2); run it again
after changing it:

    python report_templates/make_templates.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph

HERE = Path(__file__).parent
FONT = "Times New Roman"

TEXTS = {
    "vi": {
        "national": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "motto": "Độc lập - Tự do - Hạnh phúc",
        "doc_type": "BÁO CÁO",
        "s_summary": "I. TÓM TẮT",
        "s_table": "II. BẢNG SO SÁNH THEO NĂM",
        "s_plan": "III. CHỈ TIÊU KẾ HOẠCH",
        "s_charts": "IV. BIỂU ĐỒ",
        "s_conf": "V. CÁC HỘI NGHỊ",
        "col_indicator": "Chỉ tiêu",
        "col_unit": "Đơn vị",
        "col_change": "Thay đổi so với năm trước",
        "col_doc": "Văn bản",
        "col_value": "Số liệu",
        "date": "Ngày",
        "chair": "Chủ trì",
        "attendees": "Thành phần dự",
        "province": "Địa phương",
        "facts": "Số liệu chính",
        "directions": "Phương hướng, nhiệm vụ",
        "annex_sources": "Phụ lục I",
        "annex_sources_title": "NGUỒN CỦA CÁC SỐ LIỆU",
        "annex_quality": "Phụ lục II",
        "annex_quality_title": "CHẤT LƯỢNG DỮ LIỆU",
        "quarantine": "Tệp không sử dụng được",
        "unknown": "Văn bản chưa xác định địa phương hoặc năm",
        "other": "Số liệu chưa gắn với chỉ tiêu",
        "vague": "Số lượng không có con số cụ thể",
        "duplicates": "Văn bản trùng lặp",
        "source_list": "Danh sách văn bản nguồn",
        "recipients": "Nơi nhận:",
        "no_data": "Không có số liệu.",
    },
    "en": {
        "national": "SOCIALIST REPUBLIC OF VIETNAM",
        "motto": "Independence - Freedom - Happiness",
        "doc_type": "REPORT",
        "s_summary": "I. SUMMARY",
        "s_table": "II. YEARLY COMPARISON",
        "s_plan": "III. PLAN TARGETS",
        "s_charts": "IV. CHARTS",
        "s_conf": "V. CONFERENCES",
        "col_indicator": "Indicator",
        "col_unit": "Unit",
        "col_change": "Change on previous year",
        "col_doc": "Document",
        "col_value": "Figure",
        "date": "Date",
        "chair": "Chaired by",
        "attendees": "Attended by",
        "province": "Province",
        "facts": "Key figures",
        "directions": "Directions",
        "annex_sources": "Annex I",
        "annex_sources_title": "SOURCES OF THE FIGURES",
        "annex_quality": "Annex II",
        "annex_quality_title": "DATA QUALITY",
        "quarantine": "Files that could not be used",
        "unknown": "Documents with unknown province or year",
        "other": "Figures not mapped to an indicator",
        "vague": "Amounts without a figure",
        "duplicates": "Duplicate documents",
        "source_list": "Source documents",
        "recipients": "Recipients:",
        "no_data": "No data.",
    },
}


def _set_font(run_or_style, size: float | None = None, bold: bool | None = None) -> None:
    font = run_or_style.font
    font.name = FONT
    if size:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    element = run_or_style.element if hasattr(run_or_style, "element") else run_or_style._element
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _para(
    container,
    text: str = "",
    *,
    size: float = 14,
    bold: bool = False,
    italic: bool = False,
    align=None,
    style: str | None = None,
    indent: bool = False,
) -> Paragraph:
    p = container.add_paragraph(style=style) if style else container.add_paragraph()
    if text:
        run = p.add_run(text)
        _set_font(run, size, bold)
        run.italic = italic
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Mm(10)
    p.paragraph_format.space_after = Pt(6)
    return p


def _no_borders(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    table._tbl.tblPr.append(borders)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _cell(
    cell, text: str, *, bold: bool = False, size: float = 12, align=None, italic: bool = False
) -> None:
    p = cell.paragraphs[0]
    run = p.add_run(text)
    _set_font(run, size, bold)
    run.italic = italic
    if align is not None:
        p.alignment = align


def _page_number_header(section) -> None:
    section.different_first_page_header_footer = True
    p = section.header.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run()
    _set_font(run, 13)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)
        else:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)


def _styles(doc) -> None:
    normal = doc.styles["Normal"]
    _set_font(normal, 14)
    normal.paragraph_format.space_after = Pt(6)
    for name, size in (("Heading 1", 14), ("Heading 2", 14), ("Title", 14)):
        style = doc.styles[name]
        _set_font(style, size, True)
        style.font.color.rgb = None
        style.font.italic = False
        style.paragraph_format.space_before = Pt(12)
        style.paragraph_format.space_after = Pt(6)


def _setup_page(section) -> None:
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.header_distance = Mm(10)


def _header_block(doc, t: dict[str, str]) -> None:
    table = doc.add_table(rows=2, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _no_borders(table)
    left, right = table.rows[0].cells
    center = WD_ALIGN_PARAGRAPH.CENTER
    _cell(left, "{{ org.parent_body|upper }}", size=13, align=center)
    p = left.add_paragraph()
    p.alignment = center
    run = p.add_run("{{ org.issuing_body|upper }}")
    _set_font(run, 13, True)
    p = left.add_paragraph("―――――")
    p.alignment = center
    _cell(right, t["national"], bold=True, size=12, align=center)
    p = right.add_paragraph()
    p.alignment = center
    run = p.add_run(t["motto"])
    _set_font(run, 13, True)
    p = right.add_paragraph("―――――――――――――――")
    p.alignment = center
    left, right = table.rows[1].cells
    _cell(
        left,
        "Số: {{ org.number }}" if t is TEXTS["vi"] else "No.: {{ org.number }}",
        size=13,
        align=center,
    )
    _cell(right, "{{ org.place_date }}", size=13, align=center, italic=True)
    for row in table.rows:
        row.cells[0].width, row.cells[1].width = Mm(62), Mm(103)


def _heading(doc, text: str, level: int = 1) -> None:
    p = doc.add_heading(level=level)
    run = p.add_run(text)
    _set_font(run, 14, True)


def build(lang: str) -> Path:
    """Write ``briefing_<lang>.docx`` beside this script and return its path."""
    t = TEXTS[lang]
    doc = Document()
    _styles(doc)
    _setup_page(doc.sections[0])
    _page_number_header(doc.sections[0])
    _header_block(doc, t)
    center = WD_ALIGN_PARAGRAPH.CENTER
    _para(doc, t["doc_type"], bold=True, align=center)
    _para(doc, "{{ title }}", bold=True, align=center)
    _para(doc, "{{ scope }}", italic=True, align=center)
    _para(doc, "―――――", align=center)

    _heading(doc, t["s_summary"])
    _para(doc, "{%p for line in summary %}")
    _para(doc, "{{ line }}", indent=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _para(doc, "{%p endfor %}")

    _heading(doc, t["s_table"])
    _comparison_table(doc, t, "table", "years")
    _para(doc, "{%p if province_tables %}")
    _para(doc, "{%p for pt in province_tables %}")
    _heading(doc, "{{ pt.title }}", 2)
    _comparison_table(doc, t, "pt.rows", "pt.years")
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p endif %}")

    _heading(doc, t["s_plan"])
    _para(doc, "{%p if plans %}")
    table = doc.add_table(rows=3, cols=3)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells, (t["col_doc"], t["col_indicator"], t["col_value"]), strict=True
    ):
        _cell(cell, text, bold=True, align=center)
    _repeat_header(table.rows[0])
    _cell(table.rows[1].cells[0], "{%tr for p in plans %}")
    _cell(table.rows[2].cells[0], "{{ p.doc }}")
    _cell(table.rows[2].cells[1], "{{ p.label }}")
    _cell(table.rows[2].cells[2], "{{ p.value }}")
    row = table.add_row()
    _cell(row.cells[0], "{%tr endfor %}")
    _para(doc, "{%p else %}")
    _para(doc, t["no_data"], indent=True)
    _para(doc, "{%p endif %}")

    _heading(doc, t["s_charts"])
    _para(doc, "{%p for chart in charts %}")
    _para(doc, "{{ chart.image }}", align=center)
    _para(doc, "{{ chart.caption }}", italic=True, size=12, align=center)
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p if not charts %}")
    _para(doc, t["no_data"], indent=True)
    _para(doc, "{%p endif %}")

    _heading(doc, t["s_conf"])
    _para(doc, "{%p for c in conferences %}")
    _heading(doc, "{{ c.heading }}", 2)
    for key, field in (
        ("date", "c.date"),
        ("province", "c.province"),
        ("chair", "c.chair"),
        ("attendees", "c.attendees"),
    ):
        p = _para(doc, indent=True)
        run = p.add_run(f"{t[key]}: ")
        _set_font(run, 14, True)
        run = p.add_run("{{ " + field + " }}")
        _set_font(run, 14)
    p = _para(doc, indent=True)
    run = p.add_run(f"{t['facts']}:")
    _set_font(run, 14, True)
    _para(doc, "{%p for f in c.facts %}")
    _para(doc, "- {{ f }}", indent=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p if c.directions %}")
    p = _para(doc, indent=True)
    run = p.add_run(f"{t['directions']}:")
    _set_font(run, 14, True)
    _para(doc, "{%p for d in c.directions %}")
    _para(doc, "- {{ d }}", indent=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p endif %}")
    _para(doc, "{%p endfor %}")

    _signature(doc, t)
    _annexes(doc, t)
    path = HERE / f"briefing_{lang}.docx"
    doc.save(path)
    return path


def _comparison_table(doc, t: dict[str, str], rows: str, years: str) -> None:
    center = WD_ALIGN_PARAGRAPH.CENTER
    table = doc.add_table(rows=3, cols=6)
    table.style = "Table Grid"
    head, loop, body = table.rows
    _cell(head.cells[0], t["col_indicator"], bold=True, align=center)
    _cell(head.cells[1], t["col_unit"], bold=True, align=center)
    _cell(head.cells[2], "{%tc for y in " + years + " %}")
    _cell(head.cells[3], "{{ y }}", bold=True, align=center)
    _cell(head.cells[4], "{%tc endfor %}")
    _cell(head.cells[5], t["col_change"], bold=True, align=center)
    _repeat_header(head)
    _cell(loop.cells[0], "{%tr for row in " + rows + " %}")
    _cell(body.cells[0], "{{ row.label }}")
    _cell(body.cells[1], "{{ row.unit }}", align=center)
    _cell(body.cells[2], "{%tc for v in row.cells %}")
    _cell(body.cells[3], "{{ v }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    _cell(body.cells[4], "{%tc endfor %}")
    _cell(body.cells[5], "{{ row.change }}", align=center)
    end = table.add_row()
    _cell(end.cells[0], "{%tr endfor %}")


def _signature(doc, t: dict[str, str]) -> None:
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    left, right = table.rows[0].cells
    p = left.paragraphs[0]
    run = p.add_run(t["recipients"])
    _set_font(run, 12, True)
    run.italic = True
    _cell(left, "", size=11)
    p = left.add_paragraph("{%p for r in org.recipients %}")
    p = left.add_paragraph()
    run = p.add_run("- {{ r }}")
    _set_font(run, 11)
    left.add_paragraph("{%p endfor %}")
    center = WD_ALIGN_PARAGRAPH.CENTER
    _cell(right, "{{ org.signer_title|upper }}", bold=True, size=14, align=center)
    for _ in range(3):
        right.add_paragraph()
    p = right.add_paragraph()
    p.alignment = center
    run = p.add_run("{{ org.signer_name }}")
    _set_font(run, 14, True)


def _annexes(doc, t: dict[str, str]) -> None:
    center = WD_ALIGN_PARAGRAPH.CENTER
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    _setup_page(section)
    _heading(doc, t["annex_sources"])
    _para(doc, t["annex_sources_title"], bold=True, align=center)
    table = doc.add_table(rows=3, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells,
        ("#", t["col_doc"], t["col_value"], "Câu nguồn" if t is TEXTS["vi"] else "Source sentence"),
        strict=True,
    ):
        _cell(cell, text, bold=True, align=center)
    _repeat_header(table.rows[0])
    _cell(table.rows[1].cells[0], "{%tr for s in trace %}")
    _cell(table.rows[2].cells[0], "{{ s.n }}", size=11)
    _cell(table.rows[2].cells[1], "{{ s.doc }}", size=11)
    _cell(table.rows[2].cells[2], "{{ s.value }}", size=11)
    _cell(table.rows[2].cells[3], "{{ s.sentence }}", size=11)
    row = table.add_row()
    _cell(row.cells[0], "{%tr endfor %}")
    _heading(doc, t["source_list"], 2)
    _para(doc, "{%p for s in sources %}")
    _para(doc, "{{ s.n }}. {{ s.doc_id }} ({{ s.source }}): {{ s.title }}", size=12)
    _para(doc, "{%p endfor %}")

    _heading(doc, t["annex_quality"])
    _para(doc, t["annex_quality_title"], bold=True, align=center)
    for key, items in (
        ("quarantine", "quality.quarantine"),
        ("duplicates", "quality.duplicates"),
        ("unknown", "quality.unknown"),
        ("other", "quality.other"),
        ("vague", "quality.vague"),
    ):
        _heading(doc, t[key], 2)
        _para(doc, "{%p for q in " + items + " %}")
        _para(doc, "- {{ q }}", size=12)
        _para(doc, "{%p endfor %}")
        _para(doc, "{%p if not " + items + " %}")
        _para(doc, t["no_data"], size=12)
        _para(doc, "{%p endif %}")


def main() -> int:
    """Build both templates."""
    for lang in TEXTS:
        print(build(lang))
    return 0


if __name__ == "__main__":
    sys.exit(main())
