"""The pieces of a pod the managers add, built one way for all of them (docs/compat.md section 4).

Env vars (a plain value, a Kubernetes Secret key, the two path settings), the names a secret gets
in a pod, and the check every manager makes of a request's ``env_var`` before it names one.
Every piece is a new object, so no two pods share one.
"""

from __future__ import annotations

from typing import Any

from tasksecrets.contract import (
    DEFAULT_DIR_VAR,
    ENV_PREFIX,
    ENV_PREFIX_VAR,
    FILE_PREFIX_VAR,
    POD_ENV,
    POD_SECRETS_DIR,
)
from tasksecrets.errors import InjectionError
from tasksecrets.sdk.secret import Secret, is_env_var_name

__all__ = [
    "check_env_var",
    "describe_secret",
    "env_from_secret_key",
    "env_prefix_var",
    "env_value",
    "file_path_env_vars",
    "pod_env_name",
]


def pod_env_name(secret: Secret) -> str:
    """``UPPER(_FSEC_<group>_<key>)``: the env var a manager gives a secret's value (no version)."""
    return POD_ENV.format(ENV_PREFIX, secret.group, secret.key)


def env_value(name: str, value: str) -> dict[str, Any]:
    """A plain ``{name, value}`` env var."""
    return {"name": name, "value": value}


def env_prefix_var() -> dict[str, Any]:
    """``FLYTE_SECRETS_ENV_PREFIX=_FSEC_``, which every manager delivering env vars sets."""
    return env_value(ENV_PREFIX_VAR, ENV_PREFIX)


def env_from_secret_key(name: str, *, secret_name: str, key: str) -> dict[str, Any]:
    """An env var read from a Kubernetes Secret key, optional as docs/compat.md requires."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key, "optional": True}}}


def file_path_env_vars() -> list[dict[str, Any]]:
    """The two path env vars file-based injectors set (directory, then the empty file prefix)."""
    # The prefix is empty: Flyte's Go EnvVar{Value: ""} marshals without "value", as the API server
    # stores it, so the entry is the bare name (the same meaning: an unset value is "").
    return [env_value(DEFAULT_DIR_VAR, POD_SECRETS_DIR), {"name": FILE_PREFIX_VAR}]


def describe_secret(secret: Secret) -> str:
    """How denial messages name a secret: ``Secret(group=..., key=...)`` (never a value)."""
    return repr(secret)


def check_env_var(secret: Secret) -> None:
    """Refuse an ``env_var`` that is not an environment variable name (requests from other producers)."""
    if secret.env_var and not is_env_var_name(secret.env_var):
        raise InjectionError(
            f"env_var {secret.env_var!r} is not a valid environment variable name "
            "(upper-case letters, digits and underscores)"
        )
