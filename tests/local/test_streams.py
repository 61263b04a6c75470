"""A task's output read line by line as it comes, masked completely: real child processes and pipes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tasksecrets.local.streams import MAX_LINE, OutputPump
from tasksecrets.sdk.masking import MASK, LineMasker

VALUE = "fake-stream-value-3"


def _pump(code: str, values: list[str]) -> tuple[list[tuple[str, str]], OutputPump]:
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert child.stdout is not None and child.stderr is not None
    seen: list[tuple[str, str]] = []
    pump = OutputPump(
        child.stdout, child.stderr, masker=LineMasker(values), on_line=lambda s, line: seen.append((s, line))
    )
    pump.pump(exited=lambda: child.poll() is not None)
    assert child.wait(timeout=60) == 0
    child.stdout.close()
    child.stderr.close()
    return seen, pump


def test_lines_of_both_streams_are_masked_even_when_a_value_comes_in_pieces() -> None:
    code = (
        "import sys, time\n"
        f"v = {VALUE!r}\n"
        "for piece in (v[:3], v[3:9], v[9:] + ' end\\n'):\n"
        "    sys.stdout.write(piece); sys.stdout.flush(); time.sleep(0.05)\n"
        "print('ab', flush=True)\n"  # a two-character value, alone on its line
        "print('x ab y', flush=True)\n"  # inside text, too short to mask (it would blank out anything)
        "print(v, file=sys.stderr, flush=True)\n"
        "sys.stdout.write('no newline at the end ' + v)\n"
    )
    seen, pump = _pump(code, [VALUE, "ab"])
    assert [line for stream, line in seen if stream == "stdout"] == [
        f"{MASK} end\n",
        f"{MASK}\n",
        "x ab y\n",
        f"no newline at the end {MASK}",
    ]
    assert [line for stream, line in seen if stream == "stderr"] == [f"{MASK}\n"]
    assert VALUE not in pump.text and pump.stream_text("stderr") == f"{MASK}\n"


@pytest.mark.parametrize("split", [1, 5, len(VALUE) - 1])
def test_a_line_longer_than_the_limit_is_passed_on_in_parts_each_cut_outside_a_value(split: int) -> None:
    # The line outgrows the limit while the value is half written: the part passed on must stop
    # before the value, which is masked once it is whole.
    seen: list[str] = []
    fds = [*os.pipe(), *os.pipe()]
    with os.fdopen(fds[0], "rb") as out, os.fdopen(fds[2], "rb") as err:
        for fd in (fds[1], fds[3]):
            os.close(fd)
        pump = OutputPump(out, err, masker=LineMasker([VALUE]), on_line=lambda _, line: seen.append(line))
        pump.feed("stdout", ("x" * MAX_LINE + VALUE[:split]).encode())
        assert seen and all(VALUE[:split] not in part for part in seen)  # passed on, but not the piece
        pump.feed("stdout", (VALUE[split:] + " end\n").encode())
        pump.finish()
    assert "".join(seen) == "x" * MAX_LINE + MASK + " end\n"


def test_a_line_masker_masks_a_whole_output_or_line_whatever_its_length() -> None:
    masker = LineMasker(["ab", "line one\nzz"])
    assert masker.mask_whole(" ab ") == MASK and masker.mask_whole("abc") == "abc"
    assert masker.mask_line("zz\r\n") == f"{MASK}\r\n"  # one line of a multi-line value
    assert masker.mask_lines("line one\nzz\nok\n") == f"{MASK}\n{MASK}\nok\n"
    assert repr(masker) == "LineMasker(values=4)"  # counts, never values
