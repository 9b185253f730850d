"""The Vietnamese number grammar: what a figure in report prose is, and what it is not.

Vietnamese writes thousands with "." and decimals with ",": "3.340" is 3340, "1,66%" is 1.66.
A figure becomes a ``Mention`` (value, unit, denominator, qualifier, range) only when it
counts something; years, dates, periods, document numbers, names with numbers, durations,
phone numbers and list numbering are recognised and refused, each with a reason that the
tests check.

One compiled pattern finds every number; the checks look only at a few characters around it,
which keeps the grammar fast (see bench/).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import regex as re

from tasks.catalog import grammar, words_alternation
from tasks.normalize import fold

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
#: Every number of the text; ``b`` is the second part of "a/b" or "a-b".
NUMBER_RE = re.compile(
    rf"(?<![\p{{L}}\d.,\-–])(?<!\d\s?/\s?)(?P<a>{_NUM})(?:(?P<sep>\s?/\s?|\s?[-–]\s?)(?P<b>{_NUM}))?"
)
YEAR_MIN, YEAR_MAX = 1900, 2099


def parse_number(token: str) -> float:
    """Parse one Vietnamese-formatted number.

    >>> parse_number("3.340"), parse_number("1,66"), parse_number("21.000"), parse_number("7")
    (3340.0, 1.66, 21000.0, 7.0)

    Raises:
        ValueError: when ``token`` is not a number in Vietnamese format.
    """
    if not re.fullmatch(_NUM, token):
        raise ValueError(f"not a Vietnamese number: {token!r}")
    return float(token.replace(".", "").replace(",", "."))


def is_year(token: str) -> bool:
    """A bare four-digit number in 1900-2099 is a year ("2023"), never a count."""
    return token.isdigit() and len(token) == 4 and YEAR_MIN <= int(token) <= YEAR_MAX


@dataclass(frozen=True, slots=True)
class Mention:
    """A figure that counts something.

    Attributes:
        value: the number, scaled by "nghìn/triệu/tỷ".
        value_max: the upper end of a range ("25-30%"), else None.
        denominator: b of "a/b", else None.
        unit: "%", a currency, or the head of the counted noun.
        noun_phrase: the counted noun phrase as written ("" for "%" or money with nothing after).
        qualifier: hơn, gần, khoảng, … (lower case), else "".
        start, end: offsets of the number ("319/411") in the text.
        vague: True for "hàng chục nghìn": no value is given.
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
def _patterns() -> dict[str, re.Pattern[str]]:
    g = grammar()
    prefixes = "|".join(
        r"(?<!tổng )số" if p == "số" else re.escape(fold(p))
        for p in sorted(g["identifier_prefixes"], key=len, reverse=True)
    )
    time_units = words_alternation(g["time_units"])
    exceptions = words_alternation(g["time_unit_exceptions"])
    stop = words_alternation(g["noun_stop_words"])
    return {
        "qualifier": re.compile(rf"(?:^|[\s(])({words_alternation(g['qualifiers'])})\s*$"),
        "identifier": re.compile(rf"(?:^|[\s(])(?:{prefixes})\s*$"),
        "date_lead": re.compile(rf"(?:^|\s)(?:{words_alternation(g['date_lead_words'])})\s*$"),
        "time_unit": re.compile(rf"\s*(?!(?:{exceptions})\b)(?:{time_units})\b"),
        "scale": re.compile(rf"\s*({words_alternation(list(g['scales']))})\b"),
        "currency": re.compile(rf"\s*({words_alternation(list(g['currencies']))})(?![\p{{L}}])"),
        "percent": re.compile(r"\s*(?:%|phần trăm\b)"),
        "stop": re.compile(rf"(?:{stop})(?![\p{{L}}])"),
        "vague": re.compile(
            rf"(?<![\p{{L}}])({words_alternation(g['vague_amounts'])})(?![\p{{L}}])"
        ),
        "spelled": re.compile(_spelled_regex(g), re.V1),
    }


def _spelled_regex(g: dict) -> str:
    digits = "|".join(sorted((fold(d) for d in g["spelled_digits"]), key=len, reverse=True))
    nouns = words_alternation(g["spelled_counted_nouns"])
    number = rf"(?:(?:{digits}) mươi(?: (?:{digits}))?|mười(?: (?:{digits}))?|(?:{digits}))"
    return rf"(?<![\p{{L}}])(?P<num>{number}) (?=(?:{nouns})(?![\p{{L}}]))"


def spelled_value(words: str) -> int:
    """Value of a spelled-out number: "hai mươi mốt" -> 21, "mười lăm" -> 15, "ba" -> 3.

    Raises:
        ValueError: for words that are not a spelled number.
    """
    digits = {fold(k): v for k, v in grammar()["spelled_digits"].items()}
    parts = fold(words).split()
    if parts and parts[0] == "mười":
        rest = parts[1:]
        return 10 + (digits[rest[0]] if rest else 0)
    if len(parts) >= 2 and parts[1] == "mươi":
        return digits[parts[0]] * 10 + (digits[parts[2]] if len(parts) > 2 else 0)
    if len(parts) == 1 and parts[0] in digits:
        return digits[parts[0]]
    raise ValueError(f"not a spelled number: {words!r}")


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


def _read_one(
    text: str, folded: str, m: re.Match[str], s_start: int, s_end: int
) -> Mention | Refusal:
    p = _patterns()
    a, b, sep = m.group("a"), m.group("b"), (m.group("sep") or "").strip()
    n_start, n_end = m.start(), m.end()
    before = folded[max(s_start, n_start - 60) : n_start]
    after = folded[n_end:s_end]

    def refuse(reason: str) -> Refusal:
        return Refusal(n_start, n_end, reason)

    if re.match(r"[.,]\d", text[n_end : n_end + 2]):
        return refuse("date or foreign decimal (27.11)")
    if re.match(r"[-/]\s?[\p{Lu}Đ]", text[n_end : n_end + 3]):
        return refuse("document symbol (09-NQ/TU, 123/KH-UBND)")
    if b and is_year(a) and is_year(b):
        return refuse("period (2016 - 2020)")
    if is_year(a) and not b:
        return refuse("year")
    if b and sep == "/" and _looks_like_date(a, b, before, after):
        return refuse("date (29/12)")
    if b and sep != "/" and _looks_like_date(a, b, before, after):
        return refuse("date (27-11)")
    digits = re.sub(r"\D", "", m.group())
    if (
        (a.startswith("0") and len(a.replace(".", "")) >= 4)
        or len(digits) >= 10
        or re.search(r"(?<!\d)0\d{2,3}[ .]$", text[max(s_start, n_start - 6) : n_start])
    ):
        return refuse("phone or code number")
    if p["identifier"].search(before):
        return refuse("identifier (Quân khu 4, Chỉ thị số 21, năm 2023)")
    if _after_capitalised_name(text, n_start, s_start):
        return refuse("name with a number (Sư đoàn 324)")
    if n_start == s_start and re.match(r"[.)]", text[n_end : n_end + 1]):
        return refuse("list numbering")
    if p["time_unit"].match(after):
        return refuse("duration or age (qua 5 năm)")

    value = parse_number(a)
    denominator = value_max = None
    if b and sep == "/":
        denominator = parse_number(b)
    elif b:
        value_max = parse_number(b)
        if value_max <= value:
            return refuse("not a range (a-b with b <= a)")

    pos = 0
    scale = 1.0
    scales = grammar()["scales"]
    while sm := p["scale"].match(after, pos):
        scale *= float(scales.get(sm.group(1), scales.get(_unfold_key(scales, sm.group(1)), 1)))
        pos = sm.end()
    unit = ""
    if pm := p["percent"].match(after, pos):
        unit, pos = "%", pm.end()
    elif cm := p["currency"].match(after, pos):
        unit, pos = _currency(cm.group(1)), cm.end()
    noun = _noun_phrase(text, folded, n_end + pos, s_end)
    if not unit:
        if not noun:
            return refuse("no counted noun after the number")
        unit = unit_head(noun)
    qual = p["qualifier"].search(before)
    return Mention(
        value=value * scale,
        unit=unit,
        start=n_start,
        end=n_end,
        noun_phrase=noun,
        denominator=denominator,
        value_max=value_max * scale if value_max is not None else None,
        qualifier=qual.group(1) if qual else "",
    )


def _unfold_key(mapping: dict, folded_key: str) -> str:
    return next((k for k in mapping if fold(k) == folded_key), folded_key)


def _currency(word: str) -> str:
    currencies = grammar()["currencies"]
    return str(currencies[_unfold_key(currencies, word)])


def _looks_like_date(a: str, b: str, before: str, after: str) -> bool:
    if "." in a or "," in a or "." in b or "," in b:
        return False
    day, month = int(a), int(b)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    if re.match(r"[/.-]\d{2,4}", after):
        return True  # 15/12/2022
    if _patterns()["date_lead"].search(before):
        return True  # Chiều 29/12, ngày 15-12
    return not _noun_starts(after)


def _noun_starts(after: str) -> bool:
    m = re.match(r"\s*(\p{L}+)", after)
    return bool(m) and not _patterns()["stop"].match(m.group(1))


def _after_capitalised_name(text: str, n_start: int, s_start: int) -> bool:
    """ "Đoàn 379", "Trung đoàn 812": a capitalised word right before the number, mid-sentence."""
    m = re.search(r"([\p{L}]+)\s$", text[max(s_start, n_start - 40) : n_start])
    if not m or not m.group(1)[0].isupper():
        return False
    word_start = n_start - len(m.group(0))
    if word_start <= s_start or re.search(r"[,;:(\"“]\s*$", text[s_start:word_start]):
        return False  # first word of a sentence or clause: "Hơn 300 ...", "Có 5 ..."
    return not _patterns()["qualifier"].search(fold(m.group(1)) + " ")


_PUNCT_STOP = re.compile(r"[,;:.!?()\[\]\"“”'‘’/…]|\s[-–—]\s")


def _noun_phrase(text: str, folded: str, pos: int, s_end: int, max_words: int = 7) -> str:
    """The counted noun phrase after a number, as written, up to punctuation or a stop word."""
    stop = _patterns()["stop"]
    words: list[str] = []
    i = pos
    while len(words) < max_words:
        m = re.match(r"\s*", text[i:s_end])
        i += m.end() if m else 0
        if i >= s_end or _PUNCT_STOP.match(text, i, s_end):
            break
        if stop.match(folded, i, s_end) and (i == 0 or not folded[i - 1].isalpha()):
            break
        w = re.match(r"[\p{L}\d-]+", text[i:s_end])
        if not w:
            break
        words.append(w.group())
        i += w.end()
    return " ".join(words)


@cache
def _unit_words() -> tuple[tuple[str, ...], frozenset[str]]:
    g = grammar()
    known = tuple(sorted((fold(u) for u in g["known_units"]), key=len, reverse=True))
    return known, frozenset(fold(u) for u in g["one_syllable_units"])


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


def _spelled(text: str, folded: str, start: int, end: int) -> list[Mention]:
    out = []
    for m in _patterns()["spelled"].finditer(folded, start, end):
        before = folded[max(start, m.start() - 30) : m.start()]
        if _patterns()["identifier"].search(before):
            continue
        noun = _noun_phrase(text, folded, m.end(), end)
        if not noun:
            continue
        qual = _patterns()["qualifier"].search(before)
        out.append(
            Mention(
                value=float(spelled_value(m.group("num"))),
                unit=unit_head(noun),
                start=m.start("num"),
                end=m.end("num"),
                noun_phrase=noun,
                qualifier=qual.group(1) if qual else "",
            )
        )
    return out


def find_vague(folded: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of amounts without a figure ("hàng chục nghìn ngày công"), to flag, never to count."""
    return [(m.start(), m.end()) for m in _patterns()["vague"].finditer(folded, start, end)]
