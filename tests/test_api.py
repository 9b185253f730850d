"""The local Prefect API that ``tonghop build`` starts before its imports: a real server."""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from pathlib import Path

import pytest

from tonghop.api import NO_TLS_CA, LocalAPI, start_early


def test_local_api_answers_then_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    api = LocalAPI().start()
    try:
        api.wait(timeout=float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
        with urllib.request.urlopen(f"{api.url}/health", timeout=5) as response:
            assert response.status == 200 and json.load(response) is True
        # no block types registered at start (that would import every Prefect collection)
        ask = urllib.request.Request(
            f"{api.url}/block_types/filter",
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(ask, timeout=5) as response:
            assert json.load(response) == []
        # the routers a build calls, moved first, answer (the server's default storage)
        with urllib.request.urlopen(f"{api.url}/admin/storage", timeout=5) as response:
            assert response.status == 200
        process = api.process
        assert process is not None
    finally:
        api.stop()
    assert process.poll() is not None  # the server is gone
    assert api.process is None
    api.stop()  # stopping twice is harmless
    with pytest.raises(RuntimeError, match="stopped"):
        api.wait(timeout=1)


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_routers_a_build_calls_match_first_and_every_route_still_answers() -> None:
    """Reordered by router, the app's own routes first; the rest keep their order and every
    route still answers (each router has a prefix of its own)."""
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    from tonghop.api import _called_routers_first

    app = FastAPI()
    app.get("/health")(lambda: True)
    routers = {name: APIRouter(prefix=f"/{name}") for name in ("blocks", "logs", "admin", "ui")}
    for name, router in routers.items():
        router.get("/x")(lambda name=name: name)
        app.include_router(router)
    _called_routers_first(app, [routers["admin"], routers["logs"]])
    order = [getattr(r, "original_router", None) for r in app.router.routes]
    assert order[-4:] == [routers[n] for n in ("admin", "logs", "blocks", "ui")]
    assert all(r is None for r in order[:-4])  # the app's own routes (health, docs) first
    with TestClient(app) as client:
        assert client.get("/health").json() is True
        for name in routers:
            assert client.get(f"/{name}/x").json() == name


def test_no_early_server_when_prefect_is_already_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect  # noqa: F401  (a test, or a program that configured Prefect itself)

    assert start_early() is None
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert start_early() is None


def test_cli_runs_on_one_api_server(prefect_harness, seeds: Path, tmp_path: Path) -> None:
    """``tonghop build`` with its process pool: the early server is the only one started
    (Prefect announces a server it starts itself with "Starting temporary server")."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "tonghop.cli", "build", "--source", str(seeds)]
        + ["--out", str(out), "--store", str(tmp_path / "s.duckdb"), "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs[-3000:]
    assert "Starting temporary server" not in logs
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["documents"]["new"] == 5


def test_a_server_that_cannot_start_fails_fast_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database it cannot open: uvicorn exits, and ``wait`` says so instead of waiting out
    its timeout (uvicorn's exit status 3 also means "port taken", retried a few times)."""
    import time

    import tonghop.api

    monkeypatch.setattr(tonghop.api, "PORT_RETRIES", 0)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv(
        "PREFECT_API_DATABASE_CONNECTION_URL",
        f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/prefect.db",
    )
    api = LocalAPI().start()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with status"):
        api.wait(timeout=300)
    assert time.monotonic() - started < 120
    assert api.process is None


@pytest.mark.parametrize("local", [True, False])
def test_a_run_is_pointed_at_its_api_and_the_callers_settings_come_back(
    local: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the local API (which dies with the command) no heartbeats, no version handshake, no
    CSRF token and no CA bundle to load; a configured server keeps all four. The caller's
    environment is restored either way."""
    from prefect.settings import get_current_settings

    from tonghop.cli import _pointed_at

    monkeypatch.delenv("PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED", raising=False)
    monkeypatch.delenv("PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", raising=False)
    monkeypatch.delenv("PREFECT_API_SSL_CERT_FILE", raising=False)
    callers = os.environ.get("PREFECT_API_URL")
    url = "http://127.0.0.1:1/api"  # nothing is asked of it
    with _pointed_at(url, local=local):
        settings = get_current_settings()
        assert settings.api.url == url and os.environ["PREFECT_API_URL"] == url
        assert (settings.flows.heartbeat_frequency is None) is local
        checks = os.environ.get("PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED", "true")
        assert (checks == "false") is local
        assert settings.client.csrf_support_enabled is not local
        cafile = settings.api.ssl_cert_file
        assert (cafile == str(NO_TLS_CA)) is local
        if local:  # a trust store that loads (every client builds its TLS context from it)
            context = ssl.create_default_context(cafile=cafile)
            assert len(context.get_ca_certs()) == 1
    assert os.environ.get("PREFECT_API_URL") == callers
    assert "PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED" not in os.environ
    assert "PREFECT_API_SSL_CERT_FILE" not in os.environ
    assert get_current_settings().flows.heartbeat_frequency is not None


def test_collector_paused_while_a_process_starts_and_on_again_after() -> None:
    """No cycle collection inside; after, the collector is on and what was built is frozen
    (out of later passes); an error inside leaves the collector on and nothing frozen."""
    import gc

    from tonghop import collector_paused

    gc.unfreeze()
    try:
        with collector_paused():
            assert not gc.isenabled()
            built = [[i] for i in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() >= len(built)
        gc.unfreeze()
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("an import failed")
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.enable()
