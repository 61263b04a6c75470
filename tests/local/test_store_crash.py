"""Durability and concurrency of the local store, with real processes.

Writers are separate Python processes (tests/local/store_writer.py) that print an ``ack`` line
after each committed create(). Nothing is mocked: the kills are real SIGKILLs, the database is
the real SQLite file, and every check reads it back through the public API and SQLite itself.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasksecrets.local.store import SecretStore

WRITER = Path(__file__).with_name("store_writer.py")
sys.path.insert(0, str(WRITER.parent))
from store_writer import KEYS, NAMESPACE, expected_data  # noqa: E402


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_HOME"):
        env.pop(name, None)
    return env


def _start_writer(home: Path, prefix: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(home), prefix, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _acks(output: str) -> list[str]:
    # A line cut short by the kill does not count as acknowledged.
    return [
        line[4:-1]
        for line in output.splitlines(keepends=True)
        if line.startswith("ack ") and line.endswith("\n")
    ]


def _integrity(home: Path) -> str:
    conn = sqlite3.connect(home / "secrets.db")
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_two_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    home = tmp_path / "store"
    writers = {prefix: _start_writer(home, prefix, 500) for prefix in ("left", "right")}
    acked: list[str] = []
    for prefix, proc in writers.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"writer {prefix} failed"
        names = _acks(out)
        assert len(names) == 500
        acked += names

    with SecretStore.open(home) as store:
        stored = {info.name: info for info in store.list(NAMESPACE)}
        assert len(stored) == 1000
        assert set(acked) == set(stored)
        for name in acked:
            assert store.get(NAMESPACE, name) == expected_data(name)
    assert _integrity(home) == "ok"


def test_sigkilled_writer_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    home = tmp_path / "store"
    rng = random.Random(20240604)
    acked: list[str] = []
    verified = 0
    for run in range(50):
        proc = _start_writer(home, f"run{run}", 0)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        # Random points in the write loop: the first run also kills during key and schema creation.
        time.sleep(rng.uniform(0.0, 0.12))
        proc.send_signal(signal.SIGKILL)
        out = proc.stdout.read()
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        acked += _acks(out)

        assert _integrity(home) == "ok"
        with SecretStore.open(home) as store:
            infos = {info.name: info for info in store.list(NAMESPACE)}
            # Nothing acknowledged is lost, and no secret is half-written (all keys or none).
            assert set(acked) <= set(infos)
            assert all(info.keys == KEYS for info in infos.values())
            for name in acked[verified:]:
                assert store.get(NAMESPACE, name) == expected_data(name)
            verified = len(acked)
            # At most the one write in flight when killed may be committed but not acknowledged.
            assert len(infos) - len(acked) <= run + 1
    assert verified > 0, "the writer never got a write in before being killed"
