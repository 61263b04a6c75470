"""Round-trip conformance: every secret manager, every mount type, with and without ``env_var``.

For each combination a secret is stored in its manager's backend, and a task requesting it is
called through the local cluster's executor (:class:`~tasksecrets.local.runner.LocalClusterExecutor`),
which does what a cluster does: the task's pod is rendered, mutated by the webhook's own code (the
Mutator), materialized by the local kubelet with each manager's real materializer, and run as
``python -m tasksecrets execute`` in a child process. The task reads the secret back with
``current_context().secrets.get(...)``, looks at its ``env_var`` (the value for ENV_VAR and ANY,
the file's path for FILE, README section 3) and at every place the contract's delivery table
(:data:`tasksecrets.contract.DELIVERY`) says the serving manager delivers to, and returns what it
saw; the test compares that with what was stored, and checks which manager injected it.

Backends are real where one runs here: K8s the encrypted local store; AWS moto's server; Vault an
OpenBao dev server (kv v2 without ``env_var``, kv v1 with it) rendered by the real ``bao agent``;
Global the runner's environment (``FLYTE_SECRET_<GROUP>_<KEY>``). No GCP or Azure service can run
here: the stand-ins of ``tests/stand_ins`` serve their values to the real materializers.

Global delivers env vars only and passes FILE requests on, so its FILE cases run the chain Global +
K8s and must be served by K8s, although Global holds a (different) value too; Global alone denies
them. The last tests show the suite can fail: with a materializer broken on purpose, the round
trip does not give the value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import hvac
import pytest

from services import MotoServer, OpenBao
from stand_ins import azure_identity, azure_keyvault_secrets, gcp_secretmanager, install
from tasksecrets.admission.config import parse_config
from tasksecrets.contract import AWS_CONTAINER_PREFIX, AWS_SECRET_FILENAME_VAR, DELIVERY, ENV_PREFIX
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.keys import KEY_SIZE
from tasksecrets.local.kubelet import PodContext, register_materializer, unregister_materializer
from tasksecrets.local.runner import LocalClusterExecutor, TaskRun, scrub_environ
from tasksecrets.local.store import SecretStore
from tasksecrets.managers.aws.materializer import materialize_aws_pull
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.k8s.materializer import materialize_secret_volume
from tasksecrets.sdk.executor import use_executor
from tasksecrets.sdk.loader import load_module
from tasksecrets.sdk.secret import MountType, Secret

MANAGERS = ("Global", "K8s", "AWS", "GCP", "Vault", "Azure")
NAMESPACE = "flytesnacks-development"  # the executor's default project and domain
ENV_VAR = "RT_SECRET"
AWS_GROUP = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
GCP_PROJECT = "fake-roundtrip-project"
AZURE_VAULT = "https://fake-roundtrip.vault.azure.net"
KV1_MOUNT = "roundtrip-kv1"  # a kv v1 engine of our own; the dev server mounts kv v2 at secret/
# Credentials and endpoints of the machine running the tests must not reach the runner.
FOREIGN_PREFIXES = ("AWS_", "VAULT_", "BAO_", "GOOGLE_", "CLOUDSDK_", "AZURE_")


# -- the combinations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One combination: a manager, a mount type, with or without ``env_var``."""

    manager: str
    mount: MountType
    env_var: bool

    @property
    def id(self) -> str:
        return f"{self.manager}-{self.mount.name}" + ("-env_var" if self.env_var else "")

    @property
    def task_name(self) -> str:
        return self.id.lower().replace("-", "_")

    @property
    def name(self) -> str:
        """A name of this case's own, valid as a K8s Secret, AWS, GCP, Azure or Vault name."""
        return f"rt-{self.manager.lower()}-{self.mount.name.lower().replace('_', '-')}" + (
            "-ev" if self.env_var else ""
        )

    @property
    def value(self) -> str:
        return f"fake-roundtrip-{self.name.removeprefix('rt-')}"

    @property
    def served_by(self) -> str:
        """The manager that must inject it: Global passes FILE requests on (to K8s here)."""
        return "K8s" if self.manager == "Global" and self.mount is MountType.FILE else self.manager

    @property
    def webhook_config(self) -> dict[str, Any]:
        if self.manager == "Global" and self.mount is MountType.FILE:
            return {"secretManagerTypes": ["Global", "K8s"]}
        return {"secretManagerType": self.manager}

    @property
    def secret(self) -> Secret:
        group, key, version = names_of(self)
        return Secret(
            group=group,
            key=key,
            group_version=version,
            mount_requirement=self.mount,
            env_var=ENV_VAR if self.env_var else None,
        )


def vault_location(case: Case) -> tuple[str, str, str]:
    """``(engine, mount, path)`` of a Vault case's secret: kv2 without env_var, kv1 with it."""
    path = f"roundtrip/{case.name}"
    return ("kv1", KV1_MOUNT, path) if case.env_var else ("kv2", "secret", path)


def names_of(case: Case) -> tuple[str, str, str | None]:
    """``(group, key, group_version)`` as each manager names a secret (docs/secret-managers.md)."""
    if case.manager in ("Global", "K8s"):
        return case.name, "value", None
    if case.manager == "AWS":  # the secret <group>:<key>, the group an ARN prefix
        return AWS_GROUP, case.name, None
    if case.manager == "GCP":  # the secret and its version; the key is not used
        return case.name, "value", "1"
    if case.manager == "Vault":
        engine, mount, path = vault_location(case)
        return (f"{mount}/data/{path}" if engine == "kv2" else f"{mount}/{path}"), "value", engine
    if case.manager == "Azure":  # the vault, the secret's name as group_version, the key a file name
        return AZURE_VAULT, "value", case.name
    raise AssertionError(f"no naming for {case.manager}")


CASES = [Case(m, mount, env_var) for m in MANAGERS for mount in MountType for env_var in (False, True)]


def cases_of(*managers: str) -> list[Case]:
    return [c for c in CASES if c.manager in managers]


def case_params() -> list[Any]:
    return [pytest.param(c, id=c.id) for c in CASES]


# -- what the task sees, and what it must see -----------------------------------------------------


def file_content(case: Case) -> str:
    # The Azure sidecar writes with ``az ... -o tsv``, which ends the value with a line break.
    return case.value + ("\n" if case.served_by == "Azure" else "")


def expected_observation(case: Case) -> dict[str, Any]:
    """What the task must see, from the contract's delivery table for the serving manager."""
    secret, delivery = case.secret, DELIVERY[case.served_by]
    assert delivery.env is not None
    pod_env = delivery.env.format(ENV_PREFIX, secret.group, secret.key, secret.group_version)
    env: dict[str, str | None] = {pod_env: case.value if delivery.by_env(case.mount) else None}
    files: dict[str, str] = {}
    if delivery.by_file(case.mount):
        files["contract"] = file_content(case)
    if secret.env_var:
        if case.mount is MountType.FILE:
            files["env_var"] = file_content(case)  # env_var holds the file's path
        else:
            env[secret.env_var] = case.value
    return {"get": case.value, "env": env, "files": files}


TASKS_HEADER = '''"""One task per round-trip combination (written by tests/managers/test_roundtrip.py)."""

import os
from pathlib import Path

from tasksecrets import Secret, current_context, task
from tasksecrets.contract import DEFAULT_DIR_VAR, join_path


def read_file(path):
    return Path(path).read_text() if path and os.path.isfile(path) else None


def observe(secret, env_names, contract_file):
    """What this task sees of its secret: the reader's value, env vars, files."""
    files = {}
    if contract_file is not None:
        root = os.environ.get(DEFAULT_DIR_VAR)
        files["contract"] = read_file(join_path(root, *contract_file) if root else None)
    if secret.env_var and secret.mount_requirement is Secret.MountType.FILE:
        files["env_var"] = read_file(os.environ.get(secret.env_var))
    return {
        "get": current_context().secrets.get(secret.group, secret.key, secret.group_version),
        "env": {name: os.environ.get(name) for name in env_names},
        "files": files,
    }
'''

TASK = """

SECRET_{index} = {secret!r}


@task(secret_requests=[SECRET_{index}])
def {name}() -> dict:
    return observe(SECRET_{index}, {env_names!r}, {contract_file!r})
"""


def render_task(index: int, case: Case) -> str:
    """The task of one case: it looks where :func:`expected_observation` expects something."""
    secret, delivery = case.secret, DELIVERY[case.served_by]
    expected = expected_observation(case)
    contract_file = None
    if "contract" in expected["files"]:
        contract_file = delivery.file_layout.parts_of(secret.group, secret.key, secret.group_version)
    return TASK.format(
        index=index,
        secret=secret,
        name=case.task_name,
        env_names=list(expected["env"]),
        contract_file=contract_file,
    )


def call_task(
    tasks: ModuleType,
    case: Case,
    *,
    store: SecretStore,
    environ: Mapping[str, str],
    config: dict[str, Any] | None = None,
) -> tuple[Any, TaskRun]:
    """Call the case's task through the local cluster; what it saw, and the executor's record."""
    executor = LocalClusterExecutor(
        config=parse_config({"webhook": config or case.webhook_config}), store=store, environ=environ
    )
    with executor, use_executor(executor):
        seen = getattr(tasks, case.task_name)()
    return seen, executor.runs[-1]


def check_round_trip(case: Case, seen: Any, run: TaskRun) -> None:
    """The serving manager injected it, and the task saw the stored value where the contract says."""
    secret = case.secret
    assert run.injections == [(f"{secret.group}/{secret.key}", case.served_by)]
    assert seen == expected_observation(case)


# -- the backends -------------------------------------------------------------------------------


def runner_environ(**extra: str) -> dict[str, str]:
    """The runner's environment: this process's without secrets or cloud settings, plus ``extra``."""
    base = {k: v for k, v in scrub_environ(os.environ).items() if not k.startswith(FOREIGN_PREFIXES)}
    return {**base, **extra}


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    path = tmp_path_factory.mktemp("roundtrip") / "roundtrip_tasks.py"
    path.write_text(TASKS_HEADER + "".join(render_task(i, case) for i, case in enumerate(CASES)))
    return load_module(str(path))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretStore]:
    """The local store, holding every secret K8s serves (Global's FILE cases too)."""
    home = tmp_path_factory.mktemp("store-home")
    with SecretStore.open(home, master_key=os.urandom(KEY_SIZE)) as opened:
        for case in CASES:
            if case.served_by == "K8s":
                opened.create(NAMESPACE, case.secret.group, {case.secret.key: case.value.encode()})
        yield opened


def global_decoy(case: Case) -> str:
    return f"fake-roundtrip-decoy-{case.name}"


@pytest.fixture(scope="module")
def global_environ() -> dict[str, str]:
    """Global's values where the webhook finds them: ``FLYTE_SECRET_<GROUP>_<KEY>``.

    Global holds its FILE cases too, with another value: they must still come from K8s.
    """
    source = GlobalSecretSource.empty()
    held = {
        source.env_name(c.secret): global_decoy(c) if c.mount is MountType.FILE else c.value
        for c in cases_of("Global")
    }
    return runner_environ(**held)


@pytest.fixture(scope="module")
def k8s_environ() -> dict[str, str]:
    return runner_environ()


@pytest.fixture(scope="module")
def aws_environ(moto_server: MotoServer) -> dict[str, str]:
    moto_server.create_secrets({c.secret.key: c.value for c in cases_of("AWS")})
    return runner_environ(**moto_server.env())


@pytest.fixture(scope="module")
def vault_environ(openbao: OpenBao) -> Iterator[dict[str, str]]:
    """kv2 (the dev server's ``secret/``) and a kv1 engine of our own; the real agent on PATH."""
    client = hvac.Client(url=openbao.address, token=openbao.token)
    client.sys.enable_secrets_engine("kv", path=KV1_MOUNT, options={"version": "1"})
    for case in cases_of("Vault"):
        engine, mount, path = vault_location(case)
        if engine == "kv1":
            client.secrets.kv.v1.create_or_update_secret(path, {"value": case.value}, mount_point=mount)
        else:
            client.secrets.kv.v2.create_or_update_secret(
                path, secret={"value": case.value}, mount_point=mount
            )
    path = os.pathsep.join([os.path.dirname(openbao.binary), os.environ.get("PATH", os.defpath)])
    yield runner_environ(PATH=path, VAULT_ADDR=openbao.address, VAULT_TOKEN=openbao.token)
    client.sys.disable_secrets_engine(KV1_MOUNT)
    for case in cases_of("Vault"):
        engine, mount, path = vault_location(case)
        if engine == "kv2":
            client.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=mount)


@pytest.fixture
def gcp_environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The GCP stand-in in place of google-cloud-secret-manager, holding the GCP cases' versions."""
    install(monkeypatch, "google.cloud.secretmanager", gcp_secretmanager)
    held = {
        f"projects/{GCP_PROJECT}/secrets/{c.secret.group}/versions/{c.secret.group_version}": c.value.encode()
        for c in cases_of("GCP")
    }
    monkeypatch.setattr(gcp_secretmanager, "SECRETS", held)
    return runner_environ(GOOGLE_CLOUD_PROJECT=GCP_PROJECT)


@pytest.fixture
def azure_environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The Azure stand-ins in place of azure-identity and azure-keyvault-secrets."""
    install(monkeypatch, "azure.identity", azure_identity)
    install(monkeypatch, "azure.keyvault.secrets", azure_keyvault_secrets)
    held = {f"{AZURE_VAULT}/secrets/{c.secret.group_version}": c.value for c in cases_of("Azure")}
    monkeypatch.setattr(azure_keyvault_secrets, "SECRETS", held)
    return runner_environ()


# -- the round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", case_params())
def test_a_stored_secret_reaches_the_task(
    case: Case, tasks: ModuleType, store: SecretStore, request: pytest.FixtureRequest
) -> None:
    environ = request.getfixturevalue(f"{case.manager.lower()}_environ")
    seen, run = call_task(tasks, case, store=store, environ=environ)
    check_round_trip(case, seen, run)


def test_global_alone_denies_a_file_request_it_holds(
    tasks: ModuleType, store: SecretStore, global_environ: dict[str, str]
) -> None:
    case = Case("Global", MountType.FILE, env_var=True)
    with pytest.raises(TaskExecutionError) as caught:
        call_task(tasks, case, store=store, environ=global_environ, config={"secretManagerType": "Global"})
    message = str(caught.value)
    assert "webhook denied its pod" in message and "delivers environment variables only" in message
    assert case.secret.group in message and global_decoy(case) not in message


# -- the suite can fail -------------------------------------------------------------------------


@contextmanager
def materializer_replaced(kind: str, name: str, handler: Any) -> Iterator[None]:
    """The local kubelet uses ``handler`` for ``(kind, name)`` until the block ends."""
    register_materializer(kind, name, handler, replace=True)
    try:
        yield
    finally:
        unregister_materializer(kind, name)


TAMPERED = b"fake-roundtrip-tampered"


def tampering_secret_volume(source: Mapping[str, Any], target: Path, ctx: PodContext) -> None:
    """The K8s secret-volume materializer, then every file it wrote overwritten with a wrong value."""
    materialize_secret_volume(source, target, ctx)
    for path in [p for p in target.rglob("*") if p.is_file()]:
        ctx.write_secret_file(path, TAMPERED)


def misplacing_aws_pull(container: Mapping[str, Any], ctx: PodContext) -> None:
    """The AWS pull materializer, told to write each secret beside where the sidecar writes it."""
    env = [
        {**e, "value": e["value"] + ".misplaced"} if e.get("name") == AWS_SECRET_FILENAME_VAR else e
        for e in container.get("env") or []
    ]
    materialize_aws_pull({**container, "env": env}, ctx)


def test_a_k8s_volume_materializer_writing_a_wrong_value_fails_the_round_trip(
    tasks: ModuleType, store: SecretStore, k8s_environ: dict[str, str]
) -> None:
    case = Case("K8s", MountType.FILE, env_var=True)
    with materializer_replaced("volume", "secret", tampering_secret_volume):
        seen, run = call_task(tasks, case, store=store, environ=k8s_environ)
    assert seen["get"] != case.value
    with pytest.raises(AssertionError):
        check_round_trip(case, seen, run)
    # Put back, the same call makes the round trip again.
    check_round_trip(case, *call_task(tasks, case, store=store, environ=k8s_environ))


def test_an_aws_materializer_writing_to_the_wrong_path_fails_the_round_trip(
    tasks: ModuleType, store: SecretStore, aws_environ: dict[str, str]
) -> None:
    case = Case("AWS", MountType.FILE, env_var=False)
    with (
        materializer_replaced("init-container", AWS_CONTAINER_PREFIX, misplacing_aws_pull),
        pytest.raises(TaskExecutionError) as caught,
    ):
        call_task(tasks, case, store=store, environ=aws_environ)
    # The task itself failed: its reader found the secret nowhere, and says so without a value.
    assert "SecretNotFoundError" in str(caught.value) and case.value not in str(caught.value)
    check_round_trip(case, *call_task(tasks, case, store=store, environ=aws_environ))
