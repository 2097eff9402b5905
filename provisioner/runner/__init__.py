"""Running the workspace's playbooks: AnsibleRunner (ansible-runner, the only importer of ansible_runner),
FakeRunner for tests, the results and progress events they hand back, and the failure report users read."""

from provisioner.runner.ansible import AnsibleRunner
from provisioner.runner.fake import FakeRunner, RunnerCall
from provisioner.runner.protocol import (
    HostStats,
    PlaybookResult,
    Runner,
    TaskEvent,
    TaskEventKind,
    TaskFailure,
)
from provisioner.runner.report import failure_report

__all__ = [
    "AnsibleRunner",
    "FakeRunner",
    "HostStats",
    "PlaybookResult",
    "Runner",
    "RunnerCall",
    "TaskEvent",
    "TaskEventKind",
    "TaskFailure",
    "failure_report",
]
