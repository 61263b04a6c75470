"""``tasksecrets pod render`` and the pod renderer: valid, deterministic manifests carrying the requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from k8svalidate import assert_valid_manifest
from tasksecrets.cli.pod import pod_group
from tasksecrets.errors import ManifestError
from tasksecrets.pods import render_task_pod, task_pod_name
from tasksecrets.sdk.loader import load_task
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.wire import decode_pod_secrets

TASKS = """
from tasksecrets import Secret, task

ENV, FILE = Secret.MountType.ENV_VAR, Secret.MountType.FILE

@task(secret_requests=[Secret(group="user-info", key="user_secret", mount_requirement=ENV),
                       Secret(group="db", key="password", mount_requirement=FILE)])
def Fetch_User_Data__(x: int = 1) -> int:
    return x

@task
def plain() -> int:
    return 1
"""


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_tasks.py"
    path.write_text(TASKS)
    return path


def test_render_carries_label_annotations_and_entrypoint(task_file: Path) -> None:
    task = load_task(str(task_file), "Fetch_User_Data__")
    pod = render_task_pod(task, project="proj", domain="dev", inputs="/in.json", outputs="/out.json")
    assert_valid_manifest(pod)
    assert pod["metadata"]["namespace"] == "proj-dev"
    assert pod["metadata"]["labels"]["inject-flyte-secrets"] == "true"
    assert decode_pod_secrets(pod["metadata"]["annotations"]) == [
        Secret(group="user-info", key="user_secret", mount_requirement=MountType.ENV_VAR),
        Secret(group="db", key="password", mount_requirement=MountType.FILE),
    ]
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    assert container["name"] == "task"
    assert container["command"] == [
        "python",
        "-m",
        "tasksecrets",
        "execute",
        "--file",
        str(task_file),
        "--task",
        "Fetch_User_Data__",
        "--inputs",
        "/in.json",
        "--outputs",
        "/out.json",
    ]
    assert pod["metadata"]["name"].startswith("fetch-user-data-")
    assert render_task_pod(task, project="proj", domain="dev", inputs="/in.json", outputs="/out.json") == pod
    assert render_task_pod(task, project="proj", domain="dev")["metadata"]["name"] != pod["metadata"]["name"]


def test_task_without_secrets_has_no_label(task_file: Path) -> None:
    pod = render_task_pod(load_task(str(task_file), "plain"))
    assert_valid_manifest(pod)
    assert "inject-flyte-secrets" not in pod["metadata"]["labels"] and "annotations" not in pod["metadata"]
    assert pod["metadata"]["namespace"] == "flytesnacks-development"


@pytest.mark.parametrize("name", ["x" * 200, "___", "Ünïcode-task", "a.b.c"])
def test_pod_names_are_dns_labels(name: str) -> None:
    pod_name = task_pod_name(name, "0123456789abcdef")
    assert len(pod_name) <= 63 and pod_name[0].isalnum() and pod_name[-1].isalnum()
    assert set(pod_name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_bad_namespace_is_refused(task_file: Path) -> None:
    with pytest.raises(ManifestError, match="namespace"):
        render_task_pod(load_task(str(task_file), "plain"), project="My_Project")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_cli_prints_the_manifest(task_file: Path, fmt: str) -> None:
    result = CliRunner().invoke(
        pod_group,
        ["render", str(task_file), "Fetch_User_Data__", "--project", "p", "--domain", "d", "-o", fmt],
    )
    assert result.exit_code == 0, result.output
    pod = json.loads(result.output) if fmt == "json" else yaml.safe_load(result.output)
    assert_valid_manifest(pod)
    assert pod["metadata"]["namespace"] == "p-d"


def test_cli_errors_are_one_line_with_exit_2(task_file: Path) -> None:
    result = CliRunner().invoke(pod_group, ["render", str(task_file), "nope"])
    assert result.exit_code == 2 and "Traceback" not in result.output and "no task 'nope'" in result.output


def test_installed_command(task_file: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tasksecrets", "pod", "render", str(task_file), "plain", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert_valid_manifest(json.loads(proc.stdout))


def test_render_takes_the_namespace_flag_of_run(task_file: Path) -> None:
    for flags in (["-n", "team-a"], ["--namespace", "team-a", "-p", "ignored", "-d", "too"]):
        result = CliRunner().invoke(pod_group, ["render", str(task_file), "plain", *flags])
        assert result.exit_code == 0, result.output
        assert yaml.safe_load(result.output)["metadata"]["namespace"] == "team-a"
    default = CliRunner().invoke(pod_group, ["render", str(task_file), "plain", "-p", "proj", "-d", "dev"])
    assert yaml.safe_load(default.output)["metadata"]["namespace"] == "proj-dev"
