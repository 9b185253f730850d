"""Document metadata: the year reviewed, the period, the conference date, the people, the province.

Every rule here prefers an empty answer to a guess: an unknown province stays "" with a reason,
a conference date whose year cannot be told safely stays "". The functions are pure and take a
``NormalizedDoc``; ``read_meta`` puts them together.

Speed: phrases are found with ``str.find`` (``tasks.normalize.phrase_positions``) and mapped to
sentences, rather than one regex per sentence; the few regexes are compiled once.
"""

from __future__ import annotations

import re as stdlib_re
import threading
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Any

import regex as re

from tasks.catalog import grammar, people, province_lists, provinces
from tasks.normalize import fold, phrase_positions
from tasks.records import DocMeta, NormalizedDoc

_YEAR = r"(?:19|20)\d{2}"
_END = r"(?!\d|[.,/]\d)"  # "2020." ends a sentence; "2020.5" or "2020/1" is something else
_YEAR_MENTION = re.compile(rf"(?<![\d.,/])(?:năm|nam)\s+({_YEAR}){_END}")
_PERIOD = re.compile(rf"(?<![\d.,/])({_YEAR})\s?[-–]\s?({_YEAR}){_END}")
# a dash before a year: every period ("2016 - 2020", "2021-2025") has one, where most dashes of
# a report join words ("kinh tế - xã hội"); the C engine of ``re`` tells it from a short
# literal-led pattern, and the sentence needs none of the searches below without it
_PERIOD_HINT = stdlib_re.compile(r"[-–]\s?[12]")
_REVIEW = re.compile(r"tổng kết|sơ kết|nhìn lại|đánh giá kết quả|báo cáo kết quả")
_RESULT_LEAD = re.compile(rf"^(?:[\p{{L}} ]{{0,20}}, )?(?:trong )?năm ({_YEAR}),")
_HALF_YEAR = re.compile(rf"(?:6|sáu) tháng (?:đầu )?năm ({_YEAR}){_END}")
_DOC_NAMES = (
    "luật",
    "hiến pháp",
    "pháp lệnh",
    "nghị quyết",
    "nghị định",
    "chỉ thị",
    "thông tư",
    "quyết định",
    "chiến lược",
)
_DOC_NAME_BEFORE = re.compile(rf"(?:{'|'.join(_DOC_NAMES)})[^,;.()]{{0,50}}$")
_FUTURE_LEAD = re.compile(r"tiếp tục|sẽ|phấn đấu|dự kiến|cần|phải|tập trung")


def _review_in(folded: str) -> re.Match[str] | None:
    """``_REVIEW.search``; every review phrase but "nhìn lại" holds "kết" ("tổng kết", "báo
    cáo kết quả"), so a sentence with neither needs no search."""
    if "kết" not in folded and "nhìn lại" not in folded:
        return None
    return _REVIEW.search(folded)


_last_doc = threading.local()


def doc_memo(doc: NormalizedDoc) -> dict[Any, Any]:
    """A scratch dict for what several finders derive from the same document.

    ``read_meta`` and the extract stage ask for the sentences' texts and the plan flags of one
    document five or six times; the dict lives until the thread moves on to another document
    (documents are immutable, and each thread of a task runner has its own).
    """
    if getattr(_last_doc, "doc", None) is not doc:
        _last_doc.doc, _last_doc.memo = doc, {}
    memo: dict[Any, Any] = _last_doc.memo
    return memo


def sentences_text(doc: NormalizedDoc) -> tuple[tuple[int, str, str], ...]:
    """(paragraph, text, folded) of each analysed sentence."""
    memo = doc_memo(doc)
    found = memo.get("sentences")
    if found is None:
        found = memo["sentences"] = tuple(
            (s.paragraph, doc.text[s.start : s.end], doc.folded[s.start : s.end])
            for s in doc.sentences
        )
    return found


@cache
def _plan_markers() -> tuple[str, ...]:
    return tuple(fold(w) for w in grammar()["plan_markers"])


@cache
def _plan_re() -> re.Pattern[str]:
    words = "|".join(re.escape(w) for w in sorted(_plan_markers(), key=len, reverse=True))
    return re.compile(rf"(?<![\p{{L}}])(?:{words})(?![\p{{L}}])")


def is_plan_sentence(folded_sentence: str, plan_year: int | None) -> bool:
    """A sentence that sets goals: "phương hướng", "phấn đấu", "năm tới", or the plan year."""
    if plan_year and f"năm {plan_year}" in folded_sentence:
        return True
    return bool(phrase_positions(folded_sentence, _plan_markers()))


def _sentences_with(doc: NormalizedDoc, phrases: tuple[str, ...]) -> list[int]:
    """Indexes of the sentences that hold one of the folded ``phrases``, in order."""
    starts = [s.start for s in doc.sentences]
    found = set()
    for pos in phrase_positions(doc.folded, phrases):
        i = bisect_right(starts, pos) - 1
        if i >= 0 and pos < doc.sentences[i].end:
            found.add(i)
    return sorted(found)


def plan_flags(doc: NormalizedDoc, plan_year: int | None) -> list[bool]:
    """``is_plan_sentence`` for every sentence, from one search of the whole text."""
    memo = doc_memo(doc)
    found = memo.get(("plan_flags", plan_year))
    if found is None:
        if plan_year:
            # the markers' flags (memoised: find_year asks for them) and the plan year's
            found = plan_flags(doc, None)
            phrases: tuple[str, ...] = (f"năm {plan_year}",)
        else:
            found = [False] * len(doc.sentences)
            phrases = _plan_markers()
        for i in _sentences_with(doc, phrases):
            found[i] = True
        memo["plan_flags", plan_year] = found
    return list(found)  # a copy: the caller may change its own


# --- years -------------------------------------------------------------------------------------


def find_period(doc: NormalizedDoc) -> tuple[int, int] | None:
    """The multi-year period reviewed: "tổng kết ... giai đoạn 2016 - 2020" in one sentence.

    A period named after a single year ("tổng kết năm 2023 ... giai đoạn 2021 - 2025") is the
    plan the year belongs to, not the period reviewed.
    """
    for _, _, folded in [(0, doc.title, fold(doc.title)), *sentences_text(doc)]:
        if ("-" not in folded and "–" not in folded) or not _PERIOD_HINT.search(folded):
            continue
        review = _review_in(folded)
        if not review:
            continue
        single = _YEAR_MENTION.search(folded, review.end())
        for m in _PERIOD.finditer(folded, review.end()):
            if single and single.start() < m.start():
                break
            a, b = int(m.group(1)), int(m.group(2))
            if a < b <= a + 15:
                return a, b
    return None


def find_year(doc: NormalizedDoc, period: tuple[int, int] | None) -> int | None:
    """The year reviewed; the last year of a period; None when the text does not say it.

    Votes: the title's year (+3), a sentence that opens with "Năm 2023," and sets no goals
    (+3), a year after "tổng kết"/"sơ kết" or in "6 tháng đầu năm 2024" (+3), any other
    "năm 2023" (+1), a year in a plan sentence (-1). Ties go to the earlier year: a report
    names the year it reviews and the year it plans for, never a later one as the review.
    """
    if period:
        return period[1]
    votes: Counter[int] = Counter()
    title = fold(doc.title)
    for m in _YEAR_MENTION.finditer(title):
        votes[int(m.group(1))] += 3
    flags = plan_flags(doc, None)
    for (_, _, folded), plan in zip(sentences_text(doc), flags, strict=True):
        if "năm" not in folded:
            continue
        lead = _RESULT_LEAD.match(folded)
        if lead and not _FUTURE_LEAD.search(folded, lead.end(), lead.end() + 40):
            votes[int(lead.group(1))] += 3
        # (each pattern only where its words are: a substring test costs far less than a search)
        if "tháng" in folded:
            for m in _HALF_YEAR.finditer(folded):
                votes[int(m.group(1))] += 3
        mentions = list(_YEAR_MENTION.finditer(folded))
        if not mentions:
            continue  # (the review and plan words matter only before a year)
        review = _review_in(folded)
        plans = phrase_positions(folded, _plan_markers()) if plan else []
        names_a_document = any(name in folded for name in _DOC_NAMES)
        for m in mentions:
            if names_a_document and _DOC_NAME_BEFORE.search(
                folded, max(0, m.start() - 60), m.start()
            ):
                continue  # "Luật Nghĩa vụ quân sự năm 2015" names a law, not the year reviewed
            year = int(m.group(1))
            # "tổng kết ... năm 2013 và triển khai nhiệm vụ năm 2014": the year after the review
            # word is reviewed, the one after a plan word is planned
            after_plan = any(p < m.start() for p in plans)
            if (
                review
                and review.start() < m.start()
                and not any(review.start() < p < m.start() for p in plans)
            ):
                votes[year] += 3
            elif after_plan or plan:
                votes[year] -= 1
            else:
                votes[year] += 1
    best = [(v, y) for y, v in votes.items() if v > 0]
    if not best:
        return None
    best.sort(key=lambda vy: (-vy[0], vy[1]))
    return best[0][1]


def _year_from_date(iso: str) -> int | None:
    """The year reviewed by a conference whose date the text gives in full, when the text names
    no year otherwise: a conference from June on reviews its own year ("Sáng 14-11-2022"), one
    in January-March the year before; April-May stay unknown."""
    if not iso:
        return None
    y, m = int(iso[:4]), int(iso[5:7])
    return y if m >= 6 else (y - 1 if m <= 3 else None)


def find_plan_year(doc: NormalizedDoc, year: int | None) -> int | None:
    """The year the plan part is for: the year after the one reviewed, when the text names it."""
    if year is None:
        return None
    wanted = f"năm {year + 1}"
    return year + 1 if wanted in doc.folded or wanted in fold(doc.title) else None


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
    else from the year reviewed: a year-end conference (Sep-Dec: that year; Jan-Mar: the next),
    or a mid-year review held in Jun-Aug ("sơ kết 6 tháng đầu năm 2024", "Chiều 12/7").
    Anything less safe gives "".
    """
    for _, _, folded in sentences_text(doc)[:4]:
        m = _DATE_RE.search(folded)
        if not m:
            continue
        day, month, y = (m.group(1), m.group(2), m.group(3)) if m.group(1) else m.group(4, 5, 6)
        day_i, month_i = int(day), int(month)
        if not y and year is not None and month_i <= 6 and _is_recruitment_review(doc):
            # the recruits leave in February or March and the review follows within weeks:
            # "Sáng 26/3, ... tổng kết công tác tuyển quân năm 2021" is 26 March 2021
            year_i: int | None = year
        else:
            year_i = int(y) if y else _infer_year(doc, month_i, year)
        if year_i is None:
            return ""
        try:
            return date(year_i, month_i, day_i).isoformat()
        except ValueError:
            return ""
    return ""


_RECRUITMENT = re.compile(
    r"tuyển quân|tuyển chọn.{0,20}gọi công dân|gọi công dân nhập ngũ|giao nhận quân"
)


def _is_recruitment_review(doc: NormalizedDoc) -> bool:
    """A review of the yearly call-up, named in the title or the lead sentence."""
    lead = doc.folded[doc.sentences[0].start : doc.sentences[0].end] if doc.sentences else ""
    return bool(_RECRUITMENT.search(fold(doc.title)) or _RECRUITMENT.search(lead))


def _infer_year(doc: NormalizedDoc, month: int, reviewed: int | None) -> int | None:
    stamp = _published(doc)
    if stamp:
        s_year, s_month = stamp
        if s_month in (month, month + 1):
            return s_year
        if month == 12 and s_month == 1:
            return s_year - 1
    if reviewed is not None:
        # (a search of the whole text: only for a conference in June-August)
        if 6 <= month <= 8 and _HALF_YEAR.search(doc.folded):
            return reviewed
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

# a run of capitalised words: "Lê Văn Dũng", "Y Giang Niê", "H'Hen Niê", "Hà Tĩnh Võ Trọng Hải"
_CAP_RUN = re.compile(r"(?<![\p{L}'’])\p{Lu}[\p{L}'’]*(?: \p{Lu}[\p{L}'’]*)+")
_DONG_CHI = re.compile(r"(?:đồng chí|đ/c|ông|bà)\s+$")


@cache
def _people_sets() -> tuple[frozenset[str], tuple[str, ...], frozenset[str], tuple[str, ...]]:
    p = people()
    surnames = frozenset(p["surnames"])
    prefixes = tuple(sorted(p.get("name_prefixes") or (), key=len, reverse=True))
    ranks = frozenset(p["ranks"])
    heads = tuple(fold(h) for h in p.get("title_heads") or ())
    return surnames, prefixes, ranks, heads


@cache
def _place_forms() -> frozenset[str]:
    forms = set()
    for p in provinces():
        forms.add(fold(p.name))
        forms.update(fold(v) for v in p.variants)
    return frozenset(forms)


@lru_cache(maxsize=8192)
def _name_in_run(run: str, after_title: bool) -> tuple[int, str] | None:
    """The personal name inside a capitalised run, with its offset in the run, else None.

    Leading words that are not a name are skipped ("UBND Lê Văn A", "Hà Tĩnh Võ Trọng Hải");
    a run that is, or opens with, a province name is not a name ("Lâm Đồng"). Kept per run:
    the same officials and bodies come back report after report.
    """
    surnames, prefixes, _, heads = _people_sets()
    places = _place_forms()
    words = run.split(" ")
    folded_words = fold(run).split(" ")
    for i in range(len(words) - 1):
        rest = " ".join(words[i:])
        folded_rest = " ".join(folded_words[i:])
        if any(" ".join(folded_words[i : i + k]) in places for k in (2, 3, 4)):
            continue
        first = words[i]
        by_title = after_title and i == 0 and not folded_rest.startswith(heads)
        if first in surnames or rest.startswith(prefixes) or by_title:
            if len(words) - i > 5:
                return None
            return len(" ".join(words[:i])) + (1 if i else 0), rest
    return None


def find_names(text: str) -> list[tuple[int, int, str]]:
    """Personal names: a run of 2-5 capitalised words that opens with a family name.

    A province or other place name glued in front ("Chủ tịch UBND tỉnh Hà Tĩnh Võ Trọng Hải")
    is not part of the name, and a run that is a province name is not a name. After "đồng
    chí", "ông", "bà" any capitalised run is a name ("đồng chí Y Giang Niê").
    """
    out = []
    for m in _CAP_RUN.finditer(text):
        after_title = bool(_DONG_CHI.search(fold(text[max(0, m.start() - 12) : m.start()])))
        found = _name_in_run(m.group(), after_title)
        if found:
            offset, name = found
            start = m.start() + offset
            out.append((start, start + len(name), name))
    return out


_CHAIR_RE = re.compile(r"(?:đồng )?chủ trì(?! ?,? ?phối hợp)")
_CHAIR_BY_RE = re.compile(
    r"(?:dưới sự|do) (?:đồng )?chủ trì của|chủ trì (?:hội nghị|buổi [\p{L} ]{2,20}) (?:là|có)"
)
_ATTEND_RE = re.compile(
    r"tham dự|dự hội nghị|đến dự|dự có|về dự|có sự tham gia|có mặt|cùng dự|cùng tham dự"
)
_CONCLUDE_RE = re.compile(r"kết luận hội nghị|phát biểu kết luận")


def find_chairs(doc: NormalizedDoc) -> tuple[str, ...]:
    """The people who chaired: "X chủ trì hội nghị", "đồng chủ trì", "dưới sự chủ trì của X".

    "kết luận hội nghị, đồng chí X" counts only when no sentence says who chaired.
    """
    sentences = sentences_text(doc)
    for _, text, folded in sentences:
        if "chủ trì" not in folded:
            continue
        by = _CHAIR_BY_RE.search(folded)
        if by:
            names = find_names(text[by.end() : by.end() + 160])
            if names:
                return (names[0][2],)
        m = _CHAIR_RE.search(folded)
        if not m or (_ATTEND_RE.search(folded, 0, m.start()) and "đồng chủ trì" not in folded):
            continue
        chairs = [name for _, _, name in find_names(text[: m.start()])]
        if not chairs:
            chairs = [name for _, _, name in find_names(text[m.end() : m.end() + 160])][:1]
        if chairs:
            return tuple(dict.fromkeys(chairs))
    if "kết luận" not in doc.folded:  # both phrases of _CONCLUDE_RE hold it
        return ()
    for _, text, folded in sentences:
        m = _CONCLUDE_RE.search(folded)
        if m:
            names = find_names(text[m.end() : m.end() + 120]) or find_names(text[: m.start()])
            if names:
                return (names[0][2],)
    return ()


_TITLE_CUT = re.compile(
    r"[;.]| và (?=[\p{L}])| cùng (?=[\p{L}])| đến dự| tham dự| dự hội nghị| về dự"
)


@cache
def _rank_re() -> re.Pattern[str]:
    ranks = "|".join(re.escape(r) for r in sorted(people()["ranks"], key=len, reverse=True))
    return re.compile(rf"(?<![\p{{L}}])({ranks})\s+$")


_ATTEND_PHRASES = (
    "tham dự",
    "dự hội nghị",
    "đến dự",
    "dự có",
    "về dự",
    "có sự tham gia",
    "có mặt",
    "cùng dự",
)


def find_attendees(doc: NormalizedDoc, chairs: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """People said to attend, as "rank name - title".

    The title is the one that follows the name ("Lê Ô Pích, Phó Chủ tịch UBND tỉnh") or, when
    none follows, the one that precedes it ("Phó Bí thư Thường trực Tỉnh ủy Lê Văn Dũng đến
    dự" -> "Lê Văn Dũng - Phó Bí thư Thường trực Tỉnh ủy").
    """
    _, _, _, heads = _people_sets()
    chair_set = set(find_chairs(doc) if chairs is None else chairs)
    out: list[str] = []
    for k in _sentences_with(doc, _ATTEND_PHRASES):
        sentence = doc.sentences[k]
        text = doc.text[sentence.start : sentence.end]
        names = find_names(text)
        for i, (a, b, name) in enumerate(names):
            if name in chair_set:
                continue
            stop = names[i + 1][0] if i + 1 < len(names) else len(text)
            after = text[b:stop]
            title = ""
            if after.lstrip()[:1] in (",", "-", "–", "("):
                title = _TITLE_CUT.split(after, maxsplit=1)[0].strip(" -–,:()")
            prev_end = names[i - 1][1] if i else 0
            before = text[prev_end:a]
            rank = ""
            rank_m = _rank_re().search(before)
            if rank_m:
                rank = rank_m.group(1)
                before = before[: rank_m.start()]
            if not title:
                title = _title_before(before, heads)
            label = " ".join(x for x in (rank, name) if x)
            out.append(f"{label} - {title}" if title else label)
    return tuple(dict.fromkeys(out))


_CLAUSE_SPLIT = re.compile(r"[,;:.]|(?<![\p{L}])(?:có|gồm|là|và|cùng|đồng chí|các đồng chí)\s")


def _title_before(before: str, heads: tuple[str, ...]) -> str:
    """The title right before a name, when the words before it open with a title word."""
    tail = _CLAUSE_SPLIT.split(before)[-1].strip(" -–")
    folded = fold(tail)
    if tail and folded.startswith(heads) and len(tail.split()) <= 14:
        return tail
    return ""


_ORGANISER_RE = re.compile(
    r"(?:tổ chức|tiến hành|long trọng tổ chức) (?:hội nghị|tổng kết|sơ kết|lễ|buổi)"
    r"|(?:phối hợp )?tổ chức hội nghị"
)
_TIME_LEAD_RE = re.compile(r"(?i)sáng|chiều|tối|trưa|ngày|hôm|trong|vừa qua|mới đây")
_AT_PLACE_RE = re.compile(r"^tại [^,]{2,80},\s*")
_LEAD_DATE_RE = re.compile(r"^.*?\d{1,2}(?:\s?[./-]\s?\d{1,2})?(?:\s?[./-]\s?\d{4})?,\s*")


def find_organiser(doc: NormalizedDoc) -> str:
    """The body that held the conference: the subject of "… tổ chức hội nghị" in the lead."""
    for _, text, folded in sentences_text(doc)[:4]:
        m = _ORGANISER_RE.search(folded)
        if m:
            subject = text[: m.start()]
            if subject[:1].isdigit() or _TIME_LEAD_RE.match(subject):
                subject = _LEAD_DATE_RE.sub("", subject, count=1)
            subject = _AT_PLACE_RE.sub("", subject.strip(" ,"), count=1)
            if subject[:1].islower() and ", " in subject:
                # "nhân kỷ niệm 79 năm Ngày thành lập QĐND (…), Bộ CHQS tỉnh": the last part
                subject = subject.rsplit(", ", 1)[1]
            if subject.endswith((" đã", " đã long trọng")):
                subject = subject.rsplit(" đã", 1)[0]
            if 2 <= len(subject) <= 200 and subject[:1].isupper():
                return subject
    return ""


_DIRECTION_MARKERS = (
    "yêu cầu",
    "đề nghị",
    "nhiệm vụ thời gian tới",
    "nhiệm vụ trong thời gian tới",
    "phương hướng",
    "năm tới",
)


def find_directions(
    doc: NormalizedDoc, plan_year: int | None, flags: list[bool] | None = None
) -> tuple[str, ...]:
    """Sentences that set tasks for the next period (for the per-conference section)."""
    flags = flags if flags is not None else plan_flags(doc, plan_year)
    hits = set(_sentences_with(doc, _DIRECTION_MARKERS))
    out = []
    for i, s in enumerate(doc.sentences):
        if flags[i] or i in hits:
            out.append(doc.text[s.start : s.end])
            if len(out) == 6:  # the first six are kept
                break
    return tuple(out)


# --- province ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProvinceGuess:
    """A province with how it was found, or "" with why not."""

    name: str
    reason: str
    region: str


# capitalised runs that may hold a province: "Bà Rịa - Vũng Tàu", "TP.HCM", "Thừa Thiên-Huế"
_PLACE_RUN = re.compile(r"(?<![\p{L}])\p{Lu}[\p{L}'’]*(?:(?: - | – |-|–|\.| )\p{Lu}[\p{L}'’]*)*")
# "tỉnh X", "thành phố X", "TP X", "Tỉnh ủy X", "Thành ủy X", "huyện Ninh Cư (X)"
_PREFIX_BEFORE = re.compile(r"(?:tỉnh|thành phố|tp\.?|tỉnh ủy|thành ủy|tỉnh đoàn)\s*$|[\p{L}] \($")
# a province the report's province deals with: a neighbour, a twin, a visiting delegation
_RELATION_BEFORE = re.compile(
    r"(?:với|giáp|giáp ranh|tỉnh bạn|đoàn|đoàn công tác|đoàn đại biểu|sang|đến từ|kết nghĩa|"
    r"các tỉnh|của các tỉnh|hỗ trợ|giúp đỡ|chi viện)(?: với)?(?: của)?"
    r"\s+(?:tỉnh|thành phố|tp\.?)?\s*$"
)
_LIST_GLUE = re.compile(r"^(?:,| và| cùng| với| -|, tỉnh| và tỉnh|, thành phố)\s*$")


@cache
def _province_index() -> dict[str, Any]:
    """Folded form -> canonical name, forms by first word, and the word lists."""
    lists = province_lists()
    forms: dict[str, str] = {}
    for p in provinces():
        for form in (p.name, *p.variants):
            forms[fold(form)] = p.name
        if p.name.startswith("TP. "):
            forms[fold(p.name[4:])] = p.name
    by_first: dict[str, list[str]] = {}
    for form in sorted(forms, key=len, reverse=True):
        first = re.split(r"[ .\-]", form, maxsplit=1)[0]
        by_first.setdefault(first, []).append(form)
    inner = tuple(
        sorted((fold(w) for w in lists.get("inner_place_words") or ()), key=len, reverse=True)
    )
    forms_of: dict[str, list[str]] = {}
    for form, name in forms.items():
        forms_of.setdefault(name, []).append(form)
    return {
        "forms": forms,
        "forms_of": forms_of,  # canonical name -> its folded forms
        "by_first": by_first,
        "needs_prefix": frozenset(fold(w) for w in lists.get("needs_prefix") or ()),
        "inner": re.compile(rf"(?:^|\s)(?:{'|'.join(re.escape(w) for w in inner)})\s*$"),
        "national": frozenset(lists.get("national_codes") or ()),
        "new_names": lists.get("new_names") or {},
    }


@dataclass(frozen=True, slots=True)
class _Mention:
    province: str
    start: int
    end: int
    form: str
    prefixed: bool


_WORD_IN_RUN = re.compile(r"[^ .\-–]+")
_RUN_SEPARATORS = str.maketrans({".": " ", "-": " ", "–": " "})


#: Words of the capitalised runs seen so far (None: no province opens with any of them).
_RUN_WORDS_LIMIT = 1 << 16
_run_words_seen: dict[str, tuple[tuple[int, str], ...] | None] = {}


def run_words(folded_run: str) -> tuple[tuple[int, str], ...] | None:
    """(offset, word) of each word of a folded capitalised run, or None when no word of it can
    open a province's name.

    Most runs hold no province ("Các", "Hội nghị", "Bộ CHQS"), and the same runs come back in
    every report: the answer is kept per run, so a run seen before costs one dict lookup.
    """
    if folded_run in _run_words_seen:
        return _run_words_seen[folded_run]
    # (split with ``str`` methods: "Bà Rịa - Vũng Tàu" -> bà, rịa, vũng, tàu)
    if (
        _province_index()["by_first"]
        .keys()
        .isdisjoint(folded_run.translate(_RUN_SEPARATORS).split())
    ):
        answer = None
    else:
        answer = tuple((w.start(), w.group()) for w in _WORD_IN_RUN.finditer(folded_run))
    if len(_run_words_seen) >= _RUN_WORDS_LIMIT:
        _run_words_seen.clear()
    _run_words_seen[folded_run] = answer
    return answer


#: Province names of the capitalised runs seen so far, by folded run (see ``run_hits``).
_run_hits_seen: dict[str, tuple[tuple[int, str], ...]] = {}


def run_hits(folded_run: str) -> tuple[tuple[int, str], ...]:
    """(offset, folded form) of each province name that a folded capitalised run holds, but not
    one inside a person's name ("Nguyễn Thái Bình") or a longer name ("Điện Biên Phủ").

    All of this depends on the run alone, and the same runs come back report after report
    ("Đồng" of "Đồng chí" opens "Đồng Nai" but holds no province): the answer is kept per run,
    and only the words before a name found (``_mentions_in``) are looked at anew.
    """
    found = _run_hits_seen.get(folded_run)
    if found is not None:
        return found
    words = run_words(folded_run)
    hits = []
    if words is not None:
        by_first = _province_index()["by_first"]
        surnames = _folded_surnames()
        k = 0
        while k < len(words):
            offset, word = words[k]
            hit = None
            for form in by_first.get(word, ()):
                if folded_run.startswith(form, offset):
                    end_off = offset + len(form)
                    if end_off == len(folded_run) or not folded_run[end_off].isalpha():
                        hit = form
                        break
            if hit is None:
                k += 1
                continue
            rest = folded_run[offset + len(hit) :].strip(" -–.").split()
            # "Nguyễn Thái Bình": inside a person's name; "Điện Biên Phủ": inside a longer name;
            # "Hà Tĩnh Võ Trọng Hải" is a province followed by a person's name
            inside_name = k > 0 and words[0][1] in surnames
            longer_name = bool(rest) and (len(rest) < 2 or rest[0] not in surnames)
            if not (inside_name or longer_name):
                hits.append((offset, hit))
            k += 1 + len(_WORD_IN_RUN.findall(hit)) - 1
    if len(_run_hits_seen) >= _RUN_WORDS_LIMIT:
        _run_hits_seen.clear()
    found = _run_hits_seen[folded_run] = tuple(hits)
    return found


def _mentions_in(doc: NormalizedDoc, s: int, e: int) -> list[_Mention]:
    idx = _province_index()
    out = []
    folded = doc.folded
    seen = _run_hits_seen
    for run in _PLACE_RUN.finditer(doc.text, s, e):
        run_start, run_end = run.span()
        folded_run = folded[run_start:run_end]
        # most capitalised runs hold no province, and every run comes back in other reports:
        # a run seen before costs one dict lookup, without a call
        hits = seen.get(folded_run)
        if hits is None:
            hits = run_hits(folded_run)
        for offset, hit in hits:
            a = run_start + offset
            b = a + len(hit)
            before = folded[max(s, a - 40) : a]
            prefixed = bool(_PREFIX_BEFORE.search(before))
            if _RELATION_BEFORE.search(before):
                prefixed = False  # "giáp với tỉnh X", "đoàn công tác tỉnh X": another province
            inner = not prefixed and bool(idx["inner"].search(before))
            needs = hit in idx["needs_prefix"] and not prefixed
            if not (inner or needs):
                out.append(_Mention(idx["forms"][hit], a, b, hit, prefixed))
    return out


@cache
def _folded_surnames() -> frozenset[str]:
    return frozenset(fold(n) for n in people()["surnames"])


def province_mentions(doc: NormalizedDoc) -> dict[str, float]:
    """Scores of the provinces named in the analysed text and the title.

    A mention counts 1, "tỉnh X" 2, a mention in the title one more; a province in a list of
    provinces ("các tỉnh An Giang, Kiên Giang, Cà Mau") counts 0.5, since a list names places
    the report is about, not the one it is from. A mention must be capitalised as a name
    ("hòa bình" is peace), must not sit inside a person's name ("Nguyễn Thái Bình") or a longer
    name ("Điện Biên Phủ"), and must not follow "xã", "huyện", "đường" ("xã Hòa Bình").
    """
    mentions = _mentions_in(doc, 0, len(doc.text))
    if not mentions:
        return {}  # (many reports name no province: no spans to build)
    spans = [(s.start, s.end, False) for s in doc.sentences]
    spans += [(a, b, True) for a, b, kind in doc.boilerplate if kind == "title"]
    spans.sort()
    starts = [s for s, _, _ in spans]
    by_span: dict[int, list[_Mention]] = {}
    for m in mentions:
        i = bisect_right(starts, m.start) - 1
        if i >= 0 and m.end <= spans[i][1]:
            by_span.setdefault(i, []).append(m)
    counts: dict[str, float] = {}
    for i, found in by_span.items():
        s, _, is_title = spans[i]
        listed: set[int] = set()
        for x, y in zip(found, found[1:], strict=False):
            if x.province != y.province and _LIST_GLUE.match(doc.folded[x.end : y.start]):
                listed.update((id(x), id(y)))
        for m in found:
            score = 0.5 if id(m) in listed else (2.0 if m.prefixed else 1.0)
            counts[m.province] = counts.get(m.province, 0.0) + score + (1.0 if is_title else 0.0)
    return counts


def _ascii_key(name: str) -> str:
    """ "Thanh Hóa" -> "thanhhoa", "Bà Rịa - Vũng Tàu" -> "bariavungtau" (for newspaper domains)."""
    plain = unicodedata.normalize("NFD", fold(name).replace("đ", "d"))
    return "".join(c for c in plain if c.isascii() and c.isalnum())


@cache
def _domain_keys() -> dict[str, str]:
    return {_ascii_key(p.name.removeprefix("TP. ")): p.name for p in provinces()}


def _byline_province(code: str) -> Any:
    """The province of a newspaper byline: a known code ("QNO", "BGĐT") or a provincial paper's
    domain, which is "bao" + the province's name without marks ("Baothanhhoa.vn")."""
    for p in provinces():
        if code in p.byline_codes:
            return p
    m = _DOMAIN_RE.fullmatch(fold(code))
    if m:
        name = _domain_keys().get(m.group(1))
        if name:
            return next(p for p in provinces() if p.name == name)
    return None


_DOMAIN_RE = re.compile(r"(?:www\.)?bao([a-z]+)\.(?:vn|com\.vn|org\.vn)")
_ABOVE_PROVINCE = re.compile(
    r"quân khu|bộ tư lệnh|bộ quốc phòng|tổng cục|quân chủng|quân đoàn|binh đoàn|bộ công an|"
    r"trung ương|chính phủ|quốc hội|bộ chỉ huy bộ đội biên phòng$|cục "
)
_PROVINCE_BODY = re.compile(
    r"tỉnh|thành phố|thủ đô|tp\.|huyện|thị xã|quận|xã|phường|thành ủy|tỉnh ủy"
)
_QK_RE = re.compile(r"quân khu\s+(\d)(?!\d)")


def find_military_region(doc: NormalizedDoc) -> str:
    """The Quân khu the text names most ("Quân khu 4" -> "4"), else ""."""
    if "quân khu" not in doc.folded:
        return ""
    found = Counter(_QK_RE.findall(doc.folded))
    return found.most_common(1)[0][0] if found else ""


@cache
def _provinces_by_name() -> dict[str, Any]:
    return {p.name: p for p in provinces()}


def find_province(
    doc: NormalizedDoc, year: int | None = None, organiser: str = ""
) -> ProvinceGuess:
    """Decide the province: the manifest, else a byline code, else one dominant name in the text.

    "Quân khu N" only narrows: a candidate outside that region is dropped, and the region never
    names a province alone. A report after the 2025 merger may name the old provinces its new
    unit absorbed ("tỉnh Tuyên Quang mới, hợp nhất từ Tuyên Quang và Hà Giang"): those do not
    compete with it. Without a name scoring at least 2 and twice the next, it stays unknown.
    """
    by_name = _provinces_by_name()
    idx = _province_index()
    region = find_military_region(doc)
    manifest = doc.meta_value("province")
    if manifest:
        name = idx["forms"].get(fold(manifest), manifest)
        known = by_name.get(name)
        return ProvinceGuess(name, "manifest.csv", str(known.region) if known else region)
    codes_seen = []
    for a, b, kind in doc.boilerplate:
        if kind != "dateline":
            continue
        code = doc.text[a:b].strip(" ()-–—")
        codes_seen.append(code)
        known = _byline_province(code)
        if known:
            return ProvinceGuess(known.name, f"byline code ({code})", str(known.region))
    if (
        organiser
        and _ABOVE_PROVINCE.search(fold(organiser))
        and not _PROVINCE_BODY.search(fold(organiser))
    ):
        # "Bộ Tư lệnh Quân khu 2 tổ chức hội nghị": a conference above the provinces names
        # several of them; none of them is where the report is from
        return ProvinceGuess("", f"held by a body above the provinces ({organiser})", region)
    counts = province_mentions(doc)
    if organiser:
        # the body that held the conference belongs to its province ("Ban Dân vận Thành ủy
        # TP.HCM", "UBND tỉnh Tuyên Quang"): one more point
        folded_org = fold(organiser)
        for name in list(counts):
            if any(f in folded_org for f in idx["forms_of"][name]):
                counts[name] += 1
    if region:
        counts = {k: v for k, v in counts.items() if str(by_name[k].region) == region}
    if not counts:
        why = f"not named; Quân khu {region} narrows it only" if region else "not named in the text"
        if codes_seen and codes_seen[0].strip("()") not in idx["national"]:
            why += f"; byline code ({codes_seen[0]}) not known"
        return ProvinceGuess("", why, region)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top, top_score = ranked[0]
    if year is None or year >= 2025:
        merged = by_name[top].merged_into
        ranked = [(n, v) for n, v in ranked if n == top or by_name[n].merged_into != merged]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if len(ranked) >= 3:
        second = sum(v for _, v in ranked[1:])  # among many, it must outweigh them all
    if top_score < 2 or top_score < 2 * second:
        names = ", ".join(n for n, _ in ranked[:3])
        return ProvinceGuess("", f"no dominant province named ({names})", region)
    name = top
    if year is not None and year >= 2025 and name in idx["new_names"]:
        name = idx["new_names"][name]  # "Thừa Thiên Huế" is "Huế" from 1 July 2025
    return ProvinceGuess(name, "named in the text", str(by_name[top].region))


# --- all together ---------------------------------------------------------------------------


def read_meta(doc: NormalizedDoc) -> DocMeta:
    """Everything the document says about itself."""
    period = find_period(doc)
    year = find_year(doc, period)
    if year is None:
        year = _year_from_date(find_conference_date(doc, None))
    plan_year = find_plan_year(doc, year)
    organiser = find_organiser(doc)
    province = find_province(doc, year, organiser)
    chairs = find_chairs(doc)
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
        chairs=chairs,
        attendees=find_attendees(doc, chairs),
        organiser=organiser,
        directions=find_directions(doc, plan_year),
    )
