"""deploy/webhook through the real API server: accepted by server-side apply, and least privilege.

The webhook_in_cluster fixture applied the deploy and ran ``init-certs`` and ``serve`` with tokens of
its two ServiceAccounts. Here each account's allowed calls are made, and the calls it must not make
are made too and refused with 403 by the API server's RBAC authorizer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from controlplane import ControlPlane
from webhook_in_cluster import SERVICE_NAME, WebhookInCluster

OTHER_NAMESPACE = "rbac-elsewhere"
OTHER_WEBHOOK = "someone-elses-webhook"


@pytest.fixture(scope="module")
def others(control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster) -> None:
    """Objects the deploy's accounts must not touch: another Secret beside ours, another namespace's
    Secret of our name, another MutatingWebhookConfiguration."""
    control_plane.create_namespace(OTHER_NAMESPACE)
    for namespace, name in ((webhook_in_cluster.namespace, "other-secret"), (OTHER_NAMESPACE, SERVICE_NAME)):
        control_plane.kubectl("create", "secret", "generic", name, "-n", namespace, "--from-literal=k=v")
    other = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": OTHER_WEBHOOK},
        "webhooks": [],
    }
    control_plane.kubectl("create", "-f", "-", stdin=json.dumps(other))


def test_every_deploy_object_is_stored(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster
) -> None:
    overlay = webhook_in_cluster.config_file.parent / "overlay"
    rendered = control_plane.kubectl("kustomize", str(overlay)).stdout
    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "Job", "CronJob", "ClusterRole", "Role"}
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        where = ["-n", namespace] if namespace else []
        kind = f"{obj['kind']}.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"] else obj["kind"]
        stored = control_plane.get_json(kind, obj["metadata"]["name"], *where)
        assert stored["metadata"]["name"] == obj["metadata"]["name"]
        if namespace:
            assert namespace == webhook_in_cluster.namespace
    # Applying again changes nothing and conflicts with nothing.
    again = control_plane.kubectl(
        "apply", "--server-side", "--field-manager=tasksecrets-tests", "-k", str(overlay)
    )
    assert "serverside-applied" in again.stdout


def _allowed(plane: ControlPlane, kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    done = plane.kubectl(*args, kubeconfig=kubeconfig, stdin=stdin, check=False)
    assert done.returncode == 0, f"{args} was refused: {done.stderr}"
    return done.stdout


def _forbidden(plane: ControlPlane, kubeconfig: Path, *args: str, stdin: str | None = None) -> None:
    done = plane.kubectl(*args, kubeconfig=kubeconfig, stdin=stdin, check=False)
    # RBAC's refusal names the account: not a typo, a missing object or a failed connection.
    refusal = 'is forbidden: User "system:serviceaccount:'
    assert done.returncode != 0 and refusal in done.stderr, f"{args}: {done.returncode} {done.stderr}"


def test_certificate_account_can_manage_its_secret_only(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster, others: None
) -> None:
    kubeconfig, ns = webhook_in_cluster.certs_kubeconfig, webhook_in_cluster.namespace
    # What init-certs and rotate-certs need, by the commands themselves: create (done by the
    # fixture's init-certs), get and update.
    rotated = webhook_in_cluster.cli("webhook", "rotate-certs", "--force")
    assert rotated.returncode == 0 and "renewed certificates in Secret" in rotated.stdout, rotated.stderr
    _allowed(control_plane, kubeconfig, "get", "secret", SERVICE_NAME, "-n", ns)
    for args in (
        ("get", "secret", "other-secret", "-n", ns),
        ("get", "secrets", "-n", ns),
        ("get", "secret", SERVICE_NAME, "-n", OTHER_NAMESPACE),
        ("create", "secret", "generic", "planted", "-n", OTHER_NAMESPACE, "--from-literal=k=v"),
        ("delete", "secret", SERVICE_NAME, "-n", ns),
        ("delete", "secret", "other-secret", "-n", ns),
        ("get", "mutatingwebhookconfiguration", SERVICE_NAME),
        ("get", "pods", "-n", ns),
    ):
        _forbidden(control_plane, kubeconfig, *args)


def test_server_account_can_manage_its_registration_only(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster, others: None
) -> None:
    kubeconfig, ns = webhook_in_cluster.server_kubeconfig, webhook_in_cluster.namespace
    ours = _allowed(
        control_plane, kubeconfig, "get", "mutatingwebhookconfiguration", SERVICE_NAME, "-o", "json"
    )
    _allowed(control_plane, kubeconfig, "replace", "-f", "-", stdin=ours)  # the update registration makes
    theirs = control_plane.kubectl("get", "mutatingwebhookconfiguration", OTHER_WEBHOOK, "-o", "json").stdout
    for args, stdin in (
        (("get", "mutatingwebhookconfiguration", OTHER_WEBHOOK), None),
        (("replace", "-f", "-"), theirs),
        (("delete", "mutatingwebhookconfiguration", OTHER_WEBHOOK), None),
        (("delete", "mutatingwebhookconfiguration", SERVICE_NAME), None),
        (("get", "mutatingwebhookconfigurations"), None),
        (("get", "validatingwebhookconfigurations"), None),
        (("get", "secret", SERVICE_NAME, "-n", ns), None),
        (("get", "secrets", "-n", OTHER_NAMESPACE), None),
        (("get", "pods", "-A"), None),
    ):
        _forbidden(control_plane, kubeconfig, *args, stdin=stdin)
