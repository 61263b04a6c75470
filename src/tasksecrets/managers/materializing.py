"""What a local materializer works with: the pod being materialized, as a :class:`PodContext`.

A materializer turns one kind of thing a mutated pod refers to into files or env values on this
machine, as the kubelet and the containers a manager adds would in a cluster. Four kinds, each
found by a name in the manager registry (:func:`tasksecrets.managers.registry.find_materializer`):

==================  ===========================================  =======================================
kind                name                                         handler
==================  ===========================================  =======================================
``volume``          a volume source key (``secret``, ``csi``)    ``(source, target_dir, ctx) -> None``
``env``             a ``valueFrom`` key (``secretKeyRef``)       ``(source, ctx) -> str | None`` [#]_
``init-container``  the container's name minus ``-<N>``          ``(container, ctx) -> None``
``pod-annotation``  an annotation key whose presence triggers    ``(annotations, ctx) -> None``
==================  ===========================================  =======================================

.. [#] None leaves the env var out (an optional ref that is missing).

Each manager declares the materializers of what its injector writes (its ``PLUGIN``), in its own
package. Handlers write secret files with :meth:`PodContext.write_secret_file` (mode 0400 under
the private directory, value masked in the run's output) and raise a
:class:`~tasksecrets.errors.TaskSecretsError` saying what to do when they cannot deliver; other
exceptions are reported with their type and masked message.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, TypeVar

from tasksecrets.errors import (
    NamespaceNotFoundError,
    StoredSecretNotFoundError,
    TaskExecutionError,
    WireError,
)
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import decode_pod_secrets

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "MissingSecret",
    "PodContext",
    "SecretStoreReader",
    "make_private_dirs",
    "out_file_target",
    "read_pull_script",
]

DIR_MODE = 0o700
FILE_MODE = 0o400


class SecretStoreReader(Protocol):
    """Where Kubernetes Secrets come from locally (the local store): one secret's data by name.

    Raises NamespaceNotFoundError or StoredSecretNotFoundError when there is no such secret.
    """

    def get(self, namespace: str, name: str) -> dict[str, bytes]: ...


@dataclass
class MissingSecret:
    """A store secret (or one key of it) a pod refers to that the store does not hold."""

    secret: str
    key: str | None  # None: the ref asked for all keys (a volume without items, envFrom)
    requested: bool
    optional: bool


class PodContext:
    """What a materializer sees of the pod being materialized.

    ``pod`` (read-only), ``name``, ``namespace``, ``root`` (the private directory), ``environ`` (the
    runner's environment: credentials for fetching secrets; it never reaches the task) and
    ``requested`` (the secrets the pod's annotations request).
    """

    def __init__(
        self,
        pod: Mapping[str, Any],
        *,
        root: Path,
        store: Callable[[], SecretStoreReader],
        environ: Mapping[str, str],
    ) -> None:
        metadata = pod.get("metadata") or {}
        self.pod = pod
        self.name: str = str(metadata.get("name") or "pod")
        self.namespace: str = str(metadata.get("namespace") or "default")
        self.root = root
        self.environ = environ
        try:
            self.requested: list[Secret] = decode_pod_secrets(metadata.get("annotations") or {})
        except WireError as exc:
            raise TaskExecutionError(
                f"pod {self.name}: its secret annotations do not decode: {exc}"
            ) from None
        self.secret_values: list[str] = []
        self.delivered: list[str] = []
        self.missing: list[MissingSecret] = []
        self._open_store = store
        self._store: SecretStoreReader | None = None
        self._cache: dict[str, dict[str, bytes] | None] = {}
        self.volume_dirs: dict[str, Path] = {}
        self.filled_dirs: list[PurePosixPath] = []  # container directories materializers filled

    # -- for materializers --------------------------------------------------------------------

    def store(self) -> SecretStoreReader:
        """The local secret store (opened on first use)."""
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def host_path(self, container_path: str) -> Path:
        """Where a path of the task container's filesystem lives under the private directory."""
        posix = PurePosixPath(container_path)
        if not posix.is_absolute() or ".." in posix.parts:
            raise TaskExecutionError(
                f"pod {self.name}: {container_path!r} is not an absolute container path without '..'"
            )
        return self.root.joinpath("rootfs", *posix.parts[1:])

    def container_file(self, container_path: str) -> Path:
        """Where a file a materializer fills at ``container_path`` lives (as :meth:`host_path`).

        Its directory then counts as mounted in the task container, as the volume a cluster's
        injector would add there: env values naming paths in it are rewritten to the private copy.
        """
        path = self.host_path(container_path)
        self.filled_dirs.append(PurePosixPath(container_path).parent)
        return path

    def volume_dir(self, name: str) -> Path:
        """The directory holding volume ``name`` (created, mode 0700)."""
        path = self.volume_dirs.get(name)
        if path is None:
            # The name comes from the pod: it must not lead out of ``volumes/`` (``../x``, ``/x``).
            if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
                raise TaskExecutionError(
                    f"pod {self.name}: volume name {name!r} is not a valid volume name: use a DNS label "
                    "(lower-case letters, digits and '-'), as Kubernetes requires"
                )
            path = self.root / "volumes" / name
            self.volume_dirs[name] = path
        make_private_dirs(path, top=self.root)
        return path

    def write_secret_file(self, path: Path, data: bytes) -> None:
        """Write a secret file (mode 0400, parents 0700) and mask its value in the run's output.

        ``path`` must lie inside the private directory (TaskExecutionError otherwise, nothing written).
        """
        self.check_inside(path)
        make_private_dirs(path.parent, top=self.root)
        self.check_inside(path, resolve=True)
        # Written beside and renamed into place: a second writer of the same file (two init
        # containers fetching one secret) replaces it as it would in a pod, and a symlink planted
        # at the path is replaced, never followed.
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(temp, FILE_MODE)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        self.add_secret_value(data)

    def check_inside(self, path: Path, *, resolve: bool = False) -> None:
        """Raise TaskExecutionError unless ``path`` lies below the private directory.

        Lexically (no ``..``), and with ``resolve`` also once symlinks in its existing parents are
        followed: names taken from a pod never lead a write out of the private directory.
        """
        if not _is_below(path, self.root, resolve=resolve):
            raise TaskExecutionError(
                f"pod {self.name}: refusing to write {str(path)!r}, which is outside the pod's private "
                "directory; paths taken from the pod must stay inside its volumes (no '..')"
            )

    def add_secret_value(self, value: bytes | str) -> None:
        """Record a value the task receives, so the runner masks it wherever it prints."""
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
        if text.strip() and text not in self.secret_values:
            self.secret_values.append(text)

    def note_delivered(self, description: str) -> None:
        """Record what was delivered (``group/key``, never a value) for progress output."""
        if description not in self.delivered:
            self.delivered.append(description)

    def read_secret(self, secret_name: str, key: str | None, *, optional: bool) -> dict[str, bytes] | None:
        """The data of a store secret (all its keys), or None when it does not exist.

        A missing secret, or a missing ``key`` of an existing one, is recorded; after the volumes
        and env are resolved the pod fails to start if any missing one was requested or not optional.
        """
        if secret_name not in self._cache:
            try:
                self._cache[secret_name] = self.store().get(self.namespace, secret_name)
            except (NamespaceNotFoundError, StoredSecretNotFoundError):
                self._cache[secret_name] = None
        data = self._cache[secret_name]
        if data is None or (key is not None and key not in data):
            requested = any(s.group == secret_name and (key is None or s.key == key) for s in self.requested)
            self.missing.append(MissingSecret(secret_name, key, requested, optional))
        return data

    def stored_keys(self, secret_name: str) -> list[str] | None:
        """The keys a store secret read earlier has, or None when it does not exist."""
        data = self._cache.get(secret_name)
        return None if data is None else sorted(data)


def make_private_dirs(path: Path, *, top: Path) -> None:
    """Create ``path`` and its missing parents below ``top`` with mode 0700.

    Raises TaskExecutionError when ``path`` is not ``top`` or below it (lexically, no ``..``).
    """
    if path != top and not _is_below(path, top, resolve=False):
        raise TaskExecutionError(
            f"refusing to create {str(path)!r}, which is outside the pod's private directory {str(top)!r}"
        )
    missing: list[Path] = []
    current = path
    while not current.exists() and current != top and top in current.parents:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE)
        os.chmod(directory, DIR_MODE)  # the umask must not widen or narrow it


def out_file_target(
    container: Mapping[str, Any], container_path: str, ctx: PodContext, *, mount_path: str
) -> Path:
    """Where an init container's output file ``container_path`` (under ``mount_path``) lives locally.

    Raises TaskExecutionError when the path leaves ``mount_path`` (``..``) or the container mounts
    no volume there; the path comes from the pod's command, which anyone creating pods can write.
    """
    path, mount = PurePosixPath(container_path), PurePosixPath(mount_path)
    if ".." in path.parts or mount not in path.parents:
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {container.get('name')!r} writes {container_path!r}, "
            f"which must stay inside {mount_path} (no '..')"
        )
    volume = next((m for m in container.get("volumeMounts") or [] if m.get("mountPath") == mount_path), None)
    if volume is None:
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {container.get('name')!r} mounts no volume at {mount_path}"
        )
    return ctx.volume_dir(str(volume["name"])).joinpath(*path.relative_to(mount).parts)


T = TypeVar("T")


def read_pull_script(container: Mapping[str, Any], parse: Callable[[str], T | None], ctx: PodContext) -> T:
    """A pull init container's script (its command's last word), read with the template that wrote it.

    Raises TaskExecutionError when the script is not one tasksecrets wrote: anyone creating pods can
    write the command, so nothing is fetched for a script that ``parse`` does not accept.
    """
    command = container.get("command") or []
    parsed = parse(str(command[-1])) if isinstance(command, list) and command else None
    if parsed is None:
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {container.get('name')!r} is not one tasksecrets wrote"
        )
    return parsed


def _is_below(path: Path, top: Path, *, resolve: bool) -> bool:
    if not path.is_absolute() or ".." in path.parts or top not in path.parents:
        return False
    if not resolve:
        return True
    # The parent must exist by now; a symlink planted in it must not point out of ``top``.
    real_top = Path(os.path.realpath(top))
    real_parent = Path(os.path.realpath(path.parent))
    return real_parent == real_top or real_top in real_parent.parents
