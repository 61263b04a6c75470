"""Which namespaces may receive which Global groups: ``secrets.accessPolicy`` (docs/webhook-config.md).

Global hands out values the webhook's own process holds, to any pod that asks, in any namespace
the webhook serves (Flyte's behaviour, kept when no policy is set). A policy is a list of rules,
each a list of ``namespaces`` and a list of ``groups``, every entry an fnmatch-style glob matched
case-sensitively (``team-*``, ``prod``, ``*``); a request of group G in namespace N is allowed when
one rule matches both. An empty list allows nothing. Only requests Global would serve are checked:
a group it does not hold passes on to the configured manager as before.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

from tasksecrets.managers.global_.defaults import AccessRule, GlobalSettings

__all__ = ["POLICY_SETTING", "GlobalAccessPolicy"]

POLICY_SETTING = "secrets.accessPolicy"


def _any_of(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


class GlobalAccessPolicy:
    """The rules of ``secrets.accessPolicy``; ``None`` rules allow every namespace every group."""

    def __init__(self, rules: Sequence[AccessRule] | None = None) -> None:
        self.restricted = rules is not None
        # Each rule's globs compiled into one pattern per side: a check costs the rules, not the globs.
        self._rules = [(_any_of(r.namespaces), _any_of(r.groups)) for r in rules or ()]

    @classmethod
    def from_settings(cls, settings: GlobalSettings) -> GlobalAccessPolicy:
        """The policy of the ``secrets:`` section (none when ``accessPolicy`` is not set)."""
        return cls(settings.access_policy)

    def allows(self, namespace: str, group: str) -> bool:
        """Whether a pod in ``namespace`` may receive Global's secrets of ``group``."""
        if not self.restricted:
            return True
        return any(ns.fullmatch(namespace) and groups.fullmatch(group) for ns, groups in self._rules)

    def refusal(self, namespace: str, group: str) -> str:
        """Why the request is refused: the namespace, the group, and the setting that allows it."""
        return (
            f"namespace {namespace!r} may not receive the Global group {group!r}: no rule of "
            f"{POLICY_SETTING} in the webhook's config matches both; add one, such as "
            f"{{namespaces: [{namespace!r}], groups: [{group!r}]}} (globs like 'team-*' match too), "
            "to allow it"
        )
