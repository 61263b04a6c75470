"""K8s injector: the conformance suite plus every rule of compat.md section 4 for K8s, exactly."""

from __future__ import annotations

from typing import Any

from managers.conformance import InjectorConformance, make_pod, mutate_checked
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.managers.k8s.injector import secret_volume_name
from tasksecrets.sdk.secret import MountType, Secret

ENV, FILE, ANY = MountType.ENV_VAR, MountType.FILE, MountType.ANY
REF = {"secretKeyRef": {"name": "user-info", "key": "user_secret", "optional": True}}
PATH_ENV = [
    {"name": "FLYTE_SECRETS_DEFAULT_DIR", "value": "/etc/flyte/secrets"},
    {"name": "FLYTE_SECRETS_FILE_PREFIX"},
]


class TestK8sConformance(InjectorConformance):
    injector_name = "K8s"

    def refused_secrets(self) -> list[Secret]:
        return [
            Secret.from_wire(group="", key="k"),
            Secret.from_wire(group="g", key=""),
            Secret.from_wire(group="g", key="k", env_var="not-valid"),
        ]


def mutate(secrets: list[Secret], **pod_args: Any) -> dict[str, Any]:
    mutator = Mutator(parse_config({"webhook": {"secretManagerType": "K8s"}}))
    result = mutate_checked(make_pod(secrets, **pod_args), mutator)
    assert result.allowed, result.reason
    return result.pod


def test_env_var_request_exactly() -> None:
    pod = mutate([Secret(group="user-info", key="user_secret", mount_requirement=ENV)])
    for container in [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]:
        assert container["env"] == [
            {"name": "_FSEC_USER-INFO_USER_SECRET", "valueFrom": REF},
            {"name": "FLYTE_SECRETS_ENV_PREFIX", "value": "_FSEC_"},
        ]
        assert "volumeMounts" not in container
    assert "volumes" not in pod["spec"]
    assert pod["spec"]["ephemeralContainers"] == [{"name": "debug", "image": "busybox:1.36"}]


def test_env_var_request_with_env_var_name() -> None:
    pod = mutate([Secret(group="user-info", key="user_secret", mount_requirement=ENV, env_var="MY_SECRET")])
    assert pod["spec"]["containers"][0]["env"] == [
        {"name": "_FSEC_USER-INFO_USER_SECRET", "valueFrom": REF},
        {"name": "MY_SECRET", "valueFrom": REF},
        {"name": "FLYTE_SECRETS_ENV_PREFIX", "value": "_FSEC_"},
    ]


def test_file_request_exactly() -> None:
    for mount in (FILE, ANY):
        pod = mutate([Secret(group="user-info", key="User_Secret", mount_requirement=mount)])
        assert pod["spec"]["volumes"] == [
            {
                "name": "ovzwk3rnnfxgm216",
                "secret": {
                    "secretName": "user-info",
                    "items": [{"key": "User_Secret", "path": "user_secret"}],
                    "optional": True,
                },
            }
        ]
        for container in [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]:
            assert container["volumeMounts"] == [
                {"name": "ovzwk3rnnfxgm216", "readOnly": True, "mountPath": "/etc/flyte/secrets/user-info"}
            ]
            assert container["env"] == PATH_ENV


def test_file_request_with_env_var_holds_the_path() -> None:
    pod = mutate(
        [Secret(group="User-Info", key="User_Secret", mount_requirement=FILE, env_var="SECRET_PATH")]
    )
    assert pod["spec"]["containers"][1]["env"] == [
        *PATH_ENV,
        {"name": "SECRET_PATH", "value": "/etc/flyte/secrets/user-info/user_secret"},
    ]
    assert pod["spec"]["containers"][1]["volumeMounts"][0]["mountPath"] == "/etc/flyte/secrets/user-info"


def test_volume_name_is_base32_of_group_and_version() -> None:
    assert secret_volume_name(Secret(group="user-info", key="k")) == "ovzwk3rnnfxgm216"
    assert secret_volume_name(Secret(group="a", key="k", group_version="v1")) == "mfpxmmi"
    pod = mutate([Secret(group="a", key="k", group_version="v1", mount_requirement=FILE)])
    assert pod["spec"]["volumes"][0]["name"] == "mfpxmmi"


def test_same_group_shares_one_volume_and_one_mount() -> None:
    pod = mutate(
        [
            Secret(group="db", key="user", mount_requirement=FILE),
            Secret(group="db", key="password", mount_requirement=ANY),
            Secret(group="db", key="password2", group_version="v2", mount_requirement=FILE),
            Secret(group="api", key="token", mount_requirement=FILE),
            Secret(group="db", key="dsn", mount_requirement=ENV),
        ]
    )
    volumes = pod["spec"]["volumes"]
    assert [v["name"] for v in volumes] == [
        secret_volume_name(Secret(group="db", key="x")),
        "mfygsxy",
    ]  # base32("api_")
    assert volumes[0]["secret"]["items"] == [
        {"key": "user", "path": "user"},
        {"key": "password", "path": "password"},
        {"key": "password2", "path": "password2"},
    ]
    container = pod["spec"]["containers"][0]
    assert [m["mountPath"] for m in container["volumeMounts"]] == [
        "/etc/flyte/secrets/db",
        "/etc/flyte/secrets/api",
    ]
    assert [e["name"] for e in container["env"]] == [
        "FLYTE_SECRETS_DEFAULT_DIR",
        "FLYTE_SECRETS_FILE_PREFIX",
        "_FSEC_DB_DSN",
        "FLYTE_SECRETS_ENV_PREFIX",
    ]


def test_existing_volume_for_the_same_secret_gets_the_item() -> None:
    pod = make_pod([Secret(group="db", key="password", mount_requirement=FILE)])
    pod["spec"]["volumes"] = [
        {"name": "scratch", "emptyDir": {}},
        {"name": "user-db", "secret": {"secretName": "db", "items": [{"key": "user", "path": "user"}]}},
    ]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "user-db", "mountPath": "/db"}]
    pod["spec"]["containers"][0]["env"] = [{"name": "FLYTE_SECRETS_DEFAULT_DIR", "value": "/mine"}]
    result = mutate_checked(pod, Mutator(parse_config({})))
    spec = result.pod["spec"]
    assert len(spec["volumes"]) == 2
    assert spec["volumes"][1]["secret"]["items"] == [
        {"key": "user", "path": "user"},
        {"key": "password", "path": "password"},
    ]
    assert spec["volumes"][0] == {"name": "scratch", "emptyDir": {}}
    # The container that already mounts the volume keeps its mount and its own env value.
    assert spec["containers"][0]["volumeMounts"] == [{"name": "user-db", "mountPath": "/db"}]
    assert spec["containers"][0]["env"][0] == {"name": "FLYTE_SECRETS_DEFAULT_DIR", "value": "/mine"}
    assert spec["containers"][1]["volumeMounts"] == [
        {"name": "user-db", "readOnly": True, "mountPath": "/etc/flyte/secrets/db"}
    ]
    assert {
        "op": "add",
        "path": "/spec/volumes/1/secret/items/-",
        "value": {"key": "password", "path": "password"},
    } in (result.patch)
