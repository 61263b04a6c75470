"""Malformed declarations and calls: each gives its documented error, says what to do, leaks no value.

Every row runs with real secrets present in the environment and on disk (obviously fake values), so a
message that carried a value would be caught.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import FAKE_VALUE, OTHER_FAKE_VALUE, write_secret

from tasksecrets import Secret, current_context, task
from tasksecrets.errors import (
    SecretError,
    SecretNotFoundError,
    SecretNotRequestedError,
    TaskDeclarationError,
)
from tasksecrets.testing import mock_secrets


def _secrets() -> Any:
    return current_context().secrets


def _read_unrequested() -> None:
    @task(secret_requests=[Secret(group="user-info", key="username")])
    def reader() -> None:
        _secrets().get("user-info", "password", group_version="kv2")

    reader()


def _read_other_version() -> None:
    @task(secret_requests=[Secret(group="user-info", key="password", group_version="kv1")])
    def reader() -> None:
        _secrets().get("user-info", "password", group_version="kv2")

    reader()


def _read_unrequested_by_attribute() -> None:
    @task
    def reader() -> None:
        _secrets().__getattr__("user-info").password  # noqa: B018

    reader()


def _same_env_var_twice() -> None:
    task(
        secret_requests=[
            Secret(group="a", key="k", env_var="SHARED"),
            Secret(group="b", key="k", env_var="SHARED"),
        ]
    )


def _positional_requests() -> None:
    task([Secret(group="g", key="k")])  # type: ignore[call-overload]


# (id, call, error type, what the message must say: the fix or the field at fault)
ROWS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("group-none", lambda: Secret(group=None, key="k"), SecretError, "group is a required parameter"),
    ("group-empty", lambda: Secret(group="", key="k"), SecretError, "pass a non-empty string"),
    ("group-blank", lambda: Secret(group="   ", key="k"), SecretError, "pass a non-empty string"),
    ("group-int", lambda: Secret(group=3, key="k"), SecretError, "group must be a string"),  # type: ignore[arg-type]
    ("key-none", lambda: Secret(group="g"), SecretError, "key is a required parameter"),
    ("key-empty", lambda: Secret(group="g", key=""), SecretError, "pass a non-empty string"),
    ("key-bytes", lambda: Secret(group="g", key=b"k"), SecretError, "key must be a string"),  # type: ignore[arg-type]
    ("version-int", lambda: Secret(group="g", key="k", group_version=2), SecretError, "must be a string"),  # type: ignore[arg-type]
    (
        "env-var-lower",
        lambda: Secret(group="g", key="k", env_var="my_var"),
        SecretError,
        'env_var="MY_SECRET"',
    ),
    (
        "env-var-digit",
        lambda: Secret(group="g", key="k", env_var="1VAR"),
        SecretError,
        "not starting with a digit",
    ),
    ("env-var-dash", lambda: Secret(group="g", key="k", env_var="MY-VAR"), SecretError, "underscores"),
    ("env-var-empty", lambda: Secret(group="g", key="k", env_var=""), SecretError, "upper-case letters"),
    ("env-var-int", lambda: Secret(group="g", key="k", env_var=5), SecretError, "upper-case letters"),  # type: ignore[arg-type]
    (
        "mount-int",
        lambda: Secret(group="g", key="k", mount_requirement=7),
        SecretError,
        "Secret.MountType.FILE",
    ),
    (
        "mount-str",
        lambda: Secret(group="g", key="k", mount_requirement="SOMETIMES"),
        SecretError,
        "Secret.MountType.ANY",
    ),  # type: ignore[arg-type]
    ("requests-str", lambda: task(secret_requests="user-info"), TaskDeclarationError, "got str"),  # type: ignore[call-overload]
    (
        "requests-secret",
        lambda: task(secret_requests=Secret(group="g", key="k")),
        TaskDeclarationError,
        "wrap it in a list",
    ),  # type: ignore[call-overload]
    (
        "requests-set",
        lambda: task(secret_requests={Secret(group="g", key="k")}),
        TaskDeclarationError,
        "got set",
    ),  # type: ignore[call-overload]
    (
        "requests-dict",
        lambda: task(secret_requests={"g": "k"}),
        TaskDeclarationError,
        "must be a list of Secret",
    ),  # type: ignore[call-overload]
    ("requests-of-str", lambda: task(secret_requests=["user-info"]), TaskDeclarationError, "Secret(group="),  # type: ignore[list-item]
    ("requests-of-tuple", lambda: task(secret_requests=[("g", "k")]), TaskDeclarationError, "got tuple"),  # type: ignore[list-item]
    (
        "requests-of-none",
        lambda: task(secret_requests=[None]),
        TaskDeclarationError,
        "secret_requests[0] must be a Secret",
    ),  # type: ignore[list-item]
    ("requests-positional", _positional_requests, TaskDeclarationError, "secret_requests=[...]"),
    ("env-var-twice", _same_env_var_twice, TaskDeclarationError, "give each secret its own env_var"),
    (
        "get-group-none",
        lambda: _secrets().get(None, "password"),
        SecretError,
        "group is a required parameter",
    ),
    ("get-key-none", lambda: _secrets().get("user-info", None), SecretError, "key is a required parameter"),
    ("get-group-empty", lambda: _secrets().get("", "password"), SecretError, "non-empty string"),
    ("get-group-int", lambda: _secrets().get(5, "password"), SecretError, "must be a string"),
    ("get-version-int", lambda: _secrets().get("user-info", "password", 2), SecretError, "must be a string"),
    (
        "get-mode-w",
        lambda: _secrets().get("user-info", "password", encode_mode="w"),
        SecretError,
        "use one of r, rb",
    ),
    (
        "get-mode-rt",
        lambda: _secrets().get("user-info", "password", encode_mode="rt"),
        SecretError,
        "use one of r, rb",
    ),
    (
        "env-name-no-key",
        lambda: _secrets().get_secrets_env_var("user-info", None),
        SecretError,
        "key is a required",
    ),
    (
        "file-no-group",
        lambda: _secrets().get_secrets_file(None, "password"),
        SecretError,
        "group is a required",
    ),
    (
        "get-missing",
        lambda: _secrets().get("user-info", "nothing-here"),
        SecretNotFoundError,
        "secret_requests=[Secret(group='user-info', key='nothing-here')]",
    ),
    (
        "read-unrequested",
        _read_unrequested,
        SecretNotRequestedError,
        "add Secret(group='user-info', key='password', group_version='kv2')",
    ),
    ("read-other-version", _read_other_version, SecretNotRequestedError, "group_version='kv2')"),
    (
        "read-unrequested-attr",
        _read_unrequested_by_attribute,
        SecretNotRequestedError,
        "add Secret(group='user-info', key='password')",
    ),
    ("mock-bad-key", lambda: mock_secrets({"user-info": FAKE_VALUE}), SecretError, "(group, key)"),
    ("mock-bad-value", lambda: mock_secrets({("g", "k"): 5}), SecretError, "must be str"),  # type: ignore[dict-item]
    (
        "mock-bad-mount",
        lambda: mock_secrets({("g", "k"): FAKE_VALUE}, mount="disk"),
        SecretError,
        "use 'env' or 'file'",
    ),  # type: ignore[arg-type]
]


@pytest.fixture
def real_secrets(secrets_dir: Path) -> None:
    os.environ["_FSEC_USER-INFO_PASSWORD"] = FAKE_VALUE
    os.environ["_FSEC_USER-INFO_KV2_PASSWORD"] = FAKE_VALUE
    write_secret(secrets_dir / "user-info" / "password", OTHER_FAKE_VALUE)
    write_secret(secrets_dir / "user-info" / "username", OTHER_FAKE_VALUE)


def test_the_table_has_at_least_twenty_rows() -> None:
    assert len(ROWS) >= 20


@pytest.mark.usefixtures("real_secrets")
@pytest.mark.parametrize(("call", "error", "says"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_bad_input_gives_documented_error(
    call: Callable[[], object], error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert isinstance(info.value, ValueError), "bad input is a ValueError, as flytekit raises"
    message = str(info.value)
    assert says in message
    assert FAKE_VALUE not in message and OTHER_FAKE_VALUE not in message
    assert FAKE_VALUE not in repr(info.value) and OTHER_FAKE_VALUE not in repr(info.value)
