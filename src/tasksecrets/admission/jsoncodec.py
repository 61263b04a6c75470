"""JSON in and out of the admission core: fast where it can be, the standard library's answers always.

JSON goes through orjson when it is installed (the webhook extra), several times faster than the
standard library, with the standard library as the reference: whenever orjson refuses a body (bad
UTF-8, lone surrogates, nesting beyond its limit, ...) or could read it differently (integers too
long for 64 bits, which it turns into floats), the body is parsed again by the standard library, so
results and error messages are exactly the standard library's; a patch is written again by the
standard library wherever orjson could write a float differently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["BadRequest", "dump_patch", "encode_json", "exact_key", "load_body", "parse_body"]


class BadRequest(ValueError):
    """A request body that is not usable JSON; the message says why."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# orjson reads integers beyond 64 bits as floats where the standard library keeps them exact: a body
# with 19 or more digits in a row (anywhere, strings included) is left to the standard library.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_NUMBER = b"0" * 19
# orjson writes floats below 1e-4 unlike the standard library (``1e-7``, ``0.00001``, not ``1e-07``,
# ``1e-05``); an output that may hold one is written again by the standard library.
_FIVE_TO_NINE = (b"5", b"6", b"7", b"8", b"9")  # after "<digit>e-": an exponent orjson writes short
_SMALL_DECIMAL = b"0.0000"

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


def load_body(body: bytes | str | Mapping[str, Any]) -> Any:
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
    return load_body(body)


def _load_std(body: bytes | str | Mapping[str, Any]) -> Any:
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the request body is not UTF-8 (byte {exc.start})") from None
    elif isinstance(body, str):
        text = body
    else:
        raise BadRequest(f"the request body must be bytes or text, got {type(body).__name__}")
    if not text.strip():
        raise BadRequest("the request body is empty: send an AdmissionReview as JSON")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers too long to convert
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


def dump_patch(patch: list[dict[str, Any]]) -> bytes:
    """Compact UTF-8 JSON, byte for byte what ``json.dumps(..., ensure_ascii=False)`` writes."""
    if _fast_dumps is not None:
        try:
            data = _fast_dumps(patch)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a huge integer, ...
            pass
        else:
            if not _may_hold_small_float(data):
                return data
    return json.dumps(patch, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _may_hold_small_float(data: bytes) -> bool:
    # A number such as 1e-07 or 0.00001 (strings may match too; the standard library then writes
    # the patch again, just slower). Found with bytes.find, which scans in C, not with a regex.
    if _SMALL_DECIMAL in data:
        return True
    at = data.find(b"e-")
    while at != -1:
        after = data[at + 2 : at + 4]
        if data[at - 1 : at].isdigit() and after[:1] in _FIVE_TO_NINE and not after[1:].isdigit():
            return True
        at = data.find(b"e-", at + 2)
    return False


def exact_key(value: Any) -> bytes | str:
    """A key equal for two values of decoded JSON exactly when the values are equal, types included.

    orjson's output tells every JSON value apart but one pair: it writes None and a float that is
    not finite (which the standard library's reading of ``1e400`` gives) alike, as ``null``. Where
    ``null`` appears, or orjson refuses the value, ``repr`` is the key: it writes dicts, lists,
    strings, numbers, booleans and None back as literals, exactly (1, 1.0, True, inf, None).
    """
    if _plain_dumps is not None:
        try:
            encoded = _plain_dumps(value)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a huge integer, deep nesting
            pass
        else:
            if b"null" not in encoded:
                # A copy of its exact size: orjson's bytes keep the buffer it grew (4 KiB for a few
                # bytes, 78 KiB on average for pod views), and keys are kept for as long as the memo.
                return bytes(memoryview(encoded))
    return repr(value)
