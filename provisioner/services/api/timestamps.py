"""The two timestamp formats of the API: metav1.Time (RFC 3339, whole seconds) and metav1.MicroTime (Leases)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: float) -> str:
    """Seconds since the epoch → ``2026-11-22T10:00:00Z`` (metav1.Time has second precision)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(moment: float) -> str:
    """Seconds since the epoch → metav1.MicroTime, as Leases carry it."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float | None:
    """RFC 3339 (with or without fraction) → seconds since the epoch; None if unparsable."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return None
