"""Masking: secret values a running task has seen never reach a log record.

While a task runs, every value it read through the reader (or that its executor provided to it)
is registered here. A wrapper around :func:`logging.setLogRecordFactory` rewrites each new log
record, whatever logger or handler it goes to (including loggers and handlers created later):
the message is formatted with its args, then every registered value is replaced with ``********``;
the exception and stack text are formatted and masked the same way. :func:`mask_text` does the same
for any text (the local runner masks tracebacks and outputs with it).

Values shorter than :data:`MIN_MASKED_LENGTH` (3) characters are not masked inside text: masking
``"a"`` or ``"1"`` would blank out every log line while protecting nothing. :class:`LineMasker`
(what the local runner masks a task's output and outputs with) also masks a line, or a whole output,
that *is* a value, whatever its length. Multi-line values (keys,
certificates) are masked whole and line by line. Every value is also masked in the forms it is
printed in: escaped by ``repr()`` and ``ascii()`` (of the str and of its UTF-8 bytes), escaped by
JSON, and base64-encoded (standard and URL-safe, padded or not, alone or inside longer base64 data).

The forms are found as one alternation of them, longest first, would find them; the pattern that
searches holds only each form's first :data:`HEAD_LENGTH` characters, so a value of a megabyte (a
certificate bundle) is registered in milliseconds, not the seconds a pattern of its length takes.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "MASK",
    "MIN_MASKED_LENGTH",
    "SECURE",
    "LineMasker",
    "MaskScope",
    "install_log_masking",
    "mask_text",
    "masked_values_count",
    "secure_names",
]

MASK = "********"
# What a repr shows in place of a value (as httpx shows credentials).
SECURE = "[secure]"
MIN_MASKED_LENGTH = 3
# The shortest part of a value's base64 masked inside longer base64 text: shorter parts would also
# match unrelated encoded data too often.
MIN_BASE64_CORE = 8

# The first characters of a form that the pattern searching for it holds: the rest is compared
# where the pattern finds them, so a value of a megabyte compiles no megabyte-long pattern.
HEAD_LENGTH = 32

_lock = threading.Lock()
# value -> number of open scopes that registered it; a value stays masked while any scope holds it.
_counts: dict[str, int] = {}
_finder: _Finder | None = None


def _fragments(value: str | bytes) -> list[str]:
    raw = value.strip() if isinstance(value, bytes) else value.strip().encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", errors="replace") if isinstance(value, bytes) else value.strip()
    found = [text] if len(text) >= MIN_MASKED_LENGTH else []
    if "\n" in text:
        found.extend(line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_MASKED_LENGTH)
    for variant in (*_escaped_forms(text, raw), *_base64_forms(raw)):
        if variant != text and len(variant) >= MIN_MASKED_LENGTH and variant not in found:
            found.append(variant)
    return found


def _escaped_forms(text: str, raw: bytes) -> list[str]:
    # Tracebacks, reprs and JSON quote values escaped: repr() of the str (either quote repr picks),
    # ascii() (\xe4, \u20ac), repr() of its UTF-8 bytes (b'p\xc3\xa4ss'), and JSON (\u00e4, \").
    import json  # here, not at the top: ``import tasksecrets`` stays fast

    forms: list[str] = []
    for quote in ("", "'", '"'):  # a quote after the value changes the quote repr picks
        forms.append(_strip_quote(repr(text + quote)[1:-1], quote))
        forms.append(_strip_quote(ascii(text + quote)[1:-1], quote))
        forms.append(_strip_quote(repr(raw + quote.encode("ascii"))[2:-1], quote))
    forms.append(json.dumps(text)[1:-1])
    forms.append(json.dumps(text, ensure_ascii=False)[1:-1])
    return forms


def _strip_quote(escaped: str, quote: str) -> str:
    if not quote:
        return escaped
    return escaped[:-2] if escaped.endswith("\\" + quote) else escaped[:-1]


def _base64_forms(raw: bytes) -> list[str]:
    # The value's own base64 (standard and URL-safe, padded or not), and the part of it that stays
    # the same wherever the value sits inside longer encoded data (a patch, a config): at each of the
    # three offsets mod 3, the whole 4-character groups made only of the value's bytes.
    import base64  # here, not at the top: ``import tasksecrets`` stays fast

    forms: list[str] = []
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + raw).decode("ascii")
        if shift == 0:
            forms.extend((encoded, encoded.rstrip("="), _urlsafe(encoded), _urlsafe(encoded).rstrip("=")))
        start = 4 if shift else 0
        core = encoded[start : 4 * ((shift + len(raw)) // 3)]
        if len(core) >= MIN_BASE64_CORE:
            forms.extend((core, _urlsafe(core)))
    return forms


def _urlsafe(encoded: str) -> str:
    return encoded.replace("+", "-").replace("/", "_")


class _Finder:
    """Finds fixed strings in text as one alternation of them, longest first, would.

    Scanning left to right, at the first position where any string starts, the longest string
    starting there is the match, and the scan goes on after it. The compiled pattern holds each
    string's first :data:`HEAD_LENGTH` characters only; where one of those is found, the strings
    are compared whole there (so every position a whole string starts at is looked at).
    """

    def __init__(self, strings: Iterable[str]) -> None:
        # Longest first, so a value that contains another one is masked whole.
        self._ordered = sorted({s for s in strings if s}, key=len, reverse=True)
        heads = sorted({s[:HEAD_LENGTH] for s in self._ordered}, key=len, reverse=True)
        self._heads = re.compile("|".join(re.escape(head) for head in heads))

    @property
    def longest(self) -> int:
        return len(self._ordered[0]) if self._ordered else 0

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """``(start, end)`` of each match, in order."""
        position = 0
        while (found := self._heads.search(text, position)) is not None:
            start = found.start()
            end = next((start + len(s) for s in self._ordered if text.startswith(s, start)), None)
            if end is None:
                position = start + 1
                continue
            yield start, end
            position = end

    def sub(self, text: str) -> str:
        """``text`` with every match replaced by :data:`MASK`."""
        if self._heads.search(text) is None:  # most text: no form so much as starts in it
            return text
        parts: list[str] = []
        done = 0
        for start, end in self.spans(text):
            parts += (text[done:start], MASK)
            done = end
        return "".join(parts) + text[done:] if parts else text


def _rebuild() -> None:
    global _finder
    _finder = _Finder(_counts) if _counts else None


class MaskScope:
    """The values registered by one running task; :meth:`close` unregisters them."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._closed = False

    def add(self, value: str | bytes) -> None:
        """Mask ``value`` (and each of its lines) until this scope closes."""
        if value in self._values:  # the common case: the task reads the same secret again
            return
        fresh = [fragment for fragment in _fragments(value) if fragment not in self._values]
        if not fresh or self._closed:
            return
        with _lock:
            changed = False
            for fragment in fresh:
                self._values.add(fragment)
                count = _counts.get(fragment, 0)
                _counts[fragment] = count + 1
                changed = changed or count == 0
            if changed:
                _rebuild()

    def close(self) -> None:
        """Stop masking the values only this scope registered."""
        with _lock:
            self._closed = True
            for fragment in self._values:
                count = _counts.pop(fragment, 0) - 1
                if count > 0:
                    _counts[fragment] = count
            self._values.clear()
            _rebuild()

    def __repr__(self) -> str:
        return f"MaskScope(values={len(self._values)})"


def secure_names(mapping: Iterable[str]) -> str:
    """A mapping's repr with its names and ``[secure]`` for every value: ``{'A': [secure]}``."""
    return "{" + ", ".join(f"{name!r}: {SECURE}" for name in mapping) + "}"


def masked_values_count() -> int:
    """How many distinct values are masked now (for tests and diagnostics; never the values)."""
    return len(_counts)


def mask_text(text: str) -> str:
    """``text`` with every currently registered secret value replaced by ``********``."""
    finder = _finder
    if finder is None or not text:
        return text
    return finder.sub(text)


def mask_values(values: Iterable[str | bytes], text: str) -> str:
    """``text`` with the given values (and those registered now) replaced by ``********``."""
    return LineMasker(values).mask(text)


class LineMasker:
    """Masks text with a fixed set of values, compiled once (the runner masks every line of a task with it).

    :meth:`mask` replaces each value, in the forms :func:`mask_text` knows, anywhere in the text;
    :meth:`mask_line` also replaces a line whose content (spaces aside) is a value, or one line of a
    multi-line value, however short; :meth:`mask_whole` does the same for a whole text (an output).
    ``longest`` is the length of the longest form masked inside text (a line held back for masking
    must keep that many characters minus one to be masked whole later).
    """

    def __init__(self, values: Iterable[str | bytes]) -> None:
        texts = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in values]
        fragments = [f for value in texts for f in _fragments(value)]
        self._finder = _Finder(fragments) if fragments else None
        self.longest = self._finder.longest if self._finder is not None else 0
        self._whole = {
            part.strip() for value in texts for part in (value, *value.splitlines()) if part.strip()
        }

    def mask(self, text: str) -> str:
        """``text`` with every value (and every value registered now) replaced by ``********``."""
        if self._finder is not None and text:
            text = self._finder.sub(text)
        return mask_text(text)

    def safe_cut(self, text: str) -> int:
        """Where ``text`` (a line still being written) can be cut so that no value straddles the cut.

        ``longest - 1`` characters stay after it, so a value starting before the cut lies whole in
        ``text``; a value found across that point moves the cut to its end.
        """
        cut = len(text) - max(self.longest - 1, 0)
        if self._finder is not None:
            for start, end in self._finder.spans(text):
                if start < cut < end:
                    return end
                if start >= cut:
                    break
        return cut

    def mask_whole(self, text: str) -> str:
        """``********`` when ``text`` is a value (spaces aside), else :meth:`mask` of it."""
        return MASK if text.strip() in self._whole else self.mask(text)

    def mask_line(self, line: str) -> str:
        """One line (its line ending kept): :meth:`mask_whole` of its content."""
        content = line.rstrip("\r\n")
        return self.mask_whole(content) + line[len(content) :]

    def mask_lines(self, text: str) -> str:
        """Every line of ``text`` by :meth:`mask_line`."""
        return "".join(self.mask_line(line) for line in text.splitlines(keepends=True))

    def __repr__(self) -> str:
        return f"LineMasker(values={len(self._whole)})"


_formatter = logging.Formatter()


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        # A record whose args do not fit its format: leave both for the handler to report, masked.
        message = str(record.msg)
    record.msg = mask_text(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = _formatter.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
        # The text above is what every Formatter prints; the live exception is dropped so no handler
        # formats its message (which may carry a value) again on its own.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


class _MaskingFactory:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.inner(*args, **kwargs)
        if _finder is not None:
            _mask_record(record)
        return record


def install_log_masking() -> None:
    """Wrap the log record factory so new records are masked (idempotent, cheap when nothing is masked)."""
    with _lock:
        current = logging.getLogRecordFactory()
        if not isinstance(current, _MaskingFactory):
            logging.setLogRecordFactory(_MaskingFactory(current))


def format_exception_masked(exc: BaseException) -> str:
    """A traceback of ``exc`` as text, with registered values masked."""
    return mask_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
