"""The reader's file lookups under least privilege: a read-time version is never a path of its own.

A read with a ``group_version`` is allowed only when the task requested that version, so a version
that is a path (absolute, ``..``) is refused before the file lookup could follow it to a file of the
machine the request never named; a requested plain version is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tasksecrets import Secret, current_context, task
from tasksecrets.errors import SecretNotRequestedError

PLANTED = "fake-planted-outside-value-4471"


@task(secret_requests=[Secret(group="user-info", key="token"), Secret("user-info", "token", "v1")])
def read_version(version: str) -> str:
    return str(current_context().secrets.get("user-info", "token", version))


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "secrets"
    (root / "user-info" / "v1").mkdir(parents=True)
    (root / "user-info" / "v1" / "token").write_text("fake-requested-token-1")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "token").write_text(PLANTED)
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(root))
    return root


def test_a_requested_version_is_read(secrets_dir: Path) -> None:
    assert read_version("v1") == "fake-requested-token-1"


@pytest.mark.parametrize("version", ["ABSOLUTE", "../../elsewhere", "v1/../../../elsewhere"])
def test_a_version_that_is_a_path_is_refused(version: str, secrets_dir: Path) -> None:
    if version == "ABSOLUTE":
        version = str(secrets_dir.parent / "elsewhere")
    with pytest.raises(SecretNotRequestedError, match="group_version") as info:
        read_version(version)
    assert PLANTED not in str(info.value)
