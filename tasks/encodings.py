"""Bytes -> Unicode text for the ingest stage: Vietnamese encodings old and new, and mojibake.

Users bring text files in whatever their office software wrote:

- UTF-8 (with or without a BOM) and UTF-16 (with a BOM, or without one: told by its NUL bytes);
- Windows-1258, whose tone marks are combining characters ("e" + U+0301), recomposed to NFC;
- the 8-bit font encodings of the 1990s still found in old government documents: TCVN3 (ABC,
  one byte a letter: "Héi nghÞ" is "Hội nghị") and VNI-Windows (a letter and a mark byte:
  "Hoäi nghò" is "Hội nghị"). Their charts are data files, ``data/tcvn3.csv`` and
  ``data/vni.csv`` (a character and its bytes in hex), written from the published charts;
- mojibake: UTF-8 read once as Windows-1252 and saved again ("Ä‘á»“ng" is "đồng").

Which reading is right is decided by how Vietnamese the text comes out: the share of its words
that are well-formed Vietnamese syllables (an initial consonant, one to three vowels, a final
consonant, at most one tone mark). A wrong reading of a legacy encoding gives words like
"nghÞ" or "Hoäi", which are not syllables, so the right reading wins by a wide margin. A repair
is applied only when it makes the text clearly more Vietnamese.
"""

from __future__ import annotations

import csv
import re as stdlib_re
import unicodedata
from functools import lru_cache
from pathlib import Path

import regex as re

DATA = Path(__file__).resolve().parent / "data"

#: Combining tone marks (grave, acute, tilde, hook above, dot below); the vowel-shape marks
#: (circumflex, breve, horn) are part of the letter and stay.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
# a syllable, tone marks removed, lower case: initial, vowel nucleus, final.
# "nghiêng" -> ngh + iê + ng; "quyết" -> qu + yê + t; "gì" -> g + i
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    r"[aăâeêioôơuưy]{1,3}"
    r"(?:ch|ng|nh|[cmnpt])?"
)
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCT = re.compile(r"^[\p{P}\p{S}\d]+|[\p{P}\p{S}\d]+$")
#: Characters XML 1.0 forbids (python-docx would refuse them), and lone surrogates, which
#: cannot be written as UTF-8. (Plain character classes: the standard library's engine scans
#: them 2-3 times faster than ``regex``.)
_XML_FORBIDDEN = stdlib_re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# runs of characters that UTF-8 bytes become when read as Windows-1252 or Latin-1
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_MOJIBAKE_RUN = re.compile(f"[\u0080-\u00ff{_CP1252_HIGH}]+")
# what only a wrong reading leaves: a UTF-8 lead byte shown as "Ã".."ï" then a continuation
# byte shown as "\u0080".."¿" ("á»"), or Latin-1 letters and signs Vietnamese never uses
# (TCVN3 "¸", "Þ"; VNI "ø", "ö")
# (only character classes: the standard library's engine finds them 3x faster than ``regex``,
# and ``repair`` runs it over every text that is read)
_SUSPECT = stdlib_re.compile(
    f"[\u00c2-\u00ef][\u0080-\u00bf{_CP1252_HIGH}]"
    "|[\u0080-\u009f\u00a1-\u00bf\u00c4-\u00c7\u00cb\u00ce\u00cf\u00d0\u00d1\u00d6-\u00d8\u00db\u00dc"
    "\u00de\u00df\u00e4-\u00e7\u00eb\u00ee-\u00f1\u00f6-\u00f8\u00fb\u00fc\u00fe\u00ff]"
)
#: Share of control bytes above which a file is called binary noise, not text.
NOISE_SHARE = 0.05
_CONTROL_BYTES = (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))
_CONTROL_BYTE_SET = bytes(_CONTROL_BYTES)
#: Least share of Vietnamese syllables for a legacy reading to be believed.
MIN_VIETNAMESE = 0.5
#: How much more Vietnamese a repair must make a text to be applied.
REPAIR_GAIN = 0.1


class EncodingError(ValueError):
    """Bytes that are not text in any encoding this stage knows; the message says why."""


# --- charts ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def load_chart(name: str) -> dict[str, bytes]:
    """Read ``data/<name>.csv``: Unicode character -> its bytes in the legacy encoding."""
    with (DATA / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return {row["char"]: bytes.fromhex(row["bytes"]) for row in csv.DictReader(f)}


def _byte_char(b: int) -> str:
    """The character a byte stands for in Windows-1252 (Latin-1 where 1252 has a hole)."""
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(b)


@lru_cache(maxsize=1)
def _tcvn3_table() -> dict[int, str]:
    # bytes the chart does not use read as Windows-1252 (quotes, dashes), as the fonts did
    table = {b: _byte_char(b) for b in range(0x80, 0x100)}
    table.update({code[0]: ch for ch, code in load_chart("tcvn3").items()})
    return table


def decode_tcvn3(data: bytes) -> str:
    """Decode TCVN3 (ABC) bytes to NFC text.

    TCVN3 has codes for lower-case toned letters only; capitals were drawn with a separate
    "H" font (.VnTimeH) over the same codes. A word whose plain letters are all capitals
    ("HéI NGHÞ") is therefore taken as written in that font and upper-cased ("HỘI NGHỊ").
    """
    table = _tcvn3_table()
    text = "".join(table.get(b, chr(b)) if b >= 0x80 else chr(b) for b in data)
    return unicodedata.normalize("NFC", _restore_capitals(text))


def _restore_capitals(text: str) -> str:
    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        ascii_letters = [c for c in word if c.isascii() and c.isalpha()]
        if len(ascii_letters) >= 2 and all(c.isupper() for c in ascii_letters):
            return word.upper()
        return word

    return re.sub(r"\p{L}+", fix, text)


def encode_tcvn3(text: str) -> bytes:
    """Encode NFC text as TCVN3 (capital toned letters as their H-font codes, i.e. lower case).

    Raises:
        EncodingError: for a character TCVN3 cannot write.
    """
    chart = load_chart("tcvn3")
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        code = chart.get(ch) or chart.get(ch.lower()) or _free_cp1252("tcvn3", ch)
        if code is None:
            raise EncodingError(f"TCVN3 cannot write {ch!r}")
        out += code
    return bytes(out)


def _free_cp1252(chart_name: str, ch: str) -> bytes | None:
    """``ch`` as Windows-1252 when that byte is ASCII or not taken by the chart ("–", "“")."""
    if ord(ch) < 0x80:
        return ch.encode("ascii")
    try:
        code = ch.encode("cp1252")
    except UnicodeEncodeError:
        return None
    taken = {b for seq in load_chart(chart_name).values() for b in seq}
    return None if code[0] in taken else code


@lru_cache(maxsize=1)
def _vni_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    by_seq = {code.decode("cp1252"): ch for ch, code in load_chart("vni").items()}
    alternation = "|".join(re.escape(s) for s in sorted(by_seq, key=len, reverse=True))
    return re.compile(alternation), by_seq


def decode_vni(data: bytes) -> str:
    """Decode VNI-Windows bytes (a letter, then a mark byte: "aù" is "á") to NFC text."""
    pattern, by_seq = _vni_pattern()
    text = "".join(_byte_char(b) if b >= 0x80 else chr(b) for b in data)
    return unicodedata.normalize("NFC", pattern.sub(lambda m: by_seq[m.group(0)], text))


def encode_vni(text: str) -> bytes:
    """Encode NFC text as VNI-Windows.

    Raises:
        EncodingError: for a character VNI cannot write.
    """
    chart = load_chart("vni")
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        code = chart.get(ch) or _free_cp1252("vni", ch)
        if code is None:
            raise EncodingError(f"VNI cannot write {ch!r}")
        out += code
    return bytes(out)


def encode_cp1258(text: str) -> bytes:
    """Encode NFC text as Windows-1258 the way Windows does: a precomposed letter where the
    code page has one ("ư", "à"), else the letter and a combining tone mark ("ứ" = "ư" + 0xEC).

    Raises:
        EncodingError: for a character Windows-1258 cannot write.
    """
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
        marks = "".join(c for c in decomposed if c in _TONES)
        try:
            out += (base + marks).encode("cp1258")
        except UnicodeEncodeError as err:
            raise EncodingError(f"Windows-1258 cannot write {ch!r}") from err
    return bytes(out)


def decode_cp1258(data: bytes) -> str:
    """Decode Windows-1258 and compose its combining tone marks: "e" + U+0301 -> "é"."""
    return unicodedata.normalize("NFC", data.decode("cp1258", errors="replace"))


# --- how Vietnamese is a text ----------------------------------------------------------------


@lru_cache(maxsize=65536)
def is_syllable(word: str) -> bool:
    """Whether ``word`` is a well-formed Vietnamese syllable ("nghị" yes, "nghÞ", "hoäi" no)."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = sum(1 for c in decomposed if c in _TONES)
    if tones > 1:
        return False
    bare = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    return _SYLLABLE.fullmatch(bare) is not None


def vietnamese_score(text: str, limit: int = 20000) -> float:
    """Share of the words of ``text`` (its first ``limit`` characters) that are syllables.

    Digits and punctuation at the edges of a word are ignored ("2023," counts for nothing;
    "(Hà" counts as "Hà"). Text with no word scores 0.
    """
    words = 0
    good = 0
    for m in _TOKEN.finditer(text[:limit]):
        word = _EDGE_PUNCT.sub("", m.group(0))
        if not word:
            continue
        words += 1
        good += is_syllable(word)
    return good / words if words else 0.0


def _non_ascii_letters(text: str) -> int:
    return sum(1 for c in text if not c.isascii() and c.isalpha())


# --- repair ----------------------------------------------------------------------------------


def _as_cp1252_bytes(text: str) -> bytes | None:
    """The bytes ``text`` came from if it was read as Windows-1252 (or Latin-1), else None."""
    out = bytearray()
    for ch in text:
        if ord(ch) < 0x100 and not ("\u0080" <= ch <= "\u009f"):
            out.append(ord(ch))
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if "\u0080" <= ch <= "\u009f":  # a byte 1252 leaves undefined, kept as Latin-1
                out.append(ord(ch))
            else:
                return None
    return bytes(out)


def undo_mojibake(text: str) -> str:
    """Re-read runs that are UTF-8 bytes shown as Windows-1252: "Ä‘á»“ng" -> "đồng".

    Runs that do not decode as UTF-8 stay as they are.
    """

    def fix(m: re.Match[str]) -> str:
        raw = _as_cp1252_bytes(m.group(0))
        if raw is None:
            return m.group(0)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return m.group(0)

    return _MOJIBAKE_RUN.sub(fix, text)


# ``_SUSPECT`` split for a quick count: its characters that clean Vietnamese text never holds,
# and the one pair it can ("â" + a curly quote, from "...â”" : rare but possible)
_SUSPECT_RARE = stdlib_re.compile(
    "[\u0080-\u00bf\u00c4-\u00c7\u00cb\u00ce\u00cf\u00d0\u00d1\u00d6-\u00d8\u00db\u00dc"
    "\u00de\u00df\u00e4-\u00e7\u00eb\u00ee-\u00f1\u00f6-\u00f8\u00fb\u00fc\u00fe\u00ff]"
)
# (the regex module's engine: four times faster than the standard library's on this pair of
# classes, where the standard library's is faster on the single class above)
_SUSPECT_PAIR = re.compile(f"[\u00c2-\u00ef][{_CP1252_HIGH}]")


def count_suspects(text: str) -> int:
    """``len(_SUSPECT.findall(text))``, cheaply for clean text.

    Without any of the rare characters, only the pattern's first branch with a Windows-1252
    punctuation mark (“ ” – …) as its second character can match, and such matches cannot
    overlap: two plain character-class scans count them, where the alternation is tried at
    every position.
    """
    if _SUSPECT_RARE.search(text):
        return len(_SUSPECT.findall(text))
    return len(_SUSPECT_PAIR.findall(text))


def repair(text: str) -> tuple[str, str]:
    """Repair mojibake when the repair makes ``text`` clearly more Vietnamese.

    Tries, in turn: UTF-8 read as Windows-1252 (once or twice over), and TCVN3 or VNI bytes
    that some tool read as Windows-1252 and saved as Unicode ("Héi nghÞ" -> "Hội nghị": a Word
    file typed in the .VnTime font). When the whole text cannot be repaired at once (a Word
    file that mixes Unicode and .VnTime paragraphs), each suspect line is tried on its own.

    Returns:
        The text (repaired or not) and what was done ("" when nothing).
    """
    suspects = count_suspects(text[:20000])
    if suspects < 3 or suspects < 0.005 * min(len(text), 20000):
        return text, ""
    fixed, how = _repair_whole(text)
    if how:
        return fixed, how
    lines = text.split("\n")
    done: dict[str, int] = {}
    for i, line in enumerate(lines):
        if _SUSPECT.search(line):
            new, line_how = _repair_whole(line)
            if line_how:
                lines[i] = new
                done[line_how] = done.get(line_how, 0) + 1
    if not done:
        return text, ""
    return "\n".join(lines), "; ".join(f"{h} ({n} lines)" for h, n in sorted(done.items()))


def _repair_whole(text: str) -> tuple[str, str]:
    best, how, best_score = text, "", vietnamese_score(text)
    fixed = text
    for rounds in (1, 2):
        fixed = undo_mojibake(fixed)
        score = vietnamese_score(fixed)
        if score >= best_score + REPAIR_GAIN:
            best, how, best_score = fixed, f"repaired UTF-8 mojibake (x{rounds})", score
    raw = _as_cp1252_bytes(text)
    if raw is not None:
        for name, decoder in (("TCVN3", decode_tcvn3), ("VNI", decode_vni)):
            candidate = decoder(raw)
            score = vietnamese_score(candidate)
            if score >= best_score + REPAIR_GAIN:
                best, how, best_score = candidate, f"repaired {name} text saved as Unicode", score
    if not how or best_score < MIN_VIETNAMESE:
        return text, ""
    return unicodedata.normalize("NFC", best), how


# --- decoding --------------------------------------------------------------------------------


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when the NUL bytes say so, else None.

    Text in UTF-16 has a NUL high byte for every ASCII character (spaces, digits, most
    letters), so one of the two byte columns is mostly NUL and the other almost never.
    """
    if len(data) < 8:
        return None
    even, odd = data[0::2], data[1::2]
    n = len(data) // 2
    even_nul, odd_nul = even.count(0), odd.count(0)
    if odd_nul > 0.3 * n and even_nul < 0.02 * n:
        return "utf-16-le"
    if even_nul > 0.3 * n and odd_nul < 0.02 * n:
        return "utf-16-be"
    return None


def decode_bytes(data: bytes, declared: str = "") -> tuple[str, str]:
    """Decode the bytes of a text document to NFC Unicode.

    Args:
        data: the bytes.
        declared: an encoding the container declares (HTML ``<meta charset>``), tried first
            when it is not a Unicode one that the bytes contradict.

    Returns:
        The text and the name of the encoding it was read in (with a note of any repair).

    Raises:
        EncodingError: when no known encoding gives text.
    """
    for bom, name in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return _finish(data.decode(name, errors="replace"), name)
    utf16 = _utf16_without_bom(data)
    if utf16:
        return _finish(data.decode(utf16, errors="replace"), utf16)
    # one C-level pass (deleting them) rather than one ``count`` per control byte
    controls = len(data) - len(data.translate(None, _CONTROL_BYTE_SET))
    if data and controls / len(data) > NOISE_SHARE:
        raise EncodingError(f"binary noise ({controls} control bytes in {len(data)})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return _finish(text, "utf-8")
    # UTF-8 with a few damaged bytes (a truncated download, a bad sector) is still UTF-8: a
    # legacy encoding read as UTF-8 breaks at nearly every letter, not at a handful
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    if broken <= max(2, 0.002 * len(text)) and vietnamese_score(text) >= MIN_VIETNAMESE:
        return _finish(text, f"utf-8 ({broken} damaged bytes replaced)")
    declared = _codec_name(declared)
    if declared and declared not in {"utf-8", "utf-16"}:
        try:
            text = unicodedata.normalize("NFC", data.decode(declared))
        except UnicodeDecodeError:
            pass
        else:
            if vietnamese_score(text) >= MIN_VIETNAMESE or not _non_ascii_letters(text):
                return _finish(text, declared)
    candidates = [
        ("windows-1258", decode_cp1258(data)),
        ("tcvn3", decode_tcvn3(data)),
        ("vni", decode_vni(data)),
    ]
    scored = [(vietnamese_score(text), -i, name, text) for i, (name, text) in enumerate(candidates)]
    score, _, name, text = max(scored)
    if score < MIN_VIETNAMESE:
        raise EncodingError(
            "unknown text encoding (not UTF-8, UTF-16, Windows-1258, TCVN3 or VNI;"
            f" best guess {name} reads {score:.0%} Vietnamese words)"
        )
    return text, name


def _codec_name(name: str) -> str:
    import codecs

    try:
        return codecs.lookup(name.strip()).name if name.strip() else ""
    except LookupError:
        return ""


def _finish(text: str, name: str) -> tuple[str, str]:
    text, how = repair(unicodedata.normalize("NFC", text))
    return text, f"{name}, {how}" if how else name


def clean_text(text: str) -> str:
    """NFC, without lone surrogates (shown as U+FFFD) or characters XML forbids.

    Every text, title and metadata value that leaves ingest goes through this, so that
    nothing downstream (CSV as UTF-8, python-docx) meets a character it cannot write.
    """
    if not is_plain(text):  # rare: the pattern scans are for the text that needs them
        text = _SURROGATE.sub("\ufffd", text)
        if _XML_FORBIDDEN.search(text):  # a search is cheaper than a copy by ``sub``
            text = _XML_FORBIDDEN.sub("", text)
    return unicodedata.normalize("NFC", text)


def is_plain(text: str) -> bool:
    """Whether ``text`` has only printable characters, spaces, tabs and line ends.

    Then it has no control character, surrogate, private-use or unassigned code point
    (Python calls all of those non-printable), which ``str.isprintable`` says at C speed,
    where a pattern of their ranges is tried at every character. Other spaces ("\\xa0")
    are non-printable too: such a text takes the patterns' path.
    """
    return text.replace("\n", "").replace("\t", "").replace("\r", "").isprintable()


_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def printable_name(name: str) -> str:
    """A file or member name as text any CSV or DOCX can hold, NFC, nothing hidden.

    Bytes that were not UTF-8 (Python keeps them as lone surrogates, "\\udce1") and control
    characters are shown as ``\\xNN``: "b\\udce1o" -> "b\\\\xe1o", "a\\x07" -> "a\\\\x07".
    """

    def show(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        return f"\\x{code - 0xDC00 if 0xDC80 <= code <= 0xDCFF else code:02x}"

    return _NAME_UNSAFE.sub(show, unicodedata.normalize("NFC", name))
