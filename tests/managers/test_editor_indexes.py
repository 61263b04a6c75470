"""The pod editor's indexes answer as the scans they replace: a differential test.

The editor finds volumes by name and by ``secretName``, a secret volume's items by value, and
appends to every container only where a name can be missing (tasksecrets.managers.editor). Here a
plain model applies the same edits by scanning the pod, as the editor once did, and random
sequences of edits on random pods must give the same mutated pod and the same return values.
Names come from a small alphabet, so lookups hit, miss and collide.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasksecrets.admission.patches import apply_patch, build_patch
from tasksecrets.errors import InjectionError
from tasksecrets.managers.editor import MappingCodec, PodEditor

NAMES = st.sampled_from(["a", "b", "c", "d"])
ITEM = st.fixed_dictionaries({"key": NAMES, "path": NAMES})


def _containers(draw: st.DrawFn, prefix: str) -> list[dict[str, Any]]:
    entries = st.lists(st.fixed_dictionaries({"name": NAMES}), max_size=3)
    return [
        {
            "name": f"{prefix}{i}",
            **draw(st.fixed_dictionaries({}, optional={"env": entries, "volumeMounts": entries})),
        }
        for i in range(draw(st.integers(0, 3)))
    ]


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    volumes = []
    for _ in range(draw(st.integers(0, 4))):
        volume: dict[str, Any] = {"name": draw(NAMES)}
        if draw(st.booleans()):
            source: dict[str, Any] = {"secretName": draw(NAMES)}
            if draw(st.booleans()):
                source["items"] = draw(st.lists(ITEM, max_size=3))
            volume["secret"] = source
        volumes.append(volume)
    spec: dict[str, Any] = {"containers": _containers(draw, "c")}
    inits = _containers(draw, "i")
    if inits:
        spec["initContainers"] = inits
    if volumes or draw(st.booleans()):
        spec["volumes"] = volumes
    return {"metadata": {"name": "p"}, "spec": spec}


EDITS = st.one_of(
    st.tuples(st.just("env"), st.lists(NAMES, min_size=1, max_size=3)),
    st.tuples(st.just("mount"), NAMES),
    st.tuples(st.just("volume"), NAMES),
    st.tuples(st.just("item"), NAMES, NAMES, ITEM),
    st.tuples(st.just("init"), st.lists(NAMES, max_size=2)),
)


class ScanningModel:
    """The edits applied to a copy of the pod by scanning it: what the indexes must reproduce."""

    def __init__(self, pod: dict[str, Any]) -> None:
        self.pod = copy.deepcopy(pod)
        self.spec = self.pod["spec"]
        self.original_volumes = len(self.spec.get("volumes") or [])
        self.added_inits = 0

    def _every_container(self) -> list[dict[str, Any]]:
        return [*(self.spec.get("initContainers") or []), *self.spec["containers"]]

    def append(self, part: str, entries: list[dict[str, Any]]) -> None:
        for container in self._every_container():
            present = container.setdefault(part, [])
            for entry in entries:
                if entry["name"] not in {str(e.get("name")) for e in present}:
                    present.append(dict(entry))

    def add_volume(self, volume: dict[str, Any]) -> bool:
        volumes = self.spec.setdefault("volumes", [])
        if any(v.get("name") == volume["name"] for v in volumes):
            return False
        volumes.append(volume)
        return True

    def add_item(self, volume_name: str, secret_name: str, item: dict[str, Any]) -> str:
        volumes = self.spec.setdefault("volumes", [])
        for volume in volumes:
            source = volume.get("secret")
            if isinstance(source, dict) and source.get("secretName") == secret_name:
                items = source.setdefault("items", [])
                if item not in items:
                    items.append(dict(item))
                return str(volume.get("name", volume_name))
        volumes.append(
            {"name": volume_name, "secret": {"secretName": secret_name, "items": [item], "optional": True}}
        )
        return volume_name

    def add_init(self, container: dict[str, Any]) -> None:
        self.spec.setdefault("initContainers", []).append(copy.deepcopy(container))


def _normal(pod: dict[str, Any]) -> dict[str, Any]:
    # The model creates empty lists the patch does not; compare what both hold.
    spec = pod["spec"]
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind) or []:
            for part in ("env", "volumeMounts"):
                if container.get(part) == []:
                    del container[part]
    if spec.get("initContainers") == []:
        del spec["initContainers"]
    return pod


@settings(max_examples=400, deadline=None)
@given(pod=pods(), edits=st.lists(EDITS, max_size=12))
def test_the_indexed_editor_edits_as_the_scanning_model(pod: dict[str, Any], edits: list[Any]) -> None:
    editor, model = PodEditor(pod), ScanningModel(pod)
    for n, edit in enumerate(edits):
        kind = edit[0]
        if kind == "env":
            entries = [{"name": name, "value": f"v{n}"} for name in edit[1]]
            editor.add_env(*entries)
            model.append("env", entries)
        elif kind == "mount":
            mount = {"name": edit[1], "mountPath": f"/m{n}"}
            editor.add_volume_mount(mount)
            model.append("volumeMounts", [mount])
        elif kind == "volume":
            assert editor.add_volume({"name": edit[1], "emptyDir": {}}) == model.add_volume(
                {"name": edit[1], "emptyDir": {}}
            )
        elif kind == "item":
            _, volume_name, secret_name, item = edit
            got = editor.add_secret_volume_item(
                volume_name=volume_name, secret_name=secret_name, item=dict(item)
            )
            assert got == model.add_item(volume_name, secret_name, dict(item))
        else:
            container = {"name": f"added-{n}", "env": [{"name": name} for name in edit[1]]}
            editor.add_init_container(copy.deepcopy(container))
            model.add_init(container)
        for name in ("a", "b", "c", "d", "e"):
            found = editor.find_volume(name)
            expected = next((v for v in model.spec.get("volumes") or [] if v.get("name") == name), None)
            assert (found is None) == (expected is None)
    assert _normal(apply_patch(pod, build_patch(editor))) == _normal(model.pod)


def test_the_model_comparison_catches_an_index_that_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: an editor whose secret-volume index forgets the pod's volumes is caught."""
    from tasksecrets.managers import editor as editor_module

    real = editor_module._VolumeIndexes.__init__

    def forgetful(self: Any, volumes: list[Any]) -> None:
        real(self, volumes)
        self.original_by_secret.clear()

    monkeypatch.setattr(editor_module._VolumeIndexes, "__init__", forgetful)
    pod = {"spec": {"containers": [{"name": "c"}], "volumes": [{"name": "v", "secret": {"secretName": "s"}}]}}
    editor, model = PodEditor(pod), ScanningModel(pod)
    item = {"key": "k", "path": "k"}
    assert editor.add_secret_volume_item(volume_name="new", secret_name="s", item=item) != model.add_item(
        "new", "s", item
    )


class CountingCodec:
    """A ``name -> value`` codec over JSON that counts how often it parses."""

    def __init__(self) -> None:
        self.parses = 0

    def parse(self, text: str) -> dict[str, str]:
        self.parses += 1
        data = json.loads(text)
        if not isinstance(data, dict):
            raise InjectionError("not an object")
        return data

    def codec(self) -> MappingCodec:
        return MappingCodec(parse=self.parse, render=lambda entries: json.dumps(dict(entries)))


def _annotated(value: str) -> dict[str, Any]:
    return {"metadata": {"annotations": {"x/exports": value}}, "spec": {"containers": [{"name": "c"}]}}


def test_a_merged_annotation_is_read_once_and_written_when_read() -> None:
    counting = CountingCodec()
    editor = PodEditor(_annotated('{"A": "1"}'))
    for entries in ({"B": "2"}, {"A": "other", "C": "3"}, {}):
        editor.check_mapping_annotation("x/exports", codec=counting.codec())
        editor.merge_annotation("x/exports", entries, codec=counting.codec())
    assert counting.parses == 1
    assert editor.get_annotation("x/exports") == '{"A": "1", "B": "2", "C": "3"}'
    assert editor.new_annotations == {"x/exports": '{"A": "1", "B": "2", "C": "3"}'}
    editor.set_annotation("x/exports", '{"Z": "9"}')  # a value set whole replaces the merged one
    editor.merge_annotation("x/exports", {"D": "4"}, codec=counting.codec())
    assert editor.get_annotation("x/exports") == '{"Z": "9", "D": "4"}' and counting.parses == 2


def test_an_unusable_annotation_is_refused_for_every_secret_and_read_once() -> None:
    counting = CountingCodec()
    editor = PodEditor(_annotated("[1, 2]"))
    for _ in range(5):
        with pytest.raises(InjectionError, match="not an object"):
            editor.check_mapping_annotation("x/exports", codec=counting.codec())
    assert counting.parses == 1 and not editor.changed
