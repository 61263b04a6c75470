"""The local cluster's private per-task directories, and sweeping those a killed runner left behind.

A task's directory (``$TMPDIR/tasksecrets-task-*``, mode 0700) holds its secret files. The runner
removes it when the task ends, also on SIGINT, SIGTERM or SIGHUP; a SIGKILL gives it no chance. So
each directory starts with an owner file, ``owner``, holding the runner's pid and its start time
(field 22 of ``/proc/<pid>/stat``, so that a pid used again by another process does not pass for
the owner), and every run first removes the directories whose owner is gone (:func:`sweep_orphans`).

Swept: only directories of ``$TMPDIR`` named ``tasksecrets-task-*``, owned by this user, not
symlinks, with an owner file naming a process that is not running. Nothing is followed through a
symlink, and nothing else in ``$TMPDIR`` is touched. A directory without an owner file is left
alone: it never held a secret (the owner file comes first) or comes from an older version.
Where there is no ``/proc`` (macOS, the BSDs), the owner is alive when its pid is.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from tasksecrets.local.kubelet import remove_tree

__all__ = ["OWNER_FILE", "TASK_DIR_PREFIX", "make_task_dir", "process_start_time", "sweep_orphans"]

TASK_DIR_PREFIX = "tasksecrets-task-"
OWNER_FILE = "owner"
_OWNER_MAX_BYTES = 64  # "<pid> <start time>\n": a larger owner file is not ours


def process_start_time(pid: int) -> str | None:
    """``pid``'s start time (clock ticks after boot) from ``/proc``; None when it is not running.

    ``""`` where there is no ``/proc``: then only whether the pid runs can be told.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        if not os.path.isdir("/proc/self"):
            return "" if _pid_runs(pid) else None
        return None
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last.
    fields = raw[raw.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] == b"Z":
        return None  # a zombie runs no more
    return fields[19].decode("ascii")


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_task_dir(parent: Path | None = None) -> Path:
    """A new private task directory (mode 0700) whose owner file names this process."""
    path = Path(tempfile.mkdtemp(prefix=TASK_DIR_PREFIX, dir=parent))
    started = process_start_time(os.getpid())
    fd = os.open(path / OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()} {started or ''}\n")
    return path


def sweep_orphans(parent: Path | None = None) -> list[Path]:
    """Remove the task directories of ``parent`` (default ``$TMPDIR``) whose runner is gone."""
    top = Path(tempfile.gettempdir() if parent is None else parent)
    try:
        names = [name for name in os.listdir(top) if name.startswith(TASK_DIR_PREFIX)]
    except OSError:
        return []
    swept: list[Path] = []
    for name in names:
        path = top / name
        if _is_orphan(path):
            remove_tree(path)
            swept.append(path)
    return swept


def _is_orphan(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    owner = _read_owner(path)
    if owner is None:
        return False
    pid, started = owner
    now = process_start_time(pid)
    return now is None or (bool(started) and bool(now) and now != started)


def _read_owner(path: Path) -> tuple[int, str] | None:
    try:
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fd = os.open(OWNER_FILE, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(_OWNER_MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    parts = raw.decode("ascii", errors="replace").split()
    if len(raw) > _OWNER_MAX_BYTES or not 1 <= len(parts) <= 2 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1] if len(parts) == 2 else ""
