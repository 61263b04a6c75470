"""Vault injector: the conformance suite, every engine x mount x env_var case exactly as compat.md
section 4 says, kvVersion (quoted or not), annotation precedence, and template-injection refusals."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from managers.conformance import mutate_checked
from managers.filecases import (
    ANY,
    ENV,
    EXPORT_ANNOTATION,
    FILE,
    MOUNTS,
    FileManagerConformance,
    base_pod,
    deny_reason,
    expected_file_env,
    exports,
    mutate,
)
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.errors import ConfigError
from tasksecrets.sdk.secret import MountType, Secret

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
P = "vault.hashicorp.com/"
COMMON = {
    P + "agent-inject": "true",
    P + "secret-volume-path": "/etc/flyte/secrets",
    P + "role": "flyte",
    P + "agent-pre-populate-only": "true",
}


class TestVaultConformance(FileManagerConformance):
    injector_name = "Vault"

    def refused_secrets(self) -> list[Secret]:
        return [
            Secret.from_wire(group="", key="k"),
            Secret.from_wire(group='secret/data/a"b', key="k"),
            Secret.from_wire(group="secret/data/a", key="k}}{{ .Data }}"),
        ]


def ids_of(pod: dict[str, Any]) -> list[str]:
    """The ids the injector chose, in order; each must look like a lower-case UUID4."""
    ids = [
        k.removeprefix(P + "agent-inject-secret-")
        for k in pod["metadata"]["annotations"]
        if "inject-secret-" in k
    ]
    assert all(UUID4.match(i) for i in ids), ids
    return ids


def expected_pod(
    secret: Secret, secret_id: str, *, template: str | None, file_path: str, common: dict[str, str] = COMMON
) -> dict[str, Any]:
    pod = copy.deepcopy(base_pod([secret]))
    annotations = pod["metadata"]["annotations"]
    annotations[P + f"agent-inject-secret-{secret_id}"] = secret.group
    annotations[P + f"agent-inject-file-{secret_id}"] = f"{secret.group}/{secret.key}"
    if template is not None:
        annotations[P + f"agent-inject-template-{secret_id}"] = template
    annotations.update(common)
    env = expected_file_env(pod, secret, path=file_path)
    pod["spec"]["initContainers"][0]["env"] = env
    pod["spec"]["containers"][0]["env"] = env
    return pod


TEMPLATES = {
    "kv1": '{{- with secret "kv/team/app" -}}{{ .Data.api_key }}{{- end -}}',
    "kv2": '{{- with secret "kv/team/app" -}}{{ .Data.data.api_key }}{{- end -}}',
    "db": None,
}


@pytest.mark.parametrize("env_var", [None, "MY_VAR"])
@pytest.mark.parametrize("mount", MOUNTS)
@pytest.mark.parametrize("engine", ["kv1", "kv2", "db"])
def test_every_engine_mount_and_env_var_exactly(engine: str, mount: MountType, env_var: str | None) -> None:
    secret = Secret(
        group="kv/team/app", key="api_key", group_version=engine, mount_requirement=mount, env_var=env_var
    )
    result = mutate("Vault", [secret])
    (secret_id,) = ids_of(result.pod)
    assert result.pod == expected_pod(
        secret, secret_id, template=TEMPLATES[engine], file_path="/etc/flyte/secrets/kv/team/app/api_key"
    )


@pytest.mark.parametrize(
    ("kv_version", "query"),
    [("1", ".Data"), (1, ".Data"), ("2", ".Data.data"), (2, ".Data.data"), (" 2 ", ".Data.data")],
)
def test_kv_version_decides_other_group_versions(kv_version: object, query: str) -> None:
    for group_version in (None, "v7"):
        secret = Secret(
            group="secret/data/app", key="Token", group_version=group_version, mount_requirement=FILE
        )
        result = mutate("Vault", [secret], vaultSecretManager={"kvVersion": kv_version})
        (secret_id,) = ids_of(result.pod)
        assert result.pod["metadata"]["annotations"][P + f"agent-inject-template-{secret_id}"] == (
            f'{{{{- with secret "secret/data/app" -}}}}{{{{ {query}.Token }}}}{{{{- end -}}}}'
        )


@pytest.mark.parametrize("kv_version", [3, "3", "v2", "", None, True, 2.0, "kv2"])
def test_other_kv_versions_are_config_errors(kv_version: object) -> None:
    with pytest.raises(ConfigError, match="kvVersion must be 1 or 2"):
        parse_config({"webhook": {"vaultSecretManager": {"kvVersion": kv_version}}})


def test_default_kv_version_is_2() -> None:
    result = mutate("Vault", [Secret(group="secret/data/app", key="k", mount_requirement=ANY)])
    (secret_id,) = ids_of(result.pod)
    assert ".Data.data.k" in result.pod["metadata"]["annotations"][P + f"agent-inject-template-{secret_id}"]


def test_annotation_precedence_defaults_then_config_then_pod() -> None:
    secret = Secret(group="secret/data/app", key="k", group_version="kv2", mount_requirement=FILE)
    pod = base_pod([secret])
    pod["metadata"]["annotations"].update(
        {P + "agent-pre-populate-only": "false", P + "agent-inject-token": "true"}
    )
    config = parse_config(
        {
            "webhook": {
                "secretManagerType": "Vault",
                "vaultSecretManager": {
                    "role": "team-role",
                    "annotations": {
                        P + "role": "config-role",  # config beats our default (and the role key)
                        P + "agent-pre-populate-only": "config",  # the pod's own beats config
                        P + "auth-path": "auth/k8s-team",  # extra
                    },
                },
            }
        }
    )
    result = mutate_checked(pod, Mutator(config))
    annotations = result.pod["metadata"]["annotations"]
    assert annotations[P + "role"] == "config-role"
    assert annotations[P + "agent-pre-populate-only"] == "false"
    assert annotations[P + "auth-path"] == "auth/k8s-team"
    assert annotations[P + "agent-inject-token"] == "true"
    assert annotations[P + "agent-inject"] == "true"
    # The pod's own annotations are not rewritten by the patch.
    assert not any(op["path"].endswith("agent-pre-populate-only") for op in result.patch)


def test_role_from_config() -> None:
    result = mutate(
        "Vault", [Secret(group="a/b", key="k", mount_requirement=FILE)], vaultSecretManager={"role": "etl"}
    )
    assert result.pod["metadata"]["annotations"][P + "role"] == "etl"


def test_several_secrets_get_distinct_deterministic_ids() -> None:
    secrets = [
        Secret(group="secret/data/app", key="k", mount_requirement=FILE),
        Secret(group="secret/data/app", key="k", mount_requirement=FILE),
        Secret(group="database/creds/ro", key="creds", group_version="db", mount_requirement=ENV),
    ]
    first, second = mutate("Vault", secrets), mutate("Vault", secrets)
    ids = ids_of(first.pod)
    assert len(set(ids)) == 3 and ids == ids_of(second.pod)
    assert first.pod["metadata"]["annotations"][EXPORT_ANNOTATION] == exports(
        {"_FSEC_DATABASE/CREDS/RO_CREDS": "database/creds/ro/creds"}
    )


def test_keys_that_are_not_identifiers_are_read_with_index() -> None:
    result = mutate(
        "Vault",
        [Secret(group="secret/data/app", key="api-key.v2", group_version="kv2", mount_requirement=FILE)],
    )
    (secret_id,) = ids_of(result.pod)
    assert result.pod["metadata"]["annotations"][P + f"agent-inject-template-{secret_id}"] == (
        '{{- with secret "secret/data/app" -}}{{ index .Data.data "api-key.v2" }}{{- end -}}'
    )


@pytest.mark.parametrize(
    ("group", "key"),
    [
        ('secret/data/a" }}{{ .Data }}{{ "', "k"),
        ("secret/data/a", 'k" }}'),
        ("secret/data/{{a}}", "k"),
        ("secret/data/a", "k}}"),
        ("secret/data/a", "k{{"),
        ("secret/data/a\n", "k"),
        ("secret/data/a", "k\nx"),
        ("secret/data/a\\", "k"),
        ("secret/data/a", "k`x`"),
        ("secret/../../etc", "k"),
    ],
)
def test_template_breaking_groups_and_keys_are_denied(group: str, key: str) -> None:
    reason = deny_reason("Vault", Secret.from_wire(group=group, key=key, group_version="kv2"))
    assert "Vault" in reason and ("could break out of the agent's template" in reason or "'..'" in reason)


def test_env_var_request_is_denied_when_export_is_disabled() -> None:
    secret = Secret(group="secret/data/app", key="k", mount_requirement=ENV)
    reason = deny_reason("Vault", secret, exportEnvVars=False)
    assert "ENV_VAR is not supported by Vault" in reason
