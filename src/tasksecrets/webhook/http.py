"""The HTTPS transport of the webhook: a plain ASGI app served by uvicorn. No admission logic here.

Routes: ``POST /mutate--v1-pod`` (the body goes to a review function, see
:mod:`tasksecrets.admission.reviews`), ``GET /healthz`` (the process answers), ``GET /readyz`` (the
certificate is loaded and registration is done), ``GET /metrics`` (Prometheus).

What belongs to the transport: the content type must be ``application/json`` (else 400); a body over
7 MiB is refused with 413 as soon as its length is known, without reading the rest; an exception
anywhere answers 500 with a generic message and is logged by type and stack, never with its message
(it could quote a pod). Bad JSON and bad reviews are the review function's to answer (400 or a denial).

No review holds the event loop: a body over :data:`INLINE_REVIEW_BYTES`, or naming more than
:data:`INLINE_REVIEW_REQUESTS` secret requests, is reviewed on a thread, so
``/healthz``, ``/readyz`` and other reviews are answered meanwhile (the interpreter switches threads
every few milliseconds). Small reviews are computed inline, since the hop to a thread and back costs
more than they do. Reviews never run two at a time: one lock serializes them (the admission core
keeps memos that are not thread-safe, and threads would not compute them faster), and the loop only
tries it, so it never waits for the thread; a small review that finds it taken goes to the thread too.
The limits each connection is held to are :mod:`tasksecrets.webhook.guard`'s.

:func:`run_server` serves one process; :func:`run_workers` supervises several that share one listening
socket, each with its own event loop, TLS context and certificate watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from tasksecrets.admission.httplimits import HttpLimits
from tasksecrets.admission.jsoncodec import encode_json
from tasksecrets.contract import ANNOTATION_PREFIX, MUTATE_PATH
from tasksecrets.sdk.masking import SECURE

__all__ = [
    "INLINE_REVIEW_BYTES",
    "MAX_BODY_BYTES",
    "ReviewAnswer",
    "ReviewFunc",
    "WebhookApp",
    "bind_listener",
    "run_server",
    "run_workers",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 7 * 1024 * 1024  # Flyte's limit, and more than any pod the API server accepts
# A review of this size takes a few hundred µs; the hop to a thread and back costs about 45 µs.
INLINE_REVIEW_BYTES = 64 * 1024
# A pod of more requests costs milliseconds with the file managers (tens at the cap) in a small body.
INLINE_REVIEW_REQUESTS = 16
_REQUEST_KEY = f'"{ANNOTATION_PREFIX}'.encode()
RECEIVE_BUFFER_BYTES = 32 * 1024  # the kernel doubles it


@dataclass(frozen=True)
class ReviewAnswer:
    """What a review function returns: the HTTP status, the JSON body, and what to count."""

    status: int
    body: dict[str, Any]
    injections: Sequence[str] = ()  # the manager name of each secret injected

    def __repr__(self) -> str:
        # The body's patch (base64) may carry values Global injected.
        return f"ReviewAnswer(status={self.status}, body={SECURE}, injections={list(self.injections)!r})"


ReviewFunc = Callable[[bytes], ReviewAnswer]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
BackgroundJob = Callable[["WebhookApp"], Coroutine[Any, Any, None]]

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"


def _error_body(message: str) -> bytes:
    return encode_json({"error": message})


@dataclass
class WebhookApp:
    """The ASGI app. ``jobs`` run in the background from start-up to shutdown (watcher, registration)."""

    review: ReviewFunc
    metrics: Any  # WebhookMetrics; Any keeps prometheus_client out of this module's import
    jobs: list[BackgroundJob] = field(default_factory=list)
    ready: bool = False
    max_body: int = MAX_BODY_BYTES
    inline_review_bytes: int = INLINE_REVIEW_BYTES
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _review_lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="review")
    )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                await self._route(scope, receive, send)
            except Exception as exc:  # never crash on input: answer 500, log no message text
                self._log_internal_error(exc)
                with contextlib.suppress(Exception):
                    await _respond(send, 500, _error_body("internal error"), close=True)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == MUTATE_PATH:
            if method != "POST":
                await _respond(send, 405, _error_body("use POST"), headers=[(b"allow", b"POST")])
                return
            await self._mutate(scope, receive, send)
            return
        if path not in ("/healthz", "/readyz", "/metrics"):
            await _respond(send, 404, _error_body(f"no route {path}; the webhook serves POST {MUTATE_PATH}"))
            return
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, _error_body("use GET"), headers=[(b"allow", b"GET, HEAD")])
            return
        if path == "/healthz":
            await _respond(send, 200, b"ok\n", content_type=_TEXT)
        elif path == "/readyz":
            ready = self.ready
            await _respond(
                send, 200 if ready else 503, b"ready\n" if ready else b"not ready\n", content_type=_TEXT
            )
        else:
            text, content_type = self.metrics.render()
            await _respond(send, 200, text, content_type=content_type.encode())

    async def _mutate(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        content_type = length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
        if content_type is None or content_type.split(b";", 1)[0].strip().lower() != _JSON:
            await _respond(send, 400, _error_body("the content type must be application/json"), close=True)
            self.metrics.observe_request("bad_request", time.perf_counter() - started)
            return
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            too_big = length.isdigit()
            status, message = (413, "body over 7 MiB") if too_big else (400, "bad content-length")
            await _respond(send, status, _error_body(message), close=True)
            self.metrics.observe_request("bad_request", time.perf_counter() - started)
            return
        try:
            body = await _read_body(receive, limit=self.max_body)
        except _ClientGone:
            return  # the client left, or a limit ended the connection: nobody to answer
        if body is None:
            await _respond(send, 413, _error_body("body over 7 MiB"), close=True)
            self.metrics.observe_request("bad_request", time.perf_counter() - started)
            return
        answer = await self._answer(body)
        await _respond(send, answer.status, encode_json(answer.body))
        self._count(answer, time.perf_counter() - started)

    async def _answer(self, body: bytes) -> ReviewAnswer:
        if (
            len(body) <= self.inline_review_bytes
            and body.count(_REQUEST_KEY) <= INLINE_REVIEW_REQUESTS  # about 1 µs for a pod's body
            and self._review_lock.acquire(blocking=False)
        ):
            try:
                return self.review(body)
            finally:
                self._review_lock.release()
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._review_serially, body)

    def _review_serially(self, body: bytes) -> ReviewAnswer:
        with self._review_lock:
            return self.review(body)

    def _count(self, answer: ReviewAnswer, seconds: float) -> None:
        if answer.status >= 500:
            outcome = "error"
        elif answer.status >= 400:
            outcome = "bad_request"
        else:
            response = answer.body.get("response") or {}
            if response.get("allowed"):
                outcome = "admitted"
            else:
                outcome = "denied"
                status = response.get("status") or {}
                code = status.get("code", 403)
                self.metrics.observe_denial(code)
                # The message names secrets and reasons, never values; uid ties it to the API server's log.
                logger.info("denied %s (%s): %s", response.get("uid", "?"), code, status.get("message", ""))
        self.metrics.observe_injections(answer.injections)
        self.metrics.observe_request(outcome, seconds)

    def _log_internal_error(self, exc: BaseException) -> None:
        # The stack, not the message: a message may quote the request. A 500 is counted as "error".
        stack = "".join(traceback.format_tb(exc.__traceback__))
        logger.error("internal error %s while answering a request:\n%s", type(exc).__name__, stack)
        with contextlib.suppress(Exception):
            self.metrics.observe_request("error", 0.0)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._tasks = [asyncio.create_task(job(self)) for job in self.jobs]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return


class _ClientGone(Exception):
    """The connection ended before the body did."""


async def _read_body(receive: Receive, *, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = _JSON,
    headers: Sequence[tuple[bytes, bytes]] = (),
    close: bool = False,
) -> None:
    all_headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers]
    if close:  # the client may still be sending a body we will not read: end the connection after this
        all_headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


# -- processes -------------------------------------------------------------------------------------


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound once (by the supervisor when there are several workers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: each read from a connection is then a few tens of KiB, which is
    # what a connection paused by a limit holds in the TLS layer (256 KiB by default), for a few ms more
    # on a body of megabytes (docs/webhook.md, "Limits").
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _exit_zero(signum: int, frame: FrameType | None) -> None:
    # uvicorn drains connections on SIGTERM, then raises the signal again with the handler it found
    # installed: this one, so a clean shutdown ends with status 0 instead of death by signal.
    raise SystemExit(0)


def run_server(
    app: WebhookApp,
    *,
    ssl_context: Any,
    sock: socket.socket,
    limits: HttpLimits,
    graceful_seconds: int = 20,
) -> int:
    """Serve ``app`` over TLS on ``sock`` until SIGTERM or SIGINT; return the exit status."""
    import uvicorn

    from tasksecrets.webhook.guard import guarded_protocol, handshake_bounded_loops

    def ssl_factory(config: uvicorn.Config, default: Callable[[], Any]) -> Any:
        return ssl_context

    config = uvicorn.Config(
        app,
        ssl_context_factory=ssl_factory,
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=graceful_seconds,
        http=guarded_protocol(limits, max_body=app.max_body),
        loop=handshake_bounded_loops(limits.header_timeout_seconds),
        ws="none",
        # The API server keeps connections to webhooks open; let it reuse them.
        timeout_keep_alive=limits.keep_alive_seconds,
    )
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, _exit_zero)
    signal.signal(signal.SIGINT, _exit_zero)
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0 if server.started else 1


def run_workers(count: int, *, child_argv: Callable[[int], list[str]], sock: socket.socket) -> int:
    """Run ``count`` worker processes on the shared ``sock``; restart one that dies; stop on SIGTERM.

    ``child_argv(fd)`` is the command of one worker serving the inherited descriptor ``fd``.
    """
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="tasksecrets-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    fd = sock.fileno()

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(child_argv(fd), pass_fds=(fd,))

    children = [start() for _ in range(count)]
    logger.info("started %d workers: %s", count, ", ".join(str(c.pid) for c in children))
    try:
        while not stopping:
            time.sleep(0.2)
            for index, child in enumerate(children):
                if child.poll() is not None and not stopping:
                    logger.error("worker %d exited with %s; starting another", child.pid, child.returncode)
                    _forget_worker(child.pid)
                    time.sleep(1.0)  # a worker that dies at start-up must not spin the CPU
                    children[index] = start()
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        statuses = []
        for child in children:
            try:
                statuses.append(child.wait(timeout=60))
            except subprocess.TimeoutExpired:
                child.kill()
                statuses.append(child.wait())
        sock.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0 if all(status == 0 for status in statuses) else 1


def _forget_worker(pid: int) -> None:
    with contextlib.suppress(Exception):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def python_argv() -> list[str]:
    """How to start this package's CLI again in a child process."""
    return [sys.executable, "-m", "tasksecrets"]
