"""What the local store tells a user who named a secret it does not hold, and the commands it suggests.

A secret that is not where it was looked for is most often elsewhere: in another namespace (``-n``
forgotten, or the wrong project or domain), or under a name one typo away. The message says so
first, naming the namespace to pass or the name meant (``difflib``), and only then how to create
it. The commands suggested add keys to an existing secret without retyping the others; none of
them deletes anything.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from tasksecrets.errors import NamespaceNotFoundError, StoredSecretNotFoundError, StoreError

__all__ = ["format_add_keys_command", "format_create_command", "join_names", "not_found_error"]

_MAX_LISTED = 20


def format_create_command(namespace: str, name: str, keys: Sequence[str] = ()) -> str:
    """The ``tasksecrets create secret generic ...`` command that creates a secret with ``keys``."""
    literals = " ".join(f"--from-literal={key}=VALUE" for key in (keys or ["KEY"]))
    return f"tasksecrets create secret generic {name} -n {namespace} {literals}"


def format_add_keys_command(namespace: str, name: str, keys: Sequence[str]) -> str:
    """The ``tasksecrets patch ...`` command that adds ``keys`` to a secret, keeping its other keys."""
    pairs = ",".join(f'"{key}":"VALUE"' for key in keys)
    return f"tasksecrets patch secret {name} -n {namespace} -p '{{\"stringData\":{{{pairs}}}}}'"


def join_names(names: Sequence[str]) -> str:
    """Names for a message, at most twenty of them."""
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f", ... and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def not_found_error(
    *, home: Path, namespace: str, name: str, located: Sequence[tuple[str, str]], deleting: bool = False
) -> StoreError:
    """The error for secret ``name`` missing from ``namespace``, given every (namespace, name) stored."""
    fix = f"create it with: {format_create_command(namespace, name)}"
    if deleting:
        fix = "nothing to delete; list what exists with: tasksecrets get secrets -A"
    if not located:
        return NamespaceNotFoundError(
            f"the local secret store at {home} is empty: there is no secret {name!r} in namespace "
            f"{namespace!r}; {fix}"
        )
    spaces = sorted({ns for ns, _ in located})
    elsewhere = sorted(ns for ns, n in located if n == name)
    if elsewhere:
        fix = f"secret {name!r} is in namespace {join_names(elsewhere)}: pass -n {elsewhere[0]}" + (
            " (or the namespace you meant)" if len(elsewhere) > 1 else ""
        )
    if namespace not in spaces:
        close = difflib.get_close_matches(namespace, spaces, n=1, cutoff=0.6)
        if close and not elsewhere:
            fix = f"did you mean -n {close[0]}? Otherwise {fix}"
        return NamespaceNotFoundError(
            f"namespace {namespace!r} has no secrets in the local store at {home} (namespaces with "
            f"secrets: {join_names(spaces)}); {fix}"
        )
    names = [n for ns, n in located if ns == namespace]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close and not elsewhere:
        fix = f"did you mean {close[0]!r}? Otherwise {fix}"
    return StoredSecretNotFoundError(
        f"secret {name!r} not found in namespace {namespace!r} (secrets there: {join_names(names)}); {fix}"
    )
