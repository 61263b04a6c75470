"""Local cluster benchmark: workflows of 1, 3, 10 and 50 tasks against ``pyflyte run``, and one task's parts.

Prints Markdown tables. ``--write-readme`` also replaces the "Local cluster" section of
benchmarks/README.md.

- end to end: ``tasksecrets run`` (warm tasks, the default, and ``--cold``) and ``pyflyte run`` of
  the same workflows (flytekit runs tasks in-process and gets the secrets as ``_FSEC_*`` env vars;
  ours come from a fresh encrypted store, every task rendered, mutated, materialized and run in its
  own process), interleaved run by run; wall time of the whole command, median. The 3-task
  workflow is the seed (examples/use_secrets.py and benchmarks/peers/flytekit_use_secrets.py); the
  others call one secret-reading task N times, written for both from one template. The per-task
  slope is the least-squares slope of the medians over the sizes.
- per task: the seed workflow run many times through ``LocalClusterExecutor`` in this process,
  warm and cold; for every task call its total time minus the time the same task takes
  in-process (``InProcessExecutor``, secrets in env vars): what running a task as a local pod
  costs. Its parts: prepare (render, mutate, materialize), fork (until the runner holds the
  process), run (the process, from then to its exit), collect (outputs read back), cleanup.
- imports: ``-X importtime`` of the task entrypoint ``tasksecrets.cli.execute`` in a fresh
  interpreter (cumulative, median), with ``python -c pass`` for scale.

Targets (issue 15): per-task overhead at most 15 ms median (warm); the 50-task workflow faster than
``pyflyte run``; the seed at most 0.35x ``pyflyte run``. No secret value is printed: the values are
fake and outputs are discarded.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _stats import write_readme_section

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python benchmarks/local_run.py --write-readme"
SEED = ROOT / "examples" / "use_secrets.py"
PEER = ROOT / "benchmarks" / "peers" / "flytekit_use_secrets.py"
NS = "flytesnacks-development"
FAKE = {"user_secret": b"fake-user-secret-1", "username": b"fake-username-2", "password": b"fake-password-3"}
BIN = Path(sys.executable).parent
SIZES = (1, 3, 10, 50)
# One template for both libraries: N calls of one task that reads a secret.
CHAIN = """
import {lib} as lib
from {lib} import Secret, task, workflow


@task(secret_requests=[Secret(group="user-info", key="password")])
def step(i: int) -> str:
    return lib.current_context().secrets.get("user-info", "password")[:4] + str(i)


@workflow
def chain() -> str:
    out = step(i=0)
{calls}
    return out
"""


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


def workflows(folder: Path) -> dict[int, tuple[Path, Path, str]]:
    """Size -> (our file, flytekit's file, workflow name)."""
    found = {3: (SEED, PEER, "my_secret_workflow")}
    for size in SIZES:
        if size in found:
            continue
        calls = "\n".join(f"    out = step(i={i})" for i in range(1, size))
        for lib in ("tasksecrets", "flytekit"):
            (folder / f"chain_{lib}_{size}.py").write_text(CHAIN.format(lib=lib, calls=calls))
        found[size] = (folder / f"chain_tasksecrets_{size}.py", folder / f"chain_flytekit_{size}.py", "chain")
    return found


def end_to_end(runs: int, home: Path, work: Path) -> dict[int, dict[str, list[float]]]:
    ours_env = {**clean_environ(), "TASKSECRETS_HOME": str(home)}
    peer_env = clean_environ()
    for key, value in FAKE.items():
        peer_env[f"_FSEC_USER-INFO_{key.upper()}"] = value.decode()
    results: dict[int, dict[str, list[float]]] = {}
    for size, (ours, peer, name) in workflows(work).items():
        commands = {
            "warm": ([str(BIN / "tasksecrets"), "run", str(ours), name], ours_env),
            "cold": ([str(BIN / "tasksecrets"), "run", "--cold", str(ours), name], ours_env),
            "pyflyte": ([str(BIN / "pyflyte"), "run", str(peer), name], peer_env),
        }
        for command, env in commands.values():  # warm the file cache before timing
            wall(command, env, work)
        times: dict[str, list[float]] = {key: [] for key in commands}
        for _ in range(runs):
            for key, (command, env) in commands.items():
                times[key].append(wall(command, env, work))
        results[size] = times
    return dict(sorted(results.items()))


def per_task(workflow_runs: int, home: Path) -> dict[str, dict[str, list[float]]]:
    sys.path.insert(0, str(ROOT / "src"))
    from tasksecrets.local.runner import LocalClusterExecutor
    from tasksecrets.local.store import SecretStore
    from tasksecrets.sdk.executor import InProcessExecutor, use_executor
    from tasksecrets.sdk.loader import load_module

    seed: Any = load_module(str(SEED))
    tasks = [seed.secret_task, seed.user_info_task, seed.secret_file_task]
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
    results: dict[str, dict[str, list[float]]] = {}
    with SecretStore.open(home) as store:
        for launcher in ("warm", "cold"):
            executor = LocalClusterExecutor(store=store, environ=clean_environ(), launcher=launcher)
            with executor, use_executor(executor):
                seed.my_secret_workflow()  # warm up (and start the helper)
                executor.runs.clear()
                for _ in range(workflow_runs):
                    seed.my_secret_workflow()
            parts: dict[str, list[float]] = {
                k: [] for k in ("overhead", "prepare", "fork", "run", "collect", "cleanup", "total")
            }
            for run in executor.runs:
                assert run.launcher == launcher
                parts["overhead"].append(run.total_s * 1000 - statistics.median(own[run.task_name]))
                parts["prepare"].append(run.prepare_s * 1000)
                parts["fork"].append(run.launch_s * 1000)
                parts["run"].append((run.process_s - run.launch_s) * 1000)
                parts["collect"].append(run.collect_s * 1000)
                parts["cleanup"].append(run.cleanup_s * 1000)
                parts["total"].append(run.total_s * 1000)
            results[launcher] = parts
    results["own"] = {"own": [v for values in own.values() for v in values]}
    return results


_IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$")


def import_times(runs: int) -> dict[str, list[float]]:
    """Cumulative ``-X importtime`` of the entrypoint (ms), and ``python -c pass`` wall time."""
    env = {**clean_environ(), "PYTHONPATH": str(ROOT / "src")}
    entry: list[float] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import tasksecrets.cli.execute"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        for line in done.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if match and match.group(2) == "tasksecrets.cli.execute":
                entry.append(int(match.group(1)) / 1000)
    bare = [wall([sys.executable, "-c", "pass"], clean_environ(), ROOT) for _ in range(runs)]
    return {"entry": entry, "bare": bare}


def slope(sizes: list[int], values: list[float]) -> float:
    mean_x, mean_y = statistics.mean(sizes), statistics.mean(values)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(sizes, values, strict=True))
    return num / sum((x - mean_x) ** 2 for x in sizes)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def run(runs: int, workflow_runs: int) -> str:
    with tempfile.TemporaryDirectory(prefix="tasksecrets-bench-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        work.mkdir()
        sys.path.insert(0, str(ROOT / "src"))
        from tasksecrets.local.store import SecretStore

        with SecretStore.open(home) as store:
            store.create(NS, "user-info", FAKE)
        e2e = end_to_end(runs, home, work)
        tasks = per_task(workflow_runs, home)
    imports = import_times(runs)
    med = statistics.median
    rows = [
        f"End to end, wall time of the whole command (ms, median of {runs} interleaved runs each):",
        "",
        "| tasks | `tasksecrets run` (warm) | `tasksecrets run --cold` | `pyflyte run` | warm / pyflyte "
        "| cold / pyflyte |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size, times in e2e.items():
        warm, cold, peer = med(times["warm"]), med(times["cold"]), med(times["pyflyte"])
        rows.append(
            f"| {size}{' (seed)' if size == 3 else ''} | {warm:,.0f} | {cold:,.0f} | {peer:,.0f} "
            f"| {warm / peer:.2f} | {cold / peer:.2f} |"
        )
    sizes = list(e2e)
    slopes = {key: slope(sizes, [med(e2e[s][key]) for s in sizes]) for key in ("warm", "cold", "pyflyte")}
    rows.append(
        f"| per-task slope (ms per task) | {slopes['warm']:.1f} | {slopes['cold']:.1f} "
        f"| {slopes['pyflyte']:.1f} | | |"
    )
    calls = len(tasks["warm"]["total"])
    rows += [
        "",
        f"One task of the seed through `LocalClusterExecutor` (ms, median of {calls} task calls each; the "
        f"tasks' own in-process time, {med(tasks['own']['own']):.2f} ms, is subtracted for the overhead):",
        "",
        "| part | warm | cold |",
        "|---|---:|---:|",
    ]
    for part, label in (
        ("overhead", "overhead per task: total minus the task's in-process time"),
        ("prepare", "prepare: render + mutate + materialize"),
        ("fork", "fork: until the runner holds the process"),
        ("run", "run: the process, from then to its exit"),
        ("collect", "collect: outputs read back"),
        ("cleanup", "cleanup: the private directory removed"),
        ("total", "total"),
    ):
        rows.append(f"| {label} | {med(tasks['warm'][part]):.2f} | {med(tasks['cold'][part]):.2f} |")
    rows += [
        "",
        f"| start-up (ms, median of {runs} fresh interpreters) | |",
        "|---|---:|",
        f"| `-X importtime` of `tasksecrets.cli.execute`, cumulative | {med(imports['entry']):.1f} |",
        f"| `python -c pass`, wall | {med(imports['bare']):.1f} |",
    ]
    overhead = med(tasks["warm"]["overhead"])
    fifty = e2e[50]
    seed_ratio = med(e2e[3]["warm"]) / med(e2e[3]["pyflyte"])
    rows += [
        "",
        "Targets:",
        "",
        f"- per-task overhead at most 15 ms median (warm): {overhead:.1f} ms, **{_met(overhead <= 15)}**;",
        f"- the 50-task workflow faster than `pyflyte run`: {med(fifty['warm']):,.0f} against "
        f"{med(fifty['pyflyte']):,.0f} ms, **{_met(med(fifty['warm']) < med(fifty['pyflyte']))}**;",
        f"- the seed at most 0.35x `pyflyte run`: {seed_ratio:.2f}x, **{_met(seed_ratio <= 0.35)}**.",
    ]
    return "\n".join(rows)


def write_readme(table: str) -> None:
    section = (
        "## Local cluster\n\n"
        f"Command: `{COMMAND}` (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, flytekit from the "
        "`test` extra). The 3-task workflow is the seed; the others call one secret-reading task N times "
        "(the same template for both). Ours read their secrets from a fresh encrypted store, each task a "
        "pod rendered, mutated, materialized and run in its own process; flytekit runs its tasks "
        "in-process with the secrets as `_FSEC_*` env vars. The three commands of a size run one after "
        "the other, round after round.\n\n"
        f"{table}\n"
    )
    write_readme_section("Local cluster", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="end-to-end runs of each command (>= 7)")
    parser.add_argument(
        "--workflow-runs", type=int, default=20, help="seed workflow runs for the per-task part"
    )
    parser.add_argument("--write-readme", action="store_true", help="update the Local cluster section")
    args = parser.parse_args()
    if args.runs < 7:
        parser.error("--runs must be at least 7")
    table = run(args.runs, args.workflow_runs)
    print(table)
    if args.write_readme:
        write_readme(table)


if __name__ == "__main__":
    main()
