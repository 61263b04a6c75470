"""Masking benchmark: registering a long value, and masking a line, against one full alternation.

Prints a Markdown table. ``--write-readme`` also replaces the "Masking" section of benchmarks/README.md.

What a task and the local runner pay for a secret value, by its size (4 KiB, a key; 200 KiB, a
certificate bundle; 1 MiB, the most a Kubernetes Secret holds): building the masker of the value's
forms (``LineMasker``, which the runner builds; a task's ``MaskScope.add`` builds the same), and
masking a 100-character line without the value and one with it. The peer, measured in the same
run, is the construction the masker replaced: one regular expression of every form, longest first
(``re.compile`` of the alternation; ``sub`` of it, then the registered values' masking, as the
masker's ``mask`` does). Both builds start with ``re``'s cache emptied, as a new value does.
Median and p99, and the ratio. The values are random bytes of this run, never printed.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _stats import percentile, write_readme_section

COMMAND = "python benchmarks/masking.py --write-readme"
SIZES = {"4 KiB": 4096, "200 KiB": 200 * 1024, "1 MiB": 1024 * 1024}
LINE = "step 12: uploaded the report, 1,024 rows in 0.8 s; next: the summary table ".ljust(100, ".")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from tasksecrets.sdk.masking import MASK, LineMasker, _fragments, mask_text  # noqa: E402


def _alternation(value: str) -> re.Pattern[str]:
    re.purge()  # compiled anew each time, as a new value is
    ordered = sorted(set(_fragments(value)), key=len, reverse=True)
    return re.compile("|".join(re.escape(form) for form in ordered))


def _times(call: Callable[[], Any], runs: int, number: int = 1) -> list[float]:
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(number):
            call()
        found.append((time.perf_counter() - started) / number)
    return found


def _row(measure: str, unit: float, ours: list[float], peer: list[float]) -> str:
    ratio = statistics.median(ours) / statistics.median(peer)
    cells = [statistics.median(ours), percentile(ours, 0.99), statistics.median(peer), percentile(peer, 0.99)]
    return f"| {measure} | " + " | ".join(f"{c * unit:,.2f}" for c in cells) + f" | {ratio:.3f} |"


def _rows_for(label: str, size: int, runs: int, peer_runs: int) -> list[str]:
    value = base64.b64encode(os.urandom(size))[:size].decode("ascii")
    masker, pattern = LineMasker([value]), _alternation(value)
    with_value = f"{LINE[:40]}{value}{LINE[40:]}"
    assert masker.mask(with_value) == pattern.sub(MASK, with_value) == f"{LINE[:40]}{MASK}{LINE[40:]}"
    return [
        _row(
            f"build, a {label} value (ms)",
            1e3,
            _times(lambda: (re.purge(), LineMasker([value])), runs),
            _times(lambda: _alternation(value), peer_runs),
        ),
        _row(
            f"mask a line without it, {label} value (µs)",
            1e6,
            _times(lambda: masker.mask(LINE), runs, 2000),
            _times(lambda: mask_text(pattern.sub(MASK, LINE)), runs, 2000),
        ),
        _row(
            f"mask a line holding it, {label} value (µs)",
            1e6,
            _times(lambda: masker.mask(with_value), runs, 20),
            _times(lambda: mask_text(pattern.sub(MASK, with_value)), runs, 20),
        ),
    ]


def run(runs: int, peer_runs: int) -> str:
    rows = [
        "| measure | masker median | p99 | full alternation median | p99 | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for label, size in SIZES.items():
        rows += _rows_for(label, size, runs, peer_runs)
    return "\n".join(rows)


def write_readme(table: str, runs: int, peer_runs: int) -> None:
    section = (
        "## Masking\n\n"
        f"Command: `{COMMAND}` (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs). One process; "
        f"{runs} runs of ours, {peer_runs} of the full alternation's build (it takes seconds for the "
        "large values), batches for the masking of one line. The masker's answers equal the "
        "alternation's (checked here, and on generated texts by tests/sdk/test_masking_finder.py).\n\n"
        f"{table}\n\n"
        "Reading it: the alternation's build grows with the value (about 8 µs per character of its "
        "forms: seconds for a certificate bundle, in the runner and again in the task); the masker "
        "compiles 32 characters per form. In exchange, a line where no value appears costs a fraction "
        "of a microsecond more (a search of the heads behind one more call).\n"
    )
    write_readme_section("Masking", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--peer-runs", type=int, default=3)
    parser.add_argument("--write-readme", action="store_true", help="update the Masking section of README.md")
    args = parser.parse_args()
    table = run(args.runs, args.peer_runs)
    print(table)
    if args.write_readme:
        write_readme(table, args.runs, args.peer_runs)


if __name__ == "__main__":
    main()
