"""K8s: Kubernetes Secrets in the pod's namespace, the default manager (``secretManagerType: K8s``).

The local kubelet reads what this manager writes (secret volumes, ``secretKeyRef`` env vars) from
the encrypted local store (:mod:`tasksecrets.managers.k8s.materializer`).
"""

from tasksecrets.managers.plugin import ManagerPlugin

_MATERIALIZER = "tasksecrets.managers.k8s.materializer"

PLUGIN = ManagerPlugin(
    name="K8s",
    injector="tasksecrets.managers.k8s.injector:K8sInjector",
    materializers={
        ("volume", "secret"): f"{_MATERIALIZER}:materialize_secret_volume",
        ("env", "secretKeyRef"): f"{_MATERIALIZER}:materialize_secret_key_ref",
    },
)
