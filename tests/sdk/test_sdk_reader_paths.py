"""The reader's file lookups under least privilege: a version the request leaves open stays a version.

A request without ``group_version`` lets a task read any version of that secret (compatibility).
That must not turn ``group_version`` into a path: an absolute or ``..`` version would point the
file lookup at any file of the machine, which the request never named.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tasksecrets import Secret, current_context, task
from tasksecrets.errors import SecretNotRequestedError

PLANTED = "fake-planted-outside-value-4471"


@task(secret_requests=[Secret(group="user-info", key="token")])
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


def test_a_plain_version_is_read(secrets_dir: Path) -> None:
    assert read_version("v1") == "fake-requested-token-1"


@pytest.mark.parametrize("version", ["ABSOLUTE", "../../elsewhere", "v1/../../../elsewhere"])
def test_a_version_that_is_a_path_is_refused(version: str, secrets_dir: Path) -> None:
    if version == "ABSOLUTE":
        version = str(secrets_dir.parent / "elsewhere")
    with pytest.raises(SecretNotRequestedError, match="group_version") as info:
        read_version(version)
    assert PLANTED not in str(info.value)
