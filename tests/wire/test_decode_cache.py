"""The decode caches of the annotation codec: results as decoded afresh, bounded, errors not cached."""

from __future__ import annotations

import pytest

from tasksecrets import wire
from tasksecrets.errors import WireError
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.wire import decode_pod_secrets, decode_secret, encode_pod_metadata, encode_secret


def test_cached_decode_equals_a_fresh_decode_and_is_shared() -> None:
    secret = Secret(group="db-creds", key="password", mount_requirement=MountType.ENV_VAR, env_var="DB_PW")
    value = encode_secret(secret)
    first, second = decode_secret(value), decode_secret(value)
    assert first == second == secret == wire._decode_uncached(value)
    assert first is second  # served from the cache (Secrets are frozen, so sharing is safe)


def test_decode_cache_is_bounded() -> None:
    for i in range(wire.DECODE_CACHE_SIZE + 50):
        assert decode_secret(encode_secret(Secret(group=f"g{i}", key="k"))).group == f"g{i}"
    info = wire._decode_cached.cache_info()
    assert info.maxsize == wire.DECODE_CACHE_SIZE
    assert info.currsize <= wire.DECODE_CACHE_SIZE


def test_long_values_are_decoded_but_not_cached() -> None:
    secret = Secret(group="g" * 2000, key="k")
    value = encode_secret(secret)
    assert len(value) > wire.DECODE_CACHE_MAX_CHARS
    before = wire._decode_cached.cache_info()
    assert decode_secret(value) == secret
    after = wire._decode_cached.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


def test_errors_are_not_cached_and_say_the_same_each_time() -> None:
    messages = []
    for _ in range(2):
        with pytest.raises(WireError) as info:
            decode_secret("0not-base32")
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "outside the alphabet" in messages[0]


def test_pod_level_cache_equals_decoding_each_annotation() -> None:
    secrets = [Secret(group="g", key=f"k{i}") for i in range(12)]
    _, annotations = encode_pod_metadata(secrets)
    annotations["other"] = "x"
    expected = [decode_secret(annotations[f"flyte.secrets/s{i}"]) for i in range(12)]
    first = decode_pod_secrets(annotations)
    assert first == expected == secrets  # s10 and s11 after s9: numeric order
    again = decode_pod_secrets(dict(reversed(list(annotations.items()))))
    assert again == expected
    first.append(Secret(group="x", key="y"))  # callers get their own list
    assert decode_pod_secrets(annotations) == expected
    assert wire._decode_items.cache_info().maxsize == wire._POD_CACHE_SIZE


def test_pod_level_cache_is_bounded_and_skips_big_or_odd_annotations() -> None:
    for i in range(wire._POD_CACHE_SIZE + 20):
        _, annotations = encode_pod_metadata([Secret(group=f"pod{i}", key="k")])
        assert decode_pod_secrets(annotations) == [Secret(group=f"pod{i}", key="k")]
    assert wire._decode_items.cache_info().currsize <= wire._POD_CACHE_SIZE
    # Values that are not text (unhashable ones too) still give the codec's error, not a TypeError.
    with pytest.raises(WireError, match=r"annotation flyte\.secrets/s0 does not decode: .*must be a string"):
        decode_pod_secrets({"flyte.secrets/s0": {"not": "text"}})
    big = {f"flyte.secrets/s{i}": encode_secret(Secret(group="g" * 500, key=f"k{i}")) for i in range(20)}
    assert [s.key for s in decode_pod_secrets(big)] == [f"k{i}" for i in range(20)]


def test_the_first_undecodable_annotation_in_index_order_is_named() -> None:
    _, annotations = encode_pod_metadata([Secret(group="g", key="k")] * 3)
    annotations["flyte.secrets/s10"] = "!"
    annotations["flyte.secrets/s2"] = "?"
    for _ in range(2):
        with pytest.raises(WireError, match=r"^annotation flyte\.secrets/s2 does not decode"):
            decode_pod_secrets(annotations)
