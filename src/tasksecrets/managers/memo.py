"""Names derived from a Secret, remembered per Secret object (never values).

Decoded annotations are cached (:mod:`tasksecrets.wire`), so the same Secret objects come back pod
after pod, and deriving a request's env var names, volume names and paths again for each one is
work thrown away. A Secret is immutable, so what is derived from it alone never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from tasksecrets.sdk.secret import Secret

__all__ = ["SecretMemo"]

T = TypeVar("T")


class SecretMemo(Generic[T]):
    """What ``compute`` derives from a Secret alone, remembered; bounded, cleared whole when full.

    Entries are found by the object's identity, which costs less than hashing a Secret's five
    fields. Each entry keeps its Secret alive, so an identity cannot be reused while its entry lives.
    """

    def __init__(self, compute: Callable[[Secret], T], *, size: int = 1024) -> None:
        self._compute = compute
        self._size = size
        self._entries: dict[int, tuple[Secret, T]] = {}

    def __call__(self, secret: Secret) -> T:
        entry = self._entries.get(id(secret))
        if entry is not None and entry[0] is secret:
            return entry[1]
        value = self._compute(secret)
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[id(secret)] = (secret, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
