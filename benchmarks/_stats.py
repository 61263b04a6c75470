"""What the benchmark scripts share: a percentile and replacing their section of README.md."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def percentile(values: list[float], fraction: float) -> float:
    """The sample nearest to ``fraction`` of the way through the sorted values (0.99: the p99)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def write_readme_section(title: str, section: str) -> None:
    """Replace the ``## <title>`` section of README.md with ``section`` (appended when missing)."""
    text = README.read_text() if README.exists() else "# Benchmarks\n\nOne script per measured claim.\n"
    start = text.find(f"## {title}\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    README.write_text(text)
