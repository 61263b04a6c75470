"""Pods for the API-server tests: manifests with secret requests, created through the real API server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controlplane import ControlPlane
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import encode_pod_metadata

__all__ = ["create_pod", "offline_mutation", "pod_manifest"]


def pod_manifest(
    name: str, namespace: str, secrets: Sequence[Secret], *, labelled: bool = True
) -> dict[str, Any]:
    """A one-container pod asking for ``secrets``, labelled for injection unless told otherwise."""
    labels, annotations = encode_pod_metadata(secrets)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels if labelled else {},
            "annotations": annotations,
        },
        "spec": {"containers": [{"name": "task", "image": "python:3.12-slim", "command": ["python", "-V"]}]},
    }


def create_pod(
    plane: ControlPlane, manifest: dict[str, Any], *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    """``kubectl create`` the pod; the result and the stored object (None when refused)."""
    done = plane.kubectl("create", "-f", "-", "-o", "json", *extra, stdin=json.dumps(manifest), check=False)
    return done, (json.loads(done.stdout) if done.returncode == 0 else None)


def offline_mutation(manifest: dict[str, Any], config_file: Path, workdir: Path) -> dict[str, Any]:
    """What ``tasksecrets webhook mutate`` prints for the manifest, with the same config."""
    pod_file = workdir / f"{manifest['metadata']['name']}.json"
    pod_file.write_text(json.dumps(manifest), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasksecrets",
            "webhook",
            "mutate",
            str(pod_file),
            "--config",
            str(config_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result
