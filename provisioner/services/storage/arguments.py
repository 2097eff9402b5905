"""Argument checks shared by the backends: a caller's mistake is a ValueError, never a storage error."""

from __future__ import annotations


def check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError(f"storage keys are non-empty strings, got {key!r}")


def check_value(value: bytes) -> None:
    if not isinstance(value, bytes):
        raise TypeError(f"storage values are bytes, got {type(value).__name__}")


def check_list_args(revision: int, limit: int) -> None:
    if revision < 0:
        raise ValueError(f"revision must be >= 0 (0 = now), got {revision}")
    if limit < 0:
        raise ValueError(f"limit must be >= 0 (0 = no limit), got {limit}")


def check_update_revision(expected_revision: int) -> None:
    if expected_revision <= 0:
        raise ValueError(
            f"update is a compare-and-swap: expected_revision must be > 0, got {expected_revision}"
        )


def check_watch_revision(after_revision: int) -> None:
    if after_revision < 0:
        raise ValueError(f"after_revision must be >= 0 (0 = from now), got {after_revision}")
