"""The main flow: a folder of reports in, a consolidated Word briefing out.

    python flows/briefing.py                   # seeds/ -> out/
    tonghop build --source DIR --out DIR       # the same, from the CLI

Wiring only: each stage lives in ``tasks/``. Files go through ingest → normalise → extract
in batches (one task run per batch: a Prefect task run costs tens of milliseconds), each batch
is saved to the store, and the briefing is built from the store, so a re-run reads only new or
changed files and a run with nothing new still renders the briefing.

Big arguments of tasks that run in this process (a batch's frames, the run index, the
briefing frames) are passed as ``quote(...)``: otherwise Prefect walks every element of them
looking for futures before each task run, which cost ~50 s per batch at 10,000 documents.
A submitted batch travels as one ``FileBatch`` value: Prefect removes ``quote`` before a worker
sees it (and Dask unpacks it), and would walk a plain list of file records three times.
"""

from __future__ import annotations

import tonghop  # noqa: F401  (Prefect defaults before Prefect is imported)

# isort: split

import os
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar, cast

from prefect import flow, runtime
from prefect.futures import PrefectFuture
from prefect.task_runners import ProcessPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import Field

from tasks.aggregate import aggregate_store_task
from tasks.artifacts import artifacts_task
from tasks.batch import FileBatch, process_batch_task
from tasks.distribute import drop_task, email_briefing, scope_of, today_in
from tasks.ingest import DEFAULT_MAX_BYTES
from tasks.render import Organisation, render_task
from tasks.reuse import check_reuse_task, outputs_of, record_outputs_task, reused_artifact_task
from tasks.runlog import StageTimer, document_counts, write_run_json_task
from tasks.store import (
    BatchResult,
    finish_scan_task,
    held,
    load_run_index_task,
    record_run_task,
    save_batch_task,
    scan_task,
)
from tonghop.config import load_config

T = TypeVar("T")

#: Batches in flight at once: enough to keep every worker of a parallel runner busy, few enough
#: that memory stays bounded (each batch's texts are dropped once it is saved).
IN_FLIGHT = 4


def whole(obj: T) -> T:
    """``quote(obj)``, typed as ``obj``: Prefect hands it to the task without walking it."""
    return cast(T, quote(obj))


def batches(items: list, size: int) -> list[list]:
    """Split ``items`` into lists of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@flow(
    name="build-briefing",
    log_prints=True,
    validate_parameters=True,
    # batches are CPU work: one process per core (Prefect's thread pool would run them on one
    # core). The runner of deployment runs (`tonghop serve`, prefect.yaml's work pool), which
    # load this flow from its entrypoint; `tonghop build` hands its own (forked early, or Dask).
    # (Prefect types the argument as TaskRunner[PrefectFuture], which its own process pool,
    # a TaskRunner of a PrefectFuture subclass, does not match.)
    task_runner=ProcessPoolTaskRunner(),  # type: ignore[arg-type]
)
def build_briefing(
    source: Path = Path("seeds"),
    out: Path = Path("out"),
    lang: Literal["vi", "en"] = "vi",
    template: Path | None = None,
    batch_size: int = Field(default=1000, ge=1, le=100_000),
    max_file_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=1),
    store: Path = Path("data/tonghop.duckdb"),
    overrides: Path | None = None,
    organisation: Organisation | None = None,
    config: Path | None = None,
    email: bool = False,
    archive: Path | None = None,
) -> dict:
    """Build the briefing of every report in ``source`` into ``out``.

    Returns:
        The run summary (also written to ``out/run.json``).
    """
    # the config (header block, mail, archive), checked before any work
    settings = load_config(config, os.environ)
    if email:
        settings.require_mail()
    started = _now()
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    timer = StageTimer()
    # --- scan: what is new or changed since the store last saw the folder ---
    with timer.stage("scan"):
        scan = scan_task(source, store)
    # --- ingest → normalise → extract, one task run per batch; save each batch ---
    outcomes: list[tuple[str, str]] = []
    # (the store open for the whole stage: one checkpoint, not one per batch's save)
    with timer.stage("extract"), held(store):
        todo = deque(batches(scan.plan.to_read, batch_size))

        def submit() -> PrefectFuture[BatchResult]:
            files = FileBatch(todo.popleft(), scan.manifest)
            return process_batch_task.submit(source, files, max_file_bytes)

        # a sliding window of IN_FLIGHT batches: the workers never wait for a save, and
        # memory stays bounded (a batch's texts are gone once it is saved)
        in_flight = deque(submit() for _ in range(min(IN_FLIGHT, len(todo))))
        if in_flight:
            # the store's documents, to check new ones against: loaded while the workers read
            # the first batches (seconds for a large store), and only when something is new
            index = load_run_index_task(store, whole([f.path for f in scan.plan.to_read]))
        while in_flight:
            batch = whole(in_flight.popleft().result())
            if todo:
                in_flight.append(submit())
            outcomes += save_batch_task(
                store, source, batch, run_id, scan.fingerprint, whole(index)
            )
            del batch  # its frames go before the next wait: at most IN_FLIGHT batches are held
        if scan.plan.to_read:
            del index  # ~300 MB at 100,000 documents, and render needs the memory
        unchanged = finish_scan_task(store, whole(scan.plan), run_id)
    # --- reuse the last outputs if nothing they are built from changed ---
    org = organisation or settings.to_organisation()
    with timer.stage("reuse-check"):
        check = check_reuse_task(store, source, out, overrides, template, org, lang)
    data = None
    if check.reusable is not None:
        paths, info = check.reusable.paths, check.reusable.info
        print(f"nothing changed since run {check.reusable.run_id}: its outputs are kept")
    else:
        # --- aggregate, from the store ---
        with timer.stage("aggregate"):
            data, unknown_overrides = aggregate_store_task(store, source, overrides)
        if data.documents.empty:
            reasons = "; ".join(
                f"{s}: {r}" for s, r in data.quarantine.head(5).itertuples(index=False)
            )
            raise ValueError(
                f"no readable report in {source}" + (f" ({reasons})" if reasons else "")
            )
        # --- render ---
        with timer.stage("render"):
            written = render_task(whole(data), out, org, lang, template)
        paths = outputs_of(written)
        info = {
            "documents_in_briefing": len(data.documents),
            "facts": len(data.facts),
            "unknown_overrides": unknown_overrides,
            "scope": scope_of(data.documents, settings.paths.scope),
        }
        record_outputs_task(store, run_id, check.key, paths, info)
    # --- record the run ---
    counts = document_counts(scan.plan.status, outcomes, unchanged, len(scan.plan.missing))
    briefing = paths["briefing.docx"]
    summary = {
        "run_id": run_id,
        "source": str(source),
        "briefing": str(briefing),
        "comparison": str(paths.get("comparison.xlsx", "")),
        "documents": counts,
        "documents_in_briefing": info["documents_in_briefing"],
        "facts": info["facts"],
        "unknown_overrides": info["unknown_overrides"],
        "reused_from": check.reusable.run_id if check.reusable else "",
        "seconds": {k: round(v, 3) for k, v in timer.seconds.items()},
    }
    write_run_json_task(out, summary)
    record_run_task(store, run_id, started, _now(), summary, briefing, lang)
    # --- distribute: archive and artifacts, then the e-mail last (a send that still fails
    #     after its retries fails the run once everything else is written and recorded) ---
    day = today_in(settings.schedules.timezone)
    archived = drop_task(briefing, archive or settings.paths.archive_for(out), day, info["scope"])
    if data is not None:
        artifacts_task(whole(data), briefing, archived.path, None, counts, lang)
    else:
        reused_artifact_task(summary, archived.path)
    if email:
        email_briefing(briefing, settings.mail, day, info["scope"])
    return summary


if __name__ == "__main__":
    print(build_briefing())
