"""The reader's three settings, read from the environment: ``FLYTE_SECRETS_*`` (docs/compat.md section 3).

``FLYTE_SECRETS_ENV_PREFIX`` (default ``_FSEC_``), ``FLYTE_SECRETS_DEFAULT_DIR`` (``/etc/secrets``)
and ``FLYTE_SECRETS_FILE_PREFIX`` (empty): an unset or empty variable means the default, other
values are stripped of surrounding whitespace. They are read at each call, so a change takes
effect at once. The names and defaults are the contract's (:mod:`tasksecrets.contract`).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from tasksecrets.contract import (
    DEFAULT_DIR_VAR,
    ENV_PREFIX,
    ENV_PREFIX_VAR,
    FILE_PREFIX_VAR,
    READER_DEFAULT_DIR,
    READER_DEFAULT_FILE_PREFIX,
)

__all__ = ["SecretsConfig", "config_of", "read_config", "read_env_prefix", "read_setting"]


class SecretsConfig(NamedTuple):
    """The three settings that decide where secrets are looked for."""

    env_prefix: str = ENV_PREFIX
    default_dir: str = READER_DEFAULT_DIR
    file_prefix: str = READER_DEFAULT_FILE_PREFIX


def read_setting(name: str, default: str) -> str:
    """One ``FLYTE_SECRETS_*`` setting: unset or empty means ``default``; otherwise stripped."""
    value = os.environ.get(name)
    return value.strip() if value else default


def read_env_prefix() -> str:
    """``FLYTE_SECRETS_ENV_PREFIX`` as the environment holds it now."""
    return read_setting(ENV_PREFIX_VAR, ENV_PREFIX)


def read_config(*, env_prefix: str | None = None) -> SecretsConfig:
    """The settings as the environment holds them now (``env_prefix``: already read by the caller)."""
    return SecretsConfig(
        read_env_prefix() if env_prefix is None else env_prefix,
        read_setting(DEFAULT_DIR_VAR, READER_DEFAULT_DIR),
        read_setting(FILE_PREFIX_VAR, READER_DEFAULT_FILE_PREFIX),
    )


def config_of(settings: Any) -> SecretsConfig:
    """Pinned settings from any object with ``env_prefix``, ``default_dir`` and ``file_prefix``.

    Such as flytekit's ``SecretsConfig``; empty values mean the defaults, as in the environment.
    """
    return SecretsConfig(
        str(settings.env_prefix).strip() or ENV_PREFIX,
        str(settings.default_dir).strip() or READER_DEFAULT_DIR,
        str(settings.file_prefix).strip(),
    )
