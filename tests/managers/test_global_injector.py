"""Global injector: the conformance suite plus compat.md section 4's Global rules, with a real
environment mapping and a real temporary secrets directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from managers.conformance import InjectorConformance, make_pod, mutate_checked
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.managers.global_.injector import GlobalInjector
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.sdk.secret import MountType, Secret

FAKE = "fake-global-value-123"


class TestGlobalConformance(InjectorConformance):
    injector_name = "Global"
    supported_mounts = (MountType.ANY, MountType.ENV_VAR)

    def make_injector(self) -> GlobalInjector:
        env = {f"FLYTE_SECRET_CONF-GROUP-{i}_CONF_KEY{i}": f"{FAKE}-{i}" for i in range(6)}
        return GlobalInjector(GlobalSecretSource(environ=env, secrets_dir=None))

    def refused_secrets(self) -> list[Secret]:
        return [
            Secret(group="conf-group-0", key="Conf_Key0", mount_requirement=MountType.FILE),
            Secret(group="not-held", key="k"),
            Secret.from_wire(group="", key="k"),
        ]


def mutator(tmp_path: Path, env: dict[str, str], **webhook: object) -> Mutator:
    config = parse_config({"webhook": dict(webhook), "secrets": {"secrets-prefix": str(tmp_path)}})
    return Mutator(config, global_secrets=GlobalSecretSource.from_settings(config.secrets, environ=env))


def test_env_value_exactly(tmp_path: Path) -> None:
    m = mutator(tmp_path, {"FLYTE_SECRET_USER-INFO_USER_SECRET": FAKE})
    result = mutate_checked(make_pod([Secret(group="user-info", key="user_secret")]), m)
    assert result.injections == [(Secret(group="user-info", key="user_secret"), "Global")]
    for container in [*result.pod["spec"]["initContainers"], *result.pod["spec"]["containers"]]:
        assert container["env"] == [
            {"name": "FLYTE_SECRETS_ENV_PREFIX", "value": "_FSEC_"},
            {"name": "_FSEC_USER-INFO_USER_SECRET", "value": FAKE},
        ]
    assert "volumes" not in result.pod["spec"]


def test_file_under_secrets_prefix_case_kept_whole_content(tmp_path: Path) -> None:
    (tmp_path / "My-Group").mkdir()
    (tmp_path / "My-Group" / "Key").write_text(FAKE + "\n")
    m = mutator(tmp_path, {})
    secret = Secret(group="My-Group", key="Key", mount_requirement=MountType.ENV_VAR, env_var="ALSO_HERE")
    result = mutate_checked(make_pod([secret]), m)
    env = result.pod["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "FLYTE_SECRETS_ENV_PREFIX", "value": "_FSEC_"},
        {"name": "_FSEC_MY-GROUP_KEY", "value": FAKE + "\n"},
        {"name": "ALSO_HERE", "value": FAKE + "\n"},
    ]
    # The same names in other case are a different file: not held, so K8s serves it.
    other = mutate_checked(make_pod([Secret(group="my-group", key="key")]), m)
    assert other.injections[0][1] == "K8s"


def test_env_prefix_from_config_and_env_wins_over_file(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "k").write_text("from-file")
    config = parse_config({"secrets": {"env-prefix": "MY_", "secrets-prefix": str(tmp_path)}})
    source = GlobalSecretSource.from_settings(
        config.secrets, environ={"MY_G_K": "from-env", "FLYTE_SECRET_G_K": "no"}
    )
    assert source.lookup(Secret(group="g", key="k")) == "from-env"
    assert (
        GlobalSecretSource.from_settings(config.secrets, environ={}).lookup(Secret(group="g", key="k"))
        == "from-file"
    )


def test_real_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_SECRET_PROC_TOKEN", FAKE)
    config = parse_config({"secrets": {"secrets-prefix": str(tmp_path)}})
    source = GlobalSecretSource.from_settings(config.secrets)
    assert source.lookup(Secret(group="proc", key="token")) == FAKE
    assert os.environ["FLYTE_SECRET_PROC_TOKEN"] == FAKE


def test_file_request_passes_on_to_the_configured_manager(tmp_path: Path) -> None:
    m = mutator(tmp_path, {"FLYTE_SECRET_G_K": FAKE})
    result = mutate_checked(make_pod([Secret(group="g", key="k", mount_requirement=MountType.FILE)]), m)
    assert result.injections[0][1] == "K8s"
    assert FAKE not in repr(result.pod)


def test_global_only_denies_what_it_cannot_serve(tmp_path: Path) -> None:
    m = mutator(tmp_path, {"FLYTE_SECRET_G_K": FAKE}, secretManagerType="Global")
    result = mutate_checked(
        make_pod([Secret(group="g", key="k", mount_requirement=MountType.FILE), Secret(group="x", key="y")]),
        m,
    )
    assert not result.allowed and result.code == 403
    assert "Secret(group='g', key='k', mount_requirement=Secret.MountType.FILE)" in (result.reason or "")
    assert "Secret(group='x', key='y')" in (result.reason or "")
    assert "FLYTE_SECRET_X_Y" in (result.reason or "")
    assert FAKE not in (result.reason or "")


@pytest.mark.parametrize("group", ["..", "../etc", "/abs", "a/b"])
def test_names_cannot_escape_the_secrets_directory(tmp_path: Path, group: str) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "k").write_text(FAKE)
    source = GlobalSecretSource(environ={}, secrets_dir=inner)
    assert source.lookup(Secret(group=group, key="k")) is None
    assert source.lookup(Secret(group="inner", key="../k")) is None


def test_repr_shows_no_values() -> None:
    source = GlobalSecretSource(environ={"FLYTE_SECRET_A_B": FAKE})
    assert FAKE not in repr(source)


def test_an_env_var_that_is_no_name_is_refused_as_by_every_manager() -> None:
    bad = Secret.from_wire(group="g", key="k", env_var="BAD NAME")
    source = GlobalSecretSource(environ={"FLYTE_SECRET_G_K": FAKE}, secrets_dir=None)
    result = Mutator(parse_config({}), global_secrets=source).mutate(make_pod([bad]))
    assert not result.allowed and "Global: env_var 'BAD NAME' is not a valid" in (result.reason or "")
    assert FAKE not in (result.reason or "")
