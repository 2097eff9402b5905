"""Stopping a running simnodes process's heartbeats from outside: a control file.

The file lists the nodes that should be silent, one name per line (``#`` starts a comment). simnodes re-reads it
when it changes (checked every second): a name added stops that node's heartbeats, a name removed resumes them,
a missing or empty file means every node reports. Declarative, so the file says what is true, survives restarts,
and needs neither a port nor a PID:

    echo simnode-2 >> DIR/stopped-nodes      # simnode-2 goes silent
    : > DIR/stopped-nodes                     # every node reports again
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from provisioner.services.simnodes.simulator import SimulatedNodes

log = logging.getLogger("simnodes")
POLL_SECONDS = 1.0


def read_stopped(path: Path) -> set[str]:
    """The names listed in ``path``; none if it does not exist."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return set()
    return {line.split("#", 1)[0].strip() for line in text.splitlines()} - {""}


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


async def follow_control_file(nodes: SimulatedNodes, path: Path, poll: float = POLL_SECONDS) -> None:
    """Apply ``path`` to ``nodes`` now and whenever it changes, until cancelled."""
    seen: tuple[int, int, int] | None | bool = False  # False: not read yet
    while True:
        signature = _signature(path)
        if signature != seen:
            seen = signature
            _apply(nodes, read_stopped(path), path)
        await asyncio.sleep(poll)


def _apply(nodes: SimulatedNodes, listed: set[str], path: Path) -> None:
    ours = set(nodes.names)
    unknown = listed - ours
    if unknown:
        log.warning("%s: not simulated here, ignored: %s", path, ", ".join(sorted(unknown)))
    wanted = listed & ours
    if wanted != nodes.stopped:
        log.info("heartbeats stopped for: %s", ", ".join(sorted(wanted)) or "(none)")
    nodes.set_stopped(wanted)
