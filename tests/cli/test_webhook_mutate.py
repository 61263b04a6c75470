"""``tasksecrets webhook mutate``: offline dry run of a Pod or an AdmissionReview, exit codes 0/1/2.

The command is invoked directly (``mutate_cmd``); the ``webhook`` group that exposes it belongs to
the server's module."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from k8svalidate import assert_valid_manifest
from managers.conformance import make_pod
from tasksecrets.cli.webhook_mutate import mutate_cmd
from tasksecrets.sdk.secret import MountType, Secret

FAKE = "fake-cli-value-42"


def run(
    tmp_path: Path, data: Any, *args: str, raw: str | None = None, env: dict[str, str] | None = None
) -> Any:
    path = tmp_path / "input.yaml"
    path.write_text(raw if raw is not None else yaml.safe_dump(data))
    return CliRunner().invoke(mutate_cmd, [str(path), *args], env=env)


def test_pod_yaml_in_mutated_pod_out(tmp_path: Path) -> None:
    pod = make_pod([Secret(group="db", key="password", mount_requirement=MountType.FILE)])
    result = run(tmp_path, pod)
    assert result.exit_code == 0, result.output
    mutated = yaml.safe_load(result.stdout)
    assert_valid_manifest(mutated)
    assert mutated["spec"]["volumes"][0]["secret"]["secretName"] == "db"
    as_json = run(tmp_path, pod, "-o", "json")
    assert json.loads(as_json.stdout) == mutated


def test_review_in_review_out_with_global_from_env_and_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"secrets": {"secrets-prefix": str(tmp_path / "none")}}))
    review = {
        "apiVersion": "admission.k8s.io/v1beta1",
        "kind": "AdmissionReview",
        "request": {"uid": "abc", "object": make_pod([Secret(group="api", key="token")])},
    }
    path = tmp_path / "review.json"
    path.write_text(json.dumps(review))
    result = CliRunner().invoke(
        mutate_cmd, [str(path), "--config", str(config)], env={"FLYTE_SECRET_API_TOKEN": FAKE}
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["apiVersion"] == "admission.k8s.io/v1beta1" and answer["response"]["uid"] == "abc"
    assert (
        FAKE in base64.b64decode(answer["response"]["patch"]).decode()
    )  # Global's contract: a plain env var


def test_denied_exits_1_with_reason_on_stderr(tmp_path: Path) -> None:
    result = run(tmp_path, make_pod([Secret.from_wire(group="", key="k")]))
    assert result.exit_code == 1
    assert "Denied:" in result.stderr and "Secret(group='', key='k')" in result.stderr
    assert result.stdout == ""


def test_admit_policy_warns(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("webhook:\n  onInjectionError: admit\n")
    result = run(tmp_path, make_pod([Secret.from_wire(group="", key="k")]), "--config", str(config))
    assert result.exit_code == 0 and "Warning: admitted without" in result.stderr


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("kind: Deployment\napiVersion: apps/v1\n", "must be a Pod or an AdmissionReview"),
        ("- a\n- b\n", "must be a Pod or an AdmissionReview"),
        ("a: [unclosed\n", "neither JSON nor YAML"),
        ("kind: Pod\n---\nkind: Pod\n", "found 2 documents"),
        ('{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}', "no uid"),
    ],
)
def test_unusable_input_exits_2(tmp_path: Path, raw: str, message: str) -> None:
    result = run(tmp_path, None, raw=raw)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_bad_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("webhook:\n  listenPrt: 1\n")
    result = run(tmp_path, make_pod([]), "--config", str(config))
    assert result.exit_code == 2 and "webhook.listenPrt" in result.stderr


def test_review_flag_writes_the_review_the_webhook_answers(tmp_path: Path) -> None:
    pod = make_pod([Secret(group="db", key="password", mount_requirement=MountType.FILE)])
    written = run(tmp_path, pod, "--review")
    assert written.exit_code == 0, written.output
    review = json.loads(written.stdout)
    assert review["kind"] == "AdmissionReview" and review["request"]["object"] == pod
    answered = run(tmp_path, None, raw=written.stdout)  # the file curl would post
    assert answered.exit_code == 0, answered.output
    response = json.loads(answered.stdout)["response"]
    assert response["uid"] == review["request"]["uid"] and response["allowed"] is True
    assert response["patchType"] == "JSONPatch"


def test_mutated_yaml_has_no_aliases(tmp_path: Path) -> None:
    # An env var request gives containers objects they share in the mutated pod (PyYAML's safe_dump
    # writes those as &id001 / *id001): printed in full each time.
    pod = make_pod([Secret(group="db", key="password", mount_requirement=MountType.ENV_VAR)])
    result = run(tmp_path, pod)
    assert result.exit_code == 0, result.output
    assert "&id" not in result.stdout and "*id" not in result.stdout
