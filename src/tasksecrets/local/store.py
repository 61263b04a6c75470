"""The encrypted local secret store: Kubernetes-like namespaced Secrets in one SQLite file.

Layout under the store's home (``TASKSECRETS_HOME``, default the user's data directory)::

    <home>/             mode 0700 when created here
      secrets.db        mode 0600, SQLite in WAL mode (plus secrets.db-wal / -shm, same mode)
      master.key        mode 0600, base64 of the 32-byte master key (see keys.py)

Each value is encrypted with AES-256-GCM under a fresh random 96-bit nonce; the associated data
binds the ciphertext to its namespace, secret name and key, and to the secret's list of keys, so a
value moved to another row, or a secret that lost or gained a row, fails to decrypt instead of being
read as something else. Names, keys, types, sizes and timestamps are stored in the clear (as
``kubectl get secrets`` shows them); values never are. A damaged database file is reported as such
(SQLite's errors; a secret found without keys is checked with ``PRAGMA integrity_check``), with the
way to restore it, and never read as values.

A key-check record, written with the first secret, tells a wrong key apart from damaged data.
Every write is one ``BEGIN IMMEDIATE`` transaction per secret (all its keys or none) committed with
``synchronous=FULL``: once a call returns, the secret survives a crash of the process or machine.
Opening creates nothing; the directory, database and key file appear on the first write.
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tasksecrets.errors import (
    StoredSecretExistsError,
    StoredSecretNotFoundError,
    StoreError,
    StoreKeyError,
    TaskSecretsError,
)
from tasksecrets.local.keys import (
    MASTER_KEY_ENV,
    MasterKey,
    create_key_file,
    ensure_private_dir,
    find_master_key,
    key_file_path,
    resolve_home,
)
from tasksecrets.local.kube_names import validate_data_key, validate_namespace, validate_secret_name
from tasksecrets.local.store_advice import (
    format_add_keys_command,
    format_create_command,
    join_names,
    not_found_error,
)

__all__ = ["DB_FILE_NAME", "SecretInfo", "SecretRecord", "SecretStore", "format_create_command"]

DB_FILE_NAME = "secrets.db"
_SCHEMA_VERSION = "1"
_BUSY_TIMEOUT_S = 30.0
_NONCE_SIZE = 12
_KEY_CHECK_PLAINTEXT = b"tasksecrets master key check"
_KEY_CHECK_AAD = b"tasksecrets/key-check/v1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
    namespace TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}', annotations TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (namespace, name));
CREATE TABLE IF NOT EXISTS secret_values (
    namespace TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
    nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (namespace, name, key));
"""
# SQLite's primary result codes (sqlite3 names them only from Python 3.11)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CORRUPT, _SQLITE_NOTADB = 5, 6, 11, 26


@dataclass(frozen=True)
class SecretInfo:
    """What the store knows about a secret without decrypting it (never its values)."""

    namespace: str
    name: str
    type: str
    keys: tuple[str, ...]
    sizes: Mapping[str, int] = field(compare=False)  # key -> length of the value in bytes
    created: datetime
    updated: datetime
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SecretRecord:
    """A secret's content as :meth:`SecretStore.modify` hands it over: its repr names keys only."""

    type: str
    data: Mapping[str, bytes] = field(repr=False)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


class SecretStore:
    """A handle on the local store in one directory. Use :meth:`open`, ideally as a context manager."""

    def __init__(self, home: Path, *, master_key: bytes | None = None) -> None:
        self._home = home
        self._db_path = home / DB_FILE_NAME
        self._explicit_key = master_key
        self._key: MasterKey | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @classmethod
    def open(cls, home: Path | None = None, *, master_key: bytes | None = None) -> SecretStore:
        """Open the store in ``home`` (default ``TASKSECRETS_HOME`` or the user data dir).

        Creates nothing. If the store exists and a key is available, the key is checked now and a
        wrong one raises StoreKeyError; a missing key is reported by the first call that needs it.
        """
        store = cls(resolve_home(home), master_key=master_key)
        if store._home.exists() and not store._home.is_dir():
            raise StoreError(
                f"the store's home {store._home} is a file, not a directory: set TASKSECRETS_HOME to a "
                "directory (it is created on the first write)"
            )
        if master_key is not None:
            find_master_key(store._home, master_key=master_key)  # rejects a malformed key now
        try:
            with store._lock, store._reporting_io_errors(writing=False):
                conn = store._connect(create=False)
                if conn is not None and _read_key_check(conn) is not None:
                    found = find_master_key(store._home, master_key=master_key, in_use=True)
                    if found is not None:
                        store._verify_key(conn, found)
        except BaseException:
            store.close()
            raise
        return store

    @property
    def home(self) -> Path:
        return self._home

    @property
    def db_path(self) -> Path:
        return self._db_path

    def __repr__(self) -> str:
        return f"SecretStore(home={str(self._home)!r})"

    def __enter__(self) -> SecretStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- writes -------------------------------------------------------------------------------

    def create(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, bytes],
        *,
        replace: bool = False,
        secret_type: str = "Opaque",
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        """Store a secret with all its keys in one transaction.

        Raises StoredSecretExistsError if it exists and ``replace`` is false; with ``replace`` the
        old keys (and labels and annotations) are dropped and the new ones written, keeping the
        creation time.
        """
        validate_namespace(namespace)
        validate_secret_name(name)
        record = SecretRecord(secret_type, data, dict(labels or {}), dict(annotations or {}))
        _check_record(record)
        with self._write() as (conn, aead):
            assert aead is not None
            row = conn.execute(
                "SELECT created FROM secrets WHERE namespace = ? AND name = ?", (namespace, name)
            ).fetchone()
            if row is not None and not replace:
                raise StoredSecretExistsError(
                    f"secret {name!r} already exists in namespace {namespace!r}; add or change keys with "
                    f"'tasksecrets patch secret {name} -n {namespace} -p ...' or 'tasksecrets apply -f "
                    f"FILE', or delete it first with 'tasksecrets delete secret {name} -n {namespace}'"
                )
            self._write_record(conn, aead, namespace, name, record, created=row[0] if row else None)

    def modify(
        self,
        namespace: str,
        name: str,
        change: Callable[[SecretRecord | None], SecretRecord],
    ) -> str:
        """Read a secret, let ``change`` compute its new content, write it: one transaction.

        ``change`` gets the current record (None if the secret does not exist) and returns the new
        one; nothing else can write in between. Returns ``created``, ``configured`` or ``unchanged``
        (kubectl's words), and writes nothing when unchanged.
        """
        validate_namespace(namespace)
        validate_secret_name(name)
        with self._write() as (conn, aead):
            assert aead is not None
            current = self._read_record(conn, aead, namespace, name)
            record = change(current)
            _check_record(record)
            if current is not None and _same_record(current, record):
                return "unchanged"
            created = None
            if current is not None:
                created = conn.execute(
                    "SELECT created FROM secrets WHERE namespace = ? AND name = ?", (namespace, name)
                ).fetchone()[0]
            self._write_record(conn, aead, namespace, name, record, created=created)
            return "created" if current is None else "configured"

    def _write_record(
        self,
        conn: sqlite3.Connection,
        aead: AESGCM,
        namespace: str,
        name: str,
        record: SecretRecord,
        *,
        created: str | None,
    ) -> None:
        now = _now()
        keys = sorted(record.data)
        conn.execute("DELETE FROM secret_values WHERE namespace = ? AND name = ?", (namespace, name))
        conn.execute(
            "INSERT OR REPLACE INTO secrets (namespace, name, type, created, updated, labels, annotations) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                namespace,
                name,
                record.type,
                created or now,
                now,
                json.dumps(dict(record.labels), sort_keys=True),
                json.dumps(dict(record.annotations), sort_keys=True),
            ),
        )
        conn.executemany(
            "INSERT INTO secret_values (namespace, name, key, nonce, ciphertext, size) VALUES (?,?,?,?,?,?)",
            [self._value_row(aead, namespace, name, key, record.data[key], keys) for key in keys],
        )

    def _read_record(
        self, conn: sqlite3.Connection, aead: AESGCM, namespace: str, name: str
    ) -> SecretRecord | None:
        row = conn.execute(
            "SELECT type, labels, annotations FROM secrets WHERE namespace = ? AND name = ?",
            (namespace, name),
        ).fetchone()
        if row is None:
            return None
        rows = conn.execute(
            "SELECT key, nonce, ciphertext FROM secret_values WHERE namespace = ? AND name = ? ORDER BY key",
            (namespace, name),
        ).fetchall()
        keys = [r[0] for r in rows]
        if not keys:
            self._check_intact(conn)
        data = {key: _decrypt(aead, nonce, ct, namespace, name, key, keys) for key, nonce, ct in rows}
        try:
            return SecretRecord(row[0], data, _parse_mapping(row[1]), _parse_mapping(row[2]))
        except ValueError:
            raise self._damaged_error("it holds labels or annotations that do not parse") from None

    @staticmethod
    def _value_row(
        aead: AESGCM, namespace: str, name: str, key: str, value: bytes, keys: builtins.list[str]
    ) -> tuple[str, str, str, bytes, bytes, int]:
        nonce, ciphertext = _encrypt(aead, value, _aad(namespace, name, key, keys))
        return namespace, name, key, nonce, ciphertext, len(value)

    def delete(self, namespace: str, name: str) -> None:
        """Delete a secret and all its keys; StoredSecretNotFoundError if it does not exist."""
        validate_namespace(namespace)
        validate_secret_name(name)
        with self._read() as conn:
            if conn is None:
                self._raise_not_found(None, namespace, name, deleting=True)
        # Deleting decrypts nothing, so it works without the master key.
        with self._write(need_key=False) as (conn, _aead):
            cursor = conn.execute("DELETE FROM secrets WHERE namespace = ? AND name = ?", (namespace, name))
            if cursor.rowcount == 0:
                self._raise_not_found(conn, namespace, name, deleting=True)
            conn.execute("DELETE FROM secret_values WHERE namespace = ? AND name = ?", (namespace, name))

    # -- reads --------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> dict[str, bytes]:
        """All keys of a secret with their decrypted values."""
        validate_namespace(namespace)
        validate_secret_name(name)
        with self._read() as conn:
            found = (
                conn
                and conn.execute(
                    "SELECT 1 FROM secrets WHERE namespace = ? AND name = ?", (namespace, name)
                ).fetchone()
            )
            if conn is None or found is None:
                self._raise_not_found(conn, namespace, name)
            assert conn is not None
            aead = self._aead_for_read(conn)
            rows = conn.execute(
                "SELECT key, nonce, ciphertext FROM secret_values "
                "WHERE namespace = ? AND name = ? ORDER BY key",
                (namespace, name),
            ).fetchall()
            keys = [row[0] for row in rows]
            if not keys:
                self._check_intact(conn)
            return {key: _decrypt(aead, nonce, ct, namespace, name, key, keys) for key, nonce, ct in rows}

    def get_value(self, namespace: str, name: str, key: str) -> bytes:
        """One key of a secret, decrypted; StoredSecretNotFoundError names the keys it does have."""
        validate_data_key(key)
        data = self.get(namespace, name)
        if key not in data:
            keys = sorted(data)
            raise StoredSecretNotFoundError(
                f"secret {name!r} in namespace {namespace!r} has no key {key!r} (its keys: "
                f"{join_names(keys)}); add it, keeping the others, with: "
                f"{format_add_keys_command(namespace, name, [key])}"
            )
        return data[key]

    def info(self, namespace: str, name: str) -> SecretInfo:
        """The metadata of one secret (keys, sizes, type, timestamps), without decrypting anything."""
        validate_namespace(namespace)
        validate_secret_name(name)
        infos = [i for i in self.list(namespace) if i.name == name]
        if not infos:
            with self._read() as conn:
                self._raise_not_found(conn, namespace, name)
        return infos[0]

    def list(self, namespace: str | None = None) -> builtins.list[SecretInfo]:
        """Metadata of every secret, in one namespace or all, sorted by namespace and name."""
        if namespace is not None:
            validate_namespace(namespace)
        sql = (
            "SELECT s.namespace, s.name, s.type, s.created, s.updated, {meta}, v.key, v.size FROM secrets s "
            "LEFT JOIN secret_values v ON v.namespace = s.namespace AND v.name = s.name"
        )
        params: tuple[str, ...] = ()
        if namespace is not None:
            sql += " WHERE s.namespace = ?"
            params = (namespace,)
        with self._read() as conn:
            if conn is None:
                return []
            meta = "s.labels, s.annotations" if _has_metadata_columns(conn) else "'{}', '{}'"
            rows = conn.execute(
                sql.format(meta=meta) + " ORDER BY s.namespace, s.name, v.key", params
            ).fetchall()
            grouped: dict[tuple[str, str], tuple[str, str, str, str, str, dict[str, int]]] = {}
            for ns, name, type_, created, updated, labels, annotations, key, size in rows:
                entry = grouped.setdefault((ns, name), (type_, created, updated, labels, annotations, {}))
                if key is not None:
                    entry[5][key] = size
            if any(not entry[5] for entry in grouped.values()):
                self._check_intact(conn)
            # Inside the read: a timestamp or label map that does not parse is damage, reported as such.
            return [
                SecretInfo(
                    ns,
                    name,
                    type_,
                    tuple(sizes),
                    sizes,
                    _parse_time(created),
                    _parse_time(updated),
                    _parse_mapping(labels),
                    _parse_mapping(annotations),
                )
                for (ns, name), (type_, created, updated, labels, annotations, sizes) in grouped.items()
            ]

    def namespaces(self) -> builtins.list[str]:
        """The namespaces that hold at least one secret, sorted."""
        with self._read() as conn:
            if conn is None:
                return []
            return [r[0] for r in conn.execute("SELECT DISTINCT namespace FROM secrets ORDER BY namespace")]

    # -- internals ----------------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if not self._db_path.exists():
            if not create:
                return None
            ensure_private_dir(self._home)
            # Created 0600 before SQLite opens it; SQLite gives the -wal and -shm files the same mode.
            os.close(os.open(self._db_path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(self._db_path, 0o600)
        elif self._db_path.stat().st_size == 0 and key_file_path(self._home).exists():
            # SQLite writes its header (4 KiB) as soon as the store connects, and the key file is made
            # after that: an empty file beside a key file was truncated, not never used.
            raise self._damaged_error("the file is empty, yet the store's key file exists")
        conn = sqlite3.connect(
            self._db_path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _is_damage(exc):
                raise self._damaged_error(str(exc)) from None
            raise self._failed_error(str(exc)) from None
        self._conn = conn
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        with self._lock, self._reporting_io_errors(writing=False):
            conn = self._connect(create=False)
            if conn is None or not _has_schema(conn):
                yield None
                return
            conn.execute("BEGIN")  # one snapshot for the whole read
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def _write(self, *, need_key: bool = True) -> Iterator[tuple[sqlite3.Connection, AESGCM | None]]:
        with self._lock, self._reporting_io_errors(writing=True):
            conn = self._connect(create=True)
            assert conn is not None
            key = self._key_for_write(conn) if need_key else None
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not _has_schema(conn):
                    # Not executescript(): it would commit the transaction it runs in.
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (_SCHEMA_VERSION,))
                if not _has_metadata_columns(conn):
                    # A store written before labels and annotations were kept: add their columns.
                    for column in ("labels", "annotations"):
                        conn.execute(f"ALTER TABLE secrets ADD COLUMN {column} TEXT NOT NULL DEFAULT '{{}}'")
                if key is not None:
                    if _read_key_check(conn) is None:
                        conn.execute("INSERT INTO meta VALUES ('key_check', ?)", (_make_key_check(key.key),))
                    else:
                        self._verify_key(conn, key)
                yield conn, None if key is None else AESGCM(key.key)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _reporting_io_errors(self, *, writing: bool) -> Iterator[None]:
        # Parameters are bound, never pasted into SQL, so these messages cannot hold a value; nor can
        # SQLite's, which name the failure only. Values are encrypted, so damage never reads as one.
        try:
            yield
        except TaskSecretsError:
            raise
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise self._damaged_error(str(exc)) from None
            raise self._failed_error(str(exc)) from None
        except UnicodeDecodeError:
            # A name or type whose bytes were changed (SQLite hands text back as it finds it).
            raise self._damaged_error("it holds text that is not UTF-8") from None
        except ValueError:
            if writing:
                raise
            # A timestamp that does not parse (the store writes ISO 8601 only).
            raise self._damaged_error("it holds a timestamp that does not parse") from None
        except OSError as exc:
            where = exc.filename or self._home
            verb = "write" if writing else "read"
            raise StoreError(
                f"cannot {verb} the store at {where}: {exc.strerror or exc}; check its permissions or set "
                f"TASKSECRETS_HOME to a {'writable' if writing else 'readable'} directory"
            ) from None

    def _check_intact(self, conn: sqlite3.Connection) -> None:
        # A secret without keys is rare, and is also what a damaged index shows (its rows are not
        # found, no error raised): told apart by SQLite's full check, paid only then.
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(1)")]
        if problems != ["ok"]:
            raise self._damaged_error(f"SQLite's integrity check: {problems[0]}")

    def _failed_error(self, what: str) -> StoreError:
        # Not damage SQLite can name (a read-only file, a lock held too long, a header it refuses).
        return StoreError(
            f"the store database {self._db_path} failed ({what}): check that you can read and write "
            f"{self._home} and the files in it; if the database was changed outside tasksecrets, "
            "restore it from a backup"
        )

    def _damaged_error(self, what: str) -> StoreError:
        return StoreError(
            f"the store database {self._db_path} is damaged ({what}): restore it from a backup, or start "
            f"over: move it (and any {DB_FILE_NAME}-wal and -shm beside it) out of {self._home} and "
            "create the secrets again with 'tasksecrets create secret generic ...'"
        )

    def _key_for_write(self, conn: sqlite3.Connection) -> MasterKey:
        if self._key is not None:
            return self._key
        in_use = _read_key_check(conn) is not None
        found = find_master_key(self._home, master_key=self._explicit_key, in_use=in_use)
        if found is None:
            if in_use:
                raise self._missing_key_error()
            found = create_key_file(self._home)  # first write of a new store
        return found

    def _aead_for_read(self, conn: sqlite3.Connection) -> AESGCM:
        if self._key is None:
            found = find_master_key(self._home, master_key=self._explicit_key, in_use=True)
            if found is None:
                raise self._missing_key_error()
            self._verify_key(conn, found)
        assert self._key is not None
        return AESGCM(self._key.key)

    def _verify_key(self, conn: sqlite3.Connection, key: MasterKey) -> None:
        record = _read_key_check(conn)
        if record is not None:
            try:
                plain = AESGCM(key.key).decrypt(record[:_NONCE_SIZE], record[_NONCE_SIZE:], _KEY_CHECK_AAD)
            except InvalidTag:
                plain = b""
            if plain != _KEY_CHECK_PLAINTEXT:
                raise StoreKeyError(
                    f"the master key from {key.source} does not open the store at {self._home}: the "
                    "store was created with another key. Use the key that created it (restore "
                    f"{key_file_path(self._home)} or set {MASTER_KEY_ENV} to it)"
                )
        self._key = key

    def _missing_key_error(self) -> StoreKeyError:
        return StoreKeyError(
            f"the store at {self._home} holds secrets but its master key is missing: there is no key "
            f"file at {key_file_path(self._home)} and {MASTER_KEY_ENV} is not set. Restore the key "
            f"file, or set {MASTER_KEY_ENV} to the base64 key that created the store"
        )

    def _raise_not_found(
        self, conn: sqlite3.Connection | None, namespace: str, name: str, *, deleting: bool = False
    ) -> NoReturn:
        located: builtins.list[tuple[str, str]] = []
        if conn is not None and _has_schema(conn):
            rows = conn.execute("SELECT namespace, name FROM secrets ORDER BY 1, 2")
            located = [(r[0], r[1]) for r in rows]
        raise not_found_error(
            home=self._home, namespace=namespace, name=name, located=located, deleting=deleting
        )


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a new database to WAL needs an exclusive lock, and SQLite reports a concurrent
    # opener's lock at once instead of calling the busy handler: wait for it here.
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            code: int = getattr(exc, "sqlite_errorcode", None) or _SQLITE_BUSY  # Python < 3.11: no code
            if code & 0xFF not in (_SQLITE_BUSY, _SQLITE_LOCKED) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    # SQLITE_CORRUPT and SQLITE_NOTADB (primary codes); before Python 3.11 sqlite3 gives no code,
    # and a damaged file raises the base class itself (others raise OperationalError and the like).
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return type(exc) is sqlite3.DatabaseError
    return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _has_schema(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    return bool(row[0])


def _has_metadata_columns(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "annotations" for row in conn.execute("PRAGMA table_info(secrets)"))


def _check_record(record: SecretRecord) -> None:
    if not isinstance(record.data, Mapping):
        raise TypeError(f"data must be a mapping of key to bytes, not {type(record.data).__name__}")
    for key, value in record.data.items():
        validate_data_key(key)
        if not isinstance(value, bytes):
            raise TypeError(
                f"the value of key {key!r} must be bytes, not {type(value).__name__} (encode text first)"
            )
    if not record.type or not isinstance(record.type, str):
        raise StoreError("the secret type must be a non-empty string such as 'Opaque'")
    for what, mapping in (("label", record.labels), ("annotation", record.annotations)):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise TypeError(f"every {what} key and value must be a string")


def _same_record(a: SecretRecord, b: SecretRecord) -> bool:
    return (a.type, dict(a.data), dict(a.labels), dict(a.annotations)) == (
        b.type,
        dict(b.data),
        dict(b.labels),
        dict(b.annotations),
    )


def _parse_mapping(text: str) -> dict[str, str]:
    value = json.loads(text)  # a ValueError here is reported as damage by _reporting_io_errors
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("labels or annotations are not a mapping of strings")
    return value


def _read_key_check(conn: sqlite3.Connection) -> bytes | None:
    if not _has_schema(conn):
        return None
    row = conn.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
    return None if row is None else bytes(row[0])


def _make_key_check(key: bytes) -> bytes:
    nonce = os.urandom(_NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, _KEY_CHECK_PLAINTEXT, _KEY_CHECK_AAD)


def _aad(namespace: str, name: str, key: str, keys: builtins.list[str] | None) -> bytes:
    # NUL cannot occur in any of the names, so the encoding is unambiguous. v2 (what is written)
    # binds the secret's sorted key list as well, so a lost or added row fails to decrypt too; v1
    # (``keys`` None) is read for values written before.
    names = (namespace.encode(), name.encode(), key.encode())
    if keys is None:
        return b"\0".join((b"tasksecrets/value/v1", *names))
    return b"\0".join((b"tasksecrets/value/v2", *names, b"", *(k.encode() for k in keys)))


def _encrypt(aead: AESGCM, value: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = os.urandom(_NONCE_SIZE)
    return nonce, aead.encrypt(nonce, value, aad)


def _decrypt(
    aead: AESGCM, nonce: bytes, ciphertext: bytes, namespace: str, name: str, key: str, keys: list[str]
) -> bytes:
    for version_keys in (keys, None):  # each ciphertext opens under the one AAD it was written with
        try:
            return aead.decrypt(bytes(nonce), bytes(ciphertext), _aad(namespace, name, key, version_keys))
        except InvalidTag:
            pass
    raise StoreError(
        f"key {key!r} of secret {name!r} in namespace {namespace!r} does not decrypt although the "
        "master key is right: the database was changed outside tasksecrets or is damaged; restore "
        f"it from a backup, or recreate the secret (tasksecrets delete secret {name} -n {namespace}, "
        "then create it again)"
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)
