"""The text a user reads when a playbook failed: what failed where, the command, its output's end, the log."""

from __future__ import annotations

from provisioner.runner.protocol import PlaybookResult, TaskFailure

TAIL_LINES = 20


def failure_report(result: PlaybookResult) -> str:
    sections = [_describe(failure) for failure in result.failures]
    if not result.failures and not result.ok:
        sections.append(f"{result.playbook}: {result.status} (rc {result.rc}) without a failed task")
    sections.append(f"log: {result.log_path}")
    return "\n\n".join(sections)


def _describe(failure: TaskFailure) -> str:
    action = "unreachable" if failure.unreachable else failure.action
    lines = [f"{failure.host}: {failure.task} ({action}): {failure.message}"]
    if failure.command:
        lines.append(f"  command: {failure.command}")
    for name, text in (("stdout", failure.stdout), ("stderr", failure.stderr)):
        output_lines = text.rstrip().splitlines()
        if len(output_lines) > TAIL_LINES:
            lines.append(f"  {name} (last {TAIL_LINES} of {len(output_lines)} lines):")
        elif output_lines:
            lines.append(f"  {name}:")
        lines.extend(f"    {line}" for line in output_lines[-TAIL_LINES:])
    return "\n".join(lines)
