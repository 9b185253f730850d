"""Schedules and manual triggers against a REAL Prefect server on loopback.

A ``prefect server start`` subprocess (its own PREFECT_HOME and SQLite database), a subprocess
serving the deployments of ``tonghop.serve`` from a config file, a run triggered through the
API with parameters, and the briefing found in the folder given. ``prefect.yaml`` is checked
offline (entrypoint, parameters, schedules) and registered with ``prefect deploy``.
Subprocesses are killed whatever happens (fixture finalisers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT

SERVER_START_TIMEOUT = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_SERVICES_TELEMETRY_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a subprocess and its children (it leads its own process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


# --- prefect.yaml, offline ---------------------------------------------------------------------


def test_prefect_yaml_declares_scheduled_deployments_of_the_flow() -> None:
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert {"monthly", "year-end", "manual"} <= set(deployments)
    crons = {}
    for name, d in deployments.items():
        flow = load_flow_from_entrypoint(str(ROOT / d["entrypoint"]))
        assert flow.name == "build-briefing"
        # the parameters are ones the flow accepts, with valid values
        assert set(d["parameters"]) <= set(flow.parameters.properties), name
        flow.validate_parameters(d["parameters"])
        for s in d["schedules"]:
            CronSchedule(cron=s["cron"], timezone=s["timezone"])  # raises if invalid
            assert s["timezone"] == "Asia/Ho_Chi_Minh"
            crons[name] = s["cron"]
    assert crons == {"monthly": "0 6 1 * *", "year-end": "0 17 31 12 *"}


def test_build_deployments_from_the_config(tmp_path: Path) -> None:
    from prefect import flow

    from tonghop.config import load_config
    from tonghop.serve import build_deployments

    path = tmp_path / "tonghop.toml"
    path.write_text(
        '[paths]\nsource = "in"\n[organisation]\nplace = "Nghệ An"\n'
        '[schedules]\nemail = true\n[schedules.cron]\nquarterly = "0 7 1 1,4,7,10 *"\n',
        encoding="utf-8",
    )
    config = load_config(path, {})

    @flow(name="build-briefing")
    def with_config(
        source: str = "", out: str = "", store: str = "", config: str = "", email: bool = False
    ) -> None:
        """A flow taking the config path: the header block is not passed as a parameter."""

    @flow(name="build-briefing")
    def with_organisation(
        source: str = "", out: str = "", organisation: dict | None = None
    ) -> None:
        """A flow without ``config``: the header block goes as ``organisation``."""

    deployments = {d.name: d for d in build_deployments(config, path, with_config)}
    assert set(deployments) == {"quarterly", "manual"}
    schedule = deployments["quarterly"].schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("0 7 1 1,4,7,10 *", "Asia/Ho_Chi_Minh")
    assert deployments["manual"].schedules == []
    assert deployments["manual"].parameters == {
        "source": str(tmp_path / "in"),
        "out": str(tmp_path / "out"),
        "store": str(tmp_path / "data" / "tonghop.duckdb"),
        "config": str(path.resolve()),
        "email": True,
    }
    # never a password among the parameters, which the server stores in clear
    assert not any("password" in k for d in deployments.values() for k in d.parameters)

    other = build_deployments(config, path, with_organisation)[0].parameters
    assert set(other) == {"source", "out", "organisation"}
    assert other["organisation"]["place"] == "Nghệ An"


# --- a real server -----------------------------------------------------------------------------


@dataclass
class Server:
    """A ``prefect server start`` subprocess; ``wait()`` until its API answers."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    healthy: bool = False

    def wait(self) -> str:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not self.healthy:
            if self.proc.poll() is not None:
                pytest.fail(f"prefect server exited: {_tail(self.log)}")
            with contextlib.suppress(httpx.HTTPError):
                self.healthy = httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            if time.monotonic() > deadline:
                pytest.fail(f"server not healthy in {SERVER_START_TIMEOUT} s: {_tail(self.log)}")
            time.sleep(0.5)
        return self.url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``prefect server start`` on a free loopback port, with its own SQLite database.

    Not waited for here, so that a test can start its own subprocess while the server boots
    (tens of seconds on a busy 2-core machine).
    """
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    log = home / "server.log"
    env = _env(
        home,
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                # the API is all the test needs: no scheduler, no UI, less CPU on 2 cores
                "--no-services",
                "--no-ui",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}/api", proc, log)
    finally:
        _stop(proc)


def _api(url: str, coro_fn: Any) -> Any:
    """Run ``coro_fn(client)`` against the server at ``url``."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go() -> Any:
        async with get_client() as client:
            return await coro_fn(client)

    with temporary_settings(updates={PREFECT_API_URL: url}):
        return asyncio.run(go())


def _wait_for_deployment(url: str, name: str, proc: subprocess.Popen[bytes], log: Path) -> Any:
    from prefect.exceptions import ObjectNotFound

    async def read(client: Any) -> Any:
        try:
            return await client.read_deployment_by_name(name)
        except ObjectNotFound:
            return None

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serving process exited: {_tail(log)}")
        found = _api(url, read)
        if found is not None:
            return found
        time.sleep(0.5)
    pytest.fail(f"deployment {name} not registered: {_tail(log)}")


@pytest.mark.server
def test_served_deployment_runs_with_parameters(server: str, seeds: Path, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # a config whose defaults point elsewhere: the run must use the parameters given
    config = tmp_path / "tonghop.toml"
    config.write_text(
        f'[paths]\nsource = "{seeds}"\nout = "default-out"\nstore = "store.duckdb"\n'
        '[schedules.cron]\nmonthly = "0 6 1 * *"\n',
        encoding="utf-8",
    )
    log = tmp_path / "serve.log"
    code = (
        # wait for the API here, so that this process imports while the server boots
        "import os, sys, time, httpx; from pathlib import Path; import tonghop\n"
        "while True:\n"
        "    try:\n"
        "        if httpx.get(os.environ['PREFECT_API_URL'] + '/health').status_code == 200:\n"
        "            break\n"
        "    except httpx.HTTPError:\n"
        "        pass\n"
        "    time.sleep(0.5)\n"
        "from tonghop.config import load_config\n"
        "from tonghop.serve import serve_deployments\n"
        "path = Path(sys.argv[1])\n"
        "serve_deployments(load_config(path, os.environ), path, poll_seconds=1)\n"
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(config)],
            cwd=ROOT,
            env=_env(tmp_path / "home", PREFECT_API_URL=server.url),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = server.wait()
        manual = _wait_for_deployment(url, "build-briefing/manual", proc, log)
        assert manual.parameters["source"] == str(seeds)
        monthly = _wait_for_deployment(url, "build-briefing/monthly", proc, log)
        schedule = monthly.schedules[0].schedule
        assert (schedule.cron, schedule.timezone) == ("0 6 1 * *", "Asia/Ho_Chi_Minh")

        out_dir = tmp_path / "manual-out"
        with temporary_settings(updates={PREFECT_API_URL: url}):
            flow_run = run_deployment(
                "build-briefing/manual",
                parameters={
                    "source": str(seeds),
                    "out": str(out_dir),
                    "store": str(tmp_path / "manual.duckdb"),
                },
                timeout=120,
                poll_interval=1,
            )
        assert flow_run.state is not None
        assert flow_run.state.is_completed(), f"{flow_run.state}: {_tail(log)}"
        assert (out_dir / "briefing.docx").stat().st_size > 0
        assert not (tmp_path / "default-out").exists()
    finally:
        _stop(proc)


@pytest.mark.server
def test_prefect_yaml_deploys_to_the_server(server: Server, tmp_path: Path) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate

    async def pool(client: Any) -> Any:
        return await client.create_work_pool(WorkPoolCreate(name="tonghop", type="process"))

    url = server.wait()
    _api(url, pool)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=_env(tmp_path / "home", PREFECT_API_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    async def read(client: Any) -> Any:
        return await client.read_deployment_by_name("build-briefing/year-end")

    year_end = _api(url, read)
    schedule = year_end.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("0 17 31 12 *", "Asia/Ho_Chi_Minh")
    assert year_end.work_pool_name == "tonghop"
    assert year_end.entrypoint == "flows/briefing.py:build_briefing"
