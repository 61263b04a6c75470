"""The local kubelet's materializers for the file managers: what a local run says when it cannot fetch.

Real pods are rendered and mutated by the webhook's code and handed to the real kubelet. Where a
client library is needed (GCP, Azure), its absence is simulated by blocking the import in
``sys.modules`` so the test holds whether or not the package is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from k8svalidate import assert_valid_manifest
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.kubelet import materialize_pod
from tasksecrets.managers.vault.agent import AgentSecret, read_agent_secrets
from tasksecrets.managers.vault.materializer import render_with_hvac
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.wire import encode_pod_metadata


def mutated(manager: str, secret: Secret) -> dict[str, Any]:
    labels, annotations = encode_pod_metadata([secret])
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "task", "image": "python:3.11", "command": ["true"]}]},
    }
    result = Mutator(parse_config({"webhook": {"secretManagerType": manager}})).mutate(pod)
    assert_valid_manifest(result.pod)
    assert result.allowed, result.reason
    return result.pod


@pytest.mark.parametrize(
    ("manager", "secret", "blocked", "hint"),
    [
        ("GCP", Secret(group="api", key="k", group_version="1"), "google.cloud", "tasksecrets[gcp]"),
        (
            "Azure",
            Secret(group="https://kv.vault.azure.net", key="v", group_version="s"),
            "azure.identity",
            "tasksecrets[azure]",
        ),
    ],
)
def test_missing_client_library_says_how_to_run_locally(
    manager: str, secret: Secret, blocked: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)
    with pytest.raises(TaskExecutionError) as info:
        materialize_pod(mutated(manager, secret), root=tmp_path / "pod", environ={})
    assert hint in str(info.value) and "K8s manager" in str(info.value)
    assert not (tmp_path / "pod").exists()


def test_vault_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    pod = mutated("Vault", Secret(group="secret/data/a", key="k", mount_requirement=MountType.FILE))
    with pytest.raises(TaskExecutionError, match="set VAULT_TOKEN"):
        materialize_pod(pod, root=tmp_path / "pod", environ={"PATH": ""})


def test_agent_secrets_are_read_as_the_injector_reads_them() -> None:
    annotations = {
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/secret-volume-path": "/etc/flyte/secrets",
        "vault.hashicorp.com/agent-inject-secret-a": "kv/x",
        "vault.hashicorp.com/agent-inject-file-a": "kv/x/key",
        "vault.hashicorp.com/agent-inject-template-a": "T",
        "vault.hashicorp.com/agent-inject-secret-b": "database/creds/r",
        "vault.hashicorp.com/agent-inject-secret-c": "kv/y",
        "vault.hashicorp.com/secret-volume-path-c": "/other",
    }
    assert read_agent_secrets(annotations) == [
        AgentSecret("a", "kv/x", "T", "/etc/flyte/secrets/kv/x/key"),
        AgentSecret(
            "b",
            "database/creds/r",
            '{{ with secret "database/creds/r" }}'
            "{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}",
            "/etc/flyte/secrets/b",
        ),
        AgentSecret(
            "c",
            "kv/y",
            '{{ with secret "kv/y" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}',
            "/other/c",
        ),
    ]


class FakeClient:
    """Stands in for hvac.Client.read (the real server is used in tests/e2e/test_vault.py)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def read(self, path: str) -> dict[str, Any] | None:
        return {"data": self.data[path]} if path in self.data else None


def test_hvac_rendering_of_the_templates_tasksecrets_writes() -> None:
    client = FakeClient(
        {"kv/a": {"data": {"api-key": "fake-1", "n": 3}}, "db/creds/r": {"username": "u", "password": "p"}}
    )
    field = AgentSecret("x", "kv/a", '{{- with secret "kv/a" -}}{{ .Data.data.n }}{{- end -}}', "/d/x")
    index = AgentSecret(
        "y", "kv/a", '{{- with secret "kv/a" -}}{{ index .Data.data "api-key" }}{{- end -}}', "/d/y"
    )
    default = read_agent_secrets({"vault.hashicorp.com/agent-inject-secret-z": "db/creds/r"})[0]
    assert render_with_hvac(field, client) == "3"
    assert render_with_hvac(index, client) == "fake-1"
    assert render_with_hvac(default, client) == "password: p\nusername: u\n"
    custom = AgentSecret("c", "kv/a", '{{ with secret "kv/a" }}{{ .Data.data | toJSON }}{{ end }}', "/d/c")
    with pytest.raises(TaskExecutionError, match="put a 'bao' or 'vault' binary on PATH"):
        render_with_hvac(custom, client)
    missing = AgentSecret("m", "kv/a", '{{- with secret "kv/a" -}}{{ .Data.data.nope }}{{- end -}}', "/d/m")
    with pytest.raises(TaskExecutionError, match="has no field 'nope'"):
        render_with_hvac(missing, client)
