"""GCP injector: the conformance suite, every mount x env_var case exactly as compat.md section 4 says,
and the refusals (no group_version, names that would break out of the shell script)."""

from __future__ import annotations

from typing import Any

import pytest

from managers.filecases import (
    ENV,
    FILE,
    MOUNTS,
    FileManagerConformance,
    deny_reason,
    expected_pull_pod,
    mutate,
)
from tasksecrets.sdk.secret import MountType, Secret

IMAGE = "gcr.io/google.com/cloudsdktool/cloud-sdk:alpine"


class TestGCPConformance(FileManagerConformance):
    injector_name = "GCP"

    def sample_secret(self, mount: MountType, *, env_var: str | None = None, index: int = 0) -> Secret:
        return Secret(
            group=f"conf-secret-{index}",
            key="unused",
            group_version="latest",
            mount_requirement=mount,
            env_var=env_var,
        )

    def refused_secrets(self) -> list[Secret]:
        return [
            Secret.from_wire(group="", key="k", group_version="1"),
            Secret.from_wire(group="s", key="k"),
            Secret.from_wire(group="s; rm -rf /", key="k", group_version="1"),
            Secret.from_wire(group="s", key="k", group_version="$(id)"),
            Secret.from_wire(group="../s", key="k", group_version="1"),
        ]


def expected_pod(secret: Secret, *, script: str, path: str) -> dict[str, Any]:
    return expected_pull_pod(
        secret, manager="gcp", image=IMAGE, path=path, sidecar={"command": ["sh", "-ec", script]}
    )


@pytest.mark.parametrize("env_var", [None, "MY_VAR"])
@pytest.mark.parametrize("mount", MOUNTS)
def test_every_mount_and_env_var_exactly(mount: MountType, env_var: str | None) -> None:
    secret = Secret(
        group="Team-Secret", key="ignored", group_version="3", mount_requirement=mount, env_var=env_var
    )
    result = mutate("GCP", [secret])
    script = (
        "gcloud secrets versions access Team-Secret/versions/3 "
        "--out-file=/etc/flyte/secrets/team-secret/3 || "
        "gcloud secrets versions access 3 --secret=Team-Secret --out-file=/etc/flyte/secrets/team-secret/3; "
        "chmod +rX /etc/flyte/secrets/team-secret /etc/flyte/secrets/team-secret/3"
    )
    assert result.pod == expected_pod(secret, script=script, path="/etc/flyte/secrets/team-secret/3")


def test_project_qualified_group() -> None:
    secret = Secret(group="projects/p1/secrets/api", key="k", group_version="latest", mount_requirement=FILE)
    command = mutate("gcp", [secret]).pod["spec"]["initContainers"][1]["command"]
    assert command[2].startswith(
        "gcloud secrets versions access projects/p1/secrets/api/versions/latest "
        "--out-file=/etc/flyte/secrets/projects/p1/secrets/api/latest || "
    )


def test_missing_group_version_is_denied_with_the_fix() -> None:
    reason = deny_reason("GCP", Secret(group="api", key="k", mount_requirement=FILE))
    assert "GCP needs group_version" in reason and "group_version='latest'" in reason


@pytest.mark.parametrize("group", ["a b", "x;reboot", "$(id)", "`id`", "a'b", 'a"b', "a\nb", "--format=json"])
def test_names_that_would_break_the_script_are_denied(group: str) -> None:
    reason = deny_reason("GCP", Secret.from_wire(group=group, key="k", group_version="1"))
    assert "is not a secret name or version" in reason


def test_a_version_that_gcloud_would_read_as_an_option_is_denied() -> None:
    reason = deny_reason("GCP", Secret.from_wire(group="api", key="k", group_version="-h"))
    assert "not starting with '-'" in reason


def test_env_var_request_is_denied_when_export_is_disabled() -> None:
    secret = Secret(group="api", key="k", group_version="1", mount_requirement=ENV)
    assert "ENV_VAR is not supported by GCP" in deny_reason("GCP", secret, exportEnvVars=False)
