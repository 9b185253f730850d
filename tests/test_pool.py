"""WarmProcessPool: a flow's tasks run on the workers forked before it, once; then Prefect's own.

The pool forks, so each check runs in a fresh interpreter (as ``tonghop build`` does) rather
than in the test process with its threads: the script below prints what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = r"""
import json, os, pickle
import tonghop  # noqa: F401  (Prefect's environment defaults)
from prefect import flow, task
from prefect.logging import get_run_logger
from tonghop.pool import WarmProcessPool, fork_workers


from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, get_current_settings, temporary_settings


@task
def square(i: int) -> tuple[int, int]:
    get_run_logger().info("squared %d in %d", i, os.getpid())
    return i * i, os.getpid()


@task
def retries() -> tuple[int, str]:
    settings = get_current_settings()
    return settings.client.max_retries, str(settings.api.url)


@flow
def squares(n: int) -> list[tuple[int, int]]:
    return [f.result() for f in [square.submit(i) for i in range(n)]]


@flow
def settings_seen(n: int) -> list[tuple[int, str]]:
    return [f.result() for f in [retries.submit() for _ in range(n)]]


forked = fork_workers(2)
warm = sorted(p.pid for p in forked.executor._processes.values())
pool = WarmProcessPool(2, forked)
copy = pickle.loads(pickle.dumps(pool))
first = squares.with_options(task_runner=pool)(6)
second = squares.with_options(task_runner=pool)(3)  # the forked workers are gone: spawned
# settings as at the fork: the workers use their own; changed since: the run's reach them
before = get_current_settings().client.max_retries
unchanged_pool = WarmProcessPool(2, fork_workers(2))
unchanged = settings_seen.with_options(task_runner=unchanged_pool)(3)
changed_pool = WarmProcessPool(2, fork_workers(2))
with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: before + 4}):
    changed = settings_seen.with_options(task_runner=changed_pool)(3)
spare = fork_workers(1)
spare_pids = [p.pid for p in spare.executor._processes.values()]
spare.close()
print(json.dumps({
    "parent": os.getpid(),
    "warm": warm,
    "first": first,
    "second": second,
    "copy_has_workers": copy._forked is not None,
    "retries_before": before,
    "api_url": str(get_current_settings().api.url),
    "unchanged": unchanged,
    "changed": changed,
    "spare_alive": [os.path.exists(f"/proc/{p}") and
                    open(f"/proc/{p}/stat").read().split()[2] != "Z" for p in spare_pids],
}))
"""


@pytest.fixture(scope="module")
def seen(prefect_harness) -> dict:
    """What the script saw, run once for the module against the test API."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "logs": done.stdout + done.stderr}


def test_tasks_run_on_the_forked_workers_then_on_spawned_ones(seen: dict) -> None:
    assert len(seen["warm"]) == 2 and seen["parent"] not in seen["warm"]
    # every task of the first run: right result, computed in one of the forked workers
    assert [value for value, _ in seen["first"]] == [i * i for i in range(6)]
    assert {pid for _, pid in seen["first"]} <= set(seen["warm"])
    # a second flow run cannot reuse them (shut down with the first): Prefect's spawned pool
    assert [value for value, _ in seen["second"]] == [0, 1, 4]
    assert not {pid for _, pid in seen["second"]} & set(seen["warm"] + [seen["parent"]])
    # the workers' logs reach the parent (forwarded through the pool's queue) and the API
    assert "squared 5 in" in seen["logs"]
    assert "Starting temporary server" not in seen["logs"]


def test_the_workers_see_the_runs_settings_whether_or_not_they_are_sent(seen: dict) -> None:
    """Unchanged since the fork, the settings stay out of the tasks' context (each worker
    would rebuild them per task run): the workers' own are the run's. Changed since, they
    travel with each task as Prefect sends them."""
    before, url = seen["retries_before"], seen["api_url"]
    assert [tuple(x) for x in seen["unchanged"]] == [(before, url)] * 3
    assert [tuple(x) for x in seen["changed"]] == [(before + 4, url)] * 3


def test_the_pool_pickles_without_its_workers_and_closes_unused(seen: dict) -> None:
    assert seen["copy_has_workers"] is False
    assert seen["spare_alive"] == [False]
