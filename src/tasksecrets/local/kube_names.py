"""Kubernetes naming rules for the local store: namespaces, secret names and data keys.

The local store is namespaced like a cluster so that a name accepted here is accepted by
``kubectl apply`` too, and the other way round. The rules are the API server's:

- namespace: a DNS-1123 label (at most 63 lowercase alphanumerics or ``-``, alphanumeric at both ends);
- secret name: a DNS-1123 subdomain (at most 253 characters, dot-separated labels);
- data key: at most 253 of ``[-._a-zA-Z0-9]``, not ``.`` or ``..`` and not starting with ``..``.
"""

from __future__ import annotations

import re

from tasksecrets.errors import StoreNameError

__all__ = ["validate_data_key", "validate_namespace", "validate_secret_name"]

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(_LABEL)
_SUBDOMAIN_RE = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DATA_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")


def validate_namespace(namespace: object) -> str:
    """Return ``namespace`` if it is a valid Kubernetes namespace name, else raise StoreNameError."""
    return _check_name(
        namespace,
        "namespace",
        pattern=_LABEL_RE,
        max_len=63,
        rule="a namespace is a DNS-1123 label, at most 63 characters of lowercase letters, digits and "
        "'-', starting and ending with a letter or digit (for example 'flytesnacks-development')",
    )


def validate_secret_name(name: object) -> str:
    """Return ``name`` if it is a valid Kubernetes Secret name, else raise StoreNameError."""
    return _check_name(
        name,
        "secret name",
        pattern=_SUBDOMAIN_RE,
        max_len=253,
        rule="a secret name is a DNS-1123 subdomain, at most 253 characters of lowercase letters, "
        "digits, '-' and '.', starting and ending with a letter or digit (for example 'user-info')",
    )


def _check_name(value: object, what: str, *, pattern: re.Pattern[str], max_len: int, rule: str) -> str:
    text = _require_text(value, what)
    if len(text) > max_len or not pattern.fullmatch(text):
        raise StoreNameError(f"invalid {what} {text[:80]!r}: {rule}")
    return text


def validate_data_key(key: object) -> str:
    """Return ``key`` if it is a valid key of a Secret's data, else raise StoreNameError."""
    text = _require_text(key, "data key")
    bad = len(text) > 253 or not _DATA_KEY_RE.fullmatch(text) or text in {".", ".."}
    if bad or text.startswith(".."):
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
