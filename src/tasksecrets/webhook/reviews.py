"""AdmissionReview in, AdmissionReview out: the decoding half of the webhook (compat.md section 5).

The HTTPS server owns transport (content type, body size); this module owns everything after the
body arrived, and both the server and ``tasksecrets webhook mutate`` call it, so they answer alike.
Two kinds of failure are kept apart, as Kubernetes does:

- a request that is not a usable AdmissionReview (not UTF-8, not JSON, nested too deep, a JSON
  array, no ``request``, no ``uid``, an unknown apiVersion): HTTP 400 and ``{"error": message}``;
- a well-formed review whose object cannot be admitted (not a pod, undecodable annotations, a
  secret that cannot be injected): HTTP 200 and ``allowed: false`` with a status code and message.

Answers are in the request's own version (``admission.k8s.io/v1`` or ``v1beta1``) with its ``uid``.
Nothing here raises on any input.

JSON goes through orjson when it is installed (the webhook extra), several times faster than the
standard library, with the standard library as the reference: whenever orjson refuses a body (bad
UTF-8, lone surrogates, nesting beyond its limit, ...) or could read it differently (integers too
long for 64 bits, which it turns into floats), the body is parsed again by the standard library, so
results and error messages are exactly the standard library's.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from tasksecrets.injectors.global_ import GlobalSecretSource
from tasksecrets.webhook.config import Config
from tasksecrets.webhook.mutating import INVALID_CODE, MutationResult, Mutator
from tasksecrets.webhook.shapes import shape_key

__all__ = ["REVIEW_VERSIONS", "ReviewOutcome", "encode_json", "handle_review", "parse_body", "review_body"]

REVIEW_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")


class ReviewOutcome(NamedTuple):
    """The HTTP answer plus what the server counts: ``outcome`` is admitted, denied or invalid.

    ``managers`` names the manager of each secret injected (for the metrics). ``encoded`` is the
    body already encoded as the server encodes it, when the review had it at hand. ``result`` is the
    mutation's result when the pod was mutated for this answer; None when the request was not
    usable, and when the answer was remembered for the pod's shape (see
    :mod:`tasksecrets.webhook.shapes`): mutate the pod to see the mutated pod then.
    """

    status: int
    body: dict[str, Any]
    outcome: str
    result: MutationResult | None = None
    managers: Sequence[str] = ()
    encoded: bytes | None = None


class _BadRequest(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# orjson reads integers beyond 64 bits as floats where the standard library keeps them exact: a body
# with 19 or more digits in a row (anywhere, strings included) is left to the standard library.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_NUMBER = b"0" * 19
# orjson writes floats below 1e-4 unlike the standard library (``1e-7``, ``0.00001``, not ``1e-07``,
# ``1e-05``); an output that may hold one is written again by the standard library.
_SHORT_EXPONENT = re.compile(rb"e-[5-9](?![0-9])")
_SMALL_DECIMAL = re.compile(rb"0\.0000")

_fast_loads: Callable[[bytes], Any] | None
_fast_dumps: Callable[[Any], bytes] | None
_plain_dumps: Callable[[Any], bytes] | None
try:
    import orjson

    _fast_loads = orjson.loads
    _ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME

    def _orjson_dumps(obj: Any) -> bytes:
        return orjson.dumps(obj, option=_ORJSON_OPTIONS)

    _fast_dumps = _orjson_dumps
    _plain_dumps = orjson.dumps  # orjson encodes an answer about ten times faster
except ImportError:  # pragma: no cover - orjson is in the webhook extra
    _fast_loads = _fast_dumps = _plain_dumps = None


def _encode_json_std(obj: Any) -> bytes:
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate echoed from the request: escape everything instead
        return json.dumps(obj, separators=(",", ":")).encode("ascii")


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON, how the server writes every answer; lone surrogates are escaped, never an error."""
    if _plain_dumps is not None:
        try:
            return _plain_dumps(obj)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate; the standard library escapes it
            pass
    return _encode_json_std(obj)


def _load(body: bytes | str | Mapping[str, Any]) -> Any:
    # Bytes first: what the server always passes (an ABC check for Mapping costs more than a parse step).
    if type(body) is not bytes and isinstance(body, Mapping):
        return body
    if (
        _fast_loads is not None
        and type(body) is bytes
        and _LONG_NUMBER not in body.translate(_DIGITS_AS_ZERO)
    ):
        try:
            return _fast_loads(body)
        except ValueError:  # orjson.JSONDecodeError: let the standard library say what is wrong
            pass
    return _load_std(body)


def parse_body(body: bytes) -> Any:
    """The JSON of a request body, as the review reads it; ValueError saying what is wrong."""
    return _load(body)


def _load_std(body: bytes | str | Mapping[str, Any]) -> Any:
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _BadRequest(f"the request body is not UTF-8 (byte {exc.start})") from None
    elif isinstance(body, str):
        text = body
    else:
        raise _BadRequest(f"the request body must be bytes or text, got {type(body).__name__}")
    if not text.strip():
        raise _BadRequest("the request body is empty: send an AdmissionReview as JSON")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise _BadRequest("the request body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers too long to convert
        raise _BadRequest(f"the request body is not valid JSON: {exc}") from None


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


def _not_a_pod(request: Mapping[str, Any]) -> str | None:
    kind = request.get("kind")
    if isinstance(kind, dict) and kind.get("kind", "Pod") != "Pod":
        return f"the object is a {kind.get('kind')!r}, not a Pod"
    resource = request.get("resource")
    if isinstance(resource, dict) and resource.get("resource", "pods") != "pods":
        return f"the resource is {resource.get('resource')!r}, not pods"
    obj = request.get("object")
    if not isinstance(obj, dict):
        return "the request carries no object (a Pod) to mutate"
    if obj.get("kind", "Pod") != "Pod" or obj.get("apiVersion", "v1") != "v1":
        return f"the object is {obj.get('apiVersion')!r} {obj.get('kind')!r}, not a v1 Pod"
    return None


def review_body(
    api_version: str,
    uid: str,
    result: MutationResult | None,
    *,
    message: str = "",
    patch_is_text_only: bool = False,
) -> dict[str, Any]:
    """The AdmissionReview answer for ``uid``: ``result`` None means "not a pod" (code 400).

    ``patch_is_text_only`` (see :attr:`Mutator.patch_is_text_only`) skips looking for floats in the
    written patch, as none can be there.
    """
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
            patch = _dump_patch(result.patch, patch_is_text_only)
            response["patch"] = base64.b64encode(patch).decode("ascii")
        if result.warnings:
            response["warnings"] = list(result.warnings)
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}


def _dump_patch(patch: list[dict[str, Any]], text_only: bool = False) -> bytes:
    """Compact UTF-8 JSON, byte for byte what ``json.dumps(..., ensure_ascii=False)`` writes."""
    if _fast_dumps is not None:
        try:
            data = _fast_dumps(patch)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a huge integer, ...
            pass
        else:
            if text_only or not _may_hold_small_float(data):
                return data
    return json.dumps(patch, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _may_hold_small_float(data: bytes) -> bool:
    # Strings may match too (then the standard library writes the patch again, just slower).
    for match in _SHORT_EXPONENT.finditer(data):
        if data[match.start() - 1 : match.start()].isdigit():
            return True
    return _SMALL_DECIMAL.search(data) is not None


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


def review(
    body: bytes | str | Mapping[str, Any],
    config: Config | Mutator,
    global_secrets: GlobalSecretSource | None = None,
) -> ReviewOutcome:
    """Like :func:`handle_review`, with the outcome and the mutation result for metrics."""
    try:
        data = _load(body)
        if not isinstance(data, dict):
            raise _BadRequest(
                f"the request body must be a JSON object (an AdmissionReview), not a {type(data).__name__}"
            )
        api_version = data.get("apiVersion")
        if api_version not in REVIEW_VERSIONS:
            raise _BadRequest(f"apiVersion must be one of {', '.join(REVIEW_VERSIONS)}, got {api_version!r}")
        if data.get("kind") != "AdmissionReview":
            raise _BadRequest(f"kind must be 'AdmissionReview', got {data.get('kind')!r}")
        request = data.get("request")
        if not isinstance(request, dict):
            raise _BadRequest("the AdmissionReview has no request object")
        uid = request.get("uid")
        if not _is_text(uid):
            raise _BadRequest("the AdmissionReview request has no uid (a non-empty string)")
    except _BadRequest as exc:
        return ReviewOutcome(400, {"error": str(exc)}, "invalid")
    assert isinstance(api_version, str) and isinstance(uid, str)

    problem = _not_a_pod(request)
    if problem is not None:
        return ReviewOutcome(200, review_body(api_version, uid, None, message=problem), "denied")
    mutator = config if isinstance(config, Mutator) else Mutator(config, global_secrets=global_secrets)
    pod = request["object"]
    memo, key = mutator.answers_by_shape, None
    try:
        if memo is not None:
            key = shape_key(pod)
            if key is not None:
                hit = memo.get(key)
                if hit is not None:
                    return _remembered(api_version, uid, hit)
        result = mutator.mutate(pod)
    except RecursionError:
        result = MutationResult(False, [], {}, reason="the pod is nested too deeply", code=INVALID_CODE)
    outcome = "admitted" if result.allowed else "denied"
    answer = review_body(api_version, uid, result, patch_is_text_only=mutator.patch_is_text_only)
    # Kept only when Global injected nothing: an answer with a value is never remembered.
    managers = [manager for _, manager in result.injections]
    keep = result.allowed and not result.warnings and "Global" not in managers
    if memo is not None and key is not None and keep:
        response = dict(answer["response"])
        del response["uid"]
        memo.put(key, (response, managers, {}), size=3 * len(response.get("patch", "")))
    return ReviewOutcome(200, answer, outcome, result, managers)


Remembered = tuple[dict[str, Any], list[str], dict[str, tuple[bytes, bytes] | None]]


def _remembered(api_version: str, uid: str, entry: Remembered) -> ReviewOutcome:
    # The answer remembered for this pod's shape: what mutating and encoding would give (see shapes).
    # Its encoding too: the bytes before and after the uid, per apiVersion, made on first use.
    response, managers, templates = entry
    if api_version in templates:
        template = templates[api_version]
    else:
        template = templates[api_version] = _encoded_around_uid(api_version, response)
    answer = {"apiVersion": api_version, "kind": "AdmissionReview", "response": {"uid": uid, **response}}
    encoded = None if template is None else template[0] + encode_json(uid) + template[1]
    return ReviewOutcome(200, answer, "admitted", None, managers, encoded)


# Stands for the uid while the answer around it is encoded: '@' is in neither base64 nor the fixed
# keys and values of an answer, so it is found once (else the answer is encoded whole each time).
_UID_MARK = "@tasksecrets-uid@"


def _encoded_around_uid(api_version: str, response: dict[str, Any]) -> tuple[bytes, bytes] | None:
    mark = encode_json(_UID_MARK)
    body = {"apiVersion": api_version, "kind": "AdmissionReview", "response": {"uid": _UID_MARK, **response}}
    parts = encode_json(body).split(mark)
    return (parts[0], parts[1]) if len(parts) == 2 else None
