"""Where a task finds a secret: env var names, file paths and the ``FLYTE_SECRETS_*`` settings.

These are the names flytekit's reader uses (compat.md section 3), so a secret placed for a flytekit
task is found by ours and the other way round:

- env var: ``<prefix><GROUP>_<GROUP_VERSION>_<KEY>``, parts upper-cased (nothing else changes,
  ``-`` and ``.`` are kept), empty parts skipped; prefix ``FLYTE_SECRETS_ENV_PREFIX`` (``_FSEC_``);
- file: ``<dir>/<group>/<group_version>/<file prefix><key>``, parts lower-cased, empty parts skipped;
  dir ``FLYTE_SECRETS_DEFAULT_DIR`` (``/etc/secrets``), file prefix ``FLYTE_SECRETS_FILE_PREFIX`` ("").

The settings are read from the environment each time (an unset or empty variable means the
default; other values are stripped of surrounding whitespace), so a change takes effect at once.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_DIR_VAR",
    "DEFAULT_ENV_PREFIX",
    "DEFAULT_FILE_PREFIX",
    "ENV_PREFIX_VAR",
    "FILE_PREFIX_VAR",
    "SecretsConfig",
    "format_env_var",
    "format_file_path",
    "getenv",
    "read_config",
    "read_setting",
]

ENV_PREFIX_VAR = "FLYTE_SECRETS_ENV_PREFIX"
DEFAULT_DIR_VAR = "FLYTE_SECRETS_DEFAULT_DIR"
FILE_PREFIX_VAR = "FLYTE_SECRETS_FILE_PREFIX"
DEFAULT_ENV_PREFIX = "_FSEC_"
DEFAULT_DIR = os.path.join(os.sep, "etc", "secrets")
DEFAULT_FILE_PREFIX = ""


class SecretsConfig(NamedTuple):
    """The three settings that decide where secrets are looked for."""

    env_prefix: str = DEFAULT_ENV_PREFIX
    default_dir: str = DEFAULT_DIR
    file_prefix: str = DEFAULT_FILE_PREFIX


_environ = os.environ
# The reader looks up several env vars per read; ``os.environ.get`` costs a raised and caught KeyError
# for every miss. On POSIX, os.environ keeps its bytes-keyed dict in ``_data``, updated by every
# ``os.environ[...] = ...``: reading it directly keeps ``get`` cheap. Elsewhere, or if os.environ was
# replaced by another mapping, the plain mapping is used.
_data: dict[bytes, bytes] | None = getattr(_environ, "_data", None) if os.name == "posix" else None
_FS_ENCODING = sys.getfilesystemencoding()


def getenv(name: str) -> str | None:
    """``os.environ.get(name)``, faster for the many misses a secret lookup makes."""
    if _data is not None and os.environ is _environ:
        raw = _data.get(name.encode(_FS_ENCODING, "surrogateescape"))
        return None if raw is None else raw.decode(_FS_ENCODING, "surrogateescape")
    return os.environ.get(name)


def read_setting(name: str, default: str) -> str:
    """One ``FLYTE_SECRETS_*`` setting: unset or empty means ``default``; otherwise stripped."""
    value = getenv(name)
    return value.strip() if value else default


def read_config() -> SecretsConfig:
    """The settings as the environment holds them now."""
    return SecretsConfig(
        read_setting(ENV_PREFIX_VAR, DEFAULT_ENV_PREFIX),
        read_setting(DEFAULT_DIR_VAR, DEFAULT_DIR),
        read_setting(FILE_PREFIX_VAR, DEFAULT_FILE_PREFIX),
    )


def format_env_var(group: str, key: str, group_version: str | None = None, *, prefix: str) -> str:
    """The env var name of a secret: ``prefix`` + the non-empty parts upper-cased, joined by ``_``."""
    if group_version:
        return f"{prefix}{group.upper()}_{group_version.upper()}_{key.upper()}"
    return f"{prefix}{group.upper()}_{key.upper()}"


def format_file_path(
    group: str,
    key: str,
    group_version: str | None = None,
    *,
    default_dir: str,
    file_prefix: str = "",
    keep_case: bool = False,
) -> str:
    """The file path of a secret: ``default_dir/group[/group_version]/<file_prefix>key``.

    Parts are lower-cased as flytekit does, unless ``keep_case`` (the layout Vault's agent writes).
    """
    if not keep_case:
        group, key = group.lower(), key.lower()
        group_version = group_version.lower() if group_version else group_version
    if group_version:
        return os.path.join(default_dir, group, group_version, file_prefix + key)
    return os.path.join(default_dir, group, file_prefix + key)
