"""The ``flyte.secrets/s<N>`` annotation codec and the injection label (docs/compat.md section 2).

A Secret travels to its pod as one annotation per request: the legacy protobuf text format that
Flyte's Go producer writes (one ``name: value`` line per non-empty field, Go's byte escaping),
base32-encoded with the alphabet ``a-z1-6`` and no padding. Encoding is byte-for-byte what Flyte
writes. Decoding accepts everything Go's lenient text parser accepts (``name:value``, single or
double quotes, adjacent strings concatenated, ``;``/``,`` separators, ``#`` comments, enums by
name or number, C escapes including ``\\ooo`` and ``\\xHH``) and refuses, with
:class:`~tasksecrets.errors.WireError`, what it refuses (unknown or repeated fields, broken
base32, strings that are not UTF-8). Decoding any input gives a Secret or a WireError.

Annotation keys: every key starting with ``flyte.secrets/s`` is a request, as in Flyte. Keys whose
suffix is a decimal number are processed in numeric order (``s2`` before ``s10``); other suffixes
(``flyte.secrets/sfoo``) come after them, sorted by key, so the order is always deterministic.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tasksecrets.contract import (
    ANNOTATION_PREFIX,
    BASE32_ALPHABET,
    INJECT_LABEL,
    INJECT_LABEL_VALUE,
    MAX_ANNOTATION_BYTES,
    MountType,
)
from tasksecrets.errors import WireError
from tasksecrets.sdk.secret import Secret

__all__ = [
    "b32_decode",
    "b32_encode",
    "count_pod_secrets",
    "decode_pod_secrets",
    "decode_secret",
    "encode_pod_metadata",
    "encode_secret",
    "secret_to_text",
    "text_to_secret",
]

# Decoded annotations are cached: the same few requests (secret names, never values) come back on
# every pod of a task. The cache holds at most this many entries, each at most this long, so a
# flood of distinct or huge annotations cannot grow it.
DECODE_CACHE_SIZE = 1024
DECODE_CACHE_MAX_CHARS = 1024

_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_OURS = BASE32_ALPHABET
_TO_OURS = str.maketrans(_STD, _OURS)
_TO_STD = str.maketrans(_OURS, _STD)
_B32_RE = re.compile(r"[a-z1-6]*")
# Our alphabet in order is the digits 0-31 of Python's int(..., 32): decoding runs in C.
_TO_BASE32_DIGITS = bytes.maketrans(_OURS.encode(), b"0123456789abcdefghijklmnopqrstuv")

_FIELDS = ("group", "group_version", "key", "mount_requirement", "env_var")
_SIMPLE_ESCAPES = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\\\"}
# One entry per byte value: Go's legacy text writer escaping.
_ESCAPED_BYTES = [_SIMPLE_ESCAPES.get(b, chr(b) if 0x20 <= b <= 0x7E else f"\\{b:03o}") for b in range(256)]


def b32_encode(data: bytes) -> str:
    """Base32 with the alphabet ``a-z1-6`` and no padding (also names K8s secret volumes)."""
    return base64.b32encode(data).decode("ascii").rstrip("=").translate(_TO_OURS)


def b32_decode(value: str) -> bytes:
    """Inverse of :func:`b32_encode`; WireError on any character or length Go's decoder refuses."""
    # Go's decoder skips line breaks; anything else outside the alphabet (padding too) is an error.
    text = value.replace("\r", "").replace("\n", "")
    if not _B32_RE.fullmatch(text):
        bad = next(c for c in text if not ("a" <= c <= "z" or "1" <= c <= "6"))
        raise WireError(f"not valid base32: character {bad!r} is outside the alphabet a-z1-6")
    if len(text) % 8 in (1, 3, 6):
        raise WireError(f"not valid base32: a length of {len(text)} characters cannot be decoded")
    # Every character is 5 bits: read them all as one base-32 integer, drop the tail bits.
    nbits = 5 * len(text)
    nbytes = nbits // 8
    if nbytes == 0:
        return b""
    digits = text.encode("ascii").translate(_TO_BASE32_DIGITS)
    return (int(digits, 32) >> (nbits - 8 * nbytes)).to_bytes(nbytes, "big")


# -- text format: writing -----------------------------------------------------------------------


def _quote(value: str) -> str:
    return '"' + "".join([_ESCAPED_BYTES[b] for b in value.encode("utf-8")]) + '"'


def secret_to_text(secret: Secret) -> str:
    """The Secret in the legacy protobuf text format, exactly as Go's ``MarshalTextString`` writes it."""
    lines = []
    if secret.group:
        lines.append(f"group: {_quote(secret.group)}\n")
    if secret.group_version:
        lines.append(f"group_version: {_quote(secret.group_version)}\n")
    if secret.key:
        lines.append(f"key: {_quote(secret.key)}\n")
    if secret.mount_requirement is not MountType.ANY:
        lines.append(f"mount_requirement: {secret.mount_requirement.name}\n")
    if secret.env_var:
        lines.append(f"env_var: {_quote(secret.env_var)}\n")
    return "".join(lines)


def encode_secret(secret: Secret) -> str:
    """The annotation value for ``secret``; WireError if it would exceed 256 KiB."""
    value = b32_encode(secret_to_text(secret).encode("utf-8"))
    if len(value) > MAX_ANNOTATION_BYTES:
        raise WireError(
            f"the encoded request for Secret(group=..., key=...) is {len(value)} bytes, over the "
            f"{MAX_ANNOTATION_BYTES}-byte limit of a pod annotation: use shorter group, key and env_var"
        )
    return value


def encode_pod_metadata(secrets: Iterable[Secret]) -> tuple[dict[str, str], dict[str, str]]:
    """``(labels, annotations)`` a pod needs for these requests; both empty when there are none."""
    annotations = {f"{ANNOTATION_PREFIX}{i}": encode_secret(s) for i, s in enumerate(secrets)}
    labels = {INJECT_LABEL: INJECT_LABEL_VALUE} if annotations else {}
    return labels, annotations


# -- text format: reading -----------------------------------------------------------------------

_IDENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-.")
_SYMBOLS = frozenset("<>{}:[];,/")
_WHITESPACE = frozenset(" \t\n\r")
_C_ESCAPES = {
    "a": b"\a",
    "b": b"\b",
    "f": b"\f",
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
    "v": b"\v",
    "?": b"?",
    "'": b"'",
    '"': b'"',
    "\\": b"\\",
}
_HEX_DIGITS = {"x": 2, "X": 2, "u": 4, "U": 8}


class _Tokenizer:
    """The tokens of Go's legacy text parser; a quoted token is returned as ``('"', bytes)``."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def _skip(self) -> None:
        s, i = self.s, self.i
        while i < len(s) and (s[i] in _WHITESPACE or s[i] == "#"):
            if s[i] == "#":
                while i < len(s) and s[i] != "\n":
                    i += 1
                continue
            i += 1
        self.i = i

    def next(self) -> tuple[str, Any] | None:
        self._skip()
        if self.i >= len(self.s):
            return None
        c = self.s[self.i]
        if c in _SYMBOLS:
            self.i += 1
            return ("sym", c)
        if c in "\"'":
            parts = [self._quoted()]
            # Adjacent quoted strings (either quote) are one string, as in Go and C: joined once at
            # the end, so many short pieces cost their total length, not its square.
            while True:
                self._skip()
                if self.i >= len(self.s) or self.s[self.i] not in "\"'":
                    break
                parts.append(self._quoted())
            return ('"', b"".join(parts))
        j = self.i
        while j < len(self.s) and self.s[j] in _IDENT_CHARS:
            j += 1
        if j == self.i:
            raise WireError(f"unexpected character {c!r} at offset {self.i}")
        token = self.s[self.i : j]
        self.i = j
        return ("ident", token)

    def _quoted(self) -> bytes:
        s, quote = self.s, self.s[self.i]
        j = self.i + 1
        while j < len(s) and s[j] != quote and s[j] != "\n":
            j += 2 if s[j] == "\\" and j + 1 < len(s) else 1
        if j >= len(s) or s[j] != quote:
            raise WireError(f"unmatched quote at offset {self.i}")
        body = s[self.i + 1 : j]
        self.i = j + 1
        return _unescape(body)


def _unescape(body: str) -> bytes:
    if "\\" not in body:
        return body.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(body):
            raise WireError("a string ends with a lone backslash")
        e = body[i + 1]
        i += 2
        if e in _C_ESCAPES:
            out += _C_ESCAPES[e]
        elif "0" <= e <= "7":
            digits = e + body[i : i + 2]
            i += 2
            if len(digits) < 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise WireError(f"bad octal escape \\{digits}: use exactly three octal digits up to \\377")
            out.append(int(digits, 8))
        elif e in _HEX_DIGITS:
            n = _HEX_DIGITS[e]
            digits = body[i : i + n]
            i += n
            if len(digits) < n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise WireError(f"bad escape \\{e}{digits}: it needs {n} hexadecimal digits")
            code = int(digits, 16)
            if e in "xX":
                out.append(code)
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise WireError(f"bad escape \\{e}{digits}: not a Unicode code point")
            else:
                out += chr(code).encode("utf-8")
        else:
            raise WireError(f"unknown escape \\{e}")
    return bytes(out)


def _parse_int(token: str) -> int | None:
    # Go's strconv.ParseInt(s, 0, 32): sign, then 0x/0o/0b prefixes, a leading 0 means octal.
    sign, digits = (-1, token[1:]) if token[:1] == "-" else (1, token[1:] if token[:1] == "+" else token)
    if digits[:1] in ("+", "-"):
        return None
    try:
        if digits[:2].lower() in ("0x", "0o", "0b"):
            value = int(digits, 0)
        elif len(digits) > 1 and digits[0] == "0":
            value = int(digits[1:], 8)
        else:
            value = int(digits, 10)
    except ValueError:
        return None
    value *= sign
    return value if -(2**31) <= value < 2**31 else None


# The canonical text every producer writes; parsed without the general tokenizer.
_CANONICAL_LINE = (
    r'(group|group_version|key|env_var|mount_requirement): (?:"((?:[^"\\\n]|\\.)*)"|(ENV_VAR|FILE))\n'
)
_CANONICAL_LINES = re.compile(_CANONICAL_LINE)


def _parse_canonical(text: str) -> Secret | None:
    fields: dict[str, Any] = {}
    pos, end = 0, len(text)
    while pos < end:
        match = _CANONICAL_LINES.match(text, pos)
        if match is None:
            return None
        pos = match.end()
        name, quoted, enum = match.groups()
        if name in fields:
            return None  # let the general parser report it
        if name == "mount_requirement":
            if enum is None:
                return None
            fields[name] = MountType[enum]
        elif quoted is None:
            return None
        elif "\\" in quoted:
            fields[name] = _field_value(name, ('"', _unescape(quoted)))
        else:
            fields[name] = quoted
    return Secret.from_wire(**fields)


def text_to_secret(text: str) -> Secret:
    """Parse the legacy protobuf text format of a Secret, as leniently as Go's parser."""
    fast = _parse_canonical(text)
    if fast is not None:
        return fast
    tokens = _Tokenizer(text)
    fields: dict[str, Any] = {}
    while (tok := tokens.next()) is not None:
        kind, name = tok
        if kind != "ident":
            raise WireError(f"expected a field name, found {name!r}")
        if name not in _FIELDS:
            raise WireError(f"unknown field name {name!r}; a Secret has {', '.join(_FIELDS)}")
        if name in fields:
            raise WireError(f"non-repeated field {name!r} was repeated")
        colon = tokens.next()
        if colon != ("sym", ":"):
            raise WireError(f"expected ':' after {name!r}, found {colon[1] if colon else 'the end'!r}")
        value = tokens.next()
        if value is None:
            raise WireError(f"field {name!r} has no value")
        fields[name] = _field_value(name, value)
        # Optional separator.
        save = tokens.i
        sep = tokens.next()
        if sep not in (("sym", ";"), ("sym", ",")):
            tokens.i = save
    return Secret.from_wire(**fields)


def _field_value(name: str, token: tuple[str, Any]) -> Any:
    kind, value = token
    if name == "mount_requirement":
        if kind != "ident":
            raise WireError(f"mount_requirement must be ANY, ENV_VAR, FILE or their number, found {value!r}")
        if value in MountType.__members__:
            return MountType[value]
        number = _parse_int(value)
        if number is None:
            raise WireError(f"mount_requirement {value!r} is not ANY, ENV_VAR, FILE or a number")
        try:
            return MountType(number)
        except ValueError:
            raise WireError(
                f"mount_requirement {number} is not one of 0 (ANY), 1 (ENV_VAR), 2 (FILE)"
            ) from None
    if kind != '"':
        raise WireError(f"field {name!r} must be a quoted string, found {value!r}")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"field {name!r} is not valid UTF-8") from None


def decode_secret(value: str) -> Secret:
    """Decode one annotation value into a Secret; WireError for anything that is not one.

    Successful decodes of values up to ``DECODE_CACHE_MAX_CHARS`` are cached (Secrets are frozen,
    so sharing one is safe); errors are not cached.
    """
    if not isinstance(value, str):
        raise WireError(f"an annotation value must be a string, got {type(value).__name__}")
    if len(value) > MAX_ANNOTATION_BYTES:
        # Checked before any decoding work: no encoder writes more, and it bounds what one costs.
        raise WireError(
            f"the value is {len(value)} characters, over the {MAX_ANNOTATION_BYTES}-byte limit of a "
            "secret request (tasksecrets and Flyte write far less): the pod was not rendered by them"
        )
    if len(value) <= DECODE_CACHE_MAX_CHARS:
        return _decode_cached(value)
    return _decode_uncached(value)


def _decode_uncached(value: str) -> Secret:
    data = b32_decode(value)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("the decoded request is not valid UTF-8 text") from None
    return text_to_secret(text)


_decode_cached = functools.lru_cache(maxsize=DECODE_CACHE_SIZE)(_decode_uncached)


def _order(key: str) -> tuple[int, int, str]:
    suffix = key[len(ANNOTATION_PREFIX) :]
    if suffix.isascii() and suffix.isdigit():
        return (0, int(suffix), key)
    return (1, 0, key)


def count_pod_secrets(annotations: Mapping[str, Any]) -> int:
    """How many secret requests the annotations hold (keys as :func:`decode_pod_secrets` reads them).

    Nothing is decoded: a count to check against a limit before any decoding work.
    """
    return sum(1 for key in annotations if isinstance(key, str) and key.startswith(ANNOTATION_PREFIX))


def decode_pod_secrets(annotations: Mapping[str, Any]) -> list[Secret]:
    """The secret requests of a pod's annotations, in index order (see the module docstring)."""
    items = tuple(
        (k, v) for k, v in annotations.items() if isinstance(k, str) and k.startswith(ANNOTATION_PREFIX)
    )
    if not items:
        return []
    # The same few sets of requests come with every pod of a task: small sets are remembered whole.
    if sum(len(k) + (len(v) if isinstance(v, str) else _POD_CACHE_MAX_CHARS) for k, v in items) <= (
        _POD_CACHE_MAX_CHARS
    ):
        return list(_decode_items(items))
    return list(_decode_items.__wrapped__(items))


# The pod-level cache: at most this many sets of annotations, each at most this many characters.
_POD_CACHE_SIZE = 256
_POD_CACHE_MAX_CHARS = 8192


@functools.lru_cache(maxsize=_POD_CACHE_SIZE)
def _decode_items(items: tuple[tuple[str, Any], ...]) -> tuple[Secret, ...]:
    secrets = []
    for key, value in sorted(items, key=lambda item: _order(item[0])):
        try:
            secrets.append(decode_secret(value))
        except WireError as exc:
            raise WireError(f"annotation {key} does not decode: {exc}") from None
    return tuple(secrets)
