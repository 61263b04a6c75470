"""Masking: while a task runs, log records never carry a value of a secret the task read or was given."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sdk_helpers import FAKE_VALUE, OTHER_FAKE_VALUE, write_secret

from tasksecrets import Secret, current_context, task
from tasksecrets.sdk.masking import MASK, MaskScope, install_log_masking, mask_text, mask_values
from tasksecrets.testing import SecretsManager, mock_secrets

REQUEST = Secret(group="user-info", key="user_secret")


@pytest.fixture
def stream_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A fresh logger with its own handler and a full formatter (created after masking was installed)."""
    install_log_masking()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(f"test.masking.{os.urandom(4).hex()}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _run_task(body: object, requests: list[Secret] | None = None) -> None:
    @task(secret_requests=requests if requests is not None else [REQUEST])
    def the_task() -> None:
        body()  # type: ignore[operator]

    with mock_secrets({("user-info", "user_secret"): FAKE_VALUE}):
        the_task()


def test_message_with_args_is_masked(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    _run_task(
        lambda: logger.info(
            "value=%s repr=%r", current_context().secrets.get("user-info", "user_secret"), FAKE_VALUE
        )
    )
    assert stream.getvalue() == f"INFO {logger.name} value={MASK} repr='{MASK}'\n"


def test_fstring_message_is_masked(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    _run_task(lambda: logger.warning(f"got {current_context().secrets.get('user-info', 'user_secret')}!"))
    assert stream.getvalue() == f"WARNING {logger.name} got {MASK}!\n"


def test_exception_text_is_masked(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger

    def body() -> None:
        value = current_context().secrets.get("user-info", "user_secret")
        try:
            raise RuntimeError(f"connection refused for password {value}")
        except RuntimeError:
            logger.exception("failed")

    _run_task(body)
    text = stream.getvalue()
    assert "Traceback" in text and f"password {MASK}" in text
    assert FAKE_VALUE not in text


def test_stack_info_is_masked(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger

    def body() -> None:
        current_context().secrets.get("user-info", "user_secret")
        logger.info("where", stack_info=True)

    _run_task(body)
    assert "Stack (most recent call last)" in stream.getvalue()
    assert FAKE_VALUE not in stream.getvalue()


def test_handler_added_later_to_root_and_logger_created_later(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()

    def body() -> None:
        value = current_context().secrets.get("user-info", "user_secret")
        handler = logging.StreamHandler(stream)
        logging.getLogger().addHandler(handler)
        try:
            logging.getLogger(f"created.later.{os.urandom(3).hex()}").error("secret: %s", value)
        finally:
            logging.getLogger().removeHandler(handler)

    with caplog.at_level(logging.INFO):
        _run_task(body)
    assert stream.getvalue() == f"secret: {MASK}\n"
    assert f"secret: {MASK}" in caplog.text and FAKE_VALUE not in caplog.text


def test_provided_secret_is_masked_even_if_not_read(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger
    # The task only reads os.environ, never the reader: the value is masked because it was provided.
    _run_task(lambda: logger.info("env %s", os.environ["_FSEC_USER-INFO_USER_SECRET"]))
    assert stream.getvalue().endswith(f"env {MASK}\n")


def test_records_from_threads_the_task_starts_are_masked(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger

    def body() -> None:
        value = current_context().secrets.get("user-info", "user_secret")
        worker = threading.Thread(target=logger.info, args=("thread %s", value))
        worker.start()
        worker.join()

    _run_task(body)
    assert stream.getvalue().endswith(f"thread {MASK}\n")


def test_file_secret_multiline_masked_whole_and_by_line(
    secrets_dir: Path, stream_logger: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = stream_logger
    pem = "-----BEGIN FAKE KEY-----\nFAKELINEONE\nFAKELINETWO\n-----END FAKE KEY-----\n"
    write_secret(secrets_dir / "certs" / "key.pem", pem)

    @task(secret_requests=[Secret(group="certs", key="key.pem")])
    def leaky() -> None:
        value = current_context().secrets.get("certs", "key.pem")
        logger.info("whole: %s", value)
        logger.info("one line: %s", value.splitlines()[2])

    leaky()
    text = stream.getvalue()
    assert "FAKELINEONE" not in text and "FAKELINETWO" not in text
    assert f"one line: {MASK}" in text


def test_values_shorter_than_three_chars_are_not_masked(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger

    @task(secret_requests=[Secret(group="g", key="short")])
    def short() -> None:
        logger.info("ok %s", current_context().secrets.get("g", "short"))

    with mock_secrets({("g", "short"): "ab"}):
        short()
    assert stream.getvalue().endswith("ok ab\n")


def test_masking_ends_with_the_task(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    _run_task(lambda: current_context().secrets.get("user-info", "user_secret"))
    logger.info("after %s", FAKE_VALUE)
    assert stream.getvalue().endswith(f"after {FAKE_VALUE}\n")
    assert mask_text(FAKE_VALUE) == FAKE_VALUE


def test_outside_any_task_values_are_not_masked(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    os.environ["_FSEC_G_K"] = FAKE_VALUE
    logger.info("plain %s", SecretsManager().get("g", "k"))
    assert stream.getvalue().endswith(f"plain {FAKE_VALUE}\n")


def test_mask_text_and_scopes() -> None:
    outer, inner = MaskScope(), MaskScope()
    outer.add(FAKE_VALUE)
    inner.add(FAKE_VALUE)
    inner.add(OTHER_FAKE_VALUE)
    assert mask_text(f"{FAKE_VALUE}/{OTHER_FAKE_VALUE}") == f"{MASK}/{MASK}"
    inner.close()
    assert mask_text(f"{FAKE_VALUE}/{OTHER_FAKE_VALUE}") == f"{MASK}/{OTHER_FAKE_VALUE}"
    outer.close()
    assert mask_text(FAKE_VALUE) == FAKE_VALUE
    assert mask_values([b"FAKE-bytes-value"], "x FAKE-bytes-value y") == f"x {MASK} y"
    assert "values=0" in repr(outer)


def test_longest_value_masked_first() -> None:
    scope = MaskScope()
    scope.add("FAKE-abc")
    scope.add("FAKE-abcdef")
    try:
        assert mask_text("FAKE-abcdef FAKE-abc") == f"{MASK} {MASK}"
    finally:
        scope.close()


def test_factory_installed_once_even_if_called_repeatedly() -> None:
    install_log_masking()
    factory = logging.getLogRecordFactory()
    install_log_masking()
    assert logging.getLogRecordFactory() is factory


def test_a_value_quoted_by_repr_is_masked_too() -> None:
    # Tracebacks quote values with repr (``int(value)``, ``KeyError(value)``), which escapes
    # backslashes, quotes and control characters: the escaped form is masked as well.
    value = "fake\\pw'with\tescapes-1"
    scope = MaskScope()
    scope.add(value)
    try:
        try:
            int(value)
        except ValueError as exc:
            text = mask_text(f"{exc} / {value!r} / {[value]}")
        assert "escapes-1" not in text, text
        assert mask_values([value], repr(value)).count(MASK) == 1
    finally:
        scope.close()
