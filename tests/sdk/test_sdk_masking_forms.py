"""Masking covers every encoding a value is printed in: repr()'d str and bytes, ascii(), JSON, base64.

Each value is registered as a task would register it (as str and as bytes, as ``encode_mode="rb"``
returns it), then each of its forms is written inside a line of text; the masked line must hold
none of the forms and must hold the mask.
"""

from __future__ import annotations

import io
import logging
import os

import pytest

from tasksecrets import Secret, current_context, task
from tasksecrets.sdk.masking import MASK, MaskScope, install_log_masking, mask_text
from tasksecrets.testing import mock_secrets
from value_forms import LEAKY_VALUES, embedded_base64, value_forms

CASES = [(value, name, form) for value in LEAKY_VALUES for name, form in value_forms(value)]


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
@pytest.mark.parametrize(("value", "name", "form"), CASES, ids=[f"{v[-4:]}-{n}" for v, n, _ in CASES])
def test_every_form_of_a_registered_value_is_masked(value: str, name: str, form: str, as_bytes: bool) -> None:
    scope = MaskScope()
    scope.add(value.encode("utf-8") if as_bytes else value)
    try:
        masked = mask_text(f"before {form} after")
    finally:
        scope.close()
    assert form not in masked, name
    assert MASK in masked


EMBEDDED = [(value, name, form) for value in LEAKY_VALUES for name, form in embedded_base64(value)]


@pytest.mark.parametrize(("value", "name", "form"), EMBEDDED, ids=[f"{v[-4:]}-{n}" for v, n, _ in EMBEDDED])
def test_base64_of_data_holding_the_value_loses_the_values_part(value: str, name: str, form: str) -> None:
    scope = MaskScope()
    scope.add(value)
    try:
        masked = mask_text(form)
    finally:
        scope.close()
    assert MASK in masked, name
    # What is left are the neighbours' characters and the two groups that mix them with the value's.
    whole_groups = len(value.encode("utf-8")) // 3 - 1
    assert len(masked.replace(MASK, "")) <= len(form) - 4 * whole_groups, name


def test_a_non_ascii_secret_read_as_bytes_is_masked_in_a_logged_repr() -> None:
    install_log_masking()
    stream = io.StringIO()
    logger = logging.getLogger(f"test.masking.forms.{os.urandom(4).hex()}")
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    value = LEAKY_VALUES[0]

    @task(secret_requests=[Secret(group="user-info", key="password")])
    def reader() -> None:
        data = current_context().secrets.get("user-info", "password", encode_mode="rb")
        logger.warning("got %r and %s", data, [data.decode("utf-8")])

    with mock_secrets({("user-info", "password"): value}):
        reader()
    printed = stream.getvalue()
    assert printed == f"got b'{MASK}' and ['{MASK}']\n"
