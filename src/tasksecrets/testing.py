"""Helpers for testing tasks that read secrets.

``SecretsManager`` is the reader itself, so the testing idiom of flytekit works unchanged::

    sec = SecretsManager()
    os.environ[sec.get_secrets_env_var("user-info", "user_secret")] = "value"

:func:`mock_secrets` provides secrets for a block (or a decorated function) and restores everything
afterwards. Tasks still read only what they request: mocking a secret does not bypass least privilege.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any, Literal

from tasksecrets.contract import DEFAULT_DIR_VAR
from tasksecrets.errors import SecretError
from tasksecrets.sdk.secrets import SecretsManager
from tasksecrets.sdk.settings import read_config

__all__ = ["SecretsManager", "mock_secrets"]

SecretName = tuple[str, str] | tuple[str, str, str | None]


def _split_name(name: object) -> tuple[str, str, str | None]:
    if not isinstance(name, tuple) or len(name) not in (2, 3):
        raise SecretError(
            "mock_secrets keys are (group, key) or (group, key, group_version) tuples, "
            f"got {type(name).__name__}; "
            'e.g. mock_secrets({("user-info", "user_secret"): "value"})'
        )
    group, key = name[0], name[1]
    version = name[2] if len(name) == 3 else None
    for field, part in (("group", group), ("key", key)):
        if not isinstance(part, str) or not part.strip():
            raise SecretError(f"mock_secrets: the secret {field} must be a non-empty string, got {part!r}")
    if version is not None and not isinstance(version, str):
        raise SecretError(
            f"mock_secrets: group_version must be a string or None, got {type(version).__name__}"
        )
    return group, key, version or None


class mock_secrets(contextlib.ContextDecorator):
    """Provide secrets for a ``with`` block or a decorated function, then restore everything.

    ``mock_secrets({("user-info", "user_secret"): "value", ("db", "password", "kv2"): "v"})``.
    ``mount="env"`` (default) sets the env vars the reader looks for; ``mount="file"`` writes the
    files into a private temporary directory and points ``FLYTE_SECRETS_DEFAULT_DIR`` at it. Values
    are ``str`` (or ``bytes`` for files). Env vars, settings and files are restored on exit.
    """

    def __init__(self, secrets: Mapping[Any, str | bytes], *, mount: Literal["env", "file"] = "env") -> None:
        if not isinstance(secrets, Mapping):
            raise SecretError(
                f"mock_secrets takes a mapping of (group, key) to value, got {type(secrets).__name__}"
            )
        if mount not in ("env", "file"):
            raise SecretError(f"mock_secrets mount {mount!r} is not valid: use 'env' or 'file'")
        self._secrets: list[tuple[tuple[str, str, str | None], str | bytes]] = []
        for name, value in secrets.items():
            parts = _split_name(name)
            if not isinstance(value, (str, bytes)) or (mount == "env" and not isinstance(value, str)):
                allowed = "str" if mount == "env" else "str or bytes"
                raise SecretError(
                    f"mock_secrets: the value of {parts[:2]} must be {allowed}, got {type(value).__name__}"
                )
            self._secrets.append((parts, value))
        self._mount = mount
        self._saved: list[dict[str, str | None]] = []
        self._temp_dirs: list[str] = []

    def __enter__(self) -> mock_secrets:
        saved: dict[str, str | None] = {}

        def set_env(name: str, value: str) -> None:
            if name not in saved:
                saved[name] = os.environ.get(name)
            os.environ[name] = value

        config = read_config()
        if self._mount == "env":
            for (group, key, version), value in self._secrets:
                assert isinstance(value, str)
                name = SecretsManager().get_secrets_env_var(group, key, version)
                set_env(name, value)
        else:
            directory = tempfile.mkdtemp(prefix="tasksecrets-mock-")
            self._temp_dirs.append(directory)
            set_env(DEFAULT_DIR_VAR, directory)
            reader = SecretsManager(config._replace(default_dir=directory))
            for (group, key, version), value in self._secrets:
                path = reader.get_secrets_file(group, key, version)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(value.encode("utf-8") if isinstance(value, str) else value)
        self._saved.append(saved)
        return self

    def __exit__(self, *exc_info: object) -> None:
        saved = self._saved.pop()
        for name, previous in saved.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        if self._mount == "file":
            shutil.rmtree(self._temp_dirs.pop(), ignore_errors=True)

    def __repr__(self) -> str:
        names = ", ".join(repr(parts[:2] if parts[2] is None else parts) for parts, _ in self._secrets)
        return f"mock_secrets([{names}], mount={self._mount!r})"
