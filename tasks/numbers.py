"""The Vietnamese number grammar: what a figure in report prose is, and what it is not.

Vietnamese writes thousands with "." and decimals with ",": "3.340" is 3340, "1,66%" is 1.66.
A figure becomes a ``Mention`` (value, unit, denominator, qualifier, range) only when it
counts something; years, dates, periods, document numbers, names with numbers, durations,
phone numbers and list numbering are recognised and refused, each with a reason that the
tests check.

One compiled pattern (``NUMBER_RE``) finds every number; the checks then look only at a few
characters around it, with patterns compiled once (``_patterns``). Spelled-out numbers and
vague amounts are found from a substring test first, so a report without them costs nothing.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex as re

from tasks.catalog import grammar, words_alternation
from tasks.normalize import fold, is_letter
from tasks.records import Sentence

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
#: Every number of the text; ``b`` is the second part of "a/b", "a-b" or "a đến b".
NUMBER_RE = re.compile(
    rf"(?<![\p{{L}}\d.,\-–])(?<!\d\s?/\s?)(?P<a>{_NUM})"
    rf"(?:(?P<sep>\s?/\s?|\s?[-–]\s?|\s(?:đến|tới)\s)(?P<b>{_NUM})(?![.,]\d))?"
)
YEAR_MIN, YEAR_MAX = 1900, 2099
_NUM_FULL = re.compile(rf"(?:{_NUM})")


def parse_number(token: str) -> float:
    """Parse one Vietnamese-formatted number.

    >>> parse_number("3.340"), parse_number("1,66"), parse_number("21.000"), parse_number("7")
    (3340.0, 1.66, 21000.0, 7.0)

    Raises:
        ValueError: when ``token`` is not a number in Vietnamese format.
    """
    if not _NUM_FULL.fullmatch(token):
        raise ValueError(f"not a Vietnamese number: {token!r}")
    return float(token.replace(".", "").replace(",", "."))


def _number_value(token: str) -> float:
    """``parse_number`` of a token that ``NUMBER_RE`` matched already (no second check)."""
    return float(token.replace(".", "").replace(",", "."))


def is_year(token: str) -> bool:
    """A bare four-digit number in 1900-2099 is a year ("2023"), never a count."""
    return len(token) == 4 and token.isdigit() and YEAR_MIN <= int(token) <= YEAR_MAX


@dataclass(frozen=True, slots=True)
class Mention:
    """A figure that counts something.

    Attributes:
        value: the number, scaled by "nghìn/triệu/tỷ".
        value_max: the upper end of a range ("25-30%", "từ 25 đến 30%"), else None.
        denominator: b of "a/b", else None.
        unit: "%", a currency, or the head of the counted noun.
        noun_phrase: the counted noun phrase as written ("" for "%" or money with nothing after).
        qualifier: hơn, gần, khoảng, … (lower case), else "".
        start, end: offsets of the number ("319/411") in the text.
    """

    value: float
    unit: str
    start: int
    end: int
    noun_phrase: str = ""
    denominator: float | None = None
    value_max: float | None = None
    qualifier: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A number that is not a fact, and why (for tests and debugging)."""

    start: int
    end: int
    reason: str


# --- compiled word lists -----------------------------------------------------------------


@cache
def _patterns() -> dict[str, Any]:
    g = grammar()
    time_units = words_alternation(g["time_units"])
    exceptions = words_alternation(g["time_unit_exceptions"])
    stop = words_alternation(g["noun_stop_words"])
    digits = sorted({fold(d) for d in g["spelled_digits"]} | {"mười"}, key=len, reverse=True)

    def phrase_set(key: str) -> tuple[frozenset[str], int]:
        words = frozenset(fold(w) for w in g[key])
        return words, max(len(w.split()) for w in words)

    return {
        "qualifiers": phrase_set("qualifiers"),
        "identifiers": phrase_set("identifier_prefixes"),
        "tail_words": max(phrase_set("qualifiers")[1], phrase_set("identifier_prefixes")[1]),
        # the last word of every qualifier and identifier prefix: a number whose word before
        # is none of them has neither, whatever the words before that ("đạt 5", "có 12")
        "tail_lasts": _last_words(phrase_set("qualifiers")[0])
        | _last_words(phrase_set("identifier_prefixes")[0]),
        "date_leads": phrase_set("date_lead_words"),
        "articles": phrase_set("article_before_mot"),
        "time_unit": re.compile(
            rf"\s*(?!(?:{exceptions})(?![\p{{L}}]))(?:{time_units})(?![\p{{L}}])"
        ),
        "scale": re.compile(rf"\s*({words_alternation(list(g['scales']))})(?![\p{{L}}])"),
        # "đồng" is the currency, but "đồng chí", "đồng bào", "đồng thời" are words of their own
        "currency": re.compile(
            rf"\s*(?!đồng (?:{words_alternation(g['currency_exceptions'])})(?![\p{{L}}]))"
            rf"({words_alternation(list(g['currencies']))})(?![\p{{L}}])"
        ),
        "percent": re.compile(r"\s*(?:%|phần trăm(?![\p{L}]))"),
        "stop": re.compile(rf"(?:{stop})(?![\p{{L}}])"),
        "stop_firsts": frozenset(fold(w).split()[0] for w in g["noun_stop_words"]),
        "stop_single": frozenset(fold(w) for w in g["noun_stop_words"] if " " not in w),
        "stop_multi": _multi_word_stops(g["noun_stop_words"]),
        # every word that is a stop word or opens a multi-word one
        "stop_any": frozenset(fold(w) for w in g["noun_stop_words"] if " " not in w)
        | frozenset(_multi_word_stops(g["noun_stop_words"])),
        "vague": re.compile(rf"({words_alternation(g['vague_amounts'])})(?![\p{{L}}])"),
        "vague_heads": tuple(sorted({fold(v).split()[0] + " " for v in g["vague_amounts"]})),
        "spelled": re.compile(_spelled_regex(g)),
        "spelled_heads": tuple(d + " " for d in digits),
        # what can follow a digit word and its space in a spelled number: "mươi", a digit
        # word ("mười lăm") or a counted noun; their first two characters
        "spelled_next": _heads(["mươi", *digits, *g["spelled_counted_nouns"]]),
        "scales": {fold(k): float(v) for k, v in g["scales"].items()},
        "currencies": {fold(k): str(v) for k, v in g["currencies"].items()},
        "digits": {fold(k): int(v) for k, v in g["spelled_digits"].items()},
        "compounds": frozenset(fold(w) for w in g["noun_compounds"]),
        "noun_like": frozenset(fold(w) for w in g["noun_like_verbs"]),
        # the first two letters of each word of those patterns (a word of one letter, "đ",
        # as it is): see ``_may_open``
        "time_unit_heads": _heads(g["time_units"]),
        "scale_heads": _heads(list(g["scales"])),
        "currency_heads": _heads(list(g["currencies"])),
        "unit_starts": frozenset(
            fold(w)[:1]
            for w in [*g["time_units"], *g["scales"], *g["currencies"], "%", "phần trăm"]
        ),
    }


def _heads(words: list[str]) -> frozenset[str]:
    """The first two characters of each folded word ("tháng" -> "th"; "đ" stays "đ")."""
    return frozenset(fold(w)[:2] for w in words)


def _may_open(after: str, pos: int, heads: frozenset[str]) -> bool:
    """Whether a pattern ``\\s*(word|word...)`` of the words whose ``_heads`` are ``heads`` can
    match ``after`` at ``pos``: after one space and a letter (the callers' guard) the word
    starts right after the space, so its first two characters must be there ("5 người": "ng"
    is no scale's). A ``regex`` call costs ~8k instructions, most of them setting up, even
    when it fails at once; this skips it for most numbers."""
    return after[pos : pos + 1] != " " or (
        after[pos + 1 : pos + 3] in heads or after[pos + 1 : pos + 2] in heads
    )


def _multi_word_stops(words: list[str]) -> dict[str, tuple[str, ...]]:
    """First word -> the rest of each multi-word stop phrase (" gia" for "tham gia"), longest
    first."""
    out: dict[str, list[str]] = {}
    for w in words:
        head, _, tail = fold(w).partition(" ")
        if tail:
            out.setdefault(head, []).append(" " + tail)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in out.items()}


def _qualifier(before: str, tail: list[str] | None = None) -> str:
    """The qualifier ("hơn", "gần", ...) that ``before`` ends with; ``tail``: its last words
    (``_tail_words``), when the caller split them already."""
    words, n = _patterns()["qualifiers"]
    return phrase_at_end(_tail_words(before) if tail is None else tail, words, n)


def _tail_words(before: str) -> list[str]:
    """The last words of ``before``, as many as the longest phrase that ``_qualifier`` and
    ``_is_identifier`` look for: split once for both."""
    return before.rstrip().rsplit(None, _patterns()["tail_words"])


def _may_end_in_phrase(tail: list[str]) -> bool:
    """Whether the words ``tail`` (``_tail_words``) can end in a qualifier or an identifier
    prefix: False when the last word ends none of them ("đạt 5", most numbers), and then
    ``_qualifier`` is "" and ``_is_identifier`` False without their lookups."""
    lasts = _patterns()["tail_lasts"]
    return bool(tail) and (tail[-1] in lasts or tail[-1].lstrip("(") in lasts)


def _is_identifier(before: str, tail: list[str] | None = None) -> bool:
    words, n = _patterns()["identifiers"]
    found = phrase_at_end(_tail_words(before) if tail is None else tail, words, n)
    # "tổng số 1.200 người" counts; "Chỉ thị số 21" names
    return bool(found) and not (found == "số" and before.rstrip().endswith("tổng số"))


def _spelled_regex(g: dict[str, Any]) -> str:
    digits = "|".join(sorted((fold(d) for d in g["spelled_digits"]), key=len, reverse=True))
    nouns = words_alternation(g["spelled_counted_nouns"])
    number = rf"(?:(?:{digits}) mươi(?: (?:{digits}))?|mười(?: (?:{digits}))?|(?:{digits}))"
    return rf"(?P<num>{number}) (?=(?:{nouns})(?![\p{{L}}]))"


def spelled_value(words: str) -> int:
    """Value of a spelled-out number: "hai mươi mốt" -> 21, "mười lăm" -> 15, "ba" -> 3.

    Raises:
        ValueError: for words that are not a spelled number.
    """
    digits = _patterns()["digits"]
    parts = fold(words).split()
    try:
        if parts and parts[0] == "mười":
            rest = parts[1:]
            if len(rest) <= 1:
                return 10 + (digits[rest[0]] if rest else 0)
        elif len(parts) >= 2 and parts[1] == "mươi" and len(parts) <= 3:
            return digits[parts[0]] * 10 + (digits[parts[2]] if len(parts) > 2 else 0)
        elif len(parts) == 1:
            return digits[parts[0]]
    except KeyError:
        pass
    raise ValueError(f"not a spelled number: {words!r}")


# --- cheap character tests -----------------------------------------------------------------


def tail_phrase(before: str, phrases: frozenset[str], max_words: int) -> str:
    """The longest phrase of ``phrases`` that ``before`` ends with (whole words), else "".

    Cheaper than a regex anchored at ``$``, which retries its alternation at every position:
    "hoàn thành hơn " -> "hơn"; "Chỉ thị số " -> "số"; "(tổng số " -> "" for {"số"} only when
    "tổng số" is itself excluded by the caller.
    """
    return phrase_at_end(before.rstrip().rsplit(None, max_words), phrases, max_words)


def phrase_at_end(words: list[str], phrases: frozenset[str], max_words: int) -> str:
    """``tail_phrase`` of a text already split: ``words`` is ``before.rstrip().rsplit(None,
    k)`` for any ``k >= max_words`` (its last ``max_words`` items are the same for every such
    ``k``), so one split serves several phrase sets."""
    words = words[-max_words:]
    if not words:
        return ""
    # every phrase ends with the last word: one set lookup rejects most numbers at once
    lasts = _last_words(phrases)
    if words[-1] not in lasts and words[-1].lstrip("(") not in lasts:
        return ""
    for k in range(len(words), 0, -1):
        phrase = " ".join(words[-k:]).lstrip("(")
        if phrase in phrases:
            return phrase
    return ""


@cache
def _last_words(phrases: frozenset[str]) -> frozenset[str]:
    """The last word of each phrase: "chỉ thị số" -> "số"."""
    return frozenset(p.split(" ")[-1] for p in phrases)


def letters_before(text: str, end: int, floor: int) -> int:
    """Start of the run of letters that ends at ``end`` (not before ``floor``).

    "Sư đoàn 324" with ``end`` at the space before "324" gives the start of "đoàn"; a
    character-by-character walk back over one word is cheaper than a regex search of the
    window, which tries every start position.
    """
    # the space before the word and one ``isalpha`` of it settle a word of plain letters (nearly
    # every word) at C speed; a word with anything else in it is walked back as before
    space = text.rfind(" ", floor, end)
    start = space + 1 if space >= 0 else floor
    if start < end and text[start:end].isalpha():
        return start
    start = end
    while start > floor and is_letter(text[start - 1]):
        start -= 1
    return start


def opens_clause(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` ends in a clause opener ("," ";" ":" "(" a quote), white
    space after it allowed: the word at ``end`` then opens a clause ("..., Hơn 300")."""
    k = end
    while k > start and _is_space(text[k - 1]):
        k -= 1
    return k > start and text[k - 1] in _CLAUSE_OPENERS


def _is_space(c: str) -> bool:
    # ``str.isspace`` as the regex ``\s`` has it: Python also counts the separators \x1c-\x1f
    return c.isspace() and c not in "\x1c\x1d\x1e\x1f"


_CLAUSE_OPENERS = frozenset(',;:("“')
_DATE_SEPS = frozenset("./-")
_UPPER_CODE = re.compile(r"[\p{Lu}Đ]")
_NOUN_WORD = re.compile(r"[\p{L}\d-]+")
_FIRST_WORD = re.compile(r"\s*(\p{L}+)")
_PUNCT_STOP_CHARS = frozenset(",;:.!?()[]\"“”'‘’/…")
_MONEY_BEFORE = re.compile(r"kinh phí|trị giá|giá trị|số tiền|tiền|ngân sách|vốn|tổng chi|hỗ trợ")
_PHONE_BEFORE = re.compile(r"(?<!\d)0\d{2,3}[ .]$")


def _phone_prefix_before(text: str, start: int, end: int) -> bool:
    """A phone prefix ("0258 ") ends ``text[start:end]``; without a "0" there it cannot."""
    return "0" in text[start:end] and _PHONE_BEFORE.search(text, start, end) is not None


# --- the grammar ---------------------------------------------------------------------------


def read_numbers(
    text: str, folded: str, start: int, end: int
) -> tuple[list[Mention], list[Refusal]]:
    """Read every figure of ``text[start:end]`` (one sentence).

    Args:
        text: the normalised text; offsets point into it.
        folded: ``tasks.normalize.fold(text)``, the same length.
        start, end: the sentence.

    Returns:
        The mentions that count something, and the numbers refused with their reasons.
    """
    mentions: list[Mention] = []
    refusals: list[Refusal] = []
    for m in NUMBER_RE.finditer(text, start, end):
        result = _read_one(text, folded, m, start, end)
        if isinstance(result, Mention):
            mentions.append(result)
        else:
            refusals.append(result)
    mentions.extend(_spelled(text, folded, start, end))
    mentions.sort(key=lambda x: x.start)
    return mentions, refusals


def read_sentences(text: str, folded: str, sentences: Sequence[Sentence]) -> list[list[Mention]]:
    """The mentions of every sentence of a document, with one pass of ``NUMBER_RE``.

    Numbers outside the sentences (boilerplate) are skipped. Spelled-out numbers are looked
    for only in sentences that hold a digit word ("hai ", "ba ", ...), found by substring.
    """
    out: list[list[Mention]] = [[] for _ in sentences]
    if not sentences:
        return out
    starts = [s.start for s in sentences]
    ends = [s.end for s in sentences]
    first = starts[0]
    for m in NUMBER_RE.finditer(text):
        n_start, n_end = m.span()
        if n_start < first:
            continue  # a headline or dateline before the first sentence
        i = bisect_right(starts, n_start) - 1
        if n_end > ends[i]:
            continue
        a, sep, b = m.groups()
        if is_year(a) and (b is None or is_year(b)):
            continue  # "năm 2023", "2016 - 2020": refused whatever surrounds them
        result = _read_number(text, folded, a, sep, b, n_start, n_end, starts[i], ends[i])
        if isinstance(result, Mention):
            out[i].append(result)
    heads_at: dict[int, set[int]] = {}  # sentence -> where its digit words start
    follows = _patterns()["spelled_next"]
    for head in _patterns()["spelled_heads"]:
        size = len(head)
        pos = folded.find(head)
        while pos >= 0:
            # "ba năm", "một số": a digit word that nothing of a spelled number can follow
            # (the pattern would fail there) leaves its sentence untried
            following = folded[pos + size : pos + size + 2]
            if following in follows or following[:1] in follows:
                i = bisect_right(starts, pos) - 1
                if i >= 0 and pos < sentences[i].end:
                    heads_at.setdefault(i, set()).add(pos)
            pos = folded.find(head, pos + 1)
    for i, positions in heads_at.items():
        s = sentences[i]
        found = _spelled(text, folded, s.start, s.end, sorted(positions))
        if found:
            out[i] = sorted([*out[i], *found], key=lambda x: x.start)
    return out


def vague_in_sentences(folded: str, sentences: Sequence[Sentence]) -> list[tuple[int, int, int]]:
    """(sentence index, start, end) of the vague amounts of a document.

    Every vague amount opens with "hàng" or "nhiều" ("hàng chục nghìn", "nhiều nghìn"): their
    places are found by substring, and the pattern is only tried there.
    """
    p = _patterns()
    starts = [s.start for s in sentences]
    out = []
    for head in p["vague_heads"]:
        pos = folded.find(head)
        while pos >= 0:
            m = p["vague"].match(folded, pos)
            if m and (pos == 0 or not folded[pos - 1].isalpha()):
                i = bisect_right(starts, pos) - 1
                if i >= 0 and m.end() <= sentences[i].end:
                    out.append((i, m.start(), m.end()))
            pos = folded.find(head, pos + 1)
    out.sort()
    return out


def _read_one(
    text: str, folded: str, m: re.Match[str], s_start: int, s_end: int
) -> Mention | Refusal:
    """``_read_number`` of one match of ``NUMBER_RE`` in the sentence ``text[s_start:s_end]``."""
    a, sep, b = m.groups()
    n_start, n_end = m.span()
    return _read_number(text, folded, a, sep, b, n_start, n_end, s_start, s_end)


def _read_number(
    text: str,
    folded: str,
    a: str,
    sep: str | None,
    b: str | None,
    n_start: int,
    n_end: int,
    s_start: int,
    s_end: int,
) -> Mention | Refusal:
    """Read the number ``text[n_start:n_end]`` (``a``, or ``a``, ``sep`` and ``b`` of "a/b",
    "a-b", "a đến b") of the sentence ``text[s_start:s_end]``: a mention, or why not.

    Every number of every report passes here (~14 a report), so the groups and offsets come
    from the caller, which has them already, and each test is a cheap one on a few characters
    before the regex or phrase lookups that few numbers reach.
    """
    p = _patterns()
    before = folded[max(s_start, n_start - 60) : n_start]
    after = folded[n_end:s_end]
    nxt = text[n_end : n_end + 3]
    if (
        (a[0] == "0" and len(digits := a.replace(".", "")) >= 4 and digits.isdigit())
        # ten digits need ten characters: most numbers skip the count
        or (n_end - n_start >= 10 and sum(c.isdigit() for c in text[n_start:n_end]) >= 10)
        or (before[-1:] == " " and _phone_prefix_before(text, max(s_start, n_start - 6), n_start))
    ):
        return Refusal(n_start, n_end, "phone or code number")
    glued = nxt[:1]
    if glued and glued in ".," and nxt[1:2].isdigit():
        return Refusal(n_start, n_end, "date or foreign decimal (27.11)")
    if glued in ("-", "/") and _UPPER_CODE.match(nxt.replace(" ", "")[1:2] or " "):
        return Refusal(n_start, n_end, "document symbol (09-NQ/TU, 123/KH-UBND)")
    if glued.isalpha() and (glued.isupper() or glued == "h"):
        return Refusal(n_start, n_end, "code or time glued to the number (1A, 5G, 20h30)")
    sep = sep.strip() if sep else ""
    if b:
        if is_year(a) and is_year(b):
            return Refusal(n_start, n_end, "period (2016 - 2020)")
        if sep in ("/", "-", "–") and _looks_like_date(a, b, before, after):
            return Refusal(n_start, n_end, "date (29/12, 27-11)")
    elif is_year(a):
        return Refusal(n_start, n_end, "year")
    # the words before the number, split once for the identifier and the qualifier; when the
    # last one ends no phrase of either ("đạt 5", most numbers) both lookups are skipped
    tail = _tail_words(before)
    near_phrase = _may_end_in_phrase(tail)
    if near_phrase and _is_identifier(before, tail) and ("." not in a or len(a) < 5):
        return Refusal(n_start, n_end, "identifier (Quân khu 4, Chỉ thị số 21, năm 2023)")
    plain = "." not in a and "," not in a
    if plain and _after_capitalised_name(text, n_start, s_start):
        scaled = p["scale"].match(after) or p["currency"].match(after) or after[:1] == "%"
        if not scaled:
            return Refusal(n_start, n_end, "name with a number (Sư đoàn 324)")
    if n_start == s_start and glued in (".", ")"):
        return Refusal(n_start, n_end, "list numbering")
    if (
        after[:1] == " "
        and after[1:2] in p["unit_starts"]
        and _may_open(after, 0, p["time_unit_heads"])
        and p["time_unit"].match(after)
    ):
        return Refusal(n_start, n_end, "duration or age (qua 5 năm)")

    value = float(a) if plain else _number_value(a)
    denominator = value_max = None
    if b and sep == "/":
        denominator = _number_value(b)
    elif b:
        value_max = _number_value(b)
        if value_max <= value:
            return Refusal(n_start, n_end, "not a range (a-b with b <= a)")

    pos = 0
    scale = 1.0
    unit_starts = p["unit_starts"]
    while (
        after[pos + 1 : pos + 2] in unit_starts
        and _may_open(after, pos, p["scale_heads"])
        and (sm := p["scale"].match(after, pos))
    ):
        scale *= p["scales"].get(sm.group(1), 1.0)
        pos = sm.end()
    unit = ""
    if after[pos : pos + 1] == "%" or after[pos + 1 : pos + 2] == "%":
        unit, pos = "%", after.index("%", pos) + 1
    elif after[pos + 1 : pos + 2] == "p" and (pm := p["percent"].match(after, pos)):
        unit, pos = "%", pm.end()
    elif (
        after[pos + 1 : pos + 2] in unit_starts
        and _may_open(after, pos, p["currency_heads"])
        and (cm := p["currency"].match(after, pos))
    ):
        unit, pos = p["currencies"].get(cm.group(1), cm.group(1)), cm.end()
    noun = _noun_phrase(text, folded, n_end + pos, s_end)
    if not unit and not noun and scale >= 1e6 and _MONEY_BEFORE.search(before):
        unit = "đồng"  # "với tổng kinh phí hơn 1,2 tỷ." : millions and billions of money
    if not unit:
        if not noun:
            return Refusal(n_start, n_end, "no counted noun after the number")
        unit = unit_head(noun)
    # (positional: a frozen dataclass takes them in half the time of keywords)
    return Mention(
        value * scale,
        unit,
        n_start,
        n_end,
        noun,
        denominator,
        value_max * scale if value_max is not None else None,
        _qualifier(before, tail) if near_phrase else "",
    )


def _looks_like_date(a: str, b: str, before: str, after: str) -> bool:
    if "." in a or "," in a or "." in b or "," in b:
        return False
    day, month = int(a), int(b)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    if len(after) >= 3 and after[0] in _DATE_SEPS and after[1:3].isdigit():
        return True  # 15/12/2022
    words, n = _patterns()["date_leads"]
    if tail_phrase(before, words, n):
        return True  # Chiều 29/12, ngày 15-12
    return not _noun_starts(after)


def _noun_starts(after: str) -> bool:
    m = _FIRST_WORD.match(after)
    return bool(m) and m.group(1) not in _patterns()["stop_firsts"]


def _after_capitalised_name(text: str, n_start: int, s_start: int) -> bool:
    """ "Đoàn 379", "Trung đoàn 812": a capitalised word right before the number, mid-sentence."""
    if n_start - s_start < 2 or text[n_start - 1] != " " or not text[n_start - 2].isalpha():
        return False
    word_start = letters_before(text, n_start - 1, max(s_start, n_start - 40))
    if not text[word_start].isupper():
        return False
    if word_start <= s_start or opens_clause(text, s_start, word_start):
        return False  # first word of a sentence or clause: "Hơn 300 ...", "Có 5 ..."
    return not _qualifier(fold(text[word_start : n_start - 1]))


def _noun_phrase(text: str, folded: str, pos: int, s_end: int, max_words: int = 7) -> str:
    """The counted noun phrase after a number, as written, up to punctuation or a stop word.

    It also stops at another figure ("3 chiếc tàu cá trị giá 1,8 tỷ" -> "chiếc tàu cá"). A
    quoted name right after the number is the noun: 'duy trì 12 "mô hình dân vận khéo"' ->
    "mô hình dân vận khéo" (the words inside the quotes, stop words included).

    The answer is that of ``_walk_noun`` (token by token); most phrases are plain words, then
    punctuation or a stop word ("xã đạt chuẩn nông thôn mới, ..."), and those are read from one
    ``str.split`` of the sentence's rest at C speed (a regex token costs ~0.5 µs, a ``\\p{L}``
    class ~70 ns a character). The walk takes over at the first piece that is anything else.
    """
    i = pos
    while i < s_end and text[i] == " ":
        i += 1
    if i < s_end and text[i] in '"“':
        return _walk_noun(text, folded, i + 1, s_end, [], max_words, quoted=True)
    # a piece of letters only is one token of the walk, as it is: ``str.isalpha`` holds of no
    # character outside ``\\p{L}``; ``fold`` keeps every space in place, so the folded pieces
    # line up with the pieces
    pieces = text[i:s_end].split(" ", max_words)
    folded_pieces = folded[i:s_end].split(" ", max_words)
    p = _patterns()
    stop_any = p["stop_any"]
    words: list[str] = []
    for piece, folded_piece in zip(pieces[:max_words], folded_pieces, strict=False):
        word, folded_word = piece, folded_piece
        last = not piece.isalpha()
        if last:
            # "mới," or ";": a word (or nothing), then punctuation, a token of its own that
            # ends the phrase; any other piece ("“Dân", "CO2", "(") is left to the walk
            word, folded_word = piece[:-1], folded_piece[:-1]
            if not piece or piece[-1] not in _PUNCT_STOP_CHARS or (word and not word.isalpha()):
                return _walk_noun(text, folded, i, s_end, words, max_words)
        if word:
            end = i + len(word)
            if folded_word in stop_any and _ends_phrase(
                word, folded_word, end, folded, s_end, words, p
            ):
                break
            words.append(word)
        if last:
            break
        i += len(piece) + 1
    return " ".join(words)


def _walk_noun(
    text: str,
    folded: str,
    i: int,
    s_end: int,
    words: list[str],
    max_words: int,
    quoted: bool = False,
) -> str:
    """``_noun_phrase`` from ``text[i]`` on, token by token, after ``words`` taken already."""
    p = _patterns()
    stop_any = p["stop_any"]
    for m in _TOKEN.finditer(text, i, s_end):
        t_start, t_end = m.span()
        tok = text[t_start:t_end]
        first = tok[0]
        if len(words) >= max_words or first.isdigit() or (len(tok) == 1 and not first.isalpha()):
            break  # another figure, or punctuation: "," ";" "(" "/" the closing quote
        if not quoted:
            word = folded[t_start:t_end]
            # most words: no stop phrase opens with them
            if word in stop_any and _ends_phrase(tok, word, t_end, folded, s_end, words, p):
                break
        words.append(tok)
    return " ".join(words)


def _ends_phrase(
    tok: str, word: str, t_end: int, folded: str, s_end: int, words: list[str], p: dict[str, Any]
) -> bool:
    """Whether the token ``tok`` (``word`` folded, ending at ``t_end``) after ``words`` is a
    stop word (or opens a stop phrase) that ends the noun phrase."""
    if len(tok) > 1 and tok[1].isupper():
        return False  # "dầu DO": a word in capitals is an abbreviation, never the stop word "do"
    stop = ""
    for tail in p["stop_multi"].get(word, ()):
        end = t_end + len(tail)
        if folded.startswith(tail, t_end) and not (end < s_end and folded[end].isalpha()):
            stop = word + tail
            break
    if not stop and word in p["stop_single"]:
        stop = word
    # a verb that is also a noun ("tổ chức") right after the figure is the noun:
    # "trên 80% tổ chức cơ sở đảng"; "quân nhân dự bị": "bị" ends no compound noun
    return bool(stop) and not (
        (not words and stop in p["noun_like"])
        or (bool(words) and f"{fold(words[-1])} {stop}" in p["compounds"])
    )


_TOKEN = re.compile(r"[\p{L}\d-]+|\S")


@cache
def _unit_words() -> tuple[tuple[str, ...], frozenset[str]]:
    g = grammar()
    known = tuple(sorted((fold(u) for u in g["known_units"]), key=len, reverse=True))
    return known, frozenset(fold(u) for u in g["one_syllable_units"])


@cache
def unit_head(noun: str) -> str:
    """The unit of a counted noun phrase, as written.

    >>> unit_head("lượt cán bộ, chiến sĩ"), unit_head("xã đạt"), unit_head("đối tượng vi phạm")
    ('lượt cán bộ, chiến sĩ', 'xã', 'đối tượng')
    """
    folded = fold(noun)
    known, singles = _unit_words()
    for unit in known:
        if folded == unit or folded.startswith(unit + " "):
            return noun[: len(unit)]
    words = noun.split()
    if len(words) == 1 or fold(words[0]) in singles:
        return words[0]
    return " ".join(words[:2])


def spelled_matches(
    pattern: re.Pattern[str], folded: str, start: int, end: int, candidates: Sequence[int]
) -> list[re.Match[str]]:
    """``pattern.finditer(folded, start, end)`` for a pattern that can only match where a
    ``candidates`` position is (sorted): every spelled number opens with a digit word and a
    space ("hai ", "mười "), and those were found with ``str.find``. Trying the pattern there
    alone skips a regex scan of the whole sentence; matches never overlap, as with finditer.
    """
    out = []
    resume = start
    for pos in candidates:
        if pos < resume or not start <= pos < end:
            continue
        m = pattern.match(folded, pos, end)
        if m:
            out.append(m)
            resume = m.end()
    return out


def _digit_word_positions(folded: str, start: int, end: int) -> list[int]:
    found: set[int] = set()
    for head in _patterns()["spelled_heads"]:
        pos = folded.find(head, start, end)
        while pos >= 0:
            found.add(pos)
            pos = folded.find(head, pos + 1, end)
    return sorted(found)


def _spelled(
    text: str, folded: str, start: int, end: int, heads: Sequence[int] | None = None
) -> list[Mention]:
    p = _patterns()
    if heads is None:
        heads = _digit_word_positions(folded, start, end)
    if not heads:
        return []
    out = []
    last_end = -1
    for m in spelled_matches(p["spelled"], folded, start, end, heads):
        n_start = m.start("num")
        if n_start < last_end or (n_start > 0 and folded[n_start - 1].isalpha()):
            continue
        last_end = m.end()
        before = folded[max(start, n_start - 30) : n_start]
        if _is_identifier(before):
            continue
        # "Hai đơn vị duy trì ...", "Hai bên ...": a spelled number opening a sentence or clause
        # points back to things already named; it does not count them again
        if not before.strip() or before.rstrip()[-1:] in (",", ";", ":"):
            continue
        if m.group("num") == "một" and tail_phrase(before, *p["articles"]):
            continue  # "là một đơn vị tiêu biểu": an article, not a count
        noun = _noun_phrase(text, folded, m.end(), end)
        if not noun:
            continue
        qual = _qualifier(before)
        out.append(
            Mention(
                value=float(spelled_value(m.group("num"))),
                unit=unit_head(noun),
                start=n_start,
                end=m.end("num"),
                noun_phrase=noun,
                qualifier=qual,
            )
        )
    return out


def find_vague(folded: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of amounts without a figure ("hàng chục nghìn ngày công"), to flag, never to count."""
    p = _patterns()
    segment = folded[start:end]
    if not any(head in segment for head in p["vague_heads"]):
        return []
    out = []
    for m in p["vague"].finditer(folded, start, end):
        if m.start() == 0 or not folded[m.start() - 1].isalpha():
            out.append((m.start(), m.end()))
    return out
