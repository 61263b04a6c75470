"""Query templates: ``{{ .inputs.name }}`` placeholders, checked at declaration, bound at run time.

A placeholder is written as in flytekit's SQL tasks: ``{{ .inputs.limit }}``, ``{{.inputs.limit}}``,
``{{ .Inputs.limit }}`` (``inputs`` in any case) or ``{{ inputs.limit }}``. Unlike flytekit, the
value is never pasted into the SQL text: each placeholder becomes a bound parameter (``:limit`` for
SQLAlchemy's ``text()``), so an input such as ``' OR '1'='1`` stays data. The price: a placeholder
stands for one value, never for SQL (a table name, a keyword, a list of columns).

Checks at declaration, each a :class:`TaskDeclarationError` that names the placeholder or input:

- a placeholder whose input is not declared, or a declared input no placeholder uses;
- a placeholder inside a quoted string, a quoted identifier or a comment (``'{{ .inputs.x }}'``
  would become the literal text ``':x'``; with binding, the quotes must go);
- text that looks like a template expression but is not a placeholder (``{{ .outputs.x }}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tasksecrets.errors import TaskDeclarationError

__all__ = ["PLACEHOLDER_RE", "Placeholder", "QueryTemplate", "parse_query_template", "render_sql"]

PLACEHOLDER_RE = re.compile(r"\{\{\s*\.?inputs\.(\w+)\s*\}\}", re.IGNORECASE)
# Go-template syntax (``{{ .something }}``) that is not a placeholder: a typo to report, not SQL.
# Only the leading dot counts, so PostgreSQL array literals such as '{{1,2},{3,4}}' are left alone.
_SUSPECT_RE = re.compile(r"\{\{\s*\.[^{}]*\}\}")
# Regions of SQL where a bound parameter cannot go: 'string', "identifier", -- comment, /* comment */.
_REGION_RE = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_REGION_NAMES = {"'": "a quoted SQL string", '"': "a quoted SQL identifier", "-": "an SQL comment"}


@dataclass(frozen=True)
class Placeholder:
    """One ``{{ .inputs.<name> }}`` in a template: the input's ``name`` and the ``text`` as written."""

    name: str
    text: str


@dataclass(frozen=True)
class QueryTemplate:
    """A parsed template: literal SQL text and placeholders, in order."""

    text: str
    parts: tuple[str | Placeholder, ...]

    @property
    def input_names(self) -> tuple[str, ...]:
        """The inputs the placeholders use, each once, in order of first use."""
        return tuple(dict.fromkeys(p.name for p in self.parts if isinstance(p, Placeholder)))


def _region_at(text: str, position: int) -> str | None:
    for match in _REGION_RE.finditer(text):
        if match.start() > position:
            return None
        if match.start() <= position < match.end():
            return _REGION_NAMES.get(match.group()[0], "an SQL comment")
    return None


def parse_query_template(template: object, *, inputs: Iterable[str], owner: str) -> QueryTemplate:
    """Split ``template`` into SQL text and placeholders, checking them against ``inputs``.

    ``owner`` (e.g. ``"SQLAlchemyTask 'fetch_data'"``) starts every error message.
    """
    if not isinstance(template, str) or not template.strip():
        raise TaskDeclarationError(
            f"{owner}: query_template must be a non-empty SQL string, got {type(template).__name__}; "
            'e.g. query_template="SELECT * FROM my_table LIMIT {{ .inputs.limit }}"'
        )
    declared = list(inputs)
    parts: list[str | Placeholder] = []
    position = 0
    for match in PLACEHOLDER_RE.finditer(template):
        placeholder = Placeholder(match.group(1), match.group(0))
        region = _region_at(template, match.start())
        if region is not None:
            raise TaskDeclarationError(
                f"{owner}: placeholder {placeholder.text} is inside {region}. Its value is bound as an "
                "SQL parameter, not pasted into the text, so it must stand where a value goes: remove "
                "the quotes (WHERE name = {{ .inputs.name }}), or build the text in SQL "
                "(LIKE '%' || {{ .inputs.name }} || '%')"
            )
        if placeholder.name not in declared:
            known = ", ".join(declared) or "none"
            raise TaskDeclarationError(
                f"{owner}: placeholder {placeholder.text} uses input {placeholder.name!r}, which is not "
                f"declared (inputs: {known}); add it: inputs=kwtypes({placeholder.name}=<type>)"
            )
        parts.append(template[position : match.start()])
        parts.append(placeholder)
        position = match.end()
    parts.append(template[position:])
    for suspect in _SUSPECT_RE.finditer(template):
        if not PLACEHOLDER_RE.fullmatch(suspect.group()):
            raise TaskDeclarationError(
                f"{owner}: {suspect.group()} in query_template is not a placeholder this task understands; "
                "write an input placeholder as {{ .inputs.<name> }}"
            )
    parsed = QueryTemplate(template, tuple(part for part in parts if part != ""))
    unused = [name for name in declared if name not in parsed.input_names]
    if unused:
        raise TaskDeclarationError(
            f"{owner}: input {unused[0]!r} has no placeholder in query_template; use it as "
            f"{{{{ .inputs.{unused[0]} }}}} or remove it from inputs"
        )
    return parsed


def render_sql(template: QueryTemplate, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """SQL text for ``sqlalchemy.text()`` with one ``:name`` bind per placeholder, and the parameters.

    Colons in the template's own text that ``text()`` would take for binds (``'10 :30'``) are escaped,
    so only the placeholders become parameters.
    """
    from sqlalchemy.sql.elements import TextClause

    bind_re: re.Pattern[str] = TextClause._bind_params_regex
    texts = [
        bind_re.sub(lambda m: "\\" + m.group(0), part) if isinstance(part, str) else part
        for part in template.parts
    ]
    pieces: list[str] = []
    params: dict[str, Any] = {}
    for index, part in enumerate(texts):
        if isinstance(part, str):
            pieces.append(part)
            continue
        params[part.name] = values[part.name]
        bind = f":{part.name}"
        following = texts[index + 1] if index + 1 < len(texts) else ""
        after = following[:1] if isinstance(following, str) else ":"
        # text() sees ":x" as a bind only when neither a word nor ":" is right before or after it.
        if after == ":" or after.isalnum() or after == "_":
            bind = f"({bind})"  # PostgreSQL's "{{ .inputs.x }}::int" becomes "(:x)::int"
        before = pieces[-1][-1:] if pieces else ""
        if before.isalnum() or before in (":", "_", "\\"):
            bind = " " + bind
        pieces.append(bind)
    return "".join(pieces), params
