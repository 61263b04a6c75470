"""The local store on disk: no plaintext in the files, private modes, and the master key's life."""

from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasksecrets.errors import StoreKeyError
from tasksecrets.local import SecretStore
from tasksecrets.local.keys import create_key_file, default_home, resolve_home

NS = "flytesnacks-development"
FAKE = {"user_secret": b"fake-plaintext-needle-one", "password": b"fake-plaintext-needle-two"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # With umask 022 a file created carelessly would be world-readable: the modes must not depend on it.
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _b64key(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_database_and_wal_hold_no_plaintext_value(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with SecretStore.open(home) as store:
        for i in range(20):
            store.create(NS, f"user-info-{i}", FAKE)
        store.create(NS, "user-info-0", {"user_secret": FAKE["user_secret"]}, replace=True)
        files = [home / "secrets.db", home / "secrets.db-wal"]
        assert all(path.exists() for path in files)  # the WAL exists while the store is open
        raw = b"".join(path.read_bytes() for path in files)
        assert b"user-info-3" in raw  # sanity: the grep does see what is stored in the clear
    raw += (home / "secrets.db").read_bytes()  # after the checkpoint on close as well
    for value in FAKE.values():
        for form in (value, base64.b64encode(value), value.decode().encode("utf-16-le")):
            assert form not in raw


def test_file_and_directory_modes(tmp_path: Path, permissive_umask: None) -> None:
    home = tmp_path / "deep" / "home"
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", FAKE)
        assert _mode(home) == 0o700
        for name in ("secrets.db", "secrets.db-wal", "secrets.db-shm", "master.key"):
            assert _mode(home / name) == 0o600, name
    key_text = (home / "master.key").read_text()
    assert len(base64.b64decode(key_text.strip(), validate=True)) == 32
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []


def test_opening_creates_nothing_and_the_key_appears_with_the_first_write(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = SecretStore.open(home)
    assert store.list() == []
    assert not home.exists()
    store.create(NS, "user-info", FAKE)
    assert (home / "master.key").exists()
    store.close()
    with SecretStore.open(home) as reopened:
        assert reopened.get(NS, "user-info") == FAKE


def test_key_from_environment_creates_no_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("TASKSECRETS_MASTER_KEY", _b64key(os.urandom(32)))
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", FAKE)
    assert not (home / "master.key").exists()
    with SecretStore.open(home) as store:
        assert store.get(NS, "user-info") == FAKE
    monkeypatch.delenv("TASKSECRETS_MASTER_KEY")
    with SecretStore.open(home) as store, pytest.raises(StoreKeyError, match="master key is missing"):
        store.get(NS, "user-info")


def test_key_file_can_live_apart_from_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "keys" / "tasksecrets.key"
    monkeypatch.setenv("TASKSECRETS_KEY_FILE", str(key_file))
    with SecretStore.open(tmp_path / "home") as store:
        store.create(NS, "user-info", FAKE)
    assert key_file.exists()
    assert not (tmp_path / "home" / "master.key").exists()
    assert _mode(key_file) == 0o600


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("not base64 !!", "not a valid master key"),
        (_b64key(b"fake-short-key"), "decodes to 14 bytes, expected 32"),
        ("", "decodes to 0 bytes"),
    ],
)
def test_malformed_environment_key_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("TASKSECRETS_MASTER_KEY", value)
    with SecretStore.open(tmp_path / "home") as store, pytest.raises(StoreKeyError) as caught:
        store.create(NS, "user-info", FAKE)
    message = str(caught.value)
    assert expected in message
    assert "TASKSECRETS_MASTER_KEY" in message
    assert (value not in message) or not value


def test_wrong_key_is_a_clear_error_at_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    with SecretStore.open(home, master_key=os.urandom(32)) as store:
        store.create(NS, "user-info", FAKE)
    with pytest.raises(StoreKeyError) as caught:
        SecretStore.open(home, master_key=os.urandom(32))
    assert "does not open the store" in str(caught.value)
    assert "created with another key" in str(caught.value)

    other = _b64key(os.urandom(32))
    monkeypatch.setenv("TASKSECRETS_MASTER_KEY", other)
    with pytest.raises(StoreKeyError, match="TASKSECRETS_MASTER_KEY does not open the store") as caught:
        SecretStore.open(home)
    assert other not in str(caught.value)


def test_wrong_key_file_is_detected_on_an_empty_secret_list_too(tmp_path: Path) -> None:
    # The key-check record, not a random secret, tells a wrong key: it works even with no secret left.
    home = tmp_path / "home"
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", FAKE)
        store.delete(NS, "user-info")
    (home / "master.key").write_text(_b64key(os.urandom(32)) + "\n")
    with pytest.raises(StoreKeyError, match=r"key file .*master\.key does not open the store"):
        SecretStore.open(home)


def test_lost_key_file_is_never_silently_replaced(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", FAKE)
    (home / "master.key").unlink()
    with SecretStore.open(home) as store:
        assert [i.name for i in store.list()] == ["user-info"]  # metadata needs no key
        with pytest.raises(StoreKeyError, match="master key is missing"):
            store.get(NS, "user-info")
        with pytest.raises(StoreKeyError, match="master key is missing"):
            store.create(NS, "another", {"k": b"fake"})
    assert not (home / "master.key").exists()


def test_master_key_argument_must_be_32_raw_bytes(tmp_path: Path) -> None:
    with pytest.raises(StoreKeyError, match="32 bytes"):
        SecretStore.open(tmp_path, master_key=b"fake-too-short")


def test_racing_key_creation_yields_one_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(create_key_file(home).key)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    on_disk = base64.b64decode((home / "master.key").read_text())
    assert results == [on_disk] * 8


def test_home_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_home() == tmp_path / "user" / ".local" / "share" / "tasksecrets"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_home() == tmp_path / "user" / ".local" / "share" / "tasksecrets"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_home() == tmp_path / "xdg" / "tasksecrets"
    monkeypatch.setenv("TASKSECRETS_HOME", str(tmp_path / "explicit"))
    assert resolve_home() == tmp_path / "explicit"
    assert resolve_home(tmp_path / "arg") == tmp_path / "arg"
