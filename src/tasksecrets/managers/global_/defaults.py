"""The ``secrets:`` section as its readers see it, and its defaults, without pydantic.

The mutator, Global's source and its access policy read four settings; :class:`GlobalSettings`
is that view. :data:`GLOBAL_DEFAULTS` is the section when a config file gives none: the local
runner uses it without loading the validating model (importing pydantic is a tenth of a second of
``tasksecrets run``'s start-up), and that model takes its defaults from here, so the two cannot
disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tasksecrets.contract import GLOBAL_ENV_PREFIX, GLOBAL_SECRETS_DIR

__all__ = ["GLOBAL_DEFAULTS", "AccessRule", "GlobalDefaults", "GlobalSettings"]


class AccessRule(Protocol):
    """One rule of ``accessPolicy``: the namespace globs and the group globs it pairs."""

    @property
    def namespaces(self) -> Sequence[str]: ...

    @property
    def groups(self) -> Sequence[str]: ...


class GlobalSettings(Protocol):
    """What Global's readers take from the ``secrets:`` section."""

    @property
    def env_prefix(self) -> str: ...

    @property
    def secrets_prefix(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def access_policy(self) -> Sequence[AccessRule] | None: ...


@dataclass(frozen=True)
class GlobalDefaults:
    """The ``secrets:`` section when the config file has none (or there is no file)."""

    env_prefix: str = GLOBAL_ENV_PREFIX
    secrets_prefix: str = GLOBAL_SECRETS_DIR
    type: str = "local"
    # None (not set): every namespace may receive every group, as in Flyte.
    access_policy: Sequence[AccessRule] | None = None


GLOBAL_DEFAULTS = GlobalDefaults()
