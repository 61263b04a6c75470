"""The webhook as a service: config in, a served :class:`~tasksecrets.webhook.http.WebhookApp` out.

This is where transport, certificates, registration and the admission logic meet: it loads the
serving certificate from ``certDir`` (watched for changes), builds the review function once, and
registers the MutatingWebhookConfiguration in the background, retrying until the API answers;
``/readyz`` turns ready when that is done. When the CA file changes (a new CA from ``init-certs``),
it registers again so the ``caBundle`` follows.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
from pathlib import Path
from typing import Any

from cryptography import x509

from tasksecrets.admission.config import Config
from tasksecrets.contract import MUTATE_PATH
from tasksecrets.errors import ConfigError, KubernetesApiError
from tasksecrets.managers.global_.policy import POLICY_SETTING
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.webhook.certificates.authority import CA_CERT_FILE
from tasksecrets.webhook.certificates.reload import CertReloader
from tasksecrets.webhook.http import ReviewAnswer, ReviewFunc, WebhookApp, bind_listener, run_server
from tasksecrets.webhook.metrics import WebhookMetrics

__all__ = ["build_baseline_review", "build_review", "pod_namespace", "serve_webhook"]

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "flyte"


def pod_namespace() -> str:
    """The namespace the webhook runs in (its Service's): ``POD_NAMESPACE``, default ``flyte``."""
    return os.environ.get("POD_NAMESPACE") or DEFAULT_NAMESPACE


def build_review(config: Config) -> ReviewFunc:
    """The admission review function the server calls for each request body.

    The injector chain is built once; Global reads this process's environment and ``secrets-prefix``.
    """
    from tasksecrets.admission.mutator import Mutator
    from tasksecrets.admission.reviews import review

    source = GlobalSecretSource.from_settings(config.secrets)
    if source.secrets_dir is not None and not source.secrets_dir.is_dir():
        # Volumes are mounted before a container starts: a directory missing now stays missing, and
        # looking for a file in it for every secret of every pod costs about a third of a review.
        logger.info("Global: %s does not exist; values come from env vars only", source.secrets_dir)
        source = GlobalSecretSource(
            environ=os.environ, secrets_dir=None, env_prefix=config.secrets.env_prefix
        )
    _warn_unless_policy(config, source)
    mutator = Mutator(config, global_secrets=source)

    def answer(body: bytes) -> ReviewAnswer:
        outcome = review(body, mutator)
        return ReviewAnswer(outcome.status, outcome.body, outcome.managers)

    return answer


def _warn_unless_policy(config: Config, source: GlobalSecretSource) -> None:
    # Once per process, at start-up: Flyte's behaviour is kept, but it is worth knowing about.
    if config.secrets.access_policy is None and not source.holds_nothing:
        logger.warning(
            "Global: the webhook holds secrets (env %s*%s) and %s is not set, so every pod in every "
            "namespace the webhook serves may receive every one of them, as in Flyte; set %s to say "
            "which namespaces may receive which groups",
            config.secrets.env_prefix,
            f", dir {source.secrets_dir}" if source.secrets_dir is not None else "",
            POLICY_SETTING,
            POLICY_SETTING,
        )


def build_baseline_review() -> ReviewFunc:
    """For benchmarks only: decode the review, echo its uid, admit. The least any webhook must do.

    It parses the body exactly as the real review does (orjson when installed), so the comparison
    measures the admission work and nothing else.
    """
    from tasksecrets.admission.jsoncodec import parse_body

    def review(body: bytes) -> ReviewAnswer:
        try:
            data = parse_body(body)
            request = data["request"]
            answer = {"uid": request["uid"], "allowed": True}
            return ReviewAnswer(
                200, {"apiVersion": data["apiVersion"], "kind": "AdmissionReview", "response": answer}
            )
        except (ValueError, KeyError, TypeError):
            return ReviewAnswer(400, {"error": "not an AdmissionReview"})

    return review


def _cert_expiry(cert: bytes) -> float:
    return x509.load_pem_x509_certificate(cert).not_valid_after_utc.timestamp()


def _registration_job(config: Config, *, cert_dir: Path, ca_changed: asyncio.Event) -> Any:
    from tasksecrets.webhook.kube import KubeClient
    from tasksecrets.webhook.registration import build_webhook_configuration, register_webhook

    async def job(app: WebhookApp) -> None:
        registered: bytes | None = None
        delay = 1.0
        while True:
            try:
                ca_bundle = (cert_dir / CA_CERT_FILE).read_bytes()
                if ca_bundle != registered:
                    desired = build_webhook_configuration(
                        name=config.webhook.service_name,
                        namespace=pod_namespace(),
                        service_port=config.webhook.service_port,
                        ca_bundle=ca_bundle,
                        namespace_selector=config.webhook.namespace_selector,
                        timeout_seconds=config.webhook.timeout_seconds,
                        url=config.webhook.url,
                    )
                    async with KubeClient.from_environment() as client:
                        result = await register_webhook(client, desired)
                    logger.info("MutatingWebhookConfiguration %s: %s", config.webhook.service_name, result)
                    registered = ca_bundle
                app.ready = True
                delay = 1.0
                ca_changed.clear()
                await ca_changed.wait()
            except (KubernetesApiError, ConfigError, OSError) as exc:
                logger.warning("registration failed, retrying in %.0f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    return job


def serve_webhook(
    config: Config,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    listen_fd: int | None = None,
    baseline: bool = False,
) -> int:
    """Serve until SIGTERM in this process; return the exit status."""
    import socket

    cert_dir = Path(config.webhook.cert_dir)
    metrics = WebhookMetrics()
    ca_changed = asyncio.Event()

    def on_reload(cert: bytes) -> None:
        metrics.cert_reloads.labels("success").inc()
        metrics.cert_expiry.set(_cert_expiry(cert))
        ca_changed.set()

    reloader = CertReloader(
        cert_dir, on_reload=on_reload, on_failure=lambda: metrics.cert_reloads.labels("failure").inc()
    )
    review = build_baseline_review() if baseline else build_review(config)
    app = WebhookApp(review=review, metrics=metrics)

    async def watch(app: WebhookApp) -> None:
        await reloader.watch()

    app.jobs.append(watch)
    if config.webhook.disable_create_mutating_webhook_config:
        app.ready = True
    else:
        app.jobs.append(_registration_job(config, cert_dir=cert_dir, ca_changed=ca_changed))
    if listen_fd is not None:
        sock = socket.socket(fileno=listen_fd)
    else:
        sock = bind_listener(host, config.webhook.listen_port if port is None else port)
    logger.info(
        "serving https://%s:%d%s (certificate serial %x, expires %s)",
        host,
        sock.getsockname()[1],
        MUTATE_PATH,
        reloader.serial or 0,
        datetime.datetime.fromtimestamp(_cert_expiry(reloader.cert_file.read_bytes()), datetime.timezone.utc),
    )
    return run_server(app, ssl_context=reloader.context, sock=sock, limits=config.webhook.http)
