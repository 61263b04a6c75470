"""Values written into the pull containers' ``sh -ec`` scripts, quoted so they stay one word.

The injectors check every name before it reaches a script; quoting is the second guard, so that
a name the checks let through by mistake is still passed to ``gcloud`` or ``az`` as one argument,
unchanged, and never runs as shell code. Names made only of ``[A-Za-z0-9_@%+=:,./-]`` are written
as they are, so ordinary names give Flyte's scripts byte for byte (docs/compat.md section 4).

- :data:`SHELL_WORD`: a word of its own (``shlex.quote``: ``'...'`` with ``'"'"'`` for a quote);
- :data:`DOUBLE_QUOTED`: the inside of ``"..."``: ``\\``, ``"``, ``$`` and back-quotes escaped.

Each decodes only the text it encodes (None for anything else), for the kubelet's parsers.
"""

from __future__ import annotations

import re
import shlex

from tasksecrets.managers.templates import Quoting

__all__ = ["DOUBLE_QUOTED", "SHELL_WORD"]

_SPECIAL_IN_DOUBLE = re.compile(r'([\\"$`])')
_ESCAPED_IN_DOUBLE = re.compile(r'\\([\\"$`])')
_DOUBLE_QUOTED_TEXT = re.compile(r'(?:[^\\"$`]|\\[\\"$`])*', re.DOTALL)


def _decode_word(text: str) -> str | None:
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if len(words) != 1 or shlex.quote(words[0]) != text:
        return None
    return words[0]


def _encode_double(value: str) -> str:
    return _SPECIAL_IN_DOUBLE.sub(r"\\\1", value)


def _decode_double(text: str) -> str | None:
    if not _DOUBLE_QUOTED_TEXT.fullmatch(text):
        return None
    return _ESCAPED_IN_DOUBLE.sub(r"\1", text)


SHELL_WORD = Quoting(shlex.quote, _decode_word)
DOUBLE_QUOTED = Quoting(_encode_double, _decode_double)
