"""A task's stdout and stderr, read by its runner as they are written and handed on masked, line by line.

:class:`OutputPump` reads the child's two pipes in the calling thread (``select``: a stop signal
raised by the runner's handler interrupts the wait), splits what comes into lines, masks each
line whole with a :class:`~tasksecrets.sdk.masking.LineMasker` (so a value written in pieces, or a
line that is a value however short, is masked: masking works on complete lines) and passes
``(stream, line)`` to its ``on_line`` callback. It reads whatever started the child: only the pipes
matter.

Costs are bounded: a line longer than :data:`MAX_LINE` is passed on in parts, each cut where no
value can straddle it (the last ``longest - 1`` characters wait for the rest of the line); the text
kept for :attr:`OutputPump.text` is the last :data:`KEPT_OUTPUT` characters.
"""

from __future__ import annotations

import codecs
import os
import selectors
import time
from collections import deque
from collections.abc import Callable
from typing import IO

from tasksecrets.sdk.masking import LineMasker

__all__ = ["KEPT_OUTPUT", "MAX_LINE", "OutputPump"]

MAX_LINE = 64 * 1024
KEPT_OUTPUT = 1024 * 1024
# How long the pipes are still read once the task's process has exited (a process it started in the
# background may hold them open for ever).
EXITED_GRACE_S = 2.0
_CHUNK = 65536


class _LineBuffer:
    def __init__(self, stream: str, masker: LineMasker, emit: Callable[[str, str], None]) -> None:
        self.stream = stream
        self._masker = masker
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes, *, final: bool = False) -> None:
        self._pending += self._decoder.decode(data, final=final)
        while True:
            end = self._pending.find("\n")
            if end < 0:
                break
            line, self._pending = self._pending[: end + 1], self._pending[end + 1 :]
            self._emit(self.stream, self._masker.mask_line(line))
        if len(self._pending) > MAX_LINE:
            self._emit_part()
        if final and self._pending:
            line, self._pending = self._pending, ""
            self._emit(self.stream, self._masker.mask_line(line))

    def _emit_part(self) -> None:
        cut = self._masker.safe_cut(self._pending)
        if cut <= 0:  # a value longer than the limit may be on its way: wait for more of it
            return
        part, self._pending = self._pending[:cut], self._pending[cut:]
        self._emit(self.stream, self._masker.mask(part))


class _Tail:
    # The last ``limit`` characters of what was added, in lines.
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lines: deque[str] = deque()
        self._size = 0

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line)
        while self._size > self._limit and len(self._lines) > 1:
            self._size -= len(self._lines.popleft())

    def text(self) -> str:
        return "".join(self._lines)


class OutputPump:
    """Reads a child's stdout and stderr pipes until both end (see the module docstring)."""

    def __init__(
        self,
        stdout: IO[bytes],
        stderr: IO[bytes],
        *,
        masker: LineMasker,
        on_line: Callable[[str, str], None] | None = None,
    ) -> None:
        self._on_line = on_line
        self._buffers = {
            stdout.fileno(): _LineBuffer("stdout", masker, self._take),
            stderr.fileno(): _LineBuffer("stderr", masker, self._take),
        }
        self._open = dict(self._buffers)
        self._kept = _Tail(KEPT_OUTPUT)
        self._by_stream = {"stdout": _Tail(KEPT_OUTPUT), "stderr": _Tail(KEPT_OUTPUT)}

    @property
    def text(self) -> str:
        """What the task printed so far, masked (its last :data:`KEPT_OUTPUT` characters)."""
        return self._kept.text()

    def stream_text(self, stream: str) -> str:
        """What the task printed on ``stream`` (``stdout`` or ``stderr``), masked and bounded likewise."""
        return self._by_stream[stream].text()

    def pump(self, exited: Callable[[], bool]) -> None:
        """Read until both pipes end, or :data:`EXITED_GRACE_S` after ``exited()`` turns true."""
        deadline: float | None = None
        with selectors.DefaultSelector() as selector:
            for fd in self._open:
                selector.register(fd, selectors.EVENT_READ)
            while self._open:
                if deadline is None and exited():
                    deadline = time.monotonic() + EXITED_GRACE_S
                if deadline is not None and time.monotonic() >= deadline:
                    break
                for key, _ in selector.select(timeout=0.2):
                    fd = int(key.fd)
                    data = os.read(fd, _CHUNK)
                    if data:
                        self._open[fd].feed(data)
                    else:
                        selector.unregister(fd)
                        self._open.pop(fd).feed(b"", final=True)
        self.finish()

    def feed(self, stream: str, data: bytes) -> None:
        """Pass on ``data`` read from ``stream`` by someone else (what was left when the task was stopped)."""
        for buffer in self._buffers.values():
            if buffer.stream == stream:
                buffer.feed(data)

    def finish(self) -> None:
        """Pass on the last line of each stream even without its newline."""
        for buffer in self._buffers.values():
            buffer.feed(b"", final=True)
        self._open.clear()

    def _take(self, stream: str, line: str) -> None:
        self._kept.add(line)
        self._by_stream[stream].add(line)
        if self._on_line is not None:
            self._on_line(stream, line)
