"""Masking finds values as one alternation of them would, and a long value costs no long pattern.

The finder compiles only each form's first ``HEAD_LENGTH`` characters and compares the rest where
those are found. Its answer is checked against the plain construction it replaces: one regular
expression of every form, longest first (``re.sub`` of it), on texts built to trip it up (forms
sharing their heads, forms inside and overlapping others, heads with no whole form after them).
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tasksecrets.sdk.masking import HEAD_LENGTH, MASK, LineMasker, MaskScope, _Finder, mask_text

ALPHABET = "ab*\n"  # few letters: forms share heads and overlap often


def _alternation(strings: list[str], text: str) -> str:
    ordered = sorted({s for s in strings if s}, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in ordered)).sub(MASK, text)


def _long_forms(head: str, tails: list[str]) -> list[str]:
    # Forms longer than the head that share it: only the comparison after it tells them apart.
    return [head * (HEAD_LENGTH // len(head) + 1) + tail for tail in tails]


@settings(max_examples=400, deadline=None)
@given(
    short=st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=5),
    tails=st.lists(st.text(ALPHABET, max_size=8), max_size=3),
    pieces=st.lists(st.integers(0, 7), max_size=12),
    noise=st.text(ALPHABET, max_size=40),
)
def test_the_finder_masks_as_the_alternation_of_all_forms(
    short: list[str], tails: list[str], pieces: list[int], noise: str
) -> None:
    strings = [*short, *_long_forms("ab", tails)]
    # The text: the forms themselves, cut short by one character (a head with no whole form), and
    # noise, in the order hypothesis picks.
    menu = [*strings, *(s[:-1] for s in strings), noise]
    text = "".join(menu[i % len(menu)] for i in pieces) + noise
    assert _Finder(strings).sub(text) == _alternation(strings, text)


def test_forms_sharing_their_head_are_told_apart_by_what_follows() -> None:
    head = "x" * HEAD_LENGTH
    long_one, other = head + "-long-tail", head + "-other"
    finder = _Finder([long_one, other])
    assert finder.sub(f"[{other}] [{long_one}] [{head}-neither]") == f"[{MASK}] [{MASK}] [{head}-neither]"
    # the control: what the plain alternation does
    text = f"{head}{long_one}{other}"
    assert finder.sub(text) == _alternation([long_one, other], text) == f"{head}{MASK}{MASK}"


def test_a_value_of_a_megabyte_is_masked_with_a_pattern_of_its_heads_only() -> None:
    value = "".join(f"{i:07d}" for i in range(150_000))  # 1,050,000 characters, no repeats
    masker = LineMasker([value])
    finder = masker._finder
    assert finder is not None
    assert len(finder._heads.pattern) <= 32 * HEAD_LENGTH  # every form's head, however long the value
    assert masker.longest >= len(value)
    assert masker.mask(f"before {value} after") == f"before {MASK} after"
    assert masker.mask_whole(value) == MASK
    cut = value[:-1]
    assert masker.mask(f"before {cut} after") == f"before {cut} after"  # not the value: left alone


def test_a_task_scope_masks_a_long_value_in_its_logs_and_reprs() -> None:
    value = "v" * 5 + "".join(f"{i:05d}" for i in range(40_000))
    scope = MaskScope()
    try:
        scope.add(value)
        assert mask_text(f"got {value!r}") == f"got '{MASK}'"
        assert mask_text(f"got {value[:HEAD_LENGTH]}") == f"got {value[:HEAD_LENGTH]}"
    finally:
        scope.close()
    assert mask_text(value) == value  # closed: no longer masked
