"""Helpers for the Flyte-vector tests: Flyte's test pods as manifests, and a checked mutation.

Flyte's injector tests start from bare ``corev1.Pod`` values (one container ``container1``, or
none); here they become complete manifests (apiVersion, kind, metadata with the request
annotations, an image per container) so every result can be validated with kubernetes-validate.
Every mutation goes through the webhook's pure path (:func:`mutate_pod`): the patch must apply to
the input and give exactly the returned pod, and that pod must validate in strict mode.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch

from k8svalidate import assert_api_server_accepts, assert_valid_manifest
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import MutationResult, mutate_pod
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import encode_pod_metadata

__all__ = [
    "DEFAULT_DIR_ENV",
    "ENV_PREFIX_ENV",
    "FILE_PREFIX_ENV",
    "SIDECAR_RESOURCES",
    "flyte_pod",
    "mutate_flyte_pod",
]

IMAGE = "python:3.11-slim"
DEFAULT_DIR_ENV = {"name": "FLYTE_SECRETS_DEFAULT_DIR", "value": "/etc/flyte/secrets"}
# Go's EnvVar has ``value`` omitempty, so Flyte's JSON has no "value" here, and neither has ours.
FILE_PREFIX_ENV = {"name": "FLYTE_SECRETS_FILE_PREFIX"}
ENV_PREFIX_ENV = {"name": "FLYTE_SECRETS_ENV_PREFIX", "value": "_FSEC_"}
# Flyte's DefaultConfig resources of every sidecar manager: 200m / 500Mi, requests = limits.
SIDECAR_RESOURCES = {
    "limits": {"cpu": "200m", "memory": "500Mi"},
    "requests": {"cpu": "200m", "memory": "500Mi"},
}


def flyte_pod(
    secrets: list[Secret],
    *,
    containers: list[dict[str, Any]] | None = None,
    annotations: Mapping[str, str] | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A pod requesting ``secrets``; by default one container ``container1``, as in Flyte's tests."""
    labels, request_annotations = encode_pod_metadata(secrets)
    spec: dict[str, Any] = {
        "containers": copy.deepcopy(containers)
        if containers is not None
        else [{"name": "container1", "image": IMAGE}]
    }
    if volumes is not None:
        spec["volumes"] = copy.deepcopy(volumes)
    all_annotations = {**(annotations or {}), **request_annotations}
    metadata: dict[str, Any] = {"name": "task-pod", "namespace": "flytesnacks-development", "labels": labels}
    if all_annotations:
        metadata["annotations"] = all_annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def mutate_flyte_pod(
    pod: dict[str, Any],
    webhook: Mapping[str, Any] | None = None,
    *,
    secrets_section: Mapping[str, Any] | None = None,
    global_secrets: GlobalSecretSource | None = None,
) -> MutationResult:
    """Mutate ``pod`` with a config of ``webhook:`` keys; check the patch and validate the pod."""
    data: dict[str, Any] = {"webhook": dict(webhook or {})}
    if secrets_section is not None:
        data["secrets"] = dict(secrets_section)
    before = copy.deepcopy(pod)
    result = mutate_pod(pod, parse_config(data), global_secrets=global_secrets)
    assert pod == before, "the mutation changed its input"
    assert_valid_manifest(pod)
    if result.allowed:
        patched = jsonpatch.apply_patch(copy.deepcopy(pod), result.patch)
        assert patched == result.pod, "the patch does not give the returned pod"
        assert_api_server_accepts(result.pod)
    else:
        assert result.patch == [] and result.reason
    return result
