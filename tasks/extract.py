"""Extract stage: ``NormalizedDoc`` -> ``Extraction`` (metadata, facts, vague amounts).

Each fact is a figure that counts something (``tasks.numbers``), tied to its sentence, given a
kind (a result of the period reviewed, or a plan for the next) and mapped to a canonical
indicator of the catalog (``tasks/data/indicators.yaml``) or "other".
"""

from __future__ import annotations

import hashlib
from functools import cache, lru_cache

import regex as re

from tasks.catalog import Indicator, Pattern, abbreviations, indicators
from tasks.metadata import is_plan_sentence, plan_flags, read_meta
from tasks.normalize import fold
from tasks.numbers import Mention, read_sentences, vague_in_sentences
from tasks.records import DocMeta, Extraction, Fact, NormalizedDoc, Sentence, VagueAmount

# a sentence that reports again after a plan sentence: "Năm 2023, ...", "Kết quả, ...",
# "Dịp này, UBND tỉnh tặng bằng khen ..." (awards handed out at the conference)
_RESULT_OPENING = re.compile(
    r"^(?:trong |tính đến |đến )?(?:năm qua|năm (?:19|20)\d{2},|kết quả|qua \d+ năm|"
    r"(?:nhân )?dịp này|tại hội nghị,? [\p{L} ]{0,40}(?:tặng|trao|khen)|trong năm)"
)


def sentence_kinds(doc: NormalizedDoc, meta: DocMeta) -> list[str]:
    """Kind of each analysed sentence.

    "plan" from a plan marker to the end of its paragraph (the sentences after "Hội nghị xác
    định, năm 2024, ..." list the year's tasks), unless a sentence opens a result again ("Năm
    2023, ...", "Dịp này, ... tặng bằng khen"). A plan heading ("Phương hướng, nhiệm vụ năm
    2024", or a sentence ending in ":" that sets goals) makes the list items under it plans
    ("- Giao quân đạt 100% chỉ tiêu"), until a paragraph that is not a list item.
    """
    kinds = []
    paragraph, in_plan, section_plan = -1, False, False
    flags = plan_flags(doc, meta.plan_year)
    headings = sorted(
        (a, _is_plan_heading(doc.folded[a:b], meta.plan_year))
        for a, b, kind in doc.boilerplate
        if kind in ("heading", "caption")
    )
    h = 0
    for s, plan in zip(doc.sentences, flags, strict=True):
        while h < len(headings) and headings[h][0] < s.start:
            section_plan = headings[h][1]
            h += 1
        if s.paragraph != paragraph:
            paragraph, in_plan = s.paragraph, False
            if doc.text[s.start : s.start + 1] not in _LIST_MARKS:
                section_plan = False
        if plan:
            in_plan = True
        elif in_plan and _RESULT_OPENING.match(doc.folded[s.start : min(s.end, s.start + 80)]):
            in_plan = False  # (the opening is only read when it can end a plan)
        kinds.append("plan" if in_plan or section_plan else "result")
        if plan and doc.text[s.end - 1 : s.end] == ":":
            section_plan = True
    return kinds


_LIST_MARKS = frozenset("-+•*–")


@lru_cache(maxsize=4096)
def _is_plan_heading(folded: str, plan_year: int | None) -> bool:
    """``is_plan_sentence`` of a heading or caption, kept: the same ones ("Quang cảnh hội
    nghị", "Phương hướng, nhiệm vụ năm 2024") come back report after report."""
    return is_plan_sentence(folded, plan_year)


def clause_bounds(folded: str, sentence: Sentence, pos: int) -> tuple[int, int]:
    """The clause of ``pos``: the part of its sentence between semicolons."""
    start = folded.rfind(";", sentence.start, pos)
    end = folded.find(";", pos, sentence.end)
    return (start + 1 if start >= 0 else sentence.start), (end if end >= 0 else sentence.end)


# "đảng viên nhập ngũ chiếm 1,66% (trong đó đảng viên chính thức chiếm 1,55%)": a figure after
# "trong đó" / "gồm" right behind another one is a part of it, not a second value of the same
# indicator; it stays in facts.csv as "other" rather than being summed or averaged with it
_BREAKDOWN = re.compile(r"(?:^|[\s(,;:])(?:trong đó|bao gồm|gồm có|gồm)(?![\p{L}])")


def match_indicator(
    unit: str, noun: str, before: str, clause: str, catalog: tuple[Indicator, ...]
) -> Indicator | None:
    """The first indicator of ``catalog`` whose every given pattern matches (folded inputs)."""
    candidates = (
        _candidates(unit, noun) if catalog is indicators() else _select(unit, noun, catalog)
    )
    for indicator, p in candidates:
        if p.before and not p.before.search(before):
            continue
        if p.clause and not p.clause.search(clause):
            continue
        return indicator
    return None


@lru_cache(maxsize=8192)
def _candidates(unit: str, noun: str) -> tuple[tuple[Indicator, Pattern], ...]:
    """``_select`` on the project's catalog, cached: units and noun phrases repeat across
    reports ("xã", "tập thể", "lượt"), so a fact only runs the context parts (before,
    clause) of the few patterns that accept its unit and noun."""
    return _select(unit, noun, indicators())


def _select(
    unit: str, noun: str, catalog: tuple[Indicator, ...]
) -> tuple[tuple[Indicator, Pattern], ...]:
    """The patterns whose unit and noun parts accept ``unit`` and ``noun``, in catalog order."""
    out = []
    for indicator in catalog:
        for p in indicator.patterns:
            if p.unit and not p.unit.search(unit):
                continue
            if p.noun and not p.noun.search(noun):
                continue
            out.append((indicator, p))
    return tuple(out)


@cache
def _abbreviation_re() -> re.Pattern[str]:
    table = abbreviations()
    pattern = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
    return re.compile(rf"(?<![\p{{L}}])(?:{pattern})(?![\p{{L}}])")


def expand_abbreviations(text: str) -> str:
    """Spell out report abbreviations for labels, from ``tasks/data/abbreviations.yaml``.

    "chỉ tiêu QPAN" -> "chỉ tiêu quốc phòng - an ninh"; "Bộ CHQS tỉnh" -> "Bộ Chỉ huy Quân sự
    tỉnh". Only upper-case abbreviations are listed, so ordinary words are never touched.
    """
    # ``islower`` (C speed) settles most labels: all cased letters lower case, so no capital
    if text.islower():
        return text
    return _expand_capitals(text)


@lru_cache(maxsize=8192)
def _expand_capitals(text: str) -> str:
    """``expand_abbreviations`` of a label that is not all lower case, kept: the same noun
    phrases ("lượt cán bộ, chiến sĩ", "DQTV") come back report after report."""
    if not any(c.isupper() for c in text):
        return text
    table = abbreviations()
    return _abbreviation_re().sub(lambda m: table[m.group()], text)


def fact_id(doc_id: str, sentence: str, offset_in_sentence: int) -> str:
    """A stable id: the same figure of the same sentence keeps its id when other text changes."""
    return fact_ids(doc_id, sentence, [offset_in_sentence])[0]


def fact_ids(doc_id: str, sentence: str, offsets: list[int]) -> list[str]:
    """``fact_id`` of several figures of one sentence, hashing the document and sentence once
    (sha1 goes on from a copy of its state: the same digests)."""
    head = hashlib.sha1(f"{doc_id}|{sentence}|".encode())
    out = []
    for offset in offsets:
        h = head.copy()
        h.update(str(offset).encode())
        out.append(h.hexdigest()[:12])
    return out


# verbs and qualifiers between a subject and its figure: "chiếm", "đạt", "với tổng kinh phí gần"
_LABEL_TRAILERS = frozenset(
    {"chiếm", "đạt", "là", "được", "với", "tổng", "gần", "hơn", "khoảng", "trên", "vượt", "có"}
)


def _label(
    doc: NormalizedDoc, mention: Mention, before_text: str, previous: Mention | None = None
) -> str:
    if mention.noun_phrase:
        return expand_abbreviations(mention.noun_phrase)
    # "187 người, chiếm 12,47%": a share right after a count is the share of that count
    if (
        mention.unit == "%"
        and previous is not None
        and previous.noun_phrase
        and len(before_text) <= 20
    ):
        return expand_abbreviations(f"{previous.noun_phrase} (tỷ lệ)")
    # "đảng viên nhập ngũ chiếm 1,66%": the subject before the verb says what is counted
    clause = _LABEL_SPLIT.split(before_text)[-1]
    clause = _IN_WHICH.sub("", clause)
    words = clause.split()
    while words and fold(words[-1]) in _LABEL_TRAILERS:
        words.pop()
    return expand_abbreviations(" ".join(words[-8:]))


_DIGIT = re.compile(r"\d")
_LABEL_SPLIT = re.compile(r"[,;(]")
_IN_WHICH = re.compile(r"(?i)^\s*trong đó\s+")
_VAGUE_TAIL = re.compile(r"[^,;.]{0,40}")


def extract_doc(doc: NormalizedDoc) -> Extraction:
    """Extract the metadata, the facts and the vague amounts of one document."""
    meta = read_meta(doc)
    catalog = indicators()
    facts: list[Fact] = []
    vague: list[VagueAmount] = []
    per_sentence = read_sentences(doc.text, doc.folded, doc.sentences)
    kinds = sentence_kinds(doc, meta)
    for sentence, kind, mentions in zip(doc.sentences, kinds, per_sentence, strict=True):
        previous_end = sentence.start
        previous: Mention | None = None
        # a figure spelled out in a sentence without a digit ("Tổ chức hai lớp tập huấn.")
        # cannot be checked against the source by its figure: the fact table promises
        # sentences that do, so such a sentence gives no fact (its words stay in the text)
        if not mentions:
            continue
        # (a figure written in digits settles it without a search: most sentences)
        checkable = (
            doc.text[mentions[0].start].isdigit()
            or _DIGIT.search(doc.text, sentence.start, sentence.end) is not None
        )
        if not checkable:
            continue
        text = doc.text[sentence.start : sentence.end]
        ids = fact_ids(doc.doc_id, text, [m.start - sentence.start for m in mentions])
        for mention, mention_id in zip(mentions, ids, strict=True):
            c_start, c_end = clause_bounds(doc.folded, sentence, mention.start)
            before_from = max(previous_end, c_start)
            before = doc.folded[before_from : mention.start]
            indicator = (
                None
                if previous is not None and _BREAKDOWN.search(before)
                else match_indicator(
                    fold(mention.unit),
                    fold(mention.noun_phrase),
                    before,
                    doc.folded[c_start:c_end],
                    catalog,
                )
            )
            facts.append(
                Fact(
                    doc_id=doc.doc_id,
                    value=mention.value,
                    unit=mention.unit,
                    start=mention.start,
                    end=mention.end,
                    sentence_start=sentence.start,
                    sentence_end=sentence.end,
                    noun_phrase=mention.noun_phrase,
                    label=_label(doc, mention, doc.text[before_from : mention.start], previous),
                    denominator=mention.denominator,
                    value_max=mention.value_max,
                    qualifier=mention.qualifier,
                    kind=kind,
                    indicator=indicator.key if indicator else "other",
                    fact_id=mention_id,
                )
            )
            previous_end, previous = mention.end, mention
    for i, a, b in vague_in_sentences(doc.folded, doc.sentences):
        tail = _VAGUE_TAIL.match(doc.text, b, doc.sentences[i].end)
        phrase = doc.text[a:b] + (tail.group() if tail else "")
        vague.append(VagueAmount(doc.doc_id, phrase.strip(), a, b))
    status = "ok" if facts else "no facts"
    return Extraction(doc=doc, meta=meta, facts=tuple(facts), vague=tuple(vague), status=status)


def extract_docs(docs: list[NormalizedDoc]) -> list[Extraction]:
    """Extract a batch of documents (one task run per batch)."""
    return [extract_doc(doc) for doc in docs]
