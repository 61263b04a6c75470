"""Helpers shared by the SDK tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

from pathlib import Path

# Obviously fake values: tests assert they never show up in messages, reprs or logs.
FAKE_VALUE = "FAKE-s3cr3t-value-0001"
OTHER_FAKE_VALUE = "FAKE-other-s3cr3t-0002"


def write_secret(path: Path | str, value: str | bytes) -> Path:
    """Write a secret file (and its directories) as a mounted secret would appear."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(value.encode() if isinstance(value, str) else value)
    return path
