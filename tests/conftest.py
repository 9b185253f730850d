"""Shared fixtures: a Prefect test harness for the session, and the seed folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import tonghop  # noqa: F401  (Prefect defaults before Prefect is imported)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
#: The bar of issue 3 for the seeds, as score.py's thresholds.
SEED_BAR = (
    "--min-precision", "0.95", "--min-recall", "0.95", "--min-year", "1.0",
    "--min-chair", "1.0", "--min-grounded", "1.0", "--max-wrong-province", "0",
)  # fmt: skip


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A real Prefect API (ephemeral, on a temporary database) for flow tests."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def seeds() -> Path:
    """The five sample reports."""
    return SEEDS
