"""How the local cluster starts a task's process: warm (forked by a helper) or cold (a new interpreter).

- cold: the container's command, ``python -m tasksecrets execute ...``, in a new interpreter
  (:func:`~tasksecrets.local.procguard.spawn_task`). What ``pod render`` pods run on a cluster.
- warm (the default on Linux): :class:`WarmLauncher` starts one helper per run
  (:mod:`tasksecrets.cli.forkserver`) that imports the entrypoint once; each task is a fork of
  it that runs the same entrypoint with the pod's env, so a task starts in about a millisecond
  instead of the interpreter's and the imports' tens of milliseconds.

The helper's environment is :func:`helper_environ`: only the variables the interpreter reads when
it starts (``PYTHON*``, the locale, ``PATH``, ``HOME``, ``TMPDIR``, ...), never a secret, a store
key or a cloud credential. A task is forked only when its own env agrees with the helper's on
those (:func:`can_fork`): otherwise it starts cold, as it would have started in a different
interpreter. The choice: ``tasksecrets run --cold`` or :data:`LAUNCHER_VAR` (``warm`` or ``cold``).
"""

from __future__ import annotations

import json
import os
import select
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO

from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.procguard import spawn_task

__all__ = [
    "LAUNCHERS",
    "LAUNCHER_VAR",
    "MESSAGE",
    "REQUEST",
    "WarmLauncher",
    "WarmProcess",
    "can_fork",
    "exec_refusal",
    "helper_environ",
    "launcher_choice",
]

LAUNCHER_VAR = "TASKSECRETS_LAUNCHER"
# The helper's protocol (tasksecrets.cli.forkserver, the top layer: it runs the entrypoint).
HELPER_MODULE = "tasksecrets.cli.forkserver"
REQUEST = b"F"  # fork a task; with three fds: spec read end, stdout and stderr write ends
MESSAGE = struct.Struct("!cii")  # kind (P started, X exited), pid, wait status (0 for P)
LAUNCHERS = ("warm", "cold")
# The command a warm task runs instead of exec'ing, after the interpreter.
ENTRYPOINT = ("-m", "tasksecrets", "execute")
# Variables read when an interpreter starts, or cached by what the helper imports: the helper gets
# these only, and a task whose env differs on them starts cold.
_STARTUP_NAMES = ("PATH", "HOME", "TMPDIR", "TZ", "LANG", "LANGUAGE", "VIRTUAL_ENV", "NO_COLOR")
_STARTUP_PREFIXES = ("PYTHON", "LC_")
# How long the first task waits for the helper to import what it preloads, and any later one for
# its fork: far above either (milliseconds), bounded.
HELPER_TIMEOUT_S = 60.0


def launcher_choice(environ: Mapping[str, str]) -> str:
    """``warm`` or ``cold`` from :data:`LAUNCHER_VAR`; ``warm`` when unset and this system can fork tasks."""
    value = environ.get(LAUNCHER_VAR, "").strip().lower()
    if value and value not in LAUNCHERS:
        raise TaskExecutionError(
            f"{LAUNCHER_VAR}={value!r} is not a launcher: set it to warm or cold, or unset it"
        )
    if value == "cold" or not _supported():
        return "cold"
    return "warm"


def _supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


def _startup_name(name: str) -> bool:
    return name in _STARTUP_NAMES or name.startswith(_STARTUP_PREFIXES)


def helper_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The helper's environment: the interpreter's start-up variables of ``environ``, nothing else."""
    return {name: value for name, value in environ.items() if _startup_name(name)}


def exec_refusal(command: Sequence[str], env: Mapping[str, str]) -> str | None:
    """Why exec may refuse ``command`` with ``env`` (names and sizes, never a value); None if it takes them.

    Exec takes C strings: none may hold a NUL byte. Linux takes each argument or ``NAME=value``
    string up to 32 pages (its terminating NUL included) and all of them, with their pointers, up
    to ``ARG_MAX`` (a quarter of the stack limit). The whole is held to half of that here: nearer
    the limit, exec alone knows.
    """
    strings = {f"argument {i}": arg for i, arg in enumerate(command)}
    strings.update({f"env var {name}": f"{name}={value}" for name, value in env.items()})
    for what, text in strings.items():
        if "\0" in text:
            return f"its {what} holds a NUL byte, which exec cannot pass (it takes C strings)"
    sizes = {what: len(os.fsencode(text)) + 1 for what, text in strings.items()}
    per_string = 32 * os.sysconf("SC_PAGE_SIZE")
    largest = max(sizes, key=sizes.__getitem__)
    if sizes[largest] > per_string:
        return f"its {largest} is {sizes[largest]:,} bytes, over the {per_string:,} exec takes for one string"
    total = sum(sizes.values()) + 8 * (len(sizes) + 2)
    arg_max = os.sysconf("SC_ARG_MAX")
    if total > arg_max // 2:
        return f"its arguments and env are {total:,} bytes together, near the {arg_max:,} exec takes"
    return None


def can_fork(
    command: Sequence[str], env: Mapping[str, str], *, python: str, helper_env: Mapping[str, str]
) -> bool:
    """Whether a fork of the helper runs what ``command`` would run in a new interpreter.

    Not when exec may refuse the command and env (:func:`exec_refusal`): a cold start lets exec
    decide, so a task too large for a container's exec fails here as it would in a pod.
    """
    if list(command[:4]) != [python, *ENTRYPOINT]:
        return False
    return helper_environ(env) == dict(helper_env) and exec_refusal(command, env) is None


class WarmProcess:
    """A task forked by the helper, as the runner holds a ``Popen``: pid, pipes, poll, wait, communicate."""

    def __init__(self, launcher: WarmLauncher, pid: int, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self._launcher = launcher
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.stderr: IO[bytes] | None = stderr
        self._read: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    @property
    def returncode(self) -> int | None:
        return self._launcher.exit_code(self.pid)

    def poll(self) -> int | None:
        if self.returncode is None:
            self._launcher.read_messages(timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.returncode) is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(f"task {self.pid}", timeout or 0)
            self._launcher.read_messages(timeout=remaining)
        return code

    def communicate(self, input: bytes | None = None, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Read both pipes to their end and wait; on ``timeout``, TimeoutExpired with what came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pipes = {p.fileno(): (name, p) for name, p in (("stdout", self.stdout), ("stderr", self.stderr)) if p}
        open_fds = {fd for fd, (_, pipe) in pipes.items() if not pipe.closed}
        with selectors.DefaultSelector() as selector:
            for fd in open_fds:
                selector.register(fd, selectors.EVENT_READ)
            while open_fds:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise subprocess.TimeoutExpired(
                        f"task {self.pid}",
                        timeout or 0,
                        bytes(self._read["stdout"]),
                        bytes(self._read["stderr"]),
                    )
                for key, _ in selector.select(timeout=remaining):
                    fd = int(key.fd)
                    data = os.read(fd, 65536)
                    if data:
                        self._read[pipes[fd][0]] += data
                    else:
                        selector.unregister(fd)
                        open_fds.discard(fd)
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        self.wait(remaining)
        return bytes(self._read["stdout"]), bytes(self._read["stderr"])


class WarmLauncher:
    """The helper of one run (see the module docstring); :meth:`close` ends it."""

    def __init__(self, *, python: str, environ: Mapping[str, str]) -> None:
        self.python = python
        self.environ = helper_environ(environ)
        self._sock: socket.socket | None = None
        self._helper: subprocess.Popen[bytes] | None = None
        self._exits: dict[int, int] = {}
        self._started: list[int] = []
        self._seen: set[int] = set()
        self._pending = b""

    @property
    def helper_pid(self) -> int | None:
        """The helper's pid while it runs (the tests read its ``/proc``)."""
        return None if self._helper is None else self._helper.pid

    def start(self) -> None:
        """Start the helper, if not yet: it imports while the runner prepares the first task."""
        if self._helper is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._helper = spawn_task(
                [self.python, "-m", HELPER_MODULE, str(theirs.fileno())],
                env=self.environ,
                pass_fds=[theirs.fileno()],
                output=None,
            )
        except OSError as exc:
            ours.close()
            raise TaskExecutionError(
                f"the warm task launcher cannot start ({exc.strerror}): run with --cold"
            ) from None
        finally:
            theirs.close()
        self._sock = ours

    def launch(self, command: Sequence[str], env: Mapping[str, str], *, cwd: str) -> WarmProcess:
        """Fork a task that runs ``command`` (the entrypoint's) with exactly ``env`` in ``cwd``."""
        self.start()
        assert self._sock is not None
        spec = json.dumps({"argv": list(command[3:]), "env": dict(env), "cwd": cwd}).encode()
        spec_r, spec_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(self._sock, [REQUEST], [spec_r, out_w, err_w])
        except OSError:
            for fd in (out_r, err_r, spec_w):
                os.close(fd)
            raise self._gone() from None
        finally:
            for fd in (spec_r, out_w, err_w):
                os.close(fd)
        try:
            with os.fdopen(spec_w, "wb") as spec_pipe:
                spec_pipe.write(spec)
        except BrokenPipeError:
            pass  # the task died before reading it: its exit status says so
        pid = self._wait_started()
        return WarmProcess(
            self, pid, os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0)
        )

    def exit_code(self, pid: int) -> int | None:
        """The exit code of task ``pid`` (negative: the signal that killed it), None while it runs."""
        status = self._exits.get(pid)
        return None if status is None else os.waitstatus_to_exitcode(status)

    def read_messages(self, *, timeout: float | None) -> None:
        """Read what the helper and its tasks said, waiting up to ``timeout`` for the first of it."""
        assert self._sock is not None
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return
        data = self._sock.recv(4096)
        if not data:
            raise self._gone()
        self._pending += data
        while len(self._pending) >= MESSAGE.size:
            kind, pid, status = MESSAGE.unpack(self._pending[: MESSAGE.size])
            self._pending = self._pending[MESSAGE.size :]
            if kind == b"P":
                self._started.append(pid)
            else:
                self._exits[pid] = status

    def _wait_started(self) -> int:
        deadline = time.monotonic() + HELPER_TIMEOUT_S
        while not self._started:
            # A task that died before it said it started is reported by its exit alone.
            unseen = [pid for pid in self._exits if pid not in self._seen]
            if unseen:
                self._seen.add(unseen[0])
                return unseen[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TaskExecutionError(
                    f"the warm task launcher did not start a task within {HELPER_TIMEOUT_S:.0f} s: "
                    "run with --cold"
                )
            self.read_messages(timeout=remaining)
        pid = self._started.pop(0)
        self._seen.add(pid)
        return pid

    def _gone(self) -> TaskExecutionError:
        code = None if self._helper is None else self._helper.poll()
        how = "" if code is None else f" (exit status {code})"
        return TaskExecutionError(f"the warm task launcher has died{how}: run with --cold")

    def close(self) -> None:
        """End the helper: it exits when its socket closes (and is killed if it does not)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._helper is not None:
            try:
                self._helper.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._helper.kill()
                self._helper.wait()
            self._helper = None
