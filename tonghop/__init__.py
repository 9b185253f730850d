"""tonghop: Vietnamese reports on local defence and military work in, one Word briefing out."""

import contextlib
import gc
import os
from collections.abc import Iterator

# Prefect reads its settings at import: set the defaults this tool needs before that happens.
# No network here, and a fresh ephemeral database takes ~20 s to start on a 2-core machine.
for _key, _value in {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_API_SERVICES_TELEMETRY_ENABLED": "false",
}.items():
    os.environ.setdefault(_key, _value)

__version__ = "0.1.0"


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cycle collection inside; what was built is frozen (kept out of later passes) after.

    For the imports of a process's start: Prefect, pandas, DuckDB and the stages build ~1 M
    long-lived objects and no garbage, while the collector runs ever longer passes over the
    growing heap: ~15% of the import time (measured 3.6-3.85 → 3.0-3.3 CPU-s for the
    command's imports). The collector is back on after, also in processes forked later.
    """
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        gc.enable()
