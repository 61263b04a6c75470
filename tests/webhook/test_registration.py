"""Registration of the MutatingWebhookConfiguration, against a Kubernetes API mock (see kubeapi.py).

No kube-apiserver runs here: kmock's emulator stands in, and the tests check the exact objects our
client sends (and that each is a valid manifest for a current Kubernetes).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from kubeapi import KubeApiMock, RacingKubeApiMock, stored, write_kubeconfig

from k8svalidate import assert_valid_manifest
from tasksecrets.admission.config import parse_config
from tasksecrets.errors import ConfigError, KubernetesApiError
from tasksecrets.webhook.kube import KubeClient
from tasksecrets.webhook.registration import build_webhook_configuration, register_webhook

pytestmark = pytest.mark.kmock(cls=KubeApiMock)

MWC = "admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
CA = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def desired_config(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "name": "flyte-pod-webhook",
        "namespace": "flyte",
        "service_port": 443,
        "ca_bundle": CA,
        "namespace_selector": None,
        "timeout_seconds": 10,
    }
    kwargs.update(overrides)
    return build_webhook_configuration(**kwargs)


def test_the_object_is_compat_section_5() -> None:
    obj = desired_config(
        namespace="tools", namespace_selector={"matchLabels": {"team": "a"}}, timeout_seconds=7
    )
    assert_valid_manifest(obj)
    assert obj["metadata"] == {"name": "flyte-pod-webhook"}
    (hook,) = obj["webhooks"]
    assert hook["name"] == "flyte-pod-webhook.flyte.org"
    assert hook["clientConfig"] == {
        "service": {
            "name": "flyte-pod-webhook",
            "namespace": "tools",
            "path": "/mutate--v1-pod",
            "port": 443,
        },
        "caBundle": base64.b64encode(CA).decode(),
    }
    assert hook["rules"] == [
        {
            "operations": ["CREATE"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods"],
            "scope": "*",
        }
    ]
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "NoneOnDryRun"
    assert hook["admissionReviewVersions"] == ["v1", "v1beta1"]
    assert hook["objectSelector"] == {"matchLabels": {"inject-flyte-secrets": "true"}}
    assert hook["namespaceSelector"] == {"matchLabels": {"team": "a"}}
    assert hook["timeoutSeconds"] == 7


def test_config_keys_reach_the_object() -> None:
    config = parse_config(
        {
            "webhook": {
                "serviceName": "my-hook",
                "servicePort": 8443,
                "timeoutSeconds": 3,
                "namespaceSelector": {"matchExpressions": [{"key": "x", "operator": "Exists"}]},
            }
        }
    ).webhook
    obj = build_webhook_configuration(
        name=config.service_name,
        namespace="ns",
        service_port=config.service_port,
        ca_bundle=CA,
        namespace_selector=config.namespace_selector,
        timeout_seconds=config.timeout_seconds,
    )
    assert_valid_manifest(obj)
    hook = obj["webhooks"][0]
    assert obj["metadata"]["name"] == hook["clientConfig"]["service"]["name"] == "my-hook"
    assert hook["clientConfig"]["service"]["port"] == 8443
    assert hook["timeoutSeconds"] == 3
    assert hook["namespaceSelector"] == {"matchExpressions": [{"key": "x", "operator": "Exists"}]}


@pytest.mark.asyncio
async def test_creates_when_missing(kmock: KubeApiMock) -> None:
    desired = desired_config()
    async with KubeClient(str(kmock.url)) as client:
        assert await register_webhook(client, desired) == "created"
    (post,) = list(kmock["post"])
    assert post.url.path == "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
    assert post.data == desired
    assert len(kmock["put"]) == 0


@pytest.mark.asyncio
async def test_second_registration_writes_nothing(kmock: KubeApiMock) -> None:
    desired = desired_config()
    async with KubeClient(str(kmock.url)) as client:
        await register_webhook(client, desired)
        assert await register_webhook(client, desired) == "unchanged"
    assert len(kmock["post"]) == 1
    assert len(kmock["put"]) == 0


@pytest.mark.asyncio
async def test_updates_keeping_resource_version_and_labels(kmock: KubeApiMock) -> None:
    old = desired_config(ca_bundle=b"old CA", timeout_seconds=30)
    old["metadata"].update({"resourceVersion": "77", "labels": {"owner": "ops"}})
    kmock.objects[MWC, None, "flyte-pod-webhook"] = old
    desired = desired_config()
    async with KubeClient(str(kmock.url)) as client:
        assert await register_webhook(client, desired) == "updated"
    (put,) = list(kmock["put"])
    assert (
        put.url.path
        == "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/flyte-pod-webhook"
    )
    expected = {
        **desired,
        "metadata": {"name": "flyte-pod-webhook", "resourceVersion": "77", "labels": {"owner": "ops"}},
    }
    assert put.data == expected
    assert_valid_manifest(put.data)
    now = stored(kmock, MWC, None, "flyte-pod-webhook")
    assert now["webhooks"][0]["clientConfig"]["caBundle"] == base64.b64encode(CA).decode()


@pytest.mark.asyncio
@pytest.mark.kmock(cls=RacingKubeApiMock)
async def test_a_concurrent_change_is_read_again(kmock: KubeApiMock) -> None:
    """The first PUT loses a race (409); the client reads again and replaces with the new version."""
    old = desired_config(ca_bundle=b"old CA")
    old["metadata"]["resourceVersion"] = "1"
    kmock.objects[MWC, None, "flyte-pod-webhook"] = old
    async with KubeClient(str(kmock.url)) as client:
        assert await register_webhook(client, desired_config()) == "updated"
    puts = list(kmock["put"])
    assert len(puts) == 2
    assert puts[0].data["metadata"]["resourceVersion"] == "1"
    assert puts[1].data["metadata"]["resourceVersion"] not in ("1", None)
    assert puts[1].data["webhooks"] == desired_config()["webhooks"]


@pytest.mark.asyncio
async def test_api_errors_carry_the_status(kmock: KubeApiMock) -> None:
    kmock["get", kmock.resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")] << 403
    async with KubeClient(str(kmock.url)) as client:
        with pytest.raises(KubernetesApiError) as info:
            await register_webhook(client, desired_config())
    assert info.value.status == 403


@pytest.mark.asyncio
async def test_unreachable_api_is_a_clear_error() -> None:
    async with KubeClient("http://127.0.0.1:9", timeout=2) as client:
        with pytest.raises(KubernetesApiError, match="cannot reach the Kubernetes API") as info:
            await client.get_mutating_webhook_configuration("x")
    assert info.value.status == 0


@pytest.mark.asyncio
async def test_kubeconfig_token_is_sent(
    kmock: KubeApiMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "config"
    write_kubeconfig(kubeconfig, str(kmock.url))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    client = KubeClient.from_environment()
    assert "not-a-real-token" not in repr(client)
    async with client:
        await client.get_secret("nothing", namespace="flyte")
    (get,) = list(kmock["get"])
    assert get.headers["Authorization"] == "Bearer not-a-real-token"


def test_unsupported_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
        "clusters:\n- name: k\n  cluster: {server: 'https://example.invalid'}\n"
        "users:\n- name: u\n  user: {exec: {command: aws}}\n"
    )
    with pytest.raises(ConfigError, match="exec"):
        KubeClient.from_kubeconfig(kubeconfig)
    empty = tmp_path / "empty"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(ConfigError, match="no context named"):
        KubeClient.from_kubeconfig(empty)


def test_url_replaces_the_service_in_the_client_config() -> None:
    config = parse_config({"webhook": {"url": "https://127.0.0.1:9443"}}).webhook
    obj = desired_config(url=config.url)
    assert_valid_manifest(obj)
    assert obj["webhooks"][0]["clientConfig"] == {
        "url": "https://127.0.0.1:9443/mutate--v1-pod",
        "caBundle": base64.b64encode(CA).decode(),
    }


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:9443", "must start with https://"),
        ("https://:9443/x", "names no host"),
        ("https://user:pw@hook.example:9443", "user or password"),
        ("https://hook.example/mutate?x=1", "no query or fragment"),
        ("https://hook.example/mutate#frag", "no query or fragment"),
        ("https://hook.example:99999", "is not a URL"),
    ],
)
def test_a_url_kubernetes_would_refuse_is_refused_at_load(url: str, rule: str) -> None:
    with pytest.raises(ConfigError, match=rule):
        parse_config({"webhook": {"url": url}})


def test_a_url_with_a_path_keeps_it() -> None:
    config = parse_config({"webhook": {"url": "https://hook.example:8443/custom"}}).webhook
    assert config.url == "https://hook.example:8443/custom"
