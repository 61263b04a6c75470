"""Pure mutation: order, determinism, denial and admit policy, patch shapes and RFC 6901 escaping.

Test-only injectors defined here exercise the editor paths the K8s/Global injectors do not
(init containers, annotations); they are registered through the public registry."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import jsonpatch
import pytest

from managers.conformance import check_mutation, make_pod, mutate_checked
from tasksecrets.admission.config import Config, parse_config
from tasksecrets.admission.mutator import Mutator, mutate_pod
from tasksecrets.admission.patches import apply_patch, build_patch, escape_pointer_token, json_pointer
from tasksecrets.errors import InjectionError
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.fragments import env_value
from tasksecrets.managers.plugin import ManagerPlugin, SharedSettings
from tasksecrets.managers.registry import register_manager
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.wire import encode_secret


class SidecarInjector:
    """Adds an init container per secret and an annotation with "/" in its key."""

    name: ClassVar[str] = "TestSidecar"

    @classmethod
    def from_config(cls, section: None, *, shared: SharedSettings) -> SidecarInjector:
        return cls()

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        if secret.group.startswith("skip"):
            return False
        target = editor.add_init_container(
            {
                "name": f"pull-{editor.init_container_count}",
                "image": "busybox:1.36",
                "volumeMounts": [{"name": "pulled", "mountPath": "/tmp"}],
            }
        )
        editor.add_volume({"name": "pulled", "emptyDir": {"medium": "Memory"}})
        editor.add_volume_mount({"name": "pulled", "mountPath": "/etc/flyte/secrets", "readOnly": True})
        editor.add_env(env_value("PULLED_" + secret.key.upper(), "1"), targets=[target])
        editor.set_annotation(f"example.com/{secret.key}.x", secret.group)  # a valid key: no "~"
        editor.set_annotation("example.com/keep", "ours", keep_existing=True)
        return True


class BrokenAfterEdit:
    name: ClassVar[str] = "TestBroken"

    @classmethod
    def from_config(cls, section: None, *, shared: SharedSettings) -> BrokenAfterEdit:
        return cls()

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        if secret.key == "crash":
            raise KeyError("internal")
        editor.add_env(env_value("HALF", "1"))
        raise InjectionError("changed my mind")


register_manager(ManagerPlugin(name="TestSidecar", injector=SidecarInjector))
register_manager(ManagerPlugin(name="TestBroken", injector=BrokenAfterEdit))


def config(**webhook: Any) -> Config:
    return parse_config({"webhook": webhook})


def test_pod_without_requests_is_admitted_unchanged() -> None:
    pod = make_pod([])
    result = mutate_checked(pod, Mutator(config()))
    assert result.allowed and result.patch == [] and result.pod == pod and result.injections == []


def test_index_order_and_same_input_same_patch() -> None:
    secrets = [Secret(group=f"g{i}", key="k", mount_requirement=MountType.ENV_VAR) for i in range(12)]
    pod = make_pod(secrets)
    pod["metadata"]["annotations"] = dict(reversed(pod["metadata"]["annotations"].items()))
    result = mutate_checked(pod, Mutator(config()))
    assert [s for s, _ in result.injections] == secrets
    names = [e["name"] for e in result.pod["spec"]["containers"][0]["env"]]
    assert names[:3] == ["_FSEC_G0_K", "FLYTE_SECRETS_ENV_PREFIX", "_FSEC_G1_K"]
    assert names[-1] == "_FSEC_G11_K"
    assert mutate_pod(copy.deepcopy(pod), config()).patch == result.patch


def test_patch_shapes_for_existing_and_missing_lists() -> None:
    pod = make_pod([Secret(group="g", key="k", mount_requirement=MountType.FILE)])
    pod["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    pod["spec"]["containers"][0]["volumeMounts"] = []
    pod["spec"]["containers"][1]["env"] = None
    pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    result = mutate_checked(pod, Mutator(config()))
    paths = [(op["op"], op["path"]) for op in result.patch]
    assert ("add", "/spec/volumes/-") in paths
    assert ("add", "/spec/containers/0/env/-") in paths
    assert ("add", "/spec/containers/0/volumeMounts/-") in paths
    assert ("add", "/spec/containers/1/env") in paths  # null is replaced by the whole list
    assert ("add", "/spec/initContainers/0/volumeMounts") in paths
    assert all(op["op"] == "add" for op in result.patch)


def test_init_containers_annotations_and_pointer_escaping() -> None:
    pod = make_pod([Secret(group="g", key="a"), Secret(group="skip-me", key="b"), Secret(group="h", key="c")])
    pod["metadata"]["annotations"]["example.com/keep"] = "theirs"
    result = mutate_checked(pod, Mutator(config(secretManagerTypes=["TestSidecar", "K8s"])))
    assert [m for _, m in result.injections] == ["TestSidecar", "K8s", "TestSidecar"]
    inits = result.pod["spec"]["initContainers"]
    assert [c["name"] for c in inits] == ["init-0", "pull-1", "pull-2"]
    assert inits[1]["env"][0]["name"] == "PULLED_A"
    # Later secrets' env reaches the added init containers too, and their own /tmp mount is kept.
    assert "FLYTE_SECRETS_DEFAULT_DIR" in [e["name"] for e in inits[1]["env"]]
    assert inits[1]["volumeMounts"][0] == {"name": "pulled", "mountPath": "/tmp"}
    assert [m["name"] for m in inits[1]["volumeMounts"]].count("pulled") == 1
    annotations = result.pod["metadata"]["annotations"]
    assert annotations["example.com/a.x"] == "g" and annotations["example.com/keep"] == "theirs"
    assert {"op": "add", "path": "/metadata/annotations/example.com~1a.x", "value": "g"} in result.patch
    assert ("add", "/spec/initContainers/-") in [(op["op"], op["path"]) for op in result.patch]


def test_pointer_escaping() -> None:
    assert escape_pointer_token("a/b~c") == "a~1b~0c"
    assert escape_pointer_token("~1") == "~01"
    assert json_pointer("metadata", "annotations", "vault.hashicorp.com/role") == (
        "/metadata/annotations/vault.hashicorp.com~1role"
    )


def test_patch_for_a_pod_without_annotations_or_metadata() -> None:
    for pod in (
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}},
        {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []}},
    ):
        editor = PodEditor(pod)
        editor.set_annotation("a/b", "v")
        patched = apply_patch(pod, build_patch(editor))
        assert jsonpatch.apply_patch(copy.deepcopy(pod), build_patch(editor)) == patched
        assert patched["metadata"]["annotations"] == {"a/b": "v"} and "annotations" not in pod.get(
            "metadata", {}
        )


def test_denial_names_each_secret_and_reason() -> None:
    bad = [Secret.from_wire(group="", key="k"), Secret.from_wire(group="g", key="", mount_requirement=2)]
    pod = make_pod([Secret(group="ok", key="k"), *bad])
    result = mutate_checked(pod, Mutator(config()))
    assert not result.allowed and result.code == 403
    reason = result.reason or ""
    assert "could not inject 2 secrets" in reason
    assert "Secret(group='', key='k'): K8s: needs both group and key; the request has no group" in reason
    assert "Secret(group='g', key='', mount_requirement=Secret.MountType.FILE)" in reason


def test_admit_policy_admits_without_the_secret_and_warns() -> None:
    pod = make_pod([Secret(group="ok", key="k"), Secret.from_wire(group="", key="k")])
    result = mutate_checked(pod, Mutator(config(onInjectionError="admit")))
    assert result.allowed and len(result.injections) == 1
    assert len(result.warnings) == 1 and "Secret(group='', key='k')" in result.warnings[0]


def test_undecodable_annotations_are_denied_with_400_unless_admitting() -> None:
    pod = make_pod([Secret(group="ok", key="k")])
    pod["metadata"]["annotations"]["flyte.secrets/s1"] = "not base32!"
    result = mutate_checked(pod, Mutator(config()))
    assert not result.allowed and result.code == 400 and "flyte.secrets/s1" in (result.reason or "")
    result = mutate_checked(pod, Mutator(config(onInjectionError="admit")))
    assert result.allowed and result.patch == [] and "flyte.secrets/s1" in result.warnings[0]


def test_an_injector_failing_after_editing_denies_and_bugs_do_not_crash() -> None:
    pod = make_pod([Secret(group="g", key="k")])
    result = mutate_checked(pod, Mutator(config(secretManagerTypes=["TestBroken"], onInjectionError="admit")))
    assert not result.allowed and "failed after changing the pod" in (result.reason or "")
    pod = make_pod([Secret(group="g", key="crash")])
    result = mutate_checked(pod, Mutator(config(secretManagerTypes=["TestBroken", "K8s"])))
    assert result.allowed and result.injections[0][1] == "K8s"
    result = mutate_checked(pod, Mutator(config(secretManagerTypes=["TestBroken"])))
    assert "TestBroken: internal error (KeyError)" in (result.reason or "")


@pytest.mark.parametrize(
    "spec",
    [
        {"containers": "nope"},
        {"containers": [42]},
        {"containers": [{"name": "a", "image": "x", "env": "nope"}]},
        {"initContainers": {"a": 1}, "containers": []},
    ],
)
def test_unusable_pod_shapes_are_denied_with_400(spec: dict[str, Any]) -> None:
    pod = {
        "metadata": {"annotations": {"flyte.secrets/s0": encode_secret(Secret(group="g", key="k"))}},
        "spec": spec,
    }
    result = Mutator(config()).mutate(pod)
    assert not result.allowed and result.code == 400


def test_two_container_five_secret_pod_validates() -> None:
    secrets = [
        Secret(group="db", key="user", mount_requirement=MountType.ENV_VAR, env_var="DB_USER"),
        Secret(group="db", key="password", mount_requirement=MountType.FILE, env_var="DB_PASSWORD_FILE"),
        Secret(group="api", key="token"),
        Secret(group="api", key="refresh", group_version="v2", mount_requirement=MountType.FILE),
        Secret(group="cloud", key="Credentials", mount_requirement=MountType.ENV_VAR),
    ]
    pod = make_pod(secrets, init_containers=0, ephemeral=False)
    result = mutate_checked(pod, Mutator(config()))
    check_mutation(pod, result)
    assert len(result.injections) == 5
