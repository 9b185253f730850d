"""The local Prefect API that ``tonghop build`` starts before its imports: a real server."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from tonghop.api import LocalAPI, start_early


def test_local_api_answers_then_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    api = LocalAPI().start()
    try:
        api.wait(timeout=float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
        with urllib.request.urlopen(f"{api.url}/health", timeout=5) as response:
            assert response.status == 200 and json.load(response) is True
        process = api.process
        assert process is not None
    finally:
        api.stop()
    assert process.poll() is not None  # the server is gone
    assert api.process is None
    api.stop()  # stopping twice is harmless
    with pytest.raises(RuntimeError, match="stopped"):
        api.wait(timeout=1)


def test_no_early_server_when_prefect_is_already_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect  # noqa: F401  (a test, or a program that configured Prefect itself)

    assert start_early() is None
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert start_early() is None
