"""Backends for the storage contract suite: every test taking ``make_backend`` or ``backend`` runs once per kind.

An etcd backend joins by adding its kind to ``BACKEND_KINDS`` and a branch to ``_new_backend``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from provisioner.services.storage.backend import Backend
from provisioner.services.storage.memory import MemoryBackend
from provisioner.services.storage.sqlite import SqliteBackend

BACKEND_KINDS = ("memory", "sqlite")

MakeBackend = Callable[..., Awaitable[Backend]]


def _new_backend(kind: str, directory: Path, index: int, options: dict[str, Any]) -> Backend:
    options.setdefault("compact_interval", None)  # tests compact explicitly unless they say otherwise
    if kind == "memory":
        return MemoryBackend(**options)
    if kind == "sqlite":
        return SqliteBackend(directory / f"store-{index}.db", **options)
    raise AssertionError(f"unknown backend kind {kind}")


@pytest.fixture(params=BACKEND_KINDS)
async def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeBackend]:
    """A factory of started backends of one kind (options go to the constructor); all closed at teardown."""
    opened: list[Backend] = []

    async def make(**options: Any) -> Backend:
        backend = _new_backend(request.param, tmp_path, len(opened), options)
        await backend.start()
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        await backend.close()


@pytest.fixture
async def backend(make_backend: MakeBackend) -> Backend:
    return await make_backend()
