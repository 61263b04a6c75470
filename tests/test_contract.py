"""The contract lives once, and its delivery table is true: the managers deliver where it says, and
the reader looks wherever a manager delivers.

- No module but tasksecrets/contract.py spells a name of the contract (docstrings aside): an AST
  scan of every string constant of src/, shown to catch a planted one.
- For every manager and mount type, the env var or file :data:`~tasksecrets.contract.DELIVERY`
  names is where the mutated pod puts the secret (``env_var`` of a FILE request holds the path;
  an ENV_VAR request's env var is set, or exported from the file by the entrypoint).
- The reader's lookup (:func:`~tasksecrets.sdk.secrets.lookup_places`) contains each of those places.
"""

from __future__ import annotations

import ast
import json
import posixpath
from pathlib import Path
from typing import Any

import pytest

import tasksecrets.contract as contract
from managers.conformance import make_pod
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.contract import DELIVERY, ENV_PREFIX, EXPORT_ANNOTATION, POD_SECRETS_DIR, MountType
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.secrets import Place, lookup_places
from tasksecrets.sdk.settings import SecretsConfig

SRC = Path(__file__).resolve().parents[1] / "src" / "tasksecrets"
# Names of the contract long enough to be unmistakable ("true", "task", "/tmp" are words of their own).
CONTRACT_NAMES = {
    name: value
    for name, value in vars(contract).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, str) and len(value) >= 5
}


def contract_names_in(source: str) -> list[tuple[int, str]]:
    """(line, contract constant) for each string constant of ``source`` that spells a contract name."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        for name, value in CONTRACT_NAMES.items()
        if value in node.value
    ]


def test_the_contract_has_the_names_the_scan_looks_for() -> None:
    for name in ("INJECT_LABEL", "ANNOTATION_PREFIX", "ENV_PREFIX", "POD_SECRETS_DIR", "EXPORT_ANNOTATION"):
        assert name in CONTRACT_NAMES


def test_no_module_but_the_contract_spells_a_contract_name() -> None:
    found = {
        str(path.relative_to(SRC)): hits
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "contract.py" and (hits := contract_names_in(path.read_text()))
    }
    assert found == {}


def test_the_scan_catches_a_planted_name() -> None:
    planted = '"""Docstrings may say _FSEC_."""\nPREFIX = "_FSEC_"\npath = f"/etc/flyte/secrets/{x}"\n'
    assert contract_names_in(planted) == [(2, "ENV_PREFIX"), (3, "POD_SECRETS_DIR")]


def _secret(manager: str, mount: MountType, *, env_var: str | None = None) -> Secret:
    if manager == "GCP":
        return Secret(
            group="Team-Token", key="unused", group_version="V3", mount_requirement=mount, env_var=env_var
        )
    if manager == "Azure":
        group = "https://kv.vault.azure.net"
        return Secret(
            group=group, key="Api.Key", group_version="db-pw", mount_requirement=mount, env_var=env_var
        )
    # A secretKeyRef must name a Secret the API server accepts: lower case.
    group = "user-info" if (manager, mount) == ("K8s", MountType.ENV_VAR) else "User-Info"
    return Secret(group=group, key="Api.Key", group_version="V2", mount_requirement=mount, env_var=env_var)


def _mutator(manager: str, secret: Secret) -> Mutator:
    if manager == "Global":
        source = GlobalSecretSource(
            environ={f"FLYTE_SECRET_{secret.group.upper()}_{secret.key.upper()}": "v"}
        )
        return Mutator(parse_config({}), global_secrets=source)
    return Mutator(parse_config({"webhook": {"secretManagerType": manager}}))


CASES = [
    pytest.param(manager, mount, id=f"{manager}-{mount.name}")
    for manager, delivery in DELIVERY.items()
    for mount in MountType
    if delivery.by_env(mount) or delivery.by_file(mount)
]


def _container_env(pod: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize(("manager", "mount"), CASES)
def test_each_manager_delivers_where_the_table_says(manager: str, mount: MountType) -> None:
    delivery = DELIVERY[manager]
    secret = _secret(manager, mount, env_var="WHERE")
    result = _mutator(manager, secret).mutate(make_pod([secret]))
    assert result.allowed and [m for _, m in result.injections] == [manager], result.reason
    env = _container_env(result.pod)
    if delivery.by_file(mount):
        path = delivery.file_layout.join(POD_SECRETS_DIR, secret.group, secret.key, secret.group_version)
        if mount is MountType.ENV_VAR:  # exported from the file by the entrypoint
            exports = json.loads(result.pod["metadata"]["annotations"][EXPORT_ANNOTATION])
            assert delivery.env is not None and delivery.exported
            name = delivery.env.format(ENV_PREFIX, secret.group, secret.key, secret.group_version)
            assert exports[name] == posixpath.relpath(path, POD_SECRETS_DIR)
        else:
            assert env["WHERE"]["value"] == path
    else:
        assert delivery.env is not None
        assert delivery.env.format(ENV_PREFIX, secret.group, secret.key, secret.group_version) in env


@pytest.mark.parametrize(("manager", "mount"), CASES)
def test_the_reader_looks_wherever_a_manager_delivers(manager: str, mount: MountType) -> None:
    delivery = DELIVERY[manager]
    secret = _secret(manager, mount)
    config = SecretsConfig(default_dir=POD_SECRETS_DIR)
    places = lookup_places(secret.group, secret.key, secret.group_version, config=config, local=False)
    if delivery.by_env(mount):
        assert delivery.env is not None
        name = delivery.env.format(config.env_prefix, secret.group, secret.key, secret.group_version)
        assert Place(False, name) in places
    if delivery.by_file(mount):
        path = delivery.file_layout.join(POD_SECRETS_DIR, secret.group, secret.key, secret.group_version)
        assert any(p.is_file and posixpath.normpath(p.name) == path for p in places), (path, places)


def test_a_read_without_a_version_never_takes_the_group_for_a_file() -> None:
    """GCP's layout names the file after the version: without one, it names no file at all."""
    config = SecretsConfig(default_dir=POD_SECRETS_DIR)
    places = lookup_places("user-info", "token", None, config=config, local=False)
    assert Place(True, f"{POD_SECRETS_DIR}/user-info") not in places
    assert Place(True, f"{POD_SECRETS_DIR}/user-info/1") in lookup_places(
        "user-info", "token", "1", config=config, local=False
    )
