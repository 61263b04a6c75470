"""Details of Flyte's Go implementation that our webhook reproduces: admit-mode on undecodable
annotations, the empty file-prefix env var marshalled without a value, and cleaned mount paths."""

from __future__ import annotations

import pytest
from flyte_pods import flyte_pod, mutate_flyte_pod

from tasksecrets.sdk.secret import MountType, Secret


@pytest.mark.parametrize(
    "value",
    ["nnsxsorcnv4v623fperca", "not base32!", "nnsxsoraejwxsx2lmv3secqaaaaaaaaaaa"],
    ids=["secrets-test-vector-not-utf8", "bad-base32", "bad-text"],
)
def test_admit_mode_admits_a_pod_whose_annotation_does_not_decode(value: str) -> None:
    """Flyte v1: the secrets mutator is not required, so any error of it, decoding included
    (secrets_test.go decodes ``nnsxsorcnv4v623fperca``), admits the pod unchanged.
    ``onInjectionError: admit`` promises that behaviour (docs/compat.md sections 5 and 6).
    """
    pod = flyte_pod([Secret(group="grOUP", key="HELLO", mount_requirement=MountType.ENV_VAR)])
    pod["metadata"]["annotations"]["flyte.secrets/s1"] = value
    result = mutate_flyte_pod(pod, {"onInjectionError": "admit"})
    assert result.allowed and result.patch == []
    assert result.warnings and "flyte.secrets/s1" in result.warnings[0]
    denied = mutate_flyte_pod(pod)
    assert not denied.allowed and denied.code == 400


def test_file_prefix_env_var_has_no_value_member() -> None:
    """Flyte's Go ``EnvVar{Name: "FLYTE_SECRETS_FILE_PREFIX", Value: ""}`` marshals as
    ``{"name": "FLYTE_SECRETS_FILE_PREFIX"}`` (``value`` is omitempty).
    """
    pod = flyte_pod([Secret(group="grOUP", key="HELLO", mount_requirement=MountType.FILE)])
    result = mutate_flyte_pod(pod)
    env = result.pod["spec"]["containers"][0]["env"]
    assert {"name": "FLYTE_SECRETS_FILE_PREFIX"} in env


@pytest.mark.parametrize(
    ("group", "mount_path"), [("grOUP/", "/etc/flyte/secrets/group"), ("/grOUP", "/etc/flyte/secrets/group")]
)
def test_k8s_mount_path_is_cleaned_like_go(group: str, mount_path: str) -> None:
    """Flyte: ``filepath.Join("/etc/flyte/secrets", lower(group))`` (cleaned). ``grOUP/`` mounts at
    ``/etc/flyte/secrets/group``.
    """
    pod = flyte_pod([Secret.from_wire(group=group, key="HELLO", mount_requirement=MountType.FILE)])
    result = mutate_flyte_pod(pod)
    mounts = result.pod["spec"]["containers"][0]["volumeMounts"]
    assert mounts[0]["mountPath"] == mount_path
