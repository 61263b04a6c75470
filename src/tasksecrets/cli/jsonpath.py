"""``-o jsonpath=TEMPLATE``: the part of kubectl's JSONPath templates that everyday commands use.

Supported: text outside braces as is; ``{.a.b}``, ``{['key.with.dots']}``, ``{.a\\.b}`` (an escaped
dot), ``{.items[0]}``, ``{.items[*].metadata.name}`` and ``{.*}``; ``{range EXPR}...{end}``;
``{"\\n"}`` and other quoted literals. Several results of one expression are joined by a space; a
missing field prints nothing (kubectl's default ``--allow-missing-template-keys=true``); strings
print as they are, other values as JSON. Filters (``?(@.x)``) and slices are refused with a clear
message rather than read wrongly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click

__all__ = ["render_jsonpath", "touches_field"]

_STEP_RE = re.compile(r"\.((?:\\.|[^.\[\\])+)|\.\*|\[\*\]|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def render_jsonpath(template: str, document: Any) -> str:
    """``template`` filled in from ``document``; click.UsageError for a template not understood."""
    parts = _tokens(template)
    out, rest = _render(parts, 0, document, template)
    if rest != len(parts):
        raise _bad(template, "{end} without a {range ...} before it")
    return out


def touches_field(template: str, field: str) -> bool:
    """Whether an expression of ``template`` names ``field`` (used to ask for --reveal for .data)."""
    return any(
        kind == "expr" and re.search(rf"(^|[.\[']){re.escape(field)}($|[.\]'\[])", text.split()[-1])
        for kind, text in _tokens(template)
    )


def _tokens(template: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            tokens.append(("text", template[pos:]))
            break
        if start > pos:
            tokens.append(("text", template[pos:start]))
        end = _closing_brace(template, start)
        tokens.append(("expr", template[start + 1 : end].strip()))
        pos = end + 1
    return tokens


def _closing_brace(template: str, start: int) -> int:
    quote = ""
    for index in range(start + 1, len(template)):
        char = template[index]
        if quote:
            quote = "" if char == quote and template[index - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char == "}":
            return index
    raise _bad(template, "a '{' is never closed by '}'")


def _render(parts: list[tuple[str, str]], index: int, node: Any, template: str) -> tuple[str, int]:
    out: list[str] = []
    while index < len(parts):
        kind, text = parts[index]
        if kind == "text":
            out.append(text)
        elif text == "end":
            return "".join(out), index
        elif text.startswith("range "):
            items = _evaluate(text[len("range ") :].strip(), node, template)
            body_end = index
            for item in items or [None]:
                body, body_end = _render(parts, index + 1, item, template)
                if items:
                    out.append(body)
            if body_end >= len(parts):
                raise _bad(template, "{range ...} without its {end}")
            index = body_end
        elif text[:1] in "\"'":
            out.append(_literal(text, template))
        else:
            out.append(" ".join(_show(value) for value in _evaluate(text, node, template)))
        index += 1
    return "".join(out), index


def _literal(text: str, template: str) -> str:
    if len(text) < 2 or text[-1] != text[0]:
        raise _bad(template, f"the literal {text} is not closed")
    escapes = {"n": "\n", "t": "\t", "r": "\r"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), text[1:-1])


def _evaluate(path: str, node: Any, template: str) -> list[Any]:
    if path.startswith(("$", "@")):
        path = path[1:]
    if path in ("", "."):
        return [node]
    values = [node]
    pos = 0
    while pos < len(path):
        match = _STEP_RE.match(path, pos)
        if match is None:
            raise _bad(template, f"{path[pos:]!r} is not supported (fields, [N], [*] and range are)")
        values = [child for value in values for child in _step(match, value)]
        pos = match.end()
    return values


def _step(match: re.Match[str], value: Any) -> list[Any]:
    name, index, quoted, double_quoted = match.groups()
    if match.group(0) in (".*", "[*]"):
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if index is not None:
        position = int(index)
        return [value[position]] if isinstance(value, list) and -len(value) <= position < len(value) else []
    key = quoted if quoted is not None else double_quoted
    if key is None:
        key = re.sub(r"\\(.)", r"\1", name)
    return [value[key]] if isinstance(value, dict) and key in value else []


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _bad(template: str, why: str) -> click.UsageError:
    return click.UsageError(f"-o jsonpath={template!r}: {why}")
