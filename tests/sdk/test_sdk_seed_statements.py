"""One test per statement of the seed document that concerns the SDK, named after the statement."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from sdk_helpers import FAKE_VALUE, write_secret

import tasksecrets
from tasksecrets import Secret, current_context, kwtypes, task, workflow
from tasksecrets.errors import SecretNotFoundError
from tasksecrets.testing import SecretsManager

SECRET_GROUP = "user-info"
SECRET_NAME = "user_secret"


def test_secrets_consist_of_group_key_and_mount_requirement() -> None:
    secret = Secret(group=SECRET_GROUP, key=SECRET_NAME, mount_requirement=Secret.MountType.FILE)
    assert (secret.group, secret.key, secret.mount_requirement) == (
        SECRET_GROUP,
        SECRET_NAME,
        Secret.MountType.FILE,
    )


def test_if_mount_requirement_is_not_specified_the_secret_can_come_as_an_env_var() -> None:
    secret = Secret(group=SECRET_GROUP, key=SECRET_NAME)
    assert secret.mount_requirement is Secret.MountType.ANY

    @task(secret_requests=[secret])
    def read() -> str:
        return str(current_context().secrets.get(SECRET_GROUP, SECRET_NAME))

    os.environ["_FSEC_USER-INFO_USER_SECRET"] = FAKE_VALUE
    assert read() == FAKE_VALUE


def test_the_request_in_secret_requests_makes_the_secret_available_to_the_task() -> None:
    @task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
    def secret_task() -> str:
        return str(current_context().secrets.get(SECRET_GROUP, SECRET_NAME))

    assert secret_task.secret_requests == (Secret(group=SECRET_GROUP, key=SECRET_NAME),)
    os.environ[SecretsManager().get_secrets_env_var(SECRET_GROUP, SECRET_NAME)] = FAKE_VALUE
    assert secret_task() == FAKE_VALUE


def test_the_secret_is_accessed_through_execution_parameters_from_current_context() -> None:
    @task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
    def secret_task() -> tuple[str, str | None]:
        context = tasksecrets.current_context()
        assert isinstance(context, tasksecrets.ExecutionParameters)
        return context.secrets.get(SECRET_GROUP, SECRET_NAME), context.task_name

    os.environ["_FSEC_USER-INFO_USER_SECRET"] = FAKE_VALUE
    assert secret_task() == (FAKE_VALUE, "secret_task")


def test_at_runtime_the_reader_looks_for_an_env_var_or_a_mounted_file(secrets_dir: Path) -> None:
    secrets = current_context().secrets
    write_secret(secrets_dir / "user-info" / "user_secret", FAKE_VALUE + "\n")
    assert secrets.get(SECRET_GROUP, SECRET_NAME) == FAKE_VALUE  # from the file
    os.environ["_FSEC_USER-INFO_USER_SECRET"] = "FAKE-from-env"
    assert secrets.get(SECRET_GROUP, SECRET_NAME) == "FAKE-from-env"  # the env var comes first


def test_in_case_the_secret_cannot_be_accessed_an_error_is_raised(secrets_dir: Path) -> None:
    with pytest.raises(SecretNotFoundError) as info:
        current_context().secrets.get(SECRET_GROUP, SECRET_NAME)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "_FSEC_USER-INFO_USER_SECRET" in message
    assert str(secrets_dir / "user-info" / "user_secret") in message
    assert "secret_requests=[Secret(group='user-info', key='user_secret')]" in message


@pytest.mark.parametrize(
    "call",
    [
        lambda: Secret(key=SECRET_NAME),
        lambda: Secret(group=SECRET_GROUP),
        lambda: current_context().secrets.get(None, SECRET_NAME),
        lambda: current_context().secrets.get(SECRET_GROUP, None),
    ],
    ids=["declare-no-group", "declare-no-key", "use-no-group", "use-no-key"],
)
def test_group_and_key_are_required_at_declaration_and_usage_else_value_error(call: object) -> None:
    with pytest.raises(ValueError, match="required"):
        call()  # type: ignore[operator]


def test_multiple_keys_grouped_into_one_secret_are_read_by_key() -> None:
    @task(
        secret_requests=[
            Secret(key="username", group=SECRET_GROUP),
            Secret(key="password", group=SECRET_GROUP),
        ]
    )
    def user_info_task() -> tuple[str, str]:
        context = current_context()
        return context.secrets.get(SECRET_GROUP, "username"), context.secrets.get(SECRET_GROUP, "password")

    os.environ["_FSEC_USER-INFO_USERNAME"] = "FAKE-user"
    os.environ["_FSEC_USER-INFO_PASSWORD"] = "FAKE-pass"
    assert user_info_task() == ("FAKE-user", "FAKE-pass")


def test_the_secret_structure_takes_key_and_group_as_keywords_in_any_order() -> None:
    assert Secret(key="username", group=SECRET_GROUP) == Secret(group=SECRET_GROUP, key="username")


def test_secrets_can_be_mounted_as_files_or_environment_variables(secrets_dir: Path) -> None:
    @task(
        secret_requests=[
            Secret(group="certs", key="tls.key", mount_requirement=Secret.MountType.FILE, env_var="TLS_KEY"),
            Secret(group=SECRET_GROUP, key=SECRET_NAME, mount_requirement=Secret.MountType.ENV_VAR),
        ]
    )
    def both() -> tuple[str, str, str]:
        secrets = current_context().secrets
        path = os.environ["TLS_KEY"]
        return Path(path).read_text(), secrets.get("certs", "tls.key"), secrets.get(SECRET_GROUP, SECRET_NAME)

    write_secret(secrets_dir / "certs" / "tls.key", "FAKE-pem")
    os.environ["_FSEC_USER-INFO_USER_SECRET"] = FAKE_VALUE
    assert both() == ("FAKE-pem", "FAKE-pem", FAKE_VALUE)


def test_get_secrets_file_gives_the_file_name_and_get_the_value_from_an_env_var() -> None:
    @task(
        secret_requests=[
            Secret(group=SECRET_GROUP, key=SECRET_NAME, mount_requirement=Secret.MountType.ENV_VAR)
        ]
    )
    def secret_file_task() -> tuple[str, str]:
        secret_manager = current_context().secrets
        return secret_manager.get_secrets_file(SECRET_GROUP, SECRET_NAME), secret_manager.get(
            SECRET_GROUP, SECRET_NAME
        )

    os.environ["_FSEC_USER-INFO_USER_SECRET"] = FAKE_VALUE
    assert secret_file_task() == ("/etc/secrets/user-info/user_secret", FAKE_VALUE)


def test_these_tasks_can_be_used_in_a_workflow_as_usual() -> None:
    @task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
    def secret_task() -> str:
        return str(current_context().secrets.get(SECRET_GROUP, SECRET_NAME))

    @task(secret_requests=[Secret(group=SECRET_GROUP, key="username")])
    def user_task() -> tuple[str, int]:
        return current_context().secrets.get(SECRET_GROUP, "username"), 2

    @workflow
    def wf() -> tuple[str, str, int]:
        x = secret_task()
        y, z = user_task()
        return x, y, z

    os.environ["_FSEC_USER-INFO_USER_SECRET"] = FAKE_VALUE
    os.environ["_FSEC_USER-INFO_USERNAME"] = "FAKE-user"
    assert wf() == (FAKE_VALUE, "FAKE-user", 2)


def test_testing_by_exporting_the_secret_as_an_env_var_with_the_helper_methods() -> None:
    @task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
    def secret_task() -> str:
        return str(current_context().secrets.get(SECRET_GROUP, SECRET_NAME))

    sec = SecretsManager()
    os.environ[sec.get_secrets_env_var(SECRET_GROUP, SECRET_NAME)] = "value"
    assert secret_task() == "value"


def test_kwtypes_names_typed_inputs_for_task_templates() -> None:
    assert kwtypes(limit=int, name=str) == {"limit": int, "name": str}
    assert list(kwtypes(b=int, a=str)) == ["b", "a"]


def test_secrets_are_not_case_sensitive() -> None:
    @task(secret_requests=[Secret(group="User-Info", key="User_Secret")])
    def read() -> str:
        return str(current_context().secrets.get("user-info", "USER_SECRET"))

    os.environ["_FSEC_USER-INFO_USER_SECRET"] = FAKE_VALUE
    assert read() == FAKE_VALUE


def test_flyte_secrets_default_dir_is_where_secret_files_are_searched(tmp_path: Path) -> None:
    sec = SecretsManager()
    assert sec.get_secrets_file("g", "k") == "/etc/secrets/g/k"
    os.environ["FLYTE_SECRETS_DEFAULT_DIR"] = str(tmp_path)
    write_secret(tmp_path / "g" / "k", FAKE_VALUE)
    assert sec.get("g", "k") == FAKE_VALUE


def test_flyte_secrets_file_prefix_is_a_common_file_prefix(secrets_dir: Path) -> None:
    sec = SecretsManager()
    os.environ["FLYTE_SECRETS_FILE_PREFIX"] = "pre_"
    assert sec.get_secrets_file("g", "k") == str(secrets_dir / "g" / "pre_k")
    write_secret(secrets_dir / "g" / "pre_k", FAKE_VALUE)
    assert sec.get("g", "k") == FAKE_VALUE


def test_flyte_secrets_env_prefix_is_a_common_env_var_prefix() -> None:
    sec = SecretsManager()
    assert sec.get_secrets_env_var("g", "k") == "_FSEC_G_K"
    os.environ["FLYTE_SECRETS_ENV_PREFIX"] = "MYPFX_"
    assert sec.get_secrets_env_var("g", "k") == "MYPFX_G_K"
    os.environ["MYPFX_G_K"] = FAKE_VALUE
    assert sec.get("g", "k") == FAKE_VALUE


def test_locally_store_secrets_accordingly_or_modify_these_variables(tmp_path: Path) -> None:
    @task(secret_requests=[Secret(group="db", key="password")])
    def read() -> str:
        return str(current_context().secrets.get("db", "password"))

    os.environ["FLYTE_SECRETS_DEFAULT_DIR"] = str(tmp_path)
    write_secret(tmp_path / "db" / "password", FAKE_VALUE)
    assert read() == FAKE_VALUE


def test_vault_secrets_become_available_under_etc_flyte_secrets_group_name(tmp_path: Path) -> None:
    # The webhook points FLYTE_SECRETS_DEFAULT_DIR at /etc/flyte/secrets; Vault's agent keeps the case.
    os.environ["FLYTE_SECRETS_DEFAULT_DIR"] = str(tmp_path)
    write_secret(tmp_path / "secret" / "data" / "Flyte" / "DB_Password", FAKE_VALUE)

    @task(secret_requests=[Secret(group="secret/data/Flyte", key="DB_Password", group_version="kv2")])
    def read() -> str:
        return str(current_context().secrets.get("secret/data/Flyte", "DB_Password", group_version="kv2"))

    assert read() == FAKE_VALUE


@pytest.mark.parametrize("engine", ["kv1", "kv2", "db"])
def test_group_version_specifies_the_secret_backend_engine(engine: str, secrets_dir: Path) -> None:
    secret = Secret(group="secret/data/flyte", key="password", group_version=engine)
    assert secret.group_version == engine
    assert SecretsManager().get_secrets_file(secret.group, secret.key, engine) == str(
        secrets_dir / "secret" / "data" / "flyte" / engine / "password"
    )


def test_never_print_secret_values_logs_show_them_masked(caplog: pytest.LogCaptureFixture) -> None:
    @task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
    def careless() -> None:
        logging.getLogger("careless").warning(
            "the value is %s", current_context().secrets.get(SECRET_GROUP, SECRET_NAME)
        )

    os.environ["_FSEC_USER-INFO_USER_SECRET"] = FAKE_VALUE
    with caplog.at_level(logging.WARNING):
        careless()
    assert "the value is ********" in caplog.text
    assert FAKE_VALUE not in caplog.text


def test_secret_key_files_are_lower_case_my_token_not_my_token_upper(secrets_dir: Path) -> None:
    sec = SecretsManager()
    assert sec.get_secrets_file("Tokens", "MY_TOKEN") == str(secrets_dir / "tokens" / "my_token")
    write_secret(secrets_dir / "tokens" / "my_token", FAKE_VALUE)
    assert sec.get("Tokens", "MY_TOKEN") == FAKE_VALUE


def test_tasks_may_return_tuples() -> None:
    @task
    def pair() -> tuple[str, str]:
        return "a", "b"

    first, second = pair()
    assert (first, second) == ("a", "b")
