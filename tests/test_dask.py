"""The Dask runner gives the same facts and the same briefing bytes as the default runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flows.briefing import build_briefing
from tests.conftest import ROOT


def test_dask_runner_on_a_local_two_worker_cluster_matches_the_default(
    prefect_harness, seeds: Path, tmp_path: Path
) -> None:
    config = ROOT / "tonghop.toml"  # the same header block for both runs
    build_briefing(
        source=seeds, out=tmp_path / "thread", store=tmp_path / "thread.duckdb", config=config
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # its own ephemeral API
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tonghop.cli",
            "build",
            "--config",
            str(config),
            "--runner",
            "dask",
            "--workers",
            "2",
            "--batch-size",
            "2",
            "--source",
            str(seeds),
            "--out",
            str(tmp_path / "dask"),
            "--store",
            str(tmp_path / "dask.duckdb"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Creating a new Dask cluster" in done.stdout + done.stderr
    for name in ("facts.csv", "documents.csv", "briefing.docx"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "thread" / name).read_bytes()
