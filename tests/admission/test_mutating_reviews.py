"""AdmissionReview decoding through handle_review: v1 and v1beta1, 25+ malformed inputs, hypothesis."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8svalidate import assert_valid_manifest
from managers.conformance import make_pod
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.admission.reviews import handle_review, review
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import b32_encode, encode_secret

CONFIG = parse_config({})


def make_review(
    obj: Any = None, *, version: str = "v1", uid: Any = "uid-123", **request: Any
) -> dict[str, Any]:
    req: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE",
        "object": make_pod([Secret(group="user-info", key="user_secret")]) if obj is None else obj,
        **request,
    }
    if uid is None:
        del req["uid"]
    return {"apiVersion": f"admission.k8s.io/{version}", "kind": "AdmissionReview", "request": req}


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_answered_in_kind_with_uid_and_a_patch_that_applies(version: str) -> None:
    body = make_review(version=version)
    status, answer = handle_review(json.dumps(body).encode(), CONFIG)
    assert status == 200
    assert answer["apiVersion"] == f"admission.k8s.io/{version}" and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert (
        response["uid"] == "uid-123" and response["allowed"] is True and response["patchType"] == "JSONPatch"
    )
    patch = json.loads(base64.b64decode(response["patch"]))
    pod = body["request"]["object"]
    mutated = jsonpatch.apply_patch(copy.deepcopy(pod), patch)
    assert_valid_manifest(mutated)
    assert mutated == Mutator(CONFIG).mutate(pod).pod


def test_nothing_to_do_is_allowed_without_patch() -> None:
    status, answer = handle_review(make_review(make_pod([])), CONFIG)
    assert status == 200 and answer["response"] == {"uid": "uid-123", "allowed": True}


def test_global_secrets_and_mutator_reuse() -> None:
    source = GlobalSecretSource(environ={"FLYTE_SECRET_USER-INFO_USER_SECRET": "fake-v"})
    status, answer = handle_review(make_review(), CONFIG, source)
    patch = json.loads(base64.b64decode(answer["response"]["patch"]))
    assert any(
        op["value"]
        == [
            {"name": "FLYTE_SECRETS_ENV_PREFIX", "value": "_FSEC_"},
            {"name": "_FSEC_USER-INFO_USER_SECRET", "value": "fake-v"},
        ]
        for op in patch
    )
    mutator = Mutator(CONFIG, global_secrets=source)
    assert handle_review(make_review(), mutator) == (status, answer)


def _raw(text: str) -> bytes:
    return text.encode()


def _bad_annotation(value: str) -> dict[str, Any]:
    pod = make_pod([])
    pod["metadata"]["annotations"] = {"flyte.secrets/s0": value}
    return make_review(pod)


BAD_REQUESTS = {
    "empty body": b"",
    "whitespace body": b"  \n ",
    "not JSON": b"hello",
    "truncated JSON": b'{"apiVersion": "admission.k8s.io/v1", ',
    "JSON array": b"[]",
    "JSON string": b'"AdmissionReview"',
    "JSON number": b"42",
    "JSON null": b"null",
    "NaN constant": b'{"a": NaN}',
    "invalid UTF-8": b'{"apiVersion": "\xff\xfe"}',
    "UTF-16 body": json.dumps(make_review()).encode("utf-16"),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep nesting in object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge integer": b'{"a": ' + b"9" * 5000 + b"}",
    "missing apiVersion": json.dumps({"kind": "AdmissionReview", "request": {"uid": "u"}}).encode(),
    "unknown apiVersion": json.dumps({**make_review(), "apiVersion": "admission.k8s.io/v2"}).encode(),
    "wrong kind": json.dumps({**make_review(), "kind": "Pod"}).encode(),
    "missing request": json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
    "request not an object": json.dumps({**make_review(), "request": "x"}).encode(),
    "missing uid": json.dumps(make_review(uid=None)).encode(),
    "empty uid": json.dumps(make_review(uid="")).encode(),
    "numeric uid": json.dumps(make_review(uid=7)).encode(),
    "lone surrogate uid": (
        b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"\\ud800"}}'
    ),
}

DENIED = {
    "object missing": (make_review(object=None), 400, "no object"),
    "object not a dict": (make_review(object=[1, 2]), 400, "no object"),
    "object a Deployment": (
        make_review({"apiVersion": "apps/v1", "kind": "Deployment"}),
        400,
        "not a v1 Pod",
    ),
    "request kind not Pod": (
        make_review(kind={"group": "", "version": "v1", "kind": "Service"}),
        400,
        "not a Pod",
    ),
    "resource not pods": (make_review(resource={"resource": "secrets"}), 400, "not pods"),
    "broken base32": (_bad_annotation("M4ZG!"), 400, "base32"),
    "base32 padding": (_bad_annotation("m4zg===="), 400, "base32"),
    "unknown text field": (
        _bad_annotation(b32_encode(b'group: "g" colour: "red"')),
        400,
        "unknown field name",
    ),
    "repeated field": (_bad_annotation(b32_encode(b'key: "a" key: "b"')), 400, "repeated"),
    "non-UTF-8 string": (_bad_annotation(b32_encode(b'group: "\\377"')), 400, "UTF-8"),
    "annotation not a string": (_bad_annotation(5), 400, "must be a string"),  # type: ignore[arg-type]
    "containers not a list": (
        make_review(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"annotations": {"flyte.secrets/s0": encode_secret(Secret(group="g", key="k"))}},
                "spec": {"containers": {}},
            }
        ),
        400,
        "spec.containers must be a list",
    ),
    "empty group": (make_review(make_pod([Secret.from_wire(key="k")])), 403, "needs both group and key"),
}


def test_there_are_at_least_25_malformed_inputs() -> None:
    assert len(BAD_REQUESTS) + len(DENIED) >= 25


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_requests_get_400(name: str) -> None:
    status, answer = handle_review(BAD_REQUESTS[name], CONFIG)
    assert status == 400, answer
    assert set(answer) == {"error"} and answer["error"]


@pytest.mark.parametrize("name", sorted(DENIED))
def test_unusable_objects_are_denied_with_reason(name: str) -> None:
    body, code, message = DENIED[name]
    for payload in (body, json.dumps(body).encode()):
        status, answer = handle_review(payload, CONFIG)
        assert status == 200
        response = answer["response"]
        assert response["uid"] == "uid-123" and response["allowed"] is False
        assert response["status"]["code"] == code and message in response["status"]["message"]


def test_outcomes_for_metrics() -> None:
    assert review(b"", CONFIG).outcome == "invalid"
    assert review(make_review(), CONFIG).outcome == "admitted"
    assert review(DENIED["empty group"][0], CONFIG).outcome == "denied"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_gets_an_answer(body: bytes) -> None:
    status, answer = handle_review(body, CONFIG)
    assert status in (200, 400) and isinstance(answer, dict)
    json.dumps(answer)


@settings(max_examples=200, deadline=None)
@given(
    obj=json_values,
    annotations=st.dictionaries(
        st.sampled_from(["flyte.secrets/s0", "flyte.secrets/s1", "flyte.secrets/sx", "other"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz123456=!", max_size=40),
        max_size=3,
    ),
    spec=json_values,
)
def test_any_review_shape_gets_an_answer(obj: Any, annotations: dict[str, str], spec: Any) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": annotations}, "spec": spec}
    for candidate in (obj, pod):
        status, answer = handle_review(make_review(candidate), CONFIG)
        assert status == 200 and answer["response"]["uid"] == "uid-123"
        if not answer["response"]["allowed"]:
            assert answer["response"]["status"]["code"] in (400, 403)
