"""Reader steps 4 to 6 under least privilege: what each may find in a task, and what it may not.

Steps 4-6 are the places the managers deliver to (README section 7): 4, the env var every manager
writes (``<prefix><GROUP>_<KEY>``, never the version); 5, K8s's and AWS's file ``<dir>/<group>/<key>``;
6, GCP's file ``<dir>/<group>/<version>``. Each row plants the value only at the step under test, so a
hit proves that step found it. A read-time ``group_version`` counts only when the task requested it:
otherwise a version-less request could name another key through step 6 (``group_version="password"``
is K8s's file of key ``password``). Outside a task nothing is checked, as documented.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sdk_helpers import FAKE_VALUE, write_secret

from tasksecrets import Secret, current_context, task
from tasksecrets.errors import SecretNotFoundError, SecretNotRequestedError

PASSWORD = "FAKE-password-of-the-step-tests-0003"


def _read_in_task(request: Secret, group: str, key: str, version: str | None) -> str:
    @task(secret_requests=[request])
    def reader() -> str:
        return str(current_context().secrets.get(group, key, version))

    return reader()


def _refused(request: Secret, group: str, key: str, version: str | None, *values: str) -> None:
    with pytest.raises(SecretNotRequestedError, match="group_version") as info:
        _read_in_task(request, group, key, version)
    assert not any(value in str(info.value) for value in values)


# -- step 4: the managers' env var ------------------------------------------------------------------


def test_step_4_finds_the_requested_version_in_the_managers_env_var() -> None:
    os.environ["_FSEC_USER-INFO_USERNAME"] = FAKE_VALUE
    assert _read_in_task(Secret("user-info", "username", "v1"), "user-info", "username", "v1") == FAKE_VALUE


def test_step_4_refuses_a_version_the_request_never_gave() -> None:
    os.environ["_FSEC_USER-INFO_USERNAME"] = FAKE_VALUE
    _refused(Secret("user-info", "username"), "user-info", "username", "v1", FAKE_VALUE)


def test_step_4_never_reads_another_key_named_by_the_version() -> None:
    os.environ["_FSEC_USER-INFO_PASSWORD"] = PASSWORD
    request = Secret("user-info", "username", "password")
    with pytest.raises(SecretNotFoundError) as info:
        _read_in_task(request, "user-info", "username", "password")
    assert PASSWORD not in str(info.value)


# -- step 5: K8s's and AWS's file, without the version -----------------------------------------------


def test_step_5_finds_the_requested_version_in_the_versionless_file(secrets_dir: Path) -> None:
    write_secret(secrets_dir / "user-info" / "username", FAKE_VALUE)
    assert _read_in_task(Secret("user-info", "username", "v1"), "user-info", "username", "v1") == FAKE_VALUE


def test_step_5_refuses_a_version_the_request_never_gave(secrets_dir: Path) -> None:
    write_secret(secrets_dir / "user-info" / "username", FAKE_VALUE)
    _refused(Secret("user-info", "username"), "user-info", "username", "v1", FAKE_VALUE)


def test_step_5_never_reads_the_versions_directory_of_another_request(secrets_dir: Path) -> None:
    # Flytekit's file of ("user-info", "username", "v2") is <dir>/user-info/v2/username: not step 5's.
    write_secret(secrets_dir / "user-info" / "v2" / "username", PASSWORD)
    with pytest.raises(SecretNotFoundError):
        _read_in_task(Secret("user-info", "username", "v1"), "user-info", "username", "v1")


# -- step 6: GCP's file, named after the version ----------------------------------------------------


def test_step_6_finds_the_requested_version_in_gcps_file(secrets_dir: Path) -> None:
    write_secret(secrets_dir / "my-secret" / "3", FAKE_VALUE)
    assert _read_in_task(Secret("my-secret", "value", "3"), "my-secret", "value", "3") == FAKE_VALUE


def test_step_6_cannot_turn_a_version_into_another_keys_file(secrets_dir: Path) -> None:
    # The bypass: a task that requested only the username names K8s's password file as GCP's file.
    write_secret(secrets_dir / "user-info" / "username", FAKE_VALUE)
    write_secret(secrets_dir / "user-info" / "password", PASSWORD)
    request = Secret("user-info", "username")
    assert _read_in_task(request, "user-info", "username", None) == FAKE_VALUE
    _refused(request, "user-info", "username", "password", PASSWORD)


def test_step_6_is_not_tried_without_a_version(secrets_dir: Path) -> None:
    write_secret(secrets_dir / "my-secret" / "3", FAKE_VALUE)
    with pytest.raises(SecretNotFoundError) as info:
        _read_in_task(Secret("my-secret", "value", "3"), "my-secret", "value", None)
    assert FAKE_VALUE not in str(info.value)


# -- outside a task: no requests known, no checks (as flytekit) --------------------------------------


def test_outside_a_task_every_step_reads_as_documented(secrets_dir: Path) -> None:
    write_secret(secrets_dir / "user-info" / "password", PASSWORD)
    os.environ["_FSEC_DB_PASSWORD"] = FAKE_VALUE
    secrets = current_context().secrets
    assert secrets.get("user-info", "username", group_version="password") == PASSWORD  # step 6
    assert secrets.get("db", "password", group_version="kv2") == FAKE_VALUE  # step 4
