"""Answers remembered by pod view, least recently used first out.

Every mutation is computed on the pod's view (:class:`~tasksecrets.managers.podview.PodView`), the
part of the pod the managers may read; a chain whose injectors all declare themselves
deterministic gives every pod of one view the same answer. So the answer is remembered under the
view itself, serialized exactly (:func:`~tasksecrets.admission.jsoncodec.exact_key`): a hit is
the answer computing it would give, byte for byte, and a field the view keeps without need can
only make two pods' keys differ, never give a pod another pod's answer. Answers a value-carrying
injector (Global) took part in are never kept; keys hold names, never values.

:class:`AnswerMemo` is bounded in entries and in bytes, and evicts the least recently used entry.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["AnswerMemo", "Remembered"]

# An answer's ``response`` without its uid, and the manager of each secret injected.
Remembered = tuple[dict[str, Any], list[str]]


class AnswerMemo:
    """Remembered answers by key, bounded by ``entries`` and ``max_bytes``; least recently used out.

    ``size`` is what the caller says an entry weighs in bytes, its key's length added; an entry
    heavier than an eighth of ``max_bytes`` is not kept. The memo never changes an entry.
    """

    def __init__(self, entries: int = 8192, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._max_entries = entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[Hashable, tuple[Remembered, int]] = OrderedDict()

    def get(self, key: Hashable) -> Remembered | None:
        """The entry stored for ``key`` (now the most recently used), or None."""
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: str | bytes, entry: Remembered, *, size: int = 0) -> None:
        """Store ``entry`` for ``key``, evicting the least recently used entries to make room."""
        weight = size + len(key)
        if weight > self._max_bytes // 8:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= previous[1]
        while self._entries and (
            len(self._entries) >= self._max_entries or self._bytes + weight > self._max_bytes
        ):
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted
        self._entries[key] = (entry, weight)
        self._bytes += weight

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._bytes = 0

    @property
    def weight(self) -> int:
        """The bytes the entries weigh now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
