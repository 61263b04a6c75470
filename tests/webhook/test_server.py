"""The webhook server for real: its own process, HTTPS on 127.0.0.1, certificates from init-certs.

Clients verify the server against the ``ca.crt`` that ``init-certs --local-only`` wrote.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
from kubeapi import KubeApiMock, stored, write_kubeconfig
from serverproc import ServerProcess, make_pod, pod_review, post_json, request, start_server, wait_for

from k8svalidate import assert_valid_manifest
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import mutate_pod
from tasksecrets.sdk.secret import Secret
from tasksecrets.webhook.certificates.reload import create_server_context
from tasksecrets.webhook.http import ReviewAnswer, WebhookApp
from tasksecrets.webhook.metrics import WebhookMetrics
from tasksecrets.webhook.registration import build_webhook_configuration

FAKE_GLOBAL_VALUE = "fake-global-value-must-not-be-logged-7f3a"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(
        tmp_path_factory.mktemp("server"), env={"FLYTE_SECRET_TEAM_API_TOKEN": FAKE_GLOBAL_VALUE}
    )
    yield proc
    assert proc.stop() == 0, proc.log_text()
    assert FAKE_GLOBAL_VALUE not in proc.log_text()


SECRETS = [
    Secret(group="db-creds", key="password", mount_requirement=Secret.MountType.ENV_VAR),
    Secret(group="db-creds", key="cert", mount_requirement=Secret.MountType.FILE),
    Secret(group="team", key="api_token"),  # Global holds it
]


@pytest.mark.parametrize("version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_round_trip(server: ServerProcess, version: str) -> None:
    pod = make_pod(SECRETS)
    status, answer = post_json(
        server.port, server.context(), pod_review(pod, api_version=version, uid=f"uid-{version}")
    )
    assert status == 200
    assert answer["apiVersion"] == version and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == f"uid-{version}"
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    mutated = jsonpatch.apply_patch(pod, patch)
    assert_valid_manifest(mutated)
    main_env = {e["name"]: e for e in mutated["spec"]["containers"][0]["env"]}
    assert main_env["_FSEC_DB-CREDS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "db-creds",
        "key": "password",
        "optional": True,
    }
    assert main_env["_FSEC_TEAM_API_TOKEN"]["value"] == FAKE_GLOBAL_VALUE
    assert any(
        m["mountPath"] == "/etc/flyte/secrets/db-creds"
        for m in mutated["spec"]["containers"][1]["volumeMounts"]
    )


def test_pod_without_requests_is_admitted_unchanged(server: ServerProcess) -> None:
    status, answer = post_json(server.port, server.context(), pod_review(make_pod()))
    assert status == 200 and answer["response"] == {
        "uid": "0d2c8a5e-2b1f-4d7e-9a51-6f1c1f0b7a11",
        "allowed": True,
    }


def test_tls_is_verified_by_name_and_ip(server: ServerProcess) -> None:
    context = server.context()
    for host in ("localhost", "127.0.0.1"):
        assert request(server.port, context, "/healthz", method="GET", host=host)[0] == 200
    stranger = ssl.create_default_context()  # does not trust our CA
    with pytest.raises(ssl.SSLCertVerificationError):
        request(server.port, stranger, "/healthz", method="GET")


def test_tls_1_2_is_the_minimum(server: ServerProcess) -> None:
    assert create_server_context().minimum_version == ssl.TLSVersion.TLSv1_2
    only_12 = server.context()
    only_12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert request(server.port, only_12, "/healthz", method="GET")[0] == 200


def test_health_ready_and_metrics(server: ServerProcess) -> None:
    context = server.context()
    assert request(server.port, context, "/healthz", method="GET") == (200, b"ok\n")
    assert request(server.port, context, "/readyz", method="GET") == (200, b"ready\n")
    post_json(server.port, context, pod_review(make_pod(SECRETS)))
    status, text = request(server.port, context, "/metrics", method="GET")
    assert status == 200
    metrics = text.decode()
    admitted = re.search(r'^tasksecrets_webhook_requests_total\{outcome="admitted"\} (\S+)$', metrics, re.M)
    assert admitted and float(admitted.group(1)) >= 1
    assert re.search(r'^tasksecrets_webhook_injections_total\{manager="K8s"\} [1-9]', metrics, re.M)
    assert re.search(r'^tasksecrets_webhook_injections_total\{manager="Global"\} [1-9]', metrics, re.M)
    assert 'tasksecrets_webhook_request_duration_seconds_bucket{le="0.01",outcome="admitted"}' in metrics
    assert "tasksecrets_webhook_serving_cert_expiry_timestamp_seconds" in metrics


def _injections(server: ServerProcess, manager: str) -> float:
    text = request(server.port, server.context(), "/metrics", method="GET")[1].decode()
    found = re.search(rf'^tasksecrets_webhook_injections_total\{{manager="{manager}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_pods_of_one_shape_get_one_patch_and_are_all_counted(server: ServerProcess, version: str) -> None:
    """The server remembers answers by shape: each pod still gets its own uid, the same patch as a
    pod mutated afresh, and its injections counted; answers with Global values stay correct."""
    context = server.context()
    k8s_only = SECRETS[:2]
    before = _injections(server, "K8s"), _injections(server, "Global")
    answers = []
    for n in range(3):
        pod = make_pod(k8s_only, name=f"task-pod-{n}")
        pod["spec"]["containers"][0]["env"] = [{"name": "RUN", "value": f"value-{n}"}]
        status, answer = post_json(server.port, context, pod_review(pod, api_version=version, uid=f"u-{n}"))
        assert status == 200 and answer["response"]["uid"] == f"u-{n}" and answer["apiVersion"] == version
        patch = json.loads(base64.b64decode(answer["response"]["patch"]))
        assert jsonpatch.apply_patch(pod, patch) == mutate_pod(pod, parse_config({})).pod
        answers.append({k: v for k, v in answer["response"].items() if k != "uid"})
    assert answers[0] == answers[1] == answers[2]
    for n in range(2):  # Global injects a value: computed each time, and right each time
        status, answer = post_json(server.port, context, pod_review(make_pod(SECRETS), uid=f"g-{n}"))
        patch = json.loads(base64.b64decode(answer["response"]["patch"]))
        env = jsonpatch.apply_patch(make_pod(SECRETS), patch)["spec"]["containers"][0]["env"]
        assert {"name": "_FSEC_TEAM_API_TOKEN", "value": FAKE_GLOBAL_VALUE} in env
    after = _injections(server, "K8s"), _injections(server, "Global")
    assert after[0] - before[0] == 3 * len(k8s_only) + 2 * 2 and after[1] - before[1] == 2


def test_sigterm_stops_cleanly_with_status_0(tmp_path: Path) -> None:
    proc = start_server(tmp_path)
    assert post_json(proc.port, proc.context(), pod_review(make_pod(SECRETS)))[0] == 200
    assert proc.stop() == 0
    log = proc.log_text()
    assert "Finished server process" in log and "Traceback" not in log


def test_several_workers_share_the_port_and_the_metrics(tmp_path: Path) -> None:
    proc = start_server(tmp_path, args=["--workers", "2"])
    try:
        deadline = time.monotonic() + 60
        while len(set(re.findall(r"\[(\d+)\] Application startup complete", proc.log_text()))) < 2:
            assert time.monotonic() < deadline, proc.log_text()
            time.sleep(0.1)
        context = proc.context()
        for _ in range(12):
            assert post_json(proc.port, context, pod_review(make_pod(SECRETS)))[0] == 200
        _, text = request(proc.port, context, "/metrics", method="GET")
        admitted = re.search(
            r'^tasksecrets_webhook_requests_total\{outcome="admitted"\} (\S+)$', text.decode(), re.M
        )
        assert admitted and float(admitted.group(1)) == 12  # summed over both workers, whichever answers
    finally:
        assert proc.stop() == 0, proc.log_text()


@pytest.mark.asyncio
@pytest.mark.kmock(cls=KubeApiMock)
async def test_registers_at_start_up_then_ready(kmock: KubeApiMock, tmp_path: Path) -> None:
    """Registration against the API mock: /readyz turns 200 once the configuration is created."""
    import asyncio

    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, str(kmock.url))
    proc = await asyncio.to_thread(
        start_server,
        tmp_path,
        extra_config="  disableCreateMutatingWebhookConfig: false\n  timeoutSeconds: 5\n",
        env={"KUBECONFIG": str(kubeconfig), "KUBERNETES_SERVICE_HOST": "", "POD_NAMESPACE": "tools"},
        wait_ready=False,
    )
    try:
        await asyncio.to_thread(wait_for, proc, "/readyz")
        expected = build_webhook_configuration(
            name="flyte-pod-webhook",
            namespace="tools",
            service_port=443,
            ca_bundle=(proc.cert_dir / "ca.crt").read_bytes(),
            namespace_selector=None,
            timeout_seconds=5,
        )
        (post,) = list(kmock["post"])
        assert post.data == expected
        mwc = stored(
            kmock, "admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", None, "flyte-pod-webhook"
        )
        assert mwc["webhooks"] == expected["webhooks"]
    finally:
        assert await asyncio.to_thread(proc.stop) == 0


# -- the ASGI app in-process: what cannot be provoked from outside -------------------------------------


def call_app(app: WebhookApp, *, body: bytes, path: str = "/mutate--v1-pod") -> tuple[int, bytes]:
    import asyncio

    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "path": path,
        "method": "POST",
        "headers": [(b"content-type", b"application/json")],
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_an_exception_answers_500_without_its_message(caplog: pytest.LogCaptureFixture) -> None:
    def broken(body: bytes) -> ReviewAnswer:
        raise RuntimeError(f"boom {FAKE_GLOBAL_VALUE}")

    metrics = WebhookMetrics()
    app = WebhookApp(review=broken, metrics=metrics)
    with caplog.at_level(logging.ERROR):
        status, body = call_app(app, body=b"{}")
    assert status == 500 and json.loads(body) == {"error": "internal error"}
    assert "RuntimeError" in caplog.text and FAKE_GLOBAL_VALUE not in caplog.text
    assert b'tasksecrets_webhook_requests_total{outcome="error"} 1.0' in metrics.render()[0]


def test_answers_with_lone_surrogates_are_still_json() -> None:
    app = WebhookApp(
        review=lambda body: ReviewAnswer(
            200, {"response": {"allowed": False, "status": {"code": 400, "message": "\ud800"}}}
        ),
        metrics=WebhookMetrics(),
    )
    status, body = call_app(app, body=b"{}")
    assert status == 200 and json.loads(body)["response"]["status"]["message"] == "\ud800"


def test_the_cli_lists_its_commands() -> None:
    from click.testing import CliRunner

    from tasksecrets.cli import main

    result = CliRunner().invoke(main, ["webhook", "--help"])
    assert result.exit_code == 0
    for command in ("serve", "init-certs", "rotate-certs", "mutate"):
        assert command in result.output
