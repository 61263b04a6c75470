"""Every encoding a secret value may be printed in, for the tests that assert none of them leaks.

Each form is a function of the value's text; :func:`value_forms` gives (name, encoded text) pairs.
"""

from __future__ import annotations

import base64
import json
import re

__all__ = ["LEAKY_VALUES", "embedded_base64", "leaked_forms", "value_forms"]

# Values that exercise every escape: non-ASCII (one and several bytes), quotes of both kinds, a
# backslash, a tab and a line break, an emoji (a surrogate pair in JSON).
LEAKY_VALUES = (
    "FAKE-pässwörd-0001",
    'FAKE-it\'s-"quoted"-0002',
    "FAKE-back\\slash\ttab-0003",
    "FAKE-line-one\nline-two-0004",
    "FAKE-€uro-🔑-key-0005",
)


def _quoted_repr(text: str) -> str:
    return repr(text)[1:-1]


def value_forms(value: str) -> list[tuple[str, str]]:
    """The value as plain text, repr()'d str and bytes, ascii(), JSON, and base64 of every kind."""
    raw = value.encode("utf-8")
    b64 = base64.b64encode(raw).decode("ascii")
    url = base64.urlsafe_b64encode(raw).decode("ascii")
    return [
        ("plain", value),
        ("repr-str", _quoted_repr(value)),
        ("ascii", ascii(value)[1:-1]),
        ("repr-bytes", repr(raw)[2:-1]),
        ("json", json.dumps(value)[1:-1]),
        ("json-utf8", json.dumps(value, ensure_ascii=False)[1:-1]),
        ("base64", b64),
        ("base64-unpadded", b64.rstrip("=")),
        ("base64-urlsafe", url),
        ("base64-urlsafe-unpadded", url.rstrip("=")),
    ]


def embedded_base64(value: str) -> list[tuple[str, str]]:
    """Base64 of longer data holding the value at each offset mod 3 (a patch, a JSON document)."""
    forms = []
    for prefix in ('{"v":"', '{"va":"', '{"val":"'):
        data = (prefix + value + '"}').encode("utf-8")
        forms.append((f"base64-inside-{len(prefix)}", base64.b64encode(data).decode("ascii")))
        forms.append((f"base64-urlsafe-inside-{len(prefix)}", base64.urlsafe_b64encode(data).decode("ascii")))
    return forms


def leaked_forms(value: str, text: str) -> list[str]:
    """The names of the forms of ``value`` that ``text`` contains (empty: nothing leaked).

    Besides the forms above, every run of base64 characters in ``text`` is decoded: the value's
    bytes, or its escaped forms, inside decoded data (a base64 patch holding it) count as the form
    ``base64-inside``.
    """
    found = [name for name, form in value_forms(value) if form in text]
    raw = value.encode("utf-8")
    for run in re.findall(r"[A-Za-z0-9+/_-]{16,}=*", text):
        data = run.rstrip("=").replace("-", "+").replace("_", "/")
        try:
            decoded = base64.b64decode(data + "=" * (-len(data) % 4))
        except ValueError:
            continue
        inside = decoded.decode("utf-8", errors="replace")
        if raw in decoded or any(form in inside for name, form in value_forms(value) if "base64" not in name):
            found.append("base64-inside")
    return found
