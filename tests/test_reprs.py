"""No public object prints a secret value: repr() and str() of every class that may hold one.

Each object is built the way the code builds it, holding one known value (obviously fake, with
every character that an encoding escapes); its repr and str must hold the value in none of its
forms (plain, repr()'d str and bytes, ascii(), JSON, base64: tests/value_forms.py). Where the class
stands a value in, ``[secure]`` must show: the repr says a value is there, never which.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from managers.conformance import make_pod
from tasksecrets import Secret, current_context, task
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.admission.reviews import review
from tasksecrets.local.keys import MasterKey
from tasksecrets.local.kubelet import MaterializedPod
from tasksecrets.local.manifests import SecretManifest
from tasksecrets.local.store import SecretStore
from tasksecrets.managers.editor import ContainerEdit
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.materializing import PodContext
from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig
from tasksecrets.sdk.masking import SECURE, MaskScope
from tasksecrets.sdk.state import RunningTask, current_running_task
from tasksecrets.testing import SecretsManager, mock_secrets
from tasksecrets.webhook.certificates.authority import create_bundle
from tasksecrets.webhook.http import ReviewAnswer
from tasksecrets.webhook.kube import KubeClient
from value_forms import leaked_forms

VALUE = "FAKE-pä\"ss'\\wörd\t€-🔑\nline-two-0042"
REQUEST = Secret(group="user-info", key="user_secret")
GLOBAL_ENV = {"FLYTE_SECRET_USER-INFO_USER_SECRET": VALUE}


def _review_outcome() -> Any:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u1", "object": make_pod([REQUEST])},
    }
    outcome = review(json.dumps(body).encode(), parse_config({}), GlobalSecretSource(environ=GLOBAL_ENV))
    assert outcome.result is not None and outcome.result.allowed
    return outcome


def _mutation_result() -> Any:
    result = Mutator(parse_config({}), global_secrets=GlobalSecretSource(environ=GLOBAL_ENV)).mutate(
        make_pod([REQUEST])
    )
    held = json.dumps(VALUE)
    assert held in json.dumps(result.pod) and held in json.dumps(result.patch)  # it does hold it
    return result


def _review_answer() -> ReviewAnswer:
    outcome = _review_outcome()
    return ReviewAnswer(outcome.status, outcome.body, tuple(outcome.managers))


def _materialized_pod(tmp_path: Path) -> MaterializedPod:
    return MaterializedPod(
        name="pod-1",
        namespace="default",
        root=tmp_path,
        command=["python", "-c", f"print({VALUE!r})"],
        env={"_FSEC_USER-INFO_USER_SECRET": VALUE, "PATH": "/usr/bin"},
        secret_values=[VALUE],
        delivered=["env _FSEC_USER-INFO_USER_SECRET"],
    )


def _container_edit() -> ContainerEdit:
    env = [{"name": "_FSEC_USER-INFO_USER_SECRET", "value": VALUE}]
    return ContainerEdit("containers", 0, {"name": "task", "env": env}, {"env": set()}, {"env": list(env)})


def _pod_context(tmp_path: Path) -> PodContext:
    pod = make_pod([REQUEST])
    pod["spec"]["containers"][0]["env"] = [{"name": "X", "value": VALUE}]
    return PodContext(pod, root=tmp_path, store=lambda: None, environ={"AWS_SECRET_ACCESS_KEY": VALUE})  # type: ignore[arg-type, return-value]


def _running_task() -> RunningTask:
    found: list[RunningTask] = []

    @task(secret_requests=[REQUEST])
    def reader() -> None:
        current_context().secrets.get("user-info", "user_secret")
        running = current_running_task()
        assert running is not None
        found.append(running)

    with mock_secrets({("user-info", "user_secret"): VALUE}):
        reader()
    return found[0]


def _mask_scope() -> MaskScope:
    scope = MaskScope()
    scope.add(VALUE.encode("utf-8"))
    return scope


# (id, builder taking tmp_path, whether the repr stands [secure] in for the value)
BUILDERS: list[tuple[str, Callable[[Path], object], bool]] = [
    ("MaterializedPod", _materialized_pod, True),
    ("ReviewOutcome", lambda _: _review_outcome(), True),
    ("ReviewAnswer", lambda _: _review_answer(), True),
    ("MutationResult", lambda _: _mutation_result(), False),
    ("ContainerEdit", lambda _: _container_edit(), True),
    ("PodContext", _pod_context, False),
    ("GlobalSecretSource", lambda _: GlobalSecretSource(environ=GLOBAL_ENV), False),
    ("MasterKey", lambda _: MasterKey(VALUE.encode("utf-8"), "env TASKSECRETS_MASTER_KEY"), True),
    ("SecretStore", lambda p: SecretStore(p, master_key=VALUE.encode("utf-8")[:32]), False),
    ("SecretManifest", lambda _: SecretManifest("default", "s", "Opaque", {"k": VALUE.encode()}), False),
    ("KubeClient", lambda _: KubeClient("https://127.0.0.1:1", token=VALUE), True),
    (
        "SQLAlchemyConfig",
        lambda _: SQLAlchemyConfig(uri="postgresql://app@db/app", connect_args={"password": VALUE}),
        True,
    ),
    ("mock_secrets", lambda _: mock_secrets({("user-info", "user_secret"): VALUE}), False),
    ("SecretsManager", lambda _: SecretsManager(), False),
    ("RunningTask", lambda _: _running_task(), False),
    ("MaskScope", lambda _: _mask_scope(), False),
]


def test_a_certificate_bundle_never_prints_its_private_keys() -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    bundle = create_bundle(dns_names=["webhook.default.svc"], validity_days=1, now=now)
    assert bundle.ca_key is not None
    key_lines = [line for pem in (bundle.ca_key, bundle.tls_key) for line in pem.decode().splitlines()]
    body = [line for line in key_lines if not line.startswith("-----")]
    assert body
    for shown in (repr(bundle), str(bundle)):
        assert not any(line in shown for line in body), shown


@pytest.mark.parametrize(("builder", "stands_in"), [b[1:] for b in BUILDERS], ids=[b[0] for b in BUILDERS])
def test_repr_and_str_hold_no_form_of_the_value(
    builder: Callable[[Path], object], stands_in: bool, tmp_path: Path
) -> None:
    obj = builder(tmp_path)
    for shown in (repr(obj), str(obj)):
        assert leaked_forms(VALUE, shown) == [], shown
        if stands_in:
            assert SECURE in shown, shown
