"""The main flow: a folder of reports in, a consolidated Word briefing out.

    python flows/briefing.py                   # seeds/ -> out/
    tonghop build --source DIR --out DIR       # the same, from the CLI

Wiring only: each stage lives in ``tasks/``. Documents go through normalise and extract in
batches, one task run per batch, since a Prefect task run costs tens of milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect import flow
from pydantic import Field

import tonghop  # noqa: F401  (Prefect defaults before Prefect is imported)
from tasks.aggregate import aggregate_task
from tasks.extract import extract_task
from tasks.ingest import DEFAULT_MAX_BYTES, ingest_task
from tasks.normalize import normalize_task
from tasks.records import Extraction
from tasks.render import Organisation, render_task


def batches(items: list, size: int) -> list[list]:
    """Split ``items`` into lists of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


@flow(name="build-briefing", log_prints=True, validate_parameters=True)
def build_briefing(
    source: Path = Path("seeds"),
    out: Path = Path("out"),
    lang: Literal["vi", "en"] = "vi",
    template: Path | None = None,
    batch_size: int = Field(default=500, ge=1, le=100_000),
    max_file_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=1),
    organisation: Organisation | None = None,
) -> dict:
    """Build the briefing of every report in ``source`` into ``out``.

    Returns:
        Paths of the files written and the counts of the run.
    """
    # --- ingest ---
    ingested = ingest_task(source, max_file_bytes)
    if not ingested.sources:
        reasons = "; ".join(f"{q.source}: {q.reason}" for q in ingested.quarantined[:5])
        raise ValueError(f"no readable report in {source}" + (f" ({reasons})" if reasons else ""))
    # --- normalise and extract, in batches ---
    extractions: list[Extraction] = []
    for batch in batches(ingested.sources, batch_size):
        extractions.extend(extract_task(normalize_task(batch)))
    # --- aggregate ---
    data = aggregate_task(extractions, ingested)
    # --- render ---
    written = render_task(data, out, organisation or Organisation(), lang, template)
    return {
        "briefing": str(written.briefing),
        "documents": len(data.documents),
        "facts": len(data.facts),
        "quarantined": len(ingested.quarantined),
        "duplicates": len(ingested.duplicates),
    }


if __name__ == "__main__":
    print(build_briefing())
