"""webhook.maxSecretsPerPod: a pod over the cap is denied, counted before any annotation is decoded.

Also the per-annotation bound: a value over MAX_ANNOTATION_BYTES is refused before decoding work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from managers.conformance import make_pod, make_review_body
from tasksecrets import wire
from tasksecrets.admission import mutator as mutator_module
from tasksecrets.admission.config import DEFAULT_MAX_SECRETS_PER_POD, parse_config
from tasksecrets.admission.mutator import DENIED_CODE, Mutator
from tasksecrets.admission.reviews import review
from tasksecrets.contract import ANNOTATION_PREFIX, MAX_ANNOTATION_BYTES
from tasksecrets.errors import ConfigError, WireError
from tasksecrets.sdk.secret import Secret


def _secrets(n: int) -> list[Secret]:
    return [Secret(group=f"group-{i % 5}", key=f"key-{i}") for i in range(n)]


def _mutator(**webhook: Any) -> Mutator:
    return Mutator(parse_config({"webhook": webhook}))


def test_the_default_cap_is_documented_and_generous() -> None:
    assert parse_config({}).webhook.max_secrets_per_pod == DEFAULT_MAX_SECRETS_PER_POD == 256
    with open(Path(__file__).parents[2] / "docs" / "webhook-config.md", encoding="utf-8") as doc:
        assert f"| `maxSecretsPerPod` | `{DEFAULT_MAX_SECRETS_PER_POD}` |" in doc.read()


def test_a_pod_at_the_default_cap_is_admitted_and_one_over_is_denied() -> None:
    mutator = _mutator()
    at_cap = mutator.mutate(make_pod(_secrets(DEFAULT_MAX_SECRETS_PER_POD)))
    assert at_cap.allowed and len(at_cap.injections) == DEFAULT_MAX_SECRETS_PER_POD
    over = mutator.mutate(make_pod(_secrets(DEFAULT_MAX_SECRETS_PER_POD + 1)))
    assert not over.allowed and over.code == DENIED_CODE
    assert over.reason == (
        f"the pod has 257 secret requests ({ANNOTATION_PREFIX}* annotations), over the limit of 256 per "
        "pod: request fewer secrets, or raise webhook.maxSecretsPerPod in the webhook's config"
    )


@pytest.mark.parametrize("manager", ["K8s", "AWS", "GCP", "Vault", "Azure"])
def test_a_configured_cap_holds_for_every_manager(manager: str) -> None:
    secrets = [
        Secret(group="https://kv.vault.azure.net", key="k", group_version=f"s{i}")
        if manager == "Azure"
        else Secret(group=f"projects/p/secrets/s{i}", key="k", group_version="latest")
        if manager == "GCP"
        else Secret(group=f"group-{i}", key=f"key-{i}")
        for i in range(4)
    ]
    mutator = _mutator(secretManagerType=manager, maxSecretsPerPod=3)
    assert mutator.mutate(make_pod(secrets[:3])).allowed
    over = mutator.mutate(make_pod(secrets))
    assert (
        not over.allowed and "has 4 secret requests" in str(over.reason) and "limit of 3" in str(over.reason)
    )


def test_the_count_comes_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 annotations of garbage base32: denied for their count, and nothing is decoded."""
    annotations = {f"{ANNOTATION_PREFIX}{i}": "!!not-base32!!" * 7 for i in range(10_000)}
    pod = make_pod([])
    pod["metadata"]["annotations"] = annotations

    def no_decoding(annotations: Any) -> list[Secret]:
        raise AssertionError("annotations were decoded for a pod over the cap")

    monkeypatch.setattr(mutator_module, "decode_pod_secrets", no_decoding)
    outcome = review(make_review_body(pod), _mutator())
    response = outcome.body["response"]
    assert response["allowed"] is False and response["status"]["code"] == DENIED_CODE
    assert "the pod has 10000 secret requests" in response["status"]["message"]
    assert "webhook.maxSecretsPerPod" in response["status"]["message"]


def test_garbage_under_the_cap_is_still_refused_as_garbage() -> None:
    pod = make_pod([])
    pod["metadata"]["annotations"] = {f"{ANNOTATION_PREFIX}0": "!!not-base32!!"}
    result = _mutator().mutate(pod)
    assert not result.allowed and "does not decode" in str(result.reason)


def test_admit_on_error_does_not_lift_the_cap() -> None:
    result = _mutator(onInjectionError="admit", maxSecretsPerPod=2).mutate(make_pod(_secrets(3)))
    assert not result.allowed and "limit of 2" in str(result.reason)


def test_the_cap_counts_only_request_keys() -> None:
    pod = make_pod(_secrets(2))
    pod["metadata"]["annotations"].update({f"example.com/s{i}": "x" for i in range(10)})
    assert _mutator(maxSecretsPerPod=2).mutate(pod).allowed


@pytest.mark.parametrize("value", [0, -1, "many"])
def test_a_cap_that_is_not_a_positive_number_is_a_config_error(value: object) -> None:
    with pytest.raises(ConfigError, match="maxSecretsPerPod"):
        parse_config({"webhook": {"maxSecretsPerPod": value}})


def test_an_annotation_over_the_size_limit_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(value: str) -> bytes:
        raise AssertionError("an oversized annotation was decoded")

    monkeypatch.setattr(wire, "b32_decode", no_decoding)
    with pytest.raises(WireError, match=f"over the {MAX_ANNOTATION_BYTES}-byte limit"):
        wire.decode_secret("a" * (MAX_ANNOTATION_BYTES + 1))


def test_an_annotation_at_the_size_limit_is_decoded() -> None:
    # The largest request that encodes: its value is decoded as usual.
    secret = Secret(group="g", key="k" * (MAX_ANNOTATION_BYTES * 5 // 8 - 40))
    value = wire.encode_secret(secret)
    assert len(value) <= MAX_ANNOTATION_BYTES
    assert wire.decode_secret(value) == secret
