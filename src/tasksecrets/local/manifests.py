"""Kubernetes Secret manifests in and out of the local store.

Reading: ``tasksecrets apply -f`` takes the same YAML or JSON a cluster takes (``kind: Secret``,
``data`` in base64 and/or ``stringData`` in plain text, several documents, ``kind: List``). Every
document is checked before anything is written; an error names the document and the field at
fault, never a value.

``data`` values may be line-wrapped, as GNU ``base64`` writes them: the API server's decoder skips
line breaks, and so does this one. Labels and annotations are kept, except kubectl's
``last-applied-configuration`` annotation, which holds every value in clear text and is dropped
(the store never keeps a value unencrypted).

Writing: ``tasksecrets get secrets -o yaml`` prints Secrets without their values unless asked. Such
a manifest carries the annotation ``tasksecrets/values: redacted`` (and the key names in
``tasksecrets/keys``), and ``apply`` refuses it, so a redacted listing can never wipe real values.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tasksecrets.errors import ManifestError, StoreNameError
from tasksecrets.local.kube_names import validate_data_key, validate_namespace, validate_secret_name
from tasksecrets.local.store import SecretInfo
from tasksecrets.managers.validity import label_value_problem, qualified_name_problem
from tasksecrets.yamltext import describe_yaml_error

__all__ = [
    "KEYS_ANNOTATION",
    "LAST_APPLIED_ANNOTATION",
    "REDACTED_ANNOTATION",
    "SecretManifest",
    "build_secret_list",
    "build_secret_manifest",
    "parse_secret_manifests",
]

REDACTED_ANNOTATION = "tasksecrets/values"
KEYS_ANNOTATION = "tasksecrets/keys"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
_SECRET_FIELDS = {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"}


@dataclass(frozen=True)
class SecretManifest:
    """One Secret read from a manifest, ready for the store. Its repr shows key names only."""

    namespace: str
    name: str
    type: str
    data: Mapping[str, bytes] = field(repr=False)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    type_given: bool = True  # False: the manifest had no ``type`` (Opaque for a new secret)
    dropped: tuple[str, ...] = ()  # annotations not kept (their names), for a warning

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(sorted(self.data))


def parse_secret_manifests(
    text: str, *, source: str, namespace: str | None = None, default_namespace: str = "default"
) -> list[SecretManifest]:
    """Parse every Secret in ``text`` (YAML or JSON, one or more documents).

    ``namespace`` is the command line's ``-n``: it fills in a missing ``metadata.namespace`` and
    must agree with a present one. Raises ManifestError naming ``source``, the document and field.
    """
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML or JSON {describe_yaml_error(exc)}") from None
    secrets: list[SecretManifest] = []
    for index, doc in enumerate(documents, start=1):
        where = f"{source}: document {index}"
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items = doc.get("items")
            if not isinstance(items, list):
                raise ManifestError(f"{where}: items: a List needs a list of Secrets under 'items'")
            for item_index, item in enumerate(items):
                item_where = f"{where}: items[{item_index}]"
                secrets.append(
                    _parse_secret(item, where=item_where, namespace=namespace, default=default_namespace)
                )
        else:
            secrets.append(_parse_secret(doc, where=where, namespace=namespace, default=default_namespace))
    if not secrets:
        raise ManifestError(f"{source}: no Secret in it; expected a manifest with 'kind: Secret'")
    seen: set[tuple[str, str]] = set()
    for secret in secrets:
        ident = (secret.namespace, secret.name)
        if ident in seen:
            raise ManifestError(
                f"{source}: secret {secret.name!r} in namespace {secret.namespace!r} appears twice; keep one"
            )
        seen.add(ident)
    return secrets


def build_secret_manifest(info: SecretInfo, data: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """The Kubernetes Secret for ``info``: with base64 ``data`` if given, else redacted (keys only)."""
    metadata: dict[str, Any] = {
        "name": info.name,
        "namespace": info.namespace,
        "creationTimestamp": info.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if info.labels:
        metadata["labels"] = dict(sorted(info.labels.items()))
    if info.annotations:
        metadata["annotations"] = dict(sorted(info.annotations.items()))
    manifest: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": info.type}
    if data is None:
        metadata["annotations"] = {
            **metadata.get("annotations", {}),
            REDACTED_ANNOTATION: "redacted",
            KEYS_ANNOTATION: ",".join(info.keys),
        }
    elif data:
        manifest["data"] = {key: base64.b64encode(data[key]).decode("ascii") for key in sorted(data)}
    return manifest


def build_secret_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``kind: List`` of Secret manifests, as ``kubectl get -o yaml`` prints several objects."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def _parse_secret(doc: object, *, where: str, namespace: str | None, default: str) -> SecretManifest:
    if not isinstance(doc, dict):
        raise ManifestError(f"{where}: expected a Kubernetes Secret (a mapping), got {_kind_of(doc)}")
    kind = doc.get("kind")
    if kind != "Secret":
        raise ManifestError(
            f"{where}: kind: {kind!r} is not supported; tasksecrets apply takes 'kind: Secret' manifests"
        )
    if doc.get("apiVersion") != "v1":
        raise ManifestError(f"{where}: apiVersion: must be 'v1' for a Secret, got {doc.get('apiVersion')!r}")
    unknown = sorted(str(k) for k in doc if k not in _SECRET_FIELDS)
    if unknown:
        raise ManifestError(
            f"{where}: {unknown[0]}: not a field of a Secret (fields: {', '.join(sorted(_SECRET_FIELDS))})"
        )
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        raise ManifestError(f"{where}: metadata: missing; a Secret needs metadata.name")
    name = _checked(validate_secret_name, metadata.get("name"), where=f"{where}: metadata.name")
    annotations = metadata.get("annotations") or {}
    if isinstance(annotations, dict) and annotations.get(REDACTED_ANNOTATION) == "redacted":
        raise ManifestError(
            f"{where}: metadata.annotations: this Secret was printed without its values "
            f"({REDACTED_ANNOTATION}: redacted); print it with 'tasksecrets get secrets -o yaml --reveal', "
            "or write the values under data/stringData and remove that annotation"
        )
    meta_ns = metadata.get("namespace")
    if meta_ns is not None:
        meta_ns = _checked(validate_namespace, meta_ns, where=f"{where}: metadata.namespace")
        if namespace is not None and namespace != meta_ns:
            raise ManifestError(
                f"{where}: metadata.namespace: {meta_ns!r} does not match the namespace {namespace!r} given "
                f"with -n; pass -n {meta_ns} or change metadata.namespace"
            )
    resolved = meta_ns or namespace or default
    labels = _string_map(metadata.get("labels"), where=f"{where}: metadata.labels", labels=True)
    annotations = _string_map(annotations, where=f"{where}: metadata.annotations", labels=False)
    dropped = tuple(k for k in annotations if k == LAST_APPLIED_ANNOTATION)
    annotations = {k: v for k, v in annotations.items() if k not in dropped}
    secret_type = doc.get("type") or "Opaque"
    if not isinstance(secret_type, str):
        raise ManifestError(f"{where}: type: must be a string such as 'Opaque'")
    data: dict[str, bytes] = {}
    for key, value in _mapping(doc.get("data"), where=f"{where}: data").items():
        if not isinstance(value, str):
            raise ManifestError(f"{where}: data.{key}: must be a base64 string, got {_kind_of(value)}")
        try:
            # Line breaks are skipped as the API server's decoder skips them (GNU base64 wraps at 76).
            data[key] = base64.b64decode(value.strip().replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError(
                f"{where}: data.{key}: not valid base64; encode the value with base64, or put it as plain "
                "text under stringData"
            ) from None
    for key, value in _mapping(doc.get("stringData"), where=f"{where}: stringData").items():
        if not isinstance(value, str):
            raise ManifestError(
                f"{where}: stringData.{key}: must be a string, got {_kind_of(value)}; quote the value"
            )
        data[key] = value.encode("utf-8")  # stringData wins over data, as on a cluster
    return SecretManifest(
        namespace=resolved,
        name=name,
        type=secret_type,
        data=data,
        labels=labels,
        annotations=annotations,
        type_given=bool(doc.get("type")),
        dropped=dropped,
    )


def _string_map(value: object, *, where: str, labels: bool) -> dict[str, str]:
    # The API server's rules, so that what applies here applies to a cluster too. Label values are
    # names and may be shown; annotation values may hold anything, so no message quotes one.
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: must be a mapping of key to string, got {_kind_of(value)}")
    result: dict[str, str] = {}
    for key, item in value.items():
        problem = qualified_name_problem(key) if isinstance(key, str) else "it is not a string"
        if problem:
            raise ManifestError(f"{where}: key {str(key)[:80]!r} is not valid: {problem}")
        if not isinstance(item, str):
            raise ManifestError(f"{where}.{key}: must be a string, got {_kind_of(item)}; quote the value")
        if labels and (problem := label_value_problem(item)):
            raise ManifestError(f"{where}.{key}: the value is not valid: {problem}")
        result[key] = item
    return result


def _mapping(value: object, *, where: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: must be a mapping of key to value, got {_kind_of(value)}")
    for key in value:
        _checked(validate_data_key, key, where=f"{where}.{key}")
    return value


def _checked(validate: Any, value: object, *, where: str) -> str:
    try:
        result: str = validate(value)
    except StoreNameError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    return result


def _kind_of(value: object) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing", bool: "a boolean"}
    kinds.update({int: "a number", float: "a number"})
    return kinds.get(type(value), f"a {type(value).__name__}")
