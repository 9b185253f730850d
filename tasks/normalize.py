"""Normalise stage: ``SourceDoc`` -> ``NormalizedDoc``.

The normalised text is what every offset points into and what the fact sentences are quoted
from, so it changes the source only where a reader would not notice: Unicode NFC, line ends,
invisible characters and runs of spaces. Everything else that matching needs (lower case, one
tone-mark placement, plain quotes and dashes) lives in ``folded``, a view of the same length.

Boilerplate (photo captions, "Cập nhật:", datelines, bylines, corpus stamps) stays in the text
but is left out of the analysed sentences.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import regex as re
from prefect import task

from tasks.records import NormalizedDoc, Sentence, SourceDoc

# --- text ------------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def normalize_text(raw: str) -> str:
    """NFC, ``\\n`` line ends, no invisible or XML-forbidden characters, single spaces.

    Paragraphs are lines; blank lines between them are dropped, so ``"a\\n\\n b"`` -> ``"a\\nb"``.
    """
    text = unicodedata.normalize("NFC", raw.translate(_INVISIBLE))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = _XML_FORBIDDEN.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# --- folded view -----------------------------------------------------------------------------

_QUOTES = {c: '"' for c in "“”„‟«»″"} | {c: "'" for c in "‘’‚‛′"}
_DASHES = {c: "-" for c in "‐‑‒–—―−"}

# New-style tone placement (hoà, thuỷ) folded onto the old style (hòa, thủy); both sides of a
# match are folded, so "Thanh Hoá" matches "Thanh Hóa". Same length by construction.
_TONE_PAIRS = {
    "oà": "òa",
    "oá": "óa",
    "oả": "ỏa",
    "oã": "õa",
    "oạ": "ọa",
    "oè": "òe",
    "oé": "óe",
    "oẻ": "ỏe",
    "oẽ": "õe",
    "oẹ": "ọe",
    "uỳ": "ùy",
    "uý": "úy",
    "uỷ": "ủy",
    "uỹ": "ũy",
    "uỵ": "ụy",
}
# only open syllables differ between the styles: "hoà" vs "hòa", but "hoàn" is always "hoàn"
_TONE_RE = re.compile(f"(?:{'|'.join(_TONE_PAIRS)})(?![\\p{{L}}])")
# "qúy" misplaces the tone of "quý": after q, u is part of the consonant
_QU_PAIRS = {"qúy": "quý", "qùy": "quỳ", "qủy": "quỷ", "qũy": "quỹ", "qụy": "quỵ"}
_QU_RE = re.compile("|".join(_QU_PAIRS))


def _fold_char(ch: str) -> str:
    low = ch.lower()
    low = low if len(low) == 1 else ch
    return _QUOTES.get(low) or _DASHES.get(low) or low


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Return the matching view of ``text``: same length, lower case, one tone placement.

    >>> fold("Thanh Hoá “Dân vận khéo” – QUÝ")
    'thanh hóa "dân vận khéo" - quý'
    """
    low = "".join(map(_fold_char, text))
    low = _TONE_RE.sub(lambda m: _TONE_PAIRS[m.group()], low)
    return _QU_RE.sub(lambda m: _QU_PAIRS[m.group()], low)


def fold_pattern(pattern: str) -> str:
    """Fold a pattern written by a person the same way as the text it will be matched against."""
    return fold(pattern)


# --- boilerplate -----------------------------------------------------------------------------

_STAMP_RE = re.compile(r"^\s*date \d{4}-\d{2}(?:-\d{2})?\s*")
_DATELINE_RE = re.compile(r"\(([A-ZĐ]{2,6})\)\s*[-–—]\s*")  # used with .match(text, pos)
# a line that ends in "Ảnh: <author>" is a photo caption as a whole
_CAPTION_INLINE_RE = re.compile(r"\(?Ảnh(?: minh họa| minh hoạ)?\s*:\s*[^.!?\n]{0,60}\)?$")
_CAPTION_LINE_RE = re.compile(
    r"^(?:Quang cảnh|Quan cảnh|Toàn cảnh|Các đại biểu|Đại biểu|Lãnh đạo)[^.!?]{0,120}\.?$"
    r"|^[^\n]{0,200}(?:phát biểu|kết luận|phát biểu chỉ đạo|phát biểu kết luận)"
    r"(?: tại| chỉ đạo)? (?:hội nghị|buổi lễ|lễ ký kết)\.?$"
    r"|^Đồng chí [^\n.;]{0,80},$"
)
_UPDATED_RE = re.compile(r"^(?:Cập nhật|Ngày đăng|Đăng lúc|Thứ [^\n]{0,20}, \d)[^\n]{0,60}$")
_BYLINE_RE = re.compile(r"^(?:\(?(?:Theo )?[\p{Lu}][\p{L}.]*(?: [\p{Lu}][\p{L}.]*){0,3}\)?|\.+)$")


def find_boilerplate(text: str) -> list[tuple[int, int, str]]:
    """Spans of ``text`` that are not report prose, with their kind.

    Kinds: ``stamp`` (" date 2020-11"), ``dateline`` ("(QNO) - "), ``caption``, ``updated``,
    ``byline``, ``punctuation`` (a line of dots).
    """
    spans: list[tuple[int, int, str]] = []
    offset = 0
    seen_prose = False
    lines = text.split("\n")
    for index, line in enumerate(lines):
        start, end = offset, offset + len(line)
        offset = end + 1
        head = start
        stamp = _STAMP_RE.match(line)
        if stamp:
            spans.append((start, start + stamp.end(), "stamp"))
            head = start + stamp.end()
        dateline = _DATELINE_RE.match(text, head, end)
        if dateline:
            spans.append((head, dateline.end(), "dateline"))
            head = dateline.end()
        rest = text[head:end]
        if len(rest.split()) <= 60 and _CAPTION_INLINE_RE.search(rest):
            spans.append((head, end, "caption"))
            continue
        kind = _line_kind(rest, is_last=index == len(lines) - 1, first=not seen_prose)
        if kind:
            spans.append((head, end, kind))
        if kind in {"", "title"}:
            seen_prose = True
    return spans


def _line_kind(line: str, *, is_last: bool, first: bool) -> str:
    if not line.strip(" .…"):
        return "punctuation"
    if _UPDATED_RE.match(line):
        return "updated"
    if _CAPTION_LINE_RE.match(line) and len(line.split()) <= 40:
        return "caption"
    words = line.split()
    if is_last and len(words) <= 4 and _BYLINE_RE.match(line):
        return "byline"
    if re.search(r"[.!?:;…\"”)]\s*$", line) or re.search(r"\d", line):
        return ""
    if first and 4 <= len(words) <= 40:
        return "title"  # the first line with no sentence end is the headline
    if len(words) <= 15:
        return "caption"  # a short line with no sentence end: a photo caption or a heading
    return ""


# --- sentences -------------------------------------------------------------------------------

# Abbreviations that end in "." but not a sentence: "TP. Hồ Chí Minh", "Q. 4", "PGS. TS".
_ABBREV = frozenset(
    {"tp", "tx", "tt", "q", "p", "h", "x", "ts", "ths", "pgs", "gs", "bs", "ks", "đ/c", "st", "th"}
)
_BOUNDARY_RE = re.compile(r"(?:\.{3}|…|[.!?])+(?:[\"”’)]+)?(?=\s+[\p{Lu}\"“‘(\d])|\./\.")


def split_sentences(text: str, skip: list[tuple[int, int, str]]) -> tuple[Sentence, ...]:
    """Split ``text`` into sentences, leaving out the ``skip`` spans.

    A sentence ends at a line end, or at ``. ! ? …`` followed by a space and a capital, a quote
    or a digit; "27.11", "3.340", "TP.HCM", "T.Ư" hold no space and never split, and
    "TP. Hồ Chí Minh" is protected by the abbreviation list.
    """
    mask = bytearray(len(text))
    for a, b, _ in skip:
        mask[a:b] = b"\x01" * (b - a)
    sentences: list[Sentence] = []
    offset = 0
    for paragraph, line in enumerate(text.split("\n")):
        cuts = [0]
        for m in _BOUNDARY_RE.finditer(line):
            if _is_abbreviation(line, m.start()):
                continue
            cuts.append(m.end())
        cuts.append(len(line))
        for a, b in zip(cuts, cuts[1:], strict=False):
            for run_start, run_end in _unmasked(mask, offset + a, offset + b):
                s, e = _trim(text, run_start, run_end)
                if e - s >= 2:
                    sentences.append(Sentence(s, e, paragraph))
        offset += len(line) + 1
    return tuple(sentences)


def _is_abbreviation(line: str, dot: int) -> bool:
    word = re.search(r"([\p{L}/]+)$", line[:dot])
    return bool(word) and word.group(1).lower() in _ABBREV and line[dot] == "."


def _unmasked(mask: bytearray, a: int, b: int) -> list[tuple[int, int]]:
    runs, start = [], None
    for i in range(a, b):
        if mask[i]:
            if start is not None:
                runs.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        runs.append((start, b))
    return runs


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] in " \t":
        s += 1
    while e > s and text[e - 1] in " \t":
        e -= 1
    return s, e


# --- stage -----------------------------------------------------------------------------------


def normalize_doc(doc: SourceDoc) -> NormalizedDoc:
    """Normalise one source document."""
    text = normalize_text(doc.text)
    boilerplate = find_boilerplate(text)
    headline = next((text[a:b] for a, b, kind in boilerplate if kind == "title"), "")
    return NormalizedDoc(
        doc_id=doc.doc_id,
        source=doc.source,
        title=doc.title or headline,
        text=text,
        folded=fold(text) if len(text) < 4096 else _fold_long(text),
        sentences=split_sentences(text, boilerplate),
        boilerplate=tuple(boilerplate),
        meta=doc.meta,
    )


def _fold_long(text: str) -> str:
    # fold() is cached for short strings (patterns, names); long texts bypass the cache
    return fold.__wrapped__(text)


def normalize_docs(docs: list[SourceDoc]) -> list[NormalizedDoc]:
    """Normalise a batch of documents (one task run per batch: Prefect costs ~10 ms a run)."""
    return [normalize_doc(doc) for doc in docs]


@task(name="normalize")
def normalize_task(docs: list[SourceDoc]) -> list[NormalizedDoc]:
    """Prefect wrapper of ``normalize_docs``."""
    return normalize_docs(docs)
