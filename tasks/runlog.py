"""The record of a run: time per stage, document counts, and run.json next to the briefing."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.render import write_atomic

DOCUMENT_KEYS = (
    "new",
    "changed",
    "reprocessed",
    "unchanged",
    "duplicate",
    "quarantined",
    "missing",
)


@dataclass
class StageTimer:
    """Wall time per stage, in seconds, in the order the stages ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (added up if the stage runs several times)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def document_counts(
    read_status: dict[str, str],
    outcomes: list[tuple[str, str]],
    unchanged: Counter[str],
    missing: int,
) -> dict[str, int]:
    """Counts of run.json's ``documents`` key.

    Args:
        read_status: path -> "new" | "changed" | "reprocessed" for every file read this run.
        outcomes: (path, stored status) of every document row written this run.
        unchanged: stored status -> count for the files not read again.
        missing: files gone from the folder since the last run.
    """
    counts = dict.fromkeys(DOCUMENT_KEYS, 0)
    for path, status in outcomes:
        if status == "active":
            counts[read_status.get(path, "new")] += 1
        else:
            counts[status] += 1
    counts["unchanged"] += unchanged.get("active", 0)
    counts["duplicate"] += unchanged.get("duplicate", 0)
    counts["quarantined"] += unchanged.get("quarantined", 0)
    counts["missing"] = missing
    return counts


def write_run_json(out: Path, summary: dict) -> Path:
    """Write run.json atomically, keys sorted so that equal runs give equal files."""
    data = json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return write_atomic(out / "run.json", data.encode("utf-8"))


@task(name="write-run-json", cache_policy=NO_CACHE)
def write_run_json_task(out: Path, summary: dict) -> Path:
    """Prefect wrapper of ``write_run_json``."""
    return write_run_json(out, summary)
