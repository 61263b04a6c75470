"""A damaged store fails clearly: every command that opens it says what broke and what to do next.

Real processes against a real store: a seeded database is damaged on disk (one byte flipped in the
header, in page 1, in the middle, in the last page; or the file truncated), then each command that
opens the store runs (reads first, then writes). Each must exit non-zero with one line on stderr
naming the next step (restore from a backup, or start over), never a traceback, and never print a
value, right or wrong. Where a damage leaves a command's answer intact (a listing when only a
value's bytes changed), the command may succeed, with the true answer. The key file too: a damaged,
wrong or missing key says to restore the key (a new key cannot open the store), never to generate
one."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tasksecrets.local.store import DB_FILE_NAME, SecretStore
from value_forms import leaked_forms

NS = "flytesnacks-development"
PASSWORD = "FAKE-pässword-of-the-damage-tests-0071"
USERNAME = "FAKE-username-0072"
PAGE = 4096

PASSWORD_SHA256 = hashlib.sha256(PASSWORD.encode()).hexdigest()

# The task prints a digest of what it read: the runner masks values, and the digest tells a true
# value from a wrong one without showing either.
MODULE = """
import hashlib

import tasksecrets
from tasksecrets import Secret, task


@task(secret_requests=[Secret(group="user-info", key="password")])
def read_password() -> str:
    value = tasksecrets.current_context().secrets.get("user-info", "password")
    return "sha256=" + hashlib.sha256(value.encode()).hexdigest()
"""

# (id, argv after "tasksecrets", what its output holds when it answers truly)
COMMANDS: list[tuple[str, list[str], str]] = [
    ("get", ["get", "secrets", "-A"], "user-info"),
    ("describe", ["describe", "secret", "user-info", "-n", NS], "password"),
    (
        "reveal",
        ["get", "secret", "user-info", "-n", NS, "-o", "json", "--reveal"],
        base64.b64encode(PASSWORD.encode()).decode(),
    ),
    ("run", ["run", "{module}", "read_password"], f"sha256={PASSWORD_SHA256}"),
    # Writes last: they change what the commands above would read.
    ("create", ["create", "secret", "generic", "new", "-n", NS, "--from-literal=k=FAKE-new-0074"], "created"),
    ("delete", ["delete", "secret", "db", "-n", NS], "deleted"),
]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """The bytes of a seeded database (closed, so SQLite has folded its WAL in) and its key file."""
    home = tmp_path_factory.mktemp("seeded")
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", {"password": PASSWORD.encode(), "username": USERNAME.encode()})
        store.create(NS, "db", {"token": b"FAKE-token-0073"})
    return (home / DB_FILE_NAME).read_bytes(), (home / "master.key").read_bytes()


def _flip(data: bytes, offset: int) -> bytes:
    damaged = bytearray(data)
    damaged[offset] ^= 0xFF
    return bytes(damaged)


def _password_ciphertext_at(data: bytes, tmp_path: Path) -> int:
    copy = tmp_path / "copy.db"
    copy.write_bytes(data)
    with sqlite3.connect(copy) as conn:
        row = conn.execute("SELECT ciphertext FROM secret_values WHERE key = 'password'").fetchone()
    return data.index(bytes(row[0]))


# (id, how the file is damaged given its bytes and a scratch directory)
DAMAGES: list[tuple[str, Callable[[bytes, Path], bytes]]] = [
    ("header-magic", lambda d, _: _flip(d, 0)),
    ("header-page-count", lambda d, _: _flip(d, 28)),
    ("page-1-btree-header", lambda d, _: _flip(d, 100)),
    ("page-1-schema-text", lambda d, _: _flip(d, d.index(b"CREATE TABLE secret_values") + 7)),
    ("middle-page-header", lambda d, _: _flip(d, (len(d) // PAGE // 2) * PAGE)),
    ("middle-value-bytes", lambda d, p: _flip(d, _password_ciphertext_at(d, p) + 3)),
    ("last-page-header", lambda d, _: _flip(d, len(d) - PAGE)),
    ("last-page-content", lambda d, _: _flip(d, len(d) - 20)),
    ("truncated-half", lambda d, _: d[: len(d) // 2]),
    ("truncated-in-page-1", lambda d, _: d[:100]),
    ("truncated-to-nothing", lambda d, _: b""),
]


def _env(home: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_"))}
    return {**environ, "TASKSECRETS_HOME": str(home)}


def _tasksecrets(argv: list[str], home: Path, module: Path) -> subprocess.CompletedProcess[str]:
    args = [arg.replace("{module}", str(module)) for arg in argv]
    return subprocess.run(
        [sys.executable, "-m", "tasksecrets", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _assert_fails_in_one_line(done: subprocess.CompletedProcess[str], *next_steps: str) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert any(step in lines[0] for step in next_steps), lines[0]
    return lines[0]


def _assert_no_value(text: str) -> None:
    for value in (PASSWORD, USERNAME):
        assert leaked_forms(value, text) == [], text


@pytest.fixture
def home_with(tmp_path: Path, seeded_db: tuple[bytes, bytes]) -> Callable[[bytes], Path]:
    def make(db: bytes, key: bytes | None = None) -> Path:
        home = tmp_path / "home"
        home.mkdir(mode=0o700)
        (home / DB_FILE_NAME).write_bytes(db)
        (home / "master.key").write_bytes(seeded_db[1] if key is None else key)
        return home

    return make


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / f"damage_wf_{tmp_path.name.replace('-', '_')}.py"
    path.write_text(MODULE)
    return path


@pytest.mark.parametrize(("damage_id", "damage"), DAMAGES, ids=[d[0] for d in DAMAGES])
def test_a_damaged_database_fails_in_one_line_and_never_answers_wrongly(
    damage_id: str,
    damage: Callable[[bytes, Path], bytes],
    seeded_db: tuple[bytes, bytes],
    home_with: Callable[[bytes], Path],
    module: Path,
    tmp_path: Path,
) -> None:
    home = home_with(damage(seeded_db[0], tmp_path))
    failed = []
    for name, argv, true_answer in COMMANDS:
        done = _tasksecrets(argv, home, module)
        if name != "reveal":  # the one command asked to show the value
            _assert_no_value(done.stdout + done.stderr)
        if done.returncode == 0:
            # SQLite read around the damage (another page, unused bytes): the true answer only.
            assert true_answer in done.stdout, done.stdout
            continue
        _assert_fails_in_one_line(done, "restore it from a backup")
        failed.append(name)
    assert failed, "no command noticed the damage"


def test_the_intact_database_gives_every_true_answer(
    seeded_db: tuple[bytes, bytes], home_with: Callable[[bytes], Path], module: Path
) -> None:
    # The control for the test above: the same commands succeed on the undamaged bytes.
    home = home_with(seeded_db[0])
    for _name, argv, true_answer in COMMANDS:
        done = _tasksecrets(argv, home, module)
        assert done.returncode == 0, done.stderr
        assert true_answer in done.stdout


@pytest.mark.parametrize(
    "key_text",
    [b"not base64 at all!\n", base64.b64encode(os.urandom(16)) + b"\n", b""],
    ids=["not-base64", "too-short", "empty"],
)
def test_a_damaged_key_file_says_to_restore_it_never_to_generate_one(
    key_text: bytes, seeded_db: tuple[bytes, bytes], home_with: Callable[..., Path], module: Path
) -> None:
    home = home_with(seeded_db[0], key_text)
    for _name, argv, _answer in COMMANDS:
        done = _tasksecrets(argv, home, module)
        line = _assert_fails_in_one_line(done, "restore the key file from a backup")
        assert "generate" not in line
        _assert_no_value(done.stdout + done.stderr)


def test_a_wrong_or_missing_key_says_to_restore_the_key(
    seeded_db: tuple[bytes, bytes], home_with: Callable[..., Path], module: Path
) -> None:
    home = home_with(seeded_db[0], base64.b64encode(os.urandom(32)) + b"\n")
    for _name, argv, _answer in COMMANDS:
        line = _assert_fails_in_one_line(_tasksecrets(argv, home, module), "restore")
        assert "generate" not in line
    (home / "master.key").unlink()
    for name, argv, _answer in COMMANDS:
        if name in ("reveal", "run", "create"):  # listing and deleting need no key
            line = _assert_fails_in_one_line(_tasksecrets(argv, home, module), "Restore the key file")
            assert "generate" not in line
