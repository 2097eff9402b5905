"""``provision-scheduler``: flags, and serving under leader election — it takes the kube-system/kube-scheduler
Lease, schedules, and gives the Lease up when stopped; a standby answers /healthz too."""

from __future__ import annotations

import argparse
import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from provisioner.services.api import resources
from provisioner.services.client import ApiClient, ClientConfig
from provisioner.services.scheduler import main as scheduler_main
from tests.unit.apiserver.conftest import LocalApiserver

from .builders import make_node, make_pod

PODS = resources.lookup("", "v1", "pods")
NODES = resources.lookup("", "v1", "nodes")
LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")


def test_defaults() -> None:
    args = scheduler_main.parse_args(["--kubeconfig", "k"])
    assert args.healthz_bind_address == ("127.0.0.1", 10259)
    assert scheduler_main.parse_args(["--kubeconfig", "k", "--healthz-bind-address="]).healthz_bind_address is None
    assert (args.scheduler_name, args.leader_elect, args.percentage_of_nodes_to_score) == ("default-scheduler", True, 0)
    assert (args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
            args.leader_elect_retry_period) == (15.0, 10.0, 2.0)
    assert (args.leader_elect_resource_namespace, args.leader_elect_resource_name) == ("kube-system", "kube-scheduler")


def test_flags_in_kube_scheduler_spelling() -> None:
    args = scheduler_main.parse_args([
        "--kubeconfig", "k", "--scheduler-name", "mine", "--leader-elect=false", "--percentage-of-nodes-to-score", "30",
        "--leader-elect-lease-duration", "30s", "--leader-elect-renew-deadline", "20s",
        "--leader-elect-retry-period", "500ms", "-v", "4"])
    assert (args.scheduler_name, args.leader_elect, args.percentage_of_nodes_to_score) == ("mine", False, 30)
    assert (args.leader_elect_lease_duration, args.leader_elect_retry_period) == (30.0, 0.5)
    assert scheduler_main.log_level(args) == 10
    options = scheduler_main.options_from(args)
    assert (options.scheduler_name, options.percentage_of_nodes_to_score) == ("mine", 30)


@pytest.mark.parametrize("argv", [
    [],  # --kubeconfig is required
    ["--kubeconfig", "k", "--percentage-of-nodes-to-score", "101"],
    ["--kubeconfig", "k", "--leader-elect-renew-deadline", "20"],  # must be shorter than the lease
    ["--kubeconfig", "k", "--leader-elect", "maybe"],
    ["--kubeconfig", "k", "--healthz-bind-address", "localhost:10259"],
])
def test_bad_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        scheduler_main.parse_args(argv)
    assert exited.value.code == 2


def test_an_unreadable_kubeconfig_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scheduler_main.main(["--kubeconfig", str(tmp_path / "missing")]) == 2
    assert "cannot read kubeconfig" in capsys.readouterr().err


def fast_election(*extra: str) -> argparse.Namespace:
    return scheduler_main.parse_args(["--kubeconfig", "unused", "--leader-elect-lease-duration", "3",
                                      "--leader-elect-renew-deadline", "2", "--leader-elect-retry-period", "0.2",
                                      "--healthz-bind-address=127.0.0.1:0", *extra])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def healthz(port: int) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, await response.text()


async def test_the_leader_schedules_and_releases_the_lease_on_stop(apiserver: LocalApiserver) -> None:
    config = ClientConfig(server=apiserver.url, token=apiserver.tokens["admin"])
    stop = asyncio.Event()
    serving = asyncio.create_task(scheduler_main.serve(fast_election(), config, stop))
    async with ApiClient(config) as client:
        await client.create(NODES, make_node("n1"))
        pod = make_pod("p")
        pod["metadata"].pop("uid")
        await client.create(PODS, pod, "default")
        for _ in range(200):
            if (await client.get(PODS, "p", "default"))["spec"].get("nodeName"):
                break
            await asyncio.sleep(0.05)
        assert (await client.get(PODS, "p", "default"))["spec"]["nodeName"] == "n1"
        lease = await client.get(LEASES, "kube-scheduler", "kube-system")
        assert lease["spec"]["holderIdentity"]
        stop.set()
        assert await asyncio.wait_for(serving, 15) == 0
        lease = await client.get(LEASES, "kube-scheduler", "kube-system")
        assert lease["spec"]["holderIdentity"] == ""


async def test_a_second_replica_waits_while_the_first_leads(apiserver: LocalApiserver) -> None:
    config = ClientConfig(server=apiserver.url, token=apiserver.tokens["admin"])
    first_stop, second_stop = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(scheduler_main.serve(fast_election(), config, first_stop))
    async with ApiClient(config) as client:
        for _ in range(100):
            try:
                holder = (await client.get(LEASES, "kube-scheduler", "kube-system"))["spec"]["holderIdentity"]
                break
            except Exception:
                await asyncio.sleep(0.05)
        port = _free_port()
        second = asyncio.create_task(scheduler_main.serve(
            fast_election(f"--healthz-bind-address=127.0.0.1:{port}"), config, second_stop))
        await asyncio.sleep(1.0)
        assert (await client.get(LEASES, "kube-scheduler", "kube-system"))["spec"]["holderIdentity"] == holder
        assert await healthz(port) == (200, "ok")  # a standby is healthy
        first_stop.set()
        assert await asyncio.wait_for(first, 15) == 0
        for _ in range(100):  # the released lease is taken by the second replica
            current = (await client.get(LEASES, "kube-scheduler", "kube-system"))["spec"]["holderIdentity"]
            if current and current != holder:
                break
            await asyncio.sleep(0.1)
        assert current and current != holder
        second_stop.set()
        assert await asyncio.wait_for(second, 15) == 0
