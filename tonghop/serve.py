"""``tonghop serve``: the scheduled and manual deployments of ``build-briefing``, served.

One deployment per entry of ``[schedules.cron]`` (``build-briefing/monthly``,
``build-briefing/year-end``), each with its cron in ``Asia/Ho_Chi_Minh``, and one deployment
without a schedule, ``build-briefing/manual``, to trigger by hand:

    prefect server start                                     # once, in another terminal
    PREFECT_API_URL=http://127.0.0.1:4200/api tonghop serve
    prefect deployment run 'build-briefing/manual' --param source=/data/reports --param out=/tmp/o

This is ``flow.serve`` semantics (``prefect.serve``): the process that serves is the one that
runs the flows, each run in a subprocess, as long as it lives; no work pool, no worker. The
same deployments, for a work pool and workers, are declared in ``prefect.yaml``.

The parameters of every deployment come from the config (``[paths]``, and the config file
itself so that a run finds its header block and mail settings); never the SMTP password,
which Prefect would store in clear with the deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from tonghop.config import Config

#: The deployment without a schedule, for runs triggered by hand.
MANUAL = "manual"


def deployment_parameters(
    config: Config, config_path: Path | None, accepted: set[str]
) -> dict[str, Any]:
    """The default parameters of the deployments, limited to what the flow accepts.

    Args:
        config: the validated config.
        config_path: the config file, passed on as the ``config`` parameter when the flow
            takes one (so that a run reads ``[organisation]`` and ``[mail]`` itself).
        accepted: the parameter names of the flow.

    Returns:
        JSON-ready parameters (paths as strings). Without a ``config`` parameter in the flow,
        the header block goes as ``organisation``.
    """
    wanted: dict[str, Any] = {
        "source": str(config.paths.source),
        "out": str(config.paths.out),
        "store": str(config.paths.store),
    }
    if config.schedules.email:
        wanted["email"] = True
    if config_path is not None and "config" in accepted:
        wanted["config"] = str(config_path.resolve())
    elif "organisation" in accepted:
        wanted["organisation"] = config.organisation.model_dump(  # type: ignore[attr-defined]
            mode="json", exclude_none=True
        )
    return {k: v for k, v in wanted.items() if k in accepted}


def build_deployments(
    config: Config,
    config_path: Path | None = None,
    flow: Flow[..., Any] | None = None,
) -> list[RunnerDeployment]:
    """The deployments to serve: one per ``[schedules.cron]`` entry and ``manual``.

    Args:
        config: the validated config (schedules, paths).
        config_path: the config file, handed to each run when the flow accepts ``config``.
        flow: the flow to deploy; default ``flows.briefing.build_briefing``.
    """
    if flow is None:
        from flows.briefing import build_briefing

        flow = build_briefing
    accepted = set(flow.parameters.properties)
    parameters = deployment_parameters(config, config_path, accepted)
    tz = config.schedules.timezone
    # to_deployment is sync-or-async; called from sync code it returns the deployment
    deployments: list[RunnerDeployment] = [
        cast(
            RunnerDeployment,
            flow.to_deployment(
                name=name,
                schedules=[Cron(expr, timezone=tz)],
                parameters=parameters,
                description=f"tonghop briefing on schedule '{expr}' ({tz})",
                tags=["tonghop", "scheduled"],
            ),
        )
        for name, expr in sorted(config.schedules.cron.items())
    ]
    manual = flow.to_deployment(
        name=MANUAL,
        parameters=parameters,
        description="tonghop briefing, triggered by hand (prefect deployment run)",
        tags=["tonghop", "manual"],
    )
    deployments.append(cast(RunnerDeployment, manual))
    return deployments


def serve_deployments(
    config: Config,
    config_path: Path | None = None,
    limit: int | None = 1,
    poll_seconds: float | None = None,
) -> None:
    """Serve the deployments until interrupted (Ctrl-C pauses their schedules).

    Needs a Prefect server (``PREFECT_API_URL``): schedules do not live in the ephemeral API.

    Args:
        config: the validated config.
        config_path: the config file, handed to each run.
        limit: flow runs at a time (1: two briefings never write the same folder at once).
        poll_seconds: how often to look for runs to start (Prefect's default: 10 s).
    """
    from prefect import serve

    kwargs: dict[str, Any] = {}
    if poll_seconds is not None:
        kwargs["query_seconds"] = poll_seconds
    serve(*build_deployments(config, config_path), limit=limit, **kwargs)
