"""Flyte's expected pod mutations, injector by injector, through our whole webhook path.

Sources (flytepropeller ``pkg/webhook/``): ``k8s_secrets_test.go``, ``global_secrets_test.go``,
``aws_secret_manager_test.go``, ``gcp_secret_manager_test.go``, ``vault_secret_manager_test.go``
and ``utils.go`` (Vault templates). Flyte's tests call one injector on a bare pod; here the
request travels as a ``flyte.secrets/s0`` annotation and the configured chain (Global, then
``secretManagerType``) serves it, so the pods are what the webhook as a whole produces.
Every pod is validated with kubernetes-validate (tests/compat/flyte_pods.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flyte_pods import (
    DEFAULT_DIR_ENV,
    ENV_PREFIX_ENV,
    FILE_PREFIX_ENV,
    SIDECAR_RESOURCES,
    flyte_pod,
    mutate_flyte_pod,
)

from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.sdk.secret import MountType, Secret

ENV, FILE, ANY = MountType.ENV_VAR, MountType.FILE, MountType.ANY
IMAGE = "python:3.11-slim"
OPTIONAL_REF = {"secretKeyRef": {"name": "grOUP", "key": "HELLO", "optional": True}}
# base32("grOUP" + "_" + "") with the alphabet a-z1-6: Flyte's expected volume name.
GROUP_VOLUME = "m4ze5vkql3"


def only_container(result_pod: dict[str, Any]) -> dict[str, Any]:
    containers = result_pod["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# -- K8s (k8s_secrets_test.go) ---------------------------------------------------------------------


def test_k8s_env_var() -> None:
    """ "simple": ENV_VAR group/HELLO -> the optional secretKeyRef env var, then the prefix var.

    Flyte's vector names the Secret ``grOUP``; a ``secretKeyRef`` to that name is rejected by the
    API server (not a DNS-1123 subdomain), so ours denies it (docs/compat.md, differences) and the
    shape is checked with the lower-case name.
    """
    result = mutate_flyte_pod(flyte_pod([Secret(group="group", key="HELLO", mount_requirement=ENV)]))
    ref = {"secretKeyRef": {**OPTIONAL_REF["secretKeyRef"], "name": "group"}}
    assert only_container(result.pod) == {
        "name": "container1",
        "image": IMAGE,
        "env": [{"name": "_FSEC_GROUP_HELLO", "valueFrom": ref}, ENV_PREFIX_ENV],
    }
    assert "volumes" not in result.pod["spec"]


def test_k8s_env_var_of_a_name_no_secret_can_have_is_denied() -> None:
    denied = mutate_flyte_pod(flyte_pod([Secret(group="grOUP", key="HELLO", mount_requirement=ENV)]))
    assert not denied.allowed and denied.code == 403
    assert "Secret(group='grOUP', key='HELLO'" in str(denied.reason)
    assert "DNS-1123 subdomain" in str(denied.reason)


FILE_VOLUME = {
    "name": GROUP_VOLUME,
    "secret": {"secretName": "grOUP", "items": [{"key": "HELLO", "path": "hello"}], "optional": True},
}
FILE_CONTAINER = {
    "name": "container1",
    "image": IMAGE,
    "volumeMounts": [{"name": GROUP_VOLUME, "readOnly": True, "mountPath": "/etc/flyte/secrets/group"}],
    "env": [DEFAULT_DIR_ENV, FILE_PREFIX_ENV],
}


@pytest.mark.parametrize("mount", [FILE, ANY])
def test_k8s_file_single(mount: MountType) -> None:
    """ "require file single" (ANY falls through to FILE in Flyte)."""
    result = mutate_flyte_pod(flyte_pod([Secret(group="grOUP", key="HELLO", mount_requirement=mount)]))
    assert result.pod["spec"]["volumes"] == [FILE_VOLUME]
    assert only_container(result.pod) == FILE_CONTAINER


def test_k8s_multiple_files_from_the_same_group() -> None:
    """ "require multiple file from same secret group": the item joins the existing volume; the
    mount and env vars already there are not repeated."""
    pod = flyte_pod(
        [Secret(group="grOUP", key="world", mount_requirement=FILE)],
        containers=[FILE_CONTAINER],
        volumes=[FILE_VOLUME],
    )
    result = mutate_flyte_pod(pod)
    items = [{"key": "HELLO", "path": "hello"}, {"key": "world", "path": "world"}]
    assert result.pod["spec"]["volumes"] == [
        {**FILE_VOLUME, "secret": {**FILE_VOLUME["secret"], "items": items}}
    ]
    assert only_container(result.pod) == FILE_CONTAINER


def test_k8s_two_requests_in_one_pod_share_the_volume() -> None:
    """The same two vectors as one pod with s0 and s1 (the path a real pod takes)."""
    secrets = [Secret(group="grOUP", key=k, mount_requirement=FILE) for k in ("HELLO", "world")]
    result = mutate_flyte_pod(flyte_pod(secrets))
    assert result.pod["spec"]["volumes"][0]["secret"]["items"] == [
        {"key": "HELLO", "path": "hello"},
        {"key": "world", "path": "world"},
    ]
    assert only_container(result.pod) == FILE_CONTAINER


@pytest.mark.parametrize(
    "secret",
    [
        Secret.from_wire(key="HELLO", mount_requirement=ENV),
        Secret.from_wire(key="hello", mount_requirement=FILE),
    ],
    ids=["require-group", "require-file-all-keys"],
)
def test_k8s_without_group_is_refused(secret: Secret) -> None:
    """Flyte's injector errors; Ours (compat.md section 5): the pod is denied, naming the reason."""
    result = mutate_flyte_pod(flyte_pod([secret]))
    assert not result.allowed and result.code == 403
    assert result.reason is not None and "group" in result.reason


# -- Global (global_secrets_test.go) -----------------------------------------------------------------

HELD = GlobalSecretSource(environ={"FLYTE_SECRET_GROUP_HELLO": "FAKE-my_password"}, secrets_dir=None)


def test_global_simple() -> None:
    """ "simple": the prefix var first, then ``_FSEC_GROUP_HELLO`` with the held value."""
    result = mutate_flyte_pod(flyte_pod([Secret(group="group", key="hello")]), global_secrets=HELD)
    assert only_container(result.pod)["env"] == [
        ENV_PREFIX_ENV,
        {"name": "_FSEC_GROUP_HELLO", "value": "FAKE-my_password"},
    ]
    assert result.injections[0][1] == "Global"


def test_global_reads_the_secrets_prefix_directory(tmp_path: Path) -> None:
    """FileEnvSecretManager: ``<secrets-prefix>/<group>/<key>``, case kept, whole content."""
    (tmp_path / "Group").mkdir()
    (tmp_path / "Group" / "Hello").write_text("FAKE-file-value\n")
    source = GlobalSecretSource(environ={}, secrets_dir=tmp_path)
    result = mutate_flyte_pod(
        flyte_pod([Secret(group="Group", key="Hello", mount_requirement=ENV)]), global_secrets=source
    )
    assert {"name": "_FSEC_GROUP_HELLO", "value": "FAKE-file-value\n"} in only_container(result.pod)["env"]


def test_global_file_request_passes_on() -> None:
    """ "require file": Flyte's Global errors; Ours (compat.md section 4): the configured manager
    (K8s) serves it, and the held value never reaches the pod."""
    result = mutate_flyte_pod(
        flyte_pod([Secret(group="group", key="hello", mount_requirement=FILE)]), global_secrets=HELD
    )
    assert result.allowed and result.injections[0][1] == "K8s"
    assert "FAKE-my_password" not in repr(result.pod)


def test_global_not_found_passes_on() -> None:
    """ "not found": Global declines and K8s serves the request."""
    result = mutate_flyte_pod(
        flyte_pod([Secret(group="other", key="hello", mount_requirement=ENV)]), global_secrets=HELD
    )
    assert result.injections[0][1] == "K8s"


# -- AWS (aws_secret_manager_test.go) ----------------------------------------------------------------


def aws_init_container(index: int, arn: str, filename: str) -> dict[str, Any]:
    return {
        "name": f"aws-pull-secret-{index}",
        "image": "docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4",
        "env": [
            {"name": "SECRET_ARN", "value": arn},
            {"name": "SECRET_FILENAME", "value": filename},
            DEFAULT_DIR_ENV,
            FILE_PREFIX_ENV,
        ],
        "volumeMounts": [{"name": "aws-secret-vol", "mountPath": "/tmp"}],
        "resources": SIDECAR_RESOURCES,
    }


def test_aws_vector() -> None:
    """Secret(group="arn", key="name"), no containers: Flyte's exact init container and volume."""
    pod = flyte_pod([Secret(group="arn", key="name")], containers=[])
    result = mutate_flyte_pod(pod, {"secretManagerType": "AWS"})
    assert result.pod["spec"]["volumes"] == [{"name": "aws-secret-vol", "emptyDir": {"medium": "Memory"}}]
    assert result.pod["spec"]["initContainers"] == [aws_init_container(0, "arn:name", "/arn/name")]
    assert result.pod["spec"]["containers"] == []


def test_aws_vector_with_a_container() -> None:
    """The same request in a pod with a container: it mounts the volume read-only, gets the path vars."""
    secret = Secret(group="arn:aws:secretsmanager:us-east-1:123456789012:secret:", key=":My-Key")
    result = mutate_flyte_pod(flyte_pod([secret]), {"secretManagerType": "AWS"})
    assert result.pod["spec"]["initContainers"] == [
        aws_init_container(
            0,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:My-Key",
            "/arn:aws:secretsmanager:us-east-1:123456789012:secret:/:my-key",
        )
    ]
    assert only_container(result.pod) == {
        "name": "container1",
        "image": IMAGE,
        "volumeMounts": [{"name": "aws-secret-vol", "readOnly": True, "mountPath": "/etc/flyte/secrets"}],
        "env": [DEFAULT_DIR_ENV, FILE_PREFIX_ENV],
    }


# -- GCP (gcp_secret_manager_test.go) ----------------------------------------------------------------

GCP_SCRIPT = (
    "gcloud secrets versions access TestSecret/versions/2 --out-file=/etc/flyte/secrets/testsecret/2 || "
    "gcloud secrets versions access 2 --secret=TestSecret --out-file=/etc/flyte/secrets/testsecret/2; "
    "chmod +rX /etc/flyte/secrets/testsecret /etc/flyte/secrets/testsecret/2"
)


def test_gcp_vector() -> None:
    """Secret(group="TestSecret", group_version="2") with no key, as Flyte's producer sends it."""
    pod = flyte_pod([Secret.from_wire(group="TestSecret", group_version="2")], containers=[])
    result = mutate_flyte_pod(pod, {"secretManagerType": "GCP"})
    assert result.pod["spec"]["volumes"] == [{"name": "gcp-secret-vol", "emptyDir": {"medium": "Memory"}}]
    assert result.pod["spec"]["initContainers"] == [
        {
            "name": "gcp-pull-secret-0",
            "image": "gcr.io/google.com/cloudsdktool/cloud-sdk:alpine",
            "command": ["sh", "-ec", GCP_SCRIPT],
            "env": [DEFAULT_DIR_ENV, FILE_PREFIX_ENV],
            "volumeMounts": [{"name": "gcp-secret-vol", "mountPath": "/etc/flyte/secrets"}],
            "resources": SIDECAR_RESOURCES,
        }
    ]


def test_gcp_second_secret_is_numbered_after_the_first() -> None:
    secrets = [Secret(group="TestSecret", key="k", group_version=v) for v in ("1", "2")]
    result = mutate_flyte_pod(flyte_pod(secrets), {"secretManagerType": "GCP"})
    names = [c["name"] for c in result.pod["spec"]["initContainers"]]
    assert names == ["gcp-pull-secret-0", "gcp-pull-secret-1"]
    assert len(result.pod["spec"]["volumes"]) == 1


# -- Vault (vault_secret_manager_test.go, utils.go) --------------------------------------------------

SECRET_PREFIX = "vault.hashicorp.com/agent-inject-secret-"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
KV1 = '{{- with secret "foo" -}}{{ .Data.bar }}{{- end -}}'
KV2 = '{{- with secret "foo" -}}{{ .Data.data.bar }}{{- end -}}'


def expected_vault_annotations(
    uuid: str, template: str | None, *, role: str = "flyte", pre_populate: str = "true"
) -> dict[str, str]:
    annotations = {
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/secret-volume-path": "/etc/flyte/secrets",
        "vault.hashicorp.com/role": role,
        "vault.hashicorp.com/agent-pre-populate-only": pre_populate,
        f"vault.hashicorp.com/agent-inject-secret-{uuid}": "foo",
        f"vault.hashicorp.com/agent-inject-file-{uuid}": "foo/bar",
    }
    if template is not None:
        annotations[f"vault.hashicorp.com/agent-inject-template-{uuid}"] = template
    return annotations


VAULT_CASES = [
    pytest.param(
        {"kvVersion": "2"}, "kv1", {}, expected_vault_annotations, KV1, {}, id="kv1-overrides-config"
    ),
    pytest.param(
        {"kvVersion": "1"}, "kv2", {}, expected_vault_annotations, KV2, {}, id="kv2-overrides-config"
    ),
    pytest.param(
        {"kvVersion": "2", "annotations": {"vault.hashicorp.com/auth-config-type": "gce"}},
        None,
        {},
        expected_vault_annotations,
        KV2,
        {"vault.hashicorp.com/auth-config-type": "gce"},
        id="extra-config-annotations",
    ),
    pytest.param(
        {"kvVersion": "2"},
        None,
        {"vault.hashicorp.com/role": "my-role"},
        lambda u, t: expected_vault_annotations(u, t, role="my-role"),
        KV2,
        {},
        id="pod-annotation-not-overwritten",
    ),
    pytest.param(
        {"kvVersion": "2", "annotations": {"vault.hashicorp.com/agent-pre-populate-only": "false"}},
        None,
        {},
        lambda u, t: expected_vault_annotations(u, t, pre_populate="false"),
        KV2,
        {},
        id="config-overrides-default",
    ),
    pytest.param(
        {"kvVersion": "1"}, "db", {}, expected_vault_annotations, None, {}, id="db-engine-no-template"
    ),
    pytest.param({"kvVersion": "1"}, None, {}, expected_vault_annotations, KV1, {}, id="legacy-kv-version-1"),
    pytest.param({"kvVersion": "2"}, None, {}, expected_vault_annotations, KV2, {}, id="legacy-kv-version-2"),
]


@pytest.mark.parametrize(
    ("vault", "group_version", "pod_annotations", "expect", "template", "extra"), VAULT_CASES
)
def test_vault_vectors(
    vault: dict[str, Any],
    group_version: str | None,
    pod_annotations: dict[str, str],
    expect: Any,
    template: str | None,
    extra: dict[str, str],
) -> None:
    """Flyte's eight Vault cases. The id is Flyte's random UUID; Ours (docs/compat.md section 6, deterministic
    patches): UUID4-shaped, derived from the secret and its position, so the same pod twice gives
    the same id."""
    secret = Secret(group="foo", key="bar", group_version=group_version)
    pod = flyte_pod([secret], annotations=pod_annotations)
    result = mutate_flyte_pod(
        pod, {"secretManagerType": "Vault", "vaultSecretManager": {"role": "flyte", **vault}}
    )
    annotations = dict(result.pod["metadata"]["annotations"])
    ids = [k[len(SECRET_PREFIX) :] for k in annotations if k.startswith(SECRET_PREFIX)]
    assert len(ids) == 1 and UUID4.match(ids[0])
    request_annotations = {k: v for k, v in annotations.items() if k.startswith("flyte.secrets/")}
    assert list(request_annotations) == ["flyte.secrets/s0"]
    ours = {k: v for k, v in annotations.items() if not k.startswith("flyte.secrets/")}
    assert ours == {**expect(ids[0], template), **extra}
    assert only_container(result.pod) == {
        "name": "container1",
        "image": IMAGE,
        "env": [DEFAULT_DIR_ENV, FILE_PREFIX_ENV],
    }
    again = mutate_flyte_pod(
        pod, {"secretManagerType": "Vault", "vaultSecretManager": {"role": "flyte", **vault}}
    )
    assert again.patch == result.patch


def test_vault_two_secrets_get_distinct_ids() -> None:
    secrets = [Secret(group="foo", key="bar"), Secret(group="foo", key="baz")]
    result = mutate_flyte_pod(flyte_pod(secrets), {"secretManagerType": "Vault"})
    annotations = result.pod["metadata"]["annotations"]
    files = sorted(
        v for k, v in annotations.items() if k.startswith("vault.hashicorp.com/agent-inject-file-")
    )
    assert files == ["foo/bar", "foo/baz"]


# -- paths as Go's filepath.Join builds them (aws/gcp/vault sources) ---------------------------------


@pytest.mark.parametrize(
    ("group", "key", "filename"),
    [("arn", "/name", "/arn/name"), ("//arn", "name", "/arn/name"), ("arn/", "name/", "/arn/name")],
)
def test_aws_filename_is_cleaned_like_go(group: str, key: str, filename: str) -> None:
    """SECRET_FILENAME = filepath.Join("/", lower(group), lower(key)): a part starting with '/'
    does not reset the path (it did with posixpath.join), and '//' is cleaned."""
    result = mutate_flyte_pod(
        flyte_pod([Secret.from_wire(group=group, key=key)]), {"secretManagerType": "AWS"}
    )
    env = {e["name"]: e.get("value", "") for e in result.pod["spec"]["initContainers"][0]["env"]}
    assert env["SECRET_FILENAME"] == filename


@pytest.mark.parametrize("group", ["/TestSecret", "//TestSecret", "TestSecret/"])
def test_gcp_paths_stay_in_the_volume_like_go(group: str) -> None:
    """D = lower(filepath.Join("/etc/flyte/secrets", group)): a rooted group stays in the volume."""
    pod = flyte_pod([Secret.from_wire(group=group, key="k", group_version="2")])
    result = mutate_flyte_pod(pod, {"secretManagerType": "GCP"})
    script = result.pod["spec"]["initContainers"][0]["command"][2]
    assert script.endswith("chmod +rX /etc/flyte/secrets/testsecret /etc/flyte/secrets/testsecret/2")


def test_vault_env_var_path_stays_in_the_volume() -> None:
    """The agent writes ``<secret-volume-path>/<group>/<key>``; env_var holds that path, joined like Go."""
    pod = flyte_pod([Secret(group="/secret/data/app", key="api", env_var="API_PATH")])
    result = mutate_flyte_pod(pod, {"secretManagerType": "Vault"})
    env = {e["name"]: e.get("value") for e in only_container(result.pod)["env"]}
    assert env["API_PATH"] == "/etc/flyte/secrets/secret/data/app/api"
