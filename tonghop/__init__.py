"""tonghop: Vietnamese reports on local defence and military work in, one Word briefing out."""

import os

# Prefect reads its settings at import: set the defaults this tool needs before that happens.
# No network here, and a fresh ephemeral database takes ~20 s to start on a 2-core machine.
for _key, _value in {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_API_SERVICES_TELEMETRY_ENABLED": "false",
}.items():
    os.environ.setdefault(_key, _value)

__version__ = "0.1.0"
