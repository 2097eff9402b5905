"""AnsibleRunner against real ansible-runner and ansible-playbook, on hosts with `ansible_connection: local`
(and one unreachable ssh host): results, stats, failures, events, limit/tags/check/extravars, errors."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.errors import RunnerError
from provisioner.runner import AnsibleRunner, HostStats, PlaybookResult, TaskEvent, failure_report
from provisioner.runner.ansible import _cancel_on_signals, run_settings

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
INVENTORY = {
    "all": {
        "children": {
            "control_plane": {"hosts": {"h1": LOCAL}},
            "workers": {"hosts": {"h2": LOCAL}},
            "nodes": {"children": {"control_plane": {}, "workers": {}}},
            "offline": {
                "hosts": {
                    "h3": {
                        "ansible_connection": "ssh",
                        "ansible_host": "127.0.0.1",
                        "ansible_port": 1,
                        "ansible_user": "nobody",
                        "ansible_ssh_common_args": "-o ConnectTimeout=2",
                    }
                }
            },
        }
    }
}
WORKSPACE_EXTRAVARS = {"greeting": "from-workspace"}

PLAYBOOKS = {
    # Writes one file per host into out_dir: changed the first time, unchanged the second.
    "write.yml": """
        - name: write
          hosts: nodes
          gather_facts: false
          tasks:
            - name: write greeting
              copy:
                content: "{{ greeting }}\\n"
                dest: "{{ out_dir }}/{{ inventory_hostname }}.txt"
              tags: [files]
            - name: say hello
              debug:
                msg: hello
              tags: [talk]
    """,
    # h3 is unreachable, h2 fails, h1 fails only where errors are ignored or rescued.
    "broken.yml": """
        - name: broken
          hosts: all
          gather_facts: false
          tasks:
            - name: tolerated failure
              command: /bin/false
              ignore_errors: true
            - name: rescued failure
              block:
                - name: fail on h1
                  command: /bin/false
                  when: inventory_hostname == 'h1'
              rescue:
                - name: recover
                  debug:
                    msg: recovered
            - name: fail on workers
              command: /bin/sh -c "echo some output; echo boom >&2; exit 3"
              when: inventory_hostname in groups.workers
            - name: after failure
              debug:
                msg: still here
    """,
    "sleep.yml": """
        - name: sleep
          hosts: control_plane
          gather_facts: false
          tasks:
            - name: sleep a while
              command: sleep 30
    """,
}


def _make_workspace(root: Path, inventory_text: str) -> Path:
    project = root / "playbooks"
    project.mkdir()
    for name, text in PLAYBOOKS.items():
        (project / name).write_text(textwrap.dedent(text))
    workspace = root / "ws"
    (workspace / "inventory").mkdir(parents=True)
    (workspace / "inventory" / "hosts.yml").write_text(inventory_text)
    (workspace / "env").mkdir()
    (workspace / "env" / "extravars").write_text(yaml.safe_dump(WORKSPACE_EXTRAVARS))
    # ansible-runner looks for a timeout or cancel every pexpect_timeout seconds (5 by default)
    (workspace / "env" / "settings").write_text(yaml.safe_dump({"pexpect_timeout": 1}))
    (workspace / "project").symlink_to(project)  # as rendered: a link to the repository's playbooks/
    return workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_workspace(tmp_path_factory.mktemp("runner"), yaml.safe_dump(INVENTORY))


@pytest.fixture(scope="module")
def broken_run(workspace: Path) -> tuple[PlaybookResult, list[TaskEvent]]:
    events: list[TaskEvent] = []
    result = AnsibleRunner().run(workspace, "broken.yml", on_event=events.append)
    return result, events


@pytest.fixture(scope="module")
def first_write(
    workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PlaybookResult, list[TaskEvent], Path]:
    out_dir = tmp_path_factory.mktemp("first-write")
    return (*_write(workspace, out_dir), out_dir)


def _write(workspace: Path, out_dir: Path, **options: Any) -> tuple[PlaybookResult, list[TaskEvent]]:
    events: list[TaskEvent] = []
    extravars = {"out_dir": str(out_dir), **options.pop("extravars", {})}
    result = AnsibleRunner().run(
        workspace, "write.yml", extravars=extravars, on_event=events.append, **options
    )
    return result, events


def test_a_change_is_counted_once_and_a_rerun_changes_nothing(
    workspace: Path, first_write: tuple[PlaybookResult, list[TaskEvent], Path]
) -> None:
    first, _, out_dir = first_write
    assert first.ok and first.status == "successful" and first.rc == 0
    assert first.hosts == {"h1": HostStats(ok=2, changed=1), "h2": HostStats(ok=2, changed=1)}
    assert first.changed == 2
    assert (out_dir / "h1.txt").read_text() == "from-workspace\n"

    second, _ = _write(workspace, out_dir)
    assert second.ok
    assert second.changed == 0
    assert second.hosts == {"h1": HostStats(ok=2), "h2": HostStats(ok=2)}
    assert second.log_path != first.log_path
    assert second.log_path.is_file() and "PLAY RECAP" in second.log_path.read_text()
    assert second.log_path.parent.parent == workspace.resolve() / "artifacts"


def test_events_arrive_in_order_task_start_before_host_results(
    first_write: tuple[PlaybookResult, list[TaskEvent], Path],
) -> None:
    _, events, _ = first_write
    assert events[0] == TaskEvent("play_start", None, "", "write")
    task_starts = [event.task for event in events if event.kind == "task_start"]
    assert task_starts == ["write greeting", "say hello"]
    current_task = None
    for event in events[1:]:
        if event.kind == "task_start":
            current_task = event.task
        else:
            assert event.task == current_task and event.play == "write"
    host_events = {(event.kind, event.host, event.task) for event in events if event.host}
    assert host_events == {
        ("host_changed", "h1", "write greeting"),
        ("host_changed", "h2", "write greeting"),
        ("host_ok", "h1", "say hello"),
        ("host_ok", "h2", "say hello"),
    }


def test_limit_restricts_hosts(workspace: Path, tmp_path: Path) -> None:
    result, _ = _write(workspace, tmp_path, limit=["workers"])
    assert result.ok
    assert list(result.hosts) == ["h2"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["h2.txt"]


def test_an_empty_limit_is_refused_rather_than_running_everywhere(workspace: Path) -> None:
    with pytest.raises(ValueError, match="empty limit"):
        AnsibleRunner().run(workspace, "write.yml", limit=[])


def test_tags_restrict_tasks(workspace: Path, tmp_path: Path) -> None:
    result, events = _write(workspace, tmp_path, tags=["talk"])
    assert result.ok and result.changed == 0
    assert [event.task for event in events if event.kind == "task_start"] == ["say hello"]
    assert list(tmp_path.iterdir()) == []


def test_ansible_playbook_is_found_next_to_the_interpreter_whatever_the_path(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # a fresh machine: the venv is not on PATH
    result, _ = _write(workspace, tmp_path, tags=["talk"])
    assert result.ok


def test_check_mode_reports_what_would_change_and_changes_nothing(workspace: Path, tmp_path: Path) -> None:
    result, _ = _write(workspace, tmp_path, check=True, diff=True)
    assert result.ok
    assert result.changed == 2
    assert list(tmp_path.iterdir()) == []


def test_extravars_override_the_workspace_extravars_without_rewriting_them(
    workspace: Path, tmp_path: Path
) -> None:
    env_files = sorted(path.name for path in (workspace / "env").iterdir())
    result, _ = _write(workspace, tmp_path, extravars={"greeting": "from-caller"})
    assert result.ok
    assert (tmp_path / "h1.txt").read_text() == "from-caller\n"
    assert yaml.safe_load((workspace / "env" / "extravars").read_text()) == WORKSPACE_EXTRAVARS
    assert sorted(path.name for path in (workspace / "env").iterdir()) == env_files


def test_failures_name_host_task_command_and_output(
    broken_run: tuple[PlaybookResult, list[TaskEvent]],
) -> None:
    result, _ = broken_run
    assert not result.ok and result.status == "failed"
    failed = [failure for failure in result.failures if not failure.unreachable]
    assert len(failed) == 1
    failure = failed[0]
    assert (failure.host, failure.task, failure.action) == ("h2", "fail on workers", "command")
    assert failure.message == "non-zero return code"
    assert failure.command == "/bin/sh -c 'echo some output; echo boom >&2; exit 3'"
    assert (failure.stdout, failure.stderr) == ("some output", "boom")


def test_ignored_and_rescued_failures_are_not_failures(
    broken_run: tuple[PlaybookResult, list[TaskEvent]],
) -> None:
    result, events = broken_run
    assert {failure.host for failure in result.failures} == {"h2", "h3"}
    # The ignored `command` counts as a change: the module reports one even when it fails.
    assert result.hosts["h1"] == HostStats(ok=3, changed=1, ignored=1, rescued=1, skipped=1)
    assert result.hosts["h2"] == HostStats(ok=1, changed=1, failed=1, ignored=1, skipped=1)
    # The rescued failure was still reported as it happened.
    assert TaskEvent("host_failed", "h1", "fail on h1", "broken") in events
    assert not any(event.kind == "host_failed" and event.task == "tolerated failure" for event in events)


def test_an_unreachable_host_is_a_failure_and_in_the_stats(
    broken_run: tuple[PlaybookResult, list[TaskEvent]],
) -> None:
    result, events = broken_run
    assert result.rc == 4  # ansible-playbook: some host unreachable
    [unreachable] = [failure for failure in result.failures if failure.unreachable]
    assert (unreachable.host, unreachable.task) == ("h3", "tolerated failure")
    assert "port 1: Connection refused" in unreachable.message
    assert result.hosts["h3"] == HostStats(unreachable=1)
    assert TaskEvent("host_unreachable", "h3", "tolerated failure", "broken") in events


def test_failure_report_of_a_real_failure(broken_run: tuple[PlaybookResult, list[TaskEvent]]) -> None:
    result, _ = broken_run
    report = failure_report(result)
    assert "h2: fail on workers (command): non-zero return code" in report
    assert "h3: tolerated failure (unreachable): " in report
    assert "boom" in report and "some output" in report
    assert report.endswith(f"log: {result.log_path}")
    assert "fail on workers" in result.log_path.read_text()


def test_a_missing_playbook_is_a_runner_error_naming_it_and_the_workspace(workspace: Path) -> None:
    with pytest.raises(RunnerError) as raised:
        AnsibleRunner().run(workspace, "absent.yml")
    message = str(raised.value)
    assert "absent.yml" in message and str(workspace.resolve()) in message
    assert "could not be found" in message  # ansible-playbook's own words, from the log tail


def test_an_inventory_that_does_not_parse_is_a_runner_error(tmp_path: Path) -> None:
    workspace = _make_workspace(tmp_path, "all: [unclosed\n")
    with pytest.raises(RunnerError, match="write.yml"):
        AnsibleRunner().run(workspace, "write.yml", extravars={"out_dir": str(tmp_path)})


def test_a_missing_workspace_is_a_runner_error(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="does not exist"):
        AnsibleRunner().run(tmp_path / "nowhere", "write.yml")


def test_a_run_past_its_timeout_stops_with_status_timeout(workspace: Path) -> None:
    result = AnsibleRunner().run(workspace, "sleep.yml", timeout=1)
    assert result.status == "timeout" and not result.ok
    assert result.elapsed < 10


def test_an_error_in_on_event_stops_the_run_and_is_raised(workspace: Path, tmp_path: Path) -> None:
    def progress(event: TaskEvent) -> None:
        raise RuntimeError(f"progress display broke at {event.kind}")

    with pytest.raises(RuntimeError, match="broke at play_start"):
        AnsibleRunner().run(workspace, "write.yml", extravars={"out_dir": str(tmp_path)}, on_event=progress)


def test_settings_keep_control_sockets_short_and_find_the_venv_ansible(tmp_path: Path) -> None:
    settings = run_settings(tmp_path)
    assert settings["ANSIBLE_SSH_CONTROL_PATH_DIR"] == str(tmp_path / ".cp")
    assert settings["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert settings["ANSIBLE_LOCAL_TEMP"] == str(tmp_path / ".tmp")

    # ansible adds "/<10 hex>" to the directory and ssh ".<16 chars>" while it binds the socket
    deep_settings = run_settings(tmp_path / ("d" * 80))
    assert len(deep_settings["ANSIBLE_SSH_CONTROL_PATH_DIR"]) + 28 <= 100


def test_signals_cancel_the_run_and_the_previous_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGINT)
    with _cancel_on_signals() as cancelled:
        assert not cancelled()
        os.kill(os.getpid(), signal.SIGINT)
        assert cancelled()
    assert signal.getsignal(signal.SIGINT) is before
