"""The conformance suite every injector's tests inherit, and the checks every mutation test runs.

A backend's test module subclasses :class:`InjectorConformance` (named ``Test...``), sets
``injector_name`` and the mounts it serves, and gets the common rules of compat.md section 4
checked: every init container and container but never ephemeral ones, existing env vars left
alone, existing mounts of a volume not repeated, deterministic output, a patch that applies with
jsonpatch to exactly the returned pod, strict kubernetes-validate of every pod, the input never
changed, and refusals that leave the pod untouched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import jsonpatch
import pytest

from k8svalidate import assert_api_server_accepts, assert_valid_manifest
from tasksecrets.admission.config import Config, build_injector, parse_config
from tasksecrets.admission.mutator import MutationResult, Mutator
from tasksecrets.errors import InjectionError
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.plugin import Injector
from tasksecrets.managers.registry import canonical_manager_name, get_injector_class, get_plugin
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.wire import encode_pod_metadata

__all__ = ["InjectorConformance", "check_mutation", "make_pod", "make_review_body", "mutate_checked"]


def make_pod(
    secrets: list[Secret],
    *,
    containers: int = 2,
    init_containers: int = 1,
    ephemeral: bool = True,
    namespace: str = "flytesnacks-development",
) -> dict[str, Any]:
    """A valid pod requesting ``secrets`` with the given numbers of containers."""
    labels, annotations = encode_pod_metadata(secrets)
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{"name": f"main-{i}", "image": "python:3.11-slim"} for i in range(containers)],
    }
    if init_containers:
        spec["initContainers"] = [
            {"name": f"init-{i}", "image": "busybox:1.36"} for i in range(init_containers)
        ]
    if ephemeral:
        spec["ephemeralContainers"] = [{"name": "debug", "image": "busybox:1.36"}]
    metadata: dict[str, Any] = {"name": "task-pod", "namespace": namespace, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def make_review_body(pod: Any, *, uid: str = "uid-1", namespace: str | None = None) -> bytes:
    """An AdmissionReview (v1) of ``pod`` as the API server sends it; ``namespace``: the request's."""
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"kind": "Pod"},
        "resource": {"resource": "pods"},
        "object": pod,
    }
    if namespace is not None:
        request["namespace"] = namespace
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def check_mutation(pod: Mapping[str, Any], result: MutationResult) -> None:
    """The patch yields the pod, which is valid; denied results carry no patch and a reason."""
    assert_valid_manifest(dict(pod))
    if not result.allowed:
        assert result.patch == [] and result.reason and result.code in (400, 403)
        return
    assert jsonpatch.apply_patch(copy.deepcopy(dict(pod)), result.patch) == result.pod
    assert_api_server_accepts(result.pod)
    ephemeral = pod.get("spec", {}).get("ephemeralContainers")
    assert result.pod.get("spec", {}).get("ephemeralContainers") == ephemeral


def mutate_checked(pod: dict[str, Any], mutator: Mutator) -> MutationResult:
    """Mutate twice with every check: input unchanged, same result twice, patch applies, pods valid."""
    before = copy.deepcopy(pod)
    result = mutator.mutate(pod)
    assert pod == before, "the mutation changed its input"
    check_mutation(pod, result)
    again = mutator.mutate(pod)
    assert again.patch == result.patch and again.pod == result.pod and again.reason == result.reason
    return result


def _env(container: Mapping[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container.get("env", [])}


class InjectorConformance:
    """Inherit as ``class TestXConformance(InjectorConformance)`` and set the class attributes."""

    injector_name: ClassVar[str]
    supported_mounts: ClassVar[tuple[MountType, ...]] = (MountType.ANY, MountType.ENV_VAR, MountType.FILE)
    webhook_config: ClassVar[dict[str, Any]] = {}

    # -- hooks a backend may override ---------------------------------------------------------------

    def config(self) -> Config:
        return parse_config({"webhook": {"secretManagerType": "K8s", **self.webhook_config}})

    def make_injector(self) -> Injector:
        return build_injector(get_plugin(self.injector_name), self.config())

    def sample_secret(self, mount: MountType, *, env_var: str | None = None, index: int = 0) -> Secret:
        return Secret(
            group=f"conf-group-{index}", key=f"Conf_Key{index}", mount_requirement=mount, env_var=env_var
        )

    def refused_secrets(self) -> list[Secret]:
        """Requests this injector must refuse with InjectionError."""
        return []

    def delivers_env_var(self, container: Mapping[str, Any], pod: Mapping[str, Any], name: str) -> bool:
        """Whether ``container`` of the mutated ``pod`` gets the env var ``name`` (file managers
        may deliver ENV_VAR requests through the export annotation instead: see test_files_common)."""
        return name in _env(container)

    # -- helpers ------------------------------------------------------------------------------------

    def mutator(self) -> Mutator:
        return Mutator(self.config(), injectors=[self.make_injector()])

    # -- the suite ----------------------------------------------------------------------------------

    def test_registry_finds_it_by_any_case(self) -> None:
        cls = get_injector_class(self.injector_name.upper())
        assert get_injector_class(self.injector_name.lower()) is cls
        assert canonical_manager_name(self.injector_name.swapcase()) == cls.name
        assert isinstance(self.make_injector(), Injector)

    @pytest.mark.parametrize("with_env_var", [False, True])
    def test_each_supported_mount_reaches_every_container(self, with_env_var: bool) -> None:
        for mount in self.supported_mounts:
            secret = self.sample_secret(mount, env_var="CONF_VAR" if with_env_var else None)
            pod = make_pod([secret])
            result = mutate_checked(pod, self.mutator())
            assert result.allowed, result.reason
            assert [(s, m) for s, m in result.injections] == [(secret, self.make_injector().name)]
            spec = result.pod["spec"]
            originals = [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]
            changed = [*spec["initContainers"][: len(pod["spec"]["initContainers"])], *spec["containers"]]
            for old, new in zip(originals, changed, strict=True):
                assert new != old, f"{new['name']} was not given the secret ({mount.name})"
            if with_env_var:
                for container in changed:
                    assert self.delivers_env_var(container, result.pod, "CONF_VAR"), (
                        f"{container['name']} lacks env_var ({mount.name})"
                    )

    def test_existing_env_vars_and_mounts_are_left_alone(self) -> None:
        for mount in self.supported_mounts:
            secret = self.sample_secret(mount, env_var="CONF_VAR")
            first = self.mutator().mutate(make_pod([secret]))
            container = first.pod["spec"]["containers"][0]
            pod = make_pod([secret])
            preset = [{"name": name, "value": "preset-by-user"} for name in _env(container)]
            pod["spec"]["containers"][0]["env"] = preset
            pod["spec"]["containers"][0]["volumeMounts"] = list(container.get("volumeMounts", []))
            pod["spec"]["volumes"] = list(first.pod["spec"].get("volumes", []))
            result = mutate_checked(pod, self.mutator())
            new = result.pod["spec"]["containers"][0]
            assert new["env"] == preset
            assert new.get("volumeMounts", []) == container.get("volumeMounts", [])

    def test_several_secrets_in_one_pod(self) -> None:
        secrets = [self.sample_secret(m, index=i) for i, m in enumerate(self.supported_mounts * 2)]
        pod = make_pod(secrets, containers=3, init_containers=2)
        result = mutate_checked(pod, self.mutator())
        assert result.allowed, result.reason
        assert [s for s, _ in result.injections] == secrets

    def test_pod_without_init_or_ephemeral_containers(self) -> None:
        pod = make_pod([self.sample_secret(self.supported_mounts[0])], init_containers=0, ephemeral=False)
        result = mutate_checked(pod, self.mutator())
        assert result.allowed, result.reason

    def test_refusals_raise_and_leave_the_pod_untouched(self) -> None:
        for secret in self.refused_secrets():
            editor = PodEditor(make_pod([secret]))
            with pytest.raises(InjectionError) as info:
                self.make_injector().inject(secret, editor)
            assert not editor.changed, f"{secret!r} was refused after editing the pod"
            assert str(info.value)
