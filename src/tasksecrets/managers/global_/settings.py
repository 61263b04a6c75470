"""Global's config section: the top-level ``secrets:`` of a Flyte config (docs/compat.md section 4).

``accessPolicy`` is ours (see :mod:`tasksecrets.managers.global_.policy`).
"""

from __future__ import annotations

from pydantic import Field

from tasksecrets.managers.global_.defaults import GLOBAL_DEFAULTS
from tasksecrets.managers.settings import Section

__all__ = ["GlobalAccessRule", "GlobalSecretsConfig"]


class GlobalAccessRule(Section):
    """One rule of ``accessPolicy``: namespaces matching one glob may receive groups matching one."""

    namespaces: list[str] = Field(min_length=1)
    groups: list[str] = Field(min_length=1)


class GlobalSecretsConfig(Section):
    """The ``secrets:`` section: where Global finds the values the webhook holds itself."""

    # Defaults from GLOBAL_DEFAULTS, which the runner uses as is when there is no config file.
    env_prefix: str = Field(default=GLOBAL_DEFAULTS.env_prefix, alias="env-prefix")
    secrets_prefix: str = Field(default=GLOBAL_DEFAULTS.secrets_prefix, alias="secrets-prefix")
    type: str = GLOBAL_DEFAULTS.type
    # None (not set): every namespace may receive every group, as in Flyte.
    access_policy: list[GlobalAccessRule] | None = Field(default=None, alias="accessPolicy")
