"""secrets.accessPolicy: which namespaces may receive which Global groups (docs/webhook-config.md).

Global reads a real environment mapping; reviews go through the real ``review`` function, and the
start-up warning through the server's own ``build_review``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from managers.conformance import make_pod, make_review_body
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import DENIED_CODE, Mutator
from tasksecrets.admission.reviews import review
from tasksecrets.errors import ConfigError
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.webhook.wiring import build_review

VALUE = "fake-global-value-42"
ENV = {"FLYTE_SECRET_SHARED-DB_PASSWORD": VALUE, "FLYTE_SECRET_METRICS_TOKEN": VALUE}
DB = Secret(group="shared-db", key="password")
POLICY = [
    {"namespaces": ["team-*", "prod"], "groups": ["shared-db"]},
    {"namespaces": ["ops"], "groups": ["*"]},
]


def _mutator(policy: Any = None, **webhook: Any) -> Mutator:
    secrets: dict[str, Any] = {} if policy is None else {"accessPolicy": policy}
    config = parse_config({"webhook": {"secretManagerTypes": ["K8s"], **webhook}, "secrets": secrets})
    return Mutator(config, global_secrets=GlobalSecretSource(environ=ENV, secrets_dir=None))


def _managers(policy: Any, namespace: str, secret: Secret = DB, **webhook: Any) -> Any:
    result = _mutator(policy, **webhook).mutate(make_pod([secret], namespace=namespace))
    return [m for _, m in result.injections] if result.allowed else result.reason


@pytest.mark.parametrize("namespace", ["team-a", "team-payments", "prod", "ops"])
def test_a_namespace_the_policy_allows_receives_the_group(namespace: str) -> None:
    assert _managers(POLICY, namespace) == ["Global"]


@pytest.mark.parametrize("namespace", ["team", "xteam-a", "Team-a", "prod-2", "default", ""])
def test_a_namespace_outside_the_policy_is_denied_naming_namespace_group_and_setting(namespace: str) -> None:
    result = _mutator(POLICY).mutate(make_pod([DB], namespace=namespace))
    assert not result.allowed and result.code == DENIED_CODE
    assert result.reason is not None
    assert f"namespace {namespace!r} may not receive the Global group 'shared-db'" in result.reason
    assert "secrets.accessPolicy" in result.reason
    assert VALUE not in result.reason and not result.patch


def test_groups_are_globs_too() -> None:
    policy = [{"namespaces": ["team-?"], "groups": ["metr*"]}]
    assert _managers(policy, "team-b", Secret(group="metrics", key="token")) == ["Global"]
    assert "may not receive" in _managers(policy, "team-bb", Secret(group="metrics", key="token"))
    assert "may not receive" in _managers(policy, "team-b", DB)


def test_a_refused_request_is_not_passed_on_even_when_admitting_on_error() -> None:
    # K8s would serve it from the namespace's own Secret of that name: the policy must not be bypassed.
    assert "may not receive" in _managers(POLICY, "default", onInjectionError="admit")


def test_requests_global_does_not_serve_are_not_checked() -> None:
    not_held = Secret(group="team-only", key="k")
    as_file = Secret(group="shared-db", key="password", mount_requirement=MountType.FILE)
    assert _managers(POLICY, "default", not_held) == ["K8s"]
    assert _managers(POLICY, "default", as_file) == ["K8s"]


def test_an_empty_policy_allows_nothing_and_no_policy_allows_everything() -> None:
    assert "may not receive" in _managers([], "ops")
    for namespace in ("default", "anything", ""):
        assert _managers(None, namespace) == ["Global"]


@pytest.mark.parametrize(
    "policy",
    [
        [{"namespaces": [], "groups": ["g"]}],
        [{"namespaces": ["a"]}],
        [{"namespaces": ["a"], "groups": ["g"], "x": 1}],
    ],
)
def test_a_malformed_rule_is_a_config_error(policy: Any) -> None:
    with pytest.raises(ConfigError, match="accessPolicy"):
        parse_config({"secrets": {"accessPolicy": policy}})


def _review(namespace: str | None, pod_namespace: str | None, uid: str) -> bytes:
    pod = make_pod([DB], namespace=pod_namespace or "")
    if pod_namespace is None:
        del pod["metadata"]["namespace"]
    return make_review_body(pod, uid=uid, namespace=namespace)


def test_the_namespace_is_the_reviews(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Deployment's pod has no namespace of its own; a pod claiming another is judged by the review's."""
    mutator = _mutator(POLICY)
    assert review(_review("team-a", None, "u1"), mutator).outcome == "admitted"
    assert review(_review("default", None, "u2"), mutator).outcome == "denied"
    assert review(_review("default", "team-a", "u3"), mutator).outcome == "denied"
    assert review(_review(None, "team-a", "u4"), mutator).outcome == "admitted"


def test_the_memo_never_serves_one_namespace_the_answer_of_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """With answers remembered (Global over the process environment is deterministic), in turns."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = parse_config({"webhook": {"secretManagerTypes": ["K8s"]}, "secrets": {"accessPolicy": POLICY}})
    mutator = Mutator(config, global_secrets=GlobalSecretSource(environ=os.environ, secrets_dir=None))
    assert mutator.answers is not None
    mixed = Secret(group="team-only", key="k")  # served by K8s, so its answers are remembered
    for round_ in range(3):
        for namespace, expected in (("team-a", "admitted"), ("default", "denied"), ("team-b", "admitted")):
            body = _review(namespace, None, f"u-{round_}-{namespace}")
            outcome = review(body, mutator)
            assert outcome.outcome == expected, (round_, namespace, outcome.body)
            if expected == "denied":
                assert "'default' may not receive" in outcome.body["response"]["status"]["message"]
            pod = make_pod([mixed], namespace=namespace)
            assert review(make_review_body(pod, namespace=namespace), mutator).outcome == "admitted"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "accessPolicy" in r.getMessage()
    ]


def test_one_warning_at_start_up_when_global_holds_secrets_and_no_policy_is_set(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLYTE_SECRET_SHARED-DB_PASSWORD", VALUE)
    caplog.set_level(logging.WARNING, logger="tasksecrets.webhook.wiring")
    answer = build_review(parse_config({"secrets": {"secrets-prefix": str(tmp_path / "none")}}))
    for i in range(3):
        answer(_review("default", None, f"u{i}"))
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "every namespace" in warnings[0] and VALUE not in warnings[0]


def test_no_warning_with_a_policy_or_with_nothing_held(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING, logger="tasksecrets.webhook.wiring")
    for name in [n for n in os.environ if n.startswith("FLYTE_SECRET_")]:
        monkeypatch.delenv(name)
    build_review(parse_config({"secrets": {"secrets-prefix": str(tmp_path / "none")}}))
    monkeypatch.setenv("FLYTE_SECRET_SHARED-DB_PASSWORD", VALUE)
    build_review(
        parse_config({"secrets": {"secrets-prefix": str(tmp_path / "none"), "accessPolicy": POLICY}})
    )
    assert _warnings(caplog) == []
