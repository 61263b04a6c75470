"""``tasksecrets run`` stopped by real signals while its real task sleeps, and what a task can reach.

Every test starts the real CLI in a subprocess with its own ``$TMPDIR`` (so the private task
directories it makes, and sweeps, are only the test's) and a real encrypted store. The task writes
its pid (and that of a process it started in its group) to a file once it holds its secret; the
test then signals the runner and checks the exit status, the output, the processes and the files.
"""

from __future__ import annotations

import base64
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tasksecrets
from tasksecrets.local.store import SecretStore

NS = "flytesnacks-development"
FAKE_PASSWORD = "fake-password-for-signals-7"
# A master key made up for these tests: the runner holds it in its environment.
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()

MODULE = """
import ctypes, os, resource, signal, subprocess, sys, time
from pathlib import Path

import tasksecrets
from tasksecrets import Secret, task

KEEP_GOING = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"


def _holding_the_secret() -> str:
    return tasksecrets.current_context().secrets.get("user-info", "password")


@task(secret_requests=[Secret(group="user-info", key="password")])
def sleeper(ignore_term: bool = False, helper: bool = True) -> str:
    value = _holding_the_secret()
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pids = [os.getpid()]
    if helper:  # a process of the task's own, in its group, that ignores SIGTERM too
        pids.append(subprocess.Popen([sys.executable, "-c", KEEP_GOING]).pid)
    print(f"the task holds {value}")
    ready = Path(os.environ["TASK_PIDS"])
    ready.with_suffix(".tmp").write_text(" ".join(map(str, pids)))
    ready.with_suffix(".tmp").rename(ready)
    time.sleep(600)
    return "never"


@task
def quick() -> str:
    return "quick done"


@task(secret_requests=[Secret(group="user-info", key="password")])
def peek_at_runner() -> str:
    _holding_the_secret()
    parents = [os.getppid()]  # the runner, or the warm helper that forked this task
    if os.environ["TASKSECRETS_LAUNCHER"] == "warm":  # then the runner too, the helper's parent
        stat = Path(f"/proc/{parents[0]}/stat").read_text()
        parents.append(int(stat[stat.rfind(")") + 2 :].split()[1]))
    outcomes = []
    for pid in parents:
        for name in ("mem", "environ", "maps"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as handle:
                    outcomes.append(f"{name}:read {len(handle.read(4096))} bytes")
            except OSError as exc:
                outcomes.append(f"{name}:{type(exc).__name__}")
    return " ".join(outcomes)


@task(secret_requests=[Secret(group="user-info", key="password")])
def crash(how: str) -> str:
    value = _holding_the_secret().encode() * 1000  # the value in the task's memory, many times
    limits = resource.getrlimit(resource.RLIMIT_CORE)
    with open(f"/proc/{os.getppid()}/limits", encoding="ascii") as handle:
        runner = [line for line in handle if line.startswith("Max core file size")][0].split()[4]
    Path(os.environ["TASK_PIDS"]).write_text(f"{limits[0]} {limits[1]} {runner} {len(value)}")
    if how == "abort":
        os.abort()
    ctypes.string_at(0)  # SIGSEGV
    return "never"
"""


@pytest.fixture
def tmpdir_env(tmp_path: Path, launcher: str) -> dict[str, str]:
    home, private = tmp_path / "home", tmp_path / "tmp"
    private.mkdir()
    with SecretStore.open(home, master_key=base64.b64decode(MASTER_KEY)) as store:
        store.create(NS, "user-info", {"password": FAKE_PASSWORD.encode()})
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_"))}
    environ.pop("PYTHONUNBUFFERED", None)  # a task's print into a pipe is buffered, as for most users
    # The runner of a test that runs it in another directory imports this very tasksecrets.
    source = str(Path(tasksecrets.__file__).resolve().parents[1])
    return {
        **environ,
        "PYTHONPATH": os.pathsep.join([source, *filter(None, [environ.get("PYTHONPATH")])]),
        "TASKSECRETS_HOME": str(home),
        "TASKSECRETS_MASTER_KEY": MASTER_KEY,
        "TASKSECRETS_LAUNCHER": launcher,
        "TMPDIR": str(private),
        "TASK_PIDS": str(tmp_path / "task.pids"),
    }


@pytest.fixture
def module_file(tmp_path: Path) -> Path:
    path = tmp_path / f"signals_wf_{tmp_path.name.replace('-', '_')}.py"
    path.write_text(MODULE)
    return path


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_runner_left() -> Iterator[None]:
    """A test that fails half-way leaves no runner behind (its task dies with it)."""
    yield
    while _STARTED:
        runner = _STARTED.pop()
        if runner.poll() is None:
            runner.kill()
            runner.communicate()


def _start(
    args: list[str], env: dict[str, str], *, cwd: Path | None = None, core_unlimited: bool = False
) -> subprocess.Popen[str]:
    def unlimited_core() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    runner = subprocess.Popen(
        [sys.executable, "-m", "tasksecrets", "run", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=unlimited_core if core_unlimited else None,
    )
    _STARTED.append(runner)
    return runner


def _wait_for(condition: Callable[[], bool], what: str, runner: subprocess.Popen[str] | None = None) -> None:
    # A bound against hanging, not a measure: the condition is expected well before it.
    deadline = time.monotonic() + 60
    while not condition():
        if runner is not None and runner.poll() is not None:
            out, err = runner.communicate()
            pytest.fail(f"the runner exited ({runner.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited 60 s for {what}")
        time.sleep(0.05)


def _task_pids(env: dict[str, str], runner: subprocess.Popen[str]) -> list[int]:
    ready = Path(env["TASK_PIDS"])
    _wait_for(ready.exists, "the task started", runner)
    return [int(pid) for pid in ready.read_text().split()]


def _running(pid: int) -> bool:
    # A zombie (no init reaps it in some containers) runs no more.
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


def _task_dirs(env: dict[str, str]) -> list[str]:
    return sorted(p.name for p in Path(env["TMPDIR"]).glob("tasksecrets-task-*"))


def _kill_leftovers(pids: list[int]) -> None:
    for pid in pids:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_stop_signal_stops_the_task_group_removes_its_files_and_exits_128_plus_the_signal(
    signum: int, code: int, tmpdir_env: dict[str, str], module_file: Path
) -> None:
    runner = _start([str(module_file), "sleeper"], tmpdir_env)
    pids = _task_pids(tmpdir_env, runner)
    try:
        assert len(_task_dirs(tmpdir_env)) == 1 and all(_running(pid) for pid in pids)
        runner.send_signal(signum)
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == code, err
        assert "the task holds ********" in err  # what it printed before the stop, masked
        assert f"stopped by {signal.Signals(signum).name}: task 'sleeper'" in err
        assert "Traceback" not in err and "Aborted!" not in err
        assert FAKE_PASSWORD not in out + err
        # the task and the process it started in its group (which ignores SIGTERM): both gone
        assert [pid for pid in pids if _running(pid)] == []
        assert _task_dirs(tmpdir_env) == []
    finally:
        _kill_leftovers(pids)


def test_a_task_that_ignores_sigterm_is_killed_after_the_grace(
    tmpdir_env: dict[str, str], module_file: Path
) -> None:
    runner = _start([str(module_file), "sleeper", "-i", "ignore_term=true", "-i", "helper=false"], tmpdir_env)
    pids = _task_pids(tmpdir_env, runner)
    try:
        runner.send_signal(signal.SIGTERM)
        _, err = runner.communicate(timeout=60)
        assert runner.returncode == 143, err
        assert "the task holds ********" in err
        assert not _running(pids[0]) and _task_dirs(tmpdir_env) == []
    finally:
        _kill_leftovers(pids)


def test_a_sigkilled_runner_takes_its_task_along_and_the_next_run_sweeps_its_files(
    tmpdir_env: dict[str, str], module_file: Path
) -> None:
    runner = _start([str(module_file), "sleeper", "-i", "helper=false"], tmpdir_env)
    pids = _task_pids(tmpdir_env, runner)
    try:
        left = _task_dirs(tmpdir_env)
        runner.kill()
        runner.communicate(timeout=60)
        assert runner.returncode == -signal.SIGKILL
        _wait_for(lambda: not _running(pids[0]), "the task died with its runner")
        assert _task_dirs(tmpdir_env) == left  # no chance to clean up: the next run does
        done = subprocess.run(
            [sys.executable, "-m", "tasksecrets", "run", str(module_file), "quick"],
            env=tmpdir_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "o0: quick done"
        assert _task_dirs(tmpdir_env) == []
    finally:
        _kill_leftovers(pids)


def _without_capabilities() -> None:
    # What a runner of an ordinary user has: no capability (as root: uid 0 without any after exec).
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    for capability in range(last + 1):
        prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


@pytest.mark.parametrize("capabilities", ["as-started", "none"])
def test_a_task_cannot_read_the_runners_memory_environment_or_maps(
    capabilities: str, tmpdir_env: dict[str, str], module_file: Path
) -> None:
    # "as-started": the test's own (all of them when run as root: then the runner must not give
    # them to its task). "none": a runner with no capabilities, as an ordinary user's, which only
    # its being not dumpable protects.
    done = subprocess.run(
        [sys.executable, "-m", "tasksecrets", "run", str(module_file), "peek_at_runner"],
        env={**tmpdir_env, "FLYTE_SECRET_GLOBAL_TOKEN": "fake-global-value-9"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_without_capabilities if capabilities == "none" else None,
    )
    assert done.returncode == 0, done.stderr
    refused = "mem:PermissionError environ:PermissionError maps:PermissionError"
    parents = 2 if tmpdir_env["TASKSECRETS_LAUNCHER"] == "warm" else 1
    assert done.stdout.strip() == "o0: " + " ".join([refused] * parents)
    assert MASTER_KEY not in done.stdout + done.stderr


def _core_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("core"))


def _cores_land_in_cwd() -> bool:
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    return not pattern.startswith("|") and "/" not in pattern


@pytest.mark.parametrize("how", ["abort", "segv"])
def test_a_crashing_task_under_an_unlimited_core_limit_dumps_no_core(
    how: str, tmpdir_env: dict[str, str], module_file: Path, tmp_path: Path
) -> None:
    if _cores_land_in_cwd():
        # The control: this machine does write a core file into the cwd of a process that crashes
        # with an unlimited core limit, so finding none below means something.
        control = tmp_path / "control"
        control.mkdir()
        crashed = subprocess.run(
            [sys.executable, "-c", "import os; os.abort()"],
            cwd=control,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (-1, -1)),
            check=False,
        )
        assert crashed.returncode == -signal.SIGABRT and _core_files(control) != []
        for name in _core_files(control):  # large, and no secret in it; not kept among pytest's dirs
            (control / name).unlink()
    work = tmp_path / "work"
    work.mkdir()
    runner = _start(
        [str(module_file), "crash", "-i", f"how={how}"], tmpdir_env, cwd=work, core_unlimited=True
    )
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1
    signum = signal.SIGABRT if how == "abort" else signal.SIGSEGV
    assert f"was killed by signal {int(signum)}" in err
    soft, hard, runner_soft, held = Path(tmpdir_env["TASK_PIDS"]).read_text().split()
    assert (soft, hard, runner_soft) == ("0", "0", "0")  # the task's limit and the runner's own
    assert int(held) == 1000 * len(FAKE_PASSWORD)
    assert _core_files(work) == [] and _core_files(tmp_path) == []
    assert FAKE_PASSWORD not in out + err


def test_the_help_names_the_exit_codes_of_a_stopped_run() -> None:
    from click.testing import CliRunner

    from tasksecrets.cli import main

    shown = CliRunner().invoke(main, ["run", "--help"])
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "130, 143, 129 stopped by SIGINT, SIGTERM, SIGHUP (128 + signal)" in text
