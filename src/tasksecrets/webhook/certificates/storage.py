"""Where the webhook's certificates live: the Kubernetes Secret ``secretName`` and/or files in ``certDir``.

``init-certs`` and ``rotate-certs`` both come down to: read what is stored, let
:func:`~tasksecrets.webhook.certificates.authority.plan_certs` decide, write back only when something
changed. The
Secret is written with its ``resourceVersion``, so two replicas (or a Job and a CronJob) racing each
other cannot overwrite one another: the loser reads again and, finding good certificates, reuses them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tasksecrets.errors import KubernetesApiError, ManifestError
from tasksecrets.webhook.certificates.authority import (
    CertAction,
    CertBundle,
    CertPolicy,
    plan_certs,
    read_cert_files,
    write_cert_files,
)
from tasksecrets.webhook.kube import KubeClient

__all__ = ["CertResult", "build_cert_secret", "sync_local_certs", "sync_secret_certs"]

logger = logging.getLogger(__name__)

CertResult = tuple[CertBundle, CertAction, "str | None"]
_ATTEMPTS = 5
_LABELS = {"app.kubernetes.io/name": "tasksecrets-webhook", "app.kubernetes.io/managed-by": "tasksecrets"}


def build_cert_secret(
    bundle: CertBundle, *, name: str, namespace: str, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The Secret object holding the bundle; for a replacement, the existing object's identity is kept."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(_LABELS)}
    secret_type = "Opaque"
    if existing is not None:
        old_meta = existing.get("metadata") or {}
        metadata["labels"] = {**(old_meta.get("labels") or {}), **_LABELS}
        if old_meta.get("annotations"):
            metadata["annotations"] = old_meta["annotations"]
        metadata["resourceVersion"] = old_meta.get("resourceVersion")
        # The type of a Secret cannot change; keep whatever another tool created it with.
        secret_type = existing.get("type") or "Opaque"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": secret_type,
        "data": bundle.to_secret_data(),
    }


async def sync_secret_certs(
    client: KubeClient, *, secret_name: str, namespace: str, policy: CertPolicy
) -> CertResult:
    """Make the Secret hold good certificates and return them, with what was done and why."""
    for _ in range(_ATTEMPTS):
        existing = await client.get_secret(secret_name, namespace=namespace)
        stored = None
        if existing is not None:
            try:
                stored = CertBundle.from_secret_data(existing.get("data") or {}, secret_name=secret_name)
            except ManifestError as exc:
                if not policy.allow_new_ca:
                    raise
                logger.warning("%s; creating new certificates", exc)
        bundle, action, reason = plan_certs(stored, policy)
        if stored is None and existing is not None:
            action = "replaced"
        if action == "reused":
            return bundle, action, reason
        body = build_cert_secret(bundle, name=secret_name, namespace=namespace, existing=existing)
        try:
            if existing is None:
                await client.create_secret(body, namespace=namespace)
            else:
                await client.replace_secret(body, namespace=namespace)
        except KubernetesApiError as exc:
            if exc.status == 409:  # someone else wrote it first: look again
                continue
            raise
        return bundle, action, reason
    raise KubernetesApiError(
        f"Secret {namespace}/{secret_name} kept changing under us ({_ATTEMPTS} conflicts); try again",
        status=409,
    )


def sync_local_certs(cert_dir: Path, *, policy: CertPolicy) -> CertResult:
    """The same as :func:`sync_secret_certs` for files in ``cert_dir`` (``ca.key`` included)."""
    bundle, action, reason = plan_certs(read_cert_files(cert_dir), policy)
    if action != "reused":
        write_cert_files(cert_dir, bundle, include_ca_key=True)
    return bundle, action, reason
