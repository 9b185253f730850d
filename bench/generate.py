"""Synthetic reports for the benchmark: Vietnamese newspaper reports of year-end conferences.

    python bench/generate.py --n 10000 --out /tmp/bench-10k [--seed 1] [--gold DIR]

Every report is built from the grammar in ``bench/grammar.yaml`` (sentence frames with slots),
never copied from the seeds: a province (the 63 old names up to 2024, the 34 units of the
July 2025 merger for 2025), a year 2009-2025, a province or district organiser, a kind of
conference (year-end review, mass mobilisation, coordination programme, recruitment, 5- and
10-year reviews), the chair and attendees, result sentences that carry the facts, filler prose,
distractors that must not become facts ("Sáng 27.11", "Chỉ thị số 21", "Quân khu 4",
"giai đoạn 2016 - 2020", "qua 5 năm"), photo captions and a byline.

With ``--gold`` a YAML annotation per report is written in the format of
``../shared/eval/gold`` (doc_id, year, period, province, chair, facts with value, denominator,
unit, qualifier, value_base for money), so that ``score.py`` can score extraction on it.

Report ``i`` of seed ``s`` depends only on ``(s, i)`` (``random.Random(f"{s}:{i}")``): the
first 1,000 reports of a 10,000 run are the 1,000 of a 1,000 run, and a run is reproducible.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = Path(__file__).resolve().parent / "grammar.yaml"
DATA = ROOT / "tasks" / "data"
FIRST_YEAR, LAST_YEAR = 2009, 2025
#: From this year the report is written after the 1 July 2025 merger: 34 provincial units and
#: no district level (the districts were abolished with it).
MERGER_YEAR = 2025

# --- the frame language ------------------------------------------------------------------------
# A parsed frame is a sequence of nodes: a str (text), ("slot", name) or ("alt", [seq, ...]).

Node = Any
Seq = list[Node]


def parse_frame(frame: str) -> Seq:
    """Parse a frame: ``[a|b]`` alternatives (nested), ``{name}`` slots, the rest is text.

    >>> parse_frame("giao quân đạt {p}[ chỉ tiêu|]")
    ['giao quân đạt ', ('slot', 'p'), ('alt', [[' chỉ tiêu'], []])]

    Raises:
        ValueError: on an unbalanced bracket or brace.
    """
    seq, pos = _parse_seq(frame, 0, top=True)
    if pos != len(frame):
        raise ValueError(f"unbalanced ']' or '|' at {pos} in frame {frame!r}")
    return seq


def _parse_seq(frame: str, pos: int, top: bool) -> tuple[Seq, int]:
    seq: Seq = []
    text: list[str] = []
    while pos < len(frame):
        ch = frame[pos]
        if ch in "]|":
            if top:
                raise ValueError(f"unbalanced {ch!r} at {pos} in frame {frame!r}")
            break
        if ch == "[":
            if text:
                seq.append("".join(text))
                text = []
            alts: list[Seq] = []
            pos += 1
            while True:
                alt, pos = _parse_seq(frame, pos, top=False)
                alts.append(alt)
                if pos >= len(frame):
                    raise ValueError(f"unclosed '[' in frame {frame!r}")
                if frame[pos] == "]":
                    pos += 1
                    break
                pos += 1  # "|"
            seq.append(("alt", alts))
            continue
        if ch == "{":
            close = frame.find("}", pos)
            if close < 0:
                raise ValueError(f"unclosed '{{' in frame {frame!r}")
            if text:
                seq.append("".join(text))
                text = []
            seq.append(("slot", frame[pos + 1 : close]))
            pos = close + 1
            continue
        text.append(ch)
        pos += 1
    if text:
        seq.append("".join(text))
    return seq, pos


# --- numbers as Vietnamese reports write them ----------------------------------------------------

SPELLED = {1: "một", 2: "hai", 3: "ba", 4: "bốn", 6: "sáu", 7: "bảy", 8: "tám", 9: "chín"}


def vn_int(n: int) -> str:
    """Thousands with dots: ``3340 -> "3.340"``."""
    return f"{n:,}".replace(",", ".")


def vn_decimal(x: float, decimals: int) -> str:
    """Decimals with a comma, trailing zeros dropped: ``1.50 -> "1,5"``, ``21.0 -> "21"``."""
    text = f"{x:.{decimals}f}".rstrip("0").rstrip(".") if decimals else str(round(x))
    whole, _, frac = text.partition(".")
    return vn_int(int(whole)) + ("," + frac if frac else "")


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 6)


@dataclass
class Fact:
    """A gold fact, as score.py reads it."""

    value: float
    unit: str
    what: str
    denominator: int | None = None
    qualifier: str = ""
    value_base: float | None = None
    optional: bool = False

    def yaml(self) -> str:
        """One flow mapping, like the hand-made gold files (JSON strings are YAML strings)."""
        parts = [f"value: {_plain(self.value)}"]
        if self.denominator is not None:
            parts.append(f"denominator: {self.denominator}")
        if self.value_base is not None:
            parts.append(f"value_base: {_plain(self.value_base)}")
        parts.append(f"unit: {json.dumps(self.unit, ensure_ascii=False)}")
        if self.qualifier:
            parts.append(f"qualifier: {json.dumps(self.qualifier, ensure_ascii=False)}")
        parts.append(f"what: {json.dumps(self.what, ensure_ascii=False)}")
        if self.optional:
            parts.append("optional: true")
        return "{" + ", ".join(parts) + "}"


def render_number(
    rng: random.Random, spec: dict[str, Any], district: bool
) -> tuple[str, Fact | None]:
    """Write one number slot and the gold fact it stands for (None for a ``raw`` number)."""
    kind = spec.get("kind", "count")
    unit = str(spec.get("unit", ""))
    what = str(spec.get("what", unit))
    optional = bool(spec.get("optional", False))
    low, high = spec.get(
        "range_district" if district and "range_district" in spec else "range", [1, 9]
    )
    qualifier = rng.choice(spec["qualifier"]) if spec.get("qualifier") else ""
    lead = qualifier + " " if qualifier else ""
    if kind == "raw":
        return str(rng.choice(spec["values"]) if "values" in spec else rng.randint(low, high)), None
    if kind == "pct":
        if "values" in spec:
            value: float = float(rng.choice(spec["values"]))
            decimals = 0
        else:
            decimals = int(spec.get("decimals", 1))
            value = round(rng.uniform(low, high), decimals)
        return lead + vn_decimal(value, decimals) + "%", Fact(
            value, "%", what, None, qualifier, None, optional
        )
    if kind == "ratio":
        b = rng.randint(low, high)
        a = (
            b
            if rng.random() < float(spec.get("full", 0.0))
            else rng.randint(max(1, b * 3 // 10), max(1, b - 1))
        )
        return f"{vn_int(a)}/{vn_int(b)}", Fact(a, unit, what, b, "", None, optional)
    if kind == "money":
        if rng.random() < 0.6:
            amount = float(
                rng.randrange(30, 990, 5) if rng.random() < 0.85 else rng.randrange(1000, 9500, 50)
            )
            scale, word = 1_000_000, "triệu"
            shown = vn_int(int(amount))
        else:
            amount = round(rng.uniform(1.0, 35.0), 1 if rng.random() < 0.7 else 0)
            scale, word = 1_000_000_000, rng.choice(["tỷ", "tỷ", "tỉ"])
            shown = vn_decimal(amount, 1)
        currency = rng.choice(["đồng", "đồng", "đồng", "đ"])
        return (
            f"{lead}{shown} {word} {currency}",
            Fact(amount, "đồng", what, None, qualifier, amount * scale, optional),
        )
    n = rng.randint(low, high)
    step = int(spec.get("round", 1))
    if step > 1 and n > step * 10:
        n = n // step * step
    if n in SPELLED and rng.random() < float(spec.get("spelled", 0.0)):
        return lead + SPELLED[n], Fact(n, unit, what, None, qualifier, None, optional)
    return lead + vn_int(n), Fact(n, unit, what, None, qualifier, None, optional)


# --- the grammar and the catalog ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FactGroup:
    """A fact of the grammar: frames (per level) and the number slots they use."""

    key: str
    weight: float
    level: str
    standalone: bool
    nums: dict[str, dict[str, Any]]
    frames: dict[str, list[Seq]]  # level -> parsed frames


@dataclass(frozen=True)
class Province:
    """A province as the generator needs it: its name, Quân khu, byline codes, spellings."""

    name: str
    region: int
    kind: str
    byline_codes: tuple[str, ...]
    variants: tuple[str, ...]


@dataclass
class Grammar:
    """The parsed ``bench/grammar.yaml`` with the province and people data of ``tasks/data``."""

    raw: dict[str, Any]
    parsed: dict[str, Any]
    facts: list[FactGroup]
    old_provinces: list[Province]
    new_provinces: list[Province]
    districts: dict[str, list[str]] = field(default_factory=dict)
    by_level: dict[str, list[FactGroup]] = field(default_factory=dict)
    surnames: list[str] = field(default_factory=list)
    surname_cum: list[float] = field(default_factory=list)
    kind_names: list[str] = field(default_factory=list)
    kind_cum: list[float] = field(default_factory=list)


def _parse_tree(value: Any) -> Any:
    if isinstance(value, str):
        return parse_frame(value)
    if isinstance(value, list):
        return [_parse_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: _parse_tree(v) for k, v in value.items()}
    return value


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().replace("oà", "òa").replace("oá", "óa")


@cache
def load_grammar(path: Path = GRAMMAR) -> Grammar:
    """Read and parse the grammar once; frames are parsed to node trees here, not per report."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    keys = [
        "kinds", "doc_refs", "organisers", "leads", "when", "chair_titles", "chair_short_titles",
        "chair_frames", "attendee_titles", "attendee_frames", "attendee_count_frame",
        "result_leads", "fillers", "directions", "distractors", "captions", "military_titles",
    ]  # fmt: skip
    parsed = {k: _parse_tree(raw[k]) for k in keys}
    parsed["plans"] = [
        {
            "lead": parse_frame(p["lead"]),
            "clauses": [
                {"frame": parse_frame(c["frame"]), "nums": c["nums"]} for c in p["clauses"]
            ],
        }
        for p in raw["plans"]
    ]
    facts = []
    for key, spec in raw["facts"].items():
        frames = spec["frames"]
        by_level = (
            {lvl: [parse_frame(f) for f in fs] for lvl, fs in frames.items()}
            if isinstance(frames, dict)
            else {
                "province": [parse_frame(f) for f in frames],
                "district": [parse_frame(f) for f in frames],
            }
        )
        facts.append(
            FactGroup(
                key=key,
                weight=float(spec.get("weight", 1)),
                level=spec.get("level", "both"),
                standalone=bool(spec.get("standalone", False)),
                nums=spec.get("nums", {}),
                frames=by_level,
            )
        )
    prov_raw = yaml.safe_load((DATA / "provinces.yaml").read_text(encoding="utf-8"))["provinces"]
    old = [
        Province(
            p["name"],
            int(p["region"]),
            p.get("kind", "province"),
            tuple(p.get("byline_codes") or ()),
            tuple(p.get("variants") or ()),
        )  # fmt: skip
        for p in prov_raw
    ]
    by_name = {p.name: p for p in old}
    new_names = list(dict.fromkeys(p["merged_into"] for p in prov_raw))
    new = []
    for name in new_names:
        # a new unit keeps the Quân khu of the old province it is named after (Huế: Thừa Thiên Huế)
        base = by_name.get(name) or next(p for p in old if name in p.variants)
        new.append(Province(name, base.region, base.kind, (), ()))
    people = yaml.safe_load((DATA / "people.yaml").read_text(encoding="utf-8"))
    common = raw["common_surnames"]
    surnames = list(dict.fromkeys([*common, *people["surnames"]]))
    weights = [float(common.get(s, 0.3)) for s in surnames]
    grammar = Grammar(raw, parsed, facts, old, new, surnames=surnames)
    grammar.surname_cum = list(itertools.accumulate(weights))
    grammar.kind_names = list(raw["kinds"])
    grammar.kind_cum = list(itertools.accumulate(float(k["weight"]) for k in raw["kinds"].values()))
    grammar.districts = _districts(old, raw["district_syllables"])
    grammar.by_level = {
        lvl: [f for f in facts if f.level in ("both", lvl)] for lvl in ("province", "district")
    }
    return grammar


def _districts(provinces: list[Province], syllables: list[str]) -> dict[str, list[str]]:
    """Eight to fourteen district names per province, the same for every seed and every run."""
    taken = {_fold(p.name) for p in provinces} | {_fold(v) for p in provinces for v in p.variants}
    out: dict[str, list[str]] = {}
    for p in provinces:
        rng = random.Random(f"districts:{p.name}")
        names: list[str] = []
        while len(names) < rng.randint(8, 14):
            a, b = rng.sample(syllables, 2)
            name = f"{a} {b}"
            if _fold(name) not in taken and name not in names:
                names.append(name)
        out[p.name] = names
    return out


# --- one report --------------------------------------------------------------------------------


@dataclass
class Report:
    """A generated report: its file name stem, its text and its gold annotation."""

    doc_id: str
    text: str
    gold: dict[str, Any]
    facts: list[Fact]

    def gold_yaml(self) -> str:
        """The gold annotation in the format of ``../shared/eval/gold/*.yaml``."""
        g = self.gold
        lines = [
            f"# Gold annotation of a synthetic report, bench/generate.py ({g['origin']})",
            f"doc_id: {self.doc_id}",
            f"kind: {g['kind']}",
            f"level: {g['level']}",
            f"year: {g['year']}",
            f"period: {json.dumps(g['period'])}",
            f"province: {_y(g['province'])}",
            f"province_truth: {_y(g['province_truth'])}",
            f"military_region: {_y(g['military_region'])}",
            f"conference_date: {_y(g['conference_date'])}",
            f"chair: {json.dumps(g['chair'], ensure_ascii=False) if g['chair'] else 'null'}",
            "facts:" if self.facts else "facts: []",
            *(f"  - {f.yaml()}" for f in self.facts),
        ]
        return "\n".join(lines) + "\n"


def _y(value: Any) -> str:
    if value is None or value == "":
        return "null"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


class _Writer:
    """Renders parsed frames against a context, collecting gold facts in text order."""

    def __init__(self, rng: random.Random, ctx: dict[str, str], district: bool) -> None:
        self.rng = rng
        self.ctx = ctx
        self.district = district
        self.facts: list[Fact] = []

    def render(self, seq: Seq, nums: dict[str, dict[str, Any]] | None = None) -> str:
        out: list[str] = []
        self._walk(seq, nums or {}, out)
        return "".join(out)

    def _walk(self, seq: Seq, nums: dict[str, dict[str, Any]], out: list[str]) -> None:
        for node in seq:
            if isinstance(node, str):
                out.append(node)
            elif node[0] == "slot":
                name = node[1]
                if name in nums:
                    text, fact = render_number(self.rng, nums[name], self.district)
                    out.append(text)
                    if fact is not None:
                        self.facts.append(fact)
                else:
                    out.append(self.ctx[name])
            else:
                self._walk(self.rng.choice(node[1]), nums, out)

    def pick(self, frames: list[Seq], nums: dict[str, dict[str, Any]] | None = None) -> str:
        return self.render(self.rng.choice(frames), nums)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _new_tone(text: str) -> str:
    """Write a name with the new tone placement some papers use: "Thanh Hóa" -> "Thanh Hoá"."""
    for old, new in (("óa", "oá"), ("òa", "oà"), ("ỏa", "oả"), ("ủy", "uỷ"), ("ùy", "uỳ")):
        text = text.replace(old, new)
    return text


def _person(rng: random.Random, g: Grammar) -> str:
    surname = rng.choices(g.surnames, cum_weights=g.surname_cum)[0]
    middle = g.raw["middle_names"]
    given = g.raw["given_names"]
    roll = rng.random()
    if roll < 0.08:
        return f"{surname} {rng.choice(given)}"
    if roll < 0.2:
        return f"{surname} {rng.choice(middle)} {rng.choice(middle)} {rng.choice(given)}"
    return f"{surname} {rng.choice(middle)} {rng.choice(given)}"


def make_report(seed: int, index: int, grammar: Grammar | None = None) -> Report:
    """Generate report ``index`` of ``seed``: the text and its gold annotation.

    Args:
        seed: the corpus seed.
        index: the report's number in the corpus; report ``i`` depends only on (seed, i).
        grammar: the parsed grammar (loaded once and cached when not given).
    """
    g = grammar or load_grammar()
    p = g.parsed
    rng = random.Random(f"{seed}:{index}")
    doc_id = f"{index:06d}_{rng.getrandbits(64):016x}"

    # --- what the report is about -------------------------------------------------------------
    year = rng.randint(FIRST_YEAR, LAST_YEAR)
    kind = rng.choices(g.kind_names, cum_weights=g.kind_cum)[0]
    span_spec = g.raw["kinds"][kind]["period"]
    span = 0 if span_spec == "year" else int(span_spec)
    period = [year - span + 1 if span == 5 else year - span, year] if span else None
    merged = year >= MERGER_YEAR
    province = rng.choice(g.new_provinces if merged else g.old_provinces)
    district_level = not merged and rng.random() < 0.3
    level = "district" if district_level else "province"
    district = rng.choice(g.districts[province.name]) if district_level else ""
    city = province.kind == "city"
    tinh = "thành phố" if city else "tỉnh"
    written = province.name
    if province.variants and rng.random() < 0.15:
        written = rng.choice(province.variants)
    elif rng.random() < 0.3:
        written = _new_tone(written)
    named = rng.random() < (0.5 if district_level else 0.85)
    byline = bool(province.byline_codes) and rng.random() < 0.5

    # --- the conference day ---------------------------------------------------------------------
    if kind == "tuyen_quan":
        conf = date(year, rng.choice([3, 4, 5]), rng.randint(1, 28))
    elif rng.random() < 0.15 and year < LAST_YEAR:
        conf = date(year + 1, 1, rng.randint(2, 25))
    else:
        conf = date(year, rng.choice([11, 12, 12, 12]), rng.randint(1, 30))

    ctx: dict[str, str] = {
        "P": written,
        "D": district,
        "tinh": tinh,
        "Tinh_uy": "Thành ủy" if city else "Tỉnh ủy",
        "scope": "huyện" if district_level else tinh,
        "Y": str(year),
        "Y1": str(year + 1),
        "Ya": str(period[0]) if period else "",
        "Yb": str(year),
        "Yc": str(conf.year),
        "Yp": str(year + rng.choice([-1, 0, 1])),
        "span": str(span),
        "dd": str(conf.day),
        "mm": str(conf.month),
        "nq": str(rng.randint(1, 40)).zfill(2),
        "ct": str(rng.randint(1, 40)).zfill(2),
        "k": str(rng.randint(1, 60)),
        "div": str(rng.choice([304, 309, 312, 316, 320, 324, 330, 333, 341, 346, 355, 365, 375])),
        "m6": rng.choice(["3", "6"]),
        "dvk": rng.choice(["“Dân vận khéo”"] * 3 + ['"Dân vận khéo"', "dân vận khéo"]),
        "photo": rng.choice(g.raw["bylines"]),
        "qk": "Bộ Tư lệnh Thủ đô Hà Nội" if province.region == 0 else f"Quân khu {province.region}",
    }
    ctx["Yq"] = str(int(ctx["Yp"]) + rng.choice([2, 4]))
    w = _Writer(rng, ctx, district_level)
    # the organiser (never naming the province when the report does not)
    if district_level:
        org = w.pick(p["organisers"]["district"])
        if named:
            org += rng.choice([f" ({written})", f", {tinh} {written}"])
        ctx["org_short"] = rng.choice(["Ban CHQS huyện", "huyện", "lực lượng vũ trang huyện"])
        ctx["org_place"] = "UBND huyện"
    else:
        org = w.pick(p["organisers"]["province" if named else "province_unnamed"])
        ctx["org_short"] = rng.choice([f"Bộ CHQS {tinh}", tinh, f"lực lượng vũ trang {tinh}"])
        ctx["org_place"] = f"Bộ CHQS {tinh}"
    ctx["org"] = org
    ctx["tinhP"] = f"{tinh} {written}" if named and not district_level else tinh
    ctx["doc_ref"] = w.render(_after_year(rng, g.raw["doc_refs"], p["doc_refs"], year))
    ctx["subject"] = w.pick(p["kinds"][kind]["subject"])
    ctx["when"] = w.pick(p["when"])

    # --- people ---------------------------------------------------------------------------------
    lvl = level
    chair_mode = rng.choices(["one", "two", "none"], [0.75, 0.15, 0.10])[0]
    c1, c2 = _person(rng, g), _person(rng, g)
    while c2 == c1:
        c2 = _person(rng, g)
    ctx.update(
        c1=c1,
        c2=c2,
        c1_title=w.pick(p["chair_titles"][lvl]),
        c2_title=w.pick(p["chair_titles"][lvl]),
        c1_short=w.pick(p["chair_short_titles"][lvl]),
        c1_rank=rng.choice(g.raw["military_ranks"]),
    )
    if rng.random() < 0.3:
        # "Chủ tịch UBND tỉnh Hà Tĩnh Võ Trọng Hải": the place glued before the name
        ctx["c1_short"] = ctx["c1_short"].replace(tinh, ctx["tinhP"], 1)
    chair_frame = rng.choice(p["chair_frames"][chair_mode])
    if ("slot", "c1_rank") in chair_frame:
        ctx["c1_title"] = w.pick(p["military_titles"][lvl])
    chair_sentence = w.render(chair_frame)
    chairs = [c1, c2] if chair_mode == "two" else [c1] if chair_mode == "one" else None

    region_named = False
    attendee_sentence = ""
    if rng.random() < 0.7:
        ctx.update(
            a_rank=rng.choice(g.raw["attendee_ranks"]),
            a1=_person(rng, g),
            a2=_person(rng, g),
        )
        if district_level:
            ctx["a1_title"] = w.pick(p["military_titles"]["province"])
            ctx["a2_title"] = w.pick(p["chair_titles"]["province"])
        else:
            t1, t2 = rng.sample(p["attendee_titles"], 2)
            ctx["a1_title"], ctx["a2_title"] = w.render(t1), w.render(t2)
            region_named = province.region != 0
        attendee_sentence = w.pick(p["attendee_frames"])
    if not district_level and rng.random() < 0.12:
        count_nums = {
            "n": {
                "kind": "count",
                "range": [7, 30],
                "unit": "huyện",
                "what": "huyện dự hội nghị",
                "optional": True,
            }
        }
        attendee_sentence = (attendee_sentence + " " if attendee_sentence else "") + w.render(
            p["attendee_count_frame"], count_nums
        )

    # --- the lines of the report ----------------------------------------------------------------
    lines: list[str] = []
    head = ""
    if rng.random() < 0.15:
        head += f" date {conf.year}-{conf.month:02d} "
    if byline:
        head += f"({rng.choice(province.byline_codes)}) - "
    lead = w.pick(p["leads"])
    if not head.startswith(" date") and rng.random() < 0.35:
        lines.append(_cap(f"{org} {w.pick(p['kinds'][kind]['subject'])}"))
        if rng.random() < 0.4:
            lines.append(
                f"Cập nhật: {conf.day:02d}/{conf.month:02d}/{conf.year} "
                f"{rng.randint(6, 21):02d}:{rng.randint(0, 59):02d}"
            )
    first = head + _cap(lead)
    if rng.random() < 0.5:
        lines.append(f"{first} {chair_sentence}")
    else:
        lines += [first, chair_sentence]
    if attendee_sentence:
        lines.append(attendee_sentence)
    if rng.random() < 0.5:
        lines.append(w.pick(p["captions"]))

    fillers = rng.sample(p["fillers"], len(p["fillers"]))
    lines.append(" ".join(w.render(f) for f in fillers[: rng.randint(1, 2)]))
    del fillers[:2]

    groups = g.by_level[level]
    n_groups = rng.randint(5, 10) if not district_level else rng.randint(4, 8)
    # weighted sampling without replacement (Efraimidis-Spirakis keys: u ** (1 / weight))
    keyed = sorted(
        ((rng.random() ** (1.0 / f.weight), i) for i, f in enumerate(groups)), reverse=True
    )
    chosen = [groups[i] for _, i in keyed[:n_groups]]
    leads = p["result_leads"]["review" if span else "year"]
    standalone = [f for f in chosen if f.standalone]
    inline = [f for f in chosen if not f.standalone]
    distractors = _after_year(
        rng, g.raw["distractors"], p["distractors"], year, k=rng.randint(1, 2)
    )
    paragraph: list[str] = []
    paragraphs: list[str] = []
    while inline:
        take = min(len(inline), rng.choice([1, 1, 2, 2, 3]))
        clauses = [w.pick(f.frames[level], f.nums) for f in inline[:take]]
        del inline[:take]
        paragraph.append(_cap(w.pick(leads) + "; ".join(clauses)) + ".")
        if fillers and rng.random() < 0.45:
            paragraph.append(w.render(fillers.pop()))
        if distractors and rng.random() < 0.35:
            paragraph.append(w.render(distractors.pop()))
        if len(paragraph) >= rng.randint(2, 4):
            paragraphs.append(" ".join(paragraph))
            paragraph = []
    for d in distractors:
        paragraph.append(w.render(d))
    if paragraph:
        paragraphs.append(" ".join(paragraph))
    lines += paragraphs
    if rng.random() < 0.4:
        lines.append(w.pick(p["captions"]))
    target = rng.randint(2100, 4600)
    size = sum(len(x.encode()) for x in lines)
    extra: list[str] = []
    while fillers and size < target - 600:
        sentence = w.render(fillers.pop())
        extra.append(sentence)
        size += len(sentence.encode()) + 1
    for i in range(0, len(extra), 3):
        lines.append(" ".join(extra[i : i + 3]))
    # "Phát biểu kết luận hội nghị, đồng chí X" (the first direction) names the chair: a report
    # whose guest only attended ends with one of the others
    lines.append(w.pick(p["directions"][1:] if chairs is None else p["directions"]))
    if rng.random() < 0.6:
        plan: dict[str, Any] = rng.choice(p["plans"])
        picked: list[dict[str, Any]] = rng.sample(
            plan["clauses"], rng.randint(1, len(plan["clauses"]))
        )
        lines.append(
            _cap(
                w.render(plan["lead"]) + "; ".join(w.render(c["frame"], c["nums"]) for c in picked)
            )
            + "."
        )
    for f in standalone:
        lines.append(_cap(w.pick(f.frames[level], f.nums)) + ".")
    if rng.random() < 0.8:
        lines.append(rng.choice(g.raw["bylines"]))

    sep = "\n\n" if rng.random() < 0.5 else "\n"
    text = sep.join(lines) + "\n"
    gold = {
        "origin": f"seed {seed}, report {index}",
        "kind": kind,
        "level": level,
        "year": year,
        "period": period,
        "province": province.name if named or byline else None,
        "province_truth": province.name,
        "military_region": province.region if region_named else None,
        "conference_date": conf.isoformat(),
        "chair": chairs,
    }
    return Report(doc_id, text, gold, w.facts)


def _after_year(
    rng: random.Random, raw: list[Any], parsed: list[Any], year: int, k: int | None = None
) -> Any:
    """Pick frames whose document exists in ``year`` (a frame may say ``{frame, min_year}``)."""
    ok = [
        seq["frame"] if isinstance(item, dict) else seq
        for item, seq in zip(raw, parsed, strict=True)
        if not isinstance(item, dict) or year >= int(item.get("min_year", 0))
    ]
    if k is None:
        return rng.choice(ok)
    return rng.sample(ok, min(k, len(ok)))


# --- the command ---------------------------------------------------------------------------------


def generate(
    n: int, out: Path, seed: int = 1, gold: Path | None = None, start: int = 0, jobs: int = 1
) -> int:
    """Write reports ``start .. start+n-1`` of ``seed`` into ``out`` (and gold files into ``gold``).

    Args:
        jobs: worker processes; the files are the same for any number, since report ``i``
            depends only on ``(seed, i)``.

    Returns:
        The number of bytes of report text written.
    """
    out.mkdir(parents=True, exist_ok=True)
    if gold is not None:
        gold.mkdir(parents=True, exist_ok=True)
    if jobs > 1 and n >= 2 * jobs:
        import multiprocessing

        step = -(-n // jobs)
        parts = [
            (min(step, start + n - a), out, seed, gold, a) for a in range(start, start + n, step)
        ]
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return sum(pool.starmap(generate, parts))
    grammar = load_grammar()
    total = 0
    for i in range(start, start + n):
        report = make_report(seed, i, grammar)
        data = report.text.encode("utf-8")
        total += len(data)
        with open(os.path.join(out, report.doc_id + ".txt"), "wb") as fh:
            fh.write(data)
        if gold is not None:
            with open(os.path.join(gold, report.doc_id + ".yaml"), "w", encoding="utf-8") as fh:
                fh.write(report.gold_yaml())
    return total


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python bench/generate.py --n N --out DIR [--seed S] [--gold DIR]``."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, required=True, help="number of reports")
    ap.add_argument("--out", type=Path, required=True, help="folder for the .txt reports")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="index of the first report (default 0)")
    ap.add_argument("--gold", type=Path, default=None, help="folder for the gold .yaml files")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (same files for any)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    total = generate(args.n, args.out, args.seed, args.gold, args.start, args.jobs)
    secs = time.perf_counter() - t0
    print(
        f"generate: {args.n} reports, {total / 1e6:.1f} MB in {secs:.1f} s "
        f"({args.n / secs:,.0f} reports/s) -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
