"""Our webhook's lifecycle as the real API server sees it: stopped (failurePolicy: Fail) and rotated."""

from __future__ import annotations

import base64
import itertools
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from podmaker import create_pod, pod_manifest

from controlplane import ControlPlane
from tasksecrets.sdk.secret import Secret
from webhook_in_cluster import SERVICE_NAME, WebhookInCluster

_names = (f"life-{n}" for n in itertools.count())
REQUESTS = [Secret(group="user-info", key="user_secret", mount_requirement=Secret.MountType.ENV_VAR)]
RELOAD_SECONDS = 30.0


@pytest.fixture(scope="module")
def namespace(control_plane: ControlPlane) -> str:
    return control_plane.create_namespace("lifecycle")


def test_stopped_webhook_blocks_labelled_pods_only(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster, namespace: str
) -> None:
    webhook_in_cluster.stop()
    try:
        done, stored = create_pod(control_plane, pod_manifest(next(_names), namespace, REQUESTS))
        assert stored is None
        assert 'failed calling webhook "flyte-pod-webhook.flyte.org"' in done.stderr, done.stderr
        done, stored = create_pod(
            control_plane, pod_manifest(next(_names), namespace, REQUESTS, labelled=False)
        )
        assert stored is not None, done.stderr
    finally:
        webhook_in_cluster.start()
    done, stored = create_pod(control_plane, pod_manifest(next(_names), namespace, REQUESTS))
    assert stored is not None, done.stderr


def _served_serial(port: int) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only reading which certificate is served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def _file_serial(webhook: WebhookInCluster) -> int:
    return x509.load_pem_x509_certificate((webhook.cert_dir / "tls.crt").read_bytes()).serial_number


def _secret_serial(plane: ControlPlane, webhook: WebhookInCluster) -> int:
    secret = plane.get_json("secret", SERVICE_NAME, "-n", webhook.namespace)
    return x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"])).serial_number


def _rotate(plane: ControlPlane, webhook: WebhookInCluster) -> int:
    before = _file_serial(webhook)
    done = webhook.cli("webhook", "rotate-certs", "--force")
    assert done.returncode == 0, done.stderr
    after = _file_serial(webhook)
    assert after != before and _secret_serial(plane, webhook) == after
    deadline = time.monotonic() + RELOAD_SECONDS
    while _served_serial(webhook.port) != after:
        assert time.monotonic() < deadline, "the server did not load the rotated certificate"
        time.sleep(0.1)
    return after


def test_rotation_under_traffic_loses_no_creation(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster, namespace: str
) -> None:
    results: list[tuple[int, bool, str]] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            done, stored = create_pod(control_plane, pod_manifest(next(_names), namespace, REQUESTS))
            injected = stored is not None and "env" in stored["spec"]["containers"][0]
            results.append((done.returncode, injected, done.stderr))

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        time.sleep(1.0)
        serials = [_rotate(control_plane, webhook_in_cluster) for _ in range(2)]
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert len(set(serials)) == 2
    assert len(results) >= 5, results
    print(f"{len(results)} pods created during two rotations")
    failed = [r for r in results if r[0] != 0 or not r[1]]
    assert not failed, f"{len(failed)} of {len(results)} creations failed: {failed[:3]}"
