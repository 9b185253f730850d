"""The domain data files under ``tasks/data/``, loaded once and validated.

Domain knowledge (indicators, provinces, grammar words, abbreviations, surnames) lives in YAML
that an analyst can edit; this module turns it into typed, compiled objects. Every regex of
the data files is folded (``tasks.normalize.fold``) before it is compiled, so "hoà" in a file
matches "hòa" in a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import regex as re
import yaml

from tasks.normalize import fold

DATA_DIR = Path(__file__).parent / "data"
AGGREGATIONS = frozenset({"sum", "mean", "max", "latest"})


#: libyaml's parser when PyYAML was built with it: the same safe loading, about ten times faster
#: (the data files take half a second in pure Python, paid again by every worker process)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(name: str) -> Any:
    """Read one data file of ``tasks/data``."""
    return yaml.load((DATA_DIR / name).read_text(encoding="utf-8"), Loader=_SAFE_LOADER)


def words_alternation(words: list[str] | tuple[str, ...]) -> str:
    """A regex alternation of folded words, longest first so that "gần như" wins over "gần"."""
    folded = sorted({fold(w) for w in words}, key=len, reverse=True)
    return "|".join(re.escape(w) for w in folded)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One way a fact can belong to an indicator; every part given must match."""

    unit: re.Pattern[str] | None
    noun: re.Pattern[str] | None
    before: re.Pattern[str] | None
    clause: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class Indicator:
    """A canonical indicator of the catalog (see ``tasks/data/indicators.yaml``)."""

    key: str
    label_vi: str
    label_en: str
    unit: str
    agg: str
    patterns: tuple[Pattern, ...]


def _compile(text: str | None) -> re.Pattern[str] | None:
    return re.compile(fold(text)) if text else None


def parse_indicators(raw: dict[str, Any]) -> tuple[Indicator, ...]:
    """Build the indicator catalog from its YAML form.

    Raises:
        ValueError: on a duplicate key, a missing label, an unknown aggregation or a bad regex.
    """
    seen: set[str] = set()
    out = []
    for item in raw["indicators"]:
        key = item.get("key", "")
        if not key or key in seen:
            raise ValueError(f"indicator key missing or repeated: {key!r}")
        seen.add(key)
        if not item.get("label_vi") or not item.get("label_en"):
            raise ValueError(f"indicator {key}: label_vi and label_en are required")
        if item.get("agg") not in AGGREGATIONS:
            raise ValueError(f"indicator {key}: agg must be one of {sorted(AGGREGATIONS)}")
        patterns = tuple(
            Pattern(*(_compile(p.get(part)) for part in ("unit", "noun", "before", "clause")))
            for p in item.get("patterns") or []
        )
        if not patterns:
            raise ValueError(f"indicator {key}: at least one pattern is required")
        out.append(
            Indicator(key, item["label_vi"], item["label_en"], item["unit"], item["agg"], patterns)
        )
    return tuple(out)


@cache
def indicators() -> tuple[Indicator, ...]:
    """The indicator catalog, in matching order."""
    return parse_indicators(load_yaml("indicators.yaml"))


@cache
def indicator_by_key() -> dict[str, Indicator]:
    """The indicator catalog by key."""
    return {ind.key: ind for ind in indicators()}


@cache
def grammar() -> dict[str, Any]:
    """The grammar word lists (``tasks/data/grammar.yaml``)."""
    return load_yaml("grammar.yaml")


@cache
def abbreviations() -> dict[str, str]:
    """Abbreviation -> expansion (``tasks/data/abbreviations.yaml``)."""
    return {str(k): str(v) for k, v in load_yaml("abbreviations.yaml").items()}


@dataclass(frozen=True, slots=True)
class Province:
    """A province before the 2025 merger, with its Quân khu and the unit it merged into."""

    name: str
    region: int
    merged_into: str
    variants: tuple[str, ...]
    byline_codes: tuple[str, ...]


@cache
def provinces() -> tuple[Province, ...]:
    """The 63 provinces (names before 1 July 2025)."""
    return tuple(
        Province(
            p["name"],
            int(p["region"]),
            p["merged_into"],
            tuple(p.get("variants") or ()),
            tuple(p.get("byline_codes") or ()),
        )
        for p in load_yaml("provinces.yaml")["provinces"]
    )


@cache
def province_lists() -> dict[str, Any]:
    """The lists of ``provinces.yaml`` beside the provinces: foreign places, regions, national
    byline codes, forms that need a prefix, words of places inside a province, new names."""
    raw = load_yaml("provinces.yaml")
    lists = {k: v for k, v in raw.items() if k != "provinces"}
    lists["new_names"] = {p["name"]: p["new_name"] for p in raw["provinces"] if p.get("new_name")}
    return lists


@cache
def people() -> dict[str, list[str]]:
    """Surnames and ranks (``tasks/data/people.yaml``)."""
    return load_yaml("people.yaml")
