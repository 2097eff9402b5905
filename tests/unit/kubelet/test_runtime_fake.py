"""FakeRuntime behaves like the runtime adapter as the kubelet sees it, and stop_container escalates from SIGTERM
to SIGKILL only for a container that outlives its grace period."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from provisioner.services.kubelet.runtime.fake import FakeRuntime
from provisioner.services.kubelet.runtime.protocol import (
    CREATED,
    RUNNING,
    STOPPED,
    ContainerExists,
    ContainerNotFound,
    ContainerRuntimeError,
    ExitTimeout,
    RuntimeCommandError,
    stop_container,
)

BUNDLE = Path("/bundles/c1")


def running(runtime: FakeRuntime, container_id: str = "c1") -> FakeRuntime:
    runtime.create(container_id, BUNDLE, Path("/logs/out"), Path("/logs/err"))
    runtime.start(container_id)
    return runtime


def test_lifecycle_created_running_stopped_deleted() -> None:
    runtime = FakeRuntime()
    runtime.create("c1", BUNDLE, Path("/logs/out"), Path("/logs/err"))
    created = runtime.state("c1")
    assert (created.status, created.bundle, created.exit_code) == (CREATED, str(BUNDLE), None)
    assert created.pid > 0
    runtime.start("c1")
    assert runtime.state("c1").status == RUNNING
    runtime.exit("c1", 3)
    stopped = runtime.state("c1")
    assert (stopped.status, stopped.pid, stopped.exit_code) == (STOPPED, 0, 3)
    assert runtime.wait_exit("c1", 5) == 3
    assert [state.id for state in runtime.list()] == ["c1"]
    runtime.delete("c1")
    assert runtime.list() == []
    assert runtime.calls[:2] == [("create", "c1", str(BUNDLE), "/logs/out", "/logs/err"), ("state", "c1")]
    assert ("delete", "c1", "") in runtime.calls


def test_errors() -> None:
    runtime = running(FakeRuntime())
    with pytest.raises(ContainerExists):
        runtime.create("c1", BUNDLE, Path("o"), Path("e"))
    with pytest.raises(ContainerNotFound):
        runtime.state("c2")
    with pytest.raises(RuntimeCommandError, match="running"):
        runtime.delete("c1")  # not stopped, not forced
    with pytest.raises(RuntimeCommandError, match="running"):
        runtime.start("c1")
    with pytest.raises(ContainerRuntimeError, match="invalid container id"):
        runtime.create("../escape", BUNDLE, Path("o"), Path("e"))
    runtime.fail_create("c3", "no such image")
    with pytest.raises(RuntimeCommandError, match="no such image"):
        runtime.create("c3", BUNDLE, Path("o"), Path("e"))
    assert [state.id for state in runtime.list()] == ["c1"]


def test_wait_exit_times_out_without_sleeping_while_running() -> None:
    runtime = running(FakeRuntime())
    with pytest.raises(ExitTimeout):
        runtime.wait_exit("c1", 30)


def test_forced_delete_of_a_running_container() -> None:
    runtime = running(FakeRuntime())
    runtime.delete("c1", force=True)
    assert runtime.list() == []


def test_stop_container_that_obeys_sigterm() -> None:
    runtime = running(FakeRuntime())
    assert stop_container(runtime, "c1", grace_seconds=30) == 143
    kills = [call for call in runtime.calls if call[0] == "kill"]
    assert kills == [("kill", "c1", str(int(signal.SIGTERM)))]


def test_stop_container_escalates_to_sigkill_after_the_grace_period() -> None:
    runtime = running(FakeRuntime())
    runtime.ignore_signal("c1", signal.SIGTERM)
    assert stop_container(runtime, "c1", grace_seconds=2) == 137
    waits_and_kills = [call for call in runtime.calls if call[0] in ("kill", "wait_exit")]
    assert waits_and_kills == [
        ("kill", "c1", "15"), ("wait_exit", "c1", "2"), ("kill", "c1", "9"), ("wait_exit", "c1", "10"),
    ]


def test_stop_container_already_stopped_returns_its_exit_code_without_signals() -> None:
    runtime = running(FakeRuntime())
    runtime.exit("c1", 0)
    assert stop_container(runtime, "c1", grace_seconds=30) == 0
    assert not [call for call in runtime.calls if call[0] == "kill"]


def test_sigkill_cannot_be_ignored() -> None:
    runtime = running(FakeRuntime())
    runtime.ignore_signal("c1", signal.SIGKILL)
    runtime.kill("c1", signal.SIGKILL)
    assert runtime.state("c1").exit_code == 137
