"""The flyte.secrets/s<N> codec against compat.md section 2, flytekit's own protobuf, and hypothesis."""

from __future__ import annotations

import base64
import contextlib

import pytest
from flyteidl.core import security_pb2
from flytekit.models.security import Secret as FlytekitSecret
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st

from tasksecrets.contract import ANNOTATION_PREFIX, INJECT_LABEL, MAX_ANNOTATION_BYTES
from tasksecrets.errors import WireError
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.wire import (
    b32_decode,
    b32_encode,
    decode_pod_secrets,
    decode_secret,
    encode_pod_metadata,
    encode_secret,
    secret_to_text,
    text_to_secret,
)

WORKED_VALUE = (
    "m4zg54lqhiqce4ltmvzc11lomzxsectlmv3tuibcovzwk3s6onswg3tfoqrau2lpovxhix2smvyxk1lsmvwwk2tuhiqektswl4lecuqk"
)


def encode_text(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return b32_encode(data)


def test_worked_example_of_compat_md() -> None:
    secret = Secret(group="user-info", key="user_secret", mount_requirement=MountType.ENV_VAR)
    assert secret_to_text(secret) == 'group: "user-info"\nkey: "user_secret"\nmount_requirement: ENV_VAR\n'
    assert encode_secret(secret) == WORKED_VALUE
    assert decode_secret(WORKED_VALUE) == secret


def test_constants() -> None:
    assert INJECT_LABEL == "inject-flyte-secrets"
    assert ANNOTATION_PREFIX == "flyte.secrets/s"


def test_fields_in_field_number_order_and_empty_ones_omitted() -> None:
    full = Secret(group="g", key="k", group_version="v", mount_requirement=MountType.FILE, env_var="E")
    assert (
        secret_to_text(full)
        == 'group: "g"\ngroup_version: "v"\nkey: "k"\nmount_requirement: FILE\nenv_var: "E"\n'
    )
    assert secret_to_text(Secret(group="g", key="k")) == 'group: "g"\nkey: "k"\n'  # ANY omitted
    assert secret_to_text(Secret.from_wire()) == ""


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        ("a\nb", r"a\nb"),
        ("a\rb", r"a\rb"),
        ("a\tb", r"a\tb"),
        ('a"b', r"a\"b"),
        ("a\\b", r"a\\b"),
        ("it's", "it's"),  # the single quote is NOT escaped (Go), unlike Python's text_format
        ("~ !", "~ !"),
        ("\x00\x1f\x7f", r"\000\037\177"),
        ("é", r"\303\251"),  # every non-ASCII byte as a 3-digit octal escape
        ("\U0001f511", r"\360\237\224\221"),
    ],
)
def test_go_escaping_byte_by_byte(raw: str, written: str) -> None:
    assert secret_to_text(Secret.from_wire(group=raw)) == f'group: "{written}"\n'
    assert decode_secret(encode_secret(Secret.from_wire(group=raw))).group == raw


def test_base32_alphabet_and_no_padding() -> None:
    assert b32_encode(b"user-info_") == "ovzwk3rnnfxgm216"
    for n in range(12):
        data = bytes(range(n))
        value = b32_encode(data)
        assert "=" not in value and set(value) <= set("abcdefghijklmnopqrstuvwxyz123456")
        assert value == base64.b32encode(data).decode().rstrip("=").lower().translate(
            str.maketrans("234567", "123456")
        )
        assert b32_decode(value) == data


@pytest.mark.parametrize(
    "text",
    [
        'group:"g" key:"k"',
        "group: 'g'\nkey: 'k'\n",
        'group: "g"; key: "k";',
        'group: "g", key: "k",',
        '# a comment\ngroup: "g" # trailing\nkey: "k"',
        'key: "k"\ngroup: "g"',  # any field order
        'group: "" "g"\nkey: \'k\'',  # adjacent strings concatenate
        'group: "\\147"\nkey: "\\x6b"',  # octal and hex escapes
        '  group :  "g"  \r\n\tkey:"k"',
    ],
)
def test_lenient_decoding_like_go(text: str) -> None:
    assert decode_secret(encode_text(text)) == Secret.from_wire(group="g", key="k")


@pytest.mark.parametrize(
    ("value", "mount"),
    [
        ("ENV_VAR", MountType.ENV_VAR),
        ("FILE", MountType.FILE),
        ("ANY", MountType.ANY),
        ("1", MountType.ENV_VAR),
        ("2", MountType.FILE),
        ("0", MountType.ANY),
        ("0x2", MountType.FILE),
        ("+1", MountType.ENV_VAR),
    ],
)
def test_enum_by_name_or_number(value: str, mount: MountType) -> None:
    assert decode_secret(encode_text(f'group: "g" mount_requirement: {value}')).mount_requirement is mount


def test_all_c_escapes_decode() -> None:
    text = r'group: "\a\b\f\n\r\t\v\?\'\"\\\u00e9\U0001F511"'
    assert decode_secret(encode_text(text)).group == "\a\b\f\n\r\t\v?'\"\\é\U0001f511"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('group: "g" colour: "red"', "unknown field name 'colour'"),
        ('group: "a" group: "b"', "repeated"),
        ('group: "a" key: "" key: "b"', "repeated"),
        ("group: g", "quoted string"),
        ('group "g"', "expected ':'"),
        ('group: "g', "unmatched quote"),
        ('group: "a\nb"', "unmatched quote"),
        ('group: "\\q"', "unknown escape"),
        ('group: "\\1"', "octal"),
        ('group: "\\400"', "octal"),
        ('group: "\\xZZ"', "hexadecimal"),
        ('group: "\\uD800"', "code point"),
        ('group: "\\xff"', "UTF-8"),
        ("mount_requirement: SOMETIMES", "mount_requirement"),
        ("mount_requirement: 7", "mount_requirement 7"),
        ('mount_requirement: "FILE"', "mount_requirement"),
        ("group:", "no value"),
        ("{}", "expected a field name"),
        ("[ext]: 1", "expected a field name"),
        ('group: "g" @', "unexpected character"),
    ],
)
def test_decoding_errors_are_wire_errors(text: str, message: str) -> None:
    with pytest.raises(WireError, match=message.replace("(", r"\(")):
        decode_secret(encode_text(text))


@pytest.mark.parametrize("value", ["M4ZG", "m4zg====", "m4zg0", "m4zg 54", "m", "m4z", "m4zg54", "\u00e9"])
def test_broken_base32_is_a_wire_error(value: str) -> None:
    with pytest.raises(WireError, match="base32"):
        decode_secret(value)


def test_invalid_utf8_text_is_a_wire_error() -> None:
    with pytest.raises(WireError, match="UTF-8"):
        decode_secret(b32_encode(b'group: "\xff"'))


def test_non_string_annotation_value_is_a_wire_error() -> None:
    with pytest.raises(WireError):
        decode_secret(42)  # type: ignore[arg-type]


def test_values_over_256_kib_are_refused_on_encode() -> None:
    with pytest.raises(WireError, match="limit"):
        encode_secret(Secret.from_wire(group="g" * MAX_ANNOTATION_BYTES, key="k"))
    # Just under the limit is fine.
    encode_secret(Secret.from_wire(group="g" * (MAX_ANNOTATION_BYTES // 2 - 40), key="k"))


def test_pod_metadata_and_index_order() -> None:
    secrets = [Secret(group=f"g{i}", key="k") for i in range(12)]
    labels, annotations = encode_pod_metadata(secrets)
    assert labels == {"inject-flyte-secrets": "true"}
    assert list(annotations) == [f"flyte.secrets/s{i}" for i in range(12)]
    shuffled = dict(sorted(annotations.items(), reverse=True))  # s9, s8, ..., s11, s10, s1, s0
    shuffled["flyte.secrets/sfoo"] = encode_secret(Secret(group="zz", key="k"))
    shuffled["other.io/x"] = "ignored"
    assert decode_pod_secrets(shuffled) == [*secrets, Secret(group="zz", key="k")]
    assert encode_pod_metadata([]) == ({}, {})


def test_bad_annotation_names_its_key() -> None:
    with pytest.raises(WireError, match=r"annotation flyte\.secrets/s3 does not decode"):
        decode_pod_secrets({"flyte.secrets/s3": "0"})


def _flytekit_idl(secret: Secret) -> security_pb2.Secret:
    return FlytekitSecret(
        group=secret.group,
        key=secret.key,
        group_version=secret.group_version,
        mount_requirement=FlytekitSecret.MountType(int(secret.mount_requirement)),
        env_var=secret.env_var,
    ).to_flyte_idl()


def _fields(msg: security_pb2.Secret) -> tuple[object, ...]:
    return (msg.group, msg.group_version, msg.key, msg.mount_requirement, msg.env_var)


texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)
secrets = st.builds(
    Secret.from_wire,
    group=texts,
    key=texts,
    group_version=texts,
    mount_requirement=st.sampled_from(list(MountType)),
    env_var=st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True) | st.just(""),
)


@settings(max_examples=300, deadline=None)
@given(secrets)
def test_round_trip_and_agreement_with_flytekit_protobuf(secret: Secret) -> None:
    assert decode_secret(encode_secret(secret)) == secret
    # Our text read by protobuf's own parser gives the same fields as flytekit's serialization ...
    parsed = text_format.Parse(secret_to_text(secret), security_pb2.Secret())
    reference = _flytekit_idl(secret) if secret.group else None
    if reference is not None:
        assert _fields(parsed) == _fields(reference)
        # ... and protobuf's text (which escapes ' differently) decodes to the same Secret with ours.
        assert text_to_secret(text_format.MessageToString(reference)) == secret


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz123456", max_size=80))
def test_decoding_anything_gives_a_secret_or_a_wire_error(value: str) -> None:
    with contextlib.suppress(WireError):
        assert isinstance(decode_secret(value), Secret)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="groupkeyvsinmt_:;,#\"'\\ \n0123FILENV_VARx", max_size=60))
def test_parsing_any_text_gives_a_secret_or_a_wire_error(text: str) -> None:
    with contextlib.suppress(WireError):
        assert isinstance(decode_secret(b32_encode(text.encode())), Secret)
