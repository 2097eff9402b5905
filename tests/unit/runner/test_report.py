"""failure_report: what failed where, the command, the last lines of its output, the log."""

from __future__ import annotations

from pathlib import Path

from provisioner.runner import HostStats, PlaybookResult, TaskFailure, failure_report

LOG = Path("/ws/artifacts/20250101T000000.000000-join/stdout")


def _result(*failures: TaskFailure, status: str = "failed", rc: int = 2) -> PlaybookResult:
    return PlaybookResult(
        playbook="join.yml",
        status=status,
        rc=rc,
        hosts={failure.host: HostStats(failed=1) for failure in failures},
        failures=failures,
        log_path=LOG,
        elapsed=1.0,
    )


def test_each_failure_with_its_command_and_output_then_the_log() -> None:
    report = failure_report(
        _result(
            TaskFailure(
                "w1", "start kubelet", "command", "non-zero return code", "started", "no cgroup", "kubelet"
            ),
            TaskFailure("w2", "ping", "ping", "Connection refused", unreachable=True),
        )
    )
    assert report == "\n".join(
        [
            "w1: start kubelet (command): non-zero return code",
            "  command: kubelet",
            "  stdout:",
            "    started",
            "  stderr:",
            "    no cgroup",
            "",
            "w2: ping (unreachable): Connection refused",
            "",
            f"log: {LOG}",
        ]
    )


def test_long_output_is_cut_to_its_last_20_lines() -> None:
    stdout = "\n".join(f"line {number}" for number in range(1, 101))
    report = failure_report(_result(TaskFailure("w1", "install", "apt", "failed", stdout=stdout)))
    assert "  stdout (last 20 of 100 lines):" in report
    assert "    line 81\n" in report and "    line 100\n" in report
    assert "line 80\n" not in report


def test_a_run_that_failed_without_a_failed_task_says_so() -> None:
    report = failure_report(_result(status="timeout", rc=254))
    assert report == f"join.yml: timeout (rc 254) without a failed task\n\nlog: {LOG}"
