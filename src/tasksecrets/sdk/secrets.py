"""The reader: ``current_context().secrets``, which finds a secret's value at run time.

Lookup order for ``get(group, key, group_version)`` (first hit wins, values stripped):

1. env var ``<prefix><GROUP>[_<VERSION>]_<KEY>`` (prefix from ``FLYTE_SECRETS_ENV_PREFIX``);
2. outside a pod (not under ``python -m tasksecrets execute``): the same name without the prefix;
3. file ``<dir>/<group>[/<version>]/<file prefix><key>``, lower-cased;

   -- the three above are exactly flytekit's; what follows finds what injectors write elsewhere --

4. with a version: the env var names and the file path without the version (the webhook never
   puts the version into names or paths);
5. the file with case kept, ``<dir>/<Group>/<Key>`` (and with the version), where Vault's agent writes;
6. with a version: the file ``<dir>/<group>/<version>``, lower-cased, where GCP's init container writes.

Inside a running task, a secret the task did not request is refused (least privilege) before any
lookup; every value found is registered for masking. Messages never carry a value.
"""

from __future__ import annotations

import os
from typing import Any

from tasksecrets.errors import SecretError, SecretNotFoundError, SecretNotRequestedError
from tasksecrets.sdk.exports import read_secret_file
from tasksecrets.sdk.naming import (
    DEFAULT_DIR,
    DEFAULT_DIR_VAR,
    DEFAULT_ENV_PREFIX,
    ENV_PREFIX_VAR,
    FILE_PREFIX_VAR,
    SecretsConfig,
    format_env_var,
    format_file_path,
    getenv,
    read_setting,
)
from tasksecrets.sdk.state import _current, _process_task

__all__ = ["ENCODE_MODES", "SecretsManager", "describe_secret", "find_secret"]

ENCODE_MODES = ("r", "rb")


def describe_secret(group: str, key: str, group_version: str | None = None) -> str:
    """How to request this secret, as Python: ``Secret(group='g', key='k'[, group_version='v'])``."""
    version = f", group_version={group_version!r}" if group_version else ""
    return f"Secret(group={group!r}, key={key!r}{version})"


def _check_part(name: str, value: object, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        if value is None:
            raise SecretError(
                f"the secret {name} is a required parameter: pass it as a non-empty string, "
                "e.g. secrets.get('user-info', 'user_secret')"
            )
        raise SecretError(f"the secret {name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise SecretError(
            f"the secret {name} is a required parameter and may not be empty: "
            "pass a non-empty string, e.g. secrets.get('user-info', 'user_secret')"
        )


def _check_get_args(group: object, key: object, group_version: object, encode_mode: object) -> None:
    if encode_mode != "r" and encode_mode != "rb":
        raise SecretError(f"encode_mode {encode_mode!r} is not valid: use one of {', '.join(ENCODE_MODES)}")
    _check_part("group", group, required=True)
    _check_part("key", key, required=True)
    _check_part("group_version", group_version, required=False)


def _read_file(path: str, binary: bool) -> str | bytes | None:
    data = read_secret_file(path)
    if data is None:
        return None
    if binary:
        return data.strip()
    try:
        # Universal newlines, as reading in text mode would give.
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").strip()
    except UnicodeDecodeError:
        raise SecretError(
            f"the secret file {path} is not UTF-8 text: read it as bytes with encode_mode='rb'"
        ) from None


def find_secret(
    group: str,
    key: str,
    group_version: str | None = None,
    *,
    binary: bool = False,
    local: bool = True,
    config: SecretsConfig | None = None,
    tried: list[str] | None = None,
) -> tuple[str | bytes, str | None] | None:
    """Look a secret up in the lookup order above, without least-privilege checks.

    Returns ``(value, file path or None when it came from an env var)``, or None when not found;
    when ``tried`` is given, the env var names and file paths looked at are appended to it.
    """
    prefix = read_setting(ENV_PREFIX_VAR, DEFAULT_ENV_PREFIX) if config is None else config.env_prefix
    versions = (group_version, None) if group_version else (None,)
    file_checked = False
    for version in versions:
        names = [format_env_var(group, key, version, prefix=prefix)]
        if local and prefix:
            names.append(format_env_var(group, key, version, prefix=""))
        for name in names:
            if tried is not None:
                tried.append(f"env var {name}")
            value = getenv(name)
            if value is not None:
                value = value.strip()
                return (value.encode("utf-8") if binary else value), None
        if not file_checked:
            # flytekit's order: its env names, then its file, and only then the fallbacks.
            file_checked = True
            if config is None:
                config = SecretsConfig(
                    prefix, read_setting(DEFAULT_DIR_VAR, DEFAULT_DIR), read_setting(FILE_PREFIX_VAR, "")
                )
            path = format_file_path(
                group, key, group_version, default_dir=config.default_dir, file_prefix=config.file_prefix
            )
            if tried is not None:
                tried.append(f"file {path}")
            found = _read_file(path, binary)
            if found is not None:
                return found, path
    assert config is not None
    paths: list[str] = []
    for version in versions:
        for keep_case in (False, True):
            path = format_file_path(
                group,
                key,
                version,
                default_dir=config.default_dir,
                file_prefix=config.file_prefix,
                keep_case=keep_case,
            )
            if path not in paths:
                paths.append(path)
    if group_version:
        # GCP's layout: the file is named after the version, <dir>/<group>/<group_version>.
        path = os.path.join(config.default_dir, group.lower(), group_version.lower())
        if path not in paths:
            paths.append(path)
    for path in paths[1:]:
        if tried is not None:
            tried.append(f"file {path}")
        found = _read_file(path, binary)
        if found is not None:
            return found, path
    return None


class SecretsManager:
    """Finds secrets by group and key; ``current_context().secrets`` is one of these.

    ``SecretsManager()`` reads the ``FLYTE_SECRETS_*`` settings from the environment at each call;
    give ``config`` (any object with ``env_prefix``, ``default_dir``, ``file_prefix``, such as
    flytekit's ``SecretsConfig``) to pin them instead. ``secrets.<group>.<key>`` is ``get(group, key)``.
    """

    def __init__(self, config: Any = None) -> None:
        if config is None:
            self._config: SecretsConfig | None = None
        else:
            self._config = SecretsConfig(
                str(config.env_prefix).strip() or DEFAULT_ENV_PREFIX,
                str(config.default_dir).strip() or DEFAULT_DIR,
                str(config.file_prefix).strip(),
            )

    def _settings(self) -> SecretsConfig:
        if self._config is not None:
            return self._config
        return SecretsConfig(
            read_setting(ENV_PREFIX_VAR, DEFAULT_ENV_PREFIX),
            read_setting(DEFAULT_DIR_VAR, DEFAULT_DIR),
            read_setting(FILE_PREFIX_VAR, ""),
        )

    def get(
        self,
        group: str | None = None,
        key: str | None = None,
        group_version: str | None = None,
        encode_mode: str = "r",
    ) -> Any:
        """The secret's value: ``str`` for ``encode_mode="r"``, ``bytes`` for ``"rb"``.

        Raises SecretNotRequestedError inside a task that did not request it, SecretNotFoundError
        (a ValueError) when it is nowhere, naming the env vars and files tried.
        """
        if (
            type(group) is not str
            or type(key) is not str
            or not group
            or not key
            or group.isspace()
            or key.isspace()
            or (group_version is not None and type(group_version) is not str)
            or (encode_mode != "r" and encode_mode != "rb")
        ):
            _check_get_args(group, key, group_version, encode_mode)
        assert group is not None and key is not None  # for the type checker; checked above
        running = _current.get()
        if running is None and _process_task:
            running = _process_task[-1]
        if running is not None and not running.allows(group, key, group_version):
            raise SecretNotRequestedError(
                f"task {running.task.name!r} read a secret it did not request: add "
                f"{describe_secret(group, key, group_version)} to its "
                "@task(secret_requests=[...]) (least privilege: a task reads only what it requests)"
            )
        # Fast path, the common case: the prefixed env var holds the value.
        if self._config is None:
            prefix = getenv(ENV_PREFIX_VAR)
            prefix = prefix.strip() if prefix else DEFAULT_ENV_PREFIX
        else:
            prefix = self._config.env_prefix
        if group_version:
            name = f"{prefix}{group.upper()}_{group_version.upper()}_{key.upper()}"
        else:
            name = f"{prefix}{group.upper()}_{key.upper()}"
        value = getenv(name)
        if value is not None:
            value = value.strip()
            if running is not None:
                running.mask.add(value)
            return value.encode("utf-8") if encode_mode == "rb" else value
        found = find_secret(
            group,
            key,
            group_version,
            binary=encode_mode == "rb",
            local=running is None or not running.in_pod,
            config=self._config,
        )
        if found is None:
            tried: list[str] = []
            find_secret(
                group,
                key,
                group_version,
                local=running is None or not running.in_pod,
                config=self._config,
                tried=tried,
            )
            raise SecretNotFoundError(
                f"Unable to find secret for key {key!r} in group {group!r}: tried "
                f"{', '.join(tried)}. Please make sure to add "
                f"secret_requests=[{describe_secret(group, key, group_version)}] in @task, "
                "and that the secret exists in the secret manager "
                "(for a local run: set the env var or write the file)"
            )
        if running is not None:
            running.mask.add(found[0])
        return found[0]

    def get_secrets_env_var(
        self, group: str | None = None, key: str | None = None, group_version: str | None = None
    ) -> str:
        """The env var name the secret is looked for under (with the configured prefix)."""
        self._check_names(group, key, group_version)
        assert group is not None and key is not None
        return format_env_var(group, key, group_version, prefix=self._settings().env_prefix)

    def get_secrets_file(
        self, group: str | None = None, key: str | None = None, group_version: str | None = None
    ) -> str:
        """The file path the secret is looked for at (under the configured directory)."""
        self._check_names(group, key, group_version)
        assert group is not None and key is not None
        config = self._settings()
        return format_file_path(
            group, key, group_version, default_dir=config.default_dir, file_prefix=config.file_prefix
        )

    @staticmethod
    def _check_names(group: object, key: object, group_version: object) -> None:
        _check_part("group", group, required=True)
        _check_part("key", key, required=True)
        _check_part("group_version", group_version, required=False)

    def __getattr__(self, group: str) -> _GroupSecrets:
        # Private and special names are never groups (copy, pickle and debuggers probe them).
        if group.startswith("_"):
            raise AttributeError(group)
        return _GroupSecrets(group, self)

    def __repr__(self) -> str:
        config = self._settings()
        return (
            f"SecretsManager(env_prefix={config.env_prefix!r}, default_dir={config.default_dir!r}, "
            f"file_prefix={config.file_prefix!r})"
        )


class _GroupSecrets:
    """``secrets.<group>``: each attribute is a key of the group."""

    def __init__(self, group: str, manager: SecretsManager) -> None:
        self._group = group
        self._manager = manager

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self._manager.get(self._group, key)

    def __repr__(self) -> str:
        return f"<secrets of group {self._group!r}>"
