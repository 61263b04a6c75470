"""Least privilege: inside a running task, only requested secrets can be read; outside, no check."""

from __future__ import annotations

import os

import pytest
from sdk_helpers import FAKE_VALUE

from tasksecrets import Secret, current_context, task, workflow
from tasksecrets.errors import SecretNotFoundError, SecretNotRequestedError
from tasksecrets.testing import SecretsManager, mock_secrets

SECRETS = {
    ("user-info", "username"): "FAKE-user",
    ("user-info", "password"): FAKE_VALUE,
    ("db", "password", "kv2"): "FAKE-db",
}


@pytest.fixture(autouse=True)
def provided() -> object:
    with mock_secrets(SECRETS) as mocked:
        yield mocked


@task(secret_requests=[Secret(group="user-info", key="username")])
def read_username_and(group: str, key: str, version: str | None = None) -> str:
    current_context().secrets.get("user-info", "username")
    return str(current_context().secrets.get(group, key, version))


def test_requested_secret_is_read() -> None:
    assert read_username_and("user-info", "username") == "FAKE-user"


def test_unrequested_secret_is_refused_naming_the_secret_to_add() -> None:
    with pytest.raises(SecretNotRequestedError) as info:
        read_username_and("user-info", "password")
    message = str(info.value)
    assert "task 'read_username_and'" in message
    assert "add Secret(group='user-info', key='password') to its @task(secret_requests=[...])" in message
    assert FAKE_VALUE not in message


def test_unrequested_secret_with_version_names_the_version() -> None:
    with pytest.raises(
        SecretNotRequestedError, match=r"Secret\(group='db', key='password', group_version='kv2'\)"
    ):
        read_username_and("db", "password", "kv2")


def test_matching_ignores_case() -> None:
    assert read_username_and("USER-INFO", "UserName") == "FAKE-user"


def test_version_must_match_when_both_give_one() -> None:
    @task(secret_requests=[Secret(group="db", key="password", group_version="kv2")])
    def read(version: str | None) -> str:
        return str(current_context().secrets.get("db", "password", version))

    assert read("KV2") == "FAKE-db"
    with pytest.raises(SecretNotFoundError):  # allowed; only the versioned name holds a value here
        read(None)
    with pytest.raises(SecretNotRequestedError):
        read("kv1")


def test_request_without_version_refuses_a_read_with_one() -> None:
    @task(secret_requests=[Secret(group="db", key="password")])
    def read() -> str:
        return str(current_context().secrets.get("db", "password", "kv2"))

    with pytest.raises(SecretNotRequestedError, match="group_version='kv2'") as info:
        read()
    assert "FAKE-db" not in str(info.value)


def test_attribute_access_is_checked_too() -> None:
    @task(secret_requests=[Secret(group="db", key="password")])
    def read() -> str:
        return str(getattr(current_context().secrets, "user-info").password)

    with pytest.raises(SecretNotRequestedError, match="key='password'"):
        read()


def test_nested_task_has_its_own_requests_and_outer_ones_come_back() -> None:
    @task(secret_requests=[Secret(group="user-info", key="password")])
    def inner() -> str:
        with pytest.raises(SecretNotRequestedError):
            current_context().secrets.get("user-info", "username")
        return str(current_context().secrets.get("user-info", "password"))

    @task(secret_requests=[Secret(group="user-info", key="username")])
    def outer() -> tuple[str, str]:
        value = inner()
        return value, current_context().secrets.get("user-info", "username")

    assert outer() == (FAKE_VALUE, "FAKE-user")


def test_outside_any_task_behaves_like_flytekit_without_checks() -> None:
    assert current_context().task_name is None
    assert SecretsManager().get("user-info", "password") == FAKE_VALUE
    assert current_context().secrets.get("db", "password", "kv2") == "FAKE-db"


def test_checks_end_when_the_task_ends() -> None:
    with pytest.raises(SecretNotRequestedError):
        read_username_and("user-info", "password")
    assert current_context().secrets.get("user-info", "password") == FAKE_VALUE


def test_workflow_body_is_not_a_task() -> None:
    @workflow
    def wf() -> tuple[str, str]:
        # Tasks check their own requests; the workflow body itself is outside any task.
        return read_username_and("user-info", "username"), current_context().secrets.get(
            "user-info", "password"
        )

    assert wf() == ("FAKE-user", FAKE_VALUE)


def test_a_task_requesting_nothing_reads_nothing() -> None:
    @task
    def nothing() -> None:
        current_context().secrets.get("user-info", "username")

    assert os.environ["_FSEC_USER-INFO_USERNAME"] == "FAKE-user"
    with pytest.raises(SecretNotRequestedError):
        nothing()
