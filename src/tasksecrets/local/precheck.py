"""Every store secret a run's pods would miss, found before any task runs, with one command that adds them.

:func:`check_store_refs` reads what the mutated pods would take from the local store (``secret``
volumes, ``secretKeyRef`` and ``envFrom`` env) exactly as the kubelet decides it (a missing optional
ref no secret request stands behind is left out, as Kubernetes does), compares it with the store's
list of keys (no value is decrypted) and raises one :class:`~tasksecrets.errors.TaskExecutionError`
naming each missing secret and key, the tasks that need it and a fix:

- one secret missing whole: the ``tasksecrets create secret generic`` command that creates it;
- anything else: one ``tasksecrets apply -f - <<'EOF'`` heredoc, a ``kind: List`` of ``v1`` Secrets
  (one per secret, in its namespace) whose ``stringData`` holds a placeholder for each missing key
  only; ``apply`` adds those keys to a secret that exists and keeps its other keys.

The advice names where a secret exists when it is not in the pod's namespace (a forgotten
``-n``), and a near name of a namespace that holds no secrets ("did you mean").
:func:`describe_missing` is shared with the kubelet, which says the same when a pod cannot start.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasksecrets.contract import TASK_CONTAINER
from tasksecrets.errors import StoredSecretNotFoundError, StoreNameError, TaskExecutionError
from tasksecrets.local.kube_names import validate_data_key, validate_secret_name
from tasksecrets.managers.materializing import PodContext

if TYPE_CHECKING:
    from tasksecrets.local.store import SecretInfo, SecretStore

__all__ = [
    "PLACEHOLDER",
    "Gap",
    "StoreListing",
    "add_gaps",
    "check_store_refs",
    "describe_missing",
    "format_fix",
]

PLACEHOLDER = "VALUE"


@dataclass
class Gap:
    """One secret of one namespace that misses: the keys missing (all of them when it does not exist)."""

    namespace: str
    name: str
    keys: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)


class StoreListing:
    """The store's secrets by namespace and name, keys only: what a pod may read, never a value."""

    def __init__(self, infos: Iterable[SecretInfo]) -> None:
        self.keys: dict[tuple[str, str], tuple[str, ...]] = {(i.namespace, i.name): i.keys for i in infos}

    @classmethod
    def of(cls, store: SecretStore) -> StoreListing:
        return cls(store.list())

    def get(self, namespace: str, name: str) -> dict[str, bytes]:
        # PodContext's store interface; values are empty since only the keys matter here.
        keys = self.keys.get((namespace, name))
        if keys is None:
            raise StoredSecretNotFoundError(f"no secret {name!r} in namespace {namespace!r}")
        return dict.fromkeys(keys, b"")

    def namespaces(self) -> list[str]:
        return sorted({namespace for namespace, _ in self.keys})

    def namespaces_of(self, name: str) -> list[str]:
        return sorted(namespace for namespace, secret in self.keys if secret == name)


def check_store_refs(
    pods: Sequence[tuple[str, Mapping[str, Any]]], open_store: Callable[[], SecretStore]
) -> None:
    """``pods`` as ``(task name, mutated pod)``: raise TaskExecutionError when any store secret misses."""
    refs = [(task, pod, list(_store_refs(pod))) for task, pod in pods]
    if not any(found for _, _, found in refs):
        return  # nothing is read from the store: do not open it
    listing = StoreListing.of(open_store())
    gaps: dict[tuple[str, str], Gap] = {}
    for task, pod, found in refs:
        ctx = PodContext(pod, root=Path("/nonexistent"), store=lambda: listing, environ={})
        for name, key, optional in found:
            ctx.read_secret(name, key, optional=optional)
        add_gaps(ctx, gaps, task=task)
    if gaps:
        found_gaps = list(gaps.values())
        raise TaskExecutionError(
            f"{_count(found_gaps)} the tasks need {'is' if len(found_gaps) == 1 else 'are'} missing from the "
            f"local store (no task was run):\n{describe_missing(found_gaps, listing)}"
        )


def add_gaps(ctx: PodContext, gaps: dict[tuple[str, str], Gap], *, task: str | None = None) -> None:
    """Add to ``gaps`` what ``ctx`` recorded as missing and fatal (requested, or not optional)."""
    for missing in ctx.missing:
        if not (missing.requested or not missing.optional):
            continue
        gap = gaps.setdefault((ctx.namespace, missing.secret), Gap(ctx.namespace, missing.secret))
        wanted = [missing.key] if missing.key else [s.key for s in ctx.requested if s.group == gap.name]
        gap.keys = sorted({*gap.keys, *wanted})
        if task is not None and task not in gap.tasks:
            gap.tasks.append(task)


def _count(gaps: list[Gap]) -> str:
    return "1 secret" if len(gaps) == 1 else f"{len(gaps)} secrets"


def _store_refs(pod: Mapping[str, Any]) -> Iterable[tuple[str, str | None, bool]]:
    # (secret name, key or None for all keys, optional) of the task container's store reads; names
    # Kubernetes would refuse are left to the kubelet, which explains them when the pod starts.
    spec = pod.get("spec") or {}
    containers = [c for c in spec.get("containers") or [] if c.get("name") == TASK_CONTAINER]
    mounted = {m.get("name") for c in containers for m in c.get("volumeMounts") or []}
    for volume in spec.get("volumes") or []:
        source = volume.get("secret")
        if source is None or volume.get("name") not in mounted:
            continue
        items = source.get("items") or [{"key": None}]
        for item in items:
            yield from _valid(source.get("secretName"), item.get("key"), source.get("optional"))
    for container in containers:
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef")
            if ref is not None:
                yield from _valid(ref.get("name"), None, ref.get("optional"))
        for entry in container.get("env") or []:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref is not None:
                yield from _valid(ref.get("name"), ref.get("key"), ref.get("optional"))


def _valid(name: Any, key: Any, optional: Any) -> Iterable[tuple[str, str | None, bool]]:
    try:
        validate_secret_name(name)
        if key is not None:
            validate_data_key(key)
    except StoreNameError:
        return
    yield str(name), None if key is None else str(key), bool(optional)


def describe_missing(gaps: Sequence[Gap], listing: StoreListing) -> str:
    """One line per missing secret or key (with its tasks and where else it exists), then the fix."""
    lines = []
    for gap in gaps:
        keys = ", ".join(repr(k) for k in gap.keys) or "its keys"
        plural = "s" if len(gap.tasks) > 1 else ""
        needed = f"; needed by task{plural} {', '.join(repr(t) for t in gap.tasks)}" if gap.tasks else ""
        existing = listing.keys.get((gap.namespace, gap.name))
        if existing is not None:
            line = (
                f"secret {gap.name!r} in namespace {gap.namespace!r} has no key {keys} "
                f"(its keys: {', '.join(existing)})"
            )
        else:
            line = f"secret {gap.name!r} (key {keys}) does not exist in namespace {gap.namespace!r}"
        lines.append(f"  - {line}{needed}{_elsewhere(gap, listing)}")
    return "\n".join([*lines, format_fix(gaps, listing)])


def _elsewhere(gap: Gap, listing: StoreListing) -> str:
    others = [ns for ns in listing.namespaces_of(gap.name) if ns != gap.namespace]
    near = []
    if gap.namespace not in listing.namespaces():
        near = difflib.get_close_matches(gap.namespace, listing.namespaces(), n=1, cutoff=0.8)
    if near and near[0] in others:
        return f" (did you mean namespace {near[0]!r}? it holds this secret: run with -n {near[0]})"
    if others:
        shown = ", ".join(repr(ns) for ns in others)
        return f" (it exists in namespace {shown}: run with -n {others[0]} to read it from there)"
    if near:
        return f" (did you mean namespace {near[0]!r}? run with -n {near[0]})"
    return ""


def format_fix(gaps: Sequence[Gap], listing: StoreListing) -> str:
    """The one command that adds every missing secret and key, keeping the keys that exist."""
    from tasksecrets.local.store import format_create_command

    if len(gaps) == 1 and (gaps[0].namespace, gaps[0].name) not in listing.keys:
        gap = gaps[0]
        return f"create it with:\n  {format_create_command(gap.namespace, gap.name, gap.keys)}"
    import yaml

    manifest = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": gap.name, "namespace": gap.namespace},
                "stringData": dict.fromkeys(gap.keys or ["KEY"], PLACEHOLDER),
            }
            for gap in gaps
        ],
    }
    body = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)
    return (
        f"add them all (the keys that exist are kept), with {PLACEHOLDER} replaced by each value:\n"
        f"tasksecrets apply -f - <<'EOF'\n{body}EOF"
    )
