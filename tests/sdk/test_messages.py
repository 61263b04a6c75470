"""The termination message and data prefix of a task pod: sizes, masking, and reading back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasksecrets.errors import TaskExecutionError
from tasksecrets.sdk.masking import MaskScope
from tasksecrets.sdk.messages import MESSAGE_LIMIT, error_message, outputs_message, read_message, seal_outputs

SECRET = "fake-message-secret-42"


class Holder:
    """Pickled because JSON cannot hold it."""

    def __init__(self, value: str) -> None:
        self.value = value


@pytest.fixture
def masked() -> object:
    scope = MaskScope()
    scope.add(SECRET)
    yield scope
    scope.close()


def test_secret_values_are_masked_in_every_form(masked: object) -> None:
    sealed = seal_outputs(
        (f"a {SECRET} b", [SECRET], {"k": SECRET.encode()}, Holder(SECRET), Holder("plain"))
    )
    text = json.dumps(sealed)
    assert SECRET not in text and SECRET.encode().hex() not in text
    ok, back = read_message(outputs_message(sealed, task_name="t", data_prefix=None), task_name="t")
    assert ok
    assert back[0] == "a ******** b" and back[1] == ["********"] and back[2] == {"k": "********"}
    assert back[3] == "********" and isinstance(back[4], Holder) and back[4].value == "plain"


def test_outputs_over_the_limit_need_a_prefix_and_go_there(tmp_path: Path) -> None:
    sealed = seal_outputs("x" * MESSAGE_LIMIT)
    with pytest.raises(TaskExecutionError, match=r"task 'big' are \d+ bytes.*--data-prefix"):
        outputs_message(sealed, task_name="big", data_prefix=None)
    message = outputs_message(sealed, task_name="big", data_prefix=f"file://{tmp_path}/run/pod")
    assert len(message.encode()) <= MESSAGE_LIMIT and json.loads(message)["ref"].endswith(
        "run/pod/outputs.json"
    )
    assert read_message(message, task_name="big") == (True, "x" * MESSAGE_LIMIT)


def test_an_error_keeps_its_end_within_the_limit() -> None:
    text = "\n".join(f"  frame {i} ✓" for i in range(2000)) + "\nValueError: the end"
    message = error_message(text)
    assert len(message.encode()) <= MESSAGE_LIMIT
    ok, back = read_message(message, task_name="t")
    assert not ok and back.endswith("ValueError: the end") and back.startswith("...")


@pytest.mark.parametrize(
    "message", ["", "not json", '{"v": 2, "outputs": 1}', "[1]", '{"v": 1, "ref": "/nonexistent/x"}']
)
def test_an_unreadable_message_is_a_clear_error(message: str) -> None:
    with pytest.raises(TaskExecutionError, match="task 't' ended without readable outputs"):
        read_message(message, task_name="t")
