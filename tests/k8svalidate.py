"""Strict, offline validation of the Kubernetes manifests tests produce (pods, patches' results, Secrets).

Every manifest a test emits goes through :func:`assert_valid_manifest`, against the newest Kubernetes
version kubernetes-validate ships, in strict mode (unknown fields are errors).
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import latest_version

__all__ = ["KUBERNETES_VERSION", "assert_valid_manifest"]

KUBERNETES_VERSION: str = latest_version()


def assert_valid_manifest(obj: dict[str, Any]) -> None:
    """Fail the test with a short message if ``obj`` is not a valid manifest of its kind."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(part) for part in exc.path)
        raise AssertionError(
            f"invalid {obj.get('kind')} manifest for Kubernetes {KUBERNETES_VERSION} "
            f"at /{path}: {exc.message}"
        ) from None
