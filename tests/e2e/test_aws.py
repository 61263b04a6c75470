"""AWS Secrets Manager end to end, for real against moto's server (``moto[server]``).

Secrets are created with boto3 under the names the seed describes (``<SECRET_GROUP>:<SECRET_KEY>``
with the group an ARN prefix). ``tasksecrets run`` with an AWS config renders each task's pod, the
webhook's code adds the ``aws-pull-secret-<N>`` init containers, the local kubelet runs them the
way the sidecar does (boto3, ``AWS_ENDPOINT_URL``, credentials from the environment), and the task
process reads the values: from files, and through the ENV_VAR export as ``os.environ[...]`` too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from childproc import run_tasksecrets
from k8svalidate import assert_valid_manifest
from services import MotoServer
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import encode_pod_metadata

GROUP = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
VALUES = {"db-pass": "fake-aws-db-pass-1", "api-token": "fake-aws-api-token-2", "cert": "fake-aws-cert-3"}

TASKS = f"""
import os
from tasksecrets import Secret, current_context, task, workflow

GROUP = {GROUP!r}
ENV, FILE = Secret.MountType.ENV_VAR, Secret.MountType.FILE


@task(
    secret_requests=[
        Secret(group=GROUP, key="db-pass", mount_requirement=FILE),
        Secret(group=GROUP + ":", key=":api-token", mount_requirement=ENV, env_var="MY_VAR"),
        Secret(group=GROUP, key="cert", mount_requirement=FILE, env_var="CERT_PATH"),
        Secret(group=GROUP, key="db-pass", env_var="DB_PASS"),
    ]
)
def read_all() -> str:
    secrets = current_context().secrets
    checks = [
        secrets.get(GROUP, "db-pass") == {VALUES["db-pass"]!r},
        secrets.get(GROUP + ":", ":api-token") == {VALUES["api-token"]!r},
        os.environ["MY_VAR"] == {VALUES["api-token"]!r},
        os.environ[("_FSEC_" + GROUP + ":_:api-token").upper()] == {VALUES["api-token"]!r},
        open(os.environ["CERT_PATH"]).read() == {VALUES["cert"]!r},
        secrets.get(GROUP, "cert") == {VALUES["cert"]!r},
        # ANY is delivered as a file, but env_var holds the value (the entrypoint swaps the path)
        os.environ["DB_PASS"] == {VALUES["db-pass"]!r},
    ]
    return " ".join("ok" if c else "FAILED" for c in checks)


@workflow
def wf() -> str:
    return read_all()
"""


@pytest.fixture(scope="module")
def aws_secrets(moto_server: MotoServer) -> MotoServer:
    moto_server.create_secrets(VALUES)
    return moto_server


def run_cli(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_tasksecrets(args, env=env, cwd=cwd)


def base_env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VAULT_", "BAO_"))}
    env.update(TASKSECRETS_HOME=str(tmp_path / "home"), **extra)
    return env


def test_tasksecrets_run_with_aws_config(aws_secrets: MotoServer, tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(TASKS)
    (tmp_path / "aws.yaml").write_text("webhook:\n  secretManagerType: aws\n")
    done = run_cli(
        ["run", "--config", str(tmp_path / "aws.yaml"), str(tmp_path / "wf.py"), "wf"],
        env=base_env(tmp_path, aws_secrets.env()),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "ok ok ok ok ok ok" in done.stdout
    for value in VALUES.values():
        assert value not in done.stdout + done.stderr


def test_missing_aws_secret_fails_before_the_task_with_its_name(
    aws_secrets: MotoServer, tmp_path: Path
) -> None:
    (tmp_path / "wf.py").write_text(TASKS.replace('key="cert"', 'key="no-such-secret"'))
    (tmp_path / "aws.yaml").write_text("webhook:\n  secretManagerType: AWS\n")
    done = run_cli(
        ["run", "--config", str(tmp_path / "aws.yaml"), str(tmp_path / "wf.py"), "wf"],
        env=base_env(tmp_path, aws_secrets.env()),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "failed before its code ran" in done.stderr
    assert f"{GROUP}:no-such-secret" in done.stderr and "ResourceNotFoundException" in done.stderr


def test_pod_for_the_sidecar_names_the_secrets_as_the_seed_says() -> None:
    secret = Secret(group=GROUP + ":", key=":api-token", mount_requirement=Secret.MountType.FILE)
    labels, annotations = encode_pod_metadata([secret])
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "task", "image": "python:3.11"}]},
    }
    result = Mutator(parse_config({"webhook": {"secretManagerType": "AWS"}})).mutate(pod)
    assert_valid_manifest(result.pod)
    sidecar = result.pod["spec"]["initContainers"][0]
    assert sidecar["env"][0] == {"name": "SECRET_ARN", "value": f"{GROUP}:api-token"}
