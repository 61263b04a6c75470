"""The autouse fixture that gives each test a clean secrets environment.

Import it into a directory's conftest (``from secretsenv import clean_secrets_env``) to apply it to
every test there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

__all__ = ["clean_secrets_env"]


@pytest.fixture(autouse=True)
def clean_secrets_env() -> Iterator[None]:
    """Each test starts without FLYTE_SECRETS_* settings or injected secrets, and leaves none behind."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("FLYTE_SECRETS_", "_FSEC_")):
            del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)
