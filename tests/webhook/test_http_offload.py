"""No review holds the event loop: a large one is computed on a thread, small ones inline, never two at once.

The app is called through ASGI directly, with a review function that blocks until the test lets it
go: a stand-in for a slow review, since no real review can be made to wait for a signal. A review
computed on the loop would hold it, and ``/healthz`` could not be answered before it ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tasksecrets.contract import ANNOTATION_PREFIX
from tasksecrets.webhook.http import INLINE_REVIEW_BYTES, INLINE_REVIEW_REQUESTS, ReviewAnswer, WebhookApp
from tasksecrets.webhook.metrics import WebhookMetrics

MUTATE = "/mutate--v1-pod"
LARGE = b'{"pad": "' + b" " * INLINE_REVIEW_BYTES + b'"}'
SMALL = b"{}"
# A small body naming many requests: at the cap, the file managers take tens of ms on it.
MANY = json.dumps({f"{ANNOTATION_PREFIX}{i}": "x" for i in range(INLINE_REVIEW_REQUESTS + 1)}).encode()
FEW = json.dumps({f"{ANNOTATION_PREFIX}{i}": "x" for i in range(INLINE_REVIEW_REQUESTS)}).encode()


async def call(app: WebhookApp, method: str, path: str, body: bytes = b"") -> int:
    """One request through the ASGI interface; its status."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "headers": headers}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


class SlowReview:
    """A review that waits for ``release`` (at most 5 s), noting the thread it ran on and the overlap."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._count = threading.Lock()

    def __call__(self, body: bytes) -> ReviewAnswer:
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.threads.append(threading.current_thread().name)
        self.started.set()
        if len(body) > INLINE_REVIEW_BYTES:
            self.release.wait(5)
        with self._count:
            self.running -= 1
        return ReviewAnswer(200, {"response": {"uid": "u", "allowed": True}})


def make_app(review: SlowReview) -> WebhookApp:
    return WebhookApp(review=review, metrics=WebhookMetrics(CollectorRegistry()))


async def start_large(app: WebhookApp, review: SlowReview) -> asyncio.Task[int]:
    """A large review sent, and started (on a thread, or on the loop if the app holds it)."""
    large = asyncio.create_task(call(app, "POST", MUTATE, LARGE))
    assert await asyncio.get_running_loop().run_in_executor(None, review.started.wait, 10)
    return large


@pytest.mark.asyncio
async def test_healthz_answers_while_a_large_review_is_computed() -> None:
    review = SlowReview()
    app = make_app(review)
    large = await start_large(app, review)
    assert await call(app, "GET", "/healthz") == 200
    assert await call(app, "GET", "/readyz") == 503  # answered too (not ready: no registration here)
    assert not large.done()  # the large review was still being computed
    review.release.set()
    assert await large == 200
    assert review.threads[0].startswith("review")


@pytest.mark.asyncio
async def test_small_reviews_are_computed_inline() -> None:
    review = SlowReview()
    app = make_app(review)
    assert await call(app, "POST", MUTATE, SMALL) == 200
    assert review.threads == [threading.current_thread().name]


@pytest.mark.asyncio
async def test_a_small_review_of_many_requests_goes_to_the_thread() -> None:
    review = SlowReview()
    app = make_app(review)
    assert len(MANY) < INLINE_REVIEW_BYTES
    assert await call(app, "POST", MUTATE, FEW) == 200
    assert await call(app, "POST", MUTATE, MANY) == 200
    assert review.threads[0] == threading.current_thread().name
    assert review.threads[1].startswith("review")


@pytest.mark.asyncio
async def test_reviews_never_run_two_at_once() -> None:
    review = SlowReview()
    app = make_app(review)
    large = await start_large(app, review)
    # The lock is taken: the small review goes to the thread and waits there, the loop does not.
    small = asyncio.create_task(call(app, "POST", MUTATE, SMALL))
    await asyncio.sleep(0)  # one step of the loop: the small review runs up to its wait for the thread
    assert await call(app, "GET", "/healthz") == 200
    assert not small.done()
    review.release.set()
    assert await large == 200 and await small == 200
    assert review.most_at_once == 1
    assert all(name.startswith("review") for name in review.threads)
