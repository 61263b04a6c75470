"""The warm launcher's helper: a process that imported the task entrypoint once and forks each task.

``python -m tasksecrets.cli.forkserver FD``, started by :class:`~tasksecrets.local.launcher.WarmLauncher`
with an environment that holds no secret (an allow-list of the interpreter's own settings) and the
unix socket ``FD``. It makes itself not dumpable, imports :mod:`tasksecrets.cli.execute` and then
serves the runner (the protocol's constants are the launcher's):

- the helper keeps one *spare*: a fork of itself made before the spec of any task it will run
  exists. The spare drops what the helper holds (the runner's socket, its selector, the pidfds of
  running tasks), makes its own session (so its own process group), arms its death signal on the
  helper and waits on a private channel. The fork and that preparation happen while the
  previous task runs, not while the runner waits;
- the runner sends one byte with three file descriptors
  (:data:`~tasksecrets.local.launcher.REQUEST`): the read end of a pipe carrying the task's spec
  (its arguments from ``execute`` on, env, cwd as JSON), and the write ends of the task's stdout
  and stderr pipes. The helper never reads the spec: it passes the three to its spare
  (:data:`TASK`; a spare that died waiting is replaced by one forked then), closes its copies,
  sends ``P`` with the spare's pid (:data:`~tasksecrets.local.launcher.MESSAGE`) and forks the next
  spare. The secret values the spec holds reach that task only;
- the task closes its channel, reads its spec, takes the pipes as stdout and stderr, replaces its
  whole environment with the spec's, changes to its cwd and runs what
  ``python -m tasksecrets execute`` runs, with the same exit status;
- when a task ends, the helper reaps it and sends ``X`` with its pid and wait status.

The helper ends when the runner closes its socket, and ends its spare first (its channel closes);
it dies with the runner (its death signal) and its tasks and spare die with it (theirs). What a
task imports is imported in the task's process only.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
from typing import Any

import tasksecrets
from tasksecrets.local.launcher import MESSAGE, REQUEST
from tasksecrets.local.procguard import arm_death_signal, make_undumpable

__all__ = ["main"]

TASK = b"T"  # from the helper to its spare, with the three fds of the request it takes


def _exit_code(exc: SystemExit) -> int:
    # As the interpreter does at exit: None is 0, an int is itself, anything else is printed and 1.
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _read_spec(fd: int) -> dict[str, Any]:
    chunks = []
    with os.fdopen(fd, "rb") as spec:
        while chunk := spec.read(65536):
            chunks.append(chunk)
    loaded: dict[str, Any] = json.loads(b"".join(chunks))
    return loaded


def _become_task(fds: list[int]) -> None:
    # In the spare, once it is given a task: the same state a cold task starts in.
    spec_fd, out_fd, err_fd = fds
    spec = _read_spec(spec_fd)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    os.chdir(spec["cwd"])
    os.environ.clear()
    os.environ.update(spec["env"])
    # As ``python -m tasksecrets execute ...`` sets it: the package's __main__.py, then the arguments.
    sys.argv = [os.path.join(os.path.dirname(tasksecrets.__file__), "__main__.py"), *spec["argv"]]


def _run_task(fds: list[int]) -> int:
    try:
        _become_task(fds)
        from tasksecrets.cli.execute import main

        main(sys.argv[2:])
        return 0
    except SystemExit as exc:
        return _exit_code(exc)
    except KeyboardInterrupt:
        # As the interpreter does: the traceback, then death by SIGINT.
        sys.excepthook(*sys.exc_info())
        _finish()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    except BaseException:
        sys.excepthook(*sys.exc_info())
        return 1


def _finish() -> None:
    # What the interpreter does at exit, short of freeing what it holds: join the task's threads,
    # run its atexit functions, flush its output.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed by the task, or its reader gone
            stream.flush()


def _await_task(channel: socket.socket, helper_pid: int) -> int:
    # The spare: its own session (so its own process group) and death signal now, then it waits
    # for its task.
    os.setsid()
    arm_death_signal(helper_pid)
    data, fds, _flags, _addr = socket.recv_fds(channel, 1, 3)
    channel.close()  # the task cannot talk to the helper
    if data != TASK or len(fds) != 3:
        return 0  # the helper ended (its run is over) before it had a task for this spare
    code = _run_task(fds)
    _finish()
    return code


class _Helper:
    """The helper's state: the runner's socket, the tasks it runs, and its spare."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.selector = selectors.DefaultSelector()
        self.running: dict[int, int] = {}  # pidfd -> pid
        self.spare: tuple[int, socket.socket] | None = None  # pid, the channel to it

    def _fork_spare(self) -> tuple[int, socket.socket]:
        helper_pid = os.getpid()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                # What the helper holds is not the task's: the runner's socket, the helper's
                # selector, the pidfds of the tasks running now.
                ours.close()
                self.sock.close()
                self.selector.close()
                for pidfd in self.running:
                    os.close(pidfd)
                code = _await_task(theirs, helper_pid)
            finally:
                os._exit(code)
        theirs.close()
        return pid, ours

    def _hand_over(self, fds: list[int]) -> int:
        # The spare made after the last task (or one made now) takes this one; a spare that died
        # waiting (killed from outside) is reaped and replaced once.
        for attempt in range(2):
            pid, channel = self.spare or self._fork_spare()
            self.spare = None
            try:
                socket.send_fds(channel, [TASK], fds)
                return pid
            except OSError:
                if attempt:
                    raise
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            finally:
                channel.close()
        raise AssertionError("unreachable")

    def launch(self, fds: list[int]) -> None:
        try:
            pid = self._hand_over(fds)
        finally:
            for fd in fds:
                os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = pid
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.sock.sendall(MESSAGE.pack(b"P", pid, 0))
        self.spare = self._fork_spare()  # while the task runs, for the next one

    def reap(self, pidfd: int) -> None:
        pid = self.running.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        self.sock.sendall(MESSAGE.pack(b"X", pid, status))

    def serve(self) -> None:
        self.selector.register(self.sock, selectors.EVENT_READ)
        self.spare = self._fork_spare()
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is not self.sock:
                    self.reap(int(key.fd))
                    continue
                data, fds, _flags, _addr = socket.recv_fds(self.sock, 1, 3)
                if not data:
                    return  # the runner closed its end: its run is over
                if data == REQUEST and len(fds) == 3:
                    self.launch(fds)
                else:
                    for fd in fds:
                        os.close(fd)

    def close(self) -> None:
        """End the spare (its channel closes, it exits) and wait for it."""
        if self.spare is not None:
            pid, channel = self.spare
            self.spare = None
            channel.close()
            os.waitpid(pid, 0)
        self.selector.close()


def main(argv: list[str]) -> None:
    """Serve the runner on the socket whose fd is ``argv[0]`` until it closes it."""
    make_undumpable()
    sock = socket.socket(fileno=int(argv[0]))
    # What every task needs, imported once: the entrypoint and the rest of the public SDK
    # (``tasksecrets.testing``: its mocks, which example tasks import). Nothing here reads a secret.
    import tasksecrets.cli.execute
    import tasksecrets.testing  # noqa: F401

    sys.stdout.flush()
    sys.stderr.flush()
    helper = _Helper(sock)
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the runner is gone
            helper.serve()
    finally:
        helper.close()


if __name__ == "__main__":
    main(sys.argv[1:])
