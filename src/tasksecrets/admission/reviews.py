"""AdmissionReview in, AdmissionReview out: the decoding half of the webhook (docs/compat.md section 5).

The HTTPS server owns transport (content type, body size); this module owns everything after the
body arrived, and both the server and ``tasksecrets webhook mutate`` call it, so they answer alike.
Two kinds of failure are kept apart, as Kubernetes does:

- a request that is not a usable AdmissionReview (not UTF-8, not JSON, nested too deep, a JSON
  array, no ``request``, no ``uid``, an unknown apiVersion): HTTP 400 and ``{"error": message}``;
- a well-formed review whose object cannot be admitted (not a pod, undecodable annotations, a
  secret that cannot be injected): HTTP 200 and ``allowed: false`` with a status code and message.

Answers are in the request's own version (``admission.k8s.io/v1`` or ``v1beta1``) with its ``uid``.
Nothing here raises on any input. JSON is read and written by :mod:`tasksecrets.admission.jsoncodec`.

An answer is remembered for the pod's view (:mod:`tasksecrets.admission.memo`) when the mutator's
chain allows it: the pods of one task then cost a view and a lookup.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from tasksecrets.admission.config import Config
from tasksecrets.admission.jsoncodec import BadRequest, dump_patch, exact_key, load_body
from tasksecrets.admission.memo import Remembered
from tasksecrets.admission.mutator import INVALID_CODE, MutationResult, Mutator
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.podview import PodView
from tasksecrets.sdk.masking import SECURE

__all__ = ["REVIEW_VERSIONS", "ReviewOutcome", "handle_review", "review", "review_body", "review_request"]

REVIEW_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")


def review_request(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The AdmissionReview the API server sends the webhook when ``pod`` is created (v1).

    The same pod gives the same review: its ``uid`` is derived from the pod, not random, so that a
    review written for ``curl`` can be compared with the one written before.
    """
    found = pod.get("metadata")
    metadata: Mapping[str, Any] = found if isinstance(found, dict) else {}
    pod_kind = {"group": "", "version": "v1", "kind": "Pod"}
    pod_resource = {"group": "", "version": "v1", "resource": "pods"}
    digest = json.dumps(pod, sort_keys=True, default=str)
    request: dict[str, Any] = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, "tasksecrets-review:" + digest)),
        "kind": pod_kind,
        "resource": pod_resource,
        "requestKind": pod_kind,
        "requestResource": pod_resource,
        "namespace": metadata.get("namespace") or "default",
        "operation": "CREATE",
        "userInfo": {"username": "tasksecrets-webhook-mutate"},
        "object": dict(pod),
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    if metadata.get("name"):
        request["name"] = metadata["name"]
    return {"apiVersion": REVIEW_VERSIONS[0], "kind": "AdmissionReview", "request": request}


class ReviewOutcome(NamedTuple):
    """The HTTP answer plus what the server counts: ``outcome`` is admitted, denied or invalid.

    ``managers`` names the manager of each secret injected (for the metrics). ``result`` is the
    mutation's result when the pod was mutated for this answer; None when the request was not
    usable, and when the answer was remembered for the pod's view: mutate the pod to see the
    mutated pod then.
    """

    status: int
    body: dict[str, Any]
    outcome: str
    result: MutationResult | None = None
    managers: Sequence[str] = ()

    def __repr__(self) -> str:
        # The body's patch (base64) may carry values Global injected.
        return (
            f"ReviewOutcome(status={self.status}, body={SECURE}, outcome={self.outcome!r}, "
            f"result={self.result!r}, managers={list(self.managers)!r})"
        )


def _is_text(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style escapes
        return False
    return True


def _quoted(value: object) -> str:
    # A field of the request, quoted in a denial: any JSON value, so at most 60 characters of it (a
    # deeply nested one cannot be written out at all).
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _not_a_pod(request: Mapping[str, Any]) -> str | None:
    kind = request.get("kind")
    if isinstance(kind, dict) and kind.get("kind", "Pod") != "Pod":
        return f"the object is a {_quoted(kind.get('kind'))}, not a Pod"
    resource = request.get("resource")
    if isinstance(resource, dict) and resource.get("resource", "pods") != "pods":
        return f"the resource is {_quoted(resource.get('resource'))}, not pods"
    obj = request.get("object")
    if not isinstance(obj, dict):
        return "the request carries no object (a Pod) to mutate"
    if obj.get("kind", "Pod") != "Pod" or obj.get("apiVersion", "v1") != "v1":
        return f"the object is {_quoted(obj.get('apiVersion'))} {_quoted(obj.get('kind'))}, not a v1 Pod"
    return None


def review_body(
    api_version: str, uid: str, result: MutationResult | None, *, message: str = ""
) -> dict[str, Any]:
    """The AdmissionReview answer for ``uid``: ``result`` None means "not a pod" (code 400)."""
    response: dict[str, Any] = {"uid": uid}
    if result is None:
        response["allowed"] = False
        response["status"] = {"code": INVALID_CODE, "message": message}
    elif not result.allowed:
        response["allowed"] = False
        response["status"] = {"code": result.code, "message": result.reason}
    else:
        response["allowed"] = True
        if result.patch:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(dump_patch(result.patch)).decode("ascii")
        if result.warnings:
            response["warnings"] = list(result.warnings)
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}


def handle_review(
    body: bytes | str | Mapping[str, Any],
    config: Config | Mutator,
    global_secrets: GlobalSecretSource | None = None,
) -> tuple[int, dict[str, Any]]:
    """Answer one AdmissionReview: ``(http_status, response_json)``; see the module docstring.

    Pass a prepared :class:`Mutator` as ``config`` to reuse its injector chain (the server does);
    with a :class:`Config`, ``global_secrets`` is what Global may inject (None: nothing).
    """
    outcome = review(body, config, global_secrets)
    return outcome.status, outcome.body


def _read_request(body: bytes | str | Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    data = load_body(body)
    if not isinstance(data, dict):
        raise BadRequest(
            f"the request body must be a JSON object (an AdmissionReview), not a {type(data).__name__}"
        )
    api_version = data.get("apiVersion")
    if api_version not in REVIEW_VERSIONS:
        raise BadRequest(
            f"apiVersion must be one of {', '.join(REVIEW_VERSIONS)}, got {_quoted(api_version)}"
        )
    if data.get("kind") != "AdmissionReview":
        raise BadRequest(f"kind must be 'AdmissionReview', got {_quoted(data.get('kind'))}")
    request = data.get("request")
    if not isinstance(request, dict):
        raise BadRequest("the AdmissionReview has no request object")
    uid = request.get("uid")
    if not _is_text(uid):
        raise BadRequest("the AdmissionReview request has no uid (a non-empty string)")
    assert isinstance(api_version, str) and isinstance(uid, str)
    return api_version, uid, request


def review(
    body: bytes | str | Mapping[str, Any],
    config: Config | Mutator,
    global_secrets: GlobalSecretSource | None = None,
) -> ReviewOutcome:
    """Like :func:`handle_review`, with the outcome and the mutation result for metrics."""
    try:
        api_version, uid, request = _read_request(body)
    except BadRequest as exc:
        return ReviewOutcome(400, {"error": str(exc)}, "invalid")
    problem = _not_a_pod(request)
    if problem is not None:
        return ReviewOutcome(200, review_body(api_version, uid, None, message=problem), "denied")
    mutator = config if isinstance(config, Mutator) else Mutator(config, global_secrets=global_secrets)
    # Only a body decoded here holds nothing but JSON's types, which the view's key tells apart.
    memo = mutator.answers if isinstance(body, bytes) else None
    pod = request["object"]
    key = None  # a pod nested too deeply fails before its key is made
    try:
        view = PodView.of(pod, namespace=request.get("namespace"))
        key = exact_key(view.data) if memo is not None else None
        hit = memo.get(key) if memo is not None and key is not None else None
        if hit is not None:
            return _remembered(api_version, uid, hit)
        result = mutator.mutate_view(view, pod)
    except RecursionError:
        result = MutationResult(False, [], {}, reason="the pod is nested too deeply", code=INVALID_CODE)
    answer = review_body(api_version, uid, result)
    managers = [manager for _, manager in result.injections]
    if memo is not None and key is not None and mutator.may_remember(result):
        response = {k: v for k, v in answer["response"].items() if k != "uid"}
        memo.put(key, (response, managers), size=len(response.get("patch", "")))
    return ReviewOutcome(200, answer, "admitted" if result.allowed else "denied", result, managers)


def _remembered(api_version: str, uid: str, entry: Remembered) -> ReviewOutcome:
    # The answer remembered for this pod's view: what mutating and encoding would give.
    response, managers = entry
    answer = {"apiVersion": api_version, "kind": "AdmissionReview", "response": {"uid": uid, **response}}
    return ReviewOutcome(200, answer, "admitted", None, managers)
