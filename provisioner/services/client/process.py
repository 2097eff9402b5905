"""What every service's `main` shares: argparse types for durations, booleans and bind addresses, and running the service
until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable

from provisioner.services.api.duration import parse_duration
from provisioner.services.client.healthz import parse_bind_address


def duration(text: str) -> float:
    """argparse type: a Go duration (``40s``, ``1m30s``, ``8760h0m0s``, ``500ms``) or plain seconds → seconds."""
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def boolean(text: str) -> bool:
    """argparse type: true/false in the spellings Kubernetes' flags accept."""
    lowered = text.strip().lower()
    if lowered in ("true", "1", "t", "yes"):
        return True
    if lowered in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def bind_address(text: str) -> tuple[str, int] | None:
    """argparse type: ``HOST:PORT``, or empty (disabled)."""
    try:
        return parse_bind_address(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


async def until_signalled(work: Awaitable[object]) -> bool:
    """Run `work` until it ends (False) or SIGTERM/SIGINT cancels it (True); its exceptions propagate."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False
