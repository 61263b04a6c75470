"""The fast paths of the injector layer give what the general paths give, and their memos stay bounded.

Covers: the pod editor's all-containers path against explicit targets, the identity memo of names
derived from a Secret, Global's decline reasons, its snapshot of the process environment, and its
listing of the secrets directory (files that appear later are seen).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from managers.conformance import make_pod
from tasksecrets.admission.patches import apply_patch, build_patch
from tasksecrets.errors import InjectionError, ManifestError
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.global_.injector import GlobalInjector
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.memo import SecretMemo
from tasksecrets.sdk.secret import MountType, Secret

FAKE = "fake-global-value-789"


def edit(editor: PodEditor, *, explicit: bool) -> None:
    targets = editor.container_targets() if explicit else None
    env = [{"name": "A", "value": "1"}, {"name": "EXISTING", "value": "2"}, {"name": "A", "value": "3"}]
    editor.add_env(*env, targets=targets)
    editor.add_volume_mount({"name": "vol", "mountPath": "/v"}, targets=targets)
    editor.add_volume_mount({"name": "vol", "mountPath": "/w"}, targets=targets)
    editor.add_env({"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}, targets=targets)


def test_all_containers_path_equals_explicit_targets() -> None:
    pod = make_pod([Secret(group="g", key="k")])
    for container in pod["spec"]["containers"]:
        container["env"] = [{"name": "EXISTING", "value": "kept"}]
    fast, general = PodEditor(pod), PodEditor(pod)
    edit(fast, explicit=False)
    edit(general, explicit=True)
    assert fast.edit_count == general.edit_count > 0
    assert build_patch(fast) == build_patch(general)
    # Each container gets its own copy of every env var.
    envs = [c["env"][-1] for c in apply_patch(pod, build_patch(fast))["spec"]["containers"]]
    assert len({id(e) for e in envs}) == len(envs)


def test_all_containers_path_after_an_added_init_container_includes_it() -> None:
    original = make_pod([Secret(group="g", key="k")])
    editor = PodEditor(original)
    editor.add_env({"name": "BEFORE", "value": "1"})
    editor.add_init_container({"name": "added", "image": "busybox:1.36"})
    editor.add_env({"name": "AFTER", "value": "2"})
    pod = apply_patch(original, build_patch(editor))
    added = pod["spec"]["initContainers"][-1]
    assert added["env"] == [{"name": "AFTER", "value": "2"}]
    assert all(
        [e["name"] for e in c["env"]][-2:] == ["BEFORE", "AFTER"]
        for c in [*pod["spec"]["initContainers"][:-1], *pod["spec"]["containers"]]
    )


def test_a_container_that_cannot_be_edited_is_still_reported() -> None:
    pod = make_pod([Secret(group="g", key="k")])
    pod["spec"]["containers"][0]["env"] = "not a list"
    with pytest.raises(ManifestError, match=r"spec.containers\[0\].env must be a list"):
        PodEditor(pod).add_env({"name": "A", "value": "1"})


def test_secret_memo_by_identity_and_bounded() -> None:
    calls: list[Secret] = []

    def derive(secret: Secret) -> str:
        calls.append(secret)
        return secret.group.upper()

    memo = SecretMemo(derive, size=4)
    one = Secret(group="g", key="k")
    assert memo(one) == memo(one) == "G" and len(calls) == 1
    twin = Secret(group="g", key="k")  # equal, another object: derived again, same answer
    assert memo(twin) == "G" and len(calls) == 2
    for i in range(10):
        assert memo(Secret(group=f"x{i}", key="k")) == f"X{i}"
        assert len(memo) <= 4


def source_and_injector(tmp_path: Path, env: dict[str, str]) -> tuple[GlobalSecretSource, GlobalInjector]:
    source = GlobalSecretSource(environ=env, secrets_dir=tmp_path)
    return source, GlobalInjector(source)


def test_declines_say_where_global_looked_and_never_the_value(tmp_path: Path) -> None:
    _, injector = source_and_injector(tmp_path, {"FLYTE_SECRET_G_K": FAKE})
    pod = make_pod([Secret(group="g", key="k")])
    for secret in (
        Secret(group="g", key="k", mount_requirement=MountType.FILE),
        Secret(group="absent", key="k"),
        Secret(group="../up", key="k"),
    ):
        editor = PodEditor(pod)
        with pytest.raises(InjectionError) as info:
            injector.inject(secret, editor)
        assert FAKE not in str(info.value) and not editor.changed
    with pytest.raises(InjectionError, match="file " + str(tmp_path / "absent" / "k")):
        injector.inject(Secret(group="absent", key="k"), PodEditor(pod))
    editor = PodEditor(pod)
    assert injector.inject(Secret(group="g", key="k"), editor) and editor.changed


def test_process_environment_is_read_once_with_the_prefix_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_SECRET_SNAP_KEY", FAKE)
    monkeypatch.setenv("UNRELATED_SNAP", "x")
    source = GlobalSecretSource(environ=os.environ, secrets_dir=None)
    assert source.lookup(Secret(group="snap", key="key")) == FAKE
    assert not source.holds_nothing
    assert "UNRELATED_SNAP" not in source._environ and FAKE not in repr(source)


def test_an_environment_without_the_prefix_holds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Global reads a snapshot of the prefixed names: with none and no directory it is left out."""
    from tasksecrets.admission.config import parse_config
    from tasksecrets.admission.mutator import Mutator

    for name in [n for n in os.environ if n.startswith("FLYTE_SECRET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("UNRELATED_SNAP", "x")
    source = GlobalSecretSource(environ=os.environ, secrets_dir=None)
    assert source.holds_nothing and source.fixed
    assert [i.name for i in Mutator(parse_config({}), global_secrets=source).injectors] == ["K8s"]
    monkeypatch.setenv("FLYTE_SECRET_SNAP_KEY", FAKE)
    source = GlobalSecretSource(environ=os.environ, secrets_dir=None)
    assert not source.holds_nothing and source.fixed
    assert [i.name for i in Mutator(parse_config({}), global_secrets=source).injectors] == ["Global", "K8s"]


def test_files_that_appear_later_are_seen(tmp_path: Path) -> None:
    source, _ = source_and_injector(tmp_path, {})
    secret = Secret(group="late", key="token")
    past = time.time() - 60
    os.utime(tmp_path, (past, past))  # an old directory: its listing is trusted until it changes
    assert source.lookup(secret) is None
    assert source.lookup(secret) is None  # from the listing, without looking for the file
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / "token").write_text(FAKE)
    assert source.lookup(secret) == FAKE
    (tmp_path / "late" / "token").write_text(FAKE + "-new")  # values are always read afresh
    assert source.lookup(secret) == FAKE + "-new"


def test_a_listing_taken_within_the_same_tick_is_not_trusted(tmp_path: Path) -> None:
    source, _ = source_and_injector(tmp_path, {})
    secret = Secret(group="g", key="k")
    stamp = tmp_path.stat().st_mtime_ns  # recent: an entry added now could keep this timestamp
    assert source.lookup(secret) is None
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "k").write_text(FAKE)
    os.utime(tmp_path, ns=(stamp, stamp))  # as if the change fell in the same timestamp tick
    assert source.lookup(secret) == FAKE


def test_a_secrets_directory_that_goes_and_comes_back(tmp_path: Path) -> None:
    root = tmp_path / "secrets"
    source = GlobalSecretSource(environ={}, secrets_dir=root)
    secret = Secret(group="g", key="k")
    assert source.lookup(secret) is None
    (root / "g").mkdir(parents=True)
    (root / "g" / "k").write_text(FAKE)
    assert source.lookup(secret) == FAKE
