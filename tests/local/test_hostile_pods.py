"""Hostile pods on the local kubelet: nothing written or read outside the private directory, no commands.

Pods come from whoever can create them, so a crafted pod (not one the webhook wrote) must not make
the local kubelet or its materializers write outside the pod's private directory, read the runner's
other files or run commands. Every pod is validated by kubernetes-validate (the schema accepts them;
the API server's own name rules, which the schema does not check, would refuse some).
The Vault case runs the real ``bao agent`` against a real OpenBao dev server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from k8svalidate import assert_valid_manifest
from services import OpenBao
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.kubelet import materialize_pod
from tasksecrets.local.runner import scrub_environ
from tasksecrets.local.store import SecretStore
from tasksecrets.managers.azure import script as azure_script
from tasksecrets.managers.gcp import script as gcp_script

NS = "ns"
FAKE_VALUE = b"fake-hostile-value-7731"
VAULT = "vault.hashicorp.com/"


def _pod(
    *, volumes: list[Any] | None = None, mounts: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "task", "image": "python:3.11", "command": ["true"]}
    if mounts:
        container["volumeMounts"] = mounts
    spec: dict[str, Any] = {"containers": [container]}
    if volumes:
        spec["volumes"] = volumes
    spec.update(extra.pop("spec", {}))
    metadata = {"name": "p", "namespace": NS, **extra}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _is_valid(pod: dict[str, Any]) -> bool:
    try:
        assert_valid_manifest(pod)
    except AssertionError:
        return False
    return True


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with SecretStore.open(tmp_path / "home") as opened:
        opened.create(NS, "s", {"k": FAKE_VALUE})
        yield opened


def _files_outside(base: Path, root: Path) -> list[Path]:
    return [p for p in base.rglob("*") if root not in p.parents and p != root and "home" not in p.parts]


@pytest.mark.parametrize("volume_name", ["../../escaped", "../escaped", "/ESCAPED_ABS"])
def test_a_volume_name_cannot_place_files_outside_the_private_dir(
    volume_name: str, store: SecretStore, tmp_path: Path
) -> None:
    if volume_name.startswith("/"):
        volume_name = str(tmp_path / "abs-escaped")
        Path(volume_name).mkdir()
    pod = _pod(volumes=[{"name": volume_name, "secret": {"secretName": "s"}}])
    # The API server refuses such a name (a volume name is a DNS label), which the schema alone does
    # not check: the local kubelet must refuse it as well.
    assert _is_valid(pod)
    root = tmp_path / "work" / "pod"
    (tmp_path / "work").mkdir()
    with pytest.raises(TaskExecutionError, match="volume name"):
        materialize_pod(pod, root=root, store=store)
    assert not root.exists()
    assert sorted(_files_outside(tmp_path, root)) == sorted(
        {tmp_path / "work", *([Path(volume_name)] if volume_name.startswith("/") else [])}
    )


@pytest.mark.parametrize(
    ("manager", "command"),
    [
        # Scripts in the very form the injectors write, with names no injector lets through.
        ("gcp-pull-secret-0", gcp_script.render_pull_script("../../../../x", "1")),
        (
            "azure-pull-secret-0",
            azure_script.render_pull_script(
                azure_script.SecretId("https://kv.vault.azure.net", "s"), "/etc/flyte/secrets/../../../../x"
            ),
        ),
        (
            "gcp-pull-secret-0",
            "gcloud secrets versions access s/versions/1 --out-file=/etc/flyte/secrets/../x ",
        ),
    ],
)
def test_an_init_container_out_file_with_dotdot_is_refused_before_any_fetch(
    manager: str, command: str, tmp_path: Path
) -> None:
    mount = {"name": "v", "mountPath": "/etc/flyte/secrets"}
    init = {"name": manager, "image": "x", "command": ["sh", "-ec", command], "volumeMounts": [mount]}
    pod = _pod(volumes=[{"name": "v", "emptyDir": {}}], spec={"initContainers": [init]})
    assert_valid_manifest(pod)
    root = tmp_path / "work" / "pod"
    (tmp_path / "work").mkdir()
    with pytest.raises(TaskExecutionError, match=r"must stay inside|is not one tasksecrets wrote"):
        materialize_pod(pod, root=root, environ={})
    assert not root.exists() and list((tmp_path / "work").iterdir()) == []


def test_write_secret_file_refuses_a_path_outside_the_private_dir(tmp_path: Path) -> None:
    from tasksecrets.managers.materializing import PodContext

    root = tmp_path / "pod"
    root.mkdir(mode=0o700)
    ctx = PodContext(_pod(), root=root, store=None, environ={})
    for target in (tmp_path / "outside", root / ".." / "outside2", root / "a" / ".." / ".." / "outside3"):
        with pytest.raises(TaskExecutionError, match="private directory"):
            ctx.write_secret_file(target, FAKE_VALUE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pod"]


def test_a_pods_vault_template_cannot_run_commands_or_read_local_files(
    openbao: OpenBao, tmp_path: Path
) -> None:
    planted = tmp_path / "runner-only.txt"
    planted.write_text("fake-runner-file-content-5512")
    marker = tmp_path / "command-ran"
    templates = {
        "cmd": f'{{{{ plugin "sh" "-c" "echo ran > {marker}" }}}}',
        "file": f'{{{{ file "{planted}" }}}}',
        "write": f'{{{{ "x" | writeToFile "{tmp_path / "written"}" "" "" "0644" }}}}',
    }
    for name, template in templates.items():
        annotations = {
            VAULT + "agent-inject": "true",
            VAULT + f"agent-inject-secret-{name}": "secret/data/a",
            VAULT + f"agent-inject-template-{name}": template,
        }
        pod = _pod(annotations=annotations)
        assert_valid_manifest(pod)
        env = {"PATH": f"{Path(openbao.binary).parent}:{os.environ.get('PATH', '')}", **openbao.env()}
        root = tmp_path / f"pod-{name}"
        with pytest.raises(TaskExecutionError, match="could not render") as info:
            materialize_pod(pod, root=root, environ=env)
        assert "fake-runner-file-content-5512" not in str(info.value)
        assert not root.exists()
    assert not marker.exists()
    assert not (tmp_path / "written").exists()


def test_the_runners_cloud_credentials_do_not_reach_the_task() -> None:
    runner_env = {
        "PATH": "/usr/bin",
        "AWS_ACCESS_KEY_ID": "AKIAFAKEHOSTILE",
        "AWS_SECRET_ACCESS_KEY": "fake-aws-secret-key-8812",
        "AWS_SESSION_TOKEN": "fake-aws-session-token-8813",
        "AWS_SECURITY_TOKEN": "fake-aws-security-token-8814",
        "AZURE_CLIENT_SECRET": "fake-azure-client-secret-8815",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD": "fake-azure-cert-pw-8816",
        "GOOGLE_OAUTH_ACCESS_TOKEN": "fake-gcp-token-8817",
        "VAULT_TOKEN": "fake-vault-token-8818",
    }
    child = scrub_environ(runner_env)
    assert child == {"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "AKIAFAKEHOSTILE"}
