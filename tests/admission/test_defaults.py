"""The config without a file (DEFAULT_CONFIG, no pydantic) is the validating model's defaults, whole.

Every setting the plain defaults expose is compared with the loaded model's, each manager's section
too; and pods mutated with either give the same answers (allowed, reason, patch, warnings), Global
secrets in the chain included.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from managers.conformance import make_pod
from tasksecrets.admission.config import load_config
from tasksecrets.admission.defaults import DEFAULT_CONFIG, DEFAULT_MAX_SECRETS_PER_POD, MutatorConfig
from tasksecrets.admission.mutator import Mutator
from tasksecrets.contract import MountType
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.registry import all_plugins
from tasksecrets.sdk.secret import Secret


def test_every_default_setting_is_the_models_default() -> None:
    loaded = load_config(None)
    for plain, model in ((DEFAULT_CONFIG.webhook, loaded.webhook), (DEFAULT_CONFIG.secrets, loaded.secrets)):
        for field in dataclasses.fields(plain):
            assert getattr(plain, field.name) == getattr(model, field.name), field.name
    assert DEFAULT_CONFIG.webhook.manager_names() == loaded.webhook.manager_names() == ["K8s"]
    assert DEFAULT_CONFIG.shared == loaded.shared


@pytest.mark.parametrize("plugin", all_plugins(), ids=lambda p: p.name)
def test_each_managers_section_is_its_default(plugin: Any) -> None:
    assert DEFAULT_CONFIG.section(plugin) == load_config(None).section(plugin)


PODS = {
    "env and file": [
        Secret(group="db", key="password"),
        Secret(group="tls", key="cert", mount_requirement=MountType.FILE),
    ],
    "env var name": [Secret(group="db", key="user", env_var="DB_USER")],
    "global": [Secret(group="held", key="token")],
    "over the cap": [Secret(group="db", key=f"k{i}") for i in range(DEFAULT_MAX_SECRETS_PER_POD + 1)],
    "none": [],
}


def _answer(config: MutatorConfig, secrets: list[Secret]) -> tuple[Any, ...]:
    source = GlobalSecretSource.from_settings(
        config.secrets, environ={"FLYTE_SECRET_HELD_TOKEN": "fake-held"}
    )
    result = Mutator(config, global_secrets=source).mutate(make_pod(secrets))
    return result.allowed, result.reason, result.code, result.patch, result.warnings


@pytest.mark.parametrize("secrets", PODS.values(), ids=PODS.keys())
def test_pods_mutate_the_same_with_either(secrets: list[Secret]) -> None:
    assert _answer(DEFAULT_CONFIG, secrets) == _answer(load_config(None), secrets)


def test_the_compared_answers_differ_from_pod_to_pod() -> None:
    # The pods above exercise the settings: Global serves one, the K8s manager others, one is over the cap.
    answers = {name: _answer(DEFAULT_CONFIG, secrets) for name, secrets in PODS.items()}
    assert "fake-held" in str(answers["global"][3])
    assert answers["over the cap"][0] is False and answers["env and file"][0] is True
    assert len({str(a) for a in answers.values()}) == len(PODS)
