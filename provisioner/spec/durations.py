"""Go-style duration strings (``8760h``, ``15m``, ``1h30m``, ``90s``) as whole-second timedeltas.

The spec only needs hours, minutes and seconds, so that is all this accepts: no signs, fractions or sub-second
units, which a certificate validity or a token TTL never needs and which would only make typos harder to spot.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:[0-9]+[hms])+")
_PART = re.compile(r"([0-9]+)([hms])")

DURATION_SYNTAX = "a duration such as 10m, 1h30m or 8760h (units h, m, s)"


def parse_duration(text: str) -> timedelta:
    """The timedelta of ``text``; ValueError naming the accepted syntax if it is not a duration."""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"must be {DURATION_SYNTAX}; got {text!r}")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """The shortest string parse_duration reads back as ``duration``: ``87600h``, ``1h30m``, ``0s``."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "".join(f"{amount}{unit}" for amount, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if amount)
    return text or "0s"
