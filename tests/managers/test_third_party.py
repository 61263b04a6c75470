"""A third-party injector found through the entry-point group ``tasksecrets.injectors``.

The injector lives in a test-only distribution installed the way pip installs one: a module and a
``<name>.dist-info`` directory (METADATA, entry_points.txt) in a directory put on ``sys.path``, so
``importlib.metadata`` finds it for real (no monkeypatching of importlib). It passes the same
conformance suite as the built-in injectors, is selected by ``secretManagerType`` in any case, and
an unknown manager name is a config error that lists the known ones.
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
"""A test-only third-party injector: every secret from a Kubernetes Secret named "demo-<group>"."""
from tasksecrets.errors import InjectionError
from tasksecrets.managers.plugin import ManagerPlugin
from tasksecrets.managers.fragments import env_from_secret_key, pod_env_name


class DemoInjector:
    name = "DemoStore"

    @classmethod
    def from_config(cls, section, *, shared):
        return cls()

    def inject(self, secret, editor):
        if secret.group.startswith("forbidden"):
            raise InjectionError("the demo store refuses forbidden groups")
        ref = env_from_secret_key(pod_env_name(secret), secret_name="demo-" + secret.group, key=secret.key)
        env = [ref]
        if secret.env_var:
            env.append({**ref, "name": secret.env_var})
        editor.add_env(*env)
        return True


PLUGIN = ManagerPlugin(name="DemoStore", injector=DemoInjector)
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
