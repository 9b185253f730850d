"""Process-pool workers forked early, while the Prefect API boots, for ``tonghop build``.

Prefect's ``ProcessPoolTaskRunner`` spawns its workers when the first task is submitted: each
starts a fresh interpreter and imports Prefect, pandas, DuckDB and the stages (~2.5 s of CPU
each) after the flow has begun. Measured on two cores, the first batch of 10,000 reports began
~2.5 s after the flow did, while this process had sat idle for ~3.5 s waiting for the API.

``WarmProcessPool`` is that runner with its workers forked at once from this process, after it
has imported the stages and before it starts any thread (no lock can be held across the fork):
the workers begin life with every module loaded and cost no CPU to start. Everything else is
Prefect's: the same worker initialiser (logs and events forwarded to the parent through a
queue), the same per-task hand-over (``_run_task_in_subprocess`` with the flow's settings and
context), the same futures. Forking is Linux/macOS only; elsewhere, or if the pool was already
used, the runner falls back to Prefect's own spawned pool.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prefect.task_runners import (
    ProcessPoolTaskRunner,
    TaskRunner,
    _initialize_process_pool_worker,
)


@dataclass
class Forked:
    """Workers forked ahead of a flow run and the queue they forward logs and events to.

    Taken once: the first runner that enters uses it, later ones spawn as Prefect does.
    """

    executor: ProcessPoolExecutor
    queue: Any  # multiprocessing.Queue
    settings: Any  # prefect.settings.Settings: the ones the workers were forked with
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _taken: bool = False

    def take(self) -> Forked | None:
        """This pool if nobody has used it yet, else None."""
        with self._lock:
            if self._taken:
                return None
            self._taken = True
            return self

    def close(self) -> None:
        """Stop the workers if no flow took them (a run that failed before its flow began)."""
        if self.take() is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.queue.close()


def preload() -> None:
    """Import now what every worker would import at its first task, so that the forked
    workers inherit it: Prefect's task engine, the encoder it serialises with and the
    installed Prefect collections (prefect-dask, and with it dask and distributed: ~290
    modules, found by a block lookup while a task's context is rebuilt). Measured: each worker
    spent ~1.5 s of CPU on these before its first batch.
    """
    import fastapi.encoders  # noqa: F401
    import prefect.engine  # noqa: F401
    import prefect.task_engine  # noqa: F401
    from prefect.plugins import load_prefect_collections

    load_prefect_collections()


def fork_workers(workers: int) -> Forked | None:
    """Fork ``workers`` idle pool processes now, or None where fork is unavailable.

    Call it after the flow's modules are imported (the workers inherit them) and before this
    process starts threads. The workers also inherit the environment as it is now, so point
    ``PREFECT_API_URL`` at the run's API first.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    from prefect.settings import get_current_settings

    preload()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_initialize_process_pool_worker,
        initargs=(queue, None, ()),
    )
    # with the fork context the executor forks all its workers at the first submit
    executor.submit(os.getpid).result()
    return Forked(executor, queue, get_current_settings())


class WarmProcessPool(ProcessPoolTaskRunner):
    """``ProcessPoolTaskRunner`` that starts on workers forked in advance (``fork_workers``)."""

    def __init__(self, max_workers: int, forked: Forked | None = None) -> None:
        super().__init__(max_workers=max_workers)
        self._forked = forked
        self._workers_settings: Any = None  # set while the forked workers are in use

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the forked workers: the flow (and this runner with it) travels to
        the workers in each task's context, and a queue cannot."""
        return {**self.__dict__, "_forked": None, "_workers_settings": None}

    def duplicate(self) -> WarmProcessPool:
        """The flow engine enters a duplicate of its runner: hand the forked workers on."""
        return type(self)(self._max_workers, self._forked)

    def __enter__(self) -> WarmProcessPool:
        forked = self._forked.take() if self._forked is not None else None
        if forked is None:
            super().__enter__()
            return self
        # ProcessPoolTaskRunner.__enter__ with the forked executor and its queue in place of a
        # spawn context (prefect 3.8's order: queue, forwarding thread, executor, resolver)
        TaskRunner.__enter__(self)
        self._subprocess_message_queue = forked.queue
        self._message_forwarding_thread = threading.Thread(
            target=self._forward_subprocess_messages,
            name="ProcessPoolTaskRunnerMessageForwarder",
            daemon=True,
        )
        self._message_forwarding_thread.start()
        self._executor = forked.executor
        self._resolver_executor = ThreadPoolExecutor(max_workers=self._max_workers)
        self._workers_settings = forked.settings
        return self

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Prefect's submit; on the forked workers, the run's context goes without its settings
        when they are the ones the workers already have.

        Each task run in a worker rebuilds the settings it is handed (a pydantic-settings
        model that reads the environment and the TOML sources again for each of its sections):
        0.12-0.14 s of a worker's CPU per task run, 100 task runs at 100,000 reports. Workers
        forked from this process hold its settings as they were at the fork, so when nothing
        changed since (compared once per run: the runner serialises its context once), a
        worker uses its own; if anything did, the context keeps them as Prefect sends them.
        """
        future = super().submit(*args, **kwargs)
        context = getattr(self, "_cached_context", None)
        if (
            self._workers_settings is not None
            and isinstance(context, dict)
            and "settings_context" in context
        ):
            from prefect.settings import get_current_settings

            if get_current_settings() == self._workers_settings:
                # a new dict: the first task's context may still be on its way to a worker
                self._cached_context = {
                    key: value for key, value in context.items() if key != "settings_context"
                }
            self._workers_settings = None  # decided, for this run
        return future
