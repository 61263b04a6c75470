"""``env_var`` exports while a task runs in-process, and ``tasksecrets.testing.mock_secrets``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sdk_helpers import FAKE_VALUE, write_secret

from tasksecrets import Secret, current_context, task
from tasksecrets.errors import SecretNotFoundError, SecretNotRequestedError
from tasksecrets.testing import SecretsManager, mock_secrets


def _env_during(secret: Secret) -> str | None:
    @task(secret_requests=[secret])
    def look() -> str | None:
        return os.environ.get("MY_VAR")

    return look()  # type: ignore[no-any-return]


@pytest.mark.parametrize("mount", [Secret.MountType.ENV_VAR, Secret.MountType.ANY])
def test_env_var_holds_the_value_for_env_var_and_any(mount: Secret.MountType) -> None:
    os.environ["_FSEC_G_K"] = FAKE_VALUE
    assert _env_during(Secret(group="g", key="k", mount_requirement=mount, env_var="MY_VAR")) == FAKE_VALUE
    assert "MY_VAR" not in os.environ


def test_env_var_holds_the_file_path_for_file_mounts(secrets_dir: Path) -> None:
    path = write_secret(secrets_dir / "g" / "k", FAKE_VALUE)
    found = _env_during(Secret(group="g", key="k", mount_requirement=Secret.MountType.FILE, env_var="MY_VAR"))
    assert found == str(path)


def test_file_mount_of_a_secret_found_only_in_env_gets_a_private_file() -> None:
    os.environ["_FSEC_G_K"] = FAKE_VALUE

    @task(
        secret_requests=[
            Secret(group="g", key="k", mount_requirement=Secret.MountType.FILE, env_var="MY_VAR")
        ]
    )
    def look() -> tuple[str, str, int]:
        path = os.environ["MY_VAR"]
        return path, Path(path).read_text(), os.stat(path).st_mode & 0o777

    path, content, mode = look()
    assert content == FAKE_VALUE
    assert mode == 0o600
    assert not os.path.exists(path), "the private file is removed when the task ends"


def test_env_var_is_restored_after_the_task() -> None:
    os.environ["MY_VAR"] = "previous"
    os.environ["_FSEC_G_K"] = FAKE_VALUE
    assert _env_during(Secret(group="g", key="k", env_var="MY_VAR")) == FAKE_VALUE
    assert os.environ["MY_VAR"] == "previous"


def test_env_var_stays_unset_when_the_secret_is_nowhere(secrets_dir: Path) -> None:
    assert _env_during(Secret(group="g", key="k", env_var="MY_VAR")) is None


def test_mock_secrets_provides_env_values_and_restores() -> None:
    os.environ["_FSEC_USER-INFO_USERNAME"] = "previous"

    @task(
        secret_requests=[
            Secret(group="user-info", key="username"),
            Secret(group="db", key="pw", group_version="kv2"),
        ]
    )
    def read() -> tuple[str, str]:
        secrets = current_context().secrets
        return secrets.get("user-info", "username"), secrets.get("db", "pw", "kv2")

    with mock_secrets({("user-info", "username"): "FAKE-user", ("db", "pw", "kv2"): FAKE_VALUE}):
        assert read() == ("FAKE-user", FAKE_VALUE)
        assert os.environ["_FSEC_DB_KV2_PW"] == FAKE_VALUE
    assert os.environ["_FSEC_USER-INFO_USERNAME"] == "previous"
    assert "_FSEC_DB_KV2_PW" not in os.environ


def test_mock_secrets_file_mount_writes_files_and_removes_them() -> None:
    with mock_secrets({("Certs", "TLS.key"): b"FAKE\x00binary"}, mount="file"):
        sec = SecretsManager()
        path = sec.get_secrets_file("Certs", "TLS.key")
        assert Path(path).read_bytes() == b"FAKE\x00binary"
        assert sec.get("Certs", "TLS.key", encode_mode="rb") == b"FAKE\x00binary"
    assert not os.path.exists(path)
    assert "FLYTE_SECRETS_DEFAULT_DIR" not in os.environ


def test_mock_secrets_as_a_decorator() -> None:
    @mock_secrets({("g", "k"): FAKE_VALUE})
    def check() -> str:
        return str(SecretsManager().get("g", "k"))

    assert check() == FAKE_VALUE
    assert "_FSEC_G_K" not in os.environ
    assert check() == FAKE_VALUE  # reusable


def test_mock_secrets_restores_even_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), mock_secrets({("g", "k"): FAKE_VALUE}):
        raise RuntimeError("boom")
    assert "_FSEC_G_K" not in os.environ


def test_mock_secrets_follows_the_env_prefix_setting() -> None:
    os.environ["FLYTE_SECRETS_ENV_PREFIX"] = "PFX_"
    with mock_secrets({("g", "k"): FAKE_VALUE}):
        assert os.environ["PFX_G_K"] == FAKE_VALUE
    assert "PFX_G_K" not in os.environ


def test_mock_secrets_does_not_bypass_least_privilege() -> None:
    @task
    def nosy() -> None:
        current_context().secrets.get("g", "k")

    with mock_secrets({("g", "k"): FAKE_VALUE}), pytest.raises(SecretNotRequestedError):
        nosy()


def test_mock_secrets_repr_shows_names_not_values() -> None:
    mocked = mock_secrets({("g", "k"): FAKE_VALUE, ("g", "k2", "v1"): FAKE_VALUE})
    assert FAKE_VALUE not in repr(mocked)
    assert "('g', 'k')" in repr(mocked) and "('g', 'k2', 'v1')" in repr(mocked)


def test_reprs_carry_no_values() -> None:
    with mock_secrets({("g", "k"): FAKE_VALUE}):
        secrets = current_context().secrets
        secrets.get("g", "k")
        for text in (
            repr(secrets),
            repr(current_context()),
            repr(secrets.g),
            repr(Secret(group="g", key="k")),
        ):
            assert FAKE_VALUE not in text


def test_a_gcp_file_named_after_its_version_is_found(tmp_path: Path) -> None:
    """GCP's init container writes <dir>/<group>/<group_version>; flytekit looks for
    <dir>/<group>/<group_version>/<key>. Ours falls back to GCP's file after flytekit's paths."""
    os.environ["FLYTE_SECRETS_DEFAULT_DIR"] = str(tmp_path)
    write_secret(tmp_path / "projects" / "p" / "secrets" / "api-token" / "latest", FAKE_VALUE)

    @task(
        secret_requests=[Secret(group="projects/p/secrets/API-Token", key="unused", group_version="latest")]
    )
    def read() -> str:
        return str(current_context().secrets.get("projects/p/secrets/API-Token", "unused", "latest"))

    assert read() == FAKE_VALUE
    with pytest.raises(SecretNotFoundError) as info:
        SecretsManager().get("projects/p/secrets/API-Token", "unused", "v2")
    assert str(tmp_path / "projects/p/secrets/api-token/v2") in str(info.value)
