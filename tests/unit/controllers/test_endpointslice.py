"""The EndpointSlice controller keeps labelled, owned slices of at most 100 endpoints with per-endpoint conditions,
the shape `kubectl describe svc` and kube-proxy read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from provisioner.services.client import ApiClient, Handler, Informer
from provisioner.services.controllers.endpointslice import (
    CONTROLLER_NAME,
    DesiredPortSet,
    EndpointSliceController,
    plan_family,
)
from tests.unit.controllers.conftest import create_pod, eventually, resource, running, set_pod_status

SERVICES = resource("services")
SLICES = resource("endpointslices", "discovery.k8s.io")
PODS = resource("pods")
NODES = resource("nodes")
HTTP = [{"name": "http", "containerPort": 8080}]


async def slices_of(client: ApiClient, service: str, namespace: str = "default") -> list[dict[str, Any]]:
    items, _ = await client.list_all(SLICES, namespace, label_selector=f"kubernetes.io/service-name={service}")
    return items


def endpoints_by_pod(slices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["targetRef"]["name"]: e for s in slices for e in s.get("endpoints") or []}


def describe_endpoints(slices: list[dict[str, Any]]) -> str:
    """The `Endpoints:` line of `kubectl describe svc` (formatEndpointSlices): ready endpoints as ip:port."""
    shown = [f"{address}:{port['port']}" for s in slices for port in (s.get("ports") or [])[:1]
             for e in s.get("endpoints") or [] if e.get("conditions", {}).get("ready") is not False
             for address in e["addresses"]]
    return ",".join(shown) or "<none>"


async def slices_where(client: ApiClient, check, what: str, service: str = "web") -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        slices = await slices_of(client, service)
        return slices if check(slices) else None

    return await eventually(probe, what)


async def test_slices_carry_labels_owner_and_endpoint_conditions(client: ApiClient) -> None:
    await client.create(NODES, {"metadata": {"name": "node-1", "labels": {"topology.kubernetes.io/zone": "z1"}}})
    service = await client.create(SERVICES, {
        "metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        "default")
    await create_pod(client, "ready", labels={"app": "web"}, node="node-1", ports=HTTP)
    await set_pod_status(client, "ready", ip="10.244.1.5", ready=True)
    await create_pod(client, "leaving", labels={"app": "web"}, node="node-1", ports=HTTP)
    await set_pod_status(client, "leaving", ip="10.244.1.6", ready=True)
    await create_pod(client, "starting", labels={"app": "web"}, ports=HTTP)
    await set_pod_status(client, "starting", ip="10.244.1.7", ready=False)

    async with running(client, EndpointSliceController):
        await slices_where(client, lambda s: len(endpoints_by_pod(s)) == 3, "three endpoints")
        await client.delete(PODS, "leaving", "default")  # bound to a node: it terminates gracefully
        slices = await slices_where(
            client, lambda s: endpoints_by_pod(s).get("leaving", {}).get("conditions", {}).get("terminating"),
            "the deleted pod shown terminating")

    assert len(slices) == 1
    (endpoint_slice,) = slices
    meta = endpoint_slice["metadata"]
    assert meta["name"].startswith("web-") and meta["generateName"] == "web-"
    assert meta["labels"] == {"tier": "front", "kubernetes.io/service-name": "web",
                              "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                        "uid": service["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert endpoint_slice["addressType"] == "IPv4"
    assert endpoint_slice["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    endpoints = endpoints_by_pod(slices)
    ready_pod = await client.get(PODS, "ready", "default")
    assert endpoints["ready"] == {
        "addresses": ["10.244.1.5"], "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "ready", "uid": ready_pod["metadata"]["uid"]},
        "nodeName": "node-1", "zone": "z1"}
    assert endpoints["leaving"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert endpoints["starting"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert "nodeName" not in endpoints["starting"]
    assert describe_endpoints(slices) == "10.244.1.5:8080"


async def test_many_endpoints_spread_over_slices_of_at_most_a_hundred(client: ApiClient) -> None:
    await client.create(SERVICES, {"metadata": {"name": "web"},
                                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, "default")
    created: list[str] = []  # every slice ever made, in order (a watch of our own)
    watcher = Informer(client, SLICES, "default")
    watcher.add_handler(Handler(on_add=lambda s: created.append(s["metadata"]["name"])))
    async with running(client, EndpointSliceController), _running_informer(watcher):
        # Pods arrive while the controller works: each reconcile must see its own earlier writes, or it would
        # create a slice for endpoints that already have one (undone later, but seen by every consumer).
        for n in range(130):
            await create_pod(client, f"web-{n}", labels={"app": "web"})
            await set_pod_status(client, f"web-{n}", ip=f"10.244.{n // 100}.{n % 100 + 1}", ready=True)
        slices = await slices_where(client, lambda s: len(endpoints_by_pod(s)) == 130, "130 endpoints")
        assert sorted(len(s["endpoints"]) for s in slices) == [30, 100]
        names = {s["metadata"]["name"] for s in slices}
        # The placeholder of the empty service, then one slice filled to 100, then the next: nothing else.
        ours = [name for name in created if name != "kubernetes"]  # the apiserver's own slice is listed too
        assert len(ours) == 3 and set(ours[1:]) == names, created

        for n in range(5):  # a few go away: they leave the slices they were in, no slice is recreated
            await client.delete(PODS, f"web-{n}", "default")
        slices = await slices_where(client, lambda s: len(endpoints_by_pod(s)) == 125, "125 endpoints")
        assert {s["metadata"]["name"] for s in slices} == names
    addresses = [a for s in slices for e in s["endpoints"] for a in e["addresses"]]
    assert len(addresses) == len(set(addresses)) == 125


async def test_a_service_without_endpoints_keeps_one_placeholder_and_slices_go_with_the_service(
        client: ApiClient) -> None:
    await client.create(SERVICES, {"metadata": {"name": "web"},
                                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, "default")
    async with running(client, EndpointSliceController):
        (placeholder,) = await slices_where(client, lambda s: len(s) == 1, "a placeholder slice")
        assert placeholder["endpoints"] in (None, []) and not placeholder.get("ports")

        await create_pod(client, "a", labels={"app": "web"})
        await set_pod_status(client, "a", ip="10.244.0.2", ready=True)
        slices = await slices_where(client, lambda s: len(endpoints_by_pod(s)) == 1, "the pod's endpoint")
        assert len(slices) == 1 and slices[0]["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]

        await client.delete(SERVICES, "web", "default")
        await eventually(lambda: _no_slices(client, "web"), "no slices for the deleted service")


async def test_the_apiserver_service_slice_is_left_alone(client: ApiClient) -> None:
    before = await client.get(SLICES, "kubernetes", "default")
    async with running(client, EndpointSliceController):
        await client.create(SERVICES, {"metadata": {"name": "web"},
                                       "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, "default")
        await slices_where(client, lambda s: len(s) == 1, "the new service's slice")
        assert await slices_of(client, "kubernetes") == [before]


def test_new_endpoints_fill_a_slice_being_rewritten_before_a_new_one_is_made() -> None:
    service = {"metadata": {"name": "web", "namespace": "default", "uid": "svc"}, "spec": {}}
    ports = [{"name": "", "port": 80, "protocol": "TCP"}]

    def endpoint(n: int) -> dict[str, Any]:
        return {"addresses": [f"10.0.0.{n}"], "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "namespace": "default", "name": f"p{n}", "uid": f"u{n}"}}

    def existing(name: str, numbers: range) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "default",
                             "labels": {"kubernetes.io/service-name": "web",
                                        "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME},
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc",
                                                  "controller": True, "blockOwnerDeletion": True}]},
                "addressType": "IPv4", "ports": ports, "endpoints": [endpoint(n) for n in numbers]}

    full, partial = existing("web-full", range(1, 101)), existing("web-partial", range(101, 141))
    wanted = {n: endpoint(n) for n in list(range(1, 101)) + list(range(102, 141)) + [200, 201]}  # 101 left
    desired = {(("", 80, "TCP"),): DesiredPortSet(ports, {(e["addresses"][0], e["targetRef"]["uid"]): e
                                                          for e in wanted.values()})}
    plan = plan_family(service, "IPv4", desired, [full, partial])
    assert not plan.create and not plan.delete
    (rewritten,) = plan.update
    assert rewritten["metadata"]["name"] == "web-partial" and len(rewritten["endpoints"]) == 41


async def _no_slices(client: ApiClient, service: str) -> bool:
    return not await slices_of(client, service)


@contextlib.asynccontextmanager
async def _running_informer(informer: Informer) -> AsyncIterator[None]:
    task = asyncio.create_task(informer.run())
    await informer.wait_synced()
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
