"""Choosing a backend by URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.services.storage import open_backend
from provisioner.services.storage.memory import MemoryBackend
from provisioner.services.storage.sqlite import SqliteBackend


async def test_sqlite_url_opens_the_file_at_the_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "state" / "store.db"
    path.parent.mkdir()
    backend = open_backend(f"sqlite://{path}")
    assert isinstance(backend, SqliteBackend) and backend.path == str(path)
    await backend.start()
    try:
        await backend.create("/k", b"v")
    finally:
        await backend.close()
    assert path.exists()


def test_memory_url_opens_a_memory_backend() -> None:
    assert isinstance(open_backend("memory://"), MemoryBackend)


@pytest.mark.parametrize(
    "url",
    [
        "postgres://db/k8s",
        "etcd://10.0.0.1:2379",  # not yet
        "/var/lib/store.db",
        "",
        "sqlite://relative.db",
        "sqlite:///",
        "sqlite:///abs/store.db?mode=ro",
        "memory://somewhere",
    ],
)
def test_other_urls_are_refused_naming_the_url_and_the_supported_schemes(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        open_backend(url)
    message = str(caught.value)
    assert repr(url) in message
    assert "sqlite:///" in message and "memory://" in message


async def test_a_missing_directory_is_reported_by_name(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite://{tmp_path}/missing/store.db")
    with pytest.raises(FileNotFoundError, match="missing"):
        await backend.start()
