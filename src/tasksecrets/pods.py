"""Render a task into the Pod manifest that carries its secret requests (docs/compat.md section 2).

The pod has the ``inject-flyte-secrets: "true"`` label and one ``flyte.secrets/s<N>`` annotation
per request (none of either when the task requests nothing), lives in the namespace
``<project>-<domain>``, and runs one container ``task`` whose command is the task entrypoint
``python -m tasksecrets execute --file FILE --task NAME [--inputs F] [--outputs F]``. The pod's
name is a valid DNS label made of the task's name and a hash of everything rendered, so the same
task renders to the same manifest. The local cluster renders its pods with this function too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from tasksecrets.contract import TASK_CONTAINER
from tasksecrets.errors import ManifestError
from tasksecrets.sdk.task import Task
from tasksecrets.wire import encode_pod_metadata

__all__ = ["DEFAULT_IMAGE", "pod_namespace", "render_task_pod", "task_pod_name"]

DEFAULT_IMAGE = "python:3.11-slim"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_HASH_CHARS = 10


def pod_namespace(project: str, domain: str, *, namespace: str | None = None) -> str:
    """``<project>-<domain>``, or ``namespace`` when given; ManifestError when not a valid namespace name."""
    chosen = namespace if namespace is not None else f"{project}-{domain}"
    if len(chosen) > 63 or not _DNS_LABEL.fullmatch(chosen):
        given = (
            f"namespace {chosen!r} is"
            if namespace is not None
            else f"project {project!r} and domain {domain!r} give the namespace {chosen!r}, which is"
        )
        raise ManifestError(
            f"{given} not a valid Kubernetes namespace: use lower-case letters, digits and '-' "
            "(63 characters at most)"
        )
    return chosen


def task_pod_name(task_name: str, digest: str) -> str:
    """A DNS label from the task's name (sanitized, shortened) and a hash of the rendered pod."""
    base = re.sub(r"[^a-z0-9]+", "-", task_name.lower()).strip("-")[: 62 - _HASH_CHARS].strip("-")
    return f"{base or 'task'}-{digest[:_HASH_CHARS]}"


def render_task_pod(
    task: Task,
    *,
    project: str = "flytesnacks",
    domain: str = "development",
    namespace: str | None = None,
    image: str = DEFAULT_IMAGE,
    inputs: str | None = None,
    outputs: str | None = None,
    file: str | None = None,
    python: str = "python",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Pod manifest for ``task``.

    ``inputs``/``outputs`` are the paths the entrypoint reads and writes inside the pod; ``file``
    overrides where the task's source is found there (default: ``task.module_file``). ``namespace``
    replaces ``<project>-<domain>``. Extra
    ``labels`` and ``annotations`` are added but cannot replace the secret requests.
    """
    source = file or task.module_file
    if not source:
        raise ManifestError(
            f"task {task.name!r} has no source file (defined interactively?): define it in a .py file"
        )
    namespace = pod_namespace(project, domain, namespace=namespace)
    secret_labels, secret_annotations = encode_pod_metadata(task.secret_requests)
    command = [python, "-m", "tasksecrets", "execute", "--file", source, "--task", task.name]
    if inputs is not None:
        command += ["--inputs", inputs]
    if outputs is not None:
        command += ["--outputs", outputs]
    all_labels = {"app.kubernetes.io/managed-by": "tasksecrets", **(labels or {}), **secret_labels}
    all_annotations = {**(annotations or {}), **secret_annotations}
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{"name": TASK_CONTAINER, "image": image, "command": command}],
    }
    identity = json.dumps(
        [namespace, task.name, spec, all_labels, all_annotations], sort_keys=True, separators=(",", ":")
    )
    metadata: dict[str, Any] = {
        "name": task_pod_name(task.name, hashlib.sha256(identity.encode("utf-8")).hexdigest()),
        "namespace": namespace,
        "labels": all_labels,
    }
    if all_annotations:
        metadata["annotations"] = all_annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
