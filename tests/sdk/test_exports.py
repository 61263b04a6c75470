"""The entrypoint side of ENV_VAR exports (tasksecrets.sdk.exports) and the db rendering parser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from childproc import run_tasksecrets
from tasksecrets.contract import EXPORT_ENV_VAR
from tasksecrets.errors import SecretError
from tasksecrets.managers.vault.rendering import parse_default_rendering
from tasksecrets.sdk.exports import apply_env_exports, format_export_spec, parse_export_spec


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_relative_paths_resolve_against_the_secrets_dir_and_names_are_set(tmp_path: Path) -> None:
    write(tmp_path / "grp/key", b"fake-value-1\n")
    write(tmp_path / "abs", b"fake-value-2\r\n")
    environ = {
        "FLYTE_SECRETS_DEFAULT_DIR": str(tmp_path),
        EXPORT_ENV_VAR: format_export_spec(
            {"_FSEC_GRP_KEY": "grp/key", "MY_VAR": "grp/key", "B": str(tmp_path / "abs")}
        ),
    }
    assert apply_env_exports(environ) == ["_FSEC_GRP_KEY", "MY_VAR", "B"]
    assert environ["_FSEC_GRP_KEY"] == environ["MY_VAR"] == "fake-value-1"  # one trailing line break dropped
    assert environ["B"] == "fake-value-2"


def test_existing_names_win_and_missing_files_leave_names_unset(tmp_path: Path) -> None:
    write(tmp_path / "k", b"fake-from-file")
    environ = {"FLYTE_SECRETS_DEFAULT_DIR": str(tmp_path), "MY_VAR": "preset"}
    spec = format_export_spec({"MY_VAR": "k", "OTHER": "missing/file"})
    assert apply_env_exports(environ, spec=spec) == []
    assert environ == {"FLYTE_SECRETS_DEFAULT_DIR": str(tmp_path), "MY_VAR": "preset"}


def test_nothing_to_do_without_a_spec() -> None:
    environ: dict[str, str] = {EXPORT_ENV_VAR: ""}
    assert apply_env_exports(environ) == [] and environ == {EXPORT_ENV_VAR: ""}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('["a"]', "must be a JSON object"),
        ('{"A=B": "x"}', "cannot be an environment variable name"),
        ('{"A": 3}', "must be a non-empty string"),
    ],
)
def test_malformed_specs_are_refused_clearly(spec: str, message: str) -> None:
    with pytest.raises(SecretError, match=message):
        parse_export_spec(spec)


def test_binary_files_are_refused_without_showing_the_content(tmp_path: Path) -> None:
    write(tmp_path / "bin", b"\xff\xfefake-binary")
    with pytest.raises(SecretError) as info:
        apply_env_exports({"FLYTE_SECRETS_DEFAULT_DIR": str(tmp_path)}, spec='{"X": "bin"}')
    assert "not UTF-8" in str(info.value) and "fake-binary" not in str(info.value)


def test_execute_exports_before_the_task_module_is_imported(tmp_path: Path) -> None:
    write(tmp_path / "secrets/g/k", b"fake-exported-value")
    # The module reads the env var at import time: it must already be there.
    (tmp_path / "tasks.py").write_text(
        "import os\nfrom tasksecrets import Secret, task\nAT_IMPORT = os.environ.get('MY_VAR')\n"
        "@task(secret_requests=[Secret(group='g', key='k', mount_requirement=Secret.MountType.ENV_VAR,"
        " env_var='MY_VAR')])\ndef t() -> bool:\n    return AT_IMPORT == 'fake-exported-value'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_FSEC_", "FLYTE_SECRET"))}
    env.update(FLYTE_SECRETS_DEFAULT_DIR=str(tmp_path / "secrets"), **{EXPORT_ENV_VAR: '{"MY_VAR":"g/k"}'})
    done = run_tasksecrets(
        ["execute", "--file", "tasks.py", "--task", "t", "--outputs", "o.json"],
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "true" in (tmp_path / "o.json").read_text()
    env[EXPORT_ENV_VAR] = "{broken"
    done = run_tasksecrets(
        ["execute", "--file", "tasks.py", "--task", "t"], cwd=tmp_path, env=env, timeout=60
    )
    assert done.returncode == 2 and "TASKSECRETS_EXPORT_ENV is not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_default_rendering_parses_into_fields() -> None:
    text = "password: fake-pw: with colon\nusername: v-token-reader-abc\n"
    assert parse_default_rendering(text) == {
        "password": "fake-pw: with colon",
        "username": "v-token-reader-abc",
    }
    with pytest.raises(SecretError) as info:
        parse_default_rendering("fake-raw-value-without-field")
    assert "fake-raw" not in str(info.value)
