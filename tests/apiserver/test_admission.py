"""Pods created through a real kube-apiserver, which calls our webhook over TLS (tests/controlplane.py).

The API server decides what reaches us (rules, objectSelector, namespaceSelector, failurePolicy) and
applies our JSONPatch itself; these tests read back what it stored.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from podmaker import create_pod, offline_mutation, pod_manifest

from controlplane import ControlPlane
from tasksecrets.sdk.secret import Secret
from webhook_in_cluster import SKIP_LABEL, WebhookInCluster

_names = (f"pod-{n}" for n in itertools.count())

ENV_AND_FILE = [
    Secret(group="user-info", key="user_secret", mount_requirement=Secret.MountType.ENV_VAR),
    Secret(group="user-info", key="other", mount_requirement=Secret.MountType.FILE),
    Secret(group="db-creds", key="password"),
]


@pytest.fixture(scope="module")
def namespaces(control_plane: ControlPlane) -> tuple[str, str]:
    """A namespace the webhook serves, and one its namespaceSelector leaves alone."""
    served = control_plane.create_namespace("admission-served")
    skipped = control_plane.create_namespace("admission-skipped", labels={SKIP_LABEL: "off"})
    return served, skipped


def _comparable(pod: dict[str, Any]) -> dict[str, Any]:
    """What the pod says, without what the API server makes up per object (names, uids, times)."""
    pod = copy.deepcopy(pod)
    meta = pod["metadata"]
    pod["metadata"] = {key: meta.get(key) for key in ("labels", "annotations")}
    pod.pop("status", None)
    spec = pod["spec"]
    # The ServiceAccount admission plugin's token volume gets a random suffix per pod.
    spec["volumes"] = [v for v in spec.get("volumes", []) if not v["name"].startswith("kube-api-access-")]
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        container["volumeMounts"] = [
            m for m in container.get("volumeMounts", []) if not m["name"].startswith("kube-api-access-")
        ]
    return pod


def test_stored_pod_equals_offline_mutation(
    control_plane: ControlPlane,
    webhook_in_cluster: WebhookInCluster,
    namespaces: tuple[str, str],
    tmp_path: Path,
) -> None:
    served, skipped = namespaces
    manifest = pod_manifest(next(_names), served, ENV_AND_FILE)
    done, stored = create_pod(control_plane, manifest)
    assert stored is not None, done.stderr
    # The offline answer, given the same defaulting by the API server (a dry run where we are not called).
    expected = offline_mutation(manifest, webhook_in_cluster.config_file, tmp_path)
    expected["metadata"]["namespace"] = skipped
    _, defaulted = create_pod(control_plane, expected, "--dry-run=server")
    assert defaulted is not None
    assert _comparable(stored) == _comparable(defaulted)
    # And it was mutated at all: the injected env var and volume are there.
    container = stored["spec"]["containers"][0]
    assert any(e["name"] == "_FSEC_USER-INFO_USER_SECRET" for e in container.get("env", [])), container


def _injected(pod: dict[str, Any]) -> bool:
    return any(e["name"].startswith("_FSEC_") for e in pod["spec"]["containers"][0].get("env", []))


def test_unlabelled_pod_is_not_sent_to_us(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster, namespaces: tuple[str, str]
) -> None:
    manifest = pod_manifest(next(_names), namespaces[0], ENV_AND_FILE, labelled=False)
    done, stored = create_pod(control_plane, manifest)
    assert stored is not None, done.stderr
    assert not _injected(stored)
    assert stored["metadata"]["annotations"] == manifest["metadata"]["annotations"]


def test_namespace_selector_leaves_a_namespace_alone(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster, namespaces: tuple[str, str]
) -> None:
    labelled = pod_manifest(next(_names), namespaces[1], ENV_AND_FILE)
    done, stored = create_pod(control_plane, labelled)
    assert stored is not None, done.stderr
    assert not _injected(stored)
    # The same pod where the selector matches is mutated: the selector, not the pod, made the difference.
    labelled["metadata"]["namespace"] = namespaces[0]
    _, served = create_pod(control_plane, labelled)
    assert served is not None and _injected(served)


def test_denied_pod_fails_with_our_reason(
    control_plane: ControlPlane,
    webhook_in_cluster: WebhookInCluster,
    namespaces: tuple[str, str],
    tmp_path: Path,
) -> None:
    manifest = pod_manifest(next(_names), namespaces[0], [])
    manifest["metadata"]["labels"] = {"inject-flyte-secrets": "true"}
    manifest["metadata"]["annotations"] = {
        "flyte.secrets/s0": "m4zg54lqhiqce2lsmvzs23dpmnvwk6jcfqrgc4tuncvgs5a"
    }
    done, stored = create_pod(control_plane, manifest)
    assert stored is None
    pod_file = tmp_path / "pod.json"
    pod_file.write_text(json.dumps(manifest))
    offline = webhook_in_cluster.cli("webhook", "mutate", str(pod_file))
    reason = offline.stderr.removeprefix("Denied: ").strip()
    assert offline.returncode == 1 and reason
    assert f'admission webhook "flyte-pod-webhook.flyte.org" denied the request: {reason}' in done.stderr
    assert (
        control_plane.kubectl(
            "get", "pod", manifest["metadata"]["name"], "-n", namespaces[0], check=False
        ).returncode
        != 0
    )


def test_invalid_patch_is_refused_by_the_api_server(
    control_plane: ControlPlane, namespaces: tuple[str, str], tmp_path: Path
) -> None:
    from patchserver import LABEL, patching_webhook

    bad = [{"op": "replace", "path": "/spec/containers/7/image", "value": "x"}]
    good = [{"op": "add", "path": "/metadata/labels/patched", "value": "yes"}]
    for name, patch in (("bad", bad), ("good", good)):
        workdir = tmp_path / name
        workdir.mkdir()
        with patching_webhook(control_plane, workdir, patch, name):
            manifest = pod_manifest(next(_names), namespaces[0], [], labelled=False)
            manifest["metadata"]["labels"] = {LABEL: name}
            done, stored = create_pod(control_plane, manifest)
        if name == "bad":
            assert stored is None, done.stdout
            assert (
                "replace operation does not apply: doc is missing path: /spec/containers/7/image"
                in done.stderr
            )
        else:
            assert stored is not None and stored["metadata"]["labels"]["patched"] == "yes", done.stderr
