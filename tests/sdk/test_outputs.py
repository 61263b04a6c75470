"""A task's result checked against its return annotation: what passes, what fails and what the error says."""

from __future__ import annotations

import collections.abc
import typing
from typing import Any, Literal, NamedTuple, NewType, Optional, Union

import pytest

from tasksecrets import task
from tasksecrets.errors import TaskOutputError
from tasksecrets.sdk.outputs import check_outputs, output_items


class Pair(NamedTuple):
    total: int
    name: str


UserId = NewType("UserId", int)
T = typing.TypeVar("T")


def _numbers() -> collections.abc.Iterator[int]:
    yield 1


FITS: list[tuple[Any, Any]] = [
    (None, object()),  # no annotation: anything
    (Any, object()),
    (T, "anything"),
    ("Unresolved", 3),
    (type(None), None),
    (int, 3),
    (int, True),  # as for a type checker
    (float, 3),
    (complex, 1.5),
    (str, ""),
    (Optional[int], None),  # noqa: UP045  (the typing form users write)
    (Union[int, str], "x"),  # noqa: UP007
    (int | None, 2),
    (Literal["a", "b"], "b"),
    (typing.Annotated[int, "meta"], 1),
    (UserId, 5),
    (list[int], [1, 2]),
    (list, ["mixed", 1]),
    (set[str], {"a"}),
    (dict[str, list[int]], {"a": [1], "b": []}),
    (tuple[int, str], (1, "a")),
    (tuple[int, ...], (1, 2, 3)),
    (tuple[()], ()),
    (Pair, (1, "a")),
    (Pair, Pair(1, "a")),
    (list[Pair], [Pair(1, "a")]),
    (collections.abc.Iterator[int], _numbers()),  # abstract: not consumed
    (collections.abc.Mapping[str, int], {"a": "not checked"}),
]

REFUSED: list[tuple[Any, Any, str]] = [
    (int, "seven", "task 't' output o0 is a str, but int is declared"),
    (int, None, "output o0 is None, but int is declared"),
    (int, 2.5, "output o0 is a float, but int is declared"),
    (type(None), 5, "output o0 is an int, but None is declared"),
    (str, (i for i in range(2)), "output o0 is a generator, but str is declared"),
    (Optional[int], "x", "output o0 is a str, but Optional[int] is declared"),  # noqa: UP045
    (Literal["a", "b"], "c", "but Literal['a', 'b'] is declared"),
    (Literal[1], True, "output o0 is a bool, but Literal[1] is declared"),
    (UserId, "5", "output o0 is a str, but int is declared (its return annotation is"),
    (
        list[int],
        [1, "two"],
        "output o0[1] is a str, but int is declared (its return annotation is list[int])",
    ),
    (set[int], {"x"}, "output o0 item 'x' is a str, but int is declared"),
    (dict[str, int], {"a": "x"}, "output o0['a'] is a str, but int is declared"),
    (dict[str, int], {1: 1}, "output o0 key 1 is an int, but str is declared"),
    (tuple[int, str], (1, 2), "output o1 is an int, but str is declared"),
    (
        tuple[int, str],
        (1,),
        "task 't' returned 1 outputs, but its return annotation tuple[int, str] declares 2",
    ),
    (tuple[int, str], 5, "task 't' result is an int, but tuple[int, str] is declared"),
    (tuple[int, ...], (1, "x"), "output o0[1] is a str, but int is declared"),
    (Pair, (1, 2), "output name is an int, but str is declared (its return annotation is Pair)"),
    (list[Pair], [(1, 2)], "output o0[0].name is an int, but str is declared"),
]


@pytest.mark.parametrize(("annotation", "value"), FITS, ids=[repr(a) for a, _ in FITS])
def test_a_result_that_fits_passes(annotation: Any, value: Any) -> None:
    check_outputs("t", annotation, value)


@pytest.mark.parametrize(("annotation", "value", "message"), REFUSED, ids=[m for _, _, m in REFUSED])
def test_a_result_that_does_not_fit_names_task_output_found_and_declared(
    annotation: Any, value: Any, message: str
) -> None:
    with pytest.raises(TaskOutputError) as caught:
        check_outputs("t", annotation, value)
    assert message in str(caught.value)
    assert "or change the task's return annotation" in str(caught.value) or "declares" in str(caught.value)


def test_outputs_are_named_by_position_or_namedtuple_field() -> None:
    assert output_items(type(None), None) == []
    assert output_items(None, None) == []
    assert output_items(int, 3) == [("o0", 3)]
    assert output_items(tuple[int, str], (1, "a")) == [("o0", 1), ("o1", "a")]
    assert output_items(Pair, Pair(2, "b")) == [("total", 2), ("name", "b")]


def test_the_in_process_executor_checks_outputs_too() -> None:
    @task
    def wrong() -> int:
        return "seven"  # type: ignore[return-value]

    with pytest.raises(TaskOutputError, match="task 'wrong' output o0 is a str, but int is declared"):
        wrong()
    assert isinstance(TaskOutputError("x"), TypeError)
