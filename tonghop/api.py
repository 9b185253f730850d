"""A local Prefect API for one ``tonghop build``, started before anything heavy is imported.

Without ``PREFECT_API_URL`` Prefect starts a temporary server (uvicorn serving
``prefect.server``'s app, UI off, on the local SQLite database) the first time a flow needs
the API: after this process has imported pandas, DuckDB, docxtpl and the stages, and after it
has imported the server's own modules too, which nobody here needs. On two cores that is
~10 s spent one after the other. Starting the very same server first, as a subprocess, lets it
boot on one core while this process imports on the other, and keeps the server's modules out
of this process.

The server is Prefect's ephemeral one in all but who starts it: the same app factory (called
with the cycle collector paused, ``create_app``) and flags
(``PREFECT__SERVER_EPHEMERAL``, ``PREFECT__SERVER_FINAL``), the same database. A configured
API (``PREFECT_API_URL`` in the environment, a profile or a ``prefect.toml``) always wins: the
early server is then stopped unused.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: The trust store of the local API's clients (``tonghop.cli._pointed_at``): one self-signed
#: certificate whose private key was discarded. The API is plain HTTP on the loopback; this
#: only spares each Prefect client loading a CA bundle it never uses.
NO_TLS_CA = Path(__file__).with_name("data") / "no-tls.pem"

#: uvicorn's exit status when it could not start: the port taken between our check and its
#: bind, or the app's start-up failing (a database it cannot open): retried a few times only.
PORT_TAKEN = 3
PORT_RETRIES = 2


def _free_port() -> int:
    """A port on the loopback that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_app() -> Any:
    """Prefect's app factory (``prefect.server.api.server:create_app``), built with the cycle
    collector paused.

    The server's start is ~90% imports (pydantic models, SQLAlchemy tables, FastAPI routes),
    the part of every ``tonghop build`` that it can only wait for; without cycle passes over
    the growing heap the imports and the app took 4.5-4.9 s instead of 5.5-6.0 (measured on
    a slow moment of the 2-core machine). The collector is back on before the server answers
    its first request.
    """
    from tonghop import collector_paused

    with collector_paused():
        from prefect.server.api.server import create_app as prefect_app

        app = prefect_app()
    from prefect.server import api

    api_app = app.api_app  # type: ignore[attr-defined]  # set by Prefect's factory
    _called_routers_first(api_app, [getattr(api, name).router for name in CALLED_ROUTERS])
    return app


#: The API's routers that a build calls (``prefect.server.api.<name>.router``), in the order
#: of its first requests: a flow, its run, the server's default result storage, logs, events,
#: artifacts, task runs and states.
CALLED_ROUTERS = (
    "flows",
    "flow_runs",
    "admin",
    "logs",
    "events",
    "artifacts",
    "task_runs",
    "flow_run_states",
    "task_run_states",
)


def _called_routers_first(api_app: Any, called: list[Any]) -> None:
    """Move the routers a build calls to the front of the API's routes.

    FastAPI (0.137 and later) sets up an included router's routes (their dependencies and
    response models) the first time a request is matched against it, and a request is matched
    against every router before its own, in order. Prefect includes its 30 routers with the
    admin one near the end, and every run's start asks ``/admin/storage``: the server then set
    up all of them while the run waited (measured: its flow began 1.0-1.1 s after the health
    check, 0.40-0.45 s with this order). First in line, the routers a build calls match before
    the others are set up, and those are set up only if some other client calls them. The
    order changes nothing else: each router has a path prefix of its own. (Older FastAPI
    copies the routes at include time and has no router to rank them by: nothing moves.)
    """
    rank = {id(router): i for i, router in enumerate(called)}
    routes = api_app.router.routes

    def position(index: int) -> tuple[int, int]:
        router = getattr(routes[index], "original_router", None)
        if router is None:  # a route of the API app itself (its health check): stays first
            return (-1, index)
        return (rank.get(id(router), len(rank)), index)

    routes[:] = [routes[i] for i in sorted(range(len(routes)), key=position)]


class LocalAPI:
    """A temporary Prefect API server in a subprocess: ``start()``, ``wait()``, ``stop()``."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The API URL, as ``PREFECT_API_URL`` wants it."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> LocalAPI:
        """Launch the server and return at once; ``wait()`` before the first API call."""
        self.port = _free_port()
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            # no block types registered at start: to tell whether the registry changed, the
            # server imports every installed Prefect collection (prefect-dask: dask and
            # distributed), 0.6 s of a start that every run waits for; a build uses no block,
            # and `prefect server start` on the same database registers them as usual
            "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
            "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
            # its clients ask no CSRF token (tonghop.cli._pointed_at): none is needed
            "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "false",
        }
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",  # where this tonghop is, not the working folder
            str(Path(__file__).resolve().parent.parent),
            "--factory",
            "tonghop.api:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ]
        self.process = subprocess.Popen(args, env=env)
        atexit.register(self.stop)
        return self

    def wait(self, timeout: float) -> None:
        """Block until the API answers its health check; raise with the reason otherwise."""
        deadline = time.monotonic() + timeout
        retries = PORT_RETRIES
        while time.monotonic() < deadline:
            if self.process is None:
                raise RuntimeError("the local Prefect API was stopped")
            status = self.process.poll()
            if status == PORT_TAKEN and retries:  # perhaps lost the port: try another one
                retries -= 1
                self.start()
                continue
            if status is not None:
                self.process = None
                raise RuntimeError(
                    f"the local Prefect API exited with status {status} "
                    "(its own messages above say why)"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the local Prefect API did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server (idempotent): terminate, then kill after 5 s."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_early() -> LocalAPI | None:
    """Start a local API now if this process will need one, else None.

    Only when nothing has imported Prefect yet (the ``tonghop`` command itself, not a test or
    a program that set its own API) and the environment names no API.
    """
    if "prefect" in sys.modules or os.environ.get("PREFECT_API_URL"):
        return None
    return LocalAPI().start()
