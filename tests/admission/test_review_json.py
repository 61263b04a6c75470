"""The review's JSON fast path (orjson) against the standard library it must match byte for byte.

Reading: every body gives what ``json.loads`` gives, or the same error message. Writing: the
patch is exactly ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)`` in UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasksecrets.admission import jsoncodec, reviews
from tasksecrets.admission.jsoncodec import _load_std, dump_patch, load_body, parse_body


def outcome(func: Any, body: Any) -> tuple[str, Any]:
    try:
        return ("ok", func(body))
    except ValueError as exc:
        return ("error", str(exc))


def std_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_orjson_is_the_fast_path() -> None:
    assert jsoncodec._fast_loads is not None and jsoncodec._fast_dumps is not None


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "b": [true, false, null], "c": "\\u00e9\\u2028"}',
        b'{"big": 18446744073709551616, "neg": -9223372036854775809}',  # stay exact integers
        b'{"n": 123456789012345678901234567890.5}',
        b'{"a": 1, "a": {"b": 2}}',
        b'{"f": 1e400}',  # the standard library reads infinity; orjson refuses it
        b'{"x": NaN}',
        b'{"s": "\\ud800"}',  # a lone surrogate escape: the standard library accepts it
        b'{"s": "\xed\xa0\x80"}',  # an encoded surrogate: not UTF-8
        b"\xff\xfe{}",
        b"\xef\xbb\xbf{}",
        b"[" * 5000 + b"]" * 5000,
        b"",
        b"  \n",
        b"{",
        b'{"a":1} x',
        b"[1, 2,]",
        b'"text"',
        b"-0",
        b'{"f": 1e-400, "g": 0.30000000000000004, "h": 5e-324}',
    ],
)
def test_fast_reading_matches_the_standard_library(body: bytes) -> None:
    fast, std = outcome(load_body, body), outcome(_load_std, body)
    assert fast == std
    assert repr(fast) == repr(std)  # int stays int, floats the same digits
    assert outcome(parse_body, body) == std


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
        max_leaves=12,
    )
)
def test_any_document_reads_and_writes_like_the_standard_library(doc: Any) -> None:
    try:
        text = std_dumps(doc)
    except UnicodeEncodeError:  # lone surrogates from st.text(): the writer must fail the same way
        with pytest.raises(UnicodeEncodeError):
            dump_patch(doc)
        return
    assert dump_patch(doc) == text
    for body in (text, json.dumps(doc).encode("ascii")):
        assert repr(outcome(load_body, body)) == repr(outcome(_load_std, body))


@pytest.mark.parametrize(
    "value",
    [1e-05, 3.6e-05, 1e-07, 9.5e-09, 0.0001, 1e16, 1.5, -0.0, 2**64, -(2**63) - 1, "e-5", "0.0000"],
)
def test_patch_writing_matches_for_numbers_orjson_writes_differently(value: Any) -> None:
    patch = [{"op": "add", "path": "/metadata/annotations/a~1b", "value": {"x": value, "y": "é"}}]
    assert dump_patch(patch) == std_dumps(patch)


def test_patch_writing_handles_odd_objects_like_the_standard_library() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError):
        std_dumps([{"v": Opaque()}])
    with pytest.raises(TypeError):
        dump_patch([{"v": Opaque()}])
    keys: dict[Any, str] = {1.5: "float key", 2: "int key", True: "bool key", None: "null key"}
    assert dump_patch([keys]) == std_dumps([keys])  # orjson refuses such keys; the fallback writes them


def _review_of(pod: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "object": pod},
        }
    ).encode()


def _pod(secret: Any) -> dict[str, Any]:
    from tasksecrets.wire import encode_pod_metadata

    labels, annotations = encode_pod_metadata([secret])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_answers_are_the_same_with_the_fast_paths() -> None:
    """The served review answers what mutating and encoding the pod gives, with Global values and without."""
    from tasksecrets.admission.config import parse_config
    from tasksecrets.admission.mutator import Mutator
    from tasksecrets.managers.global_.source import GlobalSecretSource
    from tasksecrets.sdk.secret import Secret

    source = GlobalSecretSource(
        environ={"FLYTE_SECRET_TEAM_TOKEN": "global-fake-value-0042"}, secrets_dir=None
    )
    mutator = Mutator(parse_config({}), global_secrets=source)
    for secret in (Secret(group="team", key="token"), Secret(group="user-info", key="pw")):
        body = _review_of(_pod(secret))
        fast = reviews.review(body, mutator).body
        result = mutator.mutate(json.loads(body)["request"]["object"])
        slow = reviews.review_body("admission.k8s.io/v1", "u-1", result)  # scan on
        assert fast == slow


_EXPONENT_REFERENCE = re.compile(rb"(?<=[0-9])e-[5-9](?![0-9])|0\.0000")


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet='0123456789e-.x"', max_size=40).map(str.encode))
def test_the_small_float_finder_agrees_with_its_regular_expression(data: bytes) -> None:
    """The scan with bytes.find decides exactly what the regular expression it replaces decides."""
    assert jsoncodec._may_hold_small_float(data) == (_EXPONENT_REFERENCE.search(data) is not None)
