"""FakeRunner: recorded calls, default and scripted results, failures, events, limits, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioner.errors import RunnerError
from provisioner.runner import FakeRunner, HostStats, Runner, RunnerCall, TaskEvent, TaskFailure

INVENTORY = {
    "all": {
        "children": {
            "control_plane": {"hosts": {"cp1": {"ansible_host": "10.0.0.1"}}},
            "workers": {"hosts": {"w1": None, "w2": {}}},
            "nodes": {"children": {"control_plane": {}, "workers": {}}},
        },
        "vars": {"ansible_user": "root"},
    }
}
JOIN_FAILURE = TaskFailure(
    host="w2",
    task="start kubelet",
    action="systemd",
    message="unit failed",
    stderr="exit 1",
    command="systemctl",
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(yaml.safe_dump(INVENTORY))
    return tmp_path


def test_it_is_a_runner() -> None:
    runner: Runner = FakeRunner()
    assert isinstance(runner, FakeRunner)


def test_calls_are_recorded(workspace: Path) -> None:
    runner = FakeRunner()
    runner.run(workspace, "preflight.yml")
    runner.run(
        workspace, "join.yml", limit=["workers"], tags=["kubelet"], extravars={"token": "t"}, check=True
    )
    assert runner.calls == [
        RunnerCall(workspace, "preflight.yml", None, (), {}, False),
        RunnerCall(workspace, "join.yml", ("workers",), ("kubelet",), {"token": "t"}, True),
    ]
    assert runner.playbooks == ["preflight.yml", "join.yml"]


def test_by_default_every_inventory_host_succeeds_with_nothing_changed(workspace: Path) -> None:
    result = FakeRunner().run(workspace, "bundle.yml")
    assert result.ok and result.status == "successful" and result.rc == 0
    assert result.hosts == {"cp1": HostStats(), "w1": HostStats(), "w2": HostStats()}
    assert result.changed == 0 and result.failures == ()
    assert result.log_path.parent.parent == workspace / "artifacts"


def test_limit_selects_hosts_and_groups(workspace: Path) -> None:
    runner = FakeRunner()
    assert list(runner.run(workspace, "join.yml", limit=["workers"]).hosts) == ["w1", "w2"]
    assert list(runner.run(workspace, "join.yml", limit=["w2", "control_plane"]).hosts) == ["cp1", "w2"]
    assert list(runner.run(workspace, "join.yml", limit=["nodes"]).hosts) == ["cp1", "w1", "w2"]


def test_a_limit_matching_no_host_is_a_runner_error_and_an_empty_one_is_refused(workspace: Path) -> None:
    runner = FakeRunner()
    with pytest.raises(RunnerError, match="no host"):
        runner.run(workspace, "join.yml", limit=["nobody"])
    with pytest.raises(ValueError, match="empty limit"):
        runner.run(workspace, "join.yml", limit=[])


def test_a_workspace_without_inventory_is_a_runner_error(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="inventory"):
        FakeRunner().run(tmp_path, "preflight.yml")


def test_scripted_tasks_emit_events_and_count_changes(workspace: Path) -> None:
    runner = FakeRunner()
    runner.script("pki.yml", tasks=["copy ca", "copy certs"], changed={"cp1": 2, "w1": 1})
    events: list[TaskEvent] = []
    result = runner.run(workspace, "pki.yml", limit=["cp1", "w1"], on_event=events.append)
    assert result.ok
    assert result.hosts == {"cp1": HostStats(ok=2, changed=2), "w1": HostStats(ok=2, changed=1)}
    assert result.changed == 3
    assert events == [
        TaskEvent("play_start", None, "", "pki"),
        TaskEvent("task_start", None, "copy ca", "pki"),
        TaskEvent("host_changed", "cp1", "copy ca", "pki"),
        TaskEvent("host_changed", "w1", "copy ca", "pki"),
        TaskEvent("task_start", None, "copy certs", "pki"),
        TaskEvent("host_changed", "cp1", "copy certs", "pki"),
        TaskEvent("host_ok", "w1", "copy certs", "pki"),
    ]


def test_a_failure_stops_its_host_and_fails_the_run(workspace: Path) -> None:
    runner = FakeRunner()
    runner.script("join.yml", tasks=["install", "start kubelet", "wait for node"])
    runner.fail("join.yml", JOIN_FAILURE)
    events: list[TaskEvent] = []
    result = runner.run(workspace, "join.yml", limit=["workers"], on_event=events.append)
    assert not result.ok and result.status == "failed" and result.rc == 2
    assert result.failures == (JOIN_FAILURE,)
    assert result.hosts == {"w1": HostStats(ok=3), "w2": HostStats(ok=1, failed=1)}
    assert TaskEvent("host_failed", "w2", "start kubelet", "join") in events
    assert [event.host for event in events if event.task == "wait for node" and event.host] == ["w1"]
    assert runner.run(workspace, "verify.yml").ok  # only the playbook told to fail fails


def test_a_failure_at_an_unscripted_task_adds_that_task(workspace: Path) -> None:
    runner = FakeRunner()
    runner.fail("join.yml", JOIN_FAILURE)
    events: list[TaskEvent] = []
    result = runner.run(workspace, "join.yml", on_event=events.append)
    assert [event.task for event in events if event.kind == "task_start"] == ["start kubelet"]
    assert result.hosts["w2"] == HostStats(failed=1)
    assert result.hosts["w1"] == HostStats(ok=1)


def test_a_failure_on_a_host_outside_the_limit_does_not_happen(workspace: Path) -> None:
    runner = FakeRunner()
    runner.fail("join.yml", JOIN_FAILURE)
    assert runner.run(workspace, "join.yml", limit=["w1"]).ok


def test_an_unreachable_host_fails_the_run_with_rc_4(workspace: Path) -> None:
    runner = FakeRunner()
    runner.fail(
        "preflight.yml", TaskFailure("w1", "ping", "ping", "ssh: connection refused", unreachable=True)
    )
    events: list[TaskEvent] = []
    result = runner.run(workspace, "preflight.yml", on_event=events.append)
    assert result.status == "failed" and result.rc == 4
    assert result.hosts["w1"] == HostStats(unreachable=1)
    assert TaskEvent("host_unreachable", "w1", "ping", "preflight") in events


def test_raise_error_makes_the_playbook_raise(workspace: Path) -> None:
    runner = FakeRunner()
    runner.raise_error("bundle.yml", RunnerError("cannot run bundle.yml"))
    with pytest.raises(RunnerError, match="bundle.yml"):
        runner.run(workspace, "bundle.yml")
    assert runner.playbooks == ["bundle.yml"]
