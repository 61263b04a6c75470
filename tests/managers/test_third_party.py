"""A third-party secret manager found through the entry-point group ``tasksecrets.managers``.

The injector lives in a test-only distribution installed the way pip installs one: a module and a
``<name>.dist-info`` directory (METADATA, entry_points.txt) in a directory put on ``sys.path``, so
``importlib.metadata`` finds it for real (no monkeypatching of importlib). It passes the same
conformance suite as the built-in injectors, is selected by ``secretManagerType`` in any case, gets
a config section of its own (``webhook.demoStore``) and nothing else of the config, and an unknown
manager name is a config error that lists the known ones.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from managers.conformance import InjectorConformance, make_pod, mutate_checked
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.errors import ConfigError
from tasksecrets.managers.registry import ENTRY_POINT_GROUP, known_manager_names
from tasksecrets.sdk.secret import MountType, Secret

MODULE = '''
"""A test-only third-party manager: every secret from a Kubernetes Secret named "<prefix><group>"."""
from pydantic import Field

from tasksecrets.errors import InjectionError
from tasksecrets.managers.fragments import env_from_secret_key, pod_env_name
from tasksecrets.managers.plugin import ManagerPlugin
from tasksecrets.managers.settings import Section


class DemoSettings(Section):
    """The section ``webhook.demoStore``."""

    prefix: str = "demo-"
    refused_prefix: str = Field(default="forbidden", alias="refusedPrefix")


class DemoInjector:
    name = "DemoStore"
    received = []  # what from_config was given, for the test to look at

    def __init__(self, settings):
        self.settings = settings

    @classmethod
    def from_config(cls, section, *, shared):
        cls.received.append((section, shared))
        return cls(section)

    def inject(self, secret, editor):
        if secret.group.startswith(self.settings.refused_prefix):
            raise InjectionError("the demo store refuses " + self.settings.refused_prefix + " groups")
        name = self.settings.prefix + secret.group
        ref = env_from_secret_key(pod_env_name(secret), secret_name=name, key=secret.key)
        env = [ref]
        if secret.env_var:
            env.append({**ref, "name": secret.env_var})
        editor.add_env(*env)
        return True


PLUGIN = ManagerPlugin(
    name="DemoStore",
    injector="tasksecrets_demo_injector:DemoInjector",
    section="demoStore",
    settings="tasksecrets_demo_injector:DemoSettings",
)
'''


@pytest.fixture(scope="module", autouse=True)
def installed_distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    site = tmp_path_factory.mktemp("site-packages")
    (site / "tasksecrets_demo_injector.py").write_text(MODULE)
    dist = site / "tasksecrets_demo_injector-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tasksecrets-demo-injector\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nDemoStore = tasksecrets_demo_injector:PLUGIN\n"
    )
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("tasksecrets_demo_injector", None)


class TestThirdPartyConformance(InjectorConformance):
    injector_name = "DemoStore"
    supported_mounts = (MountType.ENV_VAR, MountType.ANY)

    def refused_secrets(self) -> list[Secret]:
        return [Secret(group="forbidden-1", key="k")]


def test_listed_and_selected_by_name_in_any_case() -> None:
    assert "DemoStore" in known_manager_names()
    config = parse_config({"webhook": {"secretManagerTypes": ["demostore", "K8s"]}})
    assert config.webhook.manager_names() == ["DemoStore", "K8s"]
    secrets = [
        Secret(group="db", key="pw", mount_requirement=MountType.ENV_VAR),
        Secret(group="forbidden", key="x"),
    ]
    result = mutate_checked(make_pod(secrets), Mutator(config))
    assert result.injections == [(secrets[0], "DemoStore"), (secrets[1], "K8s")]
    ref = result.pod["spec"]["containers"][0]["env"][0]
    assert ref["valueFrom"]["secretKeyRef"]["name"] == "demo-db"


def test_unknown_manager_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"webhook": {"secretManagerType": "DemoStor"}})
    message = str(info.value)
    assert "unknown secret manager 'DemoStor'" in message and "did you mean 'DemoStore'?" in message
    assert "AWS" in message and "Vault" in message


def test_it_gets_a_section_of_its_own_and_only_that_section() -> None:
    import tasksecrets_demo_injector as demo

    from tasksecrets.admission.config import Config
    from tasksecrets.managers.plugin import SharedSettings

    config = parse_config(
        {
            "webhook": {
                "secretManagerType": "DemoStore",
                "exportEnvVars": False,
                "demoStore": {"prefix": "team-", "refusedPrefix": "no"},
                "awsSecretManager": {"sidecarImage": "elsewhere:1"},
            },
            "secrets": {"env-prefix": "NOT_FOR_DEMO_"},
        }
    )
    demo.DemoInjector.received.clear()
    result = mutate_checked(make_pod([Secret(group="db", key="pw")]), Mutator(config))
    section, shared = demo.DemoInjector.received[-1]
    assert type(section) is demo.DemoSettings and not isinstance(section, Config)
    assert section.model_dump(by_alias=True) == {"prefix": "team-", "refusedPrefix": "no"}
    assert shared == SharedSettings(export_env_vars=False)
    assert result.pod["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "team-db"
    # Without the section in the file, it gets its defaults; a wrong key in it is a config error.
    demo.DemoInjector.received.clear()
    Mutator(parse_config({"webhook": {"secretManagerType": "DemoStore"}}))
    assert demo.DemoInjector.received[-1][0] == demo.DemoSettings()
    with pytest.raises(ConfigError, match=r"webhook.demoStore.prefx: unknown key; did you mean 'prefix'\?"):
        parse_config({"webhook": {"demoStore": {"prefx": "x"}}})
