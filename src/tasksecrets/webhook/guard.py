"""uvicorn's httptools protocol, held to :class:`~tasksecrets.admission.httplimits.HttpLimits`.

httptools (llhttp) has no limit of its own, and uvicorn adds none for it (``h11_max_incomplete_event_size``
applies to h11 only): one connection streaming headers would be buffered whole. This protocol counts
what each connection costs and ends what costs too much:

- request line and headers: at most ``maxHeaderBytes`` (answer 431, the connection closes), all
  received within ``headerTimeoutSeconds`` of the connection's start or of the request's first byte
  (408, closed);
- the body: received within ``bodyTimeoutSeconds`` of the end of the headers (408, closed);
- the answer: written within ``answerTimeoutSeconds`` of the request's end, else the connection closes
  (a review nobody waits for any more, or a client that does not read, gives its bytes back);
- an idle keep-alive connection closes after ``keepAliveSeconds`` (uvicorn's timer);
- at most ``maxConnections`` per worker. A connection beyond it evicts the one that has been longest
  in its header phase, else the longest idle, else the longest receiving its body: slow clients cannot
  lock the API server out, since a request the API server sends completes its headers long before a
  thousand newer connections arrive. Only when every connection is being answered is the newcomer closed;
- bodies: one of at most :data:`FREE_BODY_BYTES` is read at once (every review the API server sends
  of a usual pod). A larger one first reserves its ``Content-Length`` (the largest accepted body when
  chunked) from the worker's ``bodyBufferBytes``; while the reservations of others leave no room it waits,
  reading paused, its bytes left in the kernel, first come first served, until another request ends or
  its own body timeout does. A reservation lasts until the answer is written. Since any body fits in an
  empty budget and one reserved is read to its end, bodies never wait for each other in a circle.

A connection ended by a limit is told why when it can be (the status line and a one-line text body),
then dropped at once, so that its memory does not outlive the limit.
"""

from __future__ import annotations

import asyncio
import enum
import functools
from collections import OrderedDict
from typing import Any, ClassVar

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tasksecrets.admission.httplimits import HttpLimits

__all__ = ["FREE_BODY_BYTES", "ConnectionGuard", "GuardedProtocol", "guarded_protocol"]

FREE_BODY_BYTES = HIGH_WATER_LIMIT  # what uvicorn buffers before it pauses reading anyway
_BODY_SIZE_HEADERS = (b"content-length", b"transfer-encoding")


class Phase(enum.Enum):
    """Where a connection is in its request: the limits that apply follow from it."""

    HEAD = "head"  # request line and headers arriving (or nothing yet on a new connection)
    BODY = "body"  # the body arriving
    BUSY = "busy"  # the request is whole; the app answers it
    IDLE = "idle"  # keep-alive, between requests


class _HoldableFlow(FlowControl):
    """uvicorn's flow control, plus a hold that uvicorn's own ``resume_reading`` does not lift."""

    held = False

    def hold(self) -> None:
        self.held = True
        self.pause_reading()

    def release(self) -> None:
        self.held = False
        self.resume_reading()

    def resume_reading(self) -> None:
        if not self.held:
            super().resume_reading()


class ConnectionGuard:
    """One worker's connections by phase, oldest first, and its budget of buffered body bytes."""

    def __init__(self, limits: HttpLimits, *, max_body: int) -> None:
        self.limits = limits
        self.max_body = max_body
        self._by_phase: dict[Phase, OrderedDict[GuardedProtocol, None]] = {p: OrderedDict() for p in Phase}
        self._phase_of: dict[GuardedProtocol, Phase] = {}
        self._waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()
        self.body_bytes = 0

    def __len__(self) -> int:
        return len(self._phase_of)

    def admit(self, conn: GuardedProtocol) -> bool:
        """Count ``conn`` in (its header phase), evicting another if the cap is reached; False: refuse it."""
        if len(self._phase_of) >= self.limits.max_connections:
            victim = self._oldest(Phase.HEAD, Phase.IDLE, Phase.BODY)
            if victim is None:
                return False
            victim.evict()
        self.move(conn, Phase.HEAD)
        return True

    def _oldest(self, *phases: Phase) -> GuardedProtocol | None:
        for phase in phases:
            for conn in self._by_phase[phase]:
                return conn
        return None

    def move(self, conn: GuardedProtocol, phase: Phase) -> None:
        """``conn`` enters ``phase`` now (the newest of that phase)."""
        previous = self._phase_of.get(conn)
        if previous is not None:
            del self._by_phase[previous][conn]
        self._phase_of[conn] = phase
        self._by_phase[phase][conn] = None

    def phase(self, conn: GuardedProtocol) -> Phase | None:
        return self._phase_of.get(conn)

    def forget(self, conn: GuardedProtocol) -> None:
        """``conn`` is gone or going: count it out and give back the body bytes it held."""
        phase = self._phase_of.pop(conn, None)
        if phase is not None:
            del self._by_phase[phase][conn]
        self._waiting.pop(conn, None)
        self.give_back(conn)

    def reserve(self, conn: GuardedProtocol, size: int) -> None:
        """``conn`` will buffer a body of ``size`` bytes: it reads on if the budget has room, else waits."""
        conn.wanted = size
        if not self._waiting and self._grant(conn):
            return
        conn.flow.hold()
        self._waiting[conn] = None

    def _grant(self, conn: GuardedProtocol) -> bool:
        # An empty budget takes any body, even one larger than the budget: nobody waits for ever.
        if self.body_bytes and self.body_bytes + conn.wanted > self.limits.body_buffer_bytes:
            return False
        self.body_bytes += conn.wanted
        conn.reserved += conn.wanted  # a pipelined request's adds to the one being answered
        conn.wanted = 0
        return True

    def give_back(self, conn: GuardedProtocol) -> None:
        """The bytes ``conn`` reserved are free again: the bodies waiting for them read on, in order."""
        self.body_bytes -= conn.reserved
        conn.reserved = 0
        while self._waiting:
            waiter = next(iter(self._waiting))
            if not self._grant(waiter):
                break
            del self._waiting[waiter]
            waiter.flow.release()


class GuardedProtocol(HttpToolsProtocol):
    """An httptools connection held to its worker's :class:`ConnectionGuard` (see the module doc)."""

    guard: ClassVar[ConnectionGuard]
    flow: _HoldableFlow

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_bytes = 0
        self.wanted = 0  # body bytes waiting for a reservation
        self.reserved = 0  # body bytes reserved in the guard's budget
        self._timer: asyncio.TimerHandle | None = None

    # -- the connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _HoldableFlow(transport)
        # The TLS layer reads ahead up to 256 KiB of a paused connection by default: make it 64 KiB.
        set_limits = getattr(transport, "set_read_buffer_limits", None)
        if set_limits is not None:
            set_limits(high=FREE_BODY_BYTES)
        if not self.guard.admit(self):
            self._end(503, "the server is answering its maximum of connections; retry")
            return
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.guard.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # ended by a limit: whatever else comes is not read
        if self.guard.phase(self) is Phase.IDLE:
            self._start_head()
        if self.guard.phase(self) is Phase.HEAD:
            room = self.guard.limits.max_header_bytes - self.head_bytes
            if len(data) > room:
                # Feed only what fits: the headers may end inside it, and the rest is then body.
                self.head_bytes += room
                super().data_received(data[:room])
                if self.transport.is_closing():
                    return
                if self.guard.phase(self) is Phase.HEAD:
                    self._end(431, "request line and headers over the limit")
                    return
                data = data[room:]
            else:
                self.head_bytes += len(data)
        super().data_received(data)

    # -- parser callbacks ----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.guard.phase(self) is not Phase.HEAD:  # a pipelined request after the one answered
            self._start_head()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._enter(Phase.BODY, self.guard.limits.body_timeout_seconds)
        size = _body_size(self.headers, limit=self.guard.max_body)
        if size > FREE_BODY_BYTES:
            self.guard.reserve(self, size)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._enter(Phase.BUSY, self.guard.limits.answer_timeout_seconds)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request may already be in its head or body: leave it there, and its reservation.
        if self.guard.phase(self) is Phase.BUSY and (self.cycle is None or self.cycle.response_complete):
            self.guard.give_back(self)
            self._cancel_timer()  # uvicorn's keep-alive timer takes over
            self.guard.move(self, Phase.IDLE)

    # -- limits --------------------------------------------------------------------------------------

    def _start_head(self) -> None:
        self.head_bytes = 0
        self._enter(Phase.HEAD, self.guard.limits.header_timeout_seconds)

    def _enter(self, phase: Phase, timeout: float) -> None:
        if self.guard.phase(self) is None:
            return  # already counted out: ending
        self.guard.move(self, phase)
        self._cancel_timer()
        self._timer = self.loop.call_later(timeout, self._time_out)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _time_out(self) -> None:
        self._timer = None
        phase = self.guard.phase(self)
        if phase is Phase.HEAD:
            self._end(408, "request headers not received in time")
        elif phase is Phase.BODY:
            self._end(408, "request body not received in time")
        elif phase is Phase.BUSY:
            self._end(None, "")

    def evict(self) -> None:
        """Make room for a newer connection (called by the guard)."""
        if self.guard.phase(self) is Phase.IDLE:
            self._end(None, "")
        else:
            self._end(408, "request not received in time: the server needed this connection")

    def _end(self, status: int | None, message: str) -> None:
        """Say why (unless an answer has started) and drop the connection."""
        self._cancel_timer()
        self.guard.forget(self)
        if self.transport.is_closing():
            return
        answering = (
            self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete
        )
        if status is not None and not answering:
            self.transport.write(_plain_response(status, message))
        # Abort, not close: a TLS close waits for the peer's close_notify, and a hostile peer never
        # sends it, keeping the connection's buffers alive. The answer written is in the kernel already
        # when the socket had room for it (it nearly always has: the peer is the one too slow).
        self.transport.abort()


def _body_size(headers: list[tuple[bytes, bytes]], *, limit: int) -> int:
    """The body bytes a request will make the server buffer: 0 for none, or for one the app refuses unread."""
    size = 0
    for name, value in headers:
        if name in _BODY_SIZE_HEADERS:
            if name == b"transfer-encoding":
                return limit  # chunked: the app reads up to the limit
            if not value.isdigit() or int(value) > limit:
                return 0  # the app answers 400 or 413 without reading it
            size = int(value)
    return size


_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}


def _plain_response(status: int, message: str) -> bytes:
    body = message.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "content-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(limits: HttpLimits, *, max_body: int) -> type[GuardedProtocol]:
    """The protocol class for one worker: its connections share one :class:`ConnectionGuard`.

    ``max_body`` is the largest body the app reads (a chunked body reserves that much).
    """

    class WorkerProtocol(GuardedProtocol):
        guard = ConnectionGuard(limits, max_body=max_body)

    return WorkerProtocol


# -- TLS handshakes -----------------------------------------------------------------------------------
# A connection reaches the protocol above only once its TLS handshake is done; until then it is the
# event loop's, which gives a handshake 60 s. The loops made here give it the header timeout instead,
# so that connections that never finish their handshake hold their buffers as briefly as slow headers.

_handshake_seconds = 10.0  # set by handshake_bounded_loops() before the server starts


def handshake_bounded_loops(seconds: float) -> str:
    """uvicorn's ``loop`` setting for loops that end a TLS handshake not done within ``seconds``.

    A loop factory takes no argument, so the bound is kept here, one value per worker process.
    """
    global _handshake_seconds
    _handshake_seconds = seconds
    return f"{__name__}:handshake_bounded_loop"


def handshake_bounded_loop() -> asyncio.AbstractEventLoop:
    """A new event loop (uvloop's where installed, as uvicorn would pick) bounding TLS handshakes."""
    return _bounded_loop_class()()


@functools.cache
def _bounded_loop_class() -> type[asyncio.AbstractEventLoop]:
    base: type[Any]
    try:
        import uvloop

        base = uvloop.Loop
    except ImportError:  # uvicorn then runs on asyncio's own loop too
        base = asyncio.SelectorEventLoop

    class HandshakeBoundedLoop(base):  # type: ignore[misc]
        async def create_server(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("ssl_handshake_timeout", _handshake_seconds)
            return await super().create_server(*args, **kwargs)

    return HandshakeBoundedLoop
