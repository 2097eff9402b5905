"""Storage for the apiserver: the ``Backend`` contract and its implementations, chosen by URL."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from provisioner.services.storage.backend import Backend

SUPPORTED_URLS = ("sqlite:///absolute/path.db", "memory://")


def open_backend(url: str) -> Backend:
    """The backend for ``url`` (not started yet: ``await backend.start()``).

    ``sqlite:///abs/path.db`` — the embedded store (one control plane); ``memory://`` — in-process, for tests.
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    opener = _OPENERS.get(scheme)
    if opener is None:
        raise ValueError(_unsupported(url, "unknown scheme"))
    return opener(url)


def _open_sqlite(url: str) -> Backend:
    from provisioner.services.storage.sqlite import SqliteBackend

    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        raise ValueError(_unsupported(url, "the sqlite path must be absolute: sqlite:///abs/path.db"))
    if parts.query or parts.fragment:
        raise ValueError(_unsupported(url, "sqlite URLs take no query or fragment"))
    if parts.path.endswith("/"):
        raise ValueError(_unsupported(url, "the sqlite path names a directory, not a file"))
    return SqliteBackend(parts.path)


def _open_memory(url: str) -> Backend:
    from provisioner.services.storage.memory import MemoryBackend

    if url != "memory://":
        raise ValueError(_unsupported(url, "a memory URL is exactly memory://"))
    return MemoryBackend()


def _unsupported(url: str, reason: str) -> str:
    return f"unsupported storage URL {url!r}: {reason} (supported: {', '.join(SUPPORTED_URLS)})"


# An etcd backend registers here as "etcd" (its client is imported only inside services.storage.etcd).
_OPENERS: dict[str, Callable[[str], Backend]] = {"sqlite": _open_sqlite, "memory": _open_memory}

__all__ = ["Backend", "SUPPORTED_URLS", "open_backend"]
