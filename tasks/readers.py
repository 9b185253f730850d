"""Format readers of the ingest stage: the bytes of one file -> the documents it holds.

Each reader takes a name (for its extension) and bytes, never a path, so that a member of a
ZIP archive is read exactly like a file, in memory, and nothing is ever written to disk:

- ``.txt`` / ``.md``: text in any encoding ``tasks.encodings`` knows (Markdown marks dropped);
- ``.docx``: paragraphs and table rows in document order, its XML read with a safe lxml parser
  (no DTD, no entities: a DOCX that declares one is refused as an entity attack);
- ``.html`` / ``.htm``: the article's main text, without navigation, footers, asides, scripts
  (lxml's HTML parser and readability's rules); its title, date and address from its metadata;
- ``.pdf``: the text layer (pypdf); a scan without one is refused with that reason;
- ``.json`` / ``.jsonl``: exports of articles (title, date, url, body), one document each;
- ``.zip``: archives of these, read member by member within limits (a "zip bomb" is refused).

A reader returns ``Part``s (a document's text and what its container says about it) and
``PartError``s (one bad JSON line, one bad archive member), or raises ``UnreadableError`` when
nothing in the file can be used. Any other exception from a parser is turned into an
``UnreadableError``: a corrupt file must never stop the run.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import posixpath
import re as stdlib_re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import regex as re

from tasks.encodings import (
    EncodingError,
    clean_text,
    decode_bytes,
    is_plain,
    printable_name,
    repair,
)

#: Share of control or replacement characters above which decoded text is called noise.
NOISE_SHARE = 0.05
MIN_LETTERS = 20
# controls other than tab and line ends, surrogates, private use, the replacement character
_NOISE = stdlib_re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]"
)  # the standard library's engine: several times faster on these plain ranges
_ENOUGH_LETTERS = re.compile(rf"(?:\p{{L}}\P{{L}}*){{{MIN_LETTERS}}}")


class UnreadableError(ValueError):
    """A source that cannot be turned into text; the message is the quarantine reason."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a file may make us read, against archives built to exhaust memory.

    Attributes:
        max_bytes: the largest file, or archive member once uncompressed.
        max_members: the most members an archive (or a DOCX) may have.
        max_total: the most bytes all members of one archive may uncompress to.
        max_ratio: the highest compression ratio of a member larger than ``ratio_floor``
            (text compresses 3-10x; a bomb compresses 1000x).
        max_depth: how deep archives may nest.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_members: int = 2000
    max_total: int = 200 * 1024 * 1024
    max_ratio: float = 100.0
    ratio_floor: int = 1024 * 1024
    max_depth: int = 2


@dataclass(frozen=True, slots=True)
class Part:
    """One document found in a file.

    Attributes:
        key: where in the file: "" for the file itself, "3" for the third JSON record,
            "reports/a.docx" for an archive member (members' own keys joined with "/").
        text: the document's text, decoded and cleaned (NFC, no XML-forbidden characters).
        title: the title the container gives (HTML, DOCX properties, JSON), or "".
        meta: what else the container says: ``url``, ``published`` (ISO date when known).
        how: how it was read ("html", "docx", "utf-8", "tcvn3", ...), for the log.
    """

    key: str
    text: str
    title: str = ""
    meta: tuple[tuple[str, str], ...] = ()
    how: str = ""


@dataclass(frozen=True, slots=True)
class PartError:
    """One document of a file that could not be used (a bad JSON line, a corrupt member)."""

    key: str
    reason: str


Found = list[Part | PartError]


# --- text checks -----------------------------------------------------------------------------


def check_text(text: str) -> None:
    """Refuse text that is empty or mostly noise.

    Raises:
        UnreadableError: with the reason.
    """
    if not text.strip():
        raise UnreadableError("empty file")
    # (plain text, the usual case, holds none of the noise but the replacement character)
    bad = text.count("\ufffd") if is_plain(text) else len(_NOISE.findall(text))
    if bad / len(text) > NOISE_SHARE:
        raise UnreadableError(f"binary noise ({bad} control characters in {len(text)})")
    if not _ENOUGH_LETTERS.search(text):
        raise UnreadableError(f"no readable text (fewer than {MIN_LETTERS} letters)")


def _part(
    key: str, text: str, title: str = "", meta: dict[str, str] | None = None, how: str = ""
) -> Part:
    # a Word file or web page typed in a TCVN3/VNI font holds "Héi nghÞ" as Unicode letters
    # (a text file was repaired when decoded; its ``how`` is its encoding's name)
    decoded = how.startswith(("utf", "windows", "tcvn", "vni"))
    text, repaired = (text, "") if decoded else repair(text)
    title, _ = repair(title)
    how = f"{how}, {repaired}" if repaired else how
    check_text(text)
    items = {k: clean_text(v).strip() for k, v in (meta or {}).items() if v and v.strip()}
    return Part(key, clean_text(text), clean_text(title).strip(), tuple(sorted(items.items())), how)


def decode(data: bytes, declared: str = "") -> tuple[str, str]:
    """``encodings.decode_bytes`` with its error turned into an ``UnreadableError``."""
    if not data.strip():
        raise UnreadableError("empty file")
    try:
        return decode_bytes(data, declared)
    except EncodingError as err:
        raise UnreadableError(str(err)) from err


# --- dates -----------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\s*((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})")
# Vietnamese order, day first: "20/12/2023", "20-12-2023 08:00"
_VN_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d{2})\b")


def iso_date(value: str) -> str:
    """An ISO date from a container's date ("2023-12-20T08:00+07:00", "20/12/2023"), else as is.

    Day-first is the Vietnamese order, so "03/04/2023" is 3 April.
    """
    m = _ISO_DATE.match(value)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _VN_DATE.search(value)
        if not m:
            return value.strip()
        d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return value.strip()
    return f"{y:04d}-{mo:02d}-{d:02d}"


# --- plain text ------------------------------------------------------------------------------


# Markdown's marks, not its words: "# Tiêu đề", "**3.340** mô hình", "[bài gốc](https://...)"
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")


def markdown_text(text: str) -> str:
    """Markdown without its heading, bold and link marks: "**3.340** mô hình" -> "3.340 mô hình".

    The words stay where they were; only marks that a number or a name would be glued to go.
    """
    text = _MD_HEADING.sub("", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    return _MD_LINK.sub(r"\1", text)


def read_text(data: bytes, markdown: bool = False) -> Found:
    """A text file in any known encoding (Markdown marks removed from a .md file)."""
    text, how = decode(data)
    return [_part("", markdown_text(text) if markdown else text, how=how)]


# --- HTML ------------------------------------------------------------------------------------

_DROP_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
    "button", "select", "template", "object", "embed", "menu", "dialog", "canvas", "video",
    "audio", "map", "input", "textarea", "link", "meta",
)  # fmt: skip
# class or id words of page furniture: "main-nav", "site_footer", "box-related", "ads-300"
_FURNITURE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|footer|header|sidebar|breadcrumbs?|share|sharing"
    r"|social|related|relate|comments?|advert\w*|ads?|banner|cookie|popup|modal|subscribe"
    r"|newsletter|widget|promo|sponsor\w*|tags?|toolbar|pagination|print)(?:$|[\s_-])",
    re.IGNORECASE,
)
_MAYBE_CONTENT = re.compile(
    r"article|content|main|body|entry|post|story|detail|text|bai-?viet|noi-?dung", re.IGNORECASE
)
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
     "ol", "blockquote", "pre", "table", "tr", "dl", "dt", "dd", "figure", "figcaption",
     "address", "center", "td", "th", "caption"}
)  # fmt: skip
_KEEP = frozenset({"html", "body", "article", "main"})


def _looks_like_html(text: str) -> bool:
    return (
        re.search(r"<(?:p|br|div|span|a|strong|em|h[1-6]|li|table)\b[^>]*>", text, re.I) is not None
    )


def _parse_html(markup: str):  # -> lxml.html.HtmlElement
    """Parse a page with lxml's HTML parser: no network, no huge trees, no comments.

    libxml2's HTML parser neither loads external entities nor expands entity declarations,
    so "billion laughs" and external entities stay a few bytes of inert text.
    """
    from lxml import etree
    from lxml import html as lhtml

    parser = lhtml.HTMLParser(
        remove_comments=True, remove_pis=True, no_network=True, huge_tree=False
    )
    # lxml refuses a str that declares its encoding: the bytes were decoded already
    # and any character XML forbids (NUL, other controls): libxml2 takes none of them
    markup = re.sub(r"^\s*<\?xml[^>]*>", "", clean_text(markup))
    if not markup.strip():
        raise UnreadableError("empty file")
    try:
        return lhtml.document_fromstring(markup, parser=parser)
    except (etree.ParserError, ValueError) as err:
        raise UnreadableError(f"not an HTML page ({err})") from err


def _tag(el) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())


def _metadata(root) -> dict[str, str]:
    """The page's <meta property|name> and itemprop values, the first of each name."""
    found: dict[str, str] = {}
    for el in root.iter():
        attrs = el.attrib if isinstance(el.tag, str) else {}
        for key in ("property", "name", "itemprop"):
            name = attrs.get(key)
            if name and name not in found:
                value = attrs.get("content") or attrs.get("datetime") or _text(el)
                if value and value.strip():
                    found[name] = value.strip()
    return found


def _meta(found: dict[str, str], *names: str) -> str:
    return next((found[n] for n in names if n in found), "")


def _link_density(el, total: int) -> float:
    if not total:
        return 0.0
    return sum(len(_text(a)) for a in el.iter("a")) / total


def _is_furniture(el) -> bool:
    attrs = el.attrib
    words = " ".join((attrs.get("class", ""), attrs.get("id", ""), attrs.get("role", "")))
    if "hidden" in attrs or "display:none" in attrs.get("style", "").replace(" ", ""):
        return True
    if not _FURNITURE.search(words):
        return False
    return not (_MAYBE_CONTENT.search(words) and len(_text(el)) >= 500)


def _drop_furniture(root) -> None:
    """Remove scripts, navigation, headers, footers, asides and what is marked as such.

    An article's own <header> (its headline and lead, "sapo", which can hold figures) stays;
    so does a block whose class names both furniture and content ("main-content has-sidebar")
    when it holds much text.
    """
    stack = [(root, False)]
    while stack:
        el, in_article = stack.pop()
        for child in list(el):
            tag = _tag(child)
            if not tag:
                continue
            own_header = tag == "header" and in_article
            if (tag in _DROP_TAGS and not own_header) or (
                tag not in _KEEP and _is_furniture(child)
            ):
                child.drop_tree()  # keeps the text that follows it (its tail)
            else:
                stack.append((child, in_article or tag in {"article", "main"}))


def _best_node(body):
    """The element that holds the article: an <article> or <main> with text, else the
    element whose paragraphs carry the most text (readability's scoring), with link-heavy
    elements scoring less."""
    candidates = [n for n in body.iter("article", "main") if len(_text(n)) >= 200]
    if candidates:
        return max(candidates, key=lambda n: sum(len(_text(p)) for p in n.iter("p")))
    scores: dict = {}
    for p in body.iter("p", "pre", "td", "blockquote", "div"):
        if _tag(p) == "div" and any(_tag(c) in _BLOCKS for c in p):
            continue  # a <div> counts as a paragraph only when it holds no blocks itself
        text = _text(p)
        if len(text) < 25:
            continue
        score = 1 + text.count(",") + min(len(text) / 100, 3)
        parent = p.getparent()
        for share in (1.0, 0.5):
            if parent is None or _tag(parent) == "html":
                break
            scores[parent] = scores.get(parent, 0.0) + score * share
            parent = parent.getparent()
    if not scores:
        return body
    return max(scores, key=lambda n: scores[n] * (1 - _link_density(n, len(_text(n)))))


_LINKY = ("ul", "ol", "div", "section", "table", "p", "li", "dl")


def _html_lines(node) -> list[str]:
    """The text of ``node``, one line a block, without link-heavy blocks (lists of links)."""
    for el in list(node.iter(*_LINKY)):
        if el is node or el.getparent() is None:
            continue
        total = len(_text(el))
        if total and _link_density(el, total) > 0.5:
            el.drop_tree()
    parts: list[str] = []

    def walk(el) -> None:
        tag = _tag(el)
        if tag == "br":
            parts.append("\n")
        block = tag in _BLOCKS
        if block:
            parts.append("\n")
        if el.text and tag not in _DROP_TAGS:
            parts.append(el.text)
        for child in el:
            if _tag(child) not in {"script", "style", "noscript", "template"}:
                walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag in {"td", "th"}:
            parts.append("\t")
        if block:
            parts.append("\n")

    walk(node)
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parts).split("\n"))
    return [line for line in lines if line]


def html_fragment_text(markup: str) -> str:
    """The text of an HTML fragment (a JSON export's body): blocks as lines, no scripts."""
    return "\n".join(_html_lines(_parse_html(markup)))


def html_main_text(markup: str) -> tuple[str, str, dict[str, str]]:
    """The article of a web page: its main text, title and metadata (url, published).

    Returns:
        (text, title, meta)
    """
    root = _parse_html(markup)
    found = _metadata(root)
    h1 = next(root.iter("h1"), None)
    title_el = next(root.iter("title"), None)
    title = (
        _meta(found, "og:title", "twitter:title")
        or (_text(h1) if h1 is not None else "")
        or (_text(title_el) if title_el is not None else "")
    )
    published = _meta(
        found, "article:published_time", "datePublished", "pubdate", "publishdate",
        "date", "dc.date.issued", "DC.date.issued", "article:modified_time",
    )  # fmt: skip
    if not published:
        time = next(root.iter("time"), None)
        published = (time.get("datetime") or _text(time)) if time is not None else ""
    canonical = next((el for el in root.iter("link") if el.get("rel") == "canonical"), None)
    url = _meta(found, "og:url") or (canonical.get("href", "") if canonical is not None else "")
    body = root.find("body")
    body = body if body is not None else root
    _drop_furniture(body)
    node = _best_node(body)
    lines = _html_lines(node)
    meta = {"url": str(url), "published": iso_date(str(published)) if published else ""}
    return "\n".join(lines), title, meta


def _declared_charset(data: bytes) -> str:
    m = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", data[:4096], re.I)
    return m.group(1).decode("ascii") if m else ""


def read_html(data: bytes) -> Found:
    """A web page saved as .html: its article."""
    markup, how = decode(data, _declared_charset(data))
    try:
        text, title, meta = html_main_text(markup)
    except RecursionError as err:
        raise UnreadableError("HTML nested too deeply to read") from err
    return [_part("", text, title, meta, f"html ({how})")]


# --- DOCX ------------------------------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)


def _check_archive(zf: zipfile.ZipFile, limits: Limits, what: str) -> list[zipfile.ZipInfo]:
    """Refuse an archive whose members would exhaust memory (a "zip bomb")."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnreadableError(
            f"zip bomb refused: {what} has {len(infos)} members (limit {limits.max_members})"
        )
    total = sum(i.file_size for i in infos)
    if total > limits.max_total:
        raise UnreadableError(
            f"zip bomb refused: {what} would uncompress to {total} bytes (limit {limits.max_total})"
        )
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > limits.ratio_floor and ratio > limits.max_ratio:
            raise UnreadableError(
                f"zip bomb refused: {i.filename!r} in {what} compresses {ratio:.0f}x"
                f" (limit {limits.max_ratio:.0f}x)"
            )
    return infos


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, read in chunks, never more than ``limit`` (headers can lie)."""
    out = bytearray()
    with zf.open(info) as f:
        while chunk := f.read(65536):
            out += chunk
            if len(out) > limit:
                raise UnreadableError(f"member {info.filename!r} larger than {limit} bytes")
    return bytes(out)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"


def _safe_xml(data: bytes, part: str):  # -> lxml.etree._Element
    """Parse an OOXML part without DTDs, entities, network or huge trees.

    OOXML never declares a DTD, so one is an attack (billion laughs, external entities) and
    the file is refused rather than parsed.
    """
    from lxml import etree

    if _ENTITY_DECL.search(data):
        raise UnreadableError(
            f"XML entity declaration in DOCX part {part} refused"
            " (entity expansion or external entity attack)"
        )
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    return etree.fromstring(data, parser)


def read_docx(data: bytes, limits: Limits) -> Found:
    """A Word document: paragraphs and table rows in document order, title from its properties.

    The package is read with the archive limits and its XML parsed directly with a safe lxml
    parser: ten times faster than python-docx (which also loads styles, settings, fonts), and
    it sees text in content controls (``w:sdt``) that python-docx skips.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as err:  # BadZipFile, NotImplementedError, EOFError, struct.error, ...
        raise UnreadableError(f"corrupt or truncated DOCX (not a ZIP package: {err})") from err
    try:
        with zf:
            infos = {i.filename: i for i in _check_archive(zf, limits, "DOCX")}

            def part(name: str) -> bytes | None:
                info = infos.get(name)
                return _read_member(zf, info, limits.max_bytes) if info else None

            main = _main_part(part("_rels/.rels"))
            document = part(main)
            if document is None:
                raise UnreadableError(f"corrupt DOCX (no {main}: not a Word document)")
            root = _safe_xml(document, main)
            core = part("docProps/core.xml")
            title_el = _safe_xml(core, "docProps/core.xml").find(_DC_TITLE) if core else None
    except UnreadableError:
        raise
    except Exception as err:  # zipfile, zlib and lxml raise many kinds on a damaged package
        raise UnreadableError(f"corrupt or truncated DOCX ({type(err).__name__}: {err})") from err
    body = root.find(f"{_W}body")
    if body is None:
        raise UnreadableError("corrupt DOCX (its document has no body)")
    title = (title_el.text or "") if title_el is not None else ""
    return [_part("", "\n".join(_docx_blocks(body)), title, {}, "docx")]


def _main_part(rels: bytes | None) -> str:
    if rels:
        for rel in _safe_xml(rels, "_rels/.rels").iter(_PKG_REL):
            if rel.get("Type") == _OFFICE_DOC and rel.get("Target"):
                return str(rel.get("Target")).lstrip("/")
    return "word/document.xml"


def _docx_blocks(container) -> Iterator[str]:
    """Lines of a body, cell or content control: a paragraph a line, a table row a line."""
    for child in container:
        if child.tag == f"{_W}p":
            yield _paragraph_text(child)
        elif child.tag == f"{_W}tbl":
            for row in child.findall(f"{_W}tr"):
                cells = [
                    " ".join(" ".join(_docx_blocks(tc)).split()) for tc in row.findall(f"{_W}tc")
                ]
                if any(cells):
                    yield "\t".join(c for c in cells if c)
        elif child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _docx_blocks(content)


def _paragraph_text(p) -> str:
    # w:t is the text; w:delText (deleted) and w:instrText (field codes) are other tags
    out: list[str] = []
    for el in p.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr", f"{_W}noBreakHyphen"):
        if el.tag == f"{_W}t":
            out.append(el.text or "")
        elif el.tag == f"{_W}tab":
            out.append("\t")
        elif el.tag == f"{_W}noBreakHyphen":
            out.append("-")
        else:
            out.append("\n")
    return "".join(out)


# --- PDF -------------------------------------------------------------------------------------

MAX_PDF_PAGES = 2000
# a PDF line that ends without closing punctuation and a next line that starts in lower case
# are one sentence wrapped by the layout: "toàn tỉnh đã xây dựng\nmới 3.340 mô hình"
_SENTENCE_END = re.compile(r"[.!?:;…)\]\"”]$")


def reflow(lines: list[str]) -> list[str]:
    """Join lines that a page layout wrapped in the middle of a sentence.

    A line joins the one before when that one does not close a sentence and either this one
    starts in lower case or with a digit, or the one before is full (as long as the page's
    long lines): a paragraph's last line is short, its other lines are full.
    """
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return []
    lengths = sorted(len(line) for line in lines)
    full = 0.75 * lengths[int(0.9 * (len(lengths) - 1))]
    out: list[str] = []
    prev_full = False
    for line in lines:
        if (
            out
            and not _SENTENCE_END.search(out[-1])
            and (line[0].islower() or line[0].isdigit() or prev_full)
        ):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        prev_full = len(line) >= full
    return out


def read_pdf(data: bytes) -> Found:
    """The text layer of a PDF; a scan without one is refused."""
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise UnreadableError("corrupt PDF (no %PDF header)")
    if b"%%EOF" not in data[-2048:]:
        # pypdf would recover the pages before the cut and the rest would be lost unseen
        raise UnreadableError("truncated PDF (no %%EOF end marker)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableError("encrypted PDF (needs a password)")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise UnreadableError(f"PDF has {len(reader.pages)} pages (limit {MAX_PDF_PAGES})")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = str(info.title or "") if info else ""
    except UnreadableError:
        raise
    except Exception as err:  # pypdf raises many kinds on a corrupt or truncated file
        raise UnreadableError(f"corrupt or truncated PDF ({type(err).__name__}: {err})") from err
    text = "\n".join(reflow("\n".join(pages).splitlines()))
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        raise UnreadableError("PDF without a text layer (a scan? run OCR first)")
    return [_part("", unicodedata.normalize("NFC", text), title, {}, "pdf")]


# --- JSON ------------------------------------------------------------------------------------

_BODY_KEYS = ("body", "content", "text", "article", "content_html", "html", "fulltext",
              "full_text", "message", "description", "summary")  # fmt: skip
_TITLE_KEYS = ("title", "headline", "name", "subject")
_DATE_KEYS = ("published", "date", "published_at", "publishedAt", "pubDate", "datePublished",
              "published_date", "created_at", "createdAt", "time", "timestamp")  # fmt: skip
_URL_KEYS = ("url", "link", "href", "source_url", "canonical_url", "permalink")
_LIST_KEYS = ("items", "articles", "data", "documents", "docs", "posts", "results", "entries",
              "records", "rows")  # fmt: skip


def _field(record: dict, keys: tuple[str, ...]) -> str:
    lowered = {str(k).lower(): v for k, v in record.items()}
    for key in keys:
        value = record.get(key, lowered.get(key.lower()))
        if isinstance(value, dict):  # WordPress: {"title": {"rendered": "..."}}
            value = value.get("rendered") or value.get("text") or value.get("html")
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        if (
            isinstance(value, (str, int, float))
            and not isinstance(value, bool)
            and str(value).strip()
        ):
            return str(value)
    return ""


def json_record(key: str, record: object) -> Part:
    """One exported article (title, date, url, body) as a ``Part``.

    Raises:
        UnreadableError: when the record has no body.
    """
    if not isinstance(record, dict):
        raise UnreadableError(f"not an object but {type(record).__name__}")
    body = _field(record, _BODY_KEYS)
    if not body.strip():
        raise UnreadableError("no body, content or text field")
    if _looks_like_html(body):
        body = html_fragment_text(body)
    title = _field(record, _TITLE_KEYS)
    if _looks_like_html(title):
        title = html_fragment_text(title)
    published = _field(record, _DATE_KEYS)
    meta = {"url": _field(record, _URL_KEYS), "published": iso_date(published) if published else ""}
    return _part(key, body, title, meta, "json")


def _records(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if _field(value, _BODY_KEYS):
            return [value]
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list):
                return value[key]
    raise UnreadableError("JSON holds no article (no body/content/text, no list of items)")


def read_json(data: bytes) -> Found:
    """A JSON export: one article, a list of them, or an object with a list under "items"."""
    text, _ = decode(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UnreadableError(f"invalid JSON (line {err.lineno}: {err.msg})") from err
    except RecursionError as err:
        raise UnreadableError("JSON nested too deeply") from err
    records = _records(value)
    if not records:
        raise UnreadableError("empty JSON list")
    single = len(records) == 1 and not isinstance(value, list)
    return _each(records, lambda i: "" if single else str(i))


def read_jsonl(data: bytes) -> Found:
    """JSON Lines: one article a line; a bad line is quarantined on its own, with its number."""
    text, _ = decode(data)
    found: Found = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            found.append(PartError(str(n), f"line {n}: invalid JSON ({err.msg})"))
            continue
        except RecursionError:
            found.append(PartError(str(n), f"line {n}: JSON nested too deeply"))
            continue
        try:
            found.append(json_record(str(n), record))
        except UnreadableError as err:
            found.append(PartError(str(n), f"line {n}: {err}"))
    if not found:
        raise UnreadableError("empty file")
    return found


def _each(records: list[object], key: Callable[[int], str]) -> Found:
    found: Found = []
    for i, record in enumerate(records, start=1):
        try:
            found.append(json_record(key(i), record))
        except UnreadableError as err:
            found.append(PartError(key(i), f"record {i}: {err}"))
    return found


# --- ZIP -------------------------------------------------------------------------------------


def safe_member_name(name: str) -> bool:
    """Whether an archive member's name stays inside the archive ("../x", "/etc/x" do not)."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return False
    parts = posixpath.normpath(norm).split("/")
    return ".." not in parts and ".." not in norm.split("/")


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800:  # not flagged UTF-8: old Windows zips wrote cp437 or cp1258
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return printable_name(name)


def read_zip(data: bytes, limits: Limits, depth: int = 0) -> Found:
    """An archive of reports: every member read in memory, with the archive limits."""
    if depth >= limits.max_depth:
        raise UnreadableError(f"archives nested deeper than {limits.max_depth} levels")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as err:  # BadZipFile, NotImplementedError, EOFError, struct.error, ...
        raise UnreadableError(f"corrupt or truncated ZIP archive ({err})") from err
    found: Found = []
    with zf:
        infos = _check_archive(zf, limits, "archive")
        for info in sorted(infos, key=lambda i: i.filename):
            name = _member_name(info)
            if info.is_dir() or _ignored(name):
                continue
            if not safe_member_name(name):
                found.append(PartError(name, f"unsafe member path {name!r} (outside the archive)"))
                continue
            if info.flag_bits & 0x1:
                found.append(PartError(name, "encrypted archive member (needs a password)"))
                continue
            if info.file_size > limits.max_bytes:
                found.append(PartError(
                    name, f"member too large ({info.file_size} bytes > limit {limits.max_bytes})"
                ))  # fmt: skip
                continue
            try:
                member = _read_member(zf, info, limits.max_bytes)
                parts = read_bytes(name, member, limits, depth + 1)
            except UnreadableError as err:
                found.append(PartError(name, str(err)))
                continue
            except Exception as err:  # zipfile and zlib raise many kinds on a damaged member
                found.append(PartError(name, f"corrupt archive member ({err})"))
                continue
            for part in parts:
                key = f"{name}/{part.key}" if part.key else name
                found.append(
                    PartError(key, part.reason) if isinstance(part, PartError)
                    else Part(key, part.text, part.title, part.meta, part.how)
                )  # fmt: skip
    if not found:
        raise UnreadableError("empty archive (no report in it)")
    return found


def _ignored(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].lower()
    return name.startswith("__MACOSX/") or base in {".ds_store", "thumbs.db", "desktop.ini"}


# --- dispatch --------------------------------------------------------------------------------

TEXT_SUFFIXES = frozenset({".txt", ".md", ".text", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | {".docx", ".pdf", ".json", ".jsonl", ".ndjson", ".zip"}
#: What to tell a user about formats we do not read, so that they can act.
_UNSUPPORTED_HINT = {
    ".doc": "old Word .doc format: save it as .docx",
    ".rtf": "RTF: save it as .docx",
    ".odt": "OpenDocument text: save it as .docx",
    ".xls": "spreadsheet, not a report",
    ".xlsx": "spreadsheet, not a report",
    ".pptx": "presentation, not a report",
}


def suffix_of(name: str) -> str:
    """The lower-case extension of a file or member name ("" for none)."""
    base = name.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base.lstrip(".") else ""


def sniff(data: bytes) -> str:
    """The format of bytes whose name has no extension: ".zip", ".docx", ".pdf" or ".txt"."""
    if data.startswith(b"PK\x03\x04"):
        return ".docx" if b"word/document.xml" in data[:65536] else ".zip"
    if data.lstrip()[:5] == b"%PDF-":
        return ".pdf"
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return ".html"
    return ".txt"


def read_bytes(name: str, data: bytes, limits: Limits | None = None, depth: int = 0) -> Found:
    """Read the documents of one file (or archive member) given its name and bytes.

    Raises:
        UnreadableError: when nothing in it can be used; the message says why. Nothing else:
            an unexpected error of a parser on a damaged file becomes one too, naming it.
    """
    try:
        return _dispatch(name, data, limits or Limits(), depth)
    except UnreadableError:
        raise
    except Exception as err:  # the run must go on: a parser's surprise quarantines the file
        what = suffix_of(name) or "file"
        raise UnreadableError(f"unreadable {what} ({type(err).__name__}: {err})") from err


def _dispatch(name: str, data: bytes, limits: Limits, depth: int) -> Found:
    if name.rsplit("/", 1)[-1].startswith("~$"):
        raise UnreadableError("Office lock file (~$...), not a document: Word had the file open")
    suffix = suffix_of(name) or sniff(data)
    if len(data) > limits.max_bytes:
        raise UnreadableError(f"file too large ({len(data)} bytes > limit {limits.max_bytes})")
    if suffix in TEXT_SUFFIXES:
        return read_text(data, markdown=suffix in {".md", ".markdown"})
    if suffix in HTML_SUFFIXES:
        return read_html(data)
    if suffix == ".docx":
        return read_docx(data, limits)
    if suffix == ".pdf":
        return read_pdf(data)
    if suffix == ".json":
        return read_json(data)
    if suffix in {".jsonl", ".ndjson"}:
        return read_jsonl(data)
    if suffix == ".zip":
        return read_zip(data, limits, depth)
    hint = _UNSUPPORTED_HINT.get(suffix, "")
    raise UnreadableError(f"unsupported file type {suffix!r}" + (f" ({hint})" if hint else ""))
