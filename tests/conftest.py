"""Shared pytest setup. Its presence also puts tests/ on sys.path, so helpers such as
``k8svalidate`` import by name from every test directory.

Session-scoped real services, each started only when a test asks for it: OpenBao, PostgreSQL and
moto's AWS server (tests/services.py); a Kubernetes control plane, etcd + kube-apiserver
(tests/controlplane.py), and our webhook deployed and registered in it (tests/webhook_in_cluster.py);
a second control plane with kube-scheduler, our webhook and a Node played by a stand-in kubelet, for
``run --cluster`` (tests/kube_cluster.py).
"""

import pytest

from controlplane import control_plane  # noqa: F401
from kube_cluster import kube_cluster  # noqa: F401
from services import moto_server, openbao, postgres  # noqa: F401
from webhook_in_cluster import webhook_in_cluster  # noqa: F401


@pytest.fixture(params=["warm", "cold"])
def launcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each local cluster test that uses it runs twice: tasks forked by the warm helper, and cold.

    It sets ``TASKSECRETS_LAUNCHER`` here; a test that builds a runner's environment of its own
    adds ``{"TASKSECRETS_LAUNCHER": launcher}`` to it.
    """
    monkeypatch.setenv("TASKSECRETS_LAUNCHER", request.param)
    return str(request.param)
