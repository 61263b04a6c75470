"""Only pods the API server accepts are admitted (src/tasksecrets/managers/validity.py, docs/compat.md).

Long K8s secret names get a shortened volume name, a pull container skips a name the pod already
has, and whatever an injector adds that breaks a rule denies the pod naming the secret and the rule.
A fixed-seed set of 2,000 generated pods, all managers, hostile and long names, checks every
admitted pod with the independent rules of tests/k8svalidate.py.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

import pytest

from k8svalidate import api_server_problems, assert_api_server_accepts
from managers.conformance import make_pod
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.k8s.injector import secret_volume_name
from tasksecrets.managers.plugin import ManagerPlugin, SharedSettings
from tasksecrets.managers.registry import register_manager
from tasksecrets.managers.validity import is_config_map_key, is_kube_env_var_name, local_path_problem
from tasksecrets.sdk.secret import MountType, Secret

FILE, ENV = MountType.FILE, MountType.ENV_VAR


def mutator(*managers: str, **webhook: Any) -> Mutator:
    return Mutator(parse_config({"webhook": {"secretManagerTypes": list(managers), **webhook}}))


def admitted_pod(pod: dict[str, Any], chain: Mutator) -> dict[str, Any]:
    result = chain.mutate(pod)
    assert result.allowed, result.reason
    assert_api_server_accepts(result.pod)
    return result.pod


# -- long K8s secret names ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [38, 39, 63, 200, 253])
def test_a_long_k8s_secret_name_gets_a_volume_name_of_at_most_63(length: int) -> None:
    group = ("a" * length)[:length]
    pod = admitted_pod(make_pod([Secret(group=group, key="k", mount_requirement=FILE)]), mutator("K8s"))
    (volume,) = pod["spec"]["volumes"]
    assert volume["secret"]["secretName"] == group
    assert len(volume["name"]) <= 63
    assert volume["name"] == secret_volume_name(Secret(group=group, key="k"))


def test_flytes_volume_name_is_kept_where_it_fits_and_shortened_deterministically_otherwise() -> None:
    short = Secret(group="a" * 38, key="k")  # base32 of 39 bytes: 63 characters
    assert len(secret_volume_name(short)) == 63 and "-" not in secret_volume_name(short)
    long_a, long_b = Secret(group="a" * 100 + "x", key="k"), Secret(group="a" * 100 + "y", key="k")
    name_a = secret_volume_name(long_a)
    assert len(name_a) == 63 and name_a[54] == "-"
    assert name_a == secret_volume_name(Secret(group="a" * 100 + "x", key="other"))  # group and version only
    assert name_a[:54] == secret_volume_name(long_b)[:54] and name_a != secret_volume_name(long_b)


def test_two_long_names_sharing_a_prefix_get_two_volumes() -> None:
    secrets = [Secret(group="s" * 80 + end, key="k", mount_requirement=FILE) for end in ("1", "2")]
    pod = admitted_pod(make_pod(secrets), mutator("K8s"))
    assert len({v["name"] for v in pod["spec"]["volumes"]}) == 2


# -- container names the pod already has --------------------------------------------------------------


@pytest.mark.parametrize(
    ("manager", "secret"),
    [
        ("GCP", Secret(group="db", key="k", group_version="1")),
        ("AWS", Secret(group="arn:aws:secretsmanager:us-east-1:1:secret", key="db")),
        ("Azure", Secret(group="https://v.vault.azure.net", key="k", group_version="db")),
    ],
)
def test_a_pull_container_skips_a_name_the_pod_already_has(manager: str, secret: Secret) -> None:
    prefix = f"{manager.lower()}-pull-secret"
    pod = make_pod([secret], containers=1, init_containers=1)
    pod["spec"]["initContainers"][0]["name"] = f"{prefix}-1"  # Flyte would name ours the same
    pod["spec"]["containers"][0]["name"] = f"{prefix}-2"
    mutated = admitted_pod(pod, mutator(manager))
    names = [c["name"] for c in mutated["spec"]["initContainers"]]
    assert names == [f"{prefix}-1", f"{prefix}-3"]


def test_without_a_clash_the_pull_container_keeps_flytes_name() -> None:
    pod = admitted_pod(make_pod([Secret(group="db", key="k", group_version="1")]), mutator("GCP"))
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["init-0", "gcp-pull-secret-1"]


# -- what an injector adds that the API server rejects: denied, naming the secret and the rule -------


class CopycatInjector:
    """Adds an init container named like the pod's first one, or a mount of a missing volume."""

    name: ClassVar[str] = "TestCopycat"

    @classmethod
    def from_config(cls, section: None, *, shared: SharedSettings) -> CopycatInjector:
        return cls()

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        if secret.key == "mount":
            editor.add_volume_mount({"name": "nowhere", "mountPath": "/x"})
        elif secret.key == "annotation":
            editor.set_annotation("example.com/a~b", "x")
        else:
            editor.add_init_container({"name": secret.key, "image": "busybox:1.36"})
        return True


register_manager(ManagerPlugin(name="TestCopycat", injector=CopycatInjector))


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("init-0", "the init container name 'init-0' is taken by another container"),
        ("main-0", "the init container name 'main-0' is taken by another container"),
        ("Upper", "the init container name 'Upper' is not a DNS-1123 label"),
        ("mount", "mounts the volume 'nowhere', which the pod does not have"),
        ("annotation", "the annotation key 'example.com/a~b' is not a qualified name"),
    ],
)
def test_an_added_object_the_api_server_rejects_denies_the_pod(key: str, rule: str) -> None:
    secret = Secret(group="g", key=key)
    result = mutator("TestCopycat", onInjectionError="admit").mutate(make_pod([secret]))
    assert not result.allowed and result.code == 403 and result.patch == []
    assert str(result.reason).startswith(f"{secret!r}: TestCopycat would add")
    assert rule in str(result.reason)


def test_two_managers_mounting_at_the_same_path_deny_the_pod() -> None:
    # GCP serves the versioned secret, AWS the other: both mount a volume at /etc/flyte/secrets.
    secrets = [Secret(group="db", key="k", group_version="1"), Secret(group="arn:aws:x", key="k")]
    result = mutator("GCP", "AWS").mutate(make_pod(secrets))
    assert not result.allowed
    assert "mounts two volumes at '/etc/flyte/secrets'" in str(result.reason)
    assert repr(secrets[1]) in str(result.reason)


def test_a_pod_mounting_the_secrets_directory_itself_is_denied() -> None:
    pod = make_pod([Secret(group="arn:aws:x", key="k")], containers=1)
    pod["spec"]["volumes"] = [{"name": "mine", "emptyDir": {}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "mine", "mountPath": "/etc/flyte/secrets"}]
    result = mutator("AWS").mutate(pod)
    assert not result.allowed and "mounts two volumes at '/etc/flyte/secrets'" in str(result.reason)


def test_the_rules_of_the_api_server() -> None:
    assert is_kube_env_var_name("my.env-name") and is_kube_env_var_name("_FSEC_A_B")
    assert not any(map(is_kube_env_var_name, ["", "1A", "A B", "A=B", "A\n", "..A", "."]))
    assert is_config_map_key("a.b-c_D") and not any(
        map(is_config_map_key, ["", "..a", "a/b", "a\n", "k" * 254])
    )
    assert local_path_problem("a/b") is None
    assert [local_path_problem(p) is not None for p in ["", "/a", "a/../b", "..a", "a/.."]] == [True] * 5


# -- 2,000 generated pods --------------------------------------------------------------------------------

HOSTILE = ["1\n", "$(touch x)", "`x`", "a;b", "a'b", 'a"b', "{{ x }}", "UP", "a b", "a/../b", "..", "-x"]
MANAGERS = ["K8s", "AWS", "GCP", "Vault", "Azure"]


def _name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.06:
        return rng.choice(HOSTILE)
    if roll < 0.16:
        return "n" * rng.randint(30, 260)  # long names: volume names, paths
    return rng.choice(["user-info", "db", "token", "api-key", "a.b", "secret/data/app", "Team"])


def _secret(rng: random.Random, manager: str) -> Secret:
    group, key = _name(rng), _name(rng)
    if manager == "Azure" and rng.random() < 0.7:
        group = "https://v.vault.azure.net"
    version = rng.choice(["", "1", "latest", "kv1", "kv2", "db", _name(rng)])
    mount = rng.choice(list(MountType))
    env_var = rng.choice(["", "", "", "MY_VAR", "MY_VAR", "TOKEN\n", "1A"])
    return Secret.from_wire(
        group=group, key=key, group_version=version, mount_requirement=mount, env_var=env_var
    )


def _pod(rng: random.Random, secrets: list[Secret]) -> dict[str, Any]:
    pod = make_pod(secrets, containers=rng.randint(1, 3), init_containers=rng.randint(0, 2))
    spec = pod["spec"]
    if rng.random() < 0.3 and spec.get("initContainers"):
        # A name an added pull container would take, as Flyte names it.
        prefix = rng.choice(["aws", "gcp", "azure"])
        spec["initContainers"][-1]["name"] = f"{prefix}-pull-secret-{len(spec['initContainers'])}"
    if rng.random() < 0.2:
        spec["volumes"] = [{"name": rng.choice(["aws-secret-vol", "scratch"]), "emptyDir": {}}]
    return pod


def _chains() -> list[tuple[Mutator, list[str]]]:
    chains = [(mutator(m), [m]) for m in MANAGERS] + [(mutator("GCP", "K8s"), ["GCP", "K8s"])]
    held = GlobalSecretSource(environ={"_FSEC_DB_TOKEN": "v", "_FSEC_USER-INFO_TOKEN": "v"}, secrets_dir=None)
    chains.append(
        (Mutator(parse_config({"webhook": {"secretManagerType": "K8s"}}), global_secrets=held), ["K8s"])
    )
    return chains


def test_every_admitted_pod_of_2000_generated_ones_passes_the_api_servers_rules() -> None:
    rng = random.Random(20240611)
    chains = _chains()
    admitted = denied = 0
    for _ in range(2000):
        chain, managers = rng.choice(chains)
        secrets = [_secret(rng, rng.choice(managers)) for _ in range(rng.randint(1, 4))]
        pod = _pod(rng, secrets)
        result = chain.mutate(pod)
        if not result.allowed:
            denied += 1
            assert result.reason and result.code in (400, 403)
            continue
        admitted += 1
        problems = api_server_problems(result.pod)
        assert problems == [], (secrets, problems)
    # The set must exercise both outcomes, or it tests nothing.
    assert admitted > 500 and denied > 500, (admitted, denied)


@pytest.mark.parametrize("bad", [0, 2, 4, 6])
def test_the_denial_names_the_secret_that_broke_the_rule(bad: int) -> None:
    secrets = [Secret(group=f"team-{i}", key="k", mount_requirement=ENV) for i in range(7)]
    secrets[bad] = Secret(group="Team-X", key="k", mount_requirement=ENV)  # no Secret can be named so
    result = mutator("K8s").mutate(make_pod(secrets))
    assert not result.allowed
    assert str(result.reason).startswith(f"{secrets[bad]!r}: K8s would add"), result.reason


# -- all annotations together -------------------------------------------------------------------------


def _vault_pod_with_filler(filler_bytes: int) -> dict[str, Any]:
    pod = make_pod([Secret(group="kv/data/app", key="password", group_version="kv2", mount_requirement=FILE)])
    pod["metadata"]["annotations"]["example.com/notes"] = "é" * (filler_bytes // 2)  # 2 bytes each
    return pod


def test_annotations_the_injectors_push_over_256_kib_deny_the_pod() -> None:
    chain = mutator("Vault")
    fits = chain.mutate(_vault_pod_with_filler(200 * 1024))
    assert fits.allowed, fits.reason
    assert_api_server_accepts(fits.pod)
    # Under 256 KiB in characters, over it in bytes: the API server counts bytes, and so do we.
    pod = _vault_pod_with_filler(256 * 1024 - 600)
    assert sum(len(k) + len(v) for k, v in pod["metadata"]["annotations"].items()) < 256 * 1024
    denied = chain.mutate(pod)
    assert not denied.allowed
    assert "annotations would total" in denied.reason and "262144" in denied.reason
