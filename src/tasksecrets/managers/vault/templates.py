"""The Vault agent's templates: the ones the Vault manager writes, and the agent's default.

The injector writes one template per secret (:func:`render_field_template`): one field of a kv1
(``.Data``) or kv2 (``.Data.data``) secret, read with a field access when the key is a template
identifier and with ``index`` otherwise. Without a template (the ``db`` engine) the agent renders
its default (:func:`default_template`): every field as ``<field>: <value>`` lines. The local
kubelet reads a template back (:func:`parse_field_template`) to evaluate it without the agent,
accepting only a template this module writes.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tasksecrets.managers.templates import Slot, TextTemplate

__all__ = [
    "KV1_QUERY",
    "KV2_QUERY",
    "FieldTemplate",
    "default_template",
    "parse_field_template",
    "render_field_template",
]

KV1_QUERY = ".Data"
KV2_QUERY = ".Data.data"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_PATH, _KEY = Slot("path"), Slot("key")
_OPEN, _CLOSE = '{{- with secret "', " }}{{- end -}}"
# Per query and form: the field access ``<query>.<key>``, or ``index <query> "<key>"``.
_FORMS = {
    (query, by_field): TextTemplate(_OPEN, _PATH, f'" -}}}}{{{{ {query}.', _KEY, _CLOSE)
    if by_field
    else TextTemplate(_OPEN, _PATH, f'" -}}}}{{{{ index {query} "', _KEY, '"', _CLOSE)
    for query in (KV1_QUERY, KV2_QUERY)
    for by_field in (True, False)
}
_DEFAULT = TextTemplate(
    '{{ with secret "', _PATH, '" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}'
)


class FieldTemplate(NamedTuple):
    """One field of the secret at ``path``: ``query`` is :data:`KV1_QUERY` or :data:`KV2_QUERY`."""

    path: str
    query: str
    key: str


def render_field_template(template: FieldTemplate) -> str:
    """The agent template reading one field (path and key must have been checked safe)."""
    form = _FORMS[(template.query, _IDENTIFIER.fullmatch(template.key) is not None)]
    return form.render(path=template.path, key=template.key)


def parse_field_template(text: str) -> FieldTemplate | None:
    """The field a template :func:`render_field_template` wrote reads; None for any other text."""
    for (query, _), form in _FORMS.items():
        values = form.parse(text)
        if values is not None:
            found = FieldTemplate(values["path"], query, values["key"])
            if render_field_template(found) == text:
                return found
    return None


def default_template(path: str) -> str:
    """The agent's template for a secret without ``agent-inject-template-<name>``."""
    return _DEFAULT.render(path=path)
