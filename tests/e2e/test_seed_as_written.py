"""The seed doc's examples as a user writes them, with our imports, through every door we offer.

The seed module (``secret_task``, ``user_info_task``, ``secret_file_task``, ``my_secret_workflow``
and the ``__main__`` testing block) is written to a temporary file and:

(a) run as a script: its own asserts pass;
(b) run with ``tasksecrets run`` after creating the secret with the seed's ``kubectl`` command line
    translated word for word (one key first, which the seed's first task is satisfied with and the
    second is not; then, after ``delete``, the three-key variant);
(c) each task rendered with ``tasksecrets pod render`` and mutated with ``tasksecrets webhook mutate``;
(d) the seed's Vault ``Secret(group="<Vault path>", ..., group_version="kv2")`` and SQLAlchemy
    declaration shapes declared, rendered and mutated.

Every value is fake; outputs are checked masked, and the values never appear in plain text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8svalidate import assert_valid_manifest

NAMESPACE = "flytesnacks-development"

# The seed's example, as printed in the doc, with `flytekit` replaced by `tasksecrets`.
SEED_MODULE = textwrap.dedent(
    """
    import os
    from typing import Tuple

    import tasksecrets
    from tasksecrets import Secret, task, workflow
    from tasksecrets.testing import SecretsManager

    secret = Secret(
        group="<SECRET_GROUP>",
        key="<SECRET_KEY>",
        mount_requirement=Secret.MountType.ENV_VAR,
    )

    SECRET_GROUP = "user-info"
    SECRET_NAME = "user_secret"


    @task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
    def secret_task() -> str:
        context = tasksecrets.current_context()
        secret_val = context.secrets.get(SECRET_GROUP, SECRET_NAME)
        return secret_val


    USERNAME_SECRET = "username"
    PASSWORD_SECRET = "password"


    @task(
        secret_requests=[
            Secret(key=USERNAME_SECRET, group=SECRET_GROUP),
            Secret(key=PASSWORD_SECRET, group=SECRET_GROUP),
        ]
    )
    def user_info_task() -> Tuple[str, str]:
        context = tasksecrets.current_context()
        secret_username = context.secrets.get(SECRET_GROUP, USERNAME_SECRET)
        secret_pwd = context.secrets.get(SECRET_GROUP, PASSWORD_SECRET)
        return secret_username, secret_pwd


    @task(
        secret_requests=[
            Secret(
                group=SECRET_GROUP,
                key=SECRET_NAME,
                mount_requirement=Secret.MountType.ENV_VAR,
            )
        ]
    )
    def secret_file_task() -> Tuple[str, str]:
        secret_manager = tasksecrets.current_context().secrets

        # get the secrets filename
        f = secret_manager.get_secrets_file(SECRET_GROUP, SECRET_NAME)

        # get secret value from an environment variable
        secret_val = secret_manager.get(SECRET_GROUP, SECRET_NAME)

        # returning the filename and the secret_val
        return f, secret_val


    @workflow
    def my_secret_workflow() -> Tuple[str, str, str, str, str]:
        x = secret_task()
        y, z = user_info_task()
        f, s = secret_file_task()
        return x, y, z, f, s


    if __name__ == "__main__":
        sec = SecretsManager()
        os.environ[sec.get_secrets_env_var(SECRET_GROUP, SECRET_NAME)] = "value"
        os.environ[sec.get_secrets_env_var(SECRET_GROUP, USERNAME_SECRET)] = "username_value"
        os.environ[sec.get_secrets_env_var(SECRET_GROUP, PASSWORD_SECRET)] = "password_value"
        x, y, z, f, s = my_secret_workflow()
        assert x == "value"
        assert y == "username_value"
        assert z == "password_value"
        assert f == sec.get_secrets_file(SECRET_GROUP, SECRET_NAME)
        assert s == "value"
    """
)

# The seed's other declarations: a FILE mount, the Vault request and the SQLAlchemy task shapes.
MORE_DECLARATIONS = textwrap.dedent(
    '''
    import tasksecrets
    from tasksecrets import Secret, kwtypes, task
    from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask

    FILE = Secret.MountType.FILE

    @task(secret_requests=[Secret(group="user-info", key="user_secret", mount_requirement=FILE)])
    def file_task() -> str:
        return tasksecrets.current_context().secrets.get("user-info", "user_secret")

    secret = Secret(
        group="<Vault path>",
        key="<Secret key for KV engine>",
        group_version="kv2",
    )

    @task(secret_requests=[Secret(group="secret/data/flyte", key="secret", group_version="kv2")])
    def vault_task() -> str:
        return tasksecrets.current_context().secrets.get("secret/data/flyte", "secret", "kv2")

    @task(secret_requests=[secret])
    def vault_placeholder_task() -> None:
        pass

    # define the secrets
    secrets = {
        "username": Secret(group="<SECRET_GROUP>", key="<USERNAME_SECRET>"),
        "password": Secret(group="<SECRET_GROUP>", key="<PASSWORD_SECRET>"),
    }

    sql_query = SQLAlchemyTask(
        "sql_query",
        query_template="""SELECT * FROM my_table LIMIT {{ .inputs.limit }}""",
        inputs=kwtypes(limit=int),
        # request secrets
        secret_requests=[*secrets.values()],
        # specify username and password credentials in the configuration
        task_config=SQLAlchemyConfig(
            uri="postgresql+psycopg://db.example:5432/app", secret_connect_args=secrets
        ),
    )
    '''
)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = tmp_path / "secrets_example.py"
    path.write_text(SEED_MODULE)
    return path


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("_FSEC_", "FLYTE_SECRET", "TASKSECRETS_", "USER-INFO", "VAULT_", "BAO_"))
    }
    env["TASKSECRETS_HOME"] = str(tmp_path / "home")
    return env


def tasksecrets(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tasksecrets", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_a_the_seed_runs_as_a_script_with_its_testing_block(seed: Path, cli_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, str(seed)], capture_output=True, text=True, env=cli_env, cwd=seed.parent, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # The testing block's asserts really run: break one value and the script must fail.
    broken = seed.with_name("broken_example.py")
    broken.write_text(SEED_MODULE.replace('assert y == "username_value"', 'assert y == "not_it"'))
    failed = subprocess.run(
        [sys.executable, str(broken)],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=seed.parent,
        timeout=120,
    )
    assert failed.returncode == 1 and "AssertionError" in failed.stderr


def test_b_seed_kubectl_lines_then_tasksecrets_run(
    seed: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # kubectl create secret -n <project>-<domain> generic user-info --from-literal=user_secret=mysecret
    made = tasksecrets(
        "create", "secret", "-n", NAMESPACE, "generic", "user-info", "--from-literal=user_secret=mysecret",
        env=cli_env, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "secret/user-info created"

    one = tasksecrets("run", str(seed), "secret_task", env=cli_env, cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() == "o0: ********"  # the value read is the stored one, masked

    # user_info_task needs keys the one-key secret lacks: the run stops before any task, saying how to
    # add just those keys.
    missing = tasksecrets("run", str(seed), "my_secret_workflow", env=cli_env, cwd=tmp_path)
    assert missing.returncode == 1
    assert "needed by task 'user_info_task'" in missing.stderr and "no task was run" in missing.stderr
    assert "has no key 'password', 'username'" in missing.stderr
    assert "tasksecrets apply -f - <<'EOF'" in missing.stderr and "secret_task: done" not in missing.stderr
    assert "Traceback" not in missing.stderr
    assert "mysecret" not in missing.stdout + missing.stderr

    deleted = tasksecrets("delete", "secret", "user-info", "-n", NAMESPACE, env=cli_env, cwd=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    # kubectl create secret generic user-info --from-literal=user_secret=mysecret
    #     --from-literal=username=my_username --from-literal=password=... (the seed's -n from above)
    made = tasksecrets(
        "create", "secret", "generic", "user-info", "-n", NAMESPACE,
        "--from-literal=user_secret=mysecret",
        "--from-literal=username=my_username",
        "--from-literal=password=my_password",
        env=cli_env, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    run = tasksecrets("run", str(seed), "my_secret_workflow", env=cli_env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "o0: ********",
        "o1: ********",
        "o2: ********",
        "o3: /etc/secrets/user-info/user_secret",
        "o4: ********",
    ]
    for value in ("mysecret", "my_username", "my_password"):
        assert value not in run.stdout + run.stderr

    # Single tasks run too, with Tuple returns.
    pair = tasksecrets("run", str(seed), "user_info_task", env=cli_env, cwd=tmp_path)
    assert pair.returncode == 0, pair.stderr
    assert pair.stdout.splitlines() == ["o0: ********", "o1: ********"]


@pytest.mark.parametrize(
    ("task_name", "keys", "env_names"),
    [
        ("secret_task", ["user_secret"], []),
        ("user_info_task", ["username", "password"], []),
        ("secret_file_task", ["user_secret"], ["_FSEC_USER-INFO_USER_SECRET"]),
    ],
)
def test_c_pod_render_then_webhook_mutate(
    task_name: str, keys: list[str], env_names: list[str], seed: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    rendered = tasksecrets("pod", "render", str(seed), task_name, "-o", "json", env=cli_env, cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    pod: dict[str, Any] = json.loads(rendered.stdout)
    assert_valid_manifest(pod)
    assert pod["metadata"]["namespace"] == NAMESPACE
    assert pod["metadata"]["labels"]["inject-flyte-secrets"] == "true"
    assert len([a for a in pod["metadata"]["annotations"] if a.startswith("flyte.secrets/s")]) == len(keys)

    pod_file = tmp_path / "pod.yaml"
    pod_file.write_text(yaml.safe_dump(pod))
    mutated = tasksecrets("webhook", "mutate", str(pod_file), "-o", "json", env=cli_env, cwd=tmp_path)
    assert mutated.returncode == 0, mutated.stderr
    out: dict[str, Any] = json.loads(mutated.stdout)
    # The command may print the pod or a review-like wrapper; find the pod in it.
    result_pod = out if out.get("kind") == "Pod" else out.get("pod", out)
    assert_valid_manifest(result_pod)
    container = result_pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}
    for name in env_names:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "user-info"
    if not env_names:  # ANY: a file under /etc/flyte/secrets/user-info
        items = {i["key"] for v in result_pod["spec"]["volumes"] for i in v["secret"].get("items", [])}
        assert items == set(keys)
        assert env["FLYTE_SECRETS_DEFAULT_DIR"]["value"] == "/etc/flyte/secrets"


def test_d_vault_and_sqlalchemy_declarations_render_and_mutate(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    module = tmp_path / "more.py"
    module.write_text(MORE_DECLARATIONS)
    config = tmp_path / "vault.yaml"
    config.write_text("webhook:\n  secretManagerType: Vault\n")
    for task_name, count in [
        ("vault_task", 1),
        ("vault_placeholder_task", 1),
        ("sql_query", 2),
        ("file_task", 1),
    ]:
        rendered = tasksecrets(
            "pod", "render", str(module), task_name, "-o", "yaml", env=cli_env, cwd=tmp_path
        )
        assert rendered.returncode == 0, (task_name, rendered.stderr)
        pod = yaml.safe_load(rendered.stdout)
        assert_valid_manifest(pod)
        assert len(pod["metadata"]["annotations"]) == count
        pod_file = tmp_path / f"{task_name}.yaml"
        pod_file.write_text(rendered.stdout)
        mutated = tasksecrets(
            "webhook",
            "mutate",
            str(pod_file),
            "--config",
            str(config),
            "-o",
            "json",
            env=cli_env,
            cwd=tmp_path,
        )
        assert mutated.returncode == 0, (task_name, mutated.stderr)
        result = json.loads(mutated.stdout)
        annotations = result["metadata"]["annotations"]
        assert annotations["vault.hashicorp.com/agent-inject"] == "true"
        if task_name == "vault_task":
            secrets = [k for k in annotations if k.startswith("vault.hashicorp.com/agent-inject-secret-")]
            assert len(secrets) == 1
            assert annotations[secrets[0]] == "secret/data/flyte"
        assert_valid_manifest(result)


def test_d_declarations_in_process(tmp_path: Path) -> None:
    """The same declarations imported: Secret fields as given, the SQL task's secrets requested."""
    module = tmp_path / "more_in_process.py"
    module.write_text(MORE_DECLARATIONS)
    namespace: dict[str, Any] = {"__name__": "more_in_process", "__file__": str(module)}
    exec(compile(MORE_DECLARATIONS, str(module), "exec"), namespace)
    vault = namespace["secret"]
    assert (vault.group, vault.key, vault.group_version) == (
        "<Vault path>",
        "<Secret key for KV engine>",
        "kv2",
    )
    sql = namespace["sql_query"]
    assert {(s.group, s.key) for s in sql.secret_requests} == {
        ("<SECRET_GROUP>", "<USERNAME_SECRET>"),
        ("<SECRET_GROUP>", "<PASSWORD_SECRET>"),
    }


def test_seed_idioms_in_process(seed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``import tasksecrets; tasksecrets.current_context()``, ``Secret.MountType.FILE``, Tuple returns."""
    import tasksecrets as ts
    from tasksecrets.testing import mock_secrets

    namespace: dict[str, Any] = {"__name__": "seed_in_process", "__file__": str(seed)}
    exec(compile(SEED_MODULE, str(seed), "exec"), namespace)
    assert ts.Secret.MountType.FILE.name == "FILE"
    assert ts.current_context().secrets is not None
    fake = {
        ("user-info", "user_secret"): "fake-s",
        ("user-info", "username"): "fake-u",
        ("user-info", "password"): "fake-p",
    }
    with mock_secrets(fake):
        x, y, z, f, s = namespace["my_secret_workflow"]()
        assert (x, y, z, s) == ("fake-s", "fake-u", "fake-p", "fake-s")
        assert f == "/etc/secrets/user-info/user_secret"
        assert namespace["user_info_task"]() == ("fake-u", "fake-p")
    # A task reading what it did not request gets the documented error naming the fix.
    from tasksecrets.errors import SecretNotRequestedError

    @ts.task(secret_requests=[ts.Secret(group="user-info", key="username")])
    def greedy() -> str:
        return ts.current_context().secrets.get("user-info", "password")

    with (
        mock_secrets(fake),
        pytest.raises(SecretNotRequestedError, match=r"Secret\(group='user-info', key='password'\)"),
    ):
        greedy()
