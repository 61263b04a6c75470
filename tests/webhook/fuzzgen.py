"""Generated and mutated AdmissionReviews for the fuzz test: one case per (seed, index), reproducible.

A case starts from a well-formed review of a pod with a few secrets, then gets one to three mutations of
its structure (a value of the wrong type anywhere, a key removed, undecodable or non-string secret
annotations, thousands of annotations, huge strings, odd uids), and sometimes a mutation of its bytes
(flipped or cut bytes, invalid UTF-8, duplicate keys, deep nesting, huge or non-finite numbers).
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from typing import Any

from serverproc import make_pod, pod_review

from tasksecrets.sdk.secret import Secret

__all__ = ["Case", "make_case"]

VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
BASE32 = string.ascii_uppercase + "234567="
MiB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """A request body, and what a 200 answer must echo (None where a byte mutation hid it)."""

    index: int
    body: bytes
    uid: str | None
    api_version: str | None
    mutations: tuple[str, ...]


def _name(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits + "-._", k=rng.randint(1, 12)))


def _secret(rng: random.Random) -> Secret:
    mount = rng.choice(list(Secret.MountType))
    env_var = rng.choice([None, None, "VAR_" + _name(rng).upper().replace("-", "_").replace(".", "_")])
    group = rng.choice(["db", "api", _name(rng)])
    return Secret(group=group, key=_name(rng), mount_requirement=mount, env_var=env_var)


def _wrong_value(rng: random.Random) -> Any:
    choices: list[Any] = [
        None,
        True,
        0,
        -1,
        10 ** rng.randint(20, 400),
        1.5e308,
        "",
        "x" * rng.randint(1, 300),
        "\u0000\ud7ff\u2028",
        [],
        [None, 1, "a"],
        {},
        {"a": {"b": [1, {"c": None}]}},
    ]
    return rng.choice(choices)


def _containers(data: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) place in ``data``, so a mutation can pick any of them."""
    places: list[tuple[Any, Any]] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            places += [(node, key) for key in node]
            stack += list(node.values())
        elif isinstance(node, list):
            places += [(node, i) for i in range(len(node))]
            stack += node
    return places


def _replace_any(rng: random.Random, review: dict[str, Any]) -> None:
    places = _containers(review)
    if places:
        node, key = rng.choice(places)
        node[key] = _wrong_value(rng)


def _remove_any(rng: random.Random, review: dict[str, Any]) -> None:
    places = [(node, key) for node, key in _containers(review) if isinstance(node, dict)]
    if places:
        node, key = rng.choice(places)
        del node[key]


def _metadata(review: dict[str, Any]) -> dict[str, Any] | None:
    request = review.get("request")
    pod = request.get("object") if isinstance(request, dict) else None
    metadata = pod.get("metadata") if isinstance(pod, dict) else None
    return metadata if isinstance(metadata, dict) else None


def _garbage_annotations(rng: random.Random, review: dict[str, Any]) -> None:
    metadata = _metadata(review)
    if metadata is None:
        return
    annotations = metadata.setdefault("annotations", {})
    if not isinstance(annotations, dict):
        return
    for _ in range(rng.randint(1, 4)):
        suffix = rng.choice([str(rng.randint(0, 99)), "foo", "", "-1", "0" * 30])
        value = rng.choice(
            [
                "".join(rng.choices(BASE32 + "abc!@ ", k=rng.randint(0, 80))),
                "".join(rng.choices(BASE32, k=rng.randint(0, 80))),
                _wrong_value(rng),
            ]
        )
        annotations[f"flyte.secrets/s{suffix}"] = value


def _many_annotations(rng: random.Random, review: dict[str, Any]) -> None:
    metadata = _metadata(review)
    if metadata is not None:
        metadata["annotations"] = {f"note-{i}": "v" for i in range(10_000)}
        metadata["labels"] = {"inject-flyte-secrets": "true"}


def _huge_string(rng: random.Random, review: dict[str, Any]) -> None:
    places = [(node, key) for node, key in _containers(review) if isinstance(node[key], str)]
    if places:
        node, key = rng.choice(places)
        node[key] = "h" * rng.randint(MiB // 4, 2 * MiB)


def _odd_uid(rng: random.Random, review: dict[str, Any]) -> None:
    request = review.get("request")
    if isinstance(request, dict):
        request["uid"] = rng.choice(["", "u" * 10_000, "\u00e9\u4e2d", 12, None, ["a"], "\ud800"])


STRUCTURE = {
    "replace": (_replace_any, 40),
    "remove": (_remove_any, 20),
    "garbage-annotations": (_garbage_annotations, 30),
    "odd-uid": (_odd_uid, 6),
    "huge-string": (_huge_string, 1),
    "many-annotations": (_many_annotations, 1),
}


def _flip(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _cut(rng: random.Random, raw: bytes) -> bytes:
    return raw[: rng.randrange(len(raw))]


def _bad_utf8(rng: random.Random, raw: bytes) -> bytes:
    at = rng.randrange(len(raw))
    return raw[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]) + raw[at:]


def _duplicate_keys(rng: random.Random, raw: bytes) -> bytes:
    key = rng.choice([b'"request"', b'"apiVersion"', b'"kind"'])
    return b"{" + key + b": " + rng.choice([b"1", b"null", b'"x"', b"{}"]) + b", " + raw[1:]


def _deep(rng: random.Random, raw: bytes) -> bytes:
    depth = rng.choice([100, 1000, 100_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    return (
        raw.replace(b"null", opener * depth + b"1" + closer * depth, 1) if b"null" in raw else opener * depth
    )


def _numbers(rng: random.Random, raw: bytes) -> bytes:
    number = rng.choice([b"1" * 5000, b"1e999999", b"-0", b"NaN", b"Infinity", b"1.5e-99999", b"0x10"])
    return raw.replace(b'"CREATE"', number, 1)


BYTES = {
    "flip": (_flip, 20),
    "cut": (_cut, 20),
    "bad-utf8": (_bad_utf8, 20),
    "duplicate-keys": (_duplicate_keys, 15),
    "deep": (_deep, 10),
    "numbers": (_numbers, 15),
}


def _pick(rng: random.Random, table: dict[str, tuple[Any, int]]) -> tuple[str, Any]:
    name = rng.choices(list(table), weights=[weight for _, weight in table.values()])[0]
    return name, table[name][0]


def _echoed(review: Any) -> tuple[str | None, str | None]:
    """The uid and apiVersion a 200 answer must carry, read from the review as sent."""
    if not isinstance(review, dict) or not isinstance(review.get("request"), dict):
        return None, None
    uid, version = review["request"].get("uid"), review.get("apiVersion")
    return (uid if isinstance(uid, str) else None), (version if isinstance(version, str) else None)


def make_case(seed: int, index: int) -> Case:
    """The case ``index`` of the run ``seed``: the same bytes every time."""
    rng = random.Random(f"{seed}-{index}")
    pod = make_pod([_secret(rng) for _ in range(rng.randint(0, 6))], name=_name(rng))
    review = pod_review(pod, api_version=rng.choice(VERSIONS), uid=f"uid-{index}")
    mutations = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        name, mutate = _pick(rng, STRUCTURE)
        mutate(rng, review)
        mutations.append(name)
    raw = json.dumps(review, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    uid, version = _echoed(review)
    if rng.random() < 0.3:
        name, mutate = _pick(rng, BYTES)
        raw = mutate(rng, raw) or b"{"
        mutations.append(name)
        uid = version = None
    return Case(index, raw, uid, version, tuple(mutations))
