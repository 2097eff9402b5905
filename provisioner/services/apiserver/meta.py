"""Object metadata the server owns: names, uids, timestamps, generation."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' alphabet: no vowels, no look-alikes
_GENERATE_SUFFIX = 5
_MAX_NAME = 253


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    suffix = "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(_GENERATE_SUFFIX))
    return prefix[: _MAX_NAME - _GENERATE_SUFFIX] + suffix


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta
