"""Kubernetes label selectors (``-l``), as kubectl writes them, matched against a secret's labels.

Requirements are separated by commas and must all hold: ``key=value``, ``key==value``,
``key!=value``, ``key in (a,b)``, ``key notin (a,b)``, ``key`` (the label exists) and ``!key`` (it
does not). ``!=`` and ``notin`` hold for a secret without the label, as on a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tasksecrets.errors import ManifestError
from tasksecrets.managers.validity import label_value_problem, qualified_name_problem

__all__ = ["Selector", "parse_selector"]

_SET_RE = re.compile(r"\s*(!?)\s*([^\s=!(),]+)\s*(?:(in|notin)\s*\(([^()]*)\))?\s*")
_EQ_RE = re.compile(r"\s*([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)\s*")


@dataclass(frozen=True)
class Selector:
    """A parsed selector: matches a label map when every requirement holds."""

    text: str
    requirements: tuple[Callable[[Mapping[str, str]], bool], ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement(labels) for requirement in self.requirements)


def parse_selector(text: str) -> Selector:
    """Parse ``text``; ManifestError saying which requirement is not understood and the forms that are."""
    requirements = [_parse_requirement(part, text) for part in _split(text)]
    return Selector(text, tuple(requirements))


def _split(text: str) -> list[str]:
    # Commas inside "in (a,b)" do not separate requirements.
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _parse_requirement(part: str, text: str) -> Callable[[Mapping[str, str]], bool]:
    if match := _EQ_RE.fullmatch(part):
        key, op, value = match.groups()
        _check(key, [value], part, text)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    if (match := _SET_RE.fullmatch(part)) and not (match.group(1) and match.group(3)):
        negated, key, op, values_text = match.groups()
        values = {v.strip() for v in values_text.split(",")} if values_text is not None else set()
        _check(key, sorted(values), part, text)
        if op == "in":
            return lambda labels: labels.get(key) in values
        if op == "notin":
            return lambda labels: labels.get(key) not in values
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise ManifestError(
        f"-l {text!r}: cannot read {part.strip()!r}; write requirements separated by commas: key=value, "
        "key!=value, 'key in (a,b)', 'key notin (a,b)', key or !key"
    )


def _check(key: str, values: list[str], part: str, text: str) -> None:
    problem = qualified_name_problem(key)
    for value in values:
        problem = problem or label_value_problem(value)
    if problem:
        raise ManifestError(f"-l {text!r}: {part.strip()!r} is not a valid requirement: {problem}")
