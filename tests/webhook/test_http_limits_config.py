"""The ``webhook.http`` section: documented defaults, values from the file, errors that point at the key."""

from __future__ import annotations

import pytest

from tasksecrets.admission.config import parse_config
from tasksecrets.errors import ConfigError


def test_defaults_are_the_documented_ones() -> None:
    limits = parse_config({}).webhook.http
    assert limits.max_header_bytes == 64 * 1024
    assert (limits.header_timeout_seconds, limits.body_timeout_seconds) == (10.0, 10.0)
    assert (limits.answer_timeout_seconds, limits.keep_alive_seconds) == (30.0, 30)
    assert limits.max_connections == 500
    assert limits.body_buffer_bytes == 8 * 1024 * 1024


def test_values_come_from_the_file() -> None:
    section = {"headerTimeoutSeconds": 2.5, "maxConnections": 100, "bodyBufferBytes": 2 * 1024 * 1024}
    limits = parse_config({"webhook": {"http": section}}).webhook.http
    assert (limits.header_timeout_seconds, limits.max_connections) == (2.5, 100)
    assert limits.body_buffer_bytes == 2 * 1024 * 1024


def test_an_unknown_key_names_the_close_one() -> None:
    with pytest.raises(
        ConfigError, match=r"webhook\.http\.maxHeaderByte: unknown key; did you mean 'maxHeaderBytes'"
    ):
        parse_config({"webhook": {"http": {"maxHeaderByte": 1}}})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("headerTimeoutSeconds", 0),
        ("maxConnections", 1),
        ("bodyBufferBytes", 1000),
        ("maxHeaderBytes", "big"),
    ],
)
def test_a_value_out_of_range_points_at_its_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"webhook\.http\.{key}"):
        parse_config({"webhook": {"http": {key: value}}})
