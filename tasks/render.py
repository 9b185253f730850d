"""Render stage: DataFrames -> the Word briefing and the CSV outputs, written atomically.

``build_context`` is pure: it turns the frames into the dict the template asks for, with every
figure in Vietnamese format ("3.340", "1,66%", "~ 200 triệu đồng") and numbered in the sources
annex. ``render_docx`` fills a docxtpl template in a jinja2 sandbox with autoescaping and
strict undefined variables, and returns bytes that are the same for the same inputs (fixed
core properties, fixed zip timestamps).
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from jinja2.sandbox import SandboxedEnvironment
from prefect import task

from tasks.aggregate import BriefingInput
from tasks.catalog import indicator_by_key

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "report_templates"
FIXED_TIME = datetime(2000, 1, 1)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: How a qualifier shows before a figure in the tables.
QUALIFIER_SIGNS = {
    "hơn": "> ",
    "trên": "> ",
    "vượt": "> ",
    "lên tới": "≤ ",
    "tới": "≤ ",
    "gần": "~ ",
    "khoảng": "~ ",
    "ước": "~ ",
    "ước đạt": "~ ",
    "xấp xỉ": "~ ",
    "trên dưới": "~ ",
    "gần như": "~ ",
}

TEXT = {
    "vi": {
        "title": "Tổng hợp kết quả công tác quốc phòng, quân sự địa phương",
        "unknown": "chưa xác định",
        "coverage": "Báo cáo tổng hợp {n} văn bản{provinces}{years}.",
        "provinces": " của {n} địa phương ({names})",
        "no_province": " (chưa xác định địa phương)",
        "years": ", các năm {years}",
        "headline": "{label}: {series}.",
        "scope": "(Tổng hợp từ {n} văn bản; {years})",
        "result": "kết quả",
        "plan": "kế hoạch",
        "quarantined": "{source}: {reason}",
        "unknown_doc": "{doc_id}: {what}",
        "no_year": "chưa xác định năm",
        "no_prov": "chưa xác định địa phương ({reason})",
        "province_table": "Theo địa phương: {label}",
        "chart": "Biểu đồ {n}. {label} ({unit})",
        "duplicate": "{source} trùng với {original}",
    },
    "en": {
        "title": "Consolidated results of local defence and military work",
        "unknown": "unknown",
        "coverage": "This briefing consolidates {n} documents{provinces}{years}.",
        "provinces": " from {n} provinces ({names})",
        "no_province": " (province unknown)",
        "years": ", years {years}",
        "headline": "{label}: {series}.",
        "scope": "(From {n} documents; {years})",
        "result": "result",
        "plan": "plan",
        "quarantined": "{source}: {reason}",
        "unknown_doc": "{doc_id}: {what}",
        "no_year": "year unknown",
        "no_prov": "province unknown ({reason})",
        "province_table": "By province: {label}",
        "chart": "Chart {n}. {label} ({unit})",
        "duplicate": "{source} duplicates {original}",
    },
}


# --- numbers in Vietnamese ----------------------------------------------------------------


def format_number(value: float, decimals: int = 2) -> str:
    """Vietnamese number format: "." for thousands, "," for decimals, no trailing zeros.

    >>> format_number(3340), format_number(1.66), format_number(21000.5)
    ('3.340', '1,66', '21.000,5')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:,.{decimals}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    whole = whole.replace(",", ".")
    return f"{whole},{frac}" if frac else whole


def format_money(value: float) -> str:
    """Money in đồng with its scale word: 200000000 -> "200 triệu", 11400000000 -> "11,4 tỷ"."""
    for scale, word in ((1e9, "tỷ"), (1e6, "triệu")):
        if abs(value) >= scale:
            return f"{format_number(value / scale)} {word}"
    return format_number(value)


def format_value(value: float, unit: str, qualifier: str = "", with_unit: bool = False) -> str:
    """A figure as the briefing prints it: "> 21.000", "~ 200 triệu", "1,66%"."""
    sign = QUALIFIER_SIGNS.get(qualifier, "")
    if unit == "%":
        return f"{sign}{format_number(value)}%"
    if unit == "đồng":
        return f"{sign}{format_money(value)}" + (" đồng" if with_unit else "")
    return f"{sign}{format_number(value)}" + (f" {unit}" if with_unit and unit else "")


def format_change(previous: float, current: float, unit: str) -> str:
    """Change against the previous year with an arrow: "↑ 3.185 (+2.054,8%)"."""
    delta = current - previous
    arrow = "↑" if delta > 0 else ("↓" if delta < 0 else "→")
    if unit == "%":
        return f"{arrow} {format_number(abs(delta))} điểm %"
    pct = (
        f" ({'+' if delta >= 0 else '-'}{format_number(abs(delta) / previous * 100, 1)}%)"
        if previous
        else ""
    )
    amount = format_money(abs(delta)) if unit == "đồng" else format_number(abs(delta))
    return f"{arrow} {amount}{pct}"


# --- context -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """The issuing office, from the config file (see ``tonghop/config.py``)."""

    parent_body: str = "QUÂN KHU"
    issuing_body: str = "BỘ CHỈ HUY QUÂN SỰ TỈNH"
    number: str = "      /BC-BCH"
    place: str = "……"
    signer_title: str = "CHỈ HUY TRƯỞNG"
    signer_name: str = ""
    recipients: tuple[str, ...] = ("Như trên;", "Lưu: VT, TM.")
    issue_date: str = ""  # ISO; empty: the latest conference date of the sources


def _place_date(org: Organisation, iso: str, lang: str) -> str:
    if not iso:
        return f"{org.place}, ngày … tháng … năm …" if lang == "vi" else f"{org.place}, …"
    d = datetime.fromisoformat(iso)
    if lang == "en":
        return f"{org.place}, {d.strftime('%d %B %Y')}"
    # Decree 30: a leading zero for days below 10 and for months 1 and 2
    month = f"{d.month:02d}" if d.month <= 2 else str(d.month)
    return f"{org.place}, ngày {d.day:02d} tháng {month} năm {d.year}"


def _year_span(years: list[int]) -> str:
    if not years:
        return "—"
    return str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"


def _label(row: pd.Series, lang: str) -> str:
    return str(row["label_vi"] if lang == "vi" else row["label_en"])


def build_context(
    data: BriefingInput,
    org: Organisation,
    lang: str = "vi",
    charts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The template context: every value the templates ask for, in display form.

    Figures in the comparison tables carry "[n]", their number in the sources annex.
    """
    t = TEXT[lang]
    docs = data.documents
    comp = data.comparison
    facts = data.facts.set_index("fact_id", drop=False) if not data.facts.empty else data.facts
    years = sorted(int(y) for y in comp["year"].unique()) if not comp.empty else []
    doc_years = sorted(int(y) for y in docs["year"].dropna().unique())
    provinces = sorted(p for p in docs["province"].fillna("").unique() if p)

    trace: list[dict[str, Any]] = []
    trace_no: dict[str, int] = {}

    def cite(fact_ids: list[str]) -> str:
        numbers = []
        for fid in fact_ids:
            if fid not in trace_no:
                f = facts.loc[fid]
                trace_no[fid] = len(trace) + 1
                trace.append(
                    {
                        "n": trace_no[fid],
                        "doc": f["doc_id"],
                        "value": format_value(f["value"], f["unit"], f["qualifier"], with_unit=True)
                        + (
                            f"/{format_number(f['denominator'])}"
                            if pd.notna(f["denominator"])
                            else ""
                        ),
                        "sentence": f["sentence"],
                    }
                )
            numbers.append(str(trace_no[fid]))
        return "[" + ", ".join(numbers) + "]"

    table = _table_rows(comp, years, lang, cite)
    summary = [_coverage(t, len(docs), provinces, doc_years)]
    summary += _headlines(comp, lang)

    conferences = _conferences(data, lang)
    issue = org.issue_date or max((d for d in docs["conference_date"].fillna("") if d), default="")
    province_tables = _province_tables(data, lang, cite) if len(provinces) > 1 else []
    context = {
        "org": {
            "parent_body": org.parent_body,
            "issuing_body": org.issuing_body,
            "number": org.number,
            "place_date": _place_date(org, issue, lang),
            "signer_title": org.signer_title,
            "signer_name": org.signer_name,
            "recipients": list(org.recipients),
        },
        "title": t["title"].upper(),
        "scope": t["scope"].format(n=len(docs), years=_year_span(doc_years)),
        "summary": summary,
        "years": [str(y) for y in years],
        "table": table,
        "province_tables": province_tables,
        "plans": _plans(data, lang),
        "charts": charts or [],
        "conferences": conferences,
        "trace": trace,
        "sources": [
            {"n": i + 1, "doc_id": r.doc_id, "source": r.source, "title": r.title or "—"}
            for i, r in enumerate(docs.itertuples())
        ],
        "quality": _quality(data, lang),
    }
    return context


def _table_rows(comp: pd.DataFrame, years: list[int], lang: str, cite) -> list[dict[str, Any]]:
    rows = []
    order = {k: i for i, k in enumerate(indicator_by_key())}
    for key, group in sorted(comp.groupby("indicator"), key=lambda kv: order.get(kv[0], 10**6)):
        by_year = {int(r["year"]): r for _, r in group.iterrows()}
        first = group.iloc[0]
        cells = []
        for y in years:
            r = by_year.get(y)
            cells.append(
                f"{format_value(r['value'], r['unit'], r['qualifier'])} {cite(r['fact_ids'])}"
                if r is not None
                else "—"
            )
        known = [y for y in years if y in by_year]
        change = ""
        if len(known) >= 2:
            a, b = by_year[known[-2]], by_year[known[-1]]
            change = format_change(a["value"], b["value"], first["unit"])
        rows.append(
            {
                "key": key,
                "label": _label(first, lang),
                "unit": first["unit"],
                "cells": cells,
                "change": change,
            }
        )
    return rows


def _coverage(t: dict[str, str], n: int, provinces: list[str], years: list[int]) -> str:
    where = (
        t["provinces"].format(n=len(provinces), names=", ".join(provinces))
        if provinces
        else t["no_province"]
    )
    when = t["years"].format(years=", ".join(map(str, years))) if years else ""
    return t["coverage"].format(n=n, provinces=where, years=when)


def _headlines(comp: pd.DataFrame, lang: str) -> list[str]:
    """ "Mô hình Dân vận khéo xây dựng mới: 155 (2017) → 3.340 (2023)." for each indicator
    with figures in two or more years."""
    out = []
    order = {k: i for i, k in enumerate(indicator_by_key())}
    for _, unsorted in sorted(comp.groupby("indicator"), key=lambda kv: order.get(kv[0], 10**6)):
        if unsorted["year"].nunique() < 2:
            continue
        group = unsorted.sort_values("year")
        series = " → ".join(
            f"{format_value(r['value'], r['unit'], r['qualifier'])} ({int(r['year'])})"
            for _, r in group.iterrows()
        )
        out.append(TEXT[lang]["headline"].format(label=_label(group.iloc[0], lang), series=series))
    return out


def _province_tables(data: BriefingInput, lang: str, cite) -> list[dict[str, Any]]:
    facts = data.facts
    usable = facts[
        (facts["kind"] == "result")
        & (facts["indicator"] != "other")
        & facts["year"].notna()
        & (facts["province"].fillna("") != "")
    ]
    out = []
    catalog = indicator_by_key()
    for key, group in usable.groupby("indicator", sort=False):
        indicator = catalog[str(key)]
        years = sorted(int(y) for y in group["year"].unique())
        rows = []
        for prov, pg in group.groupby("province", sort=True):
            cells = []
            for y in years:
                yg = pg[pg["year"] == y]
                if yg.empty:
                    cells.append("—")
                    continue
                value = (
                    yg["value"].mean()
                    if indicator.agg == "mean"
                    else (yg["value"].iloc[-1] if indicator.agg == "latest" else yg["value"].sum())
                )
                cells.append(f"{format_value(value, indicator.unit)} {cite(list(yg['fact_id']))}")
            rows.append({"label": prov, "unit": indicator.unit, "cells": cells, "change": ""})
        label = indicator.label_vi if lang == "vi" else indicator.label_en
        out.append(
            {
                "title": TEXT[lang]["province_table"].format(label=label),
                "years": [str(y) for y in years],
                "rows": rows,
            }
        )
    return sorted(out, key=lambda x: x["title"])


def _plans(data: BriefingInput, lang: str) -> list[dict[str, str]]:
    facts = data.facts
    plans = facts[facts["kind"] == "plan"]
    catalog = indicator_by_key()
    out = []
    for _, f in plans.iterrows():
        ind = catalog.get(f["indicator"])
        label = (ind.label_vi if lang == "vi" else ind.label_en) if ind else f["label"]
        out.append(
            {
                "doc": f["doc_id"],
                "label": label,
                "value": format_value(f["value"], f["unit"], f["qualifier"], with_unit=True),
            }
        )
    return out


def _fmt_date(iso: str, lang: str) -> str:
    if not iso:
        return TEXT[lang]["unknown"]
    d = datetime.fromisoformat(iso)
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _conferences(data: BriefingInput, lang: str) -> list[dict[str, Any]]:
    t = TEXT[lang]
    out = []
    docs = data.documents.assign(_y=data.documents["year"].fillna(0))
    for _, d in docs.sort_values(
        ["_y", "conference_date", "doc_id"], na_position="first"
    ).iterrows():
        facts = data.facts[data.facts["doc_id"] == d["doc_id"]]
        lines = []
        for _, f in facts.iterrows():
            value = format_value(f["value"], f["unit"], f["qualifier"], with_unit=False)
            if pd.notna(f["denominator"]):
                value += f"/{format_number(f['denominator'])}"
            unit = "" if f["unit"] == "%" else (" " + f["unit"] if f["unit"] else "")
            kind = t["plan"] if f["kind"] == "plan" else t["result"]
            lines.append(f"{value}{unit}: {f['label']} ({kind})")
        year = "" if pd.isna(d["year"]) else f" ({int(d['year'])})"
        heading = (d["title"] or d["doc_id"]) + year
        out.append(
            {
                "heading": heading,
                "date": _fmt_date(d["conference_date"], lang),
                "province": d["province"] or t["unknown"],
                "chair": d["chair"] or t["unknown"],
                "attendees": d["attendees"] or t["unknown"],
                "facts": lines,
                "directions": [s for s in str(d.get("directions", "") or "").split("\n") if s],
            }
        )
    return out


def _quality(data: BriefingInput, lang: str) -> dict[str, list[str]]:
    t = TEXT[lang]
    unknown = []
    for _, d in data.documents.iterrows():
        if pd.isna(d["year"]):
            unknown.append(t["unknown_doc"].format(doc_id=d["doc_id"], what=t["no_year"]))
        if not d["province"]:
            unknown.append(
                t["unknown_doc"].format(
                    doc_id=d["doc_id"], what=t["no_prov"].format(reason=d["province_reason"])
                )
            )
    other = data.facts[data.facts["indicator"] == "other"]
    return {
        "quarantine": [
            t["quarantined"].format(source=r.source, reason=r.reason)
            for r in data.quarantine.itertuples()
        ],
        "duplicates": [t["duplicate"].format(source=a, original=b) for a, b, *_ in data.duplicates],
        "unknown": unknown,
        "other": [
            f"{r.doc_id}: {format_value(r.value, r.unit, r.qualifier, with_unit=True)}"
            f" — {r.noun_phrase or r.label}"
            for r in other.itertuples()
        ],
        "vague": [f"{doc_id}: {phrase}" for doc_id, phrase in data.vague],
    }


# --- charts ------------------------------------------------------------------------------------


def chart_pngs(comp: pd.DataFrame, lang: str, limit: int = 8) -> list[tuple[str, bytes]]:
    """PNG line charts for indicators with figures in two or more years (most years first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[tuple[str, bytes]] = []
    if comp.empty:
        return out
    counts = comp.groupby("indicator")["year"].nunique()
    keys = sorted((k for k, n in counts.items() if n >= 2), key=lambda k: (-counts[k], k))
    for i, key in enumerate(keys[:limit], start=1):
        group = comp[comp["indicator"] == key].sort_values("year")
        first = group.iloc[0]
        fig, ax = plt.subplots(figsize=(6, 2.8), dpi=110)
        ax.plot(group["year"].astype(int), group["value"], marker="o", color="#1f3b73")
        for x, y in zip(group["year"].astype(int), group["value"], strict=True):
            ax.annotate(
                format_value(y, first["unit"]),
                (x, y),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(list(group["year"].astype(int)))
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        plt.close(fig)
        caption = TEXT[lang]["chart"].format(n=i, label=_label(first, lang), unit=first["unit"])
        out.append((caption, buf.getvalue()))
    return out


# --- docx --------------------------------------------------------------------------------------


class TemplateError(ValueError):
    """A template that cannot be filled; the message names what is wrong."""


def default_template(lang: str) -> Path:
    """The bundled template for a language."""
    return TEMPLATES_DIR / f"briefing_{lang}.docx"


def render_docx(
    template: Path, context: dict[str, Any], charts: list[tuple[str, bytes]] | None = None
) -> bytes:
    """Fill ``template`` with ``context``; return deterministic DOCX bytes.

    Raises:
        TemplateError: when the template is missing or asks for a value the context lacks.
    """
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage

    if not template.is_file():
        raise TemplateError(f"template not found: {template}")
    tpl = DocxTemplate(str(template))
    context = dict(context)
    context["charts"] = [
        {"image": InlineImage(tpl, io.BytesIO(png), width=Mm(150)), "caption": caption}
        for caption, png in (charts or [])
    ]
    env = SandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)
    try:
        tpl.render(context, env, autoescape=True)
    except jinja2.UndefinedError as err:
        raise TemplateError(
            f"template {template.name} asks for a value the data do not provide: {err.message}"
        ) from err
    except jinja2.TemplateError as err:
        raise TemplateError(f"template {template.name} is not valid: {err}") from err
    props = tpl.docx.core_properties
    props.created = props.modified = props.last_printed = FIXED_TIME
    props.revision = 1
    props.author = props.last_modified_by = "tonghop"
    props.title = str(context.get("title", ""))
    buf = io.BytesIO()
    tpl.save(buf)
    return stable_zip(buf.getvalue())


def stable_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps and attributes, so equal content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# --- files -------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename,
    so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes (with a BOM, so that Excel reads Vietnamese right)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


@dataclass(frozen=True)
class RenderResult:
    """The files the render stage wrote."""

    briefing: Path
    facts: Path
    documents: Path
    quarantine: Path


def render_outputs(
    data: BriefingInput,
    out: Path,
    org: Organisation,
    lang: str = "vi",
    template: Path | None = None,
) -> RenderResult:
    """Write facts.csv, documents.csv, quarantine.csv and briefing.docx into ``out``."""
    charts = chart_pngs(data.comparison, lang)
    context = build_context(data, org, lang)
    docx = render_docx(template or default_template(lang), context, charts)
    docs = data.documents.drop(columns=["directions"], errors="ignore")
    return RenderResult(
        facts=write_atomic(out / "facts.csv", csv_bytes(data.facts)),
        documents=write_atomic(out / "documents.csv", csv_bytes(docs)),
        quarantine=write_atomic(out / "quarantine.csv", csv_bytes(data.quarantine)),
        briefing=write_atomic(out / "briefing.docx", docx),
    )


@task(name="render")
def render_task(
    data: BriefingInput,
    out: Path,
    org: Organisation,
    lang: str = "vi",
    template: Path | None = None,
) -> RenderResult:
    """Prefect wrapper of ``render_outputs``."""
    return render_outputs(data, out, org, lang, template)
