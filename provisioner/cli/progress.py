"""Progress of `provision create`/`delete` on the terminal: one line per phase with its elapsed time, the
current task shown while it runs (rich); plain lines when stdout is not a terminal (CI logs)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.status import Status

from provisioner.plan import Phase


class TerminalProgress:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._status: Status | None = None
        self._phase: Phase | None = None
        self._started = 0.0

    def phase_started(self, phase: Phase) -> None:
        # A phase may start twice: its tool-side part, then its play in the one Ansible run.
        if self._phase is not phase:
            self._phase, self._started = phase, time.monotonic()
        self._stop()
        if self.console.is_terminal:
            self._status = self.console.status(f"[bold]{phase.name}[/]: {phase.summary}")
            self._status.start()

    def phase_detail(self, text: str) -> None:
        if self._status is not None and self._phase is not None:
            elapsed = time.monotonic() - self._started
            self._status.update(f"[bold]{self._phase.name}[/] {elapsed:4.1f}s: {text}")

    def phase_done(self, phase: Phase, elapsed: float, changed: int | None, note: str) -> None:
        self._stop()
        self._phase = None
        tasks = "" if changed is None else f", {changed} changed"
        self.console.print(f"[green]✓[/] {phase.name:<14} {elapsed:6.1f}s  {note}{tasks}")

    def message(self, text: str) -> None:
        self._stop()
        self.console.print(text)

    def failed(self) -> None:
        if self._phase is not None:
            self._stop()
            self.console.print(f"[red]✗[/] {self._phase.name:<14} {time.monotonic() - self._started:6.1f}s")

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
