"""The store commands of the README and docs/ run as written, so that the docs cannot drift from the CLI.

Every fenced block of README.md and docs/*.md that is shell (``console``, ``sh``, ``bash``,
``shell`` or no language) is read for commands: in ``console`` blocks the lines after ``$ ``,
elsewhere lines starting with ``tasksecrets``, each with its ``\\`` continuations and its heredoc.
The store commands among them (``create``, ``get``, ``describe``, ``delete``, ``apply``, ``patch``)
run in order, one fresh store per markdown file (``TASKSECRETS_HOME``), through bash with
``tasksecrets`` meaning this checkout's ``python -m tasksecrets``, so pipes and heredocs work as a
reader's shell runs them. A ``cat > FILE <<'EOF'`` before them is run too (it writes a file the
next command reads). Each must succeed, unless the docs show it failing (an ``Error:`` line in its
output), and every line of output the docs show must be printed (but for lines eliding with
``...`` and table rows ending in an age).
The other commands need what a store command does not (a workflow run, a webhook server, a
cluster); they are counted, not run: see ``NOT_STORE``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
STORE_COMMANDS = {"create", "get", "describe", "delete", "apply", "patch"}
# Commands of the docs that are not store commands, and why they are not run here.
NOT_STORE = {
    "run": "runs a workflow (tests/cli/test_run.py and tests/test_examples.py run the examples)",
    "pod": "renders a pod of an example (tests/cli/test_pod.py)",
    "webhook": "serves or calls the webhook, or a cluster (tests/webhook/, tests/cli/test_webhook_mutate.py)",
}
_SHELL = {"console", "sh", "bash", "shell", ""}
_FENCE = re.compile(r"^```(\w*)\s*$")
_AGE = re.compile(r"\s\d+[smhdy]$")
_HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)'?\"?")


@dataclass
class DocCommand:
    where: str
    text: str  # the command with its continuations and heredoc body
    shown: list[str]  # the output the docs show for it (console blocks)

    @property
    def words(self) -> list[str]:
        return self.text.split()

    @property
    def is_store(self) -> bool:
        return self.words[0] == "tasksecrets" and len(self.words) > 1 and self.words[1] in STORE_COMMANDS

    @property
    def writes_file(self) -> bool:
        return self.words[0] == "cat" and ">" in self.words[:3] and bool(_HEREDOC.search(self.text))


def _blocks(path: Path) -> list[tuple[str, int, list[str]]]:
    blocks, lang, start, lines = [], None, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _FENCE.match(line)
        if match and lang is None:
            lang, start, lines = match.group(1), number, []
        elif line.strip() == "```" and lang is not None:
            blocks.append((lang, start, lines))
            lang = None
        elif lang is not None:
            lines.append(line)
    return blocks


def extract(path: Path) -> list[DocCommand]:
    commands: list[DocCommand] = []
    for lang, start, lines in _blocks(path):
        if lang not in _SHELL:
            continue
        index = 0
        while index < len(lines):
            line = lines[index]
            if lang == "console":
                if not line.startswith("$ "):
                    index += 1
                    continue
                line = line[2:]
            elif not line.startswith(("tasksecrets ", "cat ")):
                index += 1
                continue
            where = f"{path.relative_to(REPO)}:{start + index + 1}"
            text = [line]
            while text[-1].endswith("\\") and index + 1 < len(lines):
                index += 1
                text.append(lines[index].removeprefix("$ ") if lang == "console" else lines[index])
            heredoc = _HEREDOC.search(" ".join(text))
            if heredoc:
                while index + 1 < len(lines):
                    index += 1
                    text.append(lines[index])
                    if lines[index].strip() == heredoc.group(1):
                        break
            shown = []
            while lang == "console" and index + 1 < len(lines) and not lines[index + 1].startswith("$ "):
                index += 1
                shown.append(lines[index])
            commands.append(DocCommand(where, "\n".join(text), shown))
            index += 1
    return commands


def _runnable(path: Path) -> list[DocCommand]:
    return [c for c in extract(path) if c.is_store or c.writes_file]


def test_the_docs_hold_store_commands() -> None:
    # Guards the extraction itself: the seed's command and the kubectl forms are found.
    found = [c for path in DOCS for c in extract(path) if c.is_store]
    assert len(found) >= 12, [c.where for c in found]
    assert any("apply -f - <<'EOF'" in c.text and "kind: List" in c.text for c in found)
    others = {
        c.words[1] for path in DOCS for c in extract(path) if c.words[0] == "tasksecrets" and not c.is_store
    }
    assert others <= set(NOT_STORE), (
        f"commands neither run nor listed in NOT_STORE: {others - set(NOT_STORE)}"
    )


@pytest.mark.parametrize("path", [p for p in DOCS if _runnable(p)], ids=lambda p: p.name)
def test_doc_store_commands_run_as_written(path: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSECRETS_")}
    env["TASKSECRETS_HOME"] = str(tmp_path / "store")
    prelude = f'tasksecrets() {{ "{sys.executable}" -m tasksecrets "$@"; }}\n'
    for command in _runnable(path):
        done = subprocess.run(
            ["bash", "-c", prelude + command.text],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        output = done.stdout + done.stderr
        shows_error = any(line.startswith("Error:") for line in command.shown)
        assert (done.returncode != 0) == shows_error, f"{command.where}: {command.text}\n{output}"
        assert "Traceback" not in output, f"{command.where}\n{output}"
        printed = [line.rstrip() for line in output.splitlines()]
        for line in command.shown:
            # Every line the docs show is printed, but for elisions and ages (which differ each run).
            if "..." in line or _AGE.search(line):
                continue
            assert line.rstrip() in printed, f"{command.where}: the docs show {line!r}:\n{output}"
