"""Typed records that flow between the stages, and the output column names.

ingest -> ``SourceDoc`` (or ``Quarantined``) -> normalize -> ``NormalizedDoc`` -> extract ->
``Extraction`` (``DocMeta`` + ``Fact``s) -> aggregate (pandas from here on) -> render.

Column names of the CSV outputs live here, in one place, so that the writers, the aggregation
and the tests agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Columns of ``facts.csv`` in order (see issue 2; ``fact_id`` is stable across runs).
FACT_COLUMNS: tuple[str, ...] = (
    "fact_id",
    "doc_id",
    "indicator",
    "label",
    "value",
    "value_max",
    "unit",
    "denominator",
    "qualifier",
    "kind",
    "year",
    "province",
    "sentence",
    "start",
    "end",
    "noun_phrase",
)

#: Columns of ``documents.csv`` in order.
DOCUMENT_COLUMNS: tuple[str, ...] = (
    "doc_id",
    "source",
    "title",
    "year",
    "plan_year",
    "period_start",
    "period_end",
    "province",
    "province_reason",
    "military_region",
    "conference_date",
    "chair",
    "attendees",
    "organiser",
    "n_facts",
    "status",
)

QUARANTINE_COLUMNS: tuple[str, ...] = ("source", "reason")


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """A readable source, decoded to text.

    Attributes:
        doc_id: the source file name without its extension (unique within a run);
            "<zip stem>/<member stem>" for an archive member, "<stem>#<n>" for the n-th
            record of a JSON export.
        source: the path of the file relative to the source folder (for the sources annex);
            "a.zip/b.docx" for a member, "feed.jsonl#3" for a record.
        text: the decoded text, as read (no normalisation yet).
        title: a title given by the container (HTML <title>, JSON "title"), or "".
        meta: per-file metadata from ``manifest.csv`` or the container (province, url, published).
        content_hash: sha256 of the decoded text, to detect duplicates and changes.
    """

    doc_id: str
    source: str
    text: str
    title: str = ""
    meta: tuple[tuple[str, str], ...] = ()
    content_hash: str = ""

    def meta_value(self, key: str) -> str:
        """Return one metadata value, or "" when the source has none."""
        return dict(self.meta).get(key, "")


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A file that could not be used, with a reason a user can act on."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of the normalised text: ``text[start:end]``; ``paragraph`` counts from 0."""

    start: int
    end: int
    paragraph: int


@dataclass(frozen=True, slots=True)
class NormalizedDoc:
    """A source after normalisation.

    Attributes:
        doc_id, source, title, meta: carried from ``SourceDoc``.
        text: the normalised text (NFC, whitespace tidied); every offset points into it.
        folded: a same-length view of ``text`` for matching (lower case, one tone-mark placement,
            plain quotes and dashes); ``folded[i]`` stands for ``text[i]``.
        sentences: the analysed sentences, in order; boilerplate (captions, bylines, stamps) is
            not among them but stays in ``text``.
        boilerplate: the spans left out of the analysis, with what they are.
    """

    doc_id: str
    source: str
    title: str
    text: str
    folded: str
    sentences: tuple[Sentence, ...]
    boilerplate: tuple[tuple[int, int, str], ...] = ()
    meta: tuple[tuple[str, str], ...] = ()

    def meta_value(self, key: str) -> str:
        """Return one metadata value, or "" when the source has none."""
        return dict(self.meta).get(key, "")


@dataclass(frozen=True, slots=True)
class Fact:
    """One figure of a report, tied to the sentence it came from.

    Attributes:
        doc_id: the document it came from.
        value: the number, scaled ("gần 200 triệu đồng" -> 200000000.0).
        value_max: the upper end of a range ("25-30%" -> value 25, value_max 30), else None.
        unit: "%", "đồng" or the head of the counted noun ("mô hình", "lượt cán bộ").
        denominator: b of "a/b" ("319/411 xã" -> 411), else None.
        qualifier: hơn, gần, khoảng, trên, … as written, lower case, else "".
        kind: "result" (of the period reviewed) or "plan" (a target for the next).
        noun_phrase: the counted noun phrase as written after the number.
        label: a short description: what is counted, with the verb before it where it helps.
        indicator: the catalog key, or "other".
        start, end: offsets of the number in the normalised text.
        sentence_start, sentence_end: offsets of its sentence.
    """

    doc_id: str
    value: float
    unit: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    noun_phrase: str = ""
    label: str = ""
    denominator: float | None = None
    value_max: float | None = None
    qualifier: str = ""
    kind: str = "result"
    indicator: str = "other"
    fact_id: str = ""


@dataclass(frozen=True, slots=True)
class VagueAmount:
    """An amount without a figure ("hàng chục nghìn ngày công"): flagged, never turned into one."""

    doc_id: str
    phrase: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DocMeta:
    """What a document says about itself.

    Attributes:
        year: the year reviewed (the last year of a multi-year period), else None.
        plan_year: the year the plan part is for, else None.
        period_start, period_end: the years of a multi-year review ("giai đoạn 2016 - 2020").
        province: the province named by the text, its byline or the manifest; "" when unknown.
        province_reason: how the province was found, or why it stays unknown.
        military_region: "4" for "Quân khu 4", "" when none is named.
        conference_date: ISO date, "" when the text does not say it safely.
        chairs: the people who chaired, in text order.
        attendees: "name - title" of the people said to attend.
        organiser: the body that held the conference, when the text names it.
        directions: sentences that set tasks for the next period.
    """

    doc_id: str
    title: str = ""
    year: int | None = None
    plan_year: int | None = None
    period_start: int | None = None
    period_end: int | None = None
    province: str = ""
    province_reason: str = ""
    military_region: str = ""
    conference_date: str = ""
    chairs: tuple[str, ...] = ()
    attendees: tuple[str, ...] = ()
    organiser: str = ""
    directions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Extraction:
    """The result of extracting one document."""

    doc: NormalizedDoc
    meta: DocMeta
    facts: tuple[Fact, ...] = ()
    vague: tuple[VagueAmount, ...] = ()
    status: str = "ok"


@dataclass(slots=True)
class IngestResult:
    """What ingest gives the flow: the readable sources and the quarantine list."""

    sources: list[SourceDoc] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    # (source, duplicate of, kind): kind "exact" (same text) or "near" (same report, syndicated)
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)
