"""Kubernetes naming rules for the local store: namespaces, secret names and data keys.

The local store is namespaced like a cluster so that a name accepted here is accepted by
``kubectl apply`` too, and the other way round. The rules are the API server's:

- namespace: a DNS-1123 label (at most 63 lowercase alphanumerics or ``-``, alphanumeric at both ends);
- secret name: a DNS-1123 subdomain (at most 253 characters, dot-separated labels);
- data key: at most 253 of ``[-._a-zA-Z0-9]``, not ``.`` or ``..`` and not starting with ``..``.

The rules are the webhook's own (:mod:`tasksecrets.managers.validity`), written once.
"""

from __future__ import annotations

from collections.abc import Callable

from tasksecrets.errors import StoreNameError
from tasksecrets.managers.validity import is_config_map_key, is_dns_label, is_dns_subdomain

__all__ = ["validate_data_key", "validate_namespace", "validate_secret_name"]


def validate_namespace(namespace: object) -> str:
    """Return ``namespace`` if it is a valid Kubernetes namespace name, else raise StoreNameError."""
    return _check_name(
        namespace,
        "namespace",
        valid=is_dns_label,
        rule="a namespace is a DNS-1123 label, at most 63 characters of lowercase letters, digits and "
        "'-', starting and ending with a letter or digit (for example 'flytesnacks-development')",
    )


def validate_secret_name(name: object) -> str:
    """Return ``name`` if it is a valid Kubernetes Secret name, else raise StoreNameError."""
    return _check_name(
        name,
        "secret name",
        valid=is_dns_subdomain,
        rule="a secret name is a DNS-1123 subdomain, at most 253 characters of lowercase letters, "
        "digits, '-' and '.', starting and ending with a letter or digit (for example 'user-info')",
    )


def _check_name(value: object, what: str, *, valid: Callable[[str], bool], rule: str) -> str:
    text = _require_text(value, what)
    if not valid(text):
        raise StoreNameError(f"invalid {what} {text[:80]!r}: {rule}")
    return text


def validate_data_key(key: object) -> str:
    """Return ``key`` if it is a valid key of a Secret's data, else raise StoreNameError."""
    text = _require_text(key, "data key")
    if not is_config_map_key(text):
        raise StoreNameError(
            f"invalid data key {text[:80]!r}: a key is at most 253 characters of letters, digits, "
            "'-', '_' and '.', and is not '.' or '..' nor starts with '..' (for example 'user_secret')"
        )
    return text


def _require_text(value: object, what: str) -> str:
    if value is None:
        raise StoreNameError(f"the {what} is missing; give one")
    if not isinstance(value, str):
        raise StoreNameError(f"the {what} must be a string, not {type(value).__name__}")
    if not value:
        raise StoreNameError(f"the {what} is empty; give a non-empty {what}")
    return value
