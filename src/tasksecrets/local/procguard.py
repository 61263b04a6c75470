"""Tying a task's process to its runner, and keeping the runner out of the task's reach.

- :func:`harden_runner`: the runner makes itself not dumpable (``PR_SET_DUMPABLE`` 0: its
  ``/proc/<pid>/mem``, ``environ`` and ``maps`` become unreadable to processes of the same user)
  and turns its own core dumps off (``RLIMIT_CORE`` 0).
- :func:`spawn_task`: a task's process starts in its own session (its own process group), with
  ``PR_SET_PDEATHSIG`` SIGKILL (it dies with the runner, even when the runner is SIGKILLed),
  ``RLIMIT_CORE`` 0 (a crashing task leaves no core file) and an empty capability bounding set:
  a task of a runner started as root runs as root without capabilities, since with
  ``CAP_SYS_PTRACE`` it reads the runner's memory and with ``CAP_SYS_ADMIN`` its environment,
  dumpable or not (a task of any other user has no capabilities to lose).
- :func:`stop_process_group`: SIGTERM to the whole group, SIGKILL after :data:`STOP_GRACE_S`; it
  stops any :class:`TaskProcess`, a ``Popen`` or a task forked by the warm launcher
  (:mod:`tasksecrets.local.launcher`), whose helper and forked tasks follow the same rules
  (:func:`arm_death_signal`, :func:`make_undumpable`).
- :func:`stop_on_signals`: SIGINT, SIGTERM and SIGHUP raise :class:`StopRequested` in the main
  thread, once, so the runner can stop its task, remove its files and exit ``128 + signal``.

``prctl`` is Linux's: elsewhere (macOS, the BSDs) the process group, the core limit and the signal
handling still apply, but a SIGKILLed runner's task runs on until it ends, and the runner's memory
is protected only by what that system does for processes of one user.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import IO, Protocol

__all__ = [
    "STOP_GRACE_S",
    "STOP_SIGNALS",
    "StopRequested",
    "TaskProcess",
    "arm_death_signal",
    "blocked_stop_signals",
    "harden_runner",
    "make_undumpable",
    "spawn_task",
    "stop_on_signals",
    "stop_process_group",
]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# How long a task has between SIGTERM and SIGKILL: enough to flush and exit, short enough for Ctrl-C.
STOP_GRACE_S = 2.0

# <linux/prctl.h> and <linux/capability.h>
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24


def _find_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 40  # CAP_CHECKPOINT_RESTORE, the last one of Linux 5.9 to 6.x


# Found once here: the child uses them between fork and exec, where nothing should be loaded anew.
_prctl = _find_prctl()
_CAPABILITIES = range(_last_capability() + 1) if _prctl is not None else range(0)


class TaskProcess(Protocol):
    """What the runner holds of a task's process: ``subprocess.Popen`` has it, so does a warm task."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    stdout: IO[bytes] | None
    stderr: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def communicate(
        self, input: bytes | None = None, timeout: float | None = None
    ) -> tuple[bytes, bytes]: ...


class StopRequested(BaseException):
    """The runner received a stop signal (a BaseException, so a task's ``except Exception`` lets it by)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """``128 + signal``, as a shell reports a process killed by that signal."""
        return 128 + self.signum


def harden_runner() -> None:
    """Make this process unreadable to its tasks and unable to dump core (see the module docstring)."""
    # The soft limit is enough here (a process that is not dumpable dumps no core either); the hard
    # one is left to whoever started the runner. Its tasks get both at 0.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    make_undumpable()


def make_undumpable() -> None:
    """``PR_SET_DUMPABLE`` 0 for this process (Linux; nothing elsewhere)."""
    if _prctl is not None:
        _prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def arm_death_signal(parent_pid: int) -> None:
    """SIGKILL this process when ``parent_pid`` (its parent) dies; exit now if it died already.

    Syscalls only: it runs between fork and exec, and in a task the warm launcher forked.
    """
    if _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the death signal was armed: it would never come


def _child_setup(runner_pid: int) -> Callable[[], None]:
    def setup() -> None:
        # Runs in the child between fork and exec: syscalls only (see spawn_task on threads).
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if _prctl is None:
            return
        for capability in _CAPABILITIES:
            _prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)  # fails without CAP_SETPCAP: none to drop
        arm_death_signal(runner_pid)

    return setup


def spawn_task(
    command: Sequence[str],
    *,
    env: dict[str, str],
    pass_fds: Sequence[int] = (),
    output: int | None = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """Start a task's process (see the module docstring); stdout and stderr are pipes.

    Call it under :func:`blocked_stop_signals`, so that a stop signal arriving while it starts is
    handled once the caller holds the process and can stop it. The setup runs as a ``preexec_fn``,
    which Python calls unsafe when other threads run (the terminal's progress spinner is one): it
    only makes syscalls through functions bound before the fork, and never imports, locks or logs.
    The death signal comes when the *thread* that started the task ends: start tasks from a thread
    that outlives them (``tasksecrets run`` starts them from its main thread). The warm launcher's
    helper starts here too, with its socket in ``pass_fds`` and ``output`` None (its stdout goes
    nowhere, its stderr is the runner's).
    """
    return subprocess.Popen(
        list(command),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if output is None else output,
        stderr=output,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
        preexec_fn=_child_setup(os.getpid()),
    )


@contextmanager
def blocked_stop_signals() -> Iterator[None]:
    """Within the block, :data:`STOP_SIGNALS` wait; one that came is handled when the block ends."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(pgid, signum)


def stop_process_group(proc: TaskProcess, *, grace: float = STOP_GRACE_S) -> tuple[bytes, bytes]:
    """Stop ``proc``'s process group (SIGTERM, then SIGKILL after ``grace``); what it printed."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        return _collect(proc, grace)
    # The task is gone; a process it started in its group and that let go of its pipes may not be.
    # The group's id cannot be handed to another group while one of its members lives.
    _signal_group(proc.pid, signal.SIGKILL)
    return out, err


def _collect(proc: TaskProcess, grace: float) -> tuple[bytes, bytes]:
    try:
        return proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired as exc:
        # A process that left the group (setsid) still holds the pipes: keep what came, stop reading.
        for pipe in (proc.stdout, proc.stderr):
            _close(pipe)
        proc.wait()
        return _as_bytes(exc.output), _as_bytes(exc.stderr)


def _close(pipe: IO[bytes] | None) -> None:
    if pipe is not None:
        pipe.close()


def _as_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    return data if isinstance(data, bytes) else data.encode()


@contextmanager
def stop_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """Within the block, the first of ``signals`` raises :class:`StopRequested`; later ones are ignored.

    Later ones are ignored so that a second Ctrl-C does not interrupt the cleanup the first started
    (which is bounded by :data:`STOP_GRACE_S`).
    """
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            raise StopRequested(signum)

    previous = {signum: signal.signal(signum, handle) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
