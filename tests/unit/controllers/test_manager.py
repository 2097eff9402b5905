"""The controller-manager: --controllers selection, loading, per-controller event sources, leader election,
shutdown and failure outcomes — with small controllers written here against the in-process apiserver."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from provisioner.services.client import ApiClient, LeaseTiming, ReconcileLoop
from provisioner.services.controllers import main as cm_main
from provisioner.services.controllers import manager as manager_module
from provisioner.services.controllers import registry
from provisioner.services.controllers.base import ControllerContext, ControllerOptions
from provisioner.services.controllers.manager import (
    ControllerLoadError,
    ControllerManager,
    ControllerSelectionError,
    ControllerStopped,
    LeaderElection,
    Outcome,
    load_controllers,
    runnable,
    select_controllers,
)
from tests.unit.controllers.conftest import eventually, get_or_none, resource

CONFIGMAPS = resource("configmaps")
LEASES = resource("leases", "coordination.k8s.io")
EVENTS = resource("events")
FAST = LeaseTiming(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)


# ------------------------------------------------------------------------------------- controllers for tests
class MarkerController:
    """Writes ConfigMap default/acting-<marker> when it runs, then echoes an event on every ConfigMap named
    ``ping-*`` — enough to see which manager acts and under which event source."""

    name = "marker"
    marker = "unset"

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.configmaps = ctx.informers.informer(CONFIGMAPS, "default")
        self.loop = ReconcileLoop("marker", self.reconcile, informers=[self.configmaps])
        self.loop.enqueue_all(self.configmaps)

    async def run(self) -> None:
        await self.ctx.client.create(CONFIGMAPS, {"metadata": {"name": f"acting-{self.marker}-{uuid.uuid4().hex[:6]}",
                                                               "labels": {"marker": self.marker}}}, "default")
        await self.loop.run()

    async def reconcile(self, key: str) -> None:
        obj = self.configmaps.store.get(key)
        if obj is not None and obj["metadata"]["name"].startswith("ping-"):
            self.ctx.recorder.event({**obj, "kind": "ConfigMap", "apiVersion": "v1"}, "Normal", "Pong", "seen")


def marker_class(marker: str) -> type[MarkerController]:
    return type(f"Marker_{marker}", (MarkerController,), {"marker": marker})


class CrashingController:
    name = "crashing"

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    async def run(self) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("boom: lost my mind")


class ReturningController(CrashingController):
    name = "returning"

    async def run(self) -> None:
        return None


async def acting(client: ApiClient, marker: str) -> list[dict[str, Any]]:
    items, _ = await client.list_all(CONFIGMAPS, "default", label_selector=f"marker={marker}")
    return items


def election(identity: str) -> LeaderElection:
    return LeaderElection(enabled=True, timing=FAST, name="test-controller-manager", identity=identity)


# ----------------------------------------------------------------------------------------------- selection
def test_star_enables_all_in_registry_order() -> None:
    assert select_controllers("*") == list(registry.CONTROLLERS)


def test_disable_wins_over_star_and_over_enable() -> None:
    selected = select_controllers("*,-job,-csr-signer")
    assert "job" not in selected and "csr-signer" not in selected
    assert len(selected) == len(registry.CONTROLLERS) - 2
    assert select_controllers("job,deployment,-job") == ["deployment"]
    assert select_controllers(" job , deployment ") == ["deployment", "job"]  # registry order


@pytest.mark.parametrize("flag", ["deploymnet", "*,-nosuch"])
def test_unknown_names_are_errors_listing_the_valid_ones(flag: str) -> None:
    with pytest.raises(ControllerSelectionError) as info:
        select_controllers(flag)
    message = str(info.value)
    assert repr(flag.split(",")[-1].lstrip("-")) in message
    assert "valid names: deployment, replicaset" in message


def test_a_selection_enabling_nothing_is_an_error() -> None:
    with pytest.raises(ControllerSelectionError, match="enables no controller"):
        select_controllers("-job")


def test_missing_modules_are_named_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.CONTROLLERS, "ghost", "provisioner.services.controllers.ghost:Ghost")
    monkeypatch.setitem(registry.CONTROLLERS, "marker", f"{__name__}:MarkerController")
    monkeypatch.setitem(registry.CONTROLLERS, "typo", f"{__name__}:MarkerControler")
    assert load_controllers(["marker"]) == {"marker": MarkerController}
    with pytest.raises(ControllerLoadError) as info:
        load_controllers(["marker", "ghost", "typo"])
    message = str(info.value)
    assert "ghost (provisioner.services.controllers.ghost:Ghost): No module named" in message
    assert "typo" in message and "MarkerControler" in message


def test_csr_signer_is_skipped_without_signing_files() -> None:
    assert runnable(["job", "csr-signer"], ControllerOptions()) == ["job"]
    configured = ControllerOptions(cluster_signing_cert_file="/ca.crt", cluster_signing_key_file="/ca.key")
    assert runnable(["job", "csr-signer"], configured) == ["job", "csr-signer"]


# --------------------------------------------------------------------------------------------------- flags
@pytest.mark.parametrize(("text", "seconds"), [
    ("40s", 40.0), ("1m30s", 90.0), ("8760h0m0s", 8760 * 3600.0), ("500ms", 0.5), ("1.5h", 5400.0), ("7", 7.0),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert cm_main.duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "1m 30s", "s", "-3s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(Exception, match="invalid duration"):
        cm_main.duration(text)


def test_flags_become_options_and_election() -> None:
    args = cm_main.build_parser().parse_args([
        "--kubeconfig", "k", "--concurrent-syncs", "3", "--node-monitor-grace-period", "8s",
        "--cluster-cidr", "10.1.0.0/16", "--node-cidr-mask-size", "26", "--cluster-signing-duration", "24h",
        "--leader-elect=false", "--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s",
        "--leader-elect-retry-period", "500ms",
    ])  # fmt: skip
    options = cm_main.options_from(args)
    assert (options.workers, options.node_monitor_grace_period, options.cluster_cidr,
            options.node_cidr_mask_size, options.cluster_signing_duration) == (3, 8.0, "10.1.0.0/16", 26, 86400.0)
    chosen = cm_main.election_from(args)
    assert not chosen.enabled and chosen.timing == LeaseTiming(4.0, 3.0, 0.5)
    assert cm_main.election_from(cm_main.build_parser().parse_args(["--kubeconfig", "k"])).enabled


def test_healthz_bind_address_flag(capsys: pytest.CaptureFixture[str]) -> None:
    parse = cm_main.build_parser().parse_args
    assert parse(["--kubeconfig", "k"]).healthz_bind_address == ("127.0.0.1", 10257)
    assert parse(["--kubeconfig", "k", "--healthz-bind-address=[::1]:0"]).healthz_bind_address == ("::1", 0)
    assert parse(["--kubeconfig", "k", "--healthz-bind-address="]).healthz_bind_address is None
    with pytest.raises(SystemExit) as info:
        cm_main.main(["--kubeconfig", "/nonexistent", "--healthz-bind-address", "10257"])
    assert info.value.code == 2
    assert "argument --healthz-bind-address: expected HOST:PORT" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "message"), [
    (["--leader-elect-lease-duration=5s", "--leader-elect-renew-deadline=5s"], "must be greater than --leader-elect-renew"),
    (["--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=2s"], "× 1.2"),
])
def test_inconsistent_election_timings_exit_2(flags: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cm_main.main(["--kubeconfig", "/nonexistent", *flags])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    args = cm_main.build_parser().parse_args(["--kubeconfig", "k", "--leader-elect=false", *flags])
    assert cm_main.election_timing_problem(args) == ""  # without leader election they do not matter


def test_unknown_controller_flag_exits_2_naming_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cm_main.main(["--kubeconfig", "/nonexistent", "--controllers", "*,-frobnicator"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "'frobnicator'" in err and "valid names: deployment" in err


def test_missing_controller_module_exits_1_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(registry.CONTROLLERS, "ghost", "provisioner.services.controllers.ghost:Ghost")
    with pytest.raises(SystemExit) as info:
        cm_main.main(["--kubeconfig", "/nonexistent", "--controllers", "ghost"])
    assert info.value.code == 1
    assert "ghost (provisioner.services.controllers.ghost:Ghost)" in caplog.text


# --------------------------------------------------------------------------------------------- running
async def test_each_controller_records_events_under_its_component(client: ApiClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(manager_module.EVENT_COMPONENTS, "marker", "marker-controller-for-tests")
    manager = ControllerManager(client, {"marker": marker_class("events")}, ControllerOptions(workers=1))
    run = asyncio.create_task(manager.run())
    await eventually(lambda: acting(client, "events"), "the controller to start")
    assert manager.running == ["marker"]
    await client.create(CONFIGMAPS, {"metadata": {"name": "ping-1"}}, "default")

    async def pong() -> list[dict[str, Any]]:
        items, _ = await client.list_all(EVENTS, "default", field_selector="involvedObject.name=ping-1")
        return items

    (event,) = await eventually(pong, "the Pong event")
    assert event["source"]["component"] == "marker-controller-for-tests"
    assert event["reportingComponent"] == "marker-controller-for-tests"
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    assert manager.failure is None and manager.running == []


async def test_only_the_leader_acts_and_a_stopped_leader_hands_over(client: ApiClient) -> None:
    first = ControllerManager(client, {"marker": marker_class("first")})
    second = ControllerManager(client, {"marker": marker_class("second")})
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    first_task = asyncio.create_task(first.serve(election("first"), stop_first))
    await eventually(lambda: acting(client, "first"), "the first manager to lead")
    second_task = asyncio.create_task(second.serve(election("second"), stop_second))
    await asyncio.sleep(3 * FAST.lease_duration)  # several lease periods: the holder renews, nobody takes over
    assert await acting(client, "second") == []
    assert (await client.get(LEASES, "test-controller-manager", "kube-system"))["spec"]["holderIdentity"] == "first"

    stop_first.set()
    assert await first_task is Outcome.STOPPED
    assert first.running == []
    await eventually(lambda: acting(client, "second"), "the second manager to take over")
    lease = await client.get(LEASES, "test-controller-manager", "kube-system")
    assert lease["spec"]["holderIdentity"] == "second"
    stop_second.set()
    assert await second_task is Outcome.STOPPED
    released = await client.get(LEASES, "test-controller-manager", "kube-system")
    assert released["spec"]["holderIdentity"] == ""


async def test_losing_the_lease_stops_the_controllers(client: ApiClient) -> None:
    manager = ControllerManager(client, {"marker": marker_class("loser")})
    serving = asyncio.create_task(manager.serve(election("loser"), asyncio.Event()))
    await eventually(lambda: acting(client, "loser"), "the manager to lead")
    lease = await client.get(LEASES, "test-controller-manager", "kube-system")
    lease["spec"].update(holderIdentity="usurper", leaseDurationSeconds=3600)
    await client.update(LEASES, lease)  # another replica took it (e.g. after a network partition)
    assert await asyncio.wait_for(serving, 10) is Outcome.LOST
    assert manager.running == [] and manager.failure is None


@pytest.mark.parametrize(("cls", "error", "text"), [
    (CrashingController, RuntimeError, "boom: lost my mind"),
    (ReturningController, ControllerStopped, "controller broken stopped on its own"),
])
async def test_a_failing_controller_fails_the_manager(client: ApiClient, cls: type, error: type,
                                                      text: str) -> None:
    healthy = marker_class("bystander")
    manager = ControllerManager(client, {"marker": healthy, "broken": cls})
    outcome = await asyncio.wait_for(manager.serve(election(f"crash-{cls.__name__}"), asyncio.Event()), 10)
    assert outcome is Outcome.FAILED
    assert isinstance(manager.failure, error) and text in str(manager.failure)
    assert manager.running == []


async def test_without_leader_election_it_runs_at_once_and_stops_on_request(client: ApiClient) -> None:
    manager = ControllerManager(client, {"marker": marker_class("solo")})
    stop = asyncio.Event()
    serving = asyncio.create_task(manager.serve(LeaderElection(enabled=False), stop))
    await eventually(lambda: acting(client, "solo"), "the controller to run")
    assert await get_or_none(client, LEASES, "kube-controller-manager", "kube-system") is None
    stop.set()
    assert await serving is Outcome.STOPPED
