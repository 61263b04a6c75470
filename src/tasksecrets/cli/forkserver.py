"""The warm launcher's helper: a process that imported the task entrypoint once and forks each task.

``python -m tasksecrets.cli.forkserver FD``, started by :class:`~tasksecrets.local.launcher.WarmLauncher`
with an environment that holds no secret (an allow-list of the interpreter's own settings) and the
unix socket ``FD``. It makes itself not dumpable, imports :mod:`tasksecrets.cli.execute` and then
serves the runner (the protocol's constants are the launcher's):

- the runner sends one byte with three file descriptors
  (:data:`~tasksecrets.local.launcher.REQUEST`): the read end of a pipe carrying the task's spec
  (its arguments from ``execute`` on, env, cwd as JSON), and the write ends of the task's stdout
  and stderr pipes. The helper never reads the spec: it forks, closes its copies and goes on
  waiting. The secret values the spec holds reach the forked task only;
- the forked task makes its own session (so its own process group), arms its death signal on the
  helper, sends ``P`` with its pid (:data:`~tasksecrets.local.launcher.MESSAGE`) and closes the
  socket, then reads its spec, takes the pipes as stdout and stderr, replaces its whole
  environment with the spec's, changes to its cwd and runs what ``python -m tasksecrets execute``
  runs, with the same exit status;
- when a task ends, the helper reaps it and sends ``X`` with its pid and wait status.

The helper ends when the runner closes its socket; it dies with the runner (its death signal) and
its tasks die with it (theirs). What a task imports is imported in the task's process only.
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


def _become_task(fds: list[int], sock: socket.socket, helper_pid: int) -> None:
    # In the forked child, before any of the task's code: the same state a cold task starts in.
    spec_fd, out_fd, err_fd = fds
    os.setsid()
    arm_death_signal(helper_pid)
    sock.sendall(MESSAGE.pack(b"P", os.getpid(), 0))
    sock.close()  # the task cannot talk to the helper
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


def _run_task(fds: list[int], sock: socket.socket, helper_pid: int) -> int:
    try:
        _become_task(fds, sock, helper_pid)
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


def _fork(fds: list[int], sock: socket.socket) -> int:
    helper_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _run_task(fds, sock, helper_pid)
            _finish()
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def _serve(sock: socket.socket) -> None:
    running: dict[int, int] = {}  # pidfd -> pid
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is sock:
                    data, fds, _flags, _addr = socket.recv_fds(sock, 1, 3)
                    if not data:
                        return  # the runner closed its end: its run is over
                    if data != REQUEST or len(fds) != 3:
                        for fd in fds:
                            os.close(fd)
                        continue
                    pid = _fork(fds, sock)
                    pidfd = os.pidfd_open(pid)
                    running[pidfd] = pid
                    selector.register(pidfd, selectors.EVENT_READ)
                else:
                    pidfd = int(key.fd)
                    pid = running.pop(pidfd)
                    selector.unregister(pidfd)
                    os.close(pidfd)
                    _, status = os.waitpid(pid, 0)
                    sock.sendall(MESSAGE.pack(b"X", pid, status))


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
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the runner is gone
        _serve(sock)


if __name__ == "__main__":
    main(sys.argv[1:])
