"""The local store's public API: create/get/list/delete, naming rules, errors and their messages."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasksecrets.errors import (
    NamespaceNotFoundError,
    StoredSecretExistsError,
    StoredSecretNotFoundError,
    StoreError,
    StoreNameError,
)
from tasksecrets.local import SecretStore, format_create_command

NS = "flytesnacks-development"
FAKE = {"user_secret": b"fake-user-secret-1", "username": b"fake-username-2", "password": b"fake-password-3"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SecretStore]:
    with SecretStore.open(tmp_path / "home") as opened:
        yield opened


def _assert_no_values(text: str) -> None:
    for value in FAKE.values():
        assert value.decode() not in text


def test_round_trip_of_a_secret_with_several_keys(store: SecretStore) -> None:
    store.create(NS, "user-info", FAKE)
    assert store.get(NS, "user-info") == FAKE
    assert store.get_value(NS, "user-info", "password") == b"fake-password-3"


def test_values_are_arbitrary_bytes(store: SecretStore) -> None:
    data = {"binary": bytes(range(256)), "empty": b"", "nul": b"\0\0"}
    store.create(NS, "blob", data)
    assert store.get(NS, "blob") == data


def test_secret_without_keys_is_allowed_like_kubectl(store: SecretStore) -> None:
    store.create(NS, "empty", {})
    assert store.get(NS, "empty") == {}
    assert store.list(NS)[0].keys == ()


def test_list_shows_metadata_never_values(store: SecretStore) -> None:
    store.create(NS, "user-info", FAKE)
    store.create("other-ns", "b", {"k": b"fake-k"}, secret_type="kubernetes.io/basic-auth")
    infos = store.list()
    assert [(i.namespace, i.name) for i in infos] == [(NS, "user-info"), ("other-ns", "b")]
    info = store.list(NS)[0]
    assert info.keys == ("password", "user_secret", "username")
    assert dict(info.sizes) == {key: len(value) for key, value in FAKE.items()}
    assert info.type == "Opaque"
    assert info.created == info.updated
    assert store.list("other-ns")[0].type == "kubernetes.io/basic-auth"
    assert store.namespaces() == ["flytesnacks-development", "other-ns"]
    _assert_no_values(repr(infos) + repr(store))


def test_create_refuses_to_overwrite_and_says_what_to_do(store: SecretStore) -> None:
    store.create(NS, "user-info", FAKE)
    with pytest.raises(StoredSecretExistsError) as caught:
        store.create(NS, "user-info", {"user_secret": b"fake-other"})
    message = str(caught.value)
    assert f"tasksecrets delete secret user-info -n {NS}" in message
    assert "tasksecrets apply" in message
    _assert_no_values(message)
    assert store.get(NS, "user-info") == FAKE


def test_replace_swaps_all_keys_and_keeps_creation_time(store: SecretStore) -> None:
    store.create(NS, "user-info", FAKE)
    created = store.info(NS, "user-info").created
    store.create(NS, "user-info", {"only": b"fake-only"}, replace=True)
    assert store.get(NS, "user-info") == {"only": b"fake-only"}
    info = store.info(NS, "user-info")
    assert info.created == created
    assert info.updated > created


def test_delete_removes_the_secret_and_its_values(store: SecretStore) -> None:
    store.create(NS, "user-info", FAKE)
    store.delete(NS, "user-info")
    assert store.list() == []
    conn = sqlite3.connect(store.db_path)
    try:
        assert conn.execute("SELECT count(*) FROM secret_values").fetchone()[0] == 0
    finally:
        conn.close()
    with pytest.raises(NamespaceNotFoundError, match="nothing to delete"):
        store.delete(NS, "user-info")
    store.create(NS, "kept", {"k": b"fake-v"})
    with pytest.raises(StoredSecretNotFoundError, match="nothing to delete"):
        store.delete(NS, "user-info")


def test_read_on_a_fresh_home_says_the_store_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    with SecretStore.open(home) as store:
        assert store.list() == []
        assert store.namespaces() == []
        with pytest.raises(NamespaceNotFoundError) as caught:
            store.get(NS, "user-info")
    message = str(caught.value)
    assert "is empty" in message
    assert f"tasksecrets create secret generic user-info -n {NS} --from-literal=KEY=VALUE" in message
    assert not home.exists()


def test_missing_namespace_lists_the_namespaces_that_exist(store: SecretStore) -> None:
    store.create("team-a", "x", {"k": b"fake-v"})
    with pytest.raises(NamespaceNotFoundError) as caught:
        store.get(NS, "user-info")
    message = str(caught.value)
    assert "team-a" in message
    assert format_create_command(NS, "user-info") in message


def test_missing_secret_lists_the_secrets_of_the_namespace(store: SecretStore) -> None:
    store.create(NS, "db-creds", {"k": b"fake-v"})
    with pytest.raises(StoredSecretNotFoundError) as caught:
        store.get(NS, "user-info")
    assert "db-creds" in str(caught.value)
    assert "tasksecrets create secret generic user-info" in str(caught.value)


def test_missing_key_names_the_keys_and_the_fix(store: SecretStore) -> None:
    store.create(NS, "user-info", FAKE)
    with pytest.raises(StoredSecretNotFoundError) as caught:
        store.get_value(NS, "user-info", "token")
    message = str(caught.value)
    assert "password, user_secret, username" in message
    # The fix adds the key and keeps the others: no delete, no retyping of the other keys.
    patch = """-p '{"stringData":{"token":"VALUE"}}'"""
    assert f"tasksecrets patch secret user-info -n flytesnacks-development {patch}" in message
    assert "delete" not in message and "user_secret=" not in message
    _assert_no_values(message)


@pytest.mark.parametrize(
    ("namespace", "name", "key"),
    [
        ("Flytesnacks", "user-info", "k"),  # uppercase namespace
        ("a" * 64, "user-info", "k"),  # namespace longer than a DNS label
        ("ns.with.dots", "user-info", "k"),  # dots are not allowed in namespaces
        ("-ns", "user-info", "k"),
        ("", "user-info", "k"),
        (NS, "User_Info", "k"),  # secret names are DNS subdomains
        (NS, "a" * 254, "k"),
        (NS, "user-info-", "k"),
        (NS, "user-info", "bad/key"),
        (NS, "user-info", ".."),
        (NS, "user-info", "..hidden"),
        (NS, "user-info", "k" * 254),
    ],
)
def test_kubernetes_naming_rules(store: SecretStore, namespace: str, name: str, key: str) -> None:
    with pytest.raises(StoreNameError) as caught:
        store.create(namespace, name, {key: b"fake-v"})
    assert isinstance(caught.value, ValueError)
    assert "fake-v" not in str(caught.value)
    assert store.list() == []


def test_valid_names_at_the_limits(store: SecretStore) -> None:
    store.create("a" * 63, ".".join(["b" * 63] * 3) + ".cc", {"_.-Az09": b"fake", "k" * 253: b"fake"})
    assert len(store.list()) == 1


def test_values_must_be_bytes(store: SecretStore) -> None:
    with pytest.raises(TypeError, match="bytes"):
        store.create(NS, "user-info", {"k": "fake-text"})  # type: ignore[dict-item]
    assert store.list() == []


def test_a_value_moved_to_another_row_does_not_decrypt(store: SecretStore) -> None:
    store.create(NS, "a", {"k": b"fake-secret-of-a"})
    store.create("other-ns", "b", {"k": b"fake-secret-of-b"})
    store.create(NS, "c", {"k1": b"fake-c-1", "k2": b"fake-c-2"})
    conn = sqlite3.connect(store.db_path)
    try:
        with conn:
            # Copy a's ciphertext over b's (another namespace and name, same key) ...
            conn.execute(
                "UPDATE secret_values SET (nonce, ciphertext) = "
                "(SELECT nonce, ciphertext FROM secret_values WHERE namespace = ? AND name = 'a') "
                "WHERE namespace = 'other-ns' AND name = 'b'",
                (NS,),
            )
            # ... and swap two keys of c.
            for old, new in (("k1", "tmp"), ("k2", "k1"), ("tmp", "k2")):
                conn.execute("UPDATE secret_values SET key = ? WHERE name = 'c' AND key = ?", (new, old))
    finally:
        conn.close()
    assert store.get(NS, "a") == {"k": b"fake-secret-of-a"}
    for namespace, name in (("other-ns", "b"), (NS, "c")):
        with pytest.raises(StoreError, match="does not decrypt") as caught:
            store.get(namespace, name)
        assert "fake" not in str(caught.value)


def test_store_is_usable_from_several_threads(store: SecretStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def write(i: int) -> None:
        store.create(NS, f"s{i}", {"k": f"fake-{i}".encode()})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(40)))
    assert len(store.list(NS)) == 40
    assert store.get_value(NS, "s7", "k") == b"fake-7"
