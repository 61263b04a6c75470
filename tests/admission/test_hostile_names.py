"""Hostile names in every field of a request, for every manager: denied, or admitted and provably inert.

Each vector (a trailing newline, ``$(...)``, back-quotes, ``;``, quotes, ``{{ }}``, ...) goes into
``group``, ``key``, ``group_version`` and ``env_var`` in turn, for K8s, Global, AWS, GCP, Vault and
Azure, as a file and as an env var request. The expected outcome per manager and field is written
down (``EXPECTED``): a field that reaches a script or a template unchecked is a failure even when
the script happens to be inert. An admitted pod must pass the API server's rules
(tests/k8svalidate.py), its pull scripts are run with the real ``sh`` against fake CLIs and must
hand the name over unchanged, and its Vault templates must parse back to the same field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k8svalidate import assert_api_server_accepts
from managers.conformance import make_pod
from managers.shellfakes import HOSTILE_NAMES, MARKER, run_script
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.contract import VAULT_TEMPLATE_PREFIX
from tasksecrets.managers.gcp.script import gcp_secret_paths
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.vault.templates import KV2_QUERY, FieldTemplate, parse_field_template
from tasksecrets.sdk.secret import MountType, Secret

VECTORS = HOSTILE_NAMES
FIELDS = ("group", "key", "group_version", "env_var")
BASE = {
    "K8s": {"group": "user-info", "key": "token"},
    "Global": {"group": "user-info", "key": "token"},
    "AWS": {"group": "arn:aws:secretsmanager:us-east-1:123456789012:secret", "key": "token"},
    "GCP": {"group": "db-password", "key": "value", "group_version": "latest"},
    "Vault": {"group": "secret/data/app", "key": "token", "group_version": "kv2"},
    "Azure": {"group": "https://v.vault.azure.net", "key": "value", "group_version": "db-password"},
}
# "denied": always; "admitted": never refused (the field reaches no script, template or name the
# API server checks); "either": refused or admitted as the vector decides, inert when admitted.
EXPECTED = {
    "K8s": {"group": "either", "key": "either", "group_version": "admitted", "env_var": "denied"},
    "Global": {"group": "denied", "key": "denied", "group_version": "admitted", "env_var": "denied"},
    "AWS": {"group": "admitted", "key": "admitted", "group_version": "admitted", "env_var": "denied"},
    "GCP": {"group": "denied", "key": "admitted", "group_version": "denied", "env_var": "denied"},
    "Vault": {"group": "either", "key": "either", "group_version": "admitted", "env_var": "denied"},
    "Azure": {"group": "denied", "key": "denied", "group_version": "denied", "env_var": "denied"},
}
CASES = [
    pytest.param(manager, field, vector, mount, id=f"{manager}-{field}-{name}-{mount.name}")
    for manager in BASE
    for field in FIELDS
    for name, vector in VECTORS.items()
    for mount in (MountType.ANY, MountType.ENV_VAR)
    if not (manager == "Global" and mount is MountType.ANY)  # Global serves env vars; ANY is one too
]


def hostile_secret(manager: str, field: str, vector: str, mount: MountType) -> Secret:
    fields: dict[str, Any] = {**BASE[manager], "mount_requirement": mount}
    fields[field] = vector if field != "group" or manager != "AWS" else BASE["AWS"]["group"] + vector
    return Secret.from_wire(**fields)


def mutator_for(manager: str, secret: Secret) -> Mutator:
    if manager == "Global":
        # Global holds exactly the hostile secret, so it is the one to serve (or refuse) it.
        name = GlobalSecretSource(environ={}, secrets_dir=None).env_name(secret)
        source = GlobalSecretSource(environ={name: "a-global-value"}, secrets_dir=None)
        return Mutator(parse_config({"webhook": {"secretManagerType": "K8s"}}), global_secrets=source)
    return Mutator(parse_config({"webhook": {"secretManagerType": manager}}))


def check_inert(manager: str, secret: Secret, pod: dict[str, Any], work: Path) -> None:
    """What an admitted pod does with the name: the API server accepts it, scripts and templates keep it."""
    assert_api_server_accepts(pod)
    for container in pod["spec"].get("initContainers", []):
        command = container.get("command")
        if not command or not container["name"].startswith("gcp-pull-secret-"):
            assert command is None or container["name"].startswith("init-"), container["name"]
            continue
        run = run_script(command, work)
        group, version = secret.group, str(secret.group_version)
        directory, path = gcp_secret_paths(group, version)
        assert run.calls == [
            ["gcloud", "secrets", "versions", "access", f"{group}/versions/{version}", f"--out-file={path}"],
            ["chmod", "+rX", directory, path],
        ], run.stderr
    templates = [v for k, v in pod["metadata"]["annotations"].items() if k.startswith(VAULT_TEMPLATE_PREFIX)]
    for template in templates:
        assert parse_field_template(template) == FieldTemplate(secret.group, KV2_QUERY, secret.key)
        assert template.count("{{") == 3, template  # `with`, the field and `end`: nothing added
    assert not (work / MARKER).exists()


@pytest.mark.parametrize(("manager", "field", "vector", "mount"), CASES)
def test_a_hostile_name_is_denied_or_inert(
    tmp_path: Path, manager: str, field: str, vector: str, mount: MountType
) -> None:
    secret = hostile_secret(manager, field, vector, mount)
    result = mutator_for(manager, secret).mutate(make_pod([secret]))
    expected = EXPECTED[manager][field]
    if not result.allowed:
        assert expected != "admitted", f"refused: {result.reason}"
        assert manager in str(result.reason), "the manager that served or refused it is named"
        assert result.code == 403 and result.patch == []
        assert repr(secret) in str(result.reason), "the denial must name the secret"
        return
    assert expected != "denied", f"admitted: {[m for _, m in result.injections]}"
    assert [m for _, m in result.injections] == [manager]
    check_inert(manager, secret, result.pod, tmp_path)
