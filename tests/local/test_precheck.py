"""Every store secret a run's tasks would miss, found before any of them runs: a real store, real pods.

Tasks are declared here (not run): :meth:`LocalClusterExecutor.check_secrets` renders and mutates their
pods with the webhook's code and compares what they would read with the store's list of keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tasksecrets import Secret, task
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.precheck import check_store_refs
from tasksecrets.local.runner import LocalClusterExecutor
from tasksecrets.local.store import SecretStore

NS = "flytesnacks-development"
FAKE = b"fake-precheck-value-9"


@task(secret_requests=[Secret(group="user-info", key="user_secret"), Secret(group="user-info", key="pin")])
def reads_two_keys() -> str:
    return ""


@task(secret_requests=[Secret(group="db", key="password", mount_requirement=Secret.MountType.ENV_VAR)])
def reads_db() -> str:
    return ""


@task(secret_requests=[Secret(group="secret/data/flyte", key="k")])
def vault_path() -> str:
    return ""


@task
def plain() -> str:
    return ""


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    opened = SecretStore.open(tmp_path / "home")
    opened.create(NS, "user-info", {"user_secret": FAKE})
    opened.create("staging", "db", {"password": FAKE})
    return opened


def _check(store: SecretStore | Any, *tasks: Any, namespace: str | None = None) -> str:
    executor = LocalClusterExecutor(store=store, namespace=namespace, environ={})
    with pytest.raises(TaskExecutionError) as caught:
        executor.check_secrets(tasks)
    message = str(caught.value)
    assert FAKE.decode() not in message
    return message


def test_every_missing_secret_and_key_of_every_task_is_named_at_once(store: SecretStore) -> None:
    message = _check(store, reads_two_keys, reads_db, plain)
    assert message.startswith("2 secrets the tasks need are missing from the local store (no task was run)")
    assert (
        "secret 'user-info' in namespace 'flytesnacks-development' has no key 'pin' (its keys: user_secret); "
        "needed by task 'reads_two_keys'"
    ) in message
    assert "secret 'db' (key 'password') does not exist in namespace 'flytesnacks-development'" in message
    assert "it exists in namespace 'staging': run with -n staging" in message
    assert "tasksecrets apply -f - <<'EOF'" in message and message.endswith("EOF")


def test_a_run_with_all_its_secrets_passes_and_names_kubernetes_refuses_are_left_to_the_kubelet(
    store: SecretStore,
) -> None:
    store.create(NS, "db", {"password": FAKE})
    executor = LocalClusterExecutor(store=store, environ={})
    executor.check_secrets([reads_db, vault_path, plain])  # vault_path fails later, with its own advice


def test_the_store_is_not_opened_when_no_task_reads_from_it() -> None:
    def never() -> SecretStore:
        raise AssertionError("the store was opened")

    LocalClusterExecutor(store=never, environ={}).check_secrets([plain, vault_path])


def test_an_optional_ref_no_request_stands_behind_is_not_missing(store: SecretStore) -> None:
    pod = {
        "metadata": {"name": "p", "namespace": NS},
        "spec": {
            "containers": [
                {
                    "name": "task",
                    "env": [
                        {
                            "name": "A",
                            "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}},
                        },
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "needed", "key": "k"}}},
                    ],
                }
            ]
        },
    }
    with pytest.raises(TaskExecutionError) as caught:
        check_store_refs([("hand", pod)], lambda: store)
    assert "'needed'" in str(caught.value) and "'absent'" not in str(caught.value)
    assert (
        "tasksecrets create secret generic needed -n flytesnacks-development --from-literal=k=VALUE"
        in str(caught.value)
    )


def test_a_namespace_typo_gets_did_you_mean(store: SecretStore) -> None:
    message = _check(store, reads_two_keys, namespace="flytesnacks-developmnt")
    assert "did you mean namespace 'flytesnacks-development'? it holds this secret" in message
