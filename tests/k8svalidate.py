"""Strict, offline validation of the Kubernetes manifests tests produce (pods, patches' results, Secrets).

Every manifest a test emits goes through :func:`assert_valid_manifest`, against the newest Kubernetes
version kubernetes-validate ships, in strict mode (unknown fields are errors). A schema says nothing
of names, lengths and uniqueness, so :func:`api_server_problems` adds the API server's rules for
pods (``pkg/apis/core/validation``), written here from those rules, independently of the product's
checker (src/tasksecrets/managers/validity.py); :func:`assert_api_server_accepts` runs both.
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import latest_version

__all__ = ["KUBERNETES_VERSION", "api_server_problems", "assert_api_server_accepts", "assert_valid_manifest"]

KUBERNETES_VERSION: str = latest_version()


def assert_valid_manifest(obj: dict[str, Any]) -> None:
    """Fail the test with a short message if ``obj`` is not a valid manifest of its kind."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(part) for part in exc.path)
        raise AssertionError(
            f"invalid {obj.get('kind')} manifest for Kubernetes {KUBERNETES_VERSION} "
            f"at /{path}: {exc.message}"
        ) from None


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_ANNOTATION_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_ANNOTATIONS_MAX_BYTES = 256 * 1024


def _label(text: object) -> bool:
    return isinstance(text, str) and _DNS_LABEL.fullmatch(text) is not None


def _no_dot_dot_start(text: str) -> bool:
    return text not in (".", "..") and not text.startswith("..")


def _container_problems(where: str, container: dict[str, Any], volumes: set[str]) -> list[str]:
    problems = []
    for env in container.get("env") or []:
        name = env.get("name", "")
        if not (_ENV_NAME.fullmatch(name) and _no_dot_dot_start(name)):
            problems.append(f"{where}: env name {name!r}")
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref is not None:
            if not (len(ref.get("name", "")) <= 253 and _DNS_SUBDOMAIN.fullmatch(ref.get("name", ""))):
                problems.append(f"{where}: secretKeyRef name {ref.get('name')!r}")
            if not (_KEY.fullmatch(ref.get("key", "")) and _no_dot_dot_start(ref["key"])):
                problems.append(f"{where}: secretKeyRef key {ref.get('key')!r}")
    paths: list[str] = []
    for mount in container.get("volumeMounts") or []:
        if mount.get("name") not in volumes:
            problems.append(f"{where}: mounts missing volume {mount.get('name')!r}")
        paths.append(mount.get("mountPath", ""))
    if len(paths) != len(set(paths)):
        problems.append(f"{where}: duplicate mountPath in {paths!r}")
    return problems


def _volume_problems(volume: dict[str, Any]) -> list[str]:
    name = volume.get("name")
    problems = [] if _label(name) else [f"volume name {name!r} ({len(str(name))} chars)"]
    for item in (volume.get("secret") or {}).get("items") or []:
        key, path = item.get("key", ""), item.get("path", "")
        if not (_KEY.fullmatch(key) and _no_dot_dot_start(key)):
            problems.append(f"volume {name!r}: item key {key!r}")
        if not path or path.startswith("/") or ".." in path.split("/") or path.startswith(".."):
            problems.append(f"volume {name!r}: item path {path!r}")
    return problems


def _annotation_problems(annotations: dict[str, Any]) -> list[str]:
    problems = []
    for key in annotations:
        prefix, slash, name = key.rpartition("/")
        bad_prefix = slash and not (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix))
        if bad_prefix or not _ANNOTATION_NAME.fullmatch(name):
            problems.append(f"annotation key {key!r}")
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > _ANNOTATIONS_MAX_BYTES:
        problems.append("annotations over 256 KiB")
    return problems


def api_server_problems(pod: dict[str, Any]) -> list[str]:
    """What the API server's name, length and uniqueness rules find wrong in ``pod`` (empty: nothing)."""
    spec = pod.get("spec") or {}
    volume_list = spec.get("volumes") or []
    problems = [p for volume in volume_list for p in _volume_problems(volume)]
    volumes = [v.get("name") for v in volume_list]
    if len(volumes) != len(set(volumes)):
        problems.append(f"duplicate volume names in {volumes!r}")
    names = []
    for kind in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(kind) or []):
            name = container.get("name")
            names.append(name)
            if not _label(name):
                problems.append(f"{kind}[{index}] name {name!r}")
            problems += _container_problems(f"{kind}[{index}] {name!r}", container, set(volumes))
    if len(names) != len(set(names)):
        problems.append(f"duplicate container names in {names!r}")
    return problems + _annotation_problems((pod.get("metadata") or {}).get("annotations") or {})


def assert_api_server_accepts(pod: dict[str, Any]) -> None:
    """The schema (:func:`assert_valid_manifest`) and the API server's rules (:func:`api_server_problems`)."""
    assert_valid_manifest(pod)
    problems = api_server_problems(pod)
    assert problems == [], f"the API server would reject the pod: {problems}"
