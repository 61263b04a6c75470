"""Private task directories and the sweep of those a killed runner left: real files, real processes.

A dead owner is a real process that ran and was reaped; a "reused pid" is this live process named
with another start time, which is what a pid given again to a new process looks like.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tasksecrets.local.workdirs import (
    OWNER_FILE,
    TASK_DIR_PREFIX,
    make_task_dir,
    process_start_time,
    sweep_orphans,
)


def _dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def _task_dir(parent: Path, name: str, owner: str | None) -> Path:
    path = parent / f"{TASK_DIR_PREFIX}{name}"
    path.mkdir(mode=0o700)
    if owner is not None:
        (path / OWNER_FILE).write_text(owner)
    secret = path / "pod" / "secret"
    secret.parent.mkdir()
    secret.write_text("fake secret file")
    secret.chmod(0o400)
    return path


def test_a_task_dir_is_private_and_names_its_owner_and_start_time(tmp_path: Path) -> None:
    path = make_task_dir(tmp_path)
    assert path.name.startswith(TASK_DIR_PREFIX)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    pid, started = (path / OWNER_FILE).read_text().split()
    assert int(pid) == os.getpid() and started == process_start_time(os.getpid())
    assert sweep_orphans(tmp_path) == [] and path.is_dir()  # its owner runs: kept


def test_the_start_time_tells_a_running_process_from_a_gone_one() -> None:
    started = process_start_time(os.getpid())
    assert started is not None and started.isdigit()
    assert process_start_time(_dead_pid()) is None


def test_the_sweep_removes_only_our_dirs_whose_owner_is_gone(tmp_path: Path) -> None:
    dead = _dead_pid()
    me = f"{os.getpid()} {process_start_time(os.getpid())}"
    dead_owner = _task_dir(tmp_path, "dead", f"{dead} 12345\n")
    reused_pid = _task_dir(tmp_path, "reused", f"{os.getpid()} 1\n")
    alive = _task_dir(tmp_path, "alive", me)
    no_owner = _task_dir(tmp_path, "no-owner", None)
    garbage = _task_dir(tmp_path, "garbage", "not a pid at all\n")
    other_name = tmp_path / "someone-else"
    other_name.mkdir()
    (other_name / OWNER_FILE).write_text(f"{dead} 1\n")
    a_file = tmp_path / f"{TASK_DIR_PREFIX}file"
    a_file.write_text(f"{dead} 1\n")
    # A symlink with our name, to a directory elsewhere that looks like an orphan: neither touched.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = _task_dir(elsewhere, "target", f"{dead} 1\n")
    link = tmp_path / f"{TASK_DIR_PREFIX}link"
    link.symlink_to(target)
    # An owner file that is a symlink to a dead owner's file is not read.
    linked_owner = _task_dir(tmp_path, "linked-owner", None)
    (linked_owner / OWNER_FILE).symlink_to(target / OWNER_FILE)

    swept = sweep_orphans(tmp_path)

    assert sorted(swept) == sorted([dead_owner, reused_pid])
    assert not dead_owner.exists() and not reused_pid.exists()
    for kept in (alive, no_owner, garbage, other_name, a_file, linked_owner, target):
        assert kept.exists(), kept
    assert link.is_symlink() and (target / "pod" / "secret").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory to another user")
def test_the_sweep_leaves_another_users_dir(tmp_path: Path) -> None:
    theirs = _task_dir(tmp_path, "theirs", f"{_dead_pid()} 1\n")
    os.chown(theirs, 65534, 65534)
    assert sweep_orphans(tmp_path) == [] and theirs.exists()
