"""Tasks, workflows, kwtypes and the executor seam."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tasksecrets import Secret, Task, current_context, kwtypes, task, workflow
from tasksecrets.errors import SecretNotRequestedError
from tasksecrets.sdk.executor import Executor, InProcessExecutor, get_executor, set_executor, use_executor
from tasksecrets.testing import mock_secrets


@task(secret_requests=[Secret(group="g", key="k")])
def add(a: int, b: int = 2) -> int:
    """Adds."""
    return a + b


@task
def bare() -> None:
    return None


def test_task_attributes_others_rely_on() -> None:
    assert add.name == "add"
    assert add.fn is add.__wrapped__ and add.fn.__name__ == "add"
    assert add.module_file == os.path.abspath(__file__)
    assert add.module_name == __name__
    assert add.secret_requests == (Secret(group="g", key="k"),)
    assert isinstance(add.secret_requests, tuple)
    assert add.inputs == {"a": int, "b": int}
    assert add.outputs is int
    assert add.__doc__ == "Adds."
    assert bare.secret_requests == () and bare.outputs is type(None)
    assert isinstance(add, Task)


def test_task_called_with_keywords_positions_and_defaults() -> None:
    assert add(a=1, b=5) == 6
    assert add(1) == 3
    with pytest.raises(TypeError, match="task 'add'"):
        add(1, 2, 3)
    with pytest.raises(TypeError, match="task 'add'"):
        add(c=1)


def test_task_decorator_with_empty_parentheses() -> None:
    @task()
    def plain() -> str:
        return "ok"

    assert plain() == "ok" and plain.secret_requests == ()


def test_kwtypes_keeps_order() -> None:
    assert list(kwtypes(z=int, a=str, m=float).items()) == [("z", int), ("a", str), ("m", float)]


class TemplateTask(Task):
    """A task without a Python function, as a plugin (SQLAlchemyTask) builds one."""

    def __init__(self, name: str, template: str, **kwargs: Any) -> None:
        super().__init__(name, inputs=kwtypes(limit=int), outputs=str, **kwargs)
        self.template = template

    def execute(self, **inputs: Any) -> Any:
        password = current_context().secrets.get("db", "password")
        return self.template.format(**inputs) + f" as {len(password)}"


def test_task_subclass_without_function() -> None:
    query = TemplateTask("query", "LIMIT {limit}", secret_requests=[Secret(group="db", key="password")])
    assert query.fn is None
    assert query.module_name == __name__ and query.module_file == os.path.abspath(__file__)
    with mock_secrets({("db", "password"): "FAKE-pw"}):
        assert query(limit=5) == "LIMIT 5 as 7"
        assert query(3) == "LIMIT 3 as 7"
        with pytest.raises(TypeError, match="no input 'offset'"):
            query(offset=1)
        unprivileged = TemplateTask("query2", "LIMIT {limit}")
        with pytest.raises(SecretNotRequestedError):
            unprivileged(limit=1)


def test_base_task_execute_must_be_implemented() -> None:
    with pytest.raises(NotImplementedError, match="execute"):
        Task("raw")()


def test_workflow_returns_its_task_outputs() -> None:
    @workflow
    def wf(x: int) -> tuple[int, int]:
        return add(a=x), add(a=x, b=x)

    with mock_secrets({("g", "k"): "FAKE"}):
        assert wf(4) == (6, 8)
        assert wf(x=1) == (3, 2)
    assert wf.name == "wf" and wf.inputs == {"x": int}
    assert workflow()(lambda: 1)() == 1


class RecordingExecutor:
    """Records task calls instead of running them: the seam the local cluster plugs into."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run_task(self, task: Task, inputs: dict[str, Any]) -> Any:
        self.calls.append((task.name, inputs))
        return f"ran {task.name}"


def test_task_calls_go_through_the_current_executor() -> None:
    recorder = RecordingExecutor()
    assert isinstance(recorder, Executor)

    @workflow
    def wf() -> str:
        return str(add(1))

    with use_executor(recorder) as current:
        assert current is recorder and get_executor() is recorder
        assert wf() == "ran add"
    assert recorder.calls == [("add", {"a": 1, "b": 2})]
    assert isinstance(get_executor(), InProcessExecutor)


def test_set_executor_returns_the_previous_one_and_checks_the_protocol() -> None:
    recorder = RecordingExecutor()
    previous = set_executor(recorder)
    try:
        assert get_executor() is recorder
    finally:
        assert set_executor(previous) is recorder
    with pytest.raises(TypeError, match="run_task"):
        set_executor(object())  # type: ignore[arg-type]


def test_use_executor_restores_after_an_error() -> None:
    before = get_executor()
    with pytest.raises(RuntimeError), use_executor(RecordingExecutor()):
        raise RuntimeError("boom")
    assert get_executor() is before


def test_task_name_inside_and_outside() -> None:
    @task
    def named() -> str | None:
        return current_context().task_name

    assert named() == "named"
    assert current_context().task_name is None
