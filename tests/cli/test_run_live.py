"""``tasksecrets run`` shows what a task prints while it runs: on a real pseudo-terminal and into a pipe.

Each task prints a line, then waits for a file that the test creates only once it has seen that line
arrive: the test can pass only if the line came while the task was still running. On the terminal,
Ctrl-C (the byte the terminal turns into SIGINT for its foreground process group) stops the run
with exit status 130, and every line the task had printed is on the screen.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import tasksecrets
from tasksecrets.local.store import SecretStore

NS = "flytesnacks-development"
FAKE_VALUE = "fake-live-value-41"
SHORT_VALUE = "zq"  # shorter than what is masked inside text: masked when it is a whole line
# Every wait of these tests is bounded by this (a hung run fails the test instead of hanging it).
WAIT_S = 60.0

MODULE = """
import os, sys, time
from pathlib import Path

from tasksecrets import Secret, current_context, task, workflow


def wait_for(name: str) -> None:
    flag = Path(os.environ["LIVE_DIR"]) / name
    while not flag.exists():
        time.sleep(0.05)


@task(secret_requests=[Secret(group="user-info", key="password"), Secret(group="user-info", key="pin")])
def talker() -> str:
    secrets = current_context().secrets
    value, pin = secrets.get("user-info", "password"), secrets.get("user-info", "pin")
    print("line one from talker", flush=True)
    wait_for("go-on")
    sys.stdout.write("holds " + value[:5])  # the value in two writes inside one line
    sys.stdout.flush()
    sys.stdout.write(value[5:] + " now\\n")
    print(pin, flush=True)
    print("line two to stderr", file=sys.stderr, flush=True)
    wait_for("never")
    return "never"


@task
def after(text: str) -> str:
    return text


@workflow
def wf() -> str:
    return after(text=talker())
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def setup(tmp_path: Path, launcher: str) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", {"password": FAKE_VALUE.encode(), "pin": SHORT_VALUE.encode()})
    module = tmp_path / f"live_wf_{tmp_path.name.replace('-', '_')}.py"
    module.write_text(MODULE)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_"))}
    source = str(Path(tasksecrets.__file__).resolve().parents[1])
    env = {
        **environ,
        "PYTHONPATH": os.pathsep.join([source, *filter(None, [environ.get("PYTHONPATH")])]),
        "TASKSECRETS_HOME": str(home),
        "TASKSECRETS_LAUNCHER": launcher,
        "LIVE_DIR": str(tmp_path),
        "COLUMNS": "120",
        "TERM": "xterm",
    }
    return module, env


class Screen:
    """What a reader of ``fd`` has seen so far, with the terminal's escape sequences taken out."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.raw = b""
        self.closed = False

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", errors="replace")).replace("\r", "")

    def read_until(self, done: Callable[[str], bool]) -> bool:
        deadline = time.monotonic() + WAIT_S
        while not done(self.text) and not self.closed and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the terminal's other side closed (EIO)
                chunk = b""
            self.raw += chunk
            self.closed = not chunk
        return done(self.text)


def _wait_exit(pid: int) -> int:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the run did not end")


def test_on_a_terminal_lines_arrive_while_the_task_runs_and_ctrl_c_exits_130(
    setup: tuple[Path, dict[str, str]],
) -> None:
    module, env = setup
    argv = [sys.executable, "-m", "tasksecrets", "run", str(module), "wf"]
    pid, leader = pty.fork()
    if pid == 0:  # the child: the pseudo-terminal is its controlling terminal, stdin, stdout, stderr
        os.execve(sys.executable, argv, env)
    screen = Screen(leader)
    try:
        assert screen.read_until(lambda t: "talker | line one from talker" in t), screen.text
        assert "running talker" in screen.text  # the progress display names the running task
        (Path(env["LIVE_DIR"]) / "go-on").touch()  # only now may the task go on
        assert screen.read_until(lambda t: "line two to stderr" in t), screen.text
        os.write(leader, b"\x03")  # Ctrl-C
        screen.read_until(lambda t: "stopped by SIGINT" in t)
        code = _wait_exit(pid)
        screen.read_until(lambda _: False)  # whatever is left, until the terminal closes
    finally:
        os.close(leader)
    text = screen.text
    assert code == 130, text
    assert "talker | holds ******** now" in text  # written in two pieces, masked as one line
    assert "talker | ********\n" in text  # a two-character value alone on its line
    assert "stopped by SIGINT: task 'talker'" in text
    assert "Traceback" not in text and "Aborted!" not in text
    assert FAKE_VALUE not in text and f"| {SHORT_VALUE}\n" not in text


def test_into_a_pipe_each_line_comes_as_it_is_written(setup: tuple[Path, dict[str, str]]) -> None:
    module, env = setup
    runner = subprocess.Popen(
        [sys.executable, "-m", "tasksecrets", "run", str(module), "talker"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert runner.stderr is not None
    screen = Screen(runner.stderr.fileno())
    try:
        # A single task: its lines come without a prefix, plain (no escape sequences).
        assert screen.read_until(lambda t: "line one from talker\n" in t), screen.text
        assert "\x1b[" not in screen.raw.decode()
        (Path(env["LIVE_DIR"]) / "go-on").touch()
        assert screen.read_until(lambda t: "line two to stderr\n" in t), screen.text
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=WAIT_S) == 143
        screen.read_until(lambda _: False)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    out = runner.stdout.read().decode() if runner.stdout is not None else ""
    assert out == ""  # stdout holds only outputs, and a stopped run has none
    assert "holds ******** now\n" in screen.text and "\n********\n" in screen.text
    assert "stopped by SIGTERM: task 'talker'" in screen.text
    assert FAKE_VALUE not in screen.text
