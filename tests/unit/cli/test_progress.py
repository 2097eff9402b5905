"""Progress lines of create/delete when stdout is not a terminal (CI logs)."""

from __future__ import annotations

import io

from rich.console import Console

from provisioner.cli.progress import TerminalProgress
from provisioner.plan import PHASES

PKI = next(p for p in PHASES if p.name == "pki")
PREFLIGHT = PHASES[0]


def _progress() -> tuple[TerminalProgress, io.StringIO]:
    out = io.StringIO()
    return TerminalProgress(Console(file=out, force_terminal=False, width=120, highlight=False)), out


def test_one_line_per_phase_with_time_note_and_changed_tasks() -> None:
    progress, out = _progress()
    progress.phase_started(PREFLIGHT)
    progress.phase_detail("checking")
    progress.phase_done(PREFLIGHT, 0.04, None, "provider machines")
    progress.phase_started(PKI)
    progress.phase_done(PKI, 1.25, 3, "issued apiserver")
    assert out.getvalue().splitlines() == [
        f"✓ {'preflight':<14} {0.04:6.1f}s  provider machines",
        f"✓ {'pki':<14} {1.25:6.1f}s  issued apiserver, 3 changed",
    ]


def test_a_failure_marks_the_phase_it_happened_in() -> None:
    progress, out = _progress()
    progress.phase_started(PKI)
    progress.message("removing the machines")
    progress.failed()
    lines = out.getvalue().splitlines()
    assert lines[0] == "removing the machines"
    assert lines[1].startswith(f"✗ {'pki':<14} ") and lines[1].endswith("s")


def test_no_failure_line_outside_a_phase() -> None:
    progress, out = _progress()
    progress.phase_started(PKI)
    progress.phase_done(PKI, 1.0, 0, "")
    progress.failed()
    assert len(out.getvalue().splitlines()) == 1
