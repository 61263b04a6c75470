"""The namespace a review names is the pod's for the managers, and the memo keeps namespaces apart.

A pod created through a Deployment carries no namespace of its own; the AdmissionReview's
``request.namespace`` is the one it is created in. The view holds it, so an answer that depends on
it (Global's access policy; here a stand-in injector that mounts a directory named after it) is
remembered per namespace and never served to a pod of another.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import pytest

from managers.conformance import make_review_body
from tasksecrets.admission import reviews
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.jsoncodec import exact_key
from tasksecrets.admission.mutator import Mutator
from tasksecrets.admission.reviews import review
from tasksecrets.managers import podview
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.k8s.injector import K8sInjector
from tasksecrets.managers.plugin import SharedSettings
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import encode_pod_metadata


class ByNamespace(K8sInjector):
    """A stand-in for a manager whose edits depend on the namespace: K8s plus a mount named after it."""

    name: ClassVar[str] = "ByNamespace"

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        editor.add_volume({"name": "by-ns", "emptyDir": {}})  # a mount of a missing volume is denied
        editor.add_volume_mount({"name": "by-ns", "mountPath": f"/ns/{editor.namespace or 'none'}"})
        return super().inject(secret, editor)


def _body(namespace: str | None, uid: str, *, pod_namespace: str | None = None) -> bytes:
    _, annotations = encode_pod_metadata([Secret(group="g", key="k")])
    metadata: dict[str, Any] = {"generateName": "task-", "annotations": annotations}
    if pod_namespace is not None:
        metadata["namespace"] = pod_namespace
    pod = {"metadata": metadata, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    return make_review_body(pod, uid=uid, namespace=namespace)


def _mounts(outcome: reviews.ReviewOutcome) -> list[str]:
    text = base64.b64decode(outcome.body["response"]["patch"]).decode()
    return sorted({part.split('"')[0] for part in text.split('"mountPath":"/ns/')[1:]})


def _mutator() -> Mutator:
    mutator = Mutator(parse_config({}), injectors=[ByNamespace.from_config(None, shared=SharedSettings())])
    assert mutator.answers is not None
    return mutator


NAMESPACES = ["team-a", "team-b", "team-a", "team-b", "prod"]


def test_each_namespace_gets_its_own_answer_with_the_memo_on() -> None:
    mutator = _mutator()
    for n, namespace in enumerate(NAMESPACES):
        assert _mounts(review(_body(namespace, f"u{n}"), mutator)) == [namespace]
    assert len(mutator.answers or ()) == 3  # one answer per namespace, each served again


def test_the_reviews_namespace_wins_over_the_pods_own() -> None:
    mutator = _mutator()
    assert _mounts(review(_body("prod", "u1", pod_namespace="team-a"), mutator)) == ["prod"]
    assert _mounts(review(_body(None, "u2", pod_namespace="team-a"), mutator)) == ["team-a"]
    assert _mounts(review(_body("", "u3", pod_namespace="team-a"), mutator)) == ["team-a"]


def test_the_check_fails_for_a_memo_key_without_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken fast path on purpose: keyed without the namespace, a pod gets another's answer."""

    def key_without_namespace(data: Any) -> bytes | str:
        metadata = {k: v for k, v in (data.get("metadata") or {}).items() if k != "namespace"}
        return exact_key({**data, "metadata": metadata})

    monkeypatch.setattr(reviews, "exact_key", key_without_namespace)
    mutator = _mutator()
    answers = [_mounts(review(_body(namespace, f"u{n}"), mutator)) for n, namespace in enumerate(NAMESPACES)]
    assert answers != [[namespace] for namespace in NAMESPACES]


def test_the_check_fails_for_a_view_that_ignores_the_reviews_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(podview, "_in_namespace", lambda kept, namespace: kept)
    mutator = _mutator()
    answers = [_mounts(review(_body(namespace, f"u{n}"), mutator)) for n, namespace in enumerate(NAMESPACES)]
    assert answers != [[namespace] for namespace in NAMESPACES]
