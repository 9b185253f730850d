"""Document metadata: the year reviewed, the period, the conference date, the chair, the province.

Every rule here prefers an empty answer to a guess: an unknown province stays "" with a reason,
a conference date whose year cannot be told safely stays "". The functions are pure and take a
``NormalizedDoc``; ``read_meta`` puts them together.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache

import regex as re

from tasks.catalog import grammar, people, provinces, words_alternation
from tasks.normalize import fold
from tasks.records import DocMeta, NormalizedDoc

_YEAR = r"(?:19|20)\d{2}"
_END = r"(?!\d|[.,/]\d)"  # "2020." ends a sentence; "2020.5" or "2020/1" is something else
_YEAR_MENTION = re.compile(rf"(?<![\d.,/])(?:năm|nam)\s+({_YEAR}){_END}")
_PERIOD = re.compile(rf"(?<![\d.,/])({_YEAR})\s?[-–]\s?({_YEAR}){_END}")
_REVIEW = re.compile(r"tổng kết|sơ kết|tổng kết|nhìn lại|đánh giá kết quả")
_RESULT_LEAD = re.compile(rf"^(?:[\p{{L}} ]{{0,20}}, )?(?:trong )?năm ({_YEAR}),")


def sentences_text(doc: NormalizedDoc) -> list[tuple[int, str, str]]:
    """(paragraph, text, folded) of each analysed sentence."""
    return [
        (s.paragraph, doc.text[s.start : s.end], doc.folded[s.start : s.end]) for s in doc.sentences
    ]


@cache
def _plan_re() -> re.Pattern[str]:
    return re.compile(
        rf"(?<![\p{{L}}])(?:{words_alternation(grammar()['plan_markers'])})(?![\p{{L}}])"
    )


def is_plan_sentence(folded_sentence: str, plan_year: int | None) -> bool:
    """A sentence that sets goals: "phương hướng", "phấn đấu", "năm tới", or the plan year."""
    if plan_year and re.search(rf"năm {plan_year}(?!\d)", folded_sentence):
        return True
    return bool(_plan_re().search(folded_sentence))


# --- years -------------------------------------------------------------------------------------


def find_period(doc: NormalizedDoc) -> tuple[int, int] | None:
    """The multi-year period reviewed: "tổng kết ... giai đoạn 2016 - 2020" in one sentence."""
    for _, _, folded in [(0, doc.title, fold(doc.title)), *sentences_text(doc)]:
        review = _REVIEW.search(folded)
        if not review:
            continue
        for m in _PERIOD.finditer(folded, review.end()):
            a, b = int(m.group(1)), int(m.group(2))
            if a < b:
                return a, b
    return None


def find_year(doc: NormalizedDoc, period: tuple[int, int] | None) -> int | None:
    """The year reviewed; the last year of a period; None when the text does not say it.

    Votes: a sentence that opens with "Năm 2023," (+3), a year in a "tổng kết ... năm 2017"
    sentence or the title (+3), any other "năm 2023" (+1), and a year in a plan sentence (-1).
    """
    if period:
        return period[1]
    votes: Counter[int] = Counter()
    title = fold(doc.title)
    for m in _YEAR_MENTION.finditer(title):
        votes[int(m.group(1))] += 3 if _REVIEW.search(title) else 1
    for _, _, folded in sentences_text(doc):
        lead = _RESULT_LEAD.match(folded)
        if lead:
            votes[int(lead.group(1))] += 3
        review = _REVIEW.search(folded)
        for m in _YEAR_MENTION.finditer(folded):
            year = int(m.group(1))
            if review and review.start() < m.start():
                votes[year] += 3
            elif _plan_re().search(folded):
                votes[year] -= 1
            else:
                votes[year] += 1
    best = [(v, y) for y, v in votes.items() if v > 0]
    if not best:
        return None
    best.sort(key=lambda vy: (-vy[0], vy[1]))
    return best[0][1]


def find_plan_year(doc: NormalizedDoc, year: int | None) -> int | None:
    """The year the plan part is for: the year after the one reviewed, when the text names it."""
    if year is None:
        return None
    wanted = f"năm {year + 1}"
    return year + 1 if any(wanted in f for _, _, f in sentences_text(doc)) else None


# --- conference date -------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"(?:sáng|chiều|tối|trưa|ngày|hôm nay|sáng nay|chiều nay|tối nay|hôm qua)"
    r"(?: nay)?(?: ngày)?\s+(\d{1,2})\s?[./-]\s?(\d{1,2})(?:\s?[./-]\s?((?:19|20)\d{2}))?(?![\d])"
    r"|ngày (\d{1,2}) tháng (\d{1,2})(?: năm ((?:19|20)\d{2}))?"
)
_STAMP_RE = re.compile(r"((?:19|20)\d{2})-(\d{2})")


def find_conference_date(doc: NormalizedDoc, year: int | None) -> str:
    """The conference date, ISO, from the lead of the text ("Sáng nay 27.11", "Chiều 29/12").

    The year comes from the text, else from a publication stamp of the same or the next month,
    else from the year reviewed for a year-end conference (Sep-Dec: that year; Jan-Mar: the next).
    Anything less safe gives "".
    """
    for _, _, folded in sentences_text(doc)[:4]:
        m = _DATE_RE.search(folded)
        if not m:
            continue
        day, month, y = (m.group(1), m.group(2), m.group(3)) if m.group(1) else m.group(4, 5, 6)
        day_i, month_i = int(day), int(month)
        year_i = int(y) if y else _infer_year(doc, month_i, year)
        if year_i is None:
            return ""
        try:
            return date(year_i, month_i, day_i).isoformat()
        except ValueError:
            return ""
    return ""


def _infer_year(doc: NormalizedDoc, month: int, reviewed: int | None) -> int | None:
    stamp = _published(doc)
    if stamp:
        s_year, s_month = stamp
        if s_month == month or s_month == month + 1:
            return s_year
        if month == 12 and s_month == 1:
            return s_year - 1
    if reviewed is not None:
        if month >= 9:
            return reviewed
        if month <= 3:
            return reviewed + 1
    return None


def _published(doc: NormalizedDoc) -> tuple[int, int] | None:
    published = doc.meta_value("published")
    for a, b, kind in doc.boilerplate:
        if kind == "stamp":
            published = published or doc.text[a:b]
    m = _STAMP_RE.search(published)
    return (int(m.group(1)), int(m.group(2))) if m else None


# --- people ------------------------------------------------------------------------------------


@cache
def _name_re() -> re.Pattern[str]:
    surnames = "|".join(sorted(people()["surnames"], key=len, reverse=True))
    word = r"[\p{Lu}][\p{Ll}]*"
    return re.compile(rf"(?<![\p{{L}}])(?:{surnames})(?: {word}){{1,4}}(?![\p{{L}}])")


def find_names(text: str) -> list[tuple[int, int, str]]:
    """Personal names: a run of 2-5 capitalised words that opens with a family name.

    A province or other place name glued in front ("Chủ tịch UBND tỉnh Hà Tĩnh Võ Trọng Hải")
    is not part of the name, and a run that is a province name is not a name.
    """
    out = []
    place_names = {fold(p.name) for p in provinces()}
    for m in _name_re().finditer(text):
        name = m.group()
        if fold(name) in place_names or any(fold(name).startswith(p + " ") for p in place_names):
            rest = next(
                (name[len(p) + 1 :] for p in place_names if fold(name).startswith(p + " ")), ""
            )
            inner = _name_re().match(rest)
            if inner:
                offset = m.start() + len(name) - len(rest)
                out.append((offset, offset + inner.end(), inner.group()))
            continue
        out.append((m.start(), m.end(), name))
    return out


_CHAIR_RE = re.compile(r"(?:đồng )?chủ trì(?! ?,? ?phối hợp)")
_CHAIR_BY_RE = re.compile(r"dưới sự (?:đồng )?chủ trì của")
_ATTEND_RE = re.compile(r"tham dự|dự hội nghị|đến dự|có sự tham gia|có mặt")
_CONCLUDE_RE = re.compile(r"kết luận hội nghị|phát biểu kết luận")


def find_chairs(doc: NormalizedDoc) -> tuple[str, ...]:
    """The people who chaired: "X chủ trì hội nghị", "đồng chủ trì", "dưới sự chủ trì của X".

    "kết luận hội nghị, đồng chí X" counts only when no sentence says who chaired.
    """
    for _, text, folded in sentences_text(doc):
        by = _CHAIR_BY_RE.search(folded)
        if by:
            names = find_names(text[by.end() : by.end() + 120])
            if names:
                return (names[0][2],)
        m = _CHAIR_RE.search(folded)
        if not m or _ATTEND_RE.search(folded, 0, m.start()) and "đồng chủ trì" not in folded:
            continue
        chairs = [name for _, _, name in find_names(text[: m.start()])]
        if chairs:
            return tuple(dict.fromkeys(chairs))
    for _, text, folded in sentences_text(doc):
        m = _CONCLUDE_RE.search(folded)
        if m:
            names = find_names(text[m.end() : m.end() + 120]) or find_names(text[: m.start()])
            if names:
                return (names[0][2],)
    return ()


def find_attendees(doc: NormalizedDoc) -> tuple[str, ...]:
    """People said to attend, as "name - title" where a title follows the name."""
    out: list[str] = []
    for _, text, folded in sentences_text(doc):
        if not _ATTEND_RE.search(folded) or _CHAIR_RE.search(folded):
            continue
        names = find_names(text)
        for i, (a, b, name) in enumerate(names):
            stop = names[i + 1][0] if i + 1 < len(names) else len(text)
            title = re.split(r"[;.]", text[b:stop])[0].strip(" -–,:")
            before = re.search(r"((?:[\p{Lu}][\p{Ll}]*\s){1,3})$", text[max(0, a - 30) : a])
            rank = before.group(1).strip() if before else ""
            rank = rank if rank in people()["ranks"] else ""
            label = " ".join(x for x in (rank, name) if x)
            out.append(f"{label} - {title}" if title else label)
    return tuple(dict.fromkeys(out))


_ORGANISER_RE = re.compile(r"tổ chức hội nghị|tổ chức tổng kết|tổ chức sơ kết|tổ chức lễ")


def find_organiser(doc: NormalizedDoc) -> str:
    """The body that held the conference: the subject of "… tổ chức hội nghị" in the lead."""
    for _, text, folded in sentences_text(doc)[:4]:
        m = _ORGANISER_RE.search(folded)
        if m:
            subject = text[: m.start()]
            subject = re.sub(r"^.*?\d{1,2}\s?[./-]\s?\d{1,2}(?:[./-]\d{4})?,\s*", "", subject)
            subject = re.sub(r"^\(?[A-ZĐ]{2,6}\)?\s*[-–]\s*", "", subject).strip(" ,")
            if 2 <= len(subject) <= 200:
                return subject
    return ""


def find_directions(doc: NormalizedDoc, plan_year: int | None) -> tuple[str, ...]:
    """Sentences that set tasks for the next period (for the per-conference section)."""
    marker = re.compile(r"yêu cầu|đề nghị|nhiệm vụ (?:trong )?thời gian tới|phương hướng|năm tới")
    out = []
    for _, text, folded in sentences_text(doc):
        if marker.search(folded) or is_plan_sentence(folded, plan_year):
            out.append(text)
    return tuple(out[:6])


# --- province ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProvinceGuess:
    """A province with how it was found, or "" with why not."""

    name: str
    reason: str
    region: str


@cache
def _province_re() -> tuple[re.Pattern[str], dict[str, str]]:
    forms: dict[str, str] = {}
    for p in provinces():
        for form in (p.name, *p.variants):
            forms[fold(form)] = p.name
        if p.name.startswith("TP. "):
            forms[fold(p.name[4:])] = p.name
    alternation = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\p{{L}}])(?:{alternation})(?![\p{{L}}])"), forms


def province_mentions(doc: NormalizedDoc) -> Counter[str]:
    """Provinces named in the analysed text and the title; "tỉnh X" counts double.

    A mention must be capitalised as a name ("hòa bình" is peace), must not sit inside a
    person's name ("Nguyễn Thái Bình"), and "Lào" of "Việt Nam - Lào" is no "Lào Cai".
    """
    pattern, forms = _province_re()
    counts: Counter[str] = Counter()
    spans = [(s.start, s.end) for s in doc.sentences]
    if doc.title and doc.title in doc.text:
        start = doc.text.index(doc.title)
        spans.append((start, start + len(doc.title)))
    for s, e in spans:
        for m in pattern.finditer(doc.folded, s, e):
            written = doc.text[m.start() : m.end()]
            if not written[0].isupper():
                continue
            if _inside_person_name(doc.text, m.start(), s):
                continue
            province = forms[m.group()]
            before = doc.folded[max(s, m.start() - 12) : m.start()]
            counts[province] += 2 if re.search(r"(?:tỉnh|thành phố|tp\.?)\s*$", before) else 1
    return counts


def _inside_person_name(text: str, start: int, floor: int) -> bool:
    run = re.search(r"((?:[\p{Lu}][\p{Ll}]*\s)+)$", text[max(floor, start - 40) : start])
    if not run:
        return False
    first = run.group(1).split()[0]
    return first in set(people()["surnames"])


def find_military_region(doc: NormalizedDoc) -> str:
    """The Quân khu the text names most ("Quân khu 4" -> "4"), else ""."""
    found = Counter(re.findall(r"quân khu\s+(\d)", doc.folded))
    return found.most_common(1)[0][0] if found else ""


def find_province(doc: NormalizedDoc) -> ProvinceGuess:
    """Decide the province: the manifest, else a byline code, else one dominant name in the text.

    "Quân khu N" only narrows: a candidate outside that region is dropped, and the region never
    names a province alone. Ties, or several provinces without one dominant, stay unknown.
    """
    by_name = {p.name: p for p in provinces()}
    region = find_military_region(doc)
    manifest = doc.meta_value("province")
    if manifest:
        _, forms = _province_re()
        name = forms.get(fold(manifest), manifest)
        known = by_name.get(name)
        return ProvinceGuess(name, "manifest.csv", str(known.region) if known else region)
    for a, b, kind in doc.boilerplate:
        if kind != "dateline":
            continue
        code = re.search(r"\(([^)]+)\)", doc.text[a:b])
        for p in provinces():
            if code and code.group(1) in p.byline_codes:
                return ProvinceGuess(p.name, f"byline code ({code.group(1)})", str(p.region))
    counts = province_mentions(doc)
    if region:
        counts = Counter({k: v for k, v in counts.items() if str(by_name[k].region) == region})
    if not counts:
        why = f"not named; Quân khu {region} narrows it only" if region else "not named in the text"
        return ProvinceGuess("", why, region)
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
        names = ", ".join(n for n, _ in ranked[:3])
        return ProvinceGuess("", f"several provinces named ({names})", region)
    name = ranked[0][0]
    return ProvinceGuess(name, "named in the text", str(by_name[name].region))


# --- all together ---------------------------------------------------------------------------


def read_meta(doc: NormalizedDoc) -> DocMeta:
    """Everything the document says about itself."""
    period = find_period(doc)
    year = find_year(doc, period)
    plan_year = find_plan_year(doc, year)
    province = find_province(doc)
    return DocMeta(
        doc_id=doc.doc_id,
        title=doc.title,
        year=year,
        plan_year=plan_year,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        province=province.name,
        province_reason=province.reason,
        military_region=province.region,
        conference_date=find_conference_date(doc, year),
        chairs=find_chairs(doc),
        attendees=find_attendees(doc),
        organiser=find_organiser(doc),
        directions=find_directions(doc, plan_year),
    )
