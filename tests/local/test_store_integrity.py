"""The store never reads damage as values: rows lost, added or stale fail to decrypt or are reported.

Each value's associated data binds the secret's whole key list (docs/local-store.md), so a row lost,
added or copied in from another version of the secret makes the others fail to decrypt; a secret
found without keys (what a damaged index shows) is checked with SQLite's integrity check. Values
written before the key list was bound (associated data v1) are still read.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tasksecrets.errors import StoreError
from tasksecrets.local import SecretStore
from tasksecrets.local.keys import find_master_key
from tasksecrets.local.store import _aad

NS = "flytesnacks-development"
FAKE = {"password": b"fake-password-0081", "username": b"fake-username-0082"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SecretStore]:
    with SecretStore.open(tmp_path / "home") as opened:
        opened.create(NS, "user-info", FAKE)
        yield opened


def _sql(store: SecretStore, statement: str, *params: object) -> None:
    conn = sqlite3.connect(store.db_path)
    try:
        with conn:
            conn.execute(statement, params)
    finally:
        conn.close()


def _assert_damage_reported(store: SecretStore, match: str) -> None:
    with pytest.raises(StoreError, match=match) as caught:
        store.get(NS, "user-info")
    assert "fake" not in str(caught.value) and "restore it from a backup" in str(caught.value)


def test_a_lost_row_makes_the_other_keys_fail_to_decrypt(store: SecretStore) -> None:
    _sql(store, "DELETE FROM secret_values WHERE key = 'username'")
    _assert_damage_reported(store, "does not decrypt")


def test_an_added_row_makes_every_key_fail_to_decrypt(store: SecretStore) -> None:
    _sql(
        store,
        "INSERT INTO secret_values SELECT namespace, name, 'extra', nonce, ciphertext, size "
        "FROM secret_values WHERE key = 'password'",
    )
    _assert_damage_reported(store, "does not decrypt")


def test_a_row_of_an_earlier_version_of_the_secret_does_not_decrypt(store: SecretStore) -> None:
    conn = sqlite3.connect(store.db_path)
    old = conn.execute("SELECT nonce, ciphertext FROM secret_values WHERE key = 'password'").fetchone()
    conn.close()
    store.create(NS, "user-info", {**FAKE, "token": b"fake-token-0083"}, replace=True)
    _sql(store, "UPDATE secret_values SET nonce = ?, ciphertext = ? WHERE key = 'password'", *old)
    _assert_damage_reported(store, "does not decrypt")


def test_a_secret_whose_rows_the_index_lost_is_reported_not_read_as_empty(store: SecretStore) -> None:
    # Every row gone from the index only: what a flipped byte in the index's page does.
    store.close()  # SQLite folds its WAL into the file
    conn = sqlite3.connect(store.db_path)
    try:
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_secret_values_1'"
        ).fetchone()[0]
    finally:
        conn.close()
    data = bytearray(store.db_path.read_bytes())
    page = (root - 1) * 4096
    assert data[page] == 0x0A  # a leaf index page: zero its number of cells
    data[page + 3 : page + 5] = bytes(2)
    store.db_path.write_bytes(bytes(data))
    reopened = SecretStore.open(store.home)
    try:
        with pytest.raises(StoreError, match="integrity check") as caught:
            reopened.get(NS, "user-info")
        assert "restore it from a backup" in str(caught.value)
    finally:
        reopened.close()


def test_a_secret_created_without_keys_still_reads_as_empty(store: SecretStore) -> None:
    store.create(NS, "empty", {})
    assert store.get(NS, "empty") == {}


def test_values_written_before_the_key_list_was_bound_are_still_read(store: SecretStore) -> None:
    key = find_master_key(store.home)
    assert key is not None
    nonce = os.urandom(12)
    ciphertext = AESGCM(key.key).encrypt(nonce, b"fake-v1-value-0084", _aad(NS, "old", "k", None))
    store.create(NS, "old", {"k": b"placeholder"})
    _sql(store, "UPDATE secret_values SET nonce = ?, ciphertext = ? WHERE name = 'old'", nonce, ciphertext)
    assert store.get(NS, "old") == {"k": b"fake-v1-value-0084"}
