"""No name can run shell code in a pull container's script (GCP, Azure): the second guard, real ``sh``.

The injectors refuse such names first (tests/admission/test_hostile_names.py); here the scripts are
rendered straight from hostile values, as if a check had let one through, and run exactly as the
pod says (``sh -ec <script>``) against fake CLIs (tests/managers/shellfakes.py). Each value must
reach the CLI as one argument, unchanged, and a ``touch`` hidden in it must never run.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest

from managers.shellfakes import FAKE_VALUE, HOSTILE_NAMES, MARKER, run_script
from tasksecrets.managers.azure.script import SecretId
from tasksecrets.managers.azure.script import parse_pull_script as parse_azure
from tasksecrets.managers.azure.script import render_pull_script as render_azure
from tasksecrets.managers.gcp.script import gcp_secret_paths
from tasksecrets.managers.gcp.script import parse_pull_script as parse_gcp
from tasksecrets.managers.gcp.script import render_pull_script as render_gcp

VECTORS = HOSTILE_NAMES
PLAIN = "plain-name"


def _gcp_cases() -> list[tuple[str, str]]:
    cases = []
    for vector in VECTORS.values():
        cases += [(vector, "latest"), (PLAIN, vector), ("projects/p/secrets/" + vector, vector)]
    return cases


@pytest.mark.parametrize(("group", "version"), _gcp_cases())
def test_gcp_script_passes_hostile_names_as_one_argument(tmp_path: Path, group: str, version: str) -> None:
    script = render_gcp(group, version)
    run = run_script(["sh", "-ec", script], tmp_path)
    directory, path = gcp_secret_paths(group, version)
    assert run.calls == [
        ["gcloud", "secrets", "versions", "access", f"{group}/versions/{version}", f"--out-file={path}"],
        ["chmod", "+rX", directory, path],
    ], run.stderr
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / MARKER).exists()
    parsed = parse_gcp(script)
    assert parsed is not None and (parsed.group, parsed.version, parsed.path) == (group, version, path)


def test_gcp_script_of_ordinary_names_is_flytes_text() -> None:
    assert render_gcp("Team-Secret", "3") == (
        "gcloud secrets versions access Team-Secret/versions/3 --out-file=/etc/flyte/secrets/team-secret/3 "
        "|| gcloud secrets versions access 3 --secret=Team-Secret "
        "--out-file=/etc/flyte/secrets/team-secret/3; "
        "chmod +rX /etc/flyte/secrets/team-secret /etc/flyte/secrets/team-secret/3"
    )


def _azure_cases() -> list[tuple[SecretId, str]]:
    cases = []
    for vector in VECTORS.values():
        cases += [
            (SecretId("https://v.vault.azure.net", vector), "out/file"),
            (SecretId("https://v.vault.azure.net", PLAIN, vector), "out/file"),
            (SecretId("https://v.vault.azure.net", PLAIN), f"out/{vector}/file"),
        ]
    return cases


@pytest.mark.parametrize(("secret", "relative"), _azure_cases())
def test_azure_script_passes_hostile_names_as_one_argument(
    tmp_path: Path, secret: SecretId, relative: str
) -> None:
    path = str(tmp_path / relative)
    token = tmp_path / "token"
    token.write_text("federated-token")
    script = render_azure(secret, path)
    env = {"AZURE_CLIENT_ID": "client", "AZURE_TENANT_ID": "tenant", "AZURE_FEDERATED_TOKEN_FILE": str(token)}
    run = run_script(["sh", "-ec", script], tmp_path, env=env)
    assert run.calls == [
        [
            "az",
            "login",
            "--service-principal",
            "-u",
            "client",
            "-t",
            "tenant",
            "--federated-token",
            "federated-token",
        ],
        ["mkdir", "-p", posixpath.dirname(path)],
        ["az", "keyvault", "secret", "show", "--id", secret.render(), "--query", "value", "-o", "tsv"],
    ], run.stderr
    assert run.returncode == 0, run.stderr
    assert Path(path).read_text() == FAKE_VALUE + "\n"
    assert not (tmp_path / MARKER).exists()
    parsed = parse_azure(script)
    assert parsed is not None and parsed.secret == secret and parsed.path == path


def test_azure_script_of_ordinary_names_is_the_flyte_line_text() -> None:
    script = render_azure(SecretId("https://v.vault.azure.net", "db-password"), "/etc/flyte/secrets/x/value")
    assert script.endswith(
        '; mkdir -p /etc/flyte/secrets/x; az keyvault secret show --id "https://v.vault.azure.net/secrets/'
        'db-password" --query "value" -o tsv > /etc/flyte/secrets/x/value'
    )
