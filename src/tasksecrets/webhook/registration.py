"""Registration: the MutatingWebhookConfiguration that sends pod creations to us (docs/compat.md section 5).

:func:`build_webhook_configuration` is pure; :func:`register_webhook` creates the object, or replaces
it keeping its ``resourceVersion`` (so a concurrent writer makes us read again instead of being
overwritten), and leaves it alone when it already says what we would write. Every replica registers at
start-up; with identical input they all agree, so at most one write happens.

Fields Kubernetes would default (``matchPolicy``, ``reinvocationPolicy``, the rule's ``scope``, an empty
``namespaceSelector``) are written out so that the stored object compares equal to the one we build.
"""

from __future__ import annotations

import base64
import logging
from typing import Any, Literal

from tasksecrets.contract import INJECT_LABEL, INJECT_LABEL_VALUE, MUTATE_PATH, WEBHOOK_NAME
from tasksecrets.errors import KubernetesApiError
from tasksecrets.webhook.kube import KubeClient

__all__ = ["build_webhook_configuration", "register_webhook"]

logger = logging.getLogger(__name__)

_ATTEMPTS = 5


def build_webhook_configuration(
    *,
    name: str,
    namespace: str,
    service_port: int,
    ca_bundle: bytes,
    namespace_selector: dict[str, Any] | None,
    timeout_seconds: int,
    url: str | None = None,
) -> dict[str, Any]:
    """The MutatingWebhookConfiguration object; ``name`` is also the Service's name.

    With ``url`` (``webhook.url``) the API server calls that URL instead of the Service.
    """
    target: dict[str, Any] = (
        {"url": url}
        if url is not None
        else {"service": {"name": name, "namespace": namespace, "path": MUTATE_PATH, "port": service_port}}
    )
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {**target, "caBundle": base64.b64encode(ca_bundle).decode("ascii")},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                        "scope": "*",
                    }
                ],
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "sideEffects": "NoneOnDryRun",
                "admissionReviewVersions": ["v1", "v1beta1"],
                "objectSelector": {"matchLabels": {INJECT_LABEL: INJECT_LABEL_VALUE}},
                "namespaceSelector": dict(namespace_selector or {}),
                "reinvocationPolicy": "Never",
                "timeoutSeconds": timeout_seconds,
            }
        ],
    }


def _same_webhooks(existing: dict[str, Any], desired: dict[str, Any]) -> bool:
    have, want = existing.get("webhooks") or [], desired["webhooks"]
    if len(have) != len(want):
        return False
    # Only the keys we set: the API server may add fields of its own in later versions.
    return all(all(h.get(key) == value for key, value in w.items()) for h, w in zip(have, want, strict=True))


async def register_webhook(
    client: KubeClient, desired: dict[str, Any]
) -> Literal["created", "updated", "unchanged"]:
    """Create or update the configuration so that it equals ``desired``; say which happened."""
    name = desired["metadata"]["name"]
    for _ in range(_ATTEMPTS):
        existing = await client.get_mutating_webhook_configuration(name)
        try:
            if existing is None:
                await client.create_mutating_webhook_configuration(desired)
                logger.info("created MutatingWebhookConfiguration %s", name)
                return "created"
            if _same_webhooks(existing, desired):
                return "unchanged"
            old_meta = existing.get("metadata") or {}
            metadata = {**desired["metadata"], "resourceVersion": old_meta.get("resourceVersion")}
            for keep in ("labels", "annotations"):
                if old_meta.get(keep):
                    metadata[keep] = old_meta[keep]
            await client.replace_mutating_webhook_configuration({**desired, "metadata": metadata})
            logger.info("updated MutatingWebhookConfiguration %s", name)
            return "updated"
        except KubernetesApiError as exc:
            if exc.status == 409:  # created or changed meanwhile by another replica: look again
                continue
            raise
    raise KubernetesApiError(
        f"MutatingWebhookConfiguration {name} kept changing under us ({_ATTEMPTS} conflicts)", status=409
    )
