"""The local kubelet: turns a mutated pod into a private directory and a process environment.

It does for one pod what a kubelet does before starting the task's container, and nothing more:

- volumes: ``secret`` volumes are written from the local store (items -> files), ``emptyDir``
  volumes are created empty; other volume sources come from registered materializers;
- init containers and pod annotations that stand for secret fetchers (``aws-pull-secret-<N>``,
  ``gcp-pull-secret-<N>``, ``azure-pull-secret-<N>``, the Vault agent's annotations) are run by
  the materializers the secret managers declare (found in the manager registry; the plug-in API
  is :mod:`tasksecrets.managers.materializing`); any other init container is an error;
- the task container's ``env`` and ``envFrom``: plain values (with ``$(VAR)`` references),
  ``secretKeyRef`` from the store in the pod's namespace, ``fieldRef`` for the pod's name and
  namespace; ``optional: true`` refs that miss are left out, as Kubernetes does, EXCEPT when the
  missing key is one the pod's ``flyte.secrets/s<N>`` annotations request: then the pod fails to
  start with a message naming each missing secret and key, the namespace and one command that adds
  them all (:func:`tasksecrets.local.precheck.describe_missing`);
- ``volumeMounts``: the container's filesystem is mirrored under ``<root>/rootfs`` (a volume's
  directory is its first mount path there), and env values that are container paths related to a
  mount (``FLYTE_SECRETS_DEFAULT_DIR``, an ``env_var`` holding a file path) are rewritten to match.

Everything lives under one private directory (mode 0700, secret files 0400) that
:meth:`MaterializedPod.cleanup` removes; a pod that fails to materialize leaves nothing behind.
Values are never put into messages.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import tasksecrets.local.podfields  # noqa: F401  (registers emptyDir and fieldRef)
from tasksecrets.contract import DEFAULT_DIR_VAR, ENV_PREFIX, ENV_PREFIX_VAR, TASK_CONTAINER
from tasksecrets.errors import StoreNameError, TaskExecutionError, TaskSecretsError
from tasksecrets.managers.materializing import DIR_MODE, FILE_MODE, PodContext, make_private_dirs
from tasksecrets.managers.plugin import MaterializerKind
from tasksecrets.managers.registry import (
    find_materializer,
    register_materializer,
    registered_materializers,
    unregister_materializer,
)
from tasksecrets.sdk.masking import SECURE, mask_values, secure_names

if TYPE_CHECKING:
    from tasksecrets.local.store import SecretStore

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "MaterializedPod",
    "MaterializerKind",
    "PodContext",
    "materialize_pod",
    "register_materializer",
    "registered_materializers",
    "remove_tree",
    "unregister_materializer",
]

_NUMBERED = re.compile(r"(.*)-\d+")
_ENV_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


@dataclass
class MaterializedPod:
    """A pod ready to run: its command, its env, its private directory; remove with :meth:`cleanup`."""

    name: str
    namespace: str
    root: Path
    command: list[str]
    env: dict[str, str]
    secret_values: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # Names only: env values may be secrets (Global's, secretKeyRef's), and the command may hold
        # them through $(VAR) references.
        return (
            f"MaterializedPod(name={self.name!r}, namespace={self.namespace!r}, root={str(self.root)!r}, "
            f"command={mask_values(self.secret_values, repr(self.command))}, env={secure_names(self.env)}, "
            f"secret_values={SECURE}, delivered={self.delivered!r})"
        )

    def cleanup(self) -> None:
        """Remove the private directory and everything in it."""
        remove_tree(self.root)

    def __enter__(self) -> MaterializedPod:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def remove_tree(path: Path) -> None:
    """Remove a directory tree even where a materializer made parts of it read-only."""

    def fix_and_retry(func: Callable[..., Any], target: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(target), DIR_MODE)
        func(target)

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=fix_and_retry)
    elif path.exists() or path.is_symlink():
        path.unlink()


def materialize_pod(
    pod: Mapping[str, Any],
    *,
    root: Path | None = None,
    store: SecretStore | Callable[[], SecretStore] | None = None,
    environ: Mapping[str, str] | None = None,
) -> MaterializedPod:
    """Materialize a mutated pod's task container (see the module docstring).

    ``root`` is created (mode 0700; it must not exist); by default a new temporary directory.
    ``store`` is the local store, or a callable opening it (default: ``SecretStore.open()`` when a
    secret is needed). ``environ`` is the runner's environment, given to materializers only.
    Raises TaskExecutionError (nothing left on disk) when the pod cannot start.
    """
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="tasksecrets-pod-"))
    else:
        root.mkdir(mode=DIR_MODE)
    os.chmod(root, DIR_MODE)
    opened: list[SecretStore] = []

    def open_store() -> SecretStore:
        if store is None:
            from tasksecrets.local.store import SecretStore

            opened.append(SecretStore.open())
            return opened[-1]
        return store() if callable(store) else store

    try:
        ctx = PodContext(pod, root=root, store=open_store, environ=os.environ if environ is None else environ)
        with _reported(ctx):
            return _materialize(ctx)
    except BaseException:
        remove_tree(root)
        raise
    finally:
        for handle in opened:  # only the store opened here; a given one belongs to the caller
            handle.close()


@contextmanager
def _reported(ctx: PodContext) -> Iterator[None]:
    # A materializer's unexpected error must not leak values through its message.
    try:
        yield
    except StoreNameError as exc:
        # The pod names a Secret Kubernetes would refuse (e.g. a Vault path as a K8s group).
        raise TaskExecutionError(
            f"pod {ctx.name} cannot start: {exc}. A group served by the K8s manager is the name of a "
            "Kubernetes Secret; for paths such as Vault's, run with --config naming that manager"
        ) from None
    except TaskSecretsError:
        raise
    except Exception as exc:
        raise TaskExecutionError(
            f"pod {ctx.name} could not be materialized: {type(exc).__name__}: "
            + mask_values(ctx.secret_values, str(exc))
        ) from None


def _materialize(ctx: PodContext) -> MaterializedPod:
    spec = ctx.pod.get("spec") or {}
    container = _task_container(ctx, spec)
    declared = list(container.get("volumeMounts") or [])
    # Outer mount points first, so a nested one is created inside its parent's volume.
    mounts = sorted(declared, key=lambda m: len(PurePosixPath(m["mountPath"]).parts))
    volumes = {v["name"]: v for v in spec.get("volumes") or []}

    # A volume's directory is its first plain mount in the task container, so files sit where
    # the container expects them; other mounts of it become symlinks.
    for mount in declared:
        if mount["name"] in volumes and not mount.get("subPath") and mount["name"] not in ctx.volume_dirs:
            ctx.volume_dirs[mount["name"]] = ctx.host_path(mount["mountPath"])
    for name, volume in volumes.items():
        _materialize_volume(ctx, name, volume)

    env, from_secrets = _resolve_env(ctx, container)
    _check_missing(ctx)

    annotations = (ctx.pod.get("metadata") or {}).get("annotations") or {}
    for name in registered_materializers("pod-annotation"):
        if name in annotations:
            handler = find_materializer("pod-annotation", name)
            if handler is not None:
                handler(annotations, ctx)
    for init in spec.get("initContainers") or []:
        _run_init_container(ctx, init)

    for mount in mounts:
        _mount(ctx, mount, volumes)
    # A materializer that fills a directory with no volume mounted there (the Vault agent's, whose
    # volume a cluster's injector adds) makes it one: env values naming its files are rewritten.
    mount_paths = [PurePosixPath(m["mountPath"]) for m in mounts] + ctx.filled_dirs
    prefix = env.get(ENV_PREFIX_VAR) or ENV_PREFIX
    for name, value in list(env.items()):
        if name in from_secrets or name.startswith(prefix):
            continue  # values, never paths to rewrite
        if name == DEFAULT_DIR_VAR and value.startswith("/"):
            env[name] = str(ctx.host_path(value))
            make_private_dirs(Path(env[name]), top=ctx.root)
        elif _is_mount_related(value, mount_paths):
            env[name] = str(ctx.host_path(value))
    for name, value in env.items():
        # Global delivers values as plain env vars named with the secrets prefix.
        if name.startswith(prefix) and name not in from_secrets:
            ctx.add_secret_value(value)
    command = [str(part) for part in (container.get("command") or [])] + [
        str(part) for part in (container.get("args") or [])
    ]
    if not command:
        raise TaskExecutionError(f"pod {ctx.name}: the task container has no command")
    return MaterializedPod(
        name=ctx.name,
        namespace=ctx.namespace,
        root=ctx.root,
        command=command,
        env=env,
        secret_values=list(ctx.secret_values),
        delivered=list(ctx.delivered),
    )


def _task_container(ctx: PodContext, spec: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = spec.get("containers") or []
    named = [c for c in containers if c.get("name") == TASK_CONTAINER]
    if named:
        chosen: Mapping[str, Any] = named[0]
    elif len(containers) == 1:
        chosen = containers[0]
    else:
        names = ", ".join(str(c.get("name")) for c in containers) or "none"
        raise TaskExecutionError(
            f"pod {ctx.name}: the local kubelet runs one container, named {TASK_CONTAINER!r} or the only "
            f"one; this pod has: {names}"
        )
    if len(containers) > 1:
        others = ", ".join(str(c.get("name")) for c in containers if c is not chosen)
        raise TaskExecutionError(
            f"pod {ctx.name}: the local kubelet runs only the task container; remove the other "
            f"containers ({others}) or run the pod on a cluster"
        )
    return chosen


def _materialize_volume(ctx: PodContext, name: str, volume: Mapping[str, Any]) -> None:
    sources = [key for key in volume if key != "name"]
    if len(sources) != 1:
        raise TaskExecutionError(f"pod {ctx.name}: volume {name!r} must have exactly one source")
    kind = sources[0]
    handler = find_materializer("volume", kind)
    if handler is None:
        raise TaskExecutionError(
            f"pod {ctx.name}: volume {name!r} is of type {kind!r}, which the local kubelet cannot "
            f"materialize (it knows: {', '.join(registered_materializers('volume'))})"
        )
    handler(volume[kind] or {}, ctx.volume_dir(name), ctx)


def _resolve_env(ctx: PodContext, container: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    env: dict[str, str] = {}
    from_secrets: set[str] = set()
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        ref = source.get("secretRef")
        if ref is None:
            raise TaskExecutionError(f"pod {ctx.name}: envFrom supports only secretRef locally")
        data = ctx.read_secret(str(ref.get("name") or ""), None, optional=bool(ref.get("optional", False)))
        for key, raw in (data or {}).items():
            env[prefix + key] = raw.decode("utf-8", errors="surrogateescape")
            ctx.add_secret_value(raw)
            from_secrets.add(prefix + key)
    for entry in container.get("env") or []:
        name = str(entry["name"])
        if "valueFrom" in entry:
            value_from = entry["valueFrom"] or {}
            if len(value_from) != 1:
                raise TaskExecutionError(
                    f"pod {ctx.name}: env {name!r} must have exactly one valueFrom source"
                )
            kind, source = next(iter(value_from.items()))
            handler = find_materializer("env", kind)
            if handler is None:
                raise TaskExecutionError(
                    f"pod {ctx.name}: env {name!r} comes from {kind!r}, which the local kubelet cannot "
                    f"resolve (it knows: {', '.join(registered_materializers('env'))})"
                )
            value = handler(source or {}, ctx)
            if value is None:
                env.pop(name, None)
                continue
            env[name] = value
            from_secrets.add(name)
        else:
            env[name] = _expand(str(entry.get("value", "")), env)
            from_secrets.discard(name)
    return env, from_secrets


def _expand(value: str, env: Mapping[str, str]) -> str:
    # Kubernetes' $(VAR) expansion: earlier vars only, $$ escapes, unknown references stay as they are.
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _ENV_REF.sub(replace, value)


def _check_missing(ctx: PodContext) -> None:
    from tasksecrets.local.precheck import Gap, StoreListing, add_gaps, describe_missing

    gaps: dict[tuple[str, str], Gap] = {}
    add_gaps(ctx, gaps)
    if not gaps:
        return
    lister = getattr(ctx.store(), "list", None)
    listing = StoreListing(lister() if callable(lister) else [])
    if not callable(lister):  # a store that only reads by name: what this pod read of it
        for _, name in gaps:
            keys = ctx.stored_keys(name)
            if keys is not None:
                listing.keys[(ctx.namespace, name)] = tuple(keys)
    raise TaskExecutionError(
        f"pod {ctx.name} cannot start:\n{describe_missing(list(gaps.values()), listing)}"
    )


def _run_init_container(ctx: PodContext, container: Mapping[str, Any]) -> None:
    name = str(container.get("name") or "")
    numbered = _NUMBERED.fullmatch(name)
    base = numbered.group(1) if numbered else name
    handler = find_materializer("init-container", base) or find_materializer("init-container", name)
    if handler is None:
        known = ", ".join(f"{n}-<N>" for n in registered_materializers("init-container"))
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {name!r} cannot run locally; the local kubelet runs only the "
            f"secret fetchers it knows ({known}). Remove it from the pod, or register a materializer "
            "with tasksecrets.local.kubelet.register_materializer('init-container', NAME, handler)"
        )
    handler(container, ctx)


def _mount(ctx: PodContext, mount: Mapping[str, Any], volumes: Mapping[str, Any]) -> None:
    name = str(mount["name"])
    if name not in volumes:
        raise TaskExecutionError(f"pod {ctx.name}: volumeMount {name!r} names no volume of the pod")
    target = ctx.host_path(str(mount["mountPath"]))
    source = ctx.volume_dir(name)
    sub_path = mount.get("subPath")
    if sub_path:
        relative = PurePosixPath(str(sub_path))
        if relative.is_absolute() or ".." in relative.parts:
            raise TaskExecutionError(f"pod {ctx.name}: subPath {sub_path!r} must be relative")
        source = source.joinpath(*relative.parts)
    if target == source:
        return
    make_private_dirs(target.parent, top=ctx.root)
    if target.exists() or target.is_symlink():
        raise TaskExecutionError(f"pod {ctx.name}: two volumes are mounted at {mount['mountPath']}")
    target.symlink_to(source)


def _is_mount_related(value: str, mounts: list[PurePosixPath]) -> bool:
    # A container path at, under, or above a mount point (``/etc/flyte/secrets`` above the mount
    # ``/etc/flyte/secrets/user-info``) names something the private directory mirrors.
    if not value.startswith("/") or "\n" in value:
        return False
    path = PurePosixPath(value)
    if ".." in path.parts or len(path.parts) < 2:
        return False
    return any(path == m or m in path.parents or path in m.parents for m in mounts)
