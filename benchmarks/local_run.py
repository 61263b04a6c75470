"""Local cluster benchmark: the seed workflow end to end, and the local kubelet's overhead per task.

Prints a Markdown table. ``--write-readme`` also replaces the "Local cluster" section of
benchmarks/README.md.

- end to end: ``tasksecrets run examples/use_secrets.py my_secret_workflow`` (secrets in a fresh
  encrypted store; every task rendered, mutated, materialized and run in its own process) against
  ``pyflyte run benchmarks/peers/flytekit_use_secrets.py my_secret_workflow`` (the same workflow for
  flytekit, which runs tasks in-process and gets the secrets as ``_FSEC_*`` env vars), alternating,
  in the same run; wall time of the whole command, median and p99, and the ratio.
- per task: the seed workflow run many times through ``LocalClusterExecutor`` in this process; for
  every task call, its total time (render + mutate + materialize + spawn and run the task's process
  + cleanup) minus the time the same task takes run in-process (``InProcessExecutor``, secrets in env
  vars): that difference is what running a task as a local pod costs. Also shown: its parts
  (prepare = render + mutate + materialize; process = the child from spawn to exit) and a bare
  ``python -c pass`` for scale, since most of the process part is the interpreter starting, and the
  same started the way a task is (:func:`tasksecrets.local.procguard.spawn_task`) against plainly.

Targets: end to end faster than ``pyflyte run``; overhead at most 150 ms per task. No secret value
is printed: the values are fake and outputs are discarded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _stats import percentile, write_readme_section

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python benchmarks/local_run.py --write-readme"
SEED = ROOT / "examples" / "use_secrets.py"
PEER = ROOT / "benchmarks" / "peers" / "flytekit_use_secrets.py"
NS = "flytesnacks-development"
FAKE = {"user_secret": b"fake-user-secret-1", "username": b"fake-username-2", "password": b"fake-password-3"}
BIN = Path(sys.executable).parent


def clean_environ() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("_FSEC_", "FLYTE_SECRET", "TASKSECRETS_"))
    }


def wall(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed * 1000


def end_to_end(runs: int, home: Path, work: Path) -> tuple[list[float], list[float]]:
    ours_env = {**clean_environ(), "TASKSECRETS_HOME": str(home)}
    peer_env = clean_environ()
    for key, value in FAKE.items():
        peer_env[f"_FSEC_USER-INFO_{key.upper()}"] = value.decode()
    ours_cmd = [str(BIN / "tasksecrets"), "run", str(SEED), "my_secret_workflow"]
    peer_cmd = [str(BIN / "pyflyte"), "run", str(PEER), "my_secret_workflow"]
    wall(ours_cmd, ours_env, work)  # warm the file cache for both before timing
    wall(peer_cmd, peer_env, work)
    ours, peer = [], []
    for _ in range(runs):
        ours.append(wall(ours_cmd, ours_env, work))
        peer.append(wall(peer_cmd, peer_env, work))
    return ours, peer


def per_task(workflow_runs: int, home: Path) -> dict[str, list[float]]:
    sys.path.insert(0, str(ROOT / "src"))
    from tasksecrets.local.runner import LocalClusterExecutor
    from tasksecrets.local.store import SecretStore
    from tasksecrets.sdk.executor import InProcessExecutor, use_executor
    from tasksecrets.sdk.loader import load_module

    seed: Any = load_module(str(SEED))
    tasks = [seed.secret_task, seed.user_info_task, seed.secret_file_task]

    # The tasks' own run time, in-process, with their secrets in env vars.
    exported = {f"_FSEC_USER-INFO_{k.upper()}": v.decode() for k, v in FAKE.items()}
    os.environ.update(exported)
    own: dict[str, list[float]] = {t.name: [] for t in tasks}
    in_process = InProcessExecutor()
    try:
        for _ in range(workflow_runs):
            for t in tasks:
                started = time.perf_counter()
                in_process.run_task(t, {})
                own[t.name].append((time.perf_counter() - started) * 1000)
    finally:
        for name in exported:
            del os.environ[name]

    result: dict[str, list[float]] = {"overhead": [], "prepare": [], "process": [], "total": []}
    with SecretStore.open(home) as store:
        executor = LocalClusterExecutor(store=store, environ=clean_environ())
        with executor, use_executor(executor):
            seed.my_secret_workflow()  # warm up
            executor.runs.clear()
            for _ in range(workflow_runs):
                seed.my_secret_workflow()
    for run in executor.runs:
        total = run.total_s * 1000
        result["total"].append(total)
        result["prepare"].append(run.prepare_s * 1000)
        result["process"].append(run.process_s * 1000)
        result["overhead"].append(total - statistics.median(own[run.task_name]))
    result["own"] = [v for values in own.values() for v in values]
    return result


def bare_python(runs: int) -> list[float]:
    return [wall([sys.executable, "-c", "pass"], clean_environ(), ROOT) for _ in range(runs)]


def guarded_spawn(runs: int) -> tuple[list[float], list[float]]:
    """``python -c pass`` started as a task is (own session, death signal, no core, no capabilities,
    stop signals blocked meanwhile) and plainly, alternating: what the guard costs per task."""
    from tasksecrets.local.procguard import blocked_stop_signals, spawn_task

    command, env = [sys.executable, "-c", "pass"], clean_environ()
    guarded, plain = [], []
    for _ in range(runs):
        started = time.perf_counter()
        with blocked_stop_signals():
            proc = spawn_task(command, env=env)
        proc.communicate()
        guarded.append((time.perf_counter() - started) * 1000)
        plain.append(wall(command, env, ROOT))
    return guarded, plain


def run(runs: int, workflow_runs: int) -> str:
    with tempfile.TemporaryDirectory(prefix="tasksecrets-bench-") as tmp:
        home = Path(tmp) / "home"
        work = Path(tmp) / "work"
        work.mkdir()
        sys.path.insert(0, str(ROOT / "src"))
        from tasksecrets.local.store import SecretStore

        with SecretStore.open(home) as store:
            store.create(NS, "user-info", FAKE)
        ours, peer = end_to_end(runs, home, work)
        tasks = per_task(workflow_runs, home)
    python = bare_python(runs * 2)
    guarded, plain = guarded_spawn(runs * 6)
    ratio = statistics.median(ours) / statistics.median(peer)
    overhead = statistics.median(tasks["overhead"])
    calls = len(tasks["total"])

    def cells(values: list[float]) -> str:
        return f"{statistics.median(values):,.1f} | {percentile(values, 0.99):,.1f}"

    rows = [
        "| measure | median | p99 | peer median | peer p99 | ratio (ours / peer) | target |",
        "|---|---|---|---|---|---|---|",
        f"| seed workflow end to end: `tasksecrets run` vs `pyflyte run` (ms, {runs} runs each) "
        f"| {cells(ours)} | {cells(peer)} | {ratio:.2f} | < 1.00 {'met' if ratio < 1 else 'MISSED'} |",
        f"| local kubelet overhead per task: total minus the task's in-process time (ms, {calls} task calls) "
        f"| {cells(tasks['overhead'])} | | | | <= 150 {'met' if overhead <= 150 else 'MISSED'} |",
        f"| of which prepare: render + mutate + materialize (ms) | {cells(tasks['prepare'])} | | | | |",
        f"| of which the task's process, spawn to exit (ms) | {cells(tasks['process'])} | | | | |",
        f"| for scale: `python -c pass` (ms, {len(python)} runs) | {cells(python)} | | | | |",
        f"| `python -c pass` started as a task (own session, death signal, no core, no capabilities) vs "
        f"plainly, alternating (ms, {len(guarded)} runs each) | {cells(guarded)} | {cells(plain)} "
        f"| {statistics.median(guarded) / statistics.median(plain):.2f} | |",
        f"| the tasks' own time, in-process (ms, {len(tasks['own'])} calls) "
        f"| {cells(tasks['own'])} | | | | |",
    ]
    return "\n".join(rows)


def write_readme(table: str) -> None:
    section = (
        "## Local cluster\n\n"
        f"Command: `{COMMAND}` (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, flytekit from the "
        "`test` extra, both run alternately in the same run; wall time of the whole command, p99 of few "
        "runs is close to their maximum). Per-task overhead: every task call of the seed workflow through "
        "`LocalClusterExecutor` (render, mutate with the default config, materialize from the encrypted "
        "store, run `python -m tasksecrets execute` in a scrubbed child, read outputs, remove the private "
        "directory), minus the median time of the same task run in-process; most of it is the child "
        "interpreter starting.\n\n"
        f"{table}\n"
    )
    write_readme_section("Local cluster", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="end-to-end runs of each command (>= 5)")
    parser.add_argument(
        "--workflow-runs", type=int, default=20, help="seed workflow runs for the per-task part"
    )
    parser.add_argument("--write-readme", action="store_true", help="update the Local cluster section")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    table = run(args.runs, args.workflow_runs)
    print(table)
    if args.write_readme:
        write_readme(table)


if __name__ == "__main__":
    main()
