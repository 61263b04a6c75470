"""The local kubelet: mutated pods (rendered and mutated by the real code) turned into env and files.

A real encrypted store in a temporary home holds the secrets; every pod is validated with
kubernetes-validate before it is materialized. Materializers registered here are test doubles for
the secret fetchers of other managers (their real versions plug in the same way).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8svalidate import assert_valid_manifest
from tasksecrets import Secret, task
from tasksecrets.admission.config import load_config, parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.kubelet import (
    DIR_MODE,
    FILE_MODE,
    PodContext,
    materialize_pod,
    register_materializer,
    unregister_materializer,
)
from tasksecrets.local.store import SecretStore
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.pods import render_task_pod

NS = "flytesnacks-development"
FAKE = {"user_secret": b"fake-user-secret-1", "username": b"fake-username-2", "password": b"fake-password-3"}
M = Secret.MountType


@task(secret_requests=[Secret(group="user-info", key="user_secret")])
def any_task() -> str:
    return ""


@task(
    secret_requests=[
        Secret(group="user-info", key="user_secret", mount_requirement=M.ENV_VAR, env_var="MY_VAR")
    ]
)
def env_task() -> str:
    return ""


@task(
    secret_requests=[
        Secret(group="user-info", key="user_secret", mount_requirement=M.FILE, env_var="MY_FILE")
    ]
)
def file_task() -> str:
    return ""


@task(
    secret_requests=[
        Secret(group="user-info", key="username"),
        Secret(group="user-info", key="password", mount_requirement=M.ENV_VAR),
    ]
)
def two_keys_task() -> str:
    return ""


@task
def plain_task() -> str:
    return ""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SecretStore]:
    with SecretStore.open(tmp_path / "home") as opened:
        opened.create(NS, "user-info", FAKE)
        yield opened


def _mutated(
    task_obj: Any, *, config: Any = None, global_env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    pod = render_task_pod(task_obj, inputs="/tmp/in.json", outputs="/tmp/out.json")
    source = GlobalSecretSource(environ=global_env or {}, secrets_dir=None)
    result = Mutator(config or load_config(None), global_secrets=source).mutate(pod)
    assert result.allowed, result.reason
    assert_valid_manifest(result.pod)
    return result.pod


def _modes_under(root: Path) -> tuple[set[int], set[int]]:
    dirs, files = {stat.S_IMODE(root.stat().st_mode)}, set()
    for current, dirnames, filenames in os.walk(root):
        dirs |= {stat.S_IMODE(os.lstat(os.path.join(current, d)).st_mode) for d in dirnames}
        files |= {stat.S_IMODE(os.lstat(os.path.join(current, f)).st_mode) for f in filenames}
    return dirs, files


def _assert_no_values(text: str) -> None:
    for value in FAKE.values():
        assert value.decode() not in text


def test_any_becomes_a_0400_file_in_a_0700_dir_and_the_path_vars_are_rewritten(
    store: SecretStore, tmp_path: Path
) -> None:
    root = tmp_path / "pod"
    pod = materialize_pod(_mutated(any_task), root=root, store=store)
    default_dir = Path(pod.env["FLYTE_SECRETS_DEFAULT_DIR"])
    assert default_dir == root / "rootfs" / "etc" / "flyte" / "secrets"
    secret_file = default_dir / "user-info" / "user_secret"
    assert secret_file.read_bytes() == FAKE["user_secret"]
    dirs, files = _modes_under(root)
    assert dirs == {DIR_MODE} and files == {FILE_MODE}
    assert FAKE["user_secret"].decode() not in "".join(pod.env.values())
    assert pod.secret_values == [FAKE["user_secret"].decode()]
    assert pod.delivered == ["user-info/user_secret"]
    assert pod.command[:4] == ["python", "-m", "tasksecrets", "execute"]
    assert not Path("/etc/flyte/secrets/user-info/user_secret").exists()
    pod.cleanup()
    assert not root.exists()


def test_env_var_mount_gives_the_value_in_both_env_names(store: SecretStore) -> None:
    with materialize_pod(_mutated(env_task), store=store) as pod:
        assert pod.env["_FSEC_USER-INFO_USER_SECRET"] == FAKE["user_secret"].decode()
        assert pod.env["MY_VAR"] == FAKE["user_secret"].decode()
        assert pod.env["FLYTE_SECRETS_ENV_PREFIX"] == "_FSEC_"
        assert "FLYTE_SECRETS_DEFAULT_DIR" not in pod.env
        assert [p.name for p in (pod.root / "rootfs").glob("**/*")] == []
        root = pod.root
    assert not root.exists()


def test_file_mount_env_var_holds_the_rewritten_path(store: SecretStore) -> None:
    with materialize_pod(_mutated(file_task), store=store) as pod:
        path = Path(pod.env["MY_FILE"])
        assert path.is_relative_to(pod.root)
        assert path.read_bytes() == FAKE["user_secret"]
        assert path == Path(pod.env["FLYTE_SECRETS_DEFAULT_DIR"]) / "user-info" / "user_secret"


def test_file_and_env_requests_of_one_group_share_one_volume(store: SecretStore) -> None:
    with materialize_pod(_mutated(two_keys_task), store=store) as pod:
        files = sorted(p.name for p in Path(pod.env["FLYTE_SECRETS_DEFAULT_DIR"]).glob("*/*"))
        assert files == ["username"]
        assert pod.env["_FSEC_USER-INFO_PASSWORD"] == FAKE["password"].decode()
        assert sorted(pod.secret_values) == sorted([FAKE["username"].decode(), FAKE["password"].decode()])


def test_a_pod_without_secrets_gets_an_empty_private_dir(store: SecretStore) -> None:
    with materialize_pod(_mutated(plain_task), store=store) as pod:
        assert pod.env == {}
        assert list(pod.root.iterdir()) == []
        assert stat.S_IMODE(pod.root.stat().st_mode) == DIR_MODE


def test_a_missing_secret_fails_with_the_create_command_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "pod"
    with SecretStore.open(tmp_path / "empty-home") as empty, pytest.raises(TaskExecutionError) as caught:
        materialize_pod(_mutated(two_keys_task), root=root, store=empty)
    message = str(caught.value)
    assert "'user-info'" in message and NS in message
    assert (
        f"tasksecrets create secret generic user-info -n {NS} "
        "--from-literal=password=VALUE --from-literal=username=VALUE"
    ) in message
    assert not root.exists()


def test_a_missing_key_of_an_existing_secret_gives_an_apply_of_that_key_alone(tmp_path: Path) -> None:
    root = tmp_path / "pod"
    with SecretStore.open(tmp_path / "home") as partial:
        partial.create(NS, "user-info", {"username": FAKE["username"]})
        with pytest.raises(TaskExecutionError) as caught:
            materialize_pod(_mutated(two_keys_task), root=root, store=partial)
    message = str(caught.value)
    assert "has no key 'password' (its keys: username)" in message
    assert "delete secret" not in message  # the keys it has are kept: nothing to retype
    heredoc = message.split("tasksecrets apply -f - <<'EOF'\n", 1)[1]
    assert heredoc.endswith("\nEOF")
    manifest = yaml.safe_load(heredoc.removesuffix("EOF"))
    assert manifest["kind"] == "List"
    assert manifest["items"] == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "user-info", "namespace": NS},
            "stringData": {"password": "VALUE"},
        }
    ]
    _assert_no_values(message)
    assert not root.exists()


def _hand_pod(env: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hand-made", "namespace": NS},
        "spec": {
            "containers": [{"name": "task", "image": "python:3.11-slim", "command": ["true"], "env": env}]
        }
        | spec,
    }
    assert_valid_manifest(pod)
    return pod


def test_optional_refs_not_requested_follow_kubernetes_rules(store: SecretStore) -> None:
    ref = {"secretKeyRef": {"name": "other", "key": "k", "optional": True}}
    env = [
        {"name": "BASE", "value": "/data"},
        {"name": "DERIVED", "value": "$(BASE)/x and $$(BASE) and $(UNKNOWN)"},
        {"name": "OPTIONAL_MISSING", "valueFrom": ref},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    with materialize_pod(_hand_pod(env), store=store) as pod:
        assert "OPTIONAL_MISSING" not in pod.env
        assert pod.env["DERIVED"] == "/data/x and $(BASE) and $(UNKNOWN)"
        assert pod.env["POD"] == "hand-made"
    required = {"secretKeyRef": {"name": "other", "key": "k"}}
    with pytest.raises(TaskExecutionError, match="secret 'other'"):
        materialize_pod(_hand_pod([{"name": "X", "valueFrom": required}]), store=store)


def test_unknown_init_containers_and_containers_are_clear_errors(store: SecretStore) -> None:
    init = [{"name": "setup-db", "image": "busybox", "command": ["true"]}]
    with pytest.raises(TaskExecutionError, match="init container 'setup-db' cannot run locally"):
        materialize_pod(_hand_pod([], initContainers=init), store=store)
    pod = _hand_pod([])
    pod["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    with pytest.raises(TaskExecutionError, match="runs only the task container"):
        materialize_pod(pod, store=store)


def test_registered_init_container_and_annotation_materializers_fill_volumes(store: SecretStore) -> None:
    """Stand-ins for the AWS and Vault fetchers: they get the pod context and write secret files."""
    seen: list[str] = []

    def fetch(container: Mapping[str, Any], ctx: PodContext) -> None:
        seen.append(container["name"])
        target = ctx.volume_dir("fetched-vol") / "user-info" / "user_secret"
        ctx.write_secret_file(target, ctx.store().get(ctx.namespace, "user-info")["user_secret"])

    def agent(annotations: Mapping[str, Any], ctx: PodContext) -> None:
        seen.append(annotations["example.org/agent-inject"])
        ctx.write_secret_file(ctx.host_path("/etc/flyte/secrets/agent/key"), FAKE["password"])

    register_materializer("init-container", "test-pull-secret", fetch)
    register_materializer("pod-annotation", "example.org/agent-inject", agent)
    try:
        pod = _hand_pod(
            [{"name": "FLYTE_SECRETS_DEFAULT_DIR", "value": "/etc/flyte/secrets"}],
            initContainers=[{"name": "test-pull-secret-0", "image": "busybox"}],
            volumes=[{"name": "fetched-vol", "emptyDir": {"medium": "Memory"}}],
        )
        pod["metadata"]["annotations"] = {"example.org/agent-inject": "true"}
        pod["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "fetched-vol", "mountPath": "/etc/flyte/secrets/fetched", "readOnly": True},
            {"name": "fetched-vol", "mountPath": "/mnt/again"},
        ]
        with materialize_pod(pod, store=store) as done:
            secrets_dir = Path(done.env["FLYTE_SECRETS_DEFAULT_DIR"])
            assert (secrets_dir / "fetched" / "user-info" / "user_secret").read_bytes() == FAKE["user_secret"]
            assert (secrets_dir / "agent" / "key").read_bytes() == FAKE["password"]
            again = done.root / "rootfs" / "mnt" / "again"
            assert again.is_symlink() and (again / "user-info" / "user_secret").exists()
            assert set(done.secret_values) == {FAKE["user_secret"].decode(), FAKE["password"].decode()}
            assert seen == ["true", "test-pull-secret-0"]
    finally:
        unregister_materializer("init-container", "test-pull-secret")
        unregister_materializer("pod-annotation", "example.org/agent-inject")


def test_a_failing_materializer_is_reported_masked_and_cleans_up(store: SecretStore, tmp_path: Path) -> None:
    def broken(container: Mapping[str, Any], ctx: PodContext) -> None:
        ctx.add_secret_value(FAKE["password"])
        raise RuntimeError(f"could not use {FAKE['password'].decode()}")

    register_materializer("init-container", "broken", broken)
    try:
        pod = _hand_pod([], initContainers=[{"name": "broken-0", "image": "busybox"}])
        with pytest.raises(TaskExecutionError, match="RuntimeError: could not use \\*\\*\\*\\*\\*\\*\\*\\*"):
            materialize_pod(pod, root=tmp_path / "pod", store=store)
    finally:
        unregister_materializer("init-container", "broken")
    assert not (tmp_path / "pod").exists()


def test_global_values_are_known_as_secret_values(store: SecretStore) -> None:
    config = parse_config({"webhook": {"secretManagerType": "K8s"}})
    pod_manifest = _mutated(
        env_task, config=config, global_env={"FLYTE_SECRET_USER-INFO_USER_SECRET": "from-global"}
    )
    with materialize_pod(pod_manifest, store=store) as pod:
        assert pod.env["_FSEC_USER-INFO_USER_SECRET"] == "from-global"
        assert pod.env["MY_VAR"] == "from-global"
        assert pod.secret_values == ["from-global"]
