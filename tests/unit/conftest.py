"""Fixtures shared across unit test folders."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.apiserver.conftest import (
    LocalApiserver,
    admin_client,
    module_apiserver,
    start_local_apiserver,
)

__all__ = ["admin_client", "apiserver", "module_apiserver"]


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[LocalApiserver]:
    """A fresh in-process apiserver per test (tests/unit/apiserver/ shares one per module instead)."""
    server, stop = start_local_apiserver(tmp_path, bookmark_interval=0.5)
    try:
        yield server
    finally:
        stop()
