"""Normalise stage: ``SourceDoc`` -> ``NormalizedDoc``.

The normalised text is what every offset points into and what the fact sentences are quoted
from, so it changes the source only where a reader would not notice: Unicode NFC, line ends,
invisible characters and runs of spaces. Everything else that matching needs (lower case, one
tone-mark placement, plain quotes and dashes) lives in ``folded``, a view of the same length.

Boilerplate (headlines, photo captions, "Cập nhật:", datelines, bylines, corpus stamps) stays in
the text but is left out of the analysed sentences.

Speed: a report is normalised in well under a millisecond. Whole-text work is done with C-level
``str`` methods (``lower``, ``replace``, ``in``); a regex runs only where a cheap test says it
can match (a regex pass over a 3 KB text costs 50-300 µs, a substring test about 1 µs).
"""

from __future__ import annotations

import re as stdlib_re
import threading
import unicodedata
from functools import lru_cache

import regex as re

from tasks.records import NormalizedDoc, Sentence, SourceDoc

# --- text ------------------------------------------------------------------------------------

_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_ODD_SPACES = (
    "\t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MULTI_SPACE = re.compile(r" {2,}")


_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _has_forbidden(text: str) -> bool:
    # UTF-8 never uses bytes below 0x80 inside a multi-byte sequence, so deleting the control
    # bytes changes the length exactly when the text holds a control character (a C-speed test)
    raw = text.encode("utf-8", "surrogatepass")
    return (
        len(raw.translate(None, _CONTROL_BYTES)) != len(raw) or "\ufffe" in text or "\uffff" in text
    )


_last_normalized = threading.local()


def normalize_text(raw: str) -> str:
    """NFC, ``\\n`` line ends, no invisible or XML-forbidden characters, single spaces.

    Paragraphs are lines; blank lines between them are dropped, so ``"a\\n\\n b"`` -> ``"a\\nb"``.

    Ingest hashes a document's normalised text (``content_hash``) and normalise then needs it
    again: the last answer of the thread is kept for the very same string object.
    """
    last = getattr(_last_normalized, "pair", None)
    if last is not None and last[0] is raw:
        answer: str = last[1]
        return answer
    answer = _normalize_text(raw)
    _last_normalized.pair = (raw, answer)
    return answer


def _normalize_text(raw: str) -> str:
    text = raw
    for ch in _INVISIBLE:
        if ch in text:
            text = text.replace(ch, "")
    if _has_forbidden(text):
        text = _XML_FORBIDDEN.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\u2028" in text:
        text = text.replace("\u2028", "\n")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    for ch in _ODD_SPACES:
        if ch in text:
            text = text.replace(ch, " ")
    if "  " in text:
        text = _MULTI_SPACE.sub(" ", text)
    lines = (line.strip(" ") for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# --- folded view -----------------------------------------------------------------------------

_QUOTES = {c: '"' for c in "“”„‟«»″"} | {c: "'" for c in "‘’‚‛′"}
_DASHES = {c: "-" for c in "‐‑‒–—―−"}
_CHAR_MAP = tuple((_QUOTES | _DASHES).items())

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
# Only open syllables differ between the styles: "hoà" vs "hòa", but "hoàn" is always "hoàn".
# ``_TONE_RE`` finds the pairs above at the end of a word. It is rare ("hoà", "thuỷ" in a few
# reports of a hundred), so a pre-check by the C engine of ``re`` decides first: the same pairs
# before anything but an ASCII letter, a superset of the places (an ASCII letter is always a
# letter) that rules out "toàn", "hoạt", "khoảng". The check scans a 3 KB report about three
# times as fast as ``regex`` does, and its character class comes first, so the engine skips
# to the next "o" or "u" at C speed.
_TONE_SECONDS = {
    first: "".join(sorted(p[1] for p in _TONE_PAIRS if p[0] == first)) for first in "ou"
}
_TONE_RE = re.compile(f"(?:o[{_TONE_SECONDS['o']}]|u[{_TONE_SECONDS['u']}])(?![\\p{{L}}])")
_TONE_HINT_RE = stdlib_re.compile(
    f"[ou][{_TONE_SECONDS['o']}{_TONE_SECONDS['u']}](?![a-z])"
    f"(?<=o[{_TONE_SECONDS['o']}]|u[{_TONE_SECONDS['u']}])"
)
# "qúy" misplaces the tone of "quý": after q, u is part of the consonant
_QU_PAIRS = {"qúy": "quý", "qùy": "quỳ", "qủy": "quỷ", "qũy": "quỹ", "qụy": "quỵ"}
_QU_ANY_RE = stdlib_re.compile(f"q[{''.join(w[1] for w in _QU_PAIRS)}]y")


def _fold_raw(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):  # "İ".lower() has two code points: keep such a character as is
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    for ch, plain in _CHAR_MAP:
        if ch in low:
            low = low.replace(ch, plain)
    if _TONE_HINT_RE.search(low):
        # (no pair can overlap another, or make one: each is two letters before a non-letter)
        low = _TONE_RE.sub(_old_style, low)
    if _QU_ANY_RE.search(low):
        for wrong, right in _QU_PAIRS.items():
            if wrong in low:
                low = low.replace(wrong, right)
    return low


def _old_style(m: re.Match[str]) -> str:
    """The old tone placement of a pair ``_TONE_RE`` found ("oà" -> "òa")."""
    return _TONE_PAIRS[m.group()]


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Return the matching view of ``text``: same length, lower case, one tone placement.

    >>> fold("Thanh Hoá “Dân vận khéo” – QUÝ")
    'thanh hóa "dân vận khéo" - quý'
    """
    return _fold_raw(text)


def fold_text(text: str) -> str:
    """``fold`` without the cache, for whole documents (each is folded once)."""
    return _fold_raw(text)


def fold_pattern(pattern: str) -> str:
    """Fold a pattern written by a person the same way as the text it will be matched against."""
    return fold(pattern)


# --- boilerplate -----------------------------------------------------------------------------

_STAMP_RE = re.compile(r"^\s*date \d{4}-\d{2}(?:-\d{2})?\s*")
# "(QNO) - ", "(BGĐT) – ", "(Baonghean.vn) - ", "QĐND - ", "HÀ NỘI - ", "QĐND Online - "
_DATELINE_RE = re.compile(
    r"(?:\((?:[\p{Lu}Đ]{2,8}|[\p{L}]+\.vn)\)\s*"
    r"|[\p{Lu}Đ]{2,}(?:[ .][\p{Lu}Đ]{2,}){0,2}(?: Online)?\s+)"
    r"[-–—]\s*"
)
# a line that ends in "Ảnh: <author>" is a photo caption as a whole
_CAPTION_INLINE_RE = re.compile(
    r"\(?Ảnh(?: minh họa| minh hoạ|:? ?tư liệu)?\s*:\s*[^.!?\n]{0,60}\)?$"
)
_CAPTION_START_RE = re.compile(
    r"^(?:Quang cảnh|Quan cảnh|Toàn cảnh|Các đại biểu|Đại biểu|Lãnh đạo)"
)
_SPEAKER_END_RE = re.compile(
    r"(?:phát biểu|kết luận|phát biểu chỉ đạo|phát biểu kết luận|trao (?:bằng|giấy) khen|"
    r"tặng (?:bằng|giấy) khen)(?: tại| chỉ đạo)? (?:hội nghị|buổi lễ|lễ ký kết|buổi làm việc)\.?$"
)
_UPDATED_RE = re.compile(
    r"^(?:Cập nhật|Ngày đăng|Đăng lúc|Ngày cập nhật|Thứ [^\n]{0,20}, \d|Tin liên quan|Xem thêm"
    r"|Chia sẻ|Bình luận|In bài|Gửi bài|Từ khóa|Tags?\s*:)[^\n]{0,60}$"
)
_BYLINE_RE = re.compile(
    r"^(?:(?:Tin|Bài|Tin, ảnh|Bài, ảnh|Tin và ảnh|Bài và ảnh)\s*:\s*)?"
    r"\(?(?:Theo )?[\p{Lu}][\p{L}.]*(?: [\p{Lu}][\p{L}.]*){0,4}\)?"
    r"(?: \((?:[\p{Lu}Đ]{2,8}|[\p{L}]+\.vn)\))?$|^\.+$"
)
_SPEAKER_TAILS = ("hội nghị", "buổi lễ", "lễ ký kết", "buổi làm việc")
_INNER_STOP_RE = re.compile(r"[.!?].")
_SENTENCE_END_CHARS = frozenset('.!?:;…"”)')
_BULLETS = ("-", "+", "•", "*", "–")


def find_boilerplate(text: str) -> list[tuple[int, int, str]]:
    """Spans of ``text`` that are not report prose, with their kind.

    Kinds: ``stamp`` (" date 2020-11"), ``dateline`` ("(QNO) - "), ``title`` (the headline),
    ``caption``, ``heading``, ``updated``, ``byline``, ``punctuation`` (a line of dots).
    """
    spans: list[tuple[int, int, str]] = []
    offset = 0
    seen_prose = False
    lines = text.split("\n")
    last = len(lines) - 1
    for index, line in enumerate(lines):
        start, end = offset, offset + len(line)
        offset = end + 1
        head = start
        if line.startswith(" date ") or line.startswith("date "):
            stamp = _STAMP_RE.match(line)
            if stamp:
                spans.append((start, start + stamp.end(), "stamp"))
                head = start + stamp.end()
        lead = line[head - start : head - start + 45]
        if (lead[:1] == "(" or lead[:2].isupper()) and ("-" in lead or "–" in lead or "—" in lead):
            dateline = _DATELINE_RE.match(text, head, end)
            if dateline:
                spans.append((head, dateline.end(), "dateline"))
                head = dateline.end()
        rest = text[head:end]
        if "Ảnh" in rest and rest.count(" ") < 60 and _CAPTION_INLINE_RE.search(rest):
            spans.append((head, end, "caption"))
            continue
        kind = _line_kind(rest, is_last=index == last, first=not seen_prose)
        if kind:
            spans.append((head, end, kind))
        if kind in {"", "title"}:
            seen_prose = True
    return spans


def _line_kind(line: str, *, is_last: bool, first: bool) -> str:
    bare = line.strip(" .…")
    if not bare:
        return "punctuation"
    n_words = line.count(" ") + 1
    if n_words <= 12 and _UPDATED_RE.match(line):
        return "updated"
    if n_words <= 40 and (
        (_CAPTION_START_RE.match(line) and len(line) <= 130 and not _INNER_STOP_RE.search(line))
        or (line.rstrip(".").endswith(_SPEAKER_TAILS) and _SPEAKER_END_RE.search(line))
        or (line.startswith("Đồng chí ") and line.endswith(",") and n_words <= 16)
    ):
        return "caption"
    if is_last and n_words <= 7 and _BYLINE_RE.match(line):
        return "byline"
    # (a slice: a line of white space other than " ", "\x85" alone, would have no last character)
    ends_sentence = line.rstrip()[-1:] in _SENTENCE_END_CHARS
    if ends_sentence or line.startswith(_BULLETS):
        return ""
    # a line with no sentence end: the headline first, then subheadings and photo captions;
    # a headline or subheading with figures repeats the body ("Cần Thơ: Hoàn thành 100% chỉ
    # tiêu giao quân"), so it is left out even when it holds a number
    if first and 3 <= n_words <= 40:
        return "title"
    if n_words <= 15:
        return "heading" if any(c.isdigit() for c in line) else "caption"
    return ""


# --- sentences -------------------------------------------------------------------------------

# Abbreviations that end in "." but not a sentence: "TP. Hồ Chí Minh", "Q. 4", "PGS. TS".
_ABBREV = frozenset(
    {"tp", "tx", "tt", "q", "p", "h", "x", "ts", "ths", "pgs", "gs", "bs", "ks", "đ/c", "st", "th"}
)
_ABBREV_LONGEST = max(map(len, _ABBREV))


def split_sentences(text: str, skip: list[tuple[int, int, str]]) -> tuple[Sentence, ...]:
    """Split ``text`` into sentences, leaving out the ``skip`` spans.

    A sentence ends at a line end, or at ``. ! ? …`` (closing quotes included) followed by a
    space and a capital, a quote or a digit; "27.11", "3.340", "TP.HCM", "T.Ư" hold no space
    and never split, "TP. Hồ Chí Minh" is protected by the abbreviation list, and "./." (the
    official end mark) ends a sentence.
    """
    skips = sorted((a, b) for a, b, _ in skip if b > a)
    # (a line end is no mark, quote or letter: every cut found in the whole text at once is
    # one that its line gives, and one scan costs less than a scan per line)
    cuts = _sentence_ends(text, 0, len(text))
    n_cuts = len(cuts)
    k = 0  # the first cut not yet given to a line
    sentences: list[Sentence] = []
    start = 0
    n = len(text)
    paragraph = 0
    waiting = 0  # the first span of ``skips`` that starts after the lines seen so far
    near: list[tuple[int, int]] = []  # the spans that reach into the current line, in order
    while start <= n:
        end = text.find("\n", start)
        if end < 0:
            end = n
        # the cuts of this line (a cut may fall on the line end: "./." closing a line)
        first_cut = k
        while k < n_cuts and cuts[k] <= end:
            k += 1
        # only the spans that reach into this line can cut it (``_unskipped`` passes over the
        # others): most lines have none, and a line that one span covers whole (a headline,
        # a caption) holds no sentence and need not be split
        while waiting < len(skips) and skips[waiting][0] < end:
            near.append(skips[waiting])
            waiting += 1
        if near:
            near = [span for span in near if span[1] > start]
        if near and near[0][0] <= start and near[0][1] >= end:
            start, paragraph = end + 1, paragraph + 1
            continue
        if first_cut == k and not near:  # (most lines: one piece, nothing skipped)
            s, e = _trim(text, start, end)
            if e - s >= 2:
                sentences.append(Sentence(s, e, paragraph))
        else:
            pieces = [start, *cuts[first_cut:k], end]
            for a, b in zip(pieces, pieces[1:], strict=False):
                for run_start, run_end in _unskipped(near, a, b) if near else ((a, b),):
                    s, e = _trim(text, run_start, run_end)
                    if e - s >= 2:
                        sentences.append(Sentence(s, e, paragraph))
        start = end + 1
        paragraph += 1
    return tuple(sentences)


_ENDERS = ".!?…"
_CLOSERS = '"”’)'
_OPENERS = '"“‘('


def _sentence_ends(text: str, a: int, b: int) -> list[int]:
    """Offsets in ``text[a:b]`` where a sentence ends, found with ``str.find``.

    ``[a, b)`` may hold several lines: a line end is no end mark, closing quote or letter, so
    each search stops there as it would at the end of a line alone, and ``split_sentences``
    scans the whole text once rather than each line (a dozen ``find`` calls fewer a line).
    """
    if "!" not in text and "?" not in text and "…" not in text and "./." not in text:
        return _dot_ends(text, a, b)
    return _mark_ends(text, a, b)


def _mark_ends(text: str, a: int, b: int) -> list[int]:
    """``_sentence_ends`` of any text: a search for each end mark in turn."""
    cuts = set()
    for ch in _ENDERS:
        i = text.find(ch, a, b)
        while i >= 0:
            if text.startswith("./.", i):
                cuts.add(min(i + 3, b))
                i = text.find(ch, i + 3, b)
                continue
            j = i + 1
            while j < b and text[j] in _ENDERS:
                j += 1
            while j < b and text[j] in _CLOSERS:
                j += 1
            if j + 1 < b and text[j] == " ":
                nxt = text[j + 1]
                if (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS) and not (
                    text[i] == "." and _is_abbreviation(text, i, a)
                ):
                    cuts.add(j)
            i = text.find(ch, j, b)
    return sorted(cuts)


# a run of dots (and the closing quotes after it) before a space: where a sentence of a text
# without "!", "?", "…" or "./." may end; the leading literal dot lets ``re`` skip to the next
# dot at C speed, past "3.340" and "27.11" without a Python step
_DOTS_BEFORE_SPACE = stdlib_re.compile(r'\.\.*["”’)]*(?= )')


def _dot_ends(text: str, a: int, b: int) -> list[int]:
    """``_sentence_ends`` of a text whose only end mark is the dot (most reports): each run of
    dots is searched once, from its first dot, as the search of ``_sentence_ends`` does."""
    cuts = []
    for m in _DOTS_BEFORE_SPACE.finditer(text, a, b):
        j = m.end()
        if j + 1 < b:
            nxt = text[j + 1]
            if (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS) and not _is_abbreviation(
                text, m.start(), a
            ):
                cuts.append(j)
    return cuts


def _is_abbreviation(text: str, dot: int, floor: int = 0) -> bool:
    # the letters (and "/": "đ/c") right before the dot, at most 8: a walk back over a short
    # word costs less than a regex search of the window; a word one letter longer than the
    # longest abbreviation is none, so the walk stops there
    lo = max(floor, dot - 8, dot - _ABBREV_LONGEST - 1)
    word = text[lo:dot]
    if word.isalpha():  # all letters up to the limit: the walk would stop there (C speed)
        return word.lower() in _ABBREV
    # letters after the last space: the walk would stop at the space (" tốt." -> "tốt")
    tail = word[word.rfind(" ") + 1 :]
    if tail.isalpha() and len(tail) < len(word):
        return tail.lower() in _ABBREV
    start = dot
    while start > lo and (text[start - 1] == "/" or is_letter(text[start - 1])):
        start -= 1
    return start < dot and text[start:dot].lower() in _ABBREV


_LETTER = re.compile(r"\p{L}")


def is_letter(c: str) -> bool:
    """``\\p{L}`` for one character: ``str.isalpha``, or for a character that is not ASCII the
    regex module's table, which knows the letters of a newer Unicode than Python's."""
    return c.isalpha() or (not c.isascii() and _LETTER.match(c) is not None)


def _unskipped(skips: list[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    """The parts of ``[a, b)`` outside every skipped span (``skips`` sorted by start)."""
    runs = []
    pos = a
    for s, e in skips:
        if e <= pos or s >= b:
            continue
        if s > pos:
            runs.append((pos, s))
        pos = max(pos, e)
        if pos >= b:
            break
    if pos < b:
        runs.append((pos, b))
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
        folded=_fold_raw(text),
        sentences=split_sentences(text, boilerplate),
        boilerplate=tuple(boilerplate),
        meta=doc.meta,
    )


def normalize_docs(docs: list[SourceDoc]) -> list[NormalizedDoc]:
    """Normalise a batch of documents (one task run per batch: Prefect costs ~10 ms a run)."""
    return [normalize_doc(doc) for doc in docs]


# --- fast phrase search ------------------------------------------------------------------------


def phrase_positions(
    folded: str, phrases: tuple[str, ...], start: int = 0, end: int = -1
) -> list[int]:
    """Start offsets of whole-word occurrences of folded ``phrases`` in ``folded[start:end]``.

    ``str.find`` runs at C speed, so looking for a dozen phrases costs a few microseconds where
    one regex alternation over a report costs hundreds: "năm tới" in "... trong năm tới, ..."
    is found, "năm tới" inside "trăm tới" is not (the letter before must not be a letter).
    """
    stop = len(folded) if end < 0 else end
    out = []
    for phrase in phrases:
        i = folded.find(phrase, start, stop)
        while i >= 0:
            j = i + len(phrase)
            if (i == 0 or not folded[i - 1].isalpha()) and (
                j >= len(folded) or not folded[j].isalpha()
            ):
                out.append(i)
            i = folded.find(phrase, i + 1, stop)
    out.sort()
    return out
