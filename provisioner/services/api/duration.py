"""Go durations (``40s``, ``1m30s``, ``8760h0m0s``, ``500ms``), as metav1.Duration and the components' flags take
them; a plain number is seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds; ValueError for anything else, and for negative durations."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        parts = _PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError(f"invalid duration {text!r} (expected e.g. 40s, 1m30s, 500ms)") from None
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {text!r}")
    if seconds < 0:
        raise ValueError(f"invalid duration {text!r}: negative")
    return seconds
