"""Answers remembered by pod shape: a hit is exactly the answer computing it would give.

The differential property test reviews sequences of pods drawn from a small vocabulary (so that
shapes repeat and the memo is hit) through a mutator that remembers answers, and compares every
answer with the one the same chain computes without the memo.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from typing import Any

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8svalidate import assert_valid_manifest
from tasksecrets.injectors.global_ import GlobalSecretSource
from tasksecrets.injectors.k8s import secret_volume_name
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.webhook.config import parse_config
from tasksecrets.webhook.metrics import WebhookMetrics
from tasksecrets.webhook.mutating import Mutator
from tasksecrets.webhook.reviews import encode_json, review, review_body
from tasksecrets.webhook.shapes import AnswerMemo, shape_key
from tasksecrets.wire import encode_pod_metadata

FAKE = "fake-env-value-7731"

SECRETS = [
    Secret(group="a", key="x"),
    Secret(group="a", key="y", mount_requirement=MountType.ENV_VAR, env_var="E1"),
    Secret(group="a", key="x", mount_requirement=MountType.FILE),
    Secret(group="b", key="x", mount_requirement=MountType.FILE, env_var="E2"),
    Secret(group="b", key="z", mount_requirement=MountType.ENV_VAR),
    Secret(group="a", group_version="v2", key="y", mount_requirement=MountType.FILE),
]
BAD = Secret.from_wire(group="a")  # K8s needs a key: a denial
ENV_NAMES = ["E1", "E2", "FLYTE_SECRETS_ENV_PREFIX", "_FSEC_A_X", "FLYTE_SECRETS_DEFAULT_DIR", "OTHER"]
MOUNT_NAMES = [secret_volume_name(SECRETS[0]), secret_volume_name(SECRETS[3]), "custom", "other"]
ITEMS = [{"key": "x", "path": "x"}, {"path": "x", "key": "x"}, {"key": "x", "path": "x", "mode": 256}]


def _absent_none_or(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just("absent"), st.none(), inner)


def _entries(names: list[str], value_key: str) -> st.SearchStrategy[Any]:
    entry = st.builds(lambda n, v: {"name": n, value_key: v}, st.sampled_from(names), st.text(max_size=3))
    return _absent_none_or(st.lists(st.one_of(entry, st.just("not-an-object")), max_size=3))


ENV = _entries(ENV_NAMES, "value")
MOUNTS = _entries(MOUNT_NAMES, "mountPath")
VOLUME_NAME = st.sampled_from(["absent", "custom", MOUNT_NAMES[0], MOUNT_NAMES[1], None])
SECRET_NAME = st.sampled_from(["a", "b", "zz"])
VOLUME_ITEMS = _absent_none_or(st.lists(st.sampled_from(ITEMS), max_size=2))


def _set(obj: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    copy = {k: v for k, v in obj.items() if k != field}
    if value != "absent":
        copy[field] = value
    return copy


@st.composite
def container(draw: st.DrawFn, name: str) -> dict[str, Any]:
    return _set(_set({"name": name, "image": "busybox"}, "env", draw(ENV)), "volumeMounts", draw(MOUNTS))


@st.composite
def volume(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 4)) == 0:
        return {"name": "scratch", "emptyDir": {}}
    source = _set({"secretName": draw(SECRET_NAME)}, "items", draw(VOLUME_ITEMS))
    return _set({"secret": source}, "name", draw(VOLUME_NAME))


# A batch is a pod and variants of it, each changed in one small way, reviewed through one memo: a
# key that left out something K8s reads would give a variant the answer of a pod it differs from.
@st.composite
def base_parts(draw: st.DrawFn) -> dict[str, Any]:
    parts = {
        "secrets": draw(st.lists(st.sampled_from([*SECRETS, BAD]), min_size=1, max_size=3)),
        "note": draw(st.one_of(st.none(), st.text(max_size=3))),
        "metadata": draw(st.sampled_from(["full", "full", "no-annotations", "null-annotations", "absent"])),
        "has_spec": draw(st.integers(0, 9)) > 0,
        "init": draw(st.one_of(st.just("absent"), st.none(), st.lists(container("init"), max_size=1))),
        "containers": [draw(container(f"c{i}")) for i in range(draw(st.sampled_from([0, 1, 1, 2])))],
        "volumes": draw(st.sampled_from(["absent", None, "list", "list", "list"])),
    }
    if parts["volumes"] == "list":
        parts["volumes"] = draw(st.lists(volume(), min_size=1, max_size=3))
    return parts


def _pick(draw: st.DrawFn, items: list[Any]) -> int | None:
    return draw(st.integers(0, len(items) - 1)) if items else None


@st.composite
def variant(draw: st.DrawFn, parts: dict[str, Any]) -> dict[str, Any]:
    parts = {**parts, "containers": list(parts["containers"])}
    volumes = list(parts["volumes"]) if isinstance(parts["volumes"], list) else []
    secret_volumes = [i for i, v in enumerate(volumes) if "secret" in v]
    tweak = draw(
        st.sampled_from(
            [
                "metadata",
                "has_spec",
                "init",
                "env",
                "mounts",
                "containers",
                "volume",
                "items",
                "volume_name",
                "secret_name",
                "volumes",
                "note",
            ]
        )
    )
    i = _pick(draw, parts["containers"])
    s = secret_volumes[draw(st.integers(0, len(secret_volumes) - 1))] if secret_volumes else None
    if tweak in ("env", "mounts") and i is not None:
        field, strategy = ("env", ENV) if tweak == "env" else ("volumeMounts", MOUNTS)
        parts["containers"][i] = _set(parts["containers"][i], field, draw(strategy))
    elif tweak == "volume" and volumes:
        volumes[_pick(draw, volumes) or 0] = draw(volume())
        parts["volumes"] = volumes
    elif tweak in ("items", "volume_name", "secret_name") and s is not None:
        if tweak == "items":
            volumes[s] = {**volumes[s], "secret": _set(volumes[s]["secret"], "items", draw(VOLUME_ITEMS))}
        elif tweak == "secret_name":
            volumes[s] = {**volumes[s], "secret": {**volumes[s]["secret"], "secretName": draw(SECRET_NAME)}}
        else:
            volumes[s] = _set(volumes[s], "name", draw(VOLUME_NAME))
        parts["volumes"] = volumes
    else:  # the tweak drawn, or the part to draw again when the pod has nothing it could tweak
        part = tweak if tweak in ("metadata", "has_spec", "init", "containers", "note") else "volumes"
        parts[part] = draw(base_parts())[part]
    return parts


def _build(parts: dict[str, Any]) -> dict[str, Any]:
    _, annotations = encode_pod_metadata(parts["secrets"])
    if parts["note"] is not None:
        annotations["other.example/note"] = parts["note"]
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod"}
    if parts["metadata"] == "full":
        pod["metadata"] = {"name": "p", "annotations": annotations}
    elif parts["metadata"] == "no-annotations":
        pod["metadata"] = {"name": "p"}
    elif parts["metadata"] == "null-annotations":
        pod["metadata"] = {"name": "p", "annotations": None}
    spec = _set(
        _set({"containers": parts["containers"]}, "initContainers", parts["init"]),
        "volumes",
        parts["volumes"],
    )
    if parts["has_spec"]:
        pod["spec"] = spec
    copy: dict[str, Any] = json.loads(json.dumps(pod))  # no shared subtrees between pods
    return copy


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    base = draw(base_parts())
    variants = [draw(variant(base)) for _ in range(draw(st.integers(1, 6)))]
    return [_build(base), *(_build(v) for v in variants)]


def _review_of(pod: dict[str, Any], uid: str) -> bytes:
    request = {"uid": uid, "kind": {"kind": "Pod"}, "resource": {"resource": "pods"}, "object": pod}
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def _computed(pod: dict[str, Any], uid: str) -> dict[str, Any]:
    plain = Mutator(parse_config({}))
    plain.answers_by_shape = None
    return review_body("admission.k8s.io/v1", uid, plain.mutate(pod))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_remembered_answers_equal_computed_ones(batch: list[dict[str, Any]]) -> None:
    mutator = Mutator(parse_config({}))
    memo = mutator.answers_by_shape
    assert memo is not None
    for round_ in range(2):  # the second round answers every remembered shape from the memo
        for n, pod in enumerate(batch):
            uid = f"uid-{round_}-{n}"
            outcome = review(_review_of(pod, uid), mutator)
            assert outcome.body == _computed(json.loads(json.dumps(pod)), uid)
            assert outcome.managers == ["K8s"] * len(outcome.managers)


GRID_SECRETS = [
    [SECRETS[2]],  # a/x FILE
    [SECRETS[0], SECRETS[4]],  # a/x ANY, b/z ENV_VAR
    [SECRETS[3], SECRETS[1]],  # b/x FILE with env_var E2, a/y ENV_VAR with env_var E1
]
GRID_ENV: list[Any] = [
    "absent",
    None,
    [],
    [{"name": "FLYTE_SECRETS_DEFAULT_DIR"}],
    [{"name": "E2"}],
    ["junk"],
]
GRID_MOUNTS: list[Any] = ["absent", [], [{"name": MOUNT_NAMES[0]}], [{"name": "custom"}]]
GRID_VOLUMES: list[Any] = [
    "absent",
    None,
    [],
    [{"name": "scratch", "emptyDir": {}}],
    [{"name": "v", "secret": {"secretName": "a"}}],
    [{"name": "v", "secret": {"secretName": "a", "items": [ITEMS[0]]}}],
    [{"name": "v", "secret": {"secretName": "a", "items": []}}],
    [{"name": "v", "secret": {"secretName": "a", "items": [ITEMS[2]]}}],
    [{"secret": {"secretName": "a", "items": [ITEMS[1]]}}],
    [{"secret": {"secretName": "a", "items": [ITEMS[0]]}}],
    [{"name": "u", "secret": {"secretName": "a", "items": [ITEMS[0]]}}],
    [{"name": "u", "secret": {"secretName": "a", "items": [{"key": "o", "path": "o"}]}}],
    [{"name": "custom", "secret": {"secretName": "b"}}],
    [{"name": "scratch", "emptyDir": {}}, {"name": "w", "secret": {"secretName": "b", "items": [ITEMS[0]]}}],
]


def test_every_pod_of_a_grid_of_shapes_gets_its_own_answer() -> None:
    """Pods that differ in one thing K8s reads, all through one memo, in two rounds."""
    mutator = Mutator(parse_config({}))
    memo = mutator.answers_by_shape = AnswerMemo(entries=100_000)
    found, hits = memo.get, [0]

    def counting_get(key: Any) -> Any:
        entry = found(key)
        hits[-1] += entry is not None
        return entry

    memo.get = counting_get  # type: ignore[method-assign]
    grid = [
        {
            "secrets": secrets,
            "note": None,
            "metadata": "full",
            "has_spec": True,
            "init": init,
            "volumes": vols,
            "containers": [_set(_set({"name": "c", "image": "busybox"}, "env", env), "volumeMounts", mounts)],
        }
        for secrets, env, mounts, vols, init in itertools.product(
            GRID_SECRETS, GRID_ENV, GRID_MOUNTS, GRID_VOLUMES, ["absent", [{"name": "i", "image": "busybox"}]]
        )
    ]
    grid += [{**parts, "has_spec": False} for parts in grid[:: len(GRID_VOLUMES) * 2]]
    pods = [_build(parts) for parts in grid]
    for secrets in GRID_SECRETS:  # no spec, an empty one, one with nothing in it
        _, annotations = encode_pod_metadata(secrets)
        for spec in ("absent", {}, {"containers": None, "initContainers": None, "volumes": None}):
            pods.append(_set({"metadata": {"annotations": annotations}}, "spec", spec))
    for round_ in range(2):
        hits.append(0)
        for n, pod in enumerate(pods):
            uid = f"uid-{round_}-{n}"
            assert review(_review_of(pod, uid), mutator).body == _computed(pod, uid), pod
    assert hits and hits[-1] >= len(pods) // 2  # the second round is answered from the memo


def test_a_pod_of_a_known_shape_is_answered_from_the_memo() -> None:
    mutator = Mutator(parse_config({}))
    memo = mutator.answers_by_shape
    assert memo is not None
    _, annotations = encode_pod_metadata(SECRETS[:4])
    first = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "task-1", "annotations": annotations},
        "spec": {"containers": [{"name": "c", "image": "busybox", "env": [{"name": "RUN", "value": "1"}]}]},
    }
    second = json.loads(json.dumps(first))
    second["metadata"]["name"] = "task-2"
    second["spec"]["containers"][0]["env"][0]["value"] = FAKE  # another value, the same shape
    assert shape_key(first) == shape_key(second) and FAKE not in repr(shape_key(second))

    review(_review_of(first, "u1"), mutator)
    assert len(memo) == 1
    outcome = review(_review_of(second, "u2"), mutator)
    assert len(memo) == 1 and outcome.body["response"]["uid"] == "u2"
    assert outcome.body == _computed(second, "u2")
    assert outcome.result is None and outcome.managers == ["K8s"] * 4  # served from the memo
    patch = json.loads(base64.b64decode(outcome.body["response"]["patch"]))
    pod = jsonpatch.apply_patch(second, patch)
    assert pod == Mutator(parse_config({})).mutate(second).pod
    assert pod["metadata"]["name"] == "task-2" and pod["spec"]["containers"][0]["env"][0]["value"] == FAKE
    assert_valid_manifest(pod)
    assert FAKE not in repr(memo._entries)


@pytest.mark.parametrize(
    "pod",
    [
        {"metadata": [], "spec": {}},
        {"metadata": {"annotations": "x"}},
        {"spec": []},
        {"spec": {"containers": {}}},
        {"spec": {"containers": ["c"]}},
        {"spec": {"containers": [{"env": {}}]}},
        {"spec": {"initContainers": [{"volumeMounts": "m"}]}},
        {"spec": {"volumes": {}}},
        {"spec": {"volumes": [{"secret": {"secretName": "a", "items": {}}}]}},
        [],
    ],
)
def test_pods_the_editor_would_refuse_have_no_key(pod: Any) -> None:
    assert shape_key(pod) is None


@pytest.mark.parametrize("api_version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
@pytest.mark.parametrize(
    "uid", ["7c0e9b34-8c0b", 'quote " and \\ backslash', "é-ü-\u2028-😀", "@tasksecrets-uid@"]
)
def test_a_remembered_answer_is_encoded_as_the_server_encodes_it(api_version: str, uid: str) -> None:
    mutator = Mutator(parse_config({}))
    _, annotations = encode_pod_metadata(SECRETS[:3])
    pod = {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "c"}]}}
    review(
        {"apiVersion": api_version, "kind": "AdmissionReview", "request": {"uid": "first", "object": pod}},
        mutator,
    )
    body = {"apiVersion": api_version, "kind": "AdmissionReview", "request": {"uid": uid, "object": pod}}
    outcome = review(body, mutator)
    assert outcome.result is None  # from the memo
    assert outcome.encoded is not None and outcome.encoded == encode_json(outcome.body)
    assert json.loads(outcome.encoded)["response"]["uid"] == uid
    assert outcome.body == review_body(api_version, uid, mutator.mutate(pod))


@pytest.mark.parametrize(
    "annotations",
    [
        {"flyte.secrets/s0": 1},
        {"flyte.secrets/s0": ["a"]},
        {"flyte.secrets/s0": {"a": "b"}},
        {"note": ["not", "hashable"], **encode_pod_metadata([SECRETS[0]])[1]},
        {1: "x", **encode_pod_metadata([SECRETS[0]])[1]},
    ],
)
def test_odd_annotations_get_the_computed_answer_every_time(annotations: dict[Any, Any]) -> None:
    mutator = Mutator(parse_config({}))
    pod = {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "c"}]}}
    for uid in ("u1", "u2"):
        request = {"uid": uid, "object": pod}
        body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        assert review(body, mutator).body == _computed(pod, uid)


def test_only_chains_whose_answers_depend_on_the_shape_remember(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYTE_SECRET_TEAM_TOKEN", FAKE)
    k8s = parse_config({})
    assert Mutator(k8s).answers_by_shape is not None
    fixed = GlobalSecretSource(environ=os.environ, secrets_dir=None)
    assert fixed.fixed and Mutator(k8s, global_secrets=fixed).answers_by_shape is not None
    live = GlobalSecretSource(environ={"FLYTE_SECRET_TEAM_TOKEN": FAKE}, secrets_dir=None)
    assert not live.fixed and Mutator(k8s, global_secrets=live).answers_by_shape is None
    with_dir = GlobalSecretSource(environ=os.environ, secrets_dir=tmp_path)
    assert not with_dir.fixed and Mutator(k8s, global_secrets=with_dir).answers_by_shape is None
    for manager in ("AWS", "GCP", "Vault", "Azure"):
        assert Mutator(parse_config({"webhook": {"secretManagerType": manager}})).answers_by_shape is None


def test_answers_holding_a_global_value_are_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_SECRET_TEAM_TOKEN", FAKE)
    source = GlobalSecretSource(environ=os.environ, secrets_dir=None)
    mutator = Mutator(parse_config({}), global_secrets=source)
    memo = mutator.answers_by_shape
    assert memo is not None
    for secret in (Secret(group="team", key="token"), Secret(group="user-info", key="pw")):
        _, annotations = encode_pod_metadata([secret])
        pod = {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "c"}]}}
        for uid in ("u1", "u2"):
            outcome = review(_review_of(pod, uid), mutator)
            plain = Mutator(parse_config({}), global_secrets=source)
            plain.answers_by_shape = None
            assert outcome.body == review_body("admission.k8s.io/v1", uid, plain.mutate(pod))
    assert len(memo) == 1  # the K8s answer only
    assert FAKE not in repr(memo._entries) and FAKE not in json.dumps(next(iter(memo._entries.values()))[0])


def test_the_memo_is_bounded_in_entries_and_bytes() -> None:
    memo = AnswerMemo(entries=4, max_bytes=800)
    for n in range(10):
        memo.put((n,), n)
        assert len(memo) <= 4
    assert memo.get((9,)) == 9 and memo.get((0,)) is None
    memo.clear()
    memo.put(("heavy",), "x", size=101)  # over an eighth of the budget: not kept
    assert memo.get(("heavy",)) is None and len(memo) == 0
    for n in range(20):
        memo.put((n,), n, size=100)
        assert memo._bytes <= 800 and len(memo) <= 4
    assert memo.get((19,)) == 19
    memo.put(([1],), "unhashable")  # stores nothing, raises nothing
    assert memo.get(([1],)) is None


def test_injections_are_counted_per_manager() -> None:
    metrics = WebhookMetrics()
    metrics.observe_injections(["K8s"] * 3)
    metrics.observe_injections(["Global", "K8s", "Global"])
    metrics.observe_injections([])
    text = metrics.render()[0].decode()
    assert 'tasksecrets_webhook_injections_total{manager="K8s"} 4.0' in text
    assert 'tasksecrets_webhook_injections_total{manager="Global"} 2.0' in text
