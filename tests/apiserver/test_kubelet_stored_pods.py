"""The seed workflow with every task pod admitted by a real API server, then run by the local kubelet.

The executor renders each task's pod as ``tasksecrets run`` does, but instead of mutating it in
process it creates it through kube-apiserver, which calls our registered webhook; the pod the API
server stored is what the local kubelet materializes (from the local store) and runs. The outputs must
equal a plain ``tasksecrets run``'s executor, in process.

The local kubelet mounts no service-account token (it has no API server to ask for one), so the pods
are created with ``automountServiceAccountToken: false``, as a platform does for tasks that need no
API access; everything else the API server stored runs as it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from controlplane import REPO, ControlPlane
from tasksecrets.admission.mutator import MutationResult
from tasksecrets.local.runner import LocalClusterExecutor, scrub_environ
from tasksecrets.local.store import SecretStore
from tasksecrets.sdk.executor import use_executor
from tasksecrets.sdk.loader import load_module
from webhook_in_cluster import WebhookInCluster

NS = "flytesnacks-development"
FAKE = {"user_secret": b"fake-user-secret-1", "username": b"fake-username-2", "password": b"fake-password-3"}


def _through_api_server(plane: ControlPlane, stored: list[dict[str, Any]]) -> Any:
    def admit(pod: dict[str, Any]) -> MutationResult:
        pod = {**pod, "spec": {**pod["spec"], "automountServiceAccountToken": False}}
        done = plane.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(pod), check=False)
        if done.returncode != 0:
            return MutationResult(False, [], reason=done.stderr.strip())
        stored.append(json.loads(done.stdout))
        return MutationResult(True, [], pod=stored[-1])

    return admit


def _run_seed(store: SecretStore, tmp_path: Path, admission: Any = None) -> tuple[Any, ...]:
    module = load_module(str(REPO / "examples" / "use_secrets.py"))
    environ = {**scrub_environ(os.environ), "TMPDIR": str(tmp_path)}
    executor = LocalClusterExecutor(store=store, environ=environ, admission=admission)
    with executor, use_executor(executor):
        outputs: tuple[Any, ...] = module.my_secret_workflow()
    return outputs


def test_seed_workflow_runs_the_pods_the_api_server_stored(
    control_plane: ControlPlane, webhook_in_cluster: WebhookInCluster, tmp_path: Path
) -> None:
    control_plane.create_namespace(NS)
    stored: list[dict[str, Any]] = []
    with SecretStore.open(tmp_path / "home") as store:
        store.create(NS, "user-info", FAKE)
        through_cluster = _run_seed(store, tmp_path, _through_api_server(control_plane, stored))
        in_process = _run_seed(store, tmp_path)
    assert len(stored) == 3
    for pod in stored:  # stored by the API server, as our webhook patched it
        assert pod["metadata"]["uid"] and pod["metadata"]["namespace"] == NS
        env = {e["name"] for e in pod["spec"]["containers"][0].get("env", [])}
        secret_volumes = {v["secret"]["secretName"] for v in pod["spec"].get("volumes", []) if "secret" in v}
        assert "user-info" in secret_volumes or any(n.startswith("_FSEC_USER-INFO_") for n in env), pod
    x, y, z, f, s = through_cluster
    assert (x, y, z, s) == ("fake-user-secret-1", "fake-username-2", "fake-password-3", "fake-user-secret-1")
    assert (x, y, z, s) == tuple(in_process[i] for i in (0, 1, 2, 4))
    # The file path lies in each run's own private directory; below it the two runs agree.
    assert Path(f).name == Path(in_process[3]).name == "user_secret"
