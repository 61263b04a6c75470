"""Answers remembered by pod view: a remembered answer is exactly the answer computing it would give.

Two differential tests, each shown to fail when its fast path is broken on purpose:

- memo against no memo: batches of near-identical pods (a hypothesis property) and a grid of pods
  that differ in one thing at a time, reviewed twice through one memo, against the answers the same
  chain computes without one; a namespace-dependent injector passes, and a memo whose key leaves
  the namespace out is caught;
- the view against the whole pod: every built-in chain gives the patch it gives when its injectors
  see the whole pod; a view that drops the namespace is caught with the namespace-dependent injector.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from collections.abc import Iterable
from typing import Any, ClassVar

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8svalidate import assert_valid_manifest
from tasksecrets.admission import reviews
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.jsoncodec import exact_key
from tasksecrets.admission.memo import AnswerMemo
from tasksecrets.admission.mutator import Mutator
from tasksecrets.admission.reviews import review, review_body
from tasksecrets.contract import POD_SECRETS_DIR
from tasksecrets.managers import podview
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.k8s.injector import K8sInjector, secret_volume_name
from tasksecrets.managers.plugin import SharedSettings
from tasksecrets.managers.podview import PodView
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.webhook.metrics import WebhookMetrics
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


def _review_of(pod: dict[str, Any], uid: str, *, namespace: str | None = None) -> bytes:
    request: dict[str, Any] = {"uid": uid, "kind": {"kind": "Pod"}, "resource": {"resource": "pods"}}
    if namespace is not None:
        pod = {**pod, "metadata": {**(pod.get("metadata") or {}), "namespace": namespace}}
    request["object"] = pod
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def _plain(mutator: Mutator) -> Mutator:
    """The same chain, remembering nothing."""
    plain = Mutator(mutator.config, injectors=mutator.injectors)
    plain.answers = None
    return plain


def _computed(pod: Any, uid: str, mutator: Mutator | None = None) -> dict[str, Any]:
    plain = _plain(mutator or Mutator(parse_config({})))
    return review_body("admission.k8s.io/v1", uid, plain.mutate(json.loads(json.dumps(pod))))


def memo_differences(mutator: Mutator, bodies: Iterable[tuple[bytes, str]], *, rounds: int = 2) -> list[str]:
    """Every answer the memo'd ``mutator`` gives that computing it without a memo would not."""
    found: list[str] = []
    bodies = list(bodies)
    for _ in range(rounds):  # the later rounds answer every remembered view from the memo
        for body, uid in bodies:
            pod = json.loads(body)["request"]["object"]
            got = review(body, mutator).body
            if got != _computed(pod, uid, mutator):
                found.append(f"{uid}: {pod.get('metadata')}")
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_remembered_answers_equal_computed_ones(batch: list[dict[str, Any]]) -> None:
    mutator = Mutator(parse_config({}))
    assert mutator.answers is not None
    bodies = [(_review_of(pod, f"uid-{n}"), f"uid-{n}") for n, pod in enumerate(batch)]
    assert memo_differences(mutator, bodies) == []


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


def _grid_pods() -> list[dict[str, Any]]:
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
    return pods


GRID = _grid_pods()


@pytest.mark.parametrize("manager", ["K8s", "AWS", "Vault"])
def test_every_pod_of_a_grid_gets_its_own_answer(manager: str) -> None:
    """Pods that differ in one thing a manager reads, all through one memo, in two rounds."""
    mutator = Mutator(parse_config({"webhook": {"secretManagerType": manager}}))
    memo = mutator.answers
    assert memo is not None
    bodies = [(_review_of(pod, f"uid-{n}"), f"uid-{n}") for n, pod in enumerate(GRID)]
    assert memo_differences(mutator, bodies) == []
    assert len(memo) < len(GRID)  # views repeat across the grid (pods differing in nothing read)


class NamespaceInjector(K8sInjector):
    """K8s, but files go under a directory named after the pod's namespace: it reads the namespace."""

    name: ClassVar[str] = "ByNamespace"

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        editor.add_volume({"name": "by-ns", "emptyDir": {}})  # a mount of a missing volume is denied
        editor.add_volume_mount(
            {
                "name": "by-ns",
                "readOnly": True,
                "mountPath": f"{POD_SECRETS_DIR}/{editor.namespace or 'none'}",
            }
        )
        return super().inject(secret, editor)


def _namespace_bodies() -> list[tuple[bytes, str]]:
    _, annotations = encode_pod_metadata(SECRETS[:3])
    pod = {
        "metadata": {"annotations": annotations},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    return [(_review_of(pod, f"u-{ns}", namespace=ns), f"u-{ns}") for ns in ("team-a", "team-b", "team-a")]


def _namespace_mutator() -> Mutator:
    return Mutator(parse_config({}), injectors=[NamespaceInjector.from_config(None, shared=SharedSettings())])


def test_a_namespace_dependent_injector_gets_the_answer_of_its_namespace() -> None:
    mutator = _namespace_mutator()
    assert mutator.answers is not None
    assert memo_differences(mutator, _namespace_bodies()) == []
    paths = set()
    for body, _ in _namespace_bodies():
        patch = json.loads(base64.b64decode(review(body, mutator).body["response"]["patch"]))
        pod = jsonpatch.apply_patch(json.loads(body)["request"]["object"], patch)
        mounts = pod["spec"]["containers"][0]["volumeMounts"]
        paths |= {m["mountPath"] for m in mounts if m["name"] == "by-ns"}
    assert paths == {f"{POD_SECRETS_DIR}/team-a", f"{POD_SECRETS_DIR}/team-b"}


def test_the_memo_differential_fails_for_a_key_that_leaves_the_namespace_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broken fast path on purpose: keyed on the view without its namespace, the memo is caught."""

    def key_without_namespace(data: Any) -> bytes | str:
        metadata = {k: v for k, v in (data.get("metadata") or {}).items() if k != "namespace"}
        return exact_key({**data, "metadata": metadata})

    monkeypatch.setattr(reviews, "exact_key", key_without_namespace)
    assert memo_differences(_namespace_mutator(), _namespace_bodies()) != []


def view_differences(mutator: Mutator, pods: Iterable[Any]) -> list[Any]:
    """Every pod whose answer changes when the injectors see the whole pod instead of its view."""
    found = []
    for pod in pods:
        full = PodView(json.loads(json.dumps(pod)))  # a view that keeps everything
        seen, whole = mutator.mutate(pod), mutator.mutate_view(full, pod)
        if (seen.allowed, seen.patch, seen.reason) != (whole.allowed, whole.patch, whole.reason):
            found.append(pod)
    return found


CHAINS = [
    ["K8s"],
    ["AWS"],
    ["GCP", "K8s"],
    ["Vault"],
    ["Azure", "K8s"],
]


@pytest.mark.parametrize("chain", CHAINS, ids="-".join)
def test_every_built_in_chain_reads_nothing_the_view_drops(chain: list[str]) -> None:
    mutator = Mutator(parse_config({"webhook": {"secretManagerTypes": chain}}))
    full_pods = [
        {**pod, "metadata": {**(pod.get("metadata") or {}), "name": "p", "uid": "u", "labels": {"x": "1"}}}
        for pod in GRID
        if isinstance(pod.get("metadata"), dict)
    ]
    for pod in full_pods:  # values, images, commands and args the view drops
        for c in (pod.get("spec") or {}).get("containers") or []:
            c.update({"image": "python:3.11", "command": ["python"], "args": ["-m", "x"]})
    assert view_differences(mutator, full_pods) == []


def test_the_view_differential_fails_for_a_view_that_drops_the_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broken fast path on purpose: a view without the namespace is caught."""
    monkeypatch.setattr(
        podview,
        "_metadata",
        lambda metadata: {k: v for k, v in metadata.items() if k == "annotations"},
    )
    pods = [json.loads(body)["request"]["object"] for body, _ in _namespace_bodies()]
    assert view_differences(_namespace_mutator(), pods) != []


def test_a_pod_of_a_known_view_is_answered_from_the_memo() -> None:
    mutator = Mutator(parse_config({}))
    memo = mutator.answers
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
    second["spec"]["containers"][0]["env"][0]["value"] = FAKE  # another value, the same view
    assert PodView.of(first).data == PodView.of(second).data and FAKE not in repr(PodView.of(second).data)

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
    ],
)
def test_pods_the_editor_refuses_get_the_computed_answer_every_time(pod: Any) -> None:
    _, annotations = encode_pod_metadata(SECRETS[:3])
    if isinstance(pod.get("metadata"), dict) and "annotations" not in pod["metadata"]:
        pod = {**pod, "metadata": {**pod["metadata"], "annotations": annotations}}
    mutator = Mutator(parse_config({}))
    bodies = [(_review_of(pod, uid), uid) for uid in ("u1", "u2")]
    assert memo_differences(mutator, bodies) == []


@pytest.mark.parametrize(
    "annotations",
    [
        {"flyte.secrets/s0": 1},
        {"flyte.secrets/s0": 1.0},
        {"flyte.secrets/s0": True},
        {"flyte.secrets/s0": None},
        {"flyte.secrets/s0": ["a"]},
        {"flyte.secrets/s0": {"a": "b"}},
        {"note": ["not", "hashable"], **encode_pod_metadata([SECRETS[0]])[1]},
        {"note": "null", **encode_pod_metadata([SECRETS[0]])[1]},
    ],
)
def test_odd_annotations_get_the_computed_answer_every_time(annotations: dict[Any, Any]) -> None:
    mutator = Mutator(parse_config({}))
    pod = {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "c"}]}}
    bodies = [(_review_of(pod, uid), uid) for uid in ("u1", "u2")]
    assert memo_differences(mutator, bodies) == []


def test_values_json_cannot_tell_apart_get_keys_of_their_own() -> None:
    """orjson writes None and 1e400 (an infinite float) alike; the exact key does not."""
    assert json.loads("1e400") == float("inf")
    keys = {exact_key(v) for v in (None, float("inf"), float("-inf"), 1, 1.0, True, "1", [1], {"1": 1})}
    assert len(keys) == 9
    for body in (b'{"a": null}', b'{"a": 1e400}'):
        assert exact_key(reviews.load_body(body)) == exact_key(json.loads(body))


def test_a_memo_is_kept_only_for_deterministic_chains(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_SECRET_TEAM_TOKEN", FAKE)
    k8s = parse_config({})
    assert Mutator(k8s).answers is not None
    fixed = GlobalSecretSource(environ=os.environ, secrets_dir=None)
    assert fixed.fixed and Mutator(k8s, global_secrets=fixed).answers is not None
    live = GlobalSecretSource(environ={"FLYTE_SECRET_TEAM_TOKEN": FAKE}, secrets_dir=None)
    assert not live.fixed and Mutator(k8s, global_secrets=live).answers is None
    with_dir = GlobalSecretSource(environ=os.environ, secrets_dir=tmp_path)
    assert not with_dir.fixed and Mutator(k8s, global_secrets=with_dir).answers is None
    for manager in ("AWS", "GCP", "Vault", "Azure"):
        assert Mutator(parse_config({"webhook": {"secretManagerType": manager}})).answers is not None

    class Undeclared:
        name = "Undeclared"

        def inject(self, secret: Secret, editor: PodEditor) -> bool:
            return False

    assert Mutator(k8s, injectors=[Undeclared()]).answers is None  # type: ignore[list-item]


def test_answers_holding_a_global_value_are_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_SECRET_TEAM_TOKEN", FAKE)
    source = GlobalSecretSource(environ=os.environ, secrets_dir=None)
    mutator = Mutator(parse_config({}), global_secrets=source)
    memo = mutator.answers
    assert memo is not None
    bodies = []
    for secret in (Secret(group="team", key="token"), Secret(group="user-info", key="pw")):
        _, annotations = encode_pod_metadata([secret])
        pod = {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "c"}]}}
        bodies += [(_review_of(pod, uid), uid) for uid in ("u1", "u2")]
    assert memo_differences(mutator, bodies) == []
    assert len(memo) == 1  # the K8s answer only
    assert FAKE not in repr(memo._entries)


def _fill(memo: AnswerMemo, keys: Iterable[int], *, size: int = 0) -> int:
    hits = 0
    for n in keys:
        if memo.get(str(n)) is not None:
            hits += 1
        else:
            memo.put(str(n), ({"n": n}, []), size=size)
    return hits


def test_the_memo_evicts_the_least_recently_used() -> None:
    memo = AnswerMemo(entries=4, max_bytes=10_000)
    _fill(memo, range(4))
    assert memo.get("0") is not None  # 0 is now the most recently used
    _fill(memo, [4])
    assert memo.get("1") is None and memo.get("0") is not None and len(memo) == 4


def test_the_memo_is_bounded_in_entries_and_bytes() -> None:
    memo = AnswerMemo(entries=4, max_bytes=800)
    for n in range(10):
        memo.put(str(n), ({}, []))
        assert len(memo) <= 4
    assert memo.get("9") is not None and memo.get("0") is None
    memo.clear()
    memo.put("heavy", ({}, []), size=101)  # over an eighth of the budget: not kept
    assert memo.get("heavy") is None and len(memo) == 0
    for n in range(20):
        memo.put(str(n), ({}, []), size=90)
        assert memo.weight <= 800 and len(memo) <= 4
    assert memo.get("19") is not None


def test_shapes_in_cyclic_order_stay_remembered_within_the_bound() -> None:
    """600 views taking turns: the default memo holds them all, so every later round hits."""
    memo = AnswerMemo()
    assert _fill(memo, range(600), size=4_000) == 0
    assert _fill(memo, range(600), size=4_000) == 600


def test_injections_are_counted_per_manager() -> None:
    metrics = WebhookMetrics()
    metrics.observe_injections(["K8s"] * 3)
    metrics.observe_injections(["Global", "K8s", "Global"])
    metrics.observe_injections([])
    text = metrics.render()[0].decode()
    assert 'tasksecrets_webhook_injections_total{manager="K8s"} 4.0' in text
    assert 'tasksecrets_webhook_injections_total{manager="Global"} 2.0' in text
