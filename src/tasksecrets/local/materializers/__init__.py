"""The local kubelet's plug-in API: materializers and the :class:`PodContext` they work with.

A materializer turns one kind of thing a mutated pod refers to into files or env values on this
machine. Four kinds, each found by a name:

==================  ===========================================  =======================================
kind                name                                         handler
==================  ===========================================  =======================================
``volume``          a volume source key (``secret``, ``csi``)    ``(source, target_dir, ctx) -> None``
``env``             a ``valueFrom`` key (``secretKeyRef``)       ``(source, ctx) -> str | None`` [#]_
``init-container``  the container's name minus ``-<N>``          ``(container, ctx) -> None``
``pod-annotation``  an annotation key whose presence triggers    ``(annotations, ctx) -> None``
==================  ===========================================  =======================================

.. [#] None leaves the env var out (an optional ref that is missing).

The built-in ones (Kubernetes Secrets from the local store) are in :mod:`.k8s`. Fetchers for other
managers live in modules of this package that are imported the first time a pod needs them
(``aws-pull-secret`` -> ``.aws``, ``gcp-pull-secret`` -> ``.gcp``, ``azure-pull-secret`` -> ``.azure``,
the Vault agent's ``vault.hashicorp.com/agent-inject`` -> ``.vault``); each such module calls
:func:`register_materializer` when imported. Handlers write secret files with
:meth:`PodContext.write_secret_file` (mode 0400 under the private directory, value masked in the
run's output) and raise a :class:`~tasksecrets.errors.TaskSecretsError` saying what to do when they
cannot deliver; other exceptions are reported with their type and masked message.
"""

from __future__ import annotations

import importlib
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from tasksecrets.errors import (
    NamespaceNotFoundError,
    StoredSecretNotFoundError,
    TaskExecutionError,
    WireError,
)
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import decode_pod_secrets

if TYPE_CHECKING:
    from tasksecrets.local.store import SecretStore

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "Handler",
    "MaterializerKind",
    "MissingSecret",
    "PodContext",
    "find_materializer",
    "make_private_dirs",
    "out_file_target",
    "read_pull_command",
    "register_materializer",
    "registered_materializers",
    "unregister_materializer",
]

DIR_MODE = 0o700
FILE_MODE = 0o400

MaterializerKind = Literal["volume", "env", "init-container", "pod-annotation"]
_KINDS: tuple[str, ...] = ("volume", "env", "init-container", "pod-annotation")

Handler = Callable[..., Any]
_registry: dict[tuple[str, str], Handler] = {}

# Materializers shipped as modules of this package, imported the first time a pod needs them.
_PLUGIN_MODULES: dict[tuple[str, str], tuple[str, str]] = {
    ("init-container", "aws-pull-secret"): ("tasksecrets.local.materializers.aws", "AWS Secrets Manager"),
    ("init-container", "gcp-pull-secret"): ("tasksecrets.local.materializers.gcp", "GCP Secret Manager"),
    ("init-container", "azure-pull-secret"): ("tasksecrets.local.materializers.azure", "Azure Key Vault"),
    ("pod-annotation", "vault.hashicorp.com/agent-inject"): (
        "tasksecrets.local.materializers.vault",
        "Vault",
    ),
}


def register_materializer(
    kind: MaterializerKind, name: str, handler: Handler, *, replace: bool = False
) -> None:
    """Teach the local kubelet to materialize one kind of thing (see the table in the module docstring)."""
    if kind not in _KINDS:
        raise ValueError(f"unknown materializer kind {kind!r}; use one of {', '.join(_KINDS)}")
    if not name:
        raise ValueError("a materializer needs a non-empty name")
    if not callable(handler):
        raise TypeError(f"a materializer handler must be callable, got {type(handler).__name__}")
    if (kind, name) in _registry and not replace:
        raise ValueError(f"a {kind} materializer named {name!r} is already registered; pass replace=True")
    _registry[(kind, name)] = handler


def unregister_materializer(kind: MaterializerKind, name: str) -> None:
    """Forget a materializer (tests, or a plugin replacing a built-in one)."""
    _registry.pop((kind, name), None)


def registered_materializers(kind: MaterializerKind) -> list[str]:
    """Names registered for ``kind``, sorted (plus those loadable on demand)."""
    names = {n for k, n in _registry if k == kind} | {n for k, n in _PLUGIN_MODULES if k == kind}
    return sorted(names)


def find_materializer(kind: str, name: str) -> Handler | None:
    """The handler for ``(kind, name)``, importing its module on first use; None when there is none."""
    handler = _registry.get((kind, name))
    if handler is not None:
        return handler
    plugin = _PLUGIN_MODULES.get((kind, name))
    if plugin is None:
        return None
    module, what = plugin
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise TaskExecutionError(
                f"{what} secrets cannot be materialized by this version of the local cluster "
                f"(no module {module}); run the task on a cluster, or configure the K8s manager "
                "(the default) for local runs with --config"
            ) from None
        raise TaskExecutionError(
            f"the local {what} materializer needs {exc.name!r}, which is not installed: "
            "install the matching extra, e.g. pip install 'tasksecrets[aws]' or 'tasksecrets[vault]'"
        ) from None
    return _registry.get((kind, name))


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
        store: SecretStore | Callable[[], SecretStore] | None,
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
        self._store_source = store
        self._store: SecretStore | None = None
        self._cache: dict[str, dict[str, bytes] | None] = {}
        self.volume_dirs: dict[str, Path] = {}

    # -- for materializers --------------------------------------------------------------------

    def store(self) -> SecretStore:
        """The local secret store (opened on first use)."""
        if self._store is None:
            source = self._store_source
            if source is None:
                from tasksecrets.local.store import SecretStore

                self._store = SecretStore.open()
            elif callable(source):
                self._store = source()
            else:
                self._store = source
        return self._store

    def host_path(self, container_path: str) -> Path:
        """Where a path of the task container's filesystem lives under the private directory."""
        posix = PurePosixPath(container_path)
        if not posix.is_absolute() or ".." in posix.parts:
            raise TaskExecutionError(
                f"pod {self.name}: {container_path!r} is not an absolute container path without '..'"
            )
        return self.root.joinpath("rootfs", *posix.parts[1:])

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

    def close(self) -> None:
        if self._store is not None and self._store_source is None:
            self._store.close()


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


def read_pull_command(
    container: Mapping[str, Any], pattern: re.Pattern[str], ctx: PodContext, *, mount_path: str
) -> tuple[re.Match[str], Path]:
    """Parse a pull init container's script (its command's last word) and locate its output file.

    ``pattern`` must have a group ``path`` (the file the script writes). Raises TaskExecutionError
    when the script is not one tasksecrets wrote, or its path leaves ``mount_path``; both checks
    come before anything is fetched, since anyone creating pods can write the command.
    """
    command = container.get("command") or []
    match = pattern.search(str(command[-1])) if command else None
    if match is None:
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {container.get('name')!r} is not one tasksecrets wrote"
        )
    return match, out_file_target(container, match.group("path"), ctx, mount_path=mount_path)


def _is_below(path: Path, top: Path, *, resolve: bool) -> bool:
    if not path.is_absolute() or ".." in path.parts or top not in path.parents:
        return False
    if not resolve:
        return True
    # The parent must exist by now; a symlink planted in it must not point out of ``top``.
    real_top = Path(os.path.realpath(top))
    real_parent = Path(os.path.realpath(path.parent))
    return real_parent == real_top or real_top in real_parent.parents
