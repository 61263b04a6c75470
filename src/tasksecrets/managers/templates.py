"""Text with named slots, rendered and read back by one definition.

Where an injector writes a text into a pod (a pull container's shell script, a Vault agent
template) and the local kubelet must later find what it asked for, both sides use one
:class:`TextTemplate`, so the reading side never restates the format. :meth:`TextTemplate.parse`
accepts exactly the texts :meth:`TextTemplate.render` can write, and gives back values that
render to the same text; a slot used twice must hold the same value both times.

A slot may carry a :class:`Quoting`: the value is encoded when rendered (a shell script's words
are quoted, :mod:`tasksecrets.managers.shellwords`) and decoded when read back, so a slot's value
can never become part of the surrounding text's syntax.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["Quoting", "Slot", "TextTemplate"]


class Quoting(NamedTuple):
    """How a slot's value is written into the text and read back (None: not text this writes)."""

    encode: Callable[[str], str]
    decode: Callable[[str], str | None]


class Slot(NamedTuple):
    """A named place in a template, its value written as is or with ``quoting``."""

    name: str
    quoting: Quoting | None = None


class TextTemplate:
    """Literal text and :class:`Slot` parts, in order."""

    def __init__(self, *parts: str | Slot) -> None:
        self.parts = parts
        pattern, seen = [], set()
        quotings: dict[str, Quoting] = {}
        for part in parts:
            if isinstance(part, Slot):
                pattern.append(f"(?P={part.name})" if part.name in seen else f"(?P<{part.name}>.*?)")
                seen.add(part.name)
                if part.quoting is not None:
                    quotings[part.name] = part.quoting
            else:
                pattern.append(re.escape(part))
        self.slots = tuple(seen)
        self._quotings = quotings
        self._pattern = re.compile("".join(pattern), re.DOTALL)

    def render(self, **values: str) -> str:
        """The text with each slot filled (quoted where the slot says); KeyError when a value is missing."""
        return "".join(self._written(part, values) if isinstance(part, Slot) else part for part in self.parts)

    def parse(self, text: str) -> dict[str, str] | None:
        """The slots' values of a text this template renders, or None for any other text."""
        match = self._pattern.fullmatch(text)
        if match is None:
            return None
        values = match.groupdict()
        for name, quoting in self._quotings.items():
            decoded = quoting.decode(values[name])
            if decoded is None:
                return None
            values[name] = decoded
        return values

    @staticmethod
    def _written(slot: Slot, values: dict[str, str]) -> str:
        value = values[slot.name]
        return value if slot.quoting is None else slot.quoting.encode(value)
