"""A writer process for the store's crash and concurrency tests (run as a script, not collected).

Usage: ``python store_writer.py HOME PREFIX COUNT`` (COUNT 0 = until killed). Prints ``ready`` once the
store is open, then ``ack NAME`` after each create() has returned, i.e. after the commit; a line the
parent reads is therefore a write the store acknowledged.
"""

from __future__ import annotations

import sys
from itertools import count
from pathlib import Path

from tasksecrets.local.store import SecretStore

NAMESPACE = "writers"
KEYS = ("alpha", "beta", "gamma")


def expected_data(name: str) -> dict[str, bytes]:
    """The values the writer stores under ``name``: distinct per secret and per key."""
    return {key: f"fake-{key}-{name}".encode() for key in KEYS}


def main() -> None:
    home, prefix, total = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with SecretStore.open(home) as store:
        print("ready", flush=True)
        for i in count():
            if total and i >= total:
                break
            name = f"{prefix}-{i}"
            store.create(NAMESPACE, name, expected_data(name))
            print(f"ack {name}", flush=True)


if __name__ == "__main__":
    main()
