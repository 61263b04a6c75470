"""Shared pieces of the file-manager tests (AWS, GCP, Vault, Azure), written from compat.md by hand.

``base_pod`` is the input every exact test mutates: one init container, one container, one
ephemeral container. ``mutate`` runs the whole webhook path (wire annotations in, patch out) with
every check of the conformance suite (patch applies with jsonpatch, strict kubernetes-validate).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from managers.conformance import InjectorConformance, make_pod, mutate_checked
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import MutationResult, Mutator
from tasksecrets.sdk.secret import MountType, Secret

ENV, FILE, ANY = MountType.ENV_VAR, MountType.FILE, MountType.ANY
MOUNTS = (ANY, FILE, ENV)
EXPORT_ANNOTATION = "tasksecrets.dev/export-env"
PATH_ENV = [
    {"name": "FLYTE_SECRETS_DEFAULT_DIR", "value": "/etc/flyte/secrets"},
    {"name": "FLYTE_SECRETS_FILE_PREFIX"},
]
EXPORT_ENV = [
    {"name": "FLYTE_SECRETS_ENV_PREFIX", "value": "_FSEC_"},
    {
        "name": "TASKSECRETS_EXPORT_ENV",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['tasksecrets.dev/export-env']"}},
    },
]
SIDECAR_RESOURCES = {
    "limits": {"cpu": "200m", "memory": "500Mi"},
    "requests": {"cpu": "200m", "memory": "500Mi"},
}


class FileManagerConformance(InjectorConformance):
    """The conformance suite for managers that serve ENV_VAR through the export annotation."""

    def delivers_env_var(self, container: Mapping[str, Any], pod: Mapping[str, Any], name: str) -> bool:
        env = {e["name"]: e for e in container.get("env", [])}
        if name in env:
            return True
        spec = pod["metadata"].get("annotations", {}).get(EXPORT_ANNOTATION)
        return (
            env.get("TASKSECRETS_EXPORT_ENV") == EXPORT_ENV[1]
            and spec is not None
            and name in json.loads(spec)
        )


def base_pod(secrets: list[Secret]) -> dict[str, Any]:
    return make_pod(secrets, containers=1, init_containers=1, ephemeral=True)


def mutate(manager: str, secrets: list[Secret], **webhook: Any) -> MutationResult:
    """Mutate ``base_pod(secrets)``; the result must be allowed."""
    mutator = Mutator(parse_config({"webhook": {"secretManagerType": manager, **webhook}}))
    result = mutate_checked(base_pod(secrets), mutator)
    assert result.allowed, result.reason
    return result


def deny_reason(manager: str, secret: Secret, **webhook: Any) -> str:
    """Mutate a pod requesting ``secret``: it must be denied (403) and leave the pod unchanged."""
    mutator = Mutator(parse_config({"webhook": {"secretManagerType": manager, **webhook}}))
    result = mutate_checked(base_pod([secret]), mutator)
    assert not result.allowed and result.code == 403, result
    assert result.reason is not None
    return result.reason


def exports(mapping: dict[str, str]) -> str:
    return json.dumps(mapping, separators=(",", ":"))


def expected_file_env(pod: dict[str, Any], secret: Secret, *, path: str) -> list[dict[str, Any]]:
    """The env every container gets for ``secret`` at ``path``; for ENV_VAR, also the export on ``pod``."""
    env = list(PATH_ENV)
    if secret.mount_requirement is ENV:
        env += EXPORT_ENV
        relative = path.removeprefix("/etc/flyte/secrets/")
        names = {f"_FSEC_{secret.group}_{secret.key}".upper(): relative}
        if secret.env_var:
            names[secret.env_var] = relative
        pod["metadata"]["annotations"][EXPORT_ANNOTATION] = exports(names)
    elif secret.env_var:
        env.append({"name": secret.env_var, "value": path})
    return env


def expected_pull_pod(
    secret: Secret,
    *,
    manager: str,
    image: str,
    path: str,
    sidecar: dict[str, Any],
    write_dir: str = "/etc/flyte/secrets",
) -> dict[str, Any]:
    """``base_pod`` plus what a sidecar manager adds (compat.md section 4, our export for ENV_VAR).

    ``manager`` is the lower-case prefix (``aws``: ``aws-secret-vol``, ``aws-pull-secret-1``),
    ``sidecar`` the init container's own fields (its ``env`` goes before the path env vars) and
    ``write_dir`` where it mounts the volume.
    """
    pod = copy.deepcopy(base_pod([secret]))
    env = expected_file_env(pod, secret, path=path)
    volume = f"{manager}-secret-vol"
    mount = {"name": volume, "readOnly": True, "mountPath": "/etc/flyte/secrets"}
    pod["spec"]["volumes"] = [{"name": volume, "emptyDir": {"medium": "Memory"}}]
    pod["spec"]["initContainers"][0].update(env=env, volumeMounts=[mount])
    pod["spec"]["containers"][0].update(env=env, volumeMounts=[mount])
    pod["spec"]["initContainers"].append(
        {
            "name": f"{manager}-pull-secret-1",
            "image": image,
            **sidecar,
            "env": [*sidecar.get("env", []), *env],
            "volumeMounts": [{"name": volume, "mountPath": write_dir}],
            "resources": SIDECAR_RESOURCES,
        }
    )
    return pod


def with_annotations(pod: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
    out = copy.deepcopy(pod)
    out["metadata"]["annotations"].update(extra)
    return out
