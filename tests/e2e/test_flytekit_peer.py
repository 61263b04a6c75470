"""flytekit, a real peer, reads what our webhook injects; our webhook decodes what flytekit produces.

Forward direction: each case declares secrets with our SDK, renders the task's pod
(:func:`tasksecrets.pods.render_task_pod`), mutates it with the webhook's own code
(:class:`tasksecrets.admission.mutator.Mutator`) and materializes it with the local kubelet
(:func:`tasksecrets.local.kubelet.materialize_pod`, store in a temporary ``TASKSECRETS_HOME``). Then a
child process with exactly the pod's env (plus ``PATH``/``HOME``/locale so Python starts) runs a small
flytekit script: a ``@flytekit.task`` reads ``flytekit.current_context().secrets.get(group, key)`` and
``get_secrets_file``, and writes what it saw to a JSON file the test checks.

What flytekit cannot read, and why (asserted as documented, docs/secret-managers.md):

- ``env_var`` is not a field flytekit's reader uses; the webhook puts the variable into the pod, so the
  flytekit task sees it as plain ``os.environ[...]``.
- The ENV_VAR export for file-only managers (AWS here) needs our entrypoint
  (``python -m tasksecrets execute``), which copies the files into env vars before the task runs. A
  flytekit task does not start through it: its ``_FSEC_...`` variable and ``env_var`` stay unset, and
  ``secrets.get`` still finds the value in the file the sidecar wrote. The same pod run through our
  entrypoint does see the exported variables (last test of that case).

Reverse direction: a pod annotated by flytekit's own producer (flytekit ``Secret`` -> flyteidl protobuf
-> its text form -> Flyte's base32, computed here independently of tasksecrets.wire) is decoded and
mutated by our webhook as Flyte's would be.

AWS runs for real against moto's server; nothing is mocked.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flytekit.models.security import Secret as FlytekitSecret
from google.protobuf import text_format

from k8svalidate import assert_valid_manifest
from services import MotoServer
from tasksecrets import Secret, task
from tasksecrets.admission.config import Config, parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.local.kubelet import MaterializedPod, materialize_pod
from tasksecrets.local.store import SecretStore
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.pods import render_task_pod

NAMESPACE = "flytesnacks-development"
ENV, FILE, ANY = Secret.MountType.ENV_VAR, Secret.MountType.FILE, Secret.MountType.ANY
VALUES = {"user_secret": "fake-peer-secret-1", "username": "fake-peer-user-2", "password": "fake-peer-pw-3"}
AWS_GROUP = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
AWS_VALUES = {"peer-db-pass": "fake-peer-aws-db-4", "peer-token": "fake-peer-aws-token-5"}

# The flytekit side: reads every (group, key) it is told to, through flytekit's own reader.
FLYTEKIT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import flytekit

    REQUESTS = json.loads(sys.argv[1])
    ENV_NAMES = json.loads(sys.argv[2])

    @flytekit.task
    def read_secrets() -> str:
        secrets = flytekit.current_context().secrets
        seen = {"get": {}, "file": {}, "file_content": {}, "env": {}}
        for group, key in REQUESTS:
            name = f"{group}/{key}"
            try:
                seen["get"][name] = secrets.get(group, key)
            except ValueError as exc:
                seen["get"][name] = "ValueError: " + str(exc)
            path = secrets.get_secrets_file(group, key)
            seen["file"][name] = path
            seen["file_content"][name] = open(path).read() if os.path.exists(path) else None
        for env_name in ENV_NAMES:
            seen["env"][env_name] = os.environ.get(env_name)
        return json.dumps(seen)

    with open(sys.argv[3], "w") as out:
        out.write(read_secrets())
    """
)

# The values are fake; stdlib and venv paths are all a Python child needs to start.
_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "VIRTUAL_ENV", "SYSTEMROOT")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "tasksecrets-home"
    monkeypatch.setenv("TASKSECRETS_HOME", str(home))
    monkeypatch.delenv("TASKSECRETS_MASTER_KEY", raising=False)
    monkeypatch.delenv("TASKSECRETS_KEY_FILE", raising=False)
    with SecretStore.open(home) as store:
        store.create(NAMESPACE, "user-info", {k: v.encode() for k, v in VALUES.items()})
    return home


def _mutate(
    secrets: list[Secret], config: Config, *, global_env: dict[str, str] | None = None
) -> dict[str, Any]:
    @task(secret_requests=secrets)
    def peer_task() -> str:
        return ""

    pod = render_task_pod(peer_task, file=__file__)
    assert_valid_manifest(pod)
    source = GlobalSecretSource(environ=global_env, secrets_dir=None) if global_env else None
    result = Mutator(config, global_secrets=source).mutate(pod)
    assert result.allowed, result.reason
    assert_valid_manifest(result.pod)
    return result.pod


@pytest.fixture
def materialized(tmp_path: Path) -> Iterator[list[MaterializedPod]]:
    pods: list[MaterializedPod] = []
    yield pods
    for pod in pods:
        pod.cleanup()
        assert not pod.root.exists()


def _materialize(
    pod: dict[str, Any], pods: list[MaterializedPod], *, environ: dict[str, str] | None = None
) -> MaterializedPod:
    done = materialize_pod(pod, environ=environ)
    pods.append(done)
    return done


def _run_flytekit(
    env: dict[str, str], requests: list[tuple[str, str]], env_names: list[str], tmp_path: Path
) -> dict[str, Any]:
    child_env = {k: v for k, v in os.environ.items() if k in _KEPT}
    child_env.update(env)
    out = tmp_path / "seen.json"
    script = tmp_path / "flytekit_reader.py"  # flytekit reads the task's source: a file, not -c
    script.write_text(FLYTEKIT_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), json.dumps(requests), json.dumps(env_names), str(out)],
        env=child_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, Any] = json.loads(out.read_text())
    return seen


def test_k8s_env_var_mount_is_read_by_flytekit(
    home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    pod = _mutate([Secret(group="user-info", key="user_secret", mount_requirement=ENV)], parse_config({}))
    env = _materialize(pod, materialized).env
    assert env["_FSEC_USER-INFO_USER_SECRET"] == VALUES["user_secret"]
    seen = _run_flytekit(env, [("user-info", "user_secret")], [], tmp_path)
    assert seen["get"]["user-info/user_secret"] == VALUES["user_secret"]


@pytest.mark.parametrize("mount", [FILE, ANY], ids=["FILE", "ANY"])
def test_k8s_file_mount_is_read_by_flytekit(
    mount: Secret.MountType, home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    secrets = [Secret(group="user-info", key=k, mount_requirement=mount) for k in ("username", "password")]
    done = _materialize(_mutate(secrets, parse_config({})), materialized)
    seen = _run_flytekit(done.env, [("user-info", "username"), ("user-info", "password")], [], tmp_path)
    secrets_dir = Path(done.env["FLYTE_SECRETS_DEFAULT_DIR"])
    assert secrets_dir.is_relative_to(done.root)
    for key in ("username", "password"):
        assert seen["get"][f"user-info/{key}"] == VALUES[key]
        assert seen["file"][f"user-info/{key}"] == str(secrets_dir / "user-info" / key)
        assert seen["file_content"][f"user-info/{key}"] == VALUES[key]


def test_k8s_env_var_with_env_var_is_read_by_flytekit_and_os_environ(
    home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    secret = Secret(group="user-info", key="user_secret", mount_requirement=ENV, env_var="MY_SECRET")
    env = _materialize(_mutate([secret], parse_config({})), materialized).env
    seen = _run_flytekit(env, [("user-info", "user_secret")], ["MY_SECRET"], tmp_path)
    assert seen["get"]["user-info/user_secret"] == VALUES["user_secret"]
    assert seen["env"]["MY_SECRET"] == VALUES["user_secret"]


def test_k8s_file_with_env_var_gives_flytekit_the_path(
    home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    secret = Secret(group="user-info", key="password", mount_requirement=FILE, env_var="PASSWORD_PATH")
    env = _materialize(_mutate([secret], parse_config({})), materialized).env
    seen = _run_flytekit(env, [("user-info", "password")], ["PASSWORD_PATH"], tmp_path)
    assert seen["get"]["user-info/password"] == VALUES["password"]
    assert seen["env"]["PASSWORD_PATH"] == seen["file"]["user-info/password"]
    assert Path(seen["env"]["PASSWORD_PATH"]).read_text() == VALUES["password"]


def test_global_secrets_are_read_by_flytekit(
    home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    """Global injects plain env vars (the one documented place a value sits in the pod spec)."""
    runner_env = {"FLYTE_SECRET_PLATFORM_API-TOKEN": "fake-global-token-6"}
    secret = Secret(group="platform", key="api-token", env_var="API_TOKEN")
    pod = _mutate([secret], parse_config({}), global_env=runner_env)
    env = _materialize(pod, materialized).env
    assert "volumes" not in pod["spec"]  # Global won: the K8s manager was not needed
    seen = _run_flytekit(env, [("platform", "api-token")], ["API_TOKEN"], tmp_path)
    assert seen["get"]["platform/api-token"] == "fake-global-token-6"
    assert seen["env"]["API_TOKEN"] == "fake-global-token-6"


@pytest.fixture(scope="module")
def aws_secrets(moto_server: MotoServer) -> MotoServer:
    moto_server.create_secrets(AWS_VALUES)
    return moto_server


def test_aws_file_mounts_are_read_by_flytekit(
    aws_secrets: MotoServer, home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    secrets = [Secret(group=AWS_GROUP, key=k, mount_requirement=FILE) for k in AWS_VALUES]
    pod = _mutate(secrets, parse_config({"webhook": {"secretManagerType": "AWS"}}))
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["aws-pull-secret-0", "aws-pull-secret-1"]
    env = _materialize(pod, materialized, environ=aws_secrets.env()).env
    seen = _run_flytekit(env, [(AWS_GROUP, k) for k in AWS_VALUES], [], tmp_path)
    for key, value in AWS_VALUES.items():
        assert seen["get"][f"{AWS_GROUP}/{key}"] == value
        assert seen["file_content"][f"{AWS_GROUP}/{key}"] == value


def test_aws_env_var_export_needs_our_entrypoint(
    aws_secrets: MotoServer, home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    """ENV_VAR with AWS is delivered as a file plus an export list only our entrypoint applies.

    flytekit (its own entrypoint) finds the value through the file; the exported names stay unset
    for it. Our entrypoint's export (tasksecrets.sdk.exports.apply_env_exports) sets them.
    """
    secret = Secret(group=AWS_GROUP, key="peer-token", mount_requirement=ENV, env_var="PEER_TOKEN")
    pod = _mutate([secret], parse_config({"webhook": {"secretManagerType": "AWS"}}))
    assert "tasksecrets.dev/export-env" in pod["metadata"]["annotations"]
    env = _materialize(pod, materialized, environ=aws_secrets.env()).env
    fsec = f"_FSEC_{AWS_GROUP}_peer-token".upper()
    seen = _run_flytekit(env, [(AWS_GROUP, "peer-token")], [fsec, "PEER_TOKEN"], tmp_path)
    assert seen["get"][f"{AWS_GROUP}/peer-token"] == AWS_VALUES["peer-token"]
    assert seen["env"] == {fsec: None, "PEER_TOKEN": None}

    from tasksecrets.sdk.exports import apply_env_exports

    exported = dict(env)
    apply_env_exports(exported)
    assert exported[fsec] == AWS_VALUES["peer-token"]
    assert exported["PEER_TOKEN"] == AWS_VALUES["peer-token"]


# -- reverse direction: flytekit's producer, our webhook -------------------------------------------------

_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_FLYTE = "abcdefghijklmnopqrstuvwxyz123456"


def flytekit_annotation(secret: FlytekitSecret) -> str:
    """What Flyte puts into ``flyte.secrets/s<N>``: the protobuf text, base32 a-z1-6, no padding."""
    text = text_format.MessageToString(secret.to_flyte_idl())
    return base64.b32encode(text.encode()).decode().rstrip("=").translate(str.maketrans(_STD, _FLYTE))


def flytekit_pod(secrets: list[FlytekitSecret]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "flytekit-task",
            "namespace": NAMESPACE,
            "labels": {"inject-flyte-secrets": "true"},
            "annotations": {f"flyte.secrets/s{i}": flytekit_annotation(s) for i, s in enumerate(secrets)},
        },
        "spec": {
            "containers": [{"name": "task", "image": "python:3.11-slim", "command": ["pyflyte-execute"]}]
        },
    }


def _env_of(pod: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom")) for e in pod["spec"]["containers"][0].get("env", [])
    }


def test_flytekit_produced_pod_is_mutated_by_our_webhook(
    home: Path, tmp_path: Path, materialized: list[MaterializedPod]
) -> None:
    MT = FlytekitSecret.MountType
    pod = flytekit_pod(
        [
            FlytekitSecret(group="user-info", key="user_secret", mount_requirement=MT.ENV_VAR),
            FlytekitSecret(group="user-info", key="username", mount_requirement=MT.FILE, env_var="UN_PATH"),
            FlytekitSecret(group="user-info", key="password"),
        ]
    )
    assert_valid_manifest(pod)
    result = Mutator(parse_config({})).mutate(pod)
    assert result.allowed, result.reason
    assert_valid_manifest(result.pod)
    assert [(s.group, s.key, s.mount_requirement.name) for s, _ in result.injections] == [
        ("user-info", "user_secret", "ENV_VAR"),
        ("user-info", "username", "FILE"),
        ("user-info", "password", "ANY"),
    ]
    env = _env_of(result.pod)
    assert env["_FSEC_USER-INFO_USER_SECRET"] == {
        "secretKeyRef": {"name": "user-info", "key": "user_secret", "optional": True}
    }
    assert env["FLYTE_SECRETS_DEFAULT_DIR"] == "/etc/flyte/secrets"
    assert env["UN_PATH"] == "/etc/flyte/secrets/user-info/username"
    mounts = result.pod["spec"]["containers"][0]["volumeMounts"]
    assert {m["mountPath"] for m in mounts} == {"/etc/flyte/secrets/user-info"}
    # And flytekit, started in the result, reads all three.
    done = _materialize(result.pod, materialized)
    keys = [("user-info", k) for k in ("user_secret", "username", "password")]
    seen = _run_flytekit(done.env, keys, [], tmp_path)
    assert seen["get"] == {f"user-info/{k}": VALUES[k] for _, k in keys}


def test_flytekit_vault_and_versions_decode_like_ours(tmp_path: Path) -> None:
    MT = FlytekitSecret.MountType
    produced = [
        FlytekitSecret(
            group="secret/data/flyte", key="token", group_version="kv2", mount_requirement=MT.FILE
        ),
        FlytekitSecret(group="My-Group", key="My.Key", env_var="MY_KEY"),
    ]
    result = Mutator(parse_config({"webhook": {"secretManagerType": "Vault"}})).mutate(flytekit_pod(produced))
    assert result.allowed, result.reason
    decoded = [s for s, _ in result.injections]
    assert [(s.group, s.key, s.group_version, s.mount_requirement.name, s.env_var) for s in decoded] == [
        ("secret/data/flyte", "token", "kv2", "FILE", None),
        ("My-Group", "My.Key", None, "ANY", "MY_KEY"),
    ]
    annotations = result.pod["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/agent-inject"] == "true"
    assert_valid_manifest(result.pod)


def test_webhook_mutate_cli_reads_a_flytekit_pod(home: Path, tmp_path: Path) -> None:
    MT = FlytekitSecret.MountType
    pod_file = tmp_path / "pod.json"
    pod_file.write_text(
        json.dumps(
            flytekit_pod([FlytekitSecret(group="user-info", key="user_secret", mount_requirement=MT.ENV_VAR)])
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "tasksecrets", "webhook", "mutate", str(pod_file), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "_FSEC_USER-INFO_USER_SECRET" in done.stdout
    assert VALUES["user_secret"] not in done.stdout + done.stderr
