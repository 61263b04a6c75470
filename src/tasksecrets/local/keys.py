"""Where the local store lives and where its master key comes from.

The master key is kept apart from the data: the database never holds it. It comes from, in order,
the ``master_key`` argument, the ``TASKSECRETS_MASTER_KEY`` variable (base64 of 32 bytes), or a key
file (``TASKSECRETS_KEY_FILE``, default ``<home>/master.key``). The key file holds the same base64
text, so its content can be moved into the variable and back.

The key file is created on the first write only, published atomically: written in full to a
private temporary file opened with ``O_EXCL`` and mode 0600, flushed to disk, then hard-linked to
its final name. A crash never leaves a half-written key, and when two processes race to create it
the second finds the first's key instead of overwriting it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tasksecrets.errors import StoreKeyError
from tasksecrets.sdk.masking import SECURE

__all__ = [
    "HOME_ENV",
    "KEY_FILE_ENV",
    "KEY_SIZE",
    "MASTER_KEY_ENV",
    "MasterKey",
    "create_key_file",
    "decode_master_key",
    "default_home",
    "ensure_private_dir",
    "find_master_key",
    "key_file_path",
    "resolve_home",
]

HOME_ENV = "TASKSECRETS_HOME"
MASTER_KEY_ENV = "TASKSECRETS_MASTER_KEY"
KEY_FILE_ENV = "TASKSECRETS_KEY_FILE"
KEY_SIZE = 32  # AES-256
_KEY_FILE_NAME = "master.key"
_GENERATE_HINT = "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"


@dataclass(frozen=True, repr=False)
class MasterKey:
    """A master key and where it came from (the source is for messages; the key never is)."""

    key: bytes
    source: str

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r}, key={SECURE})"


def default_home() -> Path:
    """The platform's per-user data directory for tasksecrets (XDG_DATA_HOME on Linux)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "tasksecrets"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "tasksecrets"
    xdg = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    base_path = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base_path / "tasksecrets"


def resolve_home(home: Path | str | None = None) -> Path:
    """The store's directory: ``home`` if given, else ``TASKSECRETS_HOME``, else :func:`default_home`."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get(HOME_ENV, "")
    return Path(env).expanduser() if env else default_home()


def key_file_path(home: Path) -> Path:
    """The key file used when no key is given directly: ``TASKSECRETS_KEY_FILE`` or ``<home>/master.key``."""
    env = os.environ.get(KEY_FILE_ENV, "")
    return Path(env).expanduser() if env else home / _KEY_FILE_NAME


def decode_master_key(text: str | bytes, *, source: str, in_use: bool = False) -> bytes:
    """Decode the base64 text of a master key; raise StoreKeyError naming ``source`` if malformed.

    ``in_use``: the store already holds secrets, so the fix is the key that created them (a new key
    cannot open them), not a new one.
    """
    if in_use:
        fix = (
            "the store already holds secrets, which only the key that created them opens (a new key "
            f"cannot): restore the key file from a backup, or set {MASTER_KEY_ENV} to that key"
        )
    else:
        fix = f"generate one with: {_GENERATE_HINT}"
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise StoreKeyError(
            f"{source} is not a valid master key: expected the base64 encoding of {KEY_SIZE} random "
            f"bytes; {fix}"
        ) from None
    if len(raw) != KEY_SIZE:
        raise StoreKeyError(
            f"{source} is not a valid master key: it decodes to {len(raw)} bytes, expected {KEY_SIZE}; {fix}"
        )
    return raw


def find_master_key(home: Path, *, master_key: bytes | None = None, in_use: bool = False) -> MasterKey | None:
    """The master key to use for the store in ``home``, or None if there is none yet.

    ``in_use``: the store holds secrets already (a malformed key is then to be restored, not replaced).
    """
    if master_key is not None:
        if not isinstance(master_key, bytes) or len(master_key) != KEY_SIZE:
            raise StoreKeyError(f"the master_key argument must be {KEY_SIZE} bytes (raw, not base64)")
        return MasterKey(master_key, "the master_key argument")
    env = os.environ.get(MASTER_KEY_ENV)
    if env is not None:
        return MasterKey(decode_master_key(env, source=MASTER_KEY_ENV, in_use=in_use), MASTER_KEY_ENV)
    path = key_file_path(home)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    source = f"the key file {path}"
    return MasterKey(decode_master_key(text, source=source, in_use=in_use), source)


def create_key_file(home: Path) -> MasterKey:
    """Create the key file with a new random key, or return the key another process just created."""
    path = key_file_path(home)
    ensure_private_dir(path.parent)
    key = os.urandom(KEY_SIZE)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(key) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            found = find_master_key(home)
            if found is None:  # pragma: no cover - only if the winner's file vanished again
                raise StoreKeyError(f"the key file {path} appeared and vanished; try again") from None
            return found
        except OSError:  # pragma: no cover - file systems without hard links
            _write_exclusive(path, base64.b64encode(key) + b"\n")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(path.parent)
    return MasterKey(key, f"the key file {path}")


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; a directory created here gets mode 0700."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def _write_exclusive(path: Path, content: bytes) -> None:
    # Still O_EXCL, so a racing process gets FileExistsError instead of overwriting the key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreKeyError(
            f"another process created the key file {path} at the same moment; try again"
        ) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    # Makes the new directory entry durable; not possible on every platform.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
