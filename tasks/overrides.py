"""Analyst corrections: fix or suppress a fact by its stable id, before aggregation.

An overrides file (CSV or YAML) survives re-runs because fact ids are stable (a hash of the
document, the sentence and the number's place in it). Each entry says::

    fact_id: 3f2a9c0d1b7e     # from facts.csv or `tonghop facts export`
    action: correct           # correct | suppress
    value: 3340               # the right value (correct only)
    note: "báo cáo gốc ghi 3.340"

Corrected figures keep their original value in ``original_value`` and are marked in the
briefing; suppressed facts stay in facts.csv, marked, and leave the tables.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

ACTIONS = frozenset({"correct", "suppress"})


@dataclass(frozen=True, slots=True)
class Override:
    """One correction of one fact."""

    fact_id: str
    action: str
    value: float | None = None
    note: str = ""


class OverrideError(ValueError):
    """An overrides file that cannot be applied; the message names the entry."""


def parse_overrides(rows: list[dict], origin: str) -> list[Override]:
    """Validate raw entries.

    Raises:
        OverrideError: naming the entry (its number in the file) and what is wrong with it.
    """
    out = []
    for i, row in enumerate(rows, start=1):
        where = f"{origin}, entry {i}"
        fact_id = str(row.get("fact_id") or "").strip()
        action = str(row.get("action") or "").strip().lower()
        if not fact_id:
            raise OverrideError(f"{where}: fact_id is missing")
        if action not in ACTIONS:
            raise OverrideError(f"{where}: action must be one of {sorted(ACTIONS)}, not {action!r}")
        value = row.get("value")
        if action == "correct":
            try:
                value = float(str(value).replace(",", "."))
            except (TypeError, ValueError) as err:
                raise OverrideError(f"{where}: 'correct' needs a numeric value") from err
        else:
            value = None
        out.append(Override(fact_id, action, value, str(row.get("note") or "")))
    return out


def load_overrides(path: Path) -> list[Override]:
    """Read an overrides file (.csv with a header, or .yaml/.yml holding a list).

    Raises:
        OverrideError: when the file is missing, malformed or has a bad entry.
    """
    if not path.is_file():
        raise OverrideError(f"overrides file not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    elif path.suffix.lower() in {".yaml", ".yml"}:
        try:
            data = yaml.safe_load(text) or []
        except yaml.YAMLError as err:
            raise OverrideError(f"{path}: not valid YAML ({err})") from err
        rows = data.get("overrides", []) if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise OverrideError(f"{path}: expected a list of entries")
    else:
        raise OverrideError(f"{path}: overrides must be .csv, .yaml or .yml")
    return parse_overrides(rows, str(path))


def apply_overrides(
    facts: pd.DataFrame, overrides: list[Override]
) -> tuple[pd.DataFrame, list[str]]:
    """Apply corrections to a facts frame (a new frame; the input is not changed).

    Returns:
        The frame with ``override`` ("corrected", "suppressed" or "") and ``original_value``
        columns, and the ids of overrides that matched no fact (to report, not to fail on).
    """
    out = facts.assign(override="", original_value=float("nan"))
    if not overrides:
        return out, []
    index = {fid: i for i, fid in enumerate(out["fact_id"])}
    unknown = []
    values = out["value"].to_numpy(copy=True)
    original = out["original_value"].to_numpy(copy=True)
    marks = out["override"].to_numpy(copy=True)
    for o in overrides:
        i = index.get(o.fact_id)
        if i is None:
            unknown.append(o.fact_id)
            continue
        if o.action == "suppress":
            marks[i] = "suppressed"
        else:
            original[i] = values[i]
            values[i] = o.value
            marks[i] = "corrected"
    return out.assign(value=values, original_value=original, override=marks), unknown
