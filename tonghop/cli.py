"""The ``tonghop`` command line.

    tonghop build [--source seeds] [--out out] [--lang vi|en] [--template PATH] [--store PATH]
                  [--overrides FILE] [--runner thread|dask] [--dask-address ADDR]
    tonghop facts export [--store PATH] [--out DIR]

``build`` runs the Prefect flow ``flows/briefing.py:build_briefing`` on Prefect's local
ephemeral API (no server to start) unless ``PREFECT_API_URL`` points at a server. The exit
status is non-zero only when no briefing could be built, with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import tonghop
from tonghop.api import NO_TLS_CA, LocalAPI, start_early

if TYPE_CHECKING:  # the config imports the render stage (pandas, Prefect): see _build
    from tonghop.config import Config

DEFAULT_STORE = Path("data/tonghop.duckdb")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tonghop",
        description="Turn a folder of Vietnamese reports on local defence and military work "
        "into one consolidated Word briefing (Prefect flow build-briefing).",
    )
    parser.add_argument("--version", action="version", version=f"tonghop {tonghop.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _build_parser(sub)
    _serve_parser(sub)
    facts = sub.add_parser(
        "facts",
        help="work with the stored facts",
        description="Work with the facts kept in the store.",
    )
    facts_sub = facts.add_subparsers(dest="facts_command", required=True, metavar="ACTION")
    export = facts_sub.add_parser(
        "export",
        help="write the stored facts for review (CSV and XLSX, with their ids)",
        description="Write facts.csv and facts.xlsx with every stored fact and its stable id, "
        "for analysts to review and to write an overrides file from.",
    )
    export.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help=f"the store to read (default: {DEFAULT_STORE})",
    )
    export.add_argument(
        "--out",
        type=Path,
        default=Path("out/review"),
        help="folder to write facts.csv and facts.xlsx into (default: out/review)",
    )
    return parser


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve the scheduled deployments of build-briefing (needs a Prefect server)",
        description="Register build-briefing/<name> for each [schedules.cron] entry (timezone "
        "Asia/Ho_Chi_Minh) and build-briefing/manual, and run their flow runs until "
        "interrupted. Set PREFECT_API_URL to a server started with `prefect server start`.",
    )
    serve.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $TONGHOP_CONFIG, else ./tonghop.toml when present)",
    )
    serve.add_argument("--limit", type=int, default=1, help="flow runs at a time (default: 1)")


def _build_parser(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser(
        "build",
        help="build the briefing of a folder of reports",
        description="Read every new or changed report of SOURCE, extract its facts into the "
        "store, and write briefing.docx, facts.csv, documents.csv, quarantine.csv and run.json "
        "into OUT.",
    )
    build.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $TONGHOP_CONFIG, else ./tonghop.toml when present)",
    )
    build.add_argument(
        "--source",
        type=Path,
        default=None,
        help="folder of reports to read; never written to (default: [paths] source, or seeds)",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the briefing and the tables (default: [paths] out, or out)",
    )
    build.add_argument(
        "--email",
        action="store_true",
        help="e-mail the briefing to [mail] to / TONGHOP_MAIL_TO after building it",
    )
    build.add_argument(
        "--archive",
        type=Path,
        default=None,
        help="archive folder of dated briefings (default: [paths] archive, or OUT/archive)",
    )
    build.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of the briefing (default: vi)"
    )
    build.add_argument(
        "--template",
        type=Path,
        default=None,
        help="a .docx template with jinja2 tags instead of the bundled one",
    )
    build.add_argument(
        "--store",
        type=Path,
        default=None,
        help="the DuckDB store that remembers sources, facts and runs "
        f"(default: [paths] store, or {DEFAULT_STORE})",
    )
    build.add_argument(
        "--overrides",
        type=Path,
        default=None,
        help="CSV or YAML file of analysts' corrections: fact_id, action "
        "(correct|suppress), value, note",
    )
    build.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="files per task run of the ingest/normalise/extract stages (default: 1000)",
    )
    build.add_argument(
        "--max-file-mb",
        type=float,
        default=20.0,
        help="files larger than this go to quarantine (default: 20)",
    )
    build.add_argument(
        "--runner",
        choices=("process", "thread", "dask"),
        default="process",
        help="task runner of the batches: a pool of processes on this machine (one per core), "
        "Prefect's thread pool (one core), or Dask (a local cluster, or --dask-address) "
        "(default: process)",
    )
    build.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes of the process runner or workers of the local Dask cluster "
        "(default: the number of cores)",
    )
    build.add_argument(
        "--dask-address",
        default=None,
        help="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tonghop`` command."""
    args = _parser().parse_args(argv)
    if args.command == "build":
        return _build(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "facts" and args.facts_command == "export":
        return _facts_export(args)
    return 2


def _settings(args: argparse.Namespace) -> tuple[Path | None, Config]:
    """The config file and its validated content; raises ConfigError naming a bad key."""
    from tonghop.config import find_config, load_config

    path = find_config(args.config, os.environ, Path.cwd())
    return path, load_config(path, os.environ)


def _build(args: argparse.Namespace) -> int:
    early = start_early()  # boots on the other core while the flow's modules are imported
    with tonghop.collector_paused():
        from flows.briefing import build_briefing
        from tonghop.config import ConfigError

        if args.runner == "process":  # what the workers, forked from this process, will need
            from tonghop.pool import preload

            preload()

    try:
        config_path, settings = _settings(args)
        if args.email:
            settings.require_mail()
    except ConfigError as err:
        print(f"tonghop: {err}", file=sys.stderr)
        return 2
    try:
        with _api(early) as api_ready, _runner(args) as wrap:
            run = wrap(build_briefing)  # a copy of the flow: its parameter schema, ~0.1 s
            api_ready()  # the workers were forked meanwhile (process runner)
            result = run(
                source=args.source or settings.paths.source,
                out=args.out or settings.paths.out,
                lang=args.lang,
                template=args.template,
                batch_size=args.batch_size,
                max_file_bytes=int(args.max_file_mb * 1024 * 1024),
                store=args.store or settings.paths.store,
                overrides=args.overrides,
                config=config_path,
                email=args.email,
                archive=args.archive,
            )
    except Exception as err:  # the flow's own failure: one line, non-zero exit
        print(f"tonghop: no briefing built: {err}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{n} {k}" for k, n in result["documents"].items() if n)
    print(
        f"tonghop: {result['briefing']} ({result['documents_in_briefing']} documents, "
        f"{result['facts']} facts; this run: {counts or 'nothing new'})"
    )
    return 0


@contextlib.contextmanager
def _api(early: LocalAPI | None) -> Iterator[Callable[[], None]]:
    """The Prefect API of this run, for this process, its threads and its workers.

    The API Prefect's settings name (environment, profile, ``prefect.toml``, a test harness)
    if any; otherwise a local one: the one started early, or one started now. One place for
    every runner: process-pool and Dask workers alike need the URL handed to them.

    Yields a function that blocks until the API answers: the URL is set before the server is
    up, so that what needs only the URL (forking the pool's workers) need not wait for it.
    """
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    if configured:
        if early is not None:
            early.stop()
        with _pointed_at(configured):
            yield lambda: None
        return
    api = early or LocalAPI().start()
    timeout = float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    try:
        with _pointed_at(api.url, local=True):
            yield lambda: api.wait(timeout)
    finally:
        api.stop()


@contextlib.contextmanager
def _pointed_at(url: str, local: bool = False) -> Iterator[None]:
    """Every thread and worker of this run talks to the API at ``url``.

    Worker processes read the environment when they start; threads without a settings
    context of their own (the process pool's message forwarder, log and event workers) read
    Prefect's process-global settings, which are refreshed from the environment here: without
    that they would start an ephemeral server of their own.

    On a ``local`` API the flow run sends no heartbeats: they let a server mark as crashed a
    run whose process died, and this server dies with the process; the engine's heartbeat
    thread also sleeps in 1 s steps, which the end of every run waited out (0.5 s on average).
    Nor do clients ask its version (``/admin/version``): it is this very Prefect, and the
    first request to that route made the server set up every route before it (~0.8 s); nor a
    CSRF token (``/csrf-token``, which that server refuses: ``LocalAPI`` starts it without
    CSRF protection), a round trip before the first write of every client. Nor do they load
    a CA bundle: every Prefect client builds a TLS context from ``certifi``'s ~150
    certificates (25-35 ms) even for a plain-HTTP URL, three clients per task run in a
    worker. The local API is plain HTTP on the loopback, so their trust store is
    ``NO_TLS_CA``, one certificate whose private key was discarded: it is never used, and
    if it ever were it would trust nothing.
    """
    from prefect.context import refresh_global_settings_context
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    env = {"PREFECT_API_URL": url}
    updates: dict = {PREFECT_API_URL: url}
    if local:
        env["PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED"] = "false"
        env["PREFECT_CLIENT_CSRF_SUPPORT_ENABLED"] = "false"
        env["PREFECT_API_SSL_CERT_FILE"] = str(NO_TLS_CA)
        updates[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    refresh_global_settings_context()
    try:
        with temporary_settings(updates):
            yield
            APILogWorker.drain_all()  # send the last logs before the server goes away
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        refresh_global_settings_context()


@contextlib.contextmanager
def _runner(args: argparse.Namespace) -> Iterator[Callable]:
    """The flow as it should run: in threads, a process pool or a DaskTaskRunner (``_api``
    has pointed the workers at this run's API)."""
    if args.runner == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        yield lambda f: f.with_options(task_runner=ThreadPoolTaskRunner())
        return
    if args.runner == "process":
        from tonghop.pool import WarmProcessPool, fork_workers

        workers = args.workers or os.cpu_count() or 1
        forked = fork_workers(workers)  # before any thread of this process starts
        try:
            yield lambda f: f.with_options(task_runner=WarmProcessPool(workers, forked))
        finally:
            if forked is not None:
                forked.close()
        return
    from prefect_dask import DaskTaskRunner

    if args.dask_address:
        runner = DaskTaskRunner(address=args.dask_address)
    else:
        runner = DaskTaskRunner(
            cluster_kwargs={
                "n_workers": args.workers or os.cpu_count() or 1,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            }
        )
    yield lambda f: f.with_options(task_runner=runner)


def _serve(args: argparse.Namespace) -> int:
    from prefect.settings import PREFECT_API_URL

    from tonghop.config import ConfigError
    from tonghop.serve import serve_deployments

    try:
        config_path, settings = _settings(args)
    except ConfigError as err:
        print(f"tonghop: {err}", file=sys.stderr)
        return 2
    if not PREFECT_API_URL.value():
        print(
            "tonghop: serve needs a Prefect server: run `prefect server start`, then "
            "PREFECT_API_URL=http://127.0.0.1:4200/api tonghop serve",
            file=sys.stderr,
        )
        return 2
    serve_deployments(settings, config_path, limit=args.limit)
    return 0


def _facts_export(args: argparse.Namespace) -> int:
    from tasks.export import xlsx_bytes
    from tasks.render import csv_bytes, write_atomic
    from tasks.store import connect, load_facts

    if not args.store.is_file():
        print(f"tonghop: no store at {args.store}: run tonghop build first", file=sys.stderr)
        return 1
    with connect(args.store) as con:
        facts = load_facts(con)
    write_atomic(args.out / "facts.csv", csv_bytes(facts))
    write_atomic(args.out / "facts.xlsx", xlsx_bytes({"facts": facts}))
    print(f"tonghop: {len(facts)} facts written to {args.out}/facts.csv and facts.xlsx")
    return 0


def run() -> None:
    """The ``tonghop`` command: ``main``, then exit without the interpreter's teardown.

    By the time ``main`` returns every output is written, closed and renamed into place, the
    worker pool and the local API are stopped and Prefect's logs are sent; what the teardown
    would add is freeing the modules and objects of a large heap one by one: ~0.8 s at the end
    of every build on two cores, a tenth of a re-run. An exception still exits the usual way.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
