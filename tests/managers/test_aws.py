"""AWS injector: the conformance suite, and every mount x env_var case exactly as compat.md section 4 says.

Expected pods are written out from the spec's words (init container ``aws-pull-secret-<N>``, the
sidecar image, 200m/500Mi, ``SECRET_ARN``/``SECRET_FILENAME``, ``aws-secret-vol`` at ``/tmp`` and
read-only at ``/etc/flyte/secrets``), plus, for ENV_VAR (which Flyte refuses), our export annotation.
"""

from __future__ import annotations

from typing import Any

import pytest

from managers.filecases import (
    ANY,
    ENV,
    EXPORT_ANNOTATION,
    EXPORT_ENV,
    FILE,
    MOUNTS,
    PATH_ENV,
    FileManagerConformance,
    deny_reason,
    expected_pull_pod,
    exports,
    mutate,
)
from tasksecrets.sdk.secret import MountType, Secret

GROUP = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
IMAGE = "docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4"


class TestAWSConformance(FileManagerConformance):
    injector_name = "AWS"

    def refused_secrets(self) -> list[Secret]:
        return [
            Secret.from_wire(group="", key="k"),
            Secret.from_wire(group="g", key=""),
            Secret.from_wire(group="g", key="k", env_var="bad-name"),
        ]


class TestAWSConformanceWithoutExport(FileManagerConformance):
    injector_name = "AWS"
    supported_mounts = (MountType.ANY, MountType.FILE)
    webhook_config = {"exportEnvVars": False}

    def refused_secrets(self) -> list[Secret]:
        return [Secret.from_wire(group="g", key="k", mount_requirement=MountType.ENV_VAR)]


def expected_pod(secret: Secret, *, arn: str, filename: str) -> dict[str, Any]:
    """The input pod plus what compat.md's AWS bullet adds (and our export for ENV_VAR)."""
    env = [{"name": "SECRET_ARN", "value": arn}, {"name": "SECRET_FILENAME", "value": filename}]
    return expected_pull_pod(
        secret,
        manager="aws",
        image=IMAGE,
        path="/etc/flyte/secrets" + filename,
        sidecar={"env": env},
        write_dir="/tmp",
    )


@pytest.mark.parametrize("env_var", [None, "MY_VAR"])
@pytest.mark.parametrize("mount", MOUNTS)
def test_every_mount_and_env_var_exactly(mount: MountType, env_var: str | None) -> None:
    secret = Secret(group=GROUP, key="Db-Pass", mount_requirement=mount, env_var=env_var)
    result = mutate("AWS", [secret])
    assert result.pod == expected_pod(
        secret,
        arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:Db-Pass",
        filename="/arn:aws:secretsmanager:us-east-1:123456789012:secret/db-pass",
    )
    assert result.injections == [(secret, "AWS")]


def test_group_ending_and_key_starting_with_colon_are_trimmed_in_the_arn_only() -> None:
    secret = Secret(group=GROUP + ":", key=":db-pass", mount_requirement=FILE)
    result = mutate("AWS", [secret])
    assert result.pod == expected_pod(
        secret,
        arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:db-pass",
        filename="/arn:aws:secretsmanager:us-east-1:123456789012:secret:/:db-pass",
    )


def test_seed_naming_group_colon_key() -> None:
    # The seed: secrets are named <SECRET_GROUP>:<SECRET_KEY>.
    result = mutate("AWS", [Secret(group="my-team", key="api-token", mount_requirement=ANY)])
    sidecar = result.pod["spec"]["initContainers"][1]
    assert sidecar["env"][:2] == [
        {"name": "SECRET_ARN", "value": "my-team:api-token"},
        {"name": "SECRET_FILENAME", "value": "/my-team/api-token"},
    ]


def test_several_secrets_get_numbered_init_containers_and_one_volume() -> None:
    secrets = [
        Secret(group=GROUP, key="a", mount_requirement=FILE),
        Secret(group=GROUP, key="b", mount_requirement=ENV, env_var="B_VAR"),
        Secret(group=GROUP, key="c", mount_requirement=ENV),
    ]
    result = mutate("AWS", secrets)
    spec = result.pod["spec"]
    assert [c["name"] for c in spec["initContainers"]] == [
        "init-0",
        "aws-pull-secret-1",
        "aws-pull-secret-2",
        "aws-pull-secret-3",
    ]
    assert spec["volumes"] == [{"name": "aws-secret-vol", "emptyDir": {"medium": "Memory"}}]
    folder = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
    assert result.pod["metadata"]["annotations"][EXPORT_ANNOTATION] == exports(
        {
            f"_FSEC_{GROUP.upper()}_B": f"{folder}/b",
            "B_VAR": f"{folder}/b",
            f"_FSEC_{GROUP.upper()}_C": f"{folder}/c",
        }
    )
    assert spec["containers"][0]["env"] == [*PATH_ENV, *EXPORT_ENV]


def test_configured_image_and_resources() -> None:
    result = mutate(
        "aws",
        [Secret(group=GROUP, key="k", mount_requirement=FILE)],
        awsSecretManager={
            "sidecarImage": "registry.example.com/aws-sidecar:2",
            "resources": {"requests": {"cpu": 1, "memory": "64Mi"}},
        },
    )
    sidecar = result.pod["spec"]["initContainers"][1]
    assert sidecar["image"] == "registry.example.com/aws-sidecar:2"
    assert sidecar["resources"] == {"requests": {"cpu": "1", "memory": "64Mi"}}


def test_env_var_request_is_denied_when_export_is_disabled() -> None:
    reason = deny_reason("AWS", Secret(group=GROUP, key="k", mount_requirement=ENV), exportEnvVars=False)
    assert "ENV_VAR is not supported by AWS" in reason
    assert "exportEnvVars" in reason and "FILE" in reason
    assert f"Secret(group='{GROUP}', key='k'" in reason
