"""The warm launcher: its helper holds no secret, its tasks start as cold ones do, ``--cold`` is cold.

The helper, and the spare it forked for the next task, are read through ``/proc`` while their run
is open, after tasks that received secrets were forked from the helper. Neither is dumpable, so
their ``mem`` is readable only with ``CAP_SYS_PTRACE``: these tests read it as root (the project's
test machines run as root), with no hook that makes them dumpable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tasksecrets
from localtasks import seeded_store, workflow_module
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.runner import LocalClusterExecutor, scrub_environ
from tasksecrets.local.store import SecretStore
from tasksecrets.sdk.executor import use_executor

NS = "flytesnacks-development"
FAKE = {"password": b"fake-launcher-password-4711", "token": b"fake-launcher-token-0815"}
# What the runner itself holds: the store's key, a Global secret, a cloud credential.
RUNNER_SECRETS = {
    "TASKSECRETS_MASTER_KEY": "ZmFrZS1tYXN0ZXIta2V5LWZvci10aGUtbGF1bmNoZXI=",
    "FLYTE_SECRET_GLOBAL_TOKEN": "fake-global-launcher-value-42",
    "AWS_SECRET_ACCESS_KEY": "fake-aws-secret-launcher-77",
}

MODULE = """
import os, sys
from pathlib import Path

import tasksecrets
from tasksecrets import Secret, task


@task(secret_requests=[Secret(group="user-info", key="password"), Secret(group="user-info", key="token")])
def holder() -> str:
    secrets = tasksecrets.current_context().secrets
    return secrets.get("user-info", "password") + secrets.get("user-info", "token")


@task
def heavy() -> bool:
    import sqlite3  # noqa: F401  (an extension module: it shows in the process's maps)

    return "_sqlite3" in Path("/proc/self/maps").read_text()


@task(secret_requests=[Secret(group="user-info", key="password")])
def state() -> dict:
    got = tasksecrets.current_context().secrets.get("user-info", "password") == "fake-launcher-password-4711"
    group = os.getpgid(0) == os.getpid()
    return {"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv, "pgid": group, "got": got}


@task
def descriptors() -> list:
    # What the task's process holds open, by kind (the fd this listing uses aside).
    kinds = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:
            continue
        kinds.add(target.split(":")[0] if ":" in target else "file")
    return sorted(kinds)


@task(secret_requests=[Secret(group="big", key="value", mount_requirement=Secret.MountType.ENV_VAR)])
def big_env() -> int:
    return len(tasksecrets.current_context().secrets.get("big", "value"))


@task
def helper_killer() -> int:
    import signal, time

    Path(os.environ["TASK_PIDS"]).write_text(str(os.getpid()))
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(600)  # its death signal ends it at once
    return 0


@task
def parent() -> int:
    return os.getppid()


@task
def sleeper() -> str:
    ready = Path(os.environ["TASK_PIDS"])
    ready.with_suffix(".tmp").write_text(f"{os.getpid()} {os.getppid()}")
    ready.with_suffix(".tmp").rename(ready)
    import time

    time.sleep(600)
    return "never"
"""


@pytest.fixture(autouse=True)
def _private_tmp(private_tempdir: Path) -> None:
    """Task directories in the test's own directory."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SecretStore]:
    with seeded_store(tmp_path, FAKE, NS) as opened:
        yield opened


@pytest.fixture
def module(tmp_path: Path) -> ModuleType:
    return workflow_module(tmp_path, MODULE, "launcher_wf")


def _environ(**extra: str) -> dict[str, str]:
    return {**scrub_environ(os.environ), **RUNNER_SECRETS, **extra}


def _secret_values() -> list[bytes]:
    return [*FAKE.values(), *(value.encode() for value in RUNNER_SECRETS.values())]


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from each ``/proc/N/stat``)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_bytes() if entry.name.isdigit() else b""
        except OSError:  # it ended meanwhile
            continue
        if stat and int(stat[stat.rfind(b")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _spare_of(helper: int) -> int:
    """The helper's spare: once its tasks have ended, its only child."""
    children = _children(helper)
    assert len(children) == 1, children
    return children[0]


def _readable_memory(pid: int) -> Iterator[bytes]:
    with open(f"/proc/{pid}/maps", encoding="ascii") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(part, 16) for part in fields[0].split("-"))
            if not fields[1].startswith("r") or fields[-1] == "[vvar]":
                continue
            try:
                mem.seek(start)
                yield mem.read(end - start)
            except OSError:  # a region the kernel will not hand out ([vsyscall])
                continue


@pytest.mark.skipif(os.geteuid() != 0, reason="reading a non-dumpable process's memory takes root")
def test_the_helper_holds_no_secret_in_its_environment_or_memory(store: SecretStore, module: Any) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(), launcher="warm")
    with executor, use_executor(executor):
        for _ in range(3):
            assert module.holder() == (FAKE["password"] + FAKE["token"]).decode()
        assert [run.launcher for run in executor.runs] == ["warm"] * 3
        helper = executor.helper_pid
        assert helper is not None
        spare = _spare_of(helper)
        held = {pid: _held(pid) for pid in (helper, spare)}
    for environ, memory, status, owner in held.values():
        # the control: the scan sees what the process does hold (its PATH, its entrypoint's code)
        assert os.environ["PATH"].encode() in environ and os.environ["PATH"].encode() in memory
        assert b"tasksecrets.cli.forkserver" in memory and len(memory) > 1_000_000
        for value in _secret_values():
            assert value not in environ and value not in memory
        for name in RUNNER_SECRETS:
            assert name.encode() + b"=" not in environ
        # not dumpable shows as a root-owned /proc entry; no core dumps
        assert owner == 0
        assert "CapBnd:\t0000000000000000" in status


def _held(pid: int) -> tuple[bytes, bytes, str, int]:
    """A process's environ, readable memory, status and /proc owner."""
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    memory = b"".join(_readable_memory(pid))
    return environ, memory, Path(f"/proc/{pid}/status").read_text(), Path(f"/proc/{pid}").stat().st_uid


def test_a_spare_killed_while_it_waits_is_replaced_and_the_run_ends_its_spare(
    store: SecretStore, module: Any
) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(), launcher="warm")
    with executor, use_executor(executor):
        assert module.parent() > 0  # the helper is up and has forked its spare
        helper = executor.helper_pid
        assert helper is not None
        killed = _spare_of(helper)
        os.kill(killed, signal.SIGKILL)
        assert module.holder() == (FAKE["password"] + FAKE["token"]).decode()
        assert executor.runs[-1].launcher == "warm" and executor.runs[-1].ok
        spare = _spare_of(helper)  # the killed one was reaped; a new one waits
        assert spare != killed
    assert _gone(spare) and _gone(helper)


def test_a_task_imports_its_heavy_modules_in_its_own_process_only(store: SecretStore, module: Any) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(), launcher="warm")
    with executor, use_executor(executor):
        assert module.heavy() is True
        helper = executor.helper_pid
        assert helper is not None
        maps = Path(f"/proc/{helper}/maps").read_text()
    assert "_sqlite3" not in maps and "tasksecrets" not in maps  # the helper's own code is in .py files
    assert "python" in maps.lower()


def _normalized(state: dict[str, Any]) -> dict[str, Any]:
    # Each task has its own private directory: name it the same for both.
    work = str(Path(state["env"]["TASKSECRETS_FAILURE_FILE"]).parent)
    env = {name: value.replace(work, "<work>") for name, value in state["env"].items()}
    env.pop("TASKSECRETS_LAUNCHER", None)
    return {**state, "env": env, "argv": [arg.replace(work, "<work>") for arg in state["argv"]]}


def test_a_warm_task_starts_with_the_env_cwd_argv_and_group_of_a_cold_one(
    store: SecretStore, module: Any
) -> None:
    states = {}
    for launcher in ("warm", "cold"):
        executor = LocalClusterExecutor(store=store, environ=_environ(), launcher=launcher)
        with executor, use_executor(executor):
            states[launcher] = _normalized(module.state())
        assert [run.launcher for run in executor.runs] == [launcher]
    assert states["warm"] == states["cold"]
    assert states["warm"]["pgid"] is True and states["warm"]["cwd"] == os.getcwd()
    env = states["warm"]["env"]
    assert states["warm"]["got"] is True and states["warm"]["argv"][1] == "execute"
    assert "TASKSECRETS_FAILURE_FILE" in env and not set(RUNNER_SECRETS) & set(env)


def test_a_warm_task_holds_no_descriptor_of_its_helper_or_runner(store: SecretStore, module: Any) -> None:
    kinds = {}
    for launcher in ("warm", "cold"):
        executor = LocalClusterExecutor(store=store, environ=_environ(), launcher=launcher)
        with executor, use_executor(executor):
            module.parent()  # another task first: its spare was forked while the helper held more
            kinds[launcher] = module.descriptors()
    assert kinds["warm"] == kinds["cold"]
    assert "socket" not in kinds["warm"] and "anon_inode" not in kinds["warm"]
    assert "pipe" in kinds["warm"]  # the control: its stdout and stderr


def test_a_task_that_kills_its_helper_fails_at_once_and_leaves_no_process(
    store: SecretStore, module: Any, tmp_path: Path
) -> None:
    pids = tmp_path / "task.pid"
    executor = LocalClusterExecutor(store=store, environ=_environ(TASK_PIDS=str(pids)), launcher="warm")
    with executor, use_executor(executor):
        assert module.parent() > 0
        helper = executor.helper_pid
        assert helper is not None
        spare = _spare_of(helper)
        with pytest.raises(TaskExecutionError) as failure:
            module.helper_killer()
        task = executor.runs[-1]
    assert str(failure.value) == "the warm task launcher has died (exit status -9): run with --cold"
    killer = int(pids.read_text())  # it sleeps for 600 s unless its death signal ends it
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in (helper, spare, killer)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(helper) and _gone(spare) and _gone(killer) and task.launcher == "warm"


# Linux's limit on one exec string (32 pages of 4 kB): one value under it, one over.
EXEC_STRING_LIMIT = 32 * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize("launcher", ["warm", "cold"])
def test_an_env_var_exec_would_refuse_fails_the_task_as_a_pods_container_would(
    launcher: str, store: SecretStore, module: Any
) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(), launcher=launcher)
    fits = ("f" * 7 + "".join(f"{i:06d}" for i in range(EXEC_STRING_LIMIT // 6)))[: EXEC_STRING_LIMIT - 64]
    store.create(NS, "big", {"value": fits.encode()})
    with executor, use_executor(executor):
        assert module.big_env() == len(fits)
        assert executor.runs[-1].launcher == launcher  # a large env that exec takes is forked too
        over = fits + "x" * 100
        store.create(NS, "big", {"value": over.encode()}, replace=True)
        with pytest.raises(TaskExecutionError) as failure:
            module.big_env()
    message = str(failure.value)
    assert message.startswith("task 'big_env' cannot start (nor could its container in a pod): its env var ")
    assert f"is {EXEC_STRING_LIMIT + 100 - 64 + len('_FSEC_BIG_VALUE=') + 1:,} bytes" in message
    assert "mount such a secret as a file" in message
    assert fits[:20] not in message and executor.runs[-1].launcher == "cold"


@pytest.mark.parametrize("launcher", ["warm", "cold"])
def test_an_env_var_holding_a_nul_byte_fails_the_task_in_one_line(
    launcher: str, store: SecretStore, module: Any
) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(), launcher=launcher)
    store.create(NS, "big", {"value": b"fake-before\0fake-after"})
    with executor, use_executor(executor), pytest.raises(TaskExecutionError) as failure:
        module.big_env()
    assert str(failure.value) == (
        "task 'big_env' cannot start (nor could its container in a pod): its env var _FSEC_BIG_VALUE "
        "holds a NUL byte, which exec cannot pass (it takes C strings); mount such a secret as a file "
        "(the default mount_requirement), not as an env var"
    )


def _cli_env(home: Path, tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_"))}
    source = str(Path(tasksecrets.__file__).resolve().parents[1])
    path = os.pathsep.join([source, *filter(None, [environ.get("PYTHONPATH")])])
    return {**environ, "PYTHONPATH": path, "TASKSECRETS_HOME": str(home), "TMPDIR": str(tmp_path / "tmp")}


@pytest.mark.parametrize("how", ["--cold", "TASKSECRETS_LAUNCHER=cold", "warm"])
def test_cold_starts_the_task_from_the_runner_and_warm_from_its_helper(
    how: str, store: SecretStore, module: Any, tmp_path: Path
) -> None:
    env = _cli_env(tmp_path / "home", tmp_path)
    flags = ["--cold"] if how == "--cold" else []
    if how.startswith("TASKSECRETS_LAUNCHER"):
        env["TASKSECRETS_LAUNCHER"] = "cold"
    runner = subprocess.Popen(
        [sys.executable, "-m", "tasksecrets", "run", *flags, module.__file__, "parent"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 0, err
    task_parent = int(out.strip().removeprefix("o0: "))
    assert (task_parent == runner.pid) == (how != "warm")


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(b")") + 2 :].split()[0] == b"Z"  # a zombie no init reaps runs no more


def test_a_sigkilled_runner_takes_its_helper_its_task_and_its_spare_along(
    store: SecretStore, module: Any, tmp_path: Path
) -> None:
    env = {**_cli_env(tmp_path / "home", tmp_path), "TASK_PIDS": str(tmp_path / "task.pids")}
    runner = subprocess.Popen(
        [sys.executable, "-m", "tasksecrets", "run", module.__file__, "sleeper"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ready = tmp_path / "task.pids"
    deadline = time.monotonic() + 60
    while not ready.exists() and runner.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    task, helper = (int(pid) for pid in ready.read_text().split())
    spare = 0  # until found
    try:
        assert helper != runner.pid and f"{runner.pid}" == Path(f"/proc/{helper}/stat").read_text().split()[3]
        while len(_children(helper)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the helper forks its next spare as its task starts
        (spare,) = set(_children(helper)) - {task}
        runner.kill()
        runner.wait(timeout=60)
        deadline = time.monotonic() + 30
        while not all(_gone(pid) for pid in (task, helper, spare)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(helper) and _gone(task) and _gone(spare)
    finally:
        for pid in (task, helper, spare):
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
