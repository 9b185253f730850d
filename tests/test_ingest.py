"""Ingest: every format and encoding gives the seed's facts; bad input is quarantined, not lost.

Fixtures are made here, in ``tmp_path``, from the seeds: Word, web page, PDF, JSON and archive
copies, the legacy encodings, and broken files of every kind.
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import json
import os
import random
import re
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from docx import Document
from hypothesis import given
from hypothesis import strategies as st

from tasks.encodings import encode_cp1258, encode_tcvn3, encode_vni
from tasks.extract import extract_doc
from tasks.ingest import (
    _COPY_SEEDS,
    _HASH_SEED,
    BANDS,
    NUM_PERM,
    SHINGLE,
    Deduplicator,
    band_keys,
    id_segment,
    ingest_folder,
    list_sources,
    minhash,
    read_path,
    read_source,
    relative_posix,
    sorted_unique,
    word_bounds,
)
from tasks.normalize import normalize_doc
from tasks.readers import UnreadableError
from tasks.records import SourceDoc
from tests.conftest import SEEDS

SEED_FILES = sorted(SEEDS.glob("*.txt"))


def seed_text(path: Path) -> str:
    return unicodedata.normalize("NFC", path.read_text(encoding="utf-8"))


def facts(doc: SourceDoc) -> list[tuple[float, str, float | None]]:
    """What the rest of the pipeline makes of a document: its (value, unit, denominator)s."""
    extraction = extract_doc(normalize_doc(doc))
    return sorted(((f.value, f.unit, f.denominator) for f in extraction.facts), key=repr)


def seed_facts(path: Path) -> list[tuple[float, str, float | None]]:
    return facts(SourceDoc(path.stem, path.name, seed_text(path)))


# --- fixture makers --------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def docx_bytes(text: str, title: str = "") -> bytes:
    doc = Document()
    for line in paragraphs(text):
        doc.add_paragraph(line)
    doc.core_properties.title = title
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


NAV = "".join(f'<li><a href="/c{i}">Chuyên mục {i}</a></li>' for i in range(1, 9))
# navigation, asides and footers hold figures too: if they leaked, the facts would differ
PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} | Báo Quân khu 4</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2023-12-20T08:00:00+07:00">
<link rel="canonical" href="https://baoqk4.example.vn/tin/123.html">
<style>.x {{ width: 300px }}</style></head>
<body><header class="site-header"><div class="logo">Báo Quân khu 4 - 35 năm</div>
<nav><ul>{nav}</ul></nav></header>
<div class="wrap"><div class="main-col">{open}<div class="content">{body}</div>{close}</div>
<aside class="sidebar"><h3>Tin liên quan</h3><ul>
<li><a href="/x">Năm 2023 tuyển 1.200 chiến sĩ mới</a></li>
<li><a href="/y">Hơn 300 mô hình dân vận khéo</a></li></ul></aside></div>
<div class="box-related"><p>Đọc thêm: 250 cán bộ được khen thưởng trong năm 2022 tại nhiều tỉnh.</p>
</div>
<footer><p>© 2023 Báo Quân khu 4. Giấy phép số 123/GP-BTTTT. Điện thoại: 0238 3844 555.
Tổng biên tập: Đại tá Nguyễn Văn A, cùng 45 phóng viên.</p></footer>
<script>var views = 12345; document.write("5 tin mới");</script></body></html>"""


def html_bytes(text: str, title: str = "Hội nghị tổng kết", article: bool = True) -> bytes:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in paragraphs(text))
    tags = ("<article>", "</article>") if article else ('<div id="bai-viet">', "</div>")
    page = PAGE.format(title=title, nav=NAV, body=body, open=tags[0], close=tags[1])
    return page.encode("utf-8")


@functools.lru_cache(maxsize=4)  # matplotlib takes seconds: one PDF per seed and kind
def pdf_bytes(text: str, scan: bool = False) -> bytes:
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [w for line in paragraphs(text) for w in textwrap.wrap(line, 95)]
    buf = io.BytesIO()
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(buf) as pdf:
        for start in range(0, len(lines), 60):
            fig = plt.figure(figsize=(8.27, 11.69))
            if scan:  # a page that is a picture: no text layer
                fig.figimage([[0.2, 0.8], [0.8, 0.2]], resize=False)
                pdf.savefig(fig)
                plt.close(fig)
                continue
            for i, line in enumerate(lines[start : start + 60]):
                fig.text(0.04, 0.97 - i * 0.016, line, fontsize=7)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()


def tiny_pdf(line: str) -> bytes:
    """A one-page PDF with one line of ASCII text in Helvetica, its xref table included."""
    stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode("ascii")
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>stream\n" % len(stream) + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj" % i + body + b"endobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_bomb() -> bytes:
    # 40 MB of zeros compress to ~40 KB: a ratio of ~1000
    return zip_bytes({"report.txt": b"\0" * (40 * 1024 * 1024)})


def noise(n: int = 4000, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def tree_hash(folder: Path) -> str:
    """Names, modes, times and bytes of everything in ``folder``."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(os.fsencode(folder)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            st = os.lstat(path)
            h.update(path + repr((st.st_mode, st.st_size, st.st_mtime_ns)).encode())
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's acceptance folder: each seed in one format, a duplicate, bad files."""
    folder = tmp_path_factory.mktemp("mixed")
    s = [seed_text(p) for p in SEED_FILES]
    stems = [p.stem for p in SEED_FILES]
    (folder / f"{stems[0]}.docx").write_bytes(docx_bytes(s[0]))
    (folder / f"{stems[1]}.html").write_bytes(html_bytes(s[1]))
    (folder / f"{stems[2]}.txt").write_bytes(encode_cp1258(s[2]))
    (folder / f"{stems[3]}.txt").write_bytes(s[3].encode("utf-16"))
    (folder / f"{stems[4]}.txt").write_bytes(b"\xef\xbb\xbf" + s[4].encode("utf-8"))
    (folder / "zz_copy.txt").write_bytes(s[4].encode("utf-8"))  # same text, no BOM
    (folder / "empty.txt").write_bytes(b"")
    (folder / "noise.txt").write_bytes(noise())
    (folder / "corrupt.docx").write_bytes(docx_bytes(s[0])[:3000])
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + noise(2000, 3) + b"\n%%EOF\n")
    (folder / "truncated.pdf").write_bytes(pdf_bytes(s[0])[:20000])
    (folder / "bomb.zip").write_bytes(zip_bomb())
    return folder


EXPECTED_REASONS = {
    "empty.txt": "empty file",
    "noise.txt": "binary noise",
    "corrupt.docx": "corrupt or truncated DOCX",
    "corrupt.pdf": "corrupt or truncated PDF",
    "truncated.pdf": "truncated PDF",
    "bomb.zip": "zip bomb refused",
}


# --- the acceptance folder -------------------------------------------------------------------


def test_each_converted_copy_gives_its_seeds_facts(mixed: Path) -> None:
    before = tree_hash(mixed)
    result = ingest_folder(mixed)
    assert tree_hash(mixed) == before  # nothing in the source folder changed
    by_id = {d.doc_id: d for d in result.sources}
    assert sorted(by_id) == [p.stem for p in SEED_FILES]
    for path in SEED_FILES:
        expected = seed_facts(path)
        assert expected, path.name
        assert facts(by_id[path.stem]) == expected, by_id[path.stem].source


def test_duplicate_counted_once_and_bad_files_quarantined(mixed: Path) -> None:
    result = ingest_folder(mixed)
    assert result.duplicates == [("zz_copy.txt", f"{SEED_FILES[4].stem}.txt", "exact")]
    reasons = {q.source: q.reason for q in result.quarantined}
    assert set(reasons) == set(EXPECTED_REASONS)
    for name, words in EXPECTED_REASONS.items():
        assert words in reasons[name], (name, reasons[name])


def test_html_metadata_and_no_page_furniture(mixed: Path) -> None:
    doc = read_path(mixed / f"{SEED_FILES[1].stem}.html", mixed).docs[0]
    assert doc.title == "Hội nghị tổng kết"
    assert doc.meta_value("published") == "2023-12-20"
    assert doc.meta_value("url") == "https://baoqk4.example.vn/tin/123.html"
    for furniture in ("Chuyên mục", "Tin liên quan", "Giấy phép", "views", "Đọc thêm", "35 năm"):
        assert furniture not in doc.text


def test_html_without_article_tag_finds_the_densest_block() -> None:
    from tasks.readers import read_bytes

    seed = SEED_FILES[1]
    part = read_bytes("page.html", html_bytes(seed_text(seed), article=False))[0]
    assert facts(SourceDoc("x", "x", part.text)) == seed_facts(seed)
    assert "Chuyên mục" not in part.text and "Giấy phép" not in part.text


def test_html_keeps_the_articles_own_header_and_content_named_like_furniture() -> None:
    from tasks.readers import read_bytes

    seed = SEED_FILES[2]
    body = "".join(f"<p>{html.escape(line)}</p>" for line in paragraphs(seed_text(seed)))
    lead = "(QĐND) - Năm 2023, toàn tỉnh đã tuyển chọn 1.234 công dân nhập ngũ."
    page = (
        f"<html><body><header><nav><a href='/'>Trang chủ</a></nav></header><article><header>"
        f"<h1>Tổng kết</h1><p class='sapo'>{lead}</p></header>"
        f"<div class='main-content has-sidebar'>{body}</div></article></body></html>"
    )
    part = read_bytes("p.html", page.encode())[0]
    assert lead in part.text and "Trang chủ" not in part.text
    got = facts(SourceDoc("x", "x", part.text))
    assert (1234.0, "công dân", None) in got
    assert all(f in got for f in seed_facts(seed))


def test_html_with_stray_control_bytes_is_still_read() -> None:
    from tasks.readers import read_bytes

    seed = SEED_FILES[1]
    page = html_bytes(seed_text(seed)).replace(b"<article>", b"<article>\x00\x01")
    part = read_bytes("p.html", page)[0]
    assert facts(SourceDoc("x", "x", part.text)) == seed_facts(seed)


def test_html_of_bare_divs_finds_the_text_block() -> None:
    from tasks.readers import read_bytes

    seed = SEED_FILES[2]
    body = "".join(f"<div>{html.escape(line)}</div>" for line in paragraphs(seed_text(seed)))
    page = (
        "<html><body><div class='top'><a href='/'>Trang chủ</a> | <a href='/qp'>Quốc phòng</a>"
        f"</div><div>{body}</div><div class='bottom'>Bản quyền 2023, 45 phóng viên</div>"
        "</body></html>"
    )
    part = read_bytes("p.html", page.encode())[0]
    assert facts(SourceDoc("x", "x", part.text)) == seed_facts(seed)
    assert "Trang chủ" not in part.text and "Bản quyền" not in part.text


def test_html_title_falls_back_to_h1_then_title() -> None:
    from tasks.readers import html_main_text

    body = "<p>" + "Nội dung bài viết về hội nghị tổng kết năm. " * 10 + "</p>"
    _, title, _ = html_main_text(f"<html><head><title>T | Báo</title></head><body><h1>Tiêu đề"
                                 f"</h1>{body}</body></html>")  # fmt: skip
    assert title == "Tiêu đề"
    _, title, _ = html_main_text(f"<html><head><title>Chỉ title</title></head><body>{body}</body>")
    assert title == "Chỉ title"


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEED_FILES, ids=lambda p: p.stem[:3])
@pytest.mark.parametrize("encoding", ["tcvn3", "vni", "cp1258", "utf-16-le", "mojibake"])
def test_legacy_and_broken_encodings_give_the_seeds_facts(
    seed: Path, encoding: str, tmp_path: Path
) -> None:
    text = seed_text(seed)
    data = {
        "tcvn3": encode_tcvn3,
        "vni": encode_vni,
        "cp1258": encode_cp1258,
        "utf-16-le": lambda t: t.encode("utf-16-le"),  # no BOM: told by its NUL bytes
        # UTF-8 read as Windows-1252 and saved again as UTF-8 ("Ä‘á»“ng")
        "mojibake": lambda t: as_windows_1252(t.encode("utf-8")).encode("utf-8"),
    }[encoding](text)
    (tmp_path / f"{seed.stem}.txt").write_bytes(data)
    doc = read_source(tmp_path / f"{seed.stem}.txt", tmp_path)
    assert facts(doc) == seed_facts(seed)


def as_windows_1252(data: bytes) -> str:
    """Bytes shown as Windows shows them in code page 1252: the five bytes it leaves undefined
    (0x81, 0x8d, 0x8f, 0x90, 0x9d) as the C1 controls of the same number."""
    return "".join(
        chr(b) if b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([b]).decode("cp1252") for b in data
    )


VOWELS = "aăâeêioôơuưy"
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
LETTERS = [unicodedata.normalize("NFC", v + t) for v in VOWELS for t in TONES] + ["đ"]


@pytest.mark.parametrize("letter", LETTERS + [c.upper() for c in LETTERS])
def test_every_letter_round_trips_through_the_legacy_charts(letter: str) -> None:
    from tasks.encodings import decode_cp1258, decode_tcvn3, decode_vni

    word = f"x{letter}x"
    assert decode_vni(encode_vni(word)) == word
    assert decode_cp1258(encode_cp1258(word)) == word
    # TCVN3 writes toned capitals with the lower-case codes (the .VnTimeH font drew them)
    kept = letter.isascii() or letter.lower() == letter or letter in "ĂÂĐÊÔƠƯ"
    expected = word if kept else word.lower()
    assert decode_tcvn3(encode_tcvn3(word)) == expected
    # ... and a word all in capitals comes back in capitals
    if not letter.isascii():
        assert decode_tcvn3(encode_tcvn3(f"XX{letter}X")) == f"XX{letter.upper()}X"


def test_utf8_with_a_few_damaged_bytes_is_still_read(tmp_path: Path) -> None:
    seed = SEED_FILES[1]
    data = bytearray(seed_text(seed).encode("utf-8"))
    data[len(data) // 3] = 0xFF  # one damaged byte
    (tmp_path / "d.txt").write_bytes(bytes(data))
    doc = read_source(tmp_path / "d.txt", tmp_path)
    assert doc.text.count("\ufffd") <= 3
    assert len(set(facts(doc)) ^ set(seed_facts(seed))) <= 2  # at most the damaged figure


def test_markdown_marks_are_removed(tmp_path: Path) -> None:
    seed = SEED_FILES[0]
    lines = paragraphs(seed_text(seed))
    marked = [f"# {lines[0]}", *lines[1:]]
    marked = [re.sub(r"(\d[\d.,]*\d|\d)", r"**\1**", line) for line in marked]
    marked.append("[Bài gốc](https://baoqk4.example.vn/tin/123.html)")
    (tmp_path / "m.md").write_text("\n\n".join(marked), encoding="utf-8")
    doc = read_source(tmp_path / "m.md", tmp_path)
    assert "**" not in doc.text and "](" not in doc.text and not doc.text.startswith("#")
    assert facts(doc) == seed_facts(seed)


def test_word_file_typed_in_a_tcvn3_font_is_repaired(tmp_path: Path) -> None:
    # .VnTime documents keep TCVN3 bytes as Windows-1252 letters: "Héi nghÞ"; one paragraph
    # in a Unicode font beside them must stay as it is
    seed = SEED_FILES[3]
    lines = paragraphs(seed_text(seed))
    legacy = [encode_tcvn3(line).decode("cp1252", "replace") for line in lines[1:]]
    (tmp_path / "vntime.docx").write_bytes(docx_bytes("\n".join([lines[0], *legacy])))
    doc = read_source(tmp_path / "vntime.docx", tmp_path)
    assert doc.text.splitlines()[0] == lines[0]
    assert facts(doc) == seed_facts(seed)


def test_unknown_encoding_is_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "jp.txt").write_bytes(("日本語のテキストです。" * 30).encode("shift_jis"))
    with pytest.raises(UnreadableError, match="unknown text encoding"):
        read_path(tmp_path / "jp.txt", tmp_path)


# --- other formats ---------------------------------------------------------------------------


def test_pdf_text_layer_gives_the_seeds_facts_and_a_scan_is_refused(tmp_path: Path) -> None:
    seed = SEED_FILES[0]
    (tmp_path / "a.pdf").write_bytes(pdf_bytes(seed_text(seed)))
    doc = read_source(tmp_path / "a.pdf", tmp_path)
    assert facts(doc) == seed_facts(seed)
    (tmp_path / "scan.pdf").write_bytes(pdf_bytes(seed_text(seed), scan=True))
    with pytest.raises(UnreadableError, match="without a text layer"):
        read_path(tmp_path / "scan.pdf", tmp_path)


def test_docx_tables_are_read_in_order(tmp_path: Path) -> None:
    doc = Document()
    doc.add_paragraph("Kết quả năm 2023 của các đơn vị trong tỉnh như sau:")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Mô hình", "3.340"
    table.cell(1, 0).text, table.cell(1, 1).text = "Điểm sáng", "147"
    doc.add_paragraph("Hội nghị đã biểu dương các tập thể.")
    doc.save(str(tmp_path / "t.docx"))
    text = read_source(tmp_path / "t.docx", tmp_path).text
    assert text.splitlines() == [
        "Kết quả năm 2023 của các đơn vị trong tỉnh như sau:",
        "Mô hình\t3.340",
        "Điểm sáng\t147",
        "Hội nghị đã biểu dương các tập thể.",
    ]


def test_json_and_jsonl_exports(tmp_path: Path) -> None:
    seed = SEED_FILES[2]
    record = {
        "title": "Hội nghị",
        "published": "20/12/2023",
        "url": "https://x.vn/1",
        "body": seed_text(seed),
    }
    (tmp_path / "one.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    got = read_path(tmp_path / "one.json", tmp_path)
    assert [d.doc_id for d in got.docs] == ["one"]
    assert got.docs[0].meta_value("published") == "2023-12-20"
    assert facts(got.docs[0]) == seed_facts(seed)
    html_body = {"title": {"rendered": "Tin"}, "content": {"rendered": "<p>" + "<p>".join(
        html.escape(line) for line in paragraphs(seed_text(seed)))}}  # fmt: skip
    lines = [
        json.dumps(record, ensure_ascii=False),
        "{not json",
        json.dumps({"title": "no body"}),
        "",
        json.dumps(html_body, ensure_ascii=False),
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines), encoding="utf-8")
    got = read_path(tmp_path / "feed.jsonl", tmp_path)
    assert [d.doc_id for d in got.docs] == ["feed#1", "feed#5"]
    assert [d.source for d in got.docs] == ["feed.jsonl#1", "feed.jsonl#5"]
    assert facts(got.docs[1]) == seed_facts(seed)
    assert [(q.source, q.reason.split(":")[0]) for q in got.quarantined] == [
        ("feed.jsonl#2", "line 2"),
        ("feed.jsonl#3", "line 3"),
    ]
    assert "invalid JSON" in got.quarantined[0].reason
    assert "no body" in got.quarantined[1].reason


def test_zip_members_are_read_in_memory_with_manifest_values(tmp_path: Path) -> None:
    s0, s1 = seed_text(SEED_FILES[0]), seed_text(SEED_FILES[1])
    inner = zip_bytes({"c.txt": s1.encode("utf-16")})
    members = {
        "bao cao/a.docx": docx_bytes(s0, title="Tiêu đề"),
        "b.html": html_bytes(s1),
        "../../evil.txt": b"escape attempt " * 10,
        "/abs.txt": b"absolute " * 10,
        "bad.docx": b"PK\x03\x04 truncated",
        "inner.zip": inner,
    }
    (tmp_path / "reports.zip").write_bytes(zip_bytes(members))
    (tmp_path / "manifest.csv").write_text(
        "file,province,url\nreports.zip,Nghệ An,\nreports.zip/b.html,Hà Tĩnh,https://m.vn/b\n",
        encoding="utf-8",
    )
    before = tree_hash(tmp_path)
    result = ingest_folder(tmp_path)
    assert tree_hash(tmp_path) == before
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()
    by_id = {d.doc_id: d for d in result.sources}
    assert sorted(by_id) == ["reports/b", "reports/bao_cao/a"]  # inner.zip/c: same text as b
    assert by_id["reports/bao_cao/a"].source == "reports.zip/bao cao/a.docx"
    assert by_id["reports/bao_cao/a"].title == "Tiêu đề"
    assert by_id["reports/bao_cao/a"].meta_value("province") == "Nghệ An"
    assert by_id["reports/b"].meta_value("province") == "Hà Tĩnh"  # the member's row wins
    assert by_id["reports/b"].meta_value("url") == "https://m.vn/b"  # over the page's own
    assert by_id["reports/b"].meta_value("published") == "2023-12-20"  # from the page
    assert facts(by_id["reports/bao_cao/a"]) == seed_facts(SEED_FILES[0])
    assert result.duplicates == [("reports.zip/inner.zip/c.txt", "reports.zip/b.html", "exact")]
    reasons = {q.source: q.reason for q in result.quarantined}
    assert "unsafe member path" in reasons["reports.zip/../../evil.txt"]
    assert "unsafe member path" in reasons["reports.zip//abs.txt"]
    assert "corrupt or truncated DOCX" in reasons["reports.zip/bad.docx"]


def test_zip_limits(tmp_path: Path) -> None:
    from tasks.readers import Limits, read_bytes

    many = zip_bytes({f"{i}.txt": b"x" for i in range(30)})
    with pytest.raises(UnreadableError, match="zip bomb refused: .* 30 members"):
        read_bytes("a.zip", many, Limits(max_members=20))
    big = zip_bytes({"a.txt": b"a" * 5000, "b.txt": b"b" * 5000})
    with pytest.raises(UnreadableError, match="would uncompress to 10000 bytes"):
        read_bytes("a.zip", big, Limits(max_total=8000))
    nested = zip_bytes({"1.zip": zip_bytes({"2.zip": zip_bytes({"3.txt": b"x" * 100})})})
    found = read_bytes("n.zip", nested, Limits(max_depth=2))
    assert "nested deeper" in found[0].reason  # type: ignore[union-attr]


# --- bad input -------------------------------------------------------------------------------


def test_xml_entity_tricks_are_refused_or_inert(tmp_path: Path) -> None:
    laughs = (
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    )
    data = docx_bytes(seed_text(SEED_FILES[0]))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    xml = parts["word/document.xml"].decode()
    head, rest = xml.split("?>", 1)
    parts["word/document.xml"] = (
        head + "?>" + laughs + rest.replace("Năm", "&lol2;&xxe;")
    ).encode()
    (tmp_path / "evil.docx").write_bytes(zip_bytes(parts))
    with pytest.raises(UnreadableError, match="XML entity declaration"):
        read_path(tmp_path / "evil.docx", tmp_path)
    body = "<p>" + "Nội dung bài viết về hội nghị tổng kết năm. " * 5 + "&lol2; &xxe;</p>"
    (tmp_path / "evil.html").write_text(f"{laughs}<html><body>{body}</body></html>")
    text = read_path(tmp_path / "evil.html", tmp_path).docs[0].text
    assert "lollol" not in text and "root:" not in text


def test_odd_names_are_read_with_safe_ids(tmp_path: Path) -> None:
    texts = [seed_text(p).encode("utf-8") for p in SEED_FILES]
    texts.append("Hội nghị tổng kết công tác dân vận năm 2023 của tỉnh Nghệ An.".encode())
    names = [
        "Báo cáo tổng kết (bản cuối).txt",
        unicodedata.normalize("NFD", "Hội nghị.txt"),  # as macOS writes names
        "-rf --help.txt",
        "=cmd.txt",
        "x" * 200 + ".txt",
    ]
    for name, text in zip(names, texts, strict=False):
        (tmp_path / name).write_bytes(text)
    raw = os.path.join(os.fsencode(tmp_path), b"b\xe1o c\xe1o.txt")  # Latin-1 bytes in a name
    with open(raw, "wb") as f:
        f.write(texts[-1])
    (tmp_path / "zz\x07\nbell.txt").write_bytes(b"")  # control characters in a name
    result = ingest_folder(tmp_path)
    assert [(q.source, q.reason) for q in result.quarantined] == [
        ("zz\\x07\\x0abell.txt", "empty file")
    ]
    assert not result.duplicates
    ids = sorted(d.doc_id for d in result.sources)
    assert len(set(ids)) == 6
    assert "Báo_cáo_tổng_kết_bản_cuối" in ids and "Hội_nghị" in ids
    assert "_rf_--help" in ids and "cmd" in ids  # no leading "-" or "=" (formulas)
    assert all(len(i) <= 100 and "\n" not in i for i in ids)
    sources = [d.source for d in result.sources]
    assert "b\\xe1o c\\xe1o.txt" in sources
    for value in ids + sources:
        value.encode("utf-8")  # no lone surrogate reaches a CSV


def test_unreadable_specials_and_size_limit(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"a " * 600)
    (tmp_path / "broken-link.txt").symlink_to(tmp_path / "gone.txt")
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    (tmp_path / "~$bao cao.docx").write_bytes(b"\x0bNguyen Van A" + b"\0" * 150)
    result = ingest_folder(tmp_path, max_bytes=1000)
    reasons = {q.source: q.reason for q in result.quarantined}
    assert "file too large (1200 bytes > limit 1000)" in reasons["big.txt"]
    assert "broken link" in reasons["broken-link.txt"]
    assert "not a regular file" in reasons["pipe.txt"]
    assert "old Word .doc format" in reasons["old.doc"]
    assert "Office lock file" in reasons["~$bao cao.docx"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("Hội nghị tổng kết công tác quốc phòng năm 2023.", encoding="utf-8")
    path.chmod(0)
    try:
        result = ingest_folder(tmp_path)
    finally:
        path.chmod(0o644)
    assert "cannot read file" in result.quarantined[0].reason


def test_lone_surrogates_and_xml_forbidden_characters_never_leave_ingest(tmp_path: Path) -> None:
    body = "Năm 2023 toàn tỉnh đã xây dựng mới 3.340 mô hình \ud800 dân vận \x07 khéo \ufffe."
    (tmp_path / "s.json").write_text(json.dumps({"title": "T\udc80", "text": body}))
    doc = read_source(tmp_path / "s.json", tmp_path)
    for value in (doc.text, doc.title):
        value.encode("utf-8")
        assert "\x07" not in value and "\ufffe" not in value


# --- duplicates ------------------------------------------------------------------------------


def test_near_duplicate_syndicated_copy_counts_once(tmp_path: Path) -> None:
    text = seed_text(SEED_FILES[0])
    lines = paragraphs(text)
    # another outlet: its own header and byline, the last paragraph cut, a word changed
    syndicated = "\n".join(
        ["(QĐND) - Theo tin từ phóng viên thường trú tại địa phương", *lines[:-1], "Nguồn: Báo X"]
    ).replace("Hội nghị", "hội nghị", 1)
    (tmp_path / "a_original.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b_syndicated.html").write_bytes(html_bytes(syndicated))
    (tmp_path / "c_other.txt").write_text(seed_text(SEED_FILES[1]), encoding="utf-8")
    result = ingest_folder(tmp_path)
    assert [d.source for d in result.sources] == ["a_original.txt", "c_other.txt"]
    assert result.duplicates == [("b_syndicated.html", "a_original.txt", "near")]


def test_different_reports_of_one_province_are_not_duplicates() -> None:
    dedup = Deduplicator()
    for path in SEED_FILES:
        assert dedup.check(SourceDoc(path.stem, path.name, seed_text(path))) is None


def test_band_keys_separate_bands_and_follow_the_values() -> None:
    rows = NUM_PERM // BANDS
    sig = np.arange(NUM_PERM, dtype=np.uint64)
    same_bands = np.tile(sig[:rows], BANDS)  # every band holds the same values
    keys = band_keys(np.stack([sig, sig, same_bands]))
    assert keys.shape == (3, BANDS)
    assert (keys[0] == keys[1]).all()
    assert len(set(keys[2].tolist())) == BANDS  # the band's number is part of its key
    changed = sig.copy()
    changed[0] += 1  # one value of band 0
    other = band_keys(changed[None, :])[0]
    assert other[0] != keys[0][0] and (other[1:] == keys[0][1:]).all()


def test_bulk_index_gives_the_verdicts_of_one_built_doc_by_doc() -> None:
    texts = [seed_text(p) for p in SEED_FILES]
    # a copy with its last paragraph cut: a near-duplicate of the first seed
    texts.append("\n".join(paragraphs(texts[0])[:-1]))
    signed = [minhash(t) for t in texts]
    assert all(s is not None for s in signed)
    one_by_one, bulk = Deduplicator(), Deduplicator()
    for i in range(4):
        assert one_by_one.check_parts(f"h{i}", signed[i], f"s{i}") is None
    bulk.add_known(
        [f"h{i}" for i in range(4)],
        np.stack([s[0] for s in signed[:4]]),
        [s[1] for s in signed[:4]],
        [f"s{i}" for i in range(4)],
    )
    for dedup in (one_by_one, bulk):
        assert dedup.check_parts("h2", None, "again") == ("exact", "s2")
        assert dedup.check_parts("h5", signed[5], "cut copy") == ("near", "s0")
        assert dedup.check_parts("h4", signed[4], "fifth seed") is None


def test_index_finds_duplicates_across_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents checked one by one join the sorted arrays every MERGE_EVERY: a copy of an
    early document (merged) and of a recent one (still pending) are both found."""
    from tasks import ingest

    monkeypatch.setattr(ingest, "MERGE_EVERY", 7)
    monkeypatch.setattr(ingest, "SIG_BLOCK", 5)
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**63, (40, NUM_PERM), dtype=np.uint64)
    dedup = Deduplicator()
    for i, sig in enumerate(sigs):
        assert dedup.check_parts(f"h{i}", (sig, 100), f"s{i}") is None
    assert len(dedup) == 40 and dedup._bulk_keys.size == 35 * BANDS  # 5 merges of 7
    for i in (0, 13, 38):  # merged early, merged later, pending
        near = sigs[i].copy()
        near[:10] += np.uint64(1)  # 118 of 128 values kept: Jaccard ~0.92
        assert dedup.check_parts(f"n{i}", (near, 100), f"near {i}") == ("near", f"s{i}")
    assert dedup.check_parts("h5", None, "again") == ("exact", "s5")


def _dedup_stream(seed: int, n: int) -> list[tuple[str, tuple[np.ndarray, int] | None, str]]:
    """Documents as the flow checks them: new ones, copies of earlier ones changed in a few to
    many signature rows (either side of the thresholds), exact repeats and unsigned texts."""
    rng = np.random.default_rng(seed)
    docs: list[tuple[str, tuple[np.ndarray, int] | None, str]] = []
    for i in range(n):
        kind = rng.choice(["new", "near", "near", "exact", "unsigned"]) if docs else "new"
        signed = [d for d in docs if d[1] is not None]
        if kind == "near" and signed:
            base = signed[int(rng.integers(len(signed)))][1]
            assert base is not None
            sig = base[0].copy()
            changed = rng.choice(NUM_PERM, int(rng.integers(1, 60)), replace=False)
            sig[changed] = rng.integers(0, 2**63, len(changed), dtype=np.uint64)
            docs.append((f"h{i}", (sig, int(rng.integers(40, 400))), f"s{i}"))
        elif kind == "exact":
            docs.append((docs[int(rng.integers(len(docs)))][0], None, f"s{i}"))
        elif kind == "unsigned":
            docs.append((f"h{i}", None, f"s{i}"))
        else:
            sig = rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
            docs.append((f"h{i}", (sig, int(rng.integers(40, 400))), f"s{i}"))
    return docs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_checked_at_once_gets_the_answers_of_one_by_one(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``check_batch`` is ``check_parts`` in a loop: same answers, same index after (small
    blocks and merges, so that a batch meets merged, pending and same-batch documents)."""
    from tasks import ingest

    monkeypatch.setattr(ingest, "MERGE_EVERY", 9)
    monkeypatch.setattr(ingest, "SIG_BLOCK", 8)
    docs = _dedup_stream(seed, 160)
    known = docs[:40]
    one_by_one, batched = Deduplicator(), Deduplicator()
    for dedup in (one_by_one, batched):
        dedup.add_known(
            [k for k, s, _ in known[:20] if s is not None],
            np.stack([s[0] for _, s, _ in known[:20] if s is not None]),
            [s[1] for _, s, _ in known[:20] if s is not None],
            [src for _, s, src in known[:20] if s is not None],
        )
        for key, signed, source in known[20:]:
            dedup.check_parts(key, signed, source)
    expected = [one_by_one.check_parts(*doc) for doc in docs[40:]]
    got = []
    for lo in range(40, 160, 30):  # four batches of 30
        chunk = docs[lo : lo + 30]
        got += batched.check_batch(*map(list, zip(*chunk, strict=True)))
    assert got == expected
    assert {a for a in expected if a} and None in expected  # both verdicts were exercised
    assert any(a and a[0] == "near" for a in expected)
    assert batched._sources == one_by_one._sources and batched._sizes == one_by_one._sizes
    assert batched._exact == one_by_one._exact
    for j in range(len(one_by_one)):
        assert (batched._sig(j) == one_by_one._sig(j)).all()


# --- fuzz ------------------------------------------------------------------------------------

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    pytest.skip("hypothesis missing", allow_module_level=True)

SUFFIXES = [".txt", ".md", ".html", ".docx", ".pdf", ".json", ".jsonl", ".zip", ""]
VALID = {
    ".docx": docx_bytes("Hội nghị tổng kết công tác quốc phòng địa phương năm 2023."),
    ".zip": zip_bytes({"a.txt": "Hội nghị tổng kết công tác quốc phòng năm 2023.".encode()}),
    ".html": html_bytes("Hội nghị tổng kết công tác quốc phòng địa phương năm 2023."),
    ".json": json.dumps({"title": "T", "body": "Hội nghị tổng kết công tác năm 2023."}).encode(),
    ".pdf": tiny_pdf("Hoi nghi tong ket cong tac quoc phong dia phuong nam 2023"),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(SUFFIXES), data=st.binary(max_size=3000))
def test_fuzz_random_bytes_raise_only_unreadable(suffix: str, data: bytes) -> None:
    from tasks.readers import read_bytes

    try:
        read_bytes(f"fuzz{suffix}", data)
    except UnreadableError as err:
        assert not str(err).startswith("unreadable "), err  # the safety net: a reader missed it


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    suffix=st.sampled_from(sorted(VALID)),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_fuzz_damaged_files_raise_only_unreadable(
    suffix: str, cut: float, flips: list[tuple[float, int]]
) -> None:
    from tasks.readers import read_bytes

    data = bytearray(VALID[suffix][: max(1, int(len(VALID[suffix]) * (0.5 + cut / 2)))])
    for where, byte in flips:
        data[int(where * (len(data) - 1))] = byte
    try:
        read_bytes(f"fuzz{suffix}", bytes(data))
    except UnreadableError as err:
        assert not str(err).startswith("unreadable "), err  # the safety net: a reader missed it


# --- the real flow ---------------------------------------------------------------------------


def test_flow_on_the_mixed_folder(prefect_harness, mixed: Path, tmp_path: Path) -> None:
    import shutil

    from flows.briefing import build_briefing

    source = tmp_path / "source"
    shutil.copytree(mixed, source)
    # what must not break the Word file: control characters in names, a lone surrogate and
    # XML-forbidden characters in a title and a text
    record = {
        "title": "Tin \ud800 lạ\x0b",
        "text": "Năm 2023, huyện đã tuyển chọn 77 thanh niên nhập ngũ \x01\ufffe đúng quy định.",
    }
    (source / "odd\x07 name.json").write_text(json.dumps(record), encoding="utf-8")
    other = "Năm 2023, toàn huyện xây dựng 12 công trình dân vận khéo trên địa bàn."
    (source / "pack.zip").write_bytes(zip_bytes({"x\x01y.txt": other.encode("utf-8")}))
    before = tree_hash(source)
    out = tmp_path / "out"
    result = build_briefing(source=source, out=out, store=tmp_path / "store.duckdb")
    assert tree_hash(source) == before
    assert Path(result["briefing"]).is_file()
    quarantine = pd.read_csv(out / "quarantine.csv", encoding="utf-8-sig")
    reasons = dict(zip(quarantine["source"], quarantine["reason"], strict=True))
    for name, words in EXPECTED_REASONS.items():
        assert words in reasons[name], (name, reasons.get(name))
    documents = pd.read_csv(out / "documents.csv", encoding="utf-8-sig")
    odd = ["odd_name", "pack/x_x01y"]  # the member name as shown: "x\\x01y.txt"
    assert sorted(documents["doc_id"]) == sorted([p.stem for p in SEED_FILES] + odd)
    text = "\n".join(p.text for p in Document(str(result["briefing"])).paragraphs)
    assert "zz_copy.txt" in text  # the duplicate is listed in the data-quality annex


def test_list_sources_is_sorted_and_skips_the_manifest(tmp_path: Path) -> None:
    for name in ("b.txt", "a/c.txt", "manifest.csv", ".DS_Store"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_sources(tmp_path)] == [
        "a/c.txt",
        "b.txt",
    ]
    assert id_segment("Báo cáo năm 2023") == "Báo_cáo_năm_2023"


# --- MinHash signature pieces -------------------------------------------------------------------


def _words(text: str) -> list[str]:
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends, _ = word_bounds(codes)
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


@pytest.mark.parametrize(
    "text",
    [
        "sáng 27.11, tỉnh quảng nam",  # punctuation inside and after words
        "(qno) - ban chqs tỉnh",  # a byline code in brackets, a spaced dash
        "mã_số a_b __ 3,5%",  # "_" is a word character: "mã_số" is one word
        "hội\u00a0nghị\ttổng\nkết  ",  # odd white space
        "½ ² ٣ x²",  # numeric characters that are not ASCII digits
        "a😀b 𝐀𝐁 c\ud800d",  # above the BMP (an emoji, math letters), a lone surrogate
        "",
        "x",
    ],
)
def test_word_bounds_are_the_words_of_the_pattern(text: str) -> None:
    assert _words(text) == re.findall(r"\w+", text)


@given(st.text(max_size=60))
def test_word_bounds_match_the_pattern_on_any_text(text: str) -> None:
    assert _words(text) == re.findall(r"\w+", text)


def _mix(z: int) -> int:
    mask = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def _reference_minhash(text: str) -> tuple[list[int], int]:
    """The signature computed one shingle, one hash and one row at a time, in Python ints."""
    mask = (1 << 64) - 1
    words = re.findall(r"\w+", unicodedata.normalize("NFC", text).lower())
    seed = int(_HASH_SEED)
    # a word: its characters' code points times the weight of their place, summed and mixed
    weights = [_mix((k + seed) & mask) | 1 for k in range(max(map(len, words), default=0))]
    hashes = [_mix(sum(ord(c) * weights[k] for k, c in enumerate(w)) & mask) for w in words]
    shingles = set()
    for i in range(len(words) - SHINGLE + 1):
        h = 0
        for k in range(SHINGLE):
            h = (h * 0x9E3779B97F4A7C15 + hashes[i + k]) & mask
        shingles.add(h)
    rows: dict[int, int] = {}
    for x in shingles:
        for copy_seed in _COPY_SEEDS.tolist():
            z = _mix((x + copy_seed) & mask)
            row = z >> 57  # the top 7 bits name one of the 128 rows
            rows[row] = min(rows.get(row, mask), z)
    out = []
    for row in range(NUM_PERM):
        # an empty row: the first non-empty row in its own order (by the mix of the cell)
        order = sorted(range(NUM_PERM), key=lambda j: _mix((row * NUM_PERM + j + seed) & mask))
        out.append(rows[row] if row in rows else next(rows[j] for j in order if j in rows))
    return out, len(shingles)


@pytest.mark.parametrize("length", [600, 200])  # long: a few rows empty; short: most of them
def test_minhash_equals_the_reference_computed_shingle_by_shingle(length: int) -> None:
    text = SEED_FILES[0].read_text(encoding="utf-8")[:length]
    found = minhash(text)
    assert found is not None
    signature, size = found
    assert len(signature) == NUM_PERM
    assert (signature.tolist(), size) == _reference_minhash(text)


def _pair(rng: random.Random, size: int, kept: int) -> tuple[str, str, float]:
    """Two texts of ``size + 4`` distinct words sharing their first ``kept + 4`` words, and the
    Jaccard similarity of their 5-gram sets."""
    vocabulary = [f"t{rng.randrange(10**9)}" for _ in range(2 * size + 8)]
    a = vocabulary[: size + 4]
    b = a[: kept + 4] + vocabulary[size + 4 : 2 * size + 4 - kept]
    return " ".join(a), " ".join(b), kept / (2 * size - kept)


@pytest.mark.parametrize("size", [24, 60, 400])  # few shingles (most rows empty) to many
def test_minhash_estimates_the_jaccard_similarity(size: int) -> None:
    """The share of equal rows estimates Jaccard without bias, as 128 hash functions would:
    averaged over many pairs it is within 0.02, and one pair's error is ~sqrt(J(1-J)/128)."""
    rng = random.Random(size)
    for target in (0.3, 0.6, 0.8, 0.95):
        kept = round(2 * size * target / (1 + target))
        errors = []
        for _ in range(60):
            a, b, jaccard = _pair(rng, size, kept)
            sa, sb = minhash(a), minhash(b)
            assert sa is not None and sb is not None and sa[1] == sb[1] == size
            errors.append(float((sa[0] == sb[0]).mean()) - jaccard)
        assert abs(np.mean(errors)) < 0.02, (size, target)
        assert np.mean(np.abs(errors)) < 0.06, (size, target)


@pytest.mark.parametrize(
    "values",
    [[], [7], [3, 1, 3, 2, 1], [2**64 - 1, 0, 2**63, 2**64 - 1], list(range(50, 0, -1)) * 2],
)
def test_sorted_unique_is_np_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.uint64)
    assert sorted_unique(array).tolist() == np.unique(array).tolist()


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("/data/in/a.txt", "/data/in"),
        ("/data/in/sub dir/báo cáo.docx", "/data/in"),
        ("/data/input/a.txt", "/data/in"),  # a sibling that shares the prefix: not under it
        ("/a.txt", "/"),
        ("rel/a.txt", "rel"),
    ],
)
def test_relative_posix_is_pathlibs_relative_to(path: str, folder: str) -> None:
    try:
        expected = Path(path).relative_to(Path(folder)).as_posix()
    except ValueError:
        with pytest.raises(ValueError):
            relative_posix(Path(path), Path(folder))
        return
    assert relative_posix(Path(path), Path(folder)) == expected


def test_a_file_that_grows_after_stat_is_still_read_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "a.txt"
    source.write_text("Hội nghị tổng kết công tác quân sự, quốc phòng năm 2023. " * 3, "utf-8")
    real_lstat = Path.lstat
    # stat says fewer bytes than the file has (it grew in between): nothing may be cut off
    monkeypatch.setattr(
        Path,
        "lstat",
        lambda self: os.stat_result((*real_lstat(self)[:6], 10, *real_lstat(self)[7:])),
    )
    doc = read_source(source, tmp_path)
    assert doc.text.startswith("Hội nghị") and doc.text.count("năm 2023") == 3
