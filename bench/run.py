"""Benchmark harness: documents per second per stage and end to end, and peak memory.

    python bench/run.py --sizes 1000,10000 [--paths pure,flow] [--seed 1] [--rerun]
                        [--flow-via inprocess|cli] [--batch-size 1000] [--flow-arg KEY=VALUE ...]
                        [--data-root /tmp/tonghop-bench] [--note "what else ran"] [--profile]
                        [--server] [--prefect-home DIR]

Two paths over the same generated reports (``bench/generate.py``, made once per size and seed
and kept under ``--data-root``):

- ``pure``: the flow's stage functions called directly, no Prefect: the folder scan against a
  fresh store, ``tasks.batch.process_batch`` per batch in a process pool (``--workers``, default
  one per core, as the flow's default runner), ``save_batch``, the reuse check,
  ``tasks.aggregate.aggregate_store``, ``tasks.render.render_outputs``.
- ``flow``: tonghop through its Prefect flow, in-process (``flows.briefing.build_briefing``,
  with a no-op flow run first so that the ephemeral API's startup is measured apart) or as the
  CLI (``tonghop build`` in a subprocess; the startup is then what the run's own stage timings
  do not cover). Only public entry points are called; parameters the flow gains later pass
  through with ``--flow-arg key=value`` (``--flow-arg store=/tmp/x.duckdb``).

``--server`` runs the flow paths against one ``prefect server start`` (as scheduled and
triggered runs do) instead of the local API that ``tonghop build`` boots for itself.

Every measurement runs in a fresh child process, so that its peak resident memory
(``ru_maxrss`` from ``os.wait4``: the process and the children it waited for, such as the
Prefect server) is its own. Results are appended as JSON lines to ``bench/results/`` and a
markdown table is printed. ``--profile`` runs the pure path once under cProfile and prints the
top functions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PURE_STAGES = ("scan", "extract", "aggregate", "render")


# --- the machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on: cores, CPU model, RAM, Python and package versions."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
    versions = {}
    for name in (
        "prefect",
        "pandas",
        "duckdb",
        "regex",
        "docxtpl",
        "dask",
        "prefect-dask",
        "numpy",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": mem_gib,
        "python": platform.python_version(),
        "packages": versions,
    }


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: say under what load)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def speed_probe() -> float:
    """Seconds one core takes for a fixed piece of pure Python (the best of three), measured
    before each run: the VM's speed drifts by 30-50% within the hour, under no load of ours,
    and this says how fast the machine was when a row was measured (lower is faster: 0.12 s on
    a fast moment of the 2-core machine, 0.19 s a few seconds later).
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.perf_counter() - started)
    return round(best, 4)


def git_commit() -> str:
    """HEAD, with "+dirty" when the working tree has changes (others edit it concurrently)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""
    return head + ("+dirty" if dirty else "")


# --- data -------------------------------------------------------------------------------------


def ensure_data(root: Path, size: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The folder of ``size`` generated reports of ``seed``, generated once and reused."""
    folder = root / f"seed{seed}-n{size}"
    done = folder / ".done.json"
    if done.is_file():
        return folder / "reports", json.loads(done.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    sys.path.insert(0, str(ROOT))
    from bench.generate import generate

    t0 = time.perf_counter()
    nbytes = generate(size, folder / "reports", seed, folder / "gold")
    secs = time.perf_counter() - t0
    info = {"generate_s": round(secs, 2), "bytes": nbytes, "reports_per_s": round(size / secs)}
    done.write_text(json.dumps(info))
    return folder / "reports", info


# --- the children: one measurement each -------------------------------------------------------


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_pure(
    source: Path,
    out: Path,
    batch_size: int,
    stages: tuple[str, ...] = PURE_STAGES,
    workers: int = 0,
    rerun: bool = False,
) -> dict[str, Any]:
    """The flow's stages as plain function calls, no Prefect; seconds, CPU and memory after each.

    The same functions the flow's tasks wrap, in the same order: scan the folder against a
    fresh store, ``process_batch`` per batch in a process pool of ``workers`` (the flow's
    default runner is a pool of one process per core) with ``save_batch`` in this process,
    ``touch_unchanged``, the reuse check, ``aggregate_store`` and ``render_outputs``. The flow
    over the same reports, divided by this, is the orchestration overhead. ``stages`` may stop
    after extract or aggregate when a slow last stage would hide the others.
    """
    sys.path.insert(0, str(ROOT))
    t_import = time.perf_counter()
    import tonghop  # the same environment defaults as the CLI

    with tonghop.collector_paused():  # as the CLI imports
        from tasks.aggregate import aggregate_store
        from tasks.batch import process_batch
        from tasks.ingest import DEFAULT_MAX_BYTES, IGNORED_NAMES, read_manifest
        from tasks.render import Organisation, render_outputs
        from tasks.reuse import check_reuse, outputs_of, record_outputs
        from tasks.store import (
            connect,
            extractor_fingerprint,
            load_run_index,
            plan_scan,
            save_batch,
            scan_folder,
            touch_unchanged,
        )

    import_s = time.perf_counter() - t_import
    store = out / "pure-store.duckdb"
    org = Organisation()

    def run(run_id: str) -> tuple[dict[str, float], dict[str, float], dict[str, float], int]:
        seconds: dict[str, float] = {}
        cpu: dict[str, float] = {}
        rss: dict[str, float] = {}

        @contextlib.contextmanager
        def stage(name: str) -> Any:
            t, c = time.perf_counter(), time.process_time()
            yield
            seconds[name] = time.perf_counter() - t
            cpu[name] = time.process_time() - c
            rss[name] = _maxrss_mb()

        with stage("scan"):
            fingerprint = extractor_fingerprint()
            with connect(store) as con:
                plan = plan_scan(con, source, scan_folder(source, IGNORED_NAMES), fingerprint)
            manifest = read_manifest(source)
        with stage("extract"), connect(store) as con:
            if plan.to_read:
                index = load_run_index(con, [f.path for f in plan.to_read])
                chunks = [
                    plan.to_read[i : i + batch_size]
                    for i in range(0, len(plan.to_read), batch_size)
                ]
                # the flow keeps at most 4 batches in flight; map() here submits them all,
                # which only changes memory, not time: results are saved as they come
                calls = [(source, c, DEFAULT_MAX_BYTES, manifest) for c in chunks]
                with contextlib.ExitStack() as stack:
                    if workers == 1:  # in this process (what --profile sees)
                        done: Any = (process_batch(*c) for c in calls)
                    else:
                        pool = stack.enter_context(
                            ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
                        )
                        done = pool.map(process_batch, *zip(*calls, strict=True))
                    for batch in done:
                        save_batch(con, source, batch, run_id, fingerprint, index)
            touch_unchanged(con, plan, run_id)
        with stage("reuse-check"):
            check = check_reuse(store, source, out, None, None, org, "vi")
        n_facts = 0
        if check.reusable is not None:
            n_facts = int(check.reusable.info["facts"])
        elif "aggregate" in stages:
            with stage("aggregate"):
                data, _ = aggregate_store(store, source)
            n_facts = len(data.facts)
            if "render" in stages:
                with stage("render"):
                    written = render_outputs(data, out, org, "vi")
                    info = {"facts": n_facts}
                    with connect(store) as con:
                        record_outputs(con, run_id, check.key, outputs_of(written), info)
        return seconds, cpu, rss, n_facts

    seconds, cpu, rss, n_facts = run("pure-1")
    done_at = time.time()  # every output written: where the program would end
    result: dict[str, Any] = {
        "done_at": done_at,
        "import_s": import_s,
        "seconds": seconds,
        "total_s": sum(seconds.values()),
        "rss_after_mb": rss,
        "cpu_seconds": cpu,
        "facts": n_facts,
    }
    with connect(store) as con:
        result["documents"] = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    if rerun:
        again, _, _, _ = run("pure-2")
        result["rerun_s"] = sum(again.values())
        result["rerun_seconds"] = again
    return result


def child_flow(
    source: Path, out: Path, batch_size: int, flow_args: dict[str, Any], rerun: bool
) -> dict[str, Any]:
    """Run ``build_briefing`` in-process, after a no-op flow that starts the ephemeral API."""
    sys.path.insert(0, str(ROOT))
    t_import = time.perf_counter()
    import tonghop  # noqa: F401  (Prefect defaults, e.g. the startup timeout, before Prefect)

    # isort: split
    from prefect import flow

    from flows.briefing import build_briefing

    import_s = time.perf_counter() - t_import

    @flow(name="bench-warmup")
    def warmup() -> int:
        return 1

    t = time.perf_counter()
    warmup()
    startup_s = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    summary = build_briefing(source=source, out=out, batch_size=batch_size, **flow_args)
    flow_s, flow_cpu = time.perf_counter() - t, time.process_time() - c
    result: dict[str, Any] = {
        "import_s": import_s,
        "startup_s": startup_s,
        "total_s": flow_s,
        "flow_cpu_s": flow_cpu,
        "seconds": _flow_stages(summary),
        "documents": _count(summary, "documents_in_briefing", "documents"),
        "facts": _count(summary, "facts"),
    }
    if rerun:
        t = time.perf_counter()
        again = build_briefing(source=source, out=out, batch_size=batch_size, **flow_args)
        result["rerun_s"] = time.perf_counter() - t
        result["rerun_seconds"] = _flow_stages(again)
    return result


def _flow_stages(summary: Any) -> dict[str, float]:
    seconds = summary.get("seconds") if isinstance(summary, dict) else None
    return {str(k): float(v) for k, v in (seconds or {}).items()}


def _count(summary: Any, *keys: str) -> int | None:
    if not isinstance(summary, dict):
        return None
    for key in keys:
        value = summary.get(key)
        if isinstance(value, int):
            return value
    return None


def _child_main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.child == "pure":
        result = child_pure(
            Path(args.source),
            out,
            args.batch_size,
            _stages(args.pure_stages),
            args.workers,
            args.rerun,
        )
    elif args.child == "profile":
        result = {"profile": profile_pure(Path(args.source), out, args.batch_size)}
    else:
        result = child_flow(
            Path(args.source), out, args.batch_size, _flow_args(args.flow_arg), args.rerun
        )
    result["child_maxrss_mb"] = _maxrss_mb()
    result["child_children_maxrss_mb"] = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )
    print("BENCH-RESULT " + json.dumps(result))
    return 0


def _stages(text: str) -> tuple[str, ...]:
    stages = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = set(stages) - set(PURE_STAGES)
    if unknown or not {"scan", "extract"} <= set(stages):
        raise SystemExit(f"--pure-stages: scan,extract[,aggregate[,render]], got {text}")
    return stages


def _flow_args(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values that read as JSON (numbers, true, null) are typed."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--flow-arg wants key=value, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


# --- the parent: spawn, wait, collect ---------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux: /proc/PID/task/*/children)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants now, in MB (0 if gone)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
            stack += _children(p)
    return total / 2**20


def spawn(
    cmd: list[str], env: dict[str, str], cwd: Path
) -> tuple[int, str, str, float, float, float, float]:
    """Run ``cmd``; return (status, stdout, stderr, wall s, peak RSS MB, CPU s, peak tree MB).

    Peak RSS is ``ru_maxrss`` (the largest single process of the tree); peak tree MB is the
    largest sum over the whole tree at once (the command, its workers, the Prefect server),
    sampled every 0.2 s. CPU seconds (user + system) stay meaningful on a shared machine where
    wall time does not.
    """
    t = time.perf_counter()
    peak = [0.0]
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, env=env, cwd=cwd)
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                peak[0] = max(peak[0], tree_rss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        out_f.seek(0)
        err_f.seek(0)
        stdout = out_f.read().decode("utf-8", "replace")
        stderr = err_f.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, stdout, stderr, wall, usage.ru_maxrss / 1024, cpu, peak[0]


def measure(
    path: str,
    source: Path,
    size: int,
    args: argparse.Namespace,
    scratch: Path,
) -> dict[str, Any]:
    """One measurement in a fresh child process; the record appended to the results."""
    out = scratch / f"out-{path}-{size}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ)
    # a fresh Prefect database measures a first install (its migrations take ~20 s);
    # --prefect-home reuses one, as a user's second and later runs do
    env["PREFECT_HOME"] = str(args.prefect_home or scratch / f"prefect-home-{path}-{size}")
    env.setdefault("PYTHONHASHSEED", "0")
    if args.api_url and path != "pure":
        env["PREFECT_API_URL"] = args.api_url  # the running server of --server
    flow_args = _flow_args(args.flow_arg)
    if "store" not in flow_args and path != "pure":
        # a fresh store per measurement (--repeat too): a re-used one would skip the
        # unchanged reports
        store = scratch / f"store-{path}-{size}.duckdb"
        for stale in (store, store.with_name(store.name + ".wal")):
            stale.unlink(missing_ok=True)
        flow_args["store"] = str(store)
    base = [sys.executable, str(Path(__file__).resolve())]
    if path == "cli":
        cmd = [
            str(Path(sys.executable).with_name("tonghop")),
            "build", "--source", str(source), "--out", str(out),
            "--batch-size", str(args.batch_size),
        ]  # fmt: skip
        for key, value in flow_args.items():
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    else:
        cmd = [*base, "--child", path, "--source", str(source), "--out", str(out)]
        cmd += ["--batch-size", str(args.batch_size), "--pure-stages", args.pure_stages]
        cmd += [
            f"--flow-arg={k}={json.dumps(v) if not isinstance(v, str) else v}"
            for k, v in flow_args.items()
        ]
        cmd += ["--workers", str(args.workers)]
        if args.rerun and path in ("flow", "pure"):
            cmd.append("--rerun")
    load_before = loadavg()
    probe = speed_probe()
    started_at = time.time()
    status, stdout, stderr, wall, tree_rss, cpu, tree_total = spawn(cmd, env, ROOT)
    record: dict[str, Any] = {
        "path": path,
        "size": size,
        "status": status,
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(tree_rss, 1),
        "peak_tree_mb": round(tree_total, 1),
        "cpu_s": round(cpu, 3),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "probe_s": probe,
        "batch_size": args.batch_size,
        "flow_args": flow_args if path != "pure" else {},
    }
    if path != "pure":
        record["api"] = "server" if args.api_url else "local"
    if status != 0:
        lines = stderr.strip().splitlines() or ["(no stderr)"]
        raised = [x for x in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", x)]
        record["error"] = (raised or lines)[-1][:500]
        return record
    if path == "cli":
        run_json = out / "run.json"
        summary = json.loads(run_json.read_text()) if run_json.is_file() else {}
        stages = _flow_stages(summary)
        record.update(
            seconds=stages,
            total_s=wall,
            startup_s=round(wall - sum(stages.values()), 3) if stages else None,
            documents=_count(summary, "documents_in_briefing", "documents"),
            facts=_count(summary, "facts"),
        )
        if args.rerun:
            _, _, _, wall2, rss2, _, total2 = spawn(cmd, env, ROOT)
            summary2 = json.loads(run_json.read_text()) if run_json.is_file() else {}
            record.update(rerun_s=round(wall2, 3), rerun_seconds=_flow_stages(summary2))
            record["peak_rss_mb"] = round(max(tree_rss, rss2), 1)
            record["peak_tree_mb"] = round(max(tree_total, total2), 1)
    else:
        line = next((x for x in stdout.splitlines() if x.startswith("BENCH-RESULT ")), "")
        record.update(json.loads(line[len("BENCH-RESULT ") :]) if line else {"error": "no result"})
        if isinstance(record.get("done_at"), float):
            # the pure path as a program, from its launch to its last output written: what the
            # command's wall time covers too (interpreter start, imports), without the pure
            # child's bench-only ending (a count query, interpreter teardown)
            record["program_s"] = round(record.pop("done_at") - started_at, 3)
    total = record.get("total_s") or 0
    record["docs_per_s"] = round(size / total, 1) if total else None
    record["stage_docs_per_s"] = {
        k: round(size / v, 1) if v > 0 else None for k, v in (record.get("seconds") or {}).items()
    }
    for key in ("total_s", "import_s", "startup_s", "rerun_s"):
        if isinstance(record.get(key), float):
            record[key] = round(record[key], 3)
    record["seconds"] = {k: round(v, 3) for k, v in (record.get("seconds") or {}).items()}
    return record


# --- a running Prefect server (--server) -----------------------------------------------------


@contextlib.contextmanager
def prefect_server(home: Path, timeout: float = 180.0) -> Any:
    """``prefect server start`` on a free loopback port for the measurements; yields its API URL.

    Scheduled and triggered runs (``tonghop serve``) talk to a running server, so they never
    pay the start of the local API that each ``tonghop build`` without ``PREFECT_API_URL``
    boots for itself; this measures that path. The server is not a child of the measured
    command, so its memory is not in ``tree MB``.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    prefect = str(Path(sys.executable).with_name("prefect"))
    cmd = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
                raise SystemExit(f"prefect server start exited: {err[-500:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/health", timeout=2) as response,
            ):
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"prefect server start did not answer within {timeout:.0f} s")
            time.sleep(0.2)
        print(f"# prefect server at {url}", file=sys.stderr)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the table --------------------------------------------------------------------------------


def table(records: list[dict[str, Any]]) -> str:
    """A markdown table of the records, with the orchestration overhead flow / pure.

    Each flow or CLI record is compared with the pure record of its size measured last before
    it (runs measured together share the machine's speed of the moment). Two overheads:

    - stages: the flow's stage seconds against the pure stage seconds (the same functions);
    - end to end: the whole ``tonghop build`` command (interpreter start, imports, the API's
      start, the task runs) against the pure path as a program (interpreter start, imports,
      the stages), launch to last output written. The in-process ``flow`` path has no end to
      end figure: it is timed from inside a process that has already started.
    """
    stages: list[str] = []
    for r in records:
        for k in r.get("seconds") or {}:
            if k not in stages:
                stages.append(k)
    head = ["size", "path", "total s", "program s", "cpu s", "docs/s"]
    head += [*[f"{s} docs/s" for s in stages], "startup s", "re-run s", "peak MB", "tree MB"]
    head += ["docs", "facts", "overhead stages", "overhead end to end"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    pure: dict[int, dict[str, Any]] = {}
    for r in records:
        if r.get("error"):
            lines.append(f"| {r['size']} | {r['path']} | failed: {r['error'][:80]} |")
            continue
        if r["path"] == "pure" and r.get("total_s"):
            pure[r["size"]] = r
        per = r.get("stage_docs_per_s") or {}
        over_stages = over_e2e = ""
        base = pure.get(r["size"]) if r["path"] != "pure" else None
        if base and r.get("total_s"):
            stage_sum = sum((r.get("seconds") or {}).values())
            over_stages = f"{stage_sum / base['total_s'] - 1:+.0%}" if stage_sum else ""
            if r["path"] == "cli" and base.get("program_s"):
                over_e2e = f"{r['total_s'] / base['program_s'] - 1:+.0%}"
        program = r.get("program_s") if r["path"] == "pure" else None
        if r["path"] == "cli":
            program = r.get("total_s")
        cells = [
            f"{r['size']:,}", _label(r), _f(r.get("total_s")), _f(program), _f(r.get("cpu_s")),
            _f(r.get("docs_per_s"), 0),
            *[_f(per.get(s), 0) for s in stages],
            _f(r.get("startup_s")), _f(r.get("rerun_s")),
            _f(r.get("peak_rss_mb"), 0), _f(r.get("peak_tree_mb"), 0),
            str(r.get("documents", "")), str(r.get("facts", "")), over_stages, over_e2e,
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(records: list[dict[str, Any]]) -> str:
    """Per size and path: the median and range of the wall time and of the overheads, each run
    against the pure run measured just before it (as in ``table``)."""
    groups: dict[tuple[int, str], list[tuple[float, float | None, float | None]]] = {}
    pure: dict[int, dict[str, Any]] = {}
    for r in records:
        if r.get("error") or not r.get("total_s"):
            continue
        if r["path"] == "pure":
            pure[r["size"]] = r
        base = pure.get(r["size"]) if r["path"] != "pure" else None
        stages = e2e = None
        if base:
            stages = sum((r.get("seconds") or {}).values()) / base["total_s"] - 1
            if r["path"] == "cli" and base.get("program_s"):
                e2e = r["total_s"] / base["program_s"] - 1
        groups.setdefault((r["size"], _label(r)), []).append((r["total_s"], stages, e2e))

    def spread(values: list[float], pct: bool = False) -> str:
        if not values:
            return ""
        fmt = (lambda v: f"{v:+.0%}") if pct else (lambda v: f"{v:.1f}")
        low, mid, high = min(values), statistics.median(values), max(values)
        return f"{fmt(mid)} ({fmt(low)} to {fmt(high)})" if len(values) > 1 else fmt(mid)

    lines = [
        "| size | path | runs | total s, median (range) | overhead stages | overhead end to end |",
        "|---|---|---|---|---|---|",
    ]
    for (size, label), runs in groups.items():
        walls = [w for w, _, _ in runs]
        stages = [x for _, x, _ in runs if x is not None]
        e2e = [x for _, _, x in runs if x is not None]
        lines.append(
            f"| {size:,} | {label} | {len(runs)} | {spread(walls)} | {spread(stages, True)} "
            f"| {spread(e2e, True)} |"
        )
    return "\n".join(lines)


def _label(record: dict[str, Any]) -> str:
    """The path, and ``@server`` when the flow talked to a running Prefect server."""
    return record["path"] + ("@server" if record.get("api") == "server" else "")


def _f(value: Any, digits: int = 1) -> str:
    if value is None or value == "":
        return ""
    return f"{value:,.{digits}f}"


# --- profile ----------------------------------------------------------------------------------


def profile_pure(source: Path, scratch: Path, batch_size: int, top: int = 10) -> str:
    """cProfile the pure path once; the top functions by own time and by cumulative time."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    (scratch / "out-profile").mkdir(parents=True, exist_ok=True)
    prof.enable()
    child_pure(source, scratch / "out-profile", batch_size, workers=1)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top + 15)
    return buf.getvalue()


# --- the command ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point: see the module docstring."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1000", help="comma-separated numbers of reports")
    ap.add_argument("--paths", default="pure,flow", help="pure, flow (in-process), cli")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--flow-arg", action="append", default=[], help="KEY=VALUE for the flow")
    ap.add_argument("--rerun", action="store_true", help="run the flow twice: the 2nd is a re-run")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure the paths N times, interleaved (pure, cli, pure, cli, ...): the machine's "
        "speed drifts, so a path is compared with the run of the other measured just before",
    )
    ap.add_argument("--data-root", type=Path, default=Path(tempfile.gettempdir()) / "tonghop-bench")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON lines")
    ap.add_argument("--note", default="", help="free text stored with the results (the load)")
    ap.add_argument("--profile", action="store_true", help="cProfile the pure path (first size)")
    ap.add_argument("--keep", action="store_true", help="keep the outputs and stores")
    ap.add_argument(
        "--server",
        action="store_true",
        help="run the flow paths against a `prefect server start` (as scheduled and triggered "
        "runs do) instead of the local API each `tonghop build` starts for itself",
    )
    ap.add_argument(
        "--prefect-home",
        type=Path,
        default=None,
        help="PREFECT_HOME to reuse (default: a fresh one per measurement)",
    )
    # the child side (internal)
    ap.add_argument(
        "--pure-stages",
        default=",".join(PURE_STAGES),
        help="stages of the pure path (default all; leave render out at large sizes)",
    )
    ap.add_argument(
        "--workers", type=int, default=0, help="processes of the pure path (default: cores)"
    )
    ap.add_argument("--child", choices=("pure", "flow", "profile"), help=argparse.SUPPRESS)
    ap.add_argument("--source", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child_main(args)

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = set(paths) - {"pure", "flow", "cli"}
    if unknown:
        raise SystemExit(f"unknown path(s): {', '.join(sorted(unknown))}")
    args.results.mkdir(parents=True, exist_ok=True)
    results_file = args.results / f"{datetime.now(UTC):%Y%m%d}.jsonl"
    context = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "seed": args.seed,
        "note": args.note,
    }
    scratch = Path(tempfile.mkdtemp(prefix="tonghop-bench-run-"))
    records: list[dict[str, Any]] = []
    # --server: one running server for every flow measurement (stopped in `finally`)
    servers = contextlib.ExitStack()
    try:
        home = args.prefect_home or scratch / "prefect-home-server"
        args.api_url = servers.enter_context(prefect_server(home)) if args.server else None
        for size in sizes:
            source, gen = ensure_data(args.data_root, size, args.seed)
            print(
                f"# {size:,} reports in {source} (generated at {gen['reports_per_s']:,} reports/s)",
                file=sys.stderr,
            )
            if args.profile and size == sizes[0]:
                # in a child too: a parent grown by the profile would inflate the children's
                # ru_maxrss (it counts the pages a child had before exec)
                cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "profile"]
                cmd += ["--source", str(source), "--out", str(scratch / "out-profile")]
                cmd += ["--batch-size", str(args.batch_size)]
                _, stdout, stderr, *_ = spawn(cmd, dict(os.environ), ROOT)
                line = next((x for x in stdout.splitlines() if x.startswith("BENCH-RESULT ")), "")
                print(json.loads(line[13:])["profile"] if line else stderr[-3000:])
            for path in [p for _ in range(max(1, args.repeat)) for p in paths]:
                record = {**context, **measure(path, source, size, args, scratch), "generate": gen}
                records.append(record)
                with results_file.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                print(
                    f"#   {path}: {record.get('total_s')} s, {record.get('docs_per_s')} docs/s, "
                    f"peak {record.get('peak_rss_mb')} MB"
                    + (f" ERROR {record['error']}" if record.get("error") else ""),
                    file=sys.stderr,
                )
    finally:
        servers.close()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    m = context["machine"]
    print(
        f"\n{m['nproc']} cores, {m['cpu']}, {m['mem_gib']} GiB, Python {m['python']}; "
        f"commit {context['commit']}; load before/after and speed probe (s, lower is faster): "
        + ", ".join(
            f"{r['path']}@{r['size']}: {r['loadavg_before'][:1]}→{r['loadavg_after'][:1]} "
            f"probe {r.get('probe_s')}"
            for r in records
        )
        + "\n"
    )
    print(table(records))
    if args.repeat > 1:
        print("\n" + summary(records))
    print(f"\n(appended to {results_file})")
    return 0 if all(not r.get("error") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
