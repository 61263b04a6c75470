"""Text with named slots, rendered and read back by one definition.

Where an injector writes a text into a pod (a pull container's shell script, a Vault agent
template) and the local kubelet must later find what it asked for, both sides use one
:class:`TextTemplate`, so the reading side never restates the format. :meth:`TextTemplate.parse`
accepts exactly the texts :meth:`TextTemplate.render` can write, and gives back values that
render to the same text; a slot used twice must hold the same value both times.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["Slot", "TextTemplate"]


class Slot(NamedTuple):
    """A named place in a template."""

    name: str


class TextTemplate:
    """Literal text and :class:`Slot` parts, in order."""

    def __init__(self, *parts: str | Slot) -> None:
        self.parts = parts
        pattern, seen = [], set()
        for part in parts:
            if isinstance(part, Slot):
                pattern.append(f"(?P={part.name})" if part.name in seen else f"(?P<{part.name}>.*?)")
                seen.add(part.name)
            else:
                pattern.append(re.escape(part))
        self.slots = tuple(seen)
        self._pattern = re.compile("".join(pattern), re.DOTALL)

    def render(self, **values: str) -> str:
        """The text with each slot filled; KeyError when a value is missing."""
        return "".join(values[part.name] if isinstance(part, Slot) else part for part in self.parts)

    def parse(self, text: str) -> dict[str, str] | None:
        """The slots' values of a text this template renders, or None for any other text."""
        match = self._pattern.fullmatch(text)
        return None if match is None else match.groupdict()
