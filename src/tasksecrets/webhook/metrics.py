"""Prometheus metrics of the webhook server, served on ``/metrics``.

With one worker process the metrics live in that process. With several (``workers: N``), the
supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at a private directory before it starts them; every
worker then writes its samples there and ``/metrics``, whichever worker answers, adds them all up.

Names (``outcome`` is ``admitted``, ``denied``, ``bad_request`` or ``error``):

- ``tasksecrets_webhook_requests_total{outcome}``: admission requests answered
- ``tasksecrets_webhook_request_duration_seconds{outcome}``: their latency, body read to answer sent
- ``tasksecrets_webhook_injections_total{manager}``: secrets injected, by the manager that did it
- ``tasksecrets_webhook_denials_total{code}``: pods denied, by the answer's code
  (400: the pod or an annotation is unreadable; 403: a secret cannot be injected)
- ``tasksecrets_webhook_cert_reloads_total{result}``: serving certificate reloads (``success``/``failure``)
- ``tasksecrets_webhook_serving_cert_expiry_timestamp_seconds``: when the certificate served now expires
  (the earliest over workers): alert when it comes within a few days, rotation has stopped working
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess

__all__ = ["OUTCOMES", "WebhookMetrics"]

OUTCOMES = ("admitted", "denied", "bad_request", "error")
# An admission call must answer within timeoutSeconds (at most 30 s); most take well under 10 ms.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebhookMetrics:
    """The server's metrics; one instance per process. ``registry`` None means a private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "tasksecrets_webhook_requests",
            "Admission requests answered, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tasksecrets_webhook_request_duration_seconds",
            "Time from the first byte of the body to the answer, by outcome.",
            ["outcome"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.injections = Counter(
            "tasksecrets_webhook_injections",
            "Secrets injected into pods, by the manager that injected them.",
            ["manager"],
            registry=self.registry,
        )
        self.denials = Counter(
            "tasksecrets_webhook_denials",
            "Pods denied, by the status code of the answer.",
            ["code"],
            registry=self.registry,
        )
        self.cert_reloads = Counter(
            "tasksecrets_webhook_cert_reloads",
            "Serving certificate reloads, by result.",
            ["result"],
            registry=self.registry,
        )
        self.cert_expiry = Gauge(
            "tasksecrets_webhook_serving_cert_expiry_timestamp_seconds",
            "Unix time at which the serving certificate in use expires.",
            registry=self.registry,
            multiprocess_mode="min",
        )
        # Bind the label children once: .labels() per request would cost a dict lookup and a lock.
        self._requests = {outcome: self.requests.labels(outcome) for outcome in OUTCOMES}
        self._latency = {outcome: self.latency.labels(outcome) for outcome in OUTCOMES}
        self._injections: dict[str, Any] = {}

    def observe_request(self, outcome: str, seconds: float) -> None:
        self._requests[outcome].inc()
        self._latency[outcome].observe(seconds)

    def observe_injection(self, manager: str, count: int = 1) -> None:
        child = self._injections.get(manager)
        if child is None:  # a handful of managers at most: keep their children
            child = self._injections[manager] = self.injections.labels(manager)
        child.inc(count)

    def observe_injections(self, managers: Sequence[str]) -> None:
        """One pod's injections, the manager of each: counted with one increment per manager."""
        if not managers:
            return
        first = managers[0]
        if managers.count(first) == len(managers):  # the common case: one manager did them all
            self.observe_injection(first, len(managers))
            return
        for manager in dict.fromkeys(managers):
            self.observe_injection(manager, managers.count(manager))

    def observe_denial(self, code: int) -> None:
        self.denials.labels(str(code)).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type; in multiprocess mode, summed over workers."""
        if self.multiprocess:
            registry = CollectorRegistry()
            prom_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
