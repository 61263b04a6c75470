"""Global's config section: the top-level ``secrets:`` of a Flyte config (docs/compat.md section 4)."""

from __future__ import annotations

from pydantic import Field

from tasksecrets.contract import GLOBAL_ENV_PREFIX, GLOBAL_SECRETS_DIR
from tasksecrets.managers.settings import Section

__all__ = ["GlobalSecretsConfig"]


class GlobalSecretsConfig(Section):
    """The ``secrets:`` section: where Global finds the values the webhook holds itself."""

    env_prefix: str = Field(default=GLOBAL_ENV_PREFIX, alias="env-prefix")
    secrets_prefix: str = Field(default=GLOBAL_SECRETS_DIR, alias="secrets-prefix")
    type: str = "local"
