"""The Endpoints controller lists the selected pods by readiness, with ports resolved per pod."""

from __future__ import annotations

from typing import Any

from provisioner.services.client import ApiClient, Informer
from provisioner.services.controllers.endpoints import EndpointsController, OwnWrites, desired_subsets
from tests.unit.controllers.conftest import (
    create_pod,
    eventually,
    get_or_none,
    idle,
    resource,
    running,
    set_pod_status,
)

SERVICES = resource("services")
ENDPOINTS = resource("endpoints")
PODS = resource("pods")
HTTP = [{"name": "http", "containerPort": 8080}]


def web_service(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                               {"name": "metrics", "port": 9090}], **spec}}


def addresses(endpoints: dict[str, Any], field: str = "addresses") -> dict[str, str]:
    """ip -> pod name, over every subset."""
    return {a["ip"]: a["targetRef"]["name"] for s in endpoints.get("subsets") or [] for a in s.get(field) or []}


async def endpoints_where(client: ApiClient, check, what: str, name: str = "web") -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        endpoints = await get_or_none(client, ENDPOINTS, name, "default")
        return endpoints if endpoints is not None and check(endpoints) else None

    return await eventually(probe, what)


async def test_endpoints_follow_pod_readiness_with_named_ports(client: ApiClient) -> None:
    await create_pod(client, "ready", labels={"app": "web"}, node="node-1", ports=HTTP)
    await set_pod_status(client, "ready", ip="10.244.1.5", ready=True)
    await create_pod(client, "starting", labels={"app": "web"}, ports=HTTP)
    await set_pod_status(client, "starting", ip="10.244.1.6", ready=False)
    await create_pod(client, "no-ip-yet", labels={"app": "web"}, ports=HTTP)
    await create_pod(client, "other-app", labels={"app": "db"}, ports=HTTP)
    await set_pod_status(client, "other-app", ip="10.244.1.7", ready=True)
    await create_pod(client, "finished", labels={"app": "web"}, ports=HTTP)
    await set_pod_status(client, "finished", ip="10.244.1.8", ready=False, phase="Succeeded")
    await client.create(SERVICES, web_service(), "default")

    async with running(client, EndpointsController):
        endpoints = await endpoints_where(client, lambda e: addresses(e) and addresses(e, "notReadyAddresses"),
                                          "ready and not-ready addresses")
        assert endpoints["subsets"] == [{
            "addresses": [{"ip": "10.244.1.5", "nodeName": "node-1", "targetRef": _ref(await _pod(client, "ready"))}],
            "notReadyAddresses": [{"ip": "10.244.1.6", "targetRef": _ref(await _pod(client, "starting"))}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                      {"name": "metrics", "port": 9090, "protocol": "TCP"}],
        }]
        labels = endpoints["metadata"]["labels"]
        assert labels["tier"] == "front" and labels["endpoints.kubernetes.io/managed-by"] == "endpoint-controller"

        await set_pod_status(client, "starting", ready=True)
        await endpoints_where(client, lambda e: set(addresses(e)) == {"10.244.1.5", "10.244.1.6"}
                              and not addresses(e, "notReadyAddresses"), "the pod that became ready listed as ready")

        await client.delete(PODS, "starting", "default")
        await endpoints_where(client, lambda e: set(addresses(e)) == {"10.244.1.5"}, "the deleted pod gone")

        await client.delete(SERVICES, "web", "default")
        await eventually(lambda: _absent(client, "web"), "the endpoints of the deleted service gone")


async def test_a_port_name_resolving_differently_gives_separate_subsets(client: ApiClient) -> None:
    await client.create(SERVICES, web_service(), "default")
    async with running(client, EndpointsController):
        await create_pod(client, "a", labels={"app": "web"}, ports=HTTP)
        await set_pod_status(client, "a", ip="10.244.2.1", ready=True)
        await create_pod(client, "b", labels={"app": "web"}, ports=[{"name": "http", "containerPort": 8081}])
        await set_pod_status(client, "b", ip="10.244.2.2", ready=True)
        await create_pod(client, "c", labels={"app": "web"})  # no port named http: only the numeric one
        await set_pod_status(client, "c", ip="10.244.2.3", ready=True)
        endpoints = await endpoints_where(client, lambda e: len(e.get("subsets") or []) == 3, "three subsets")
    by_ports = {tuple(p["port"] for p in s["ports"]): [a["ip"] for a in s["addresses"]] for s in endpoints["subsets"]}
    assert by_ports == {(8080, 9090): ["10.244.2.1"], (8081, 9090): ["10.244.2.2"], (9090,): ["10.244.2.3"]}


async def test_services_without_selector_and_the_apiserver_service_are_left_alone(client: ApiClient) -> None:
    await client.create(SERVICES, {"metadata": {"name": "external"}, "spec": {"ports": [{"port": 5432}]}}, "default")
    manual = {"metadata": {"name": "external"}, "subsets": [{"addresses": [{"ip": "192.0.2.10"}],
                                                             "ports": [{"port": 5432}]}]}
    await client.create(ENDPOINTS, manual, "default")
    apiserver_endpoints = await client.get(ENDPOINTS, "kubernetes", "default")
    await create_pod(client, "p", labels={"app": "web"})
    await set_pod_status(client, "p", ip="10.244.3.1", ready=True)
    async with running(client, EndpointsController) as (controller,):
        await client.create(SERVICES, web_service(), "default")
        await endpoints_where(client, lambda e: addresses(e), "endpoints of the selector service")
        await idle(controller.loop)
        external = await client.get(ENDPOINTS, "external", "default")
        assert external["subsets"] == [{"addresses": [{"ip": "192.0.2.10"}],
                                        "ports": [{"port": 5432, "protocol": "TCP"}]}]
        assert "labels" not in external["metadata"]
        assert await client.get(ENDPOINTS, "kubernetes", "default") == apiserver_endpoints


def test_headless_service_without_ports_lists_bare_addresses() -> None:
    service = {"metadata": {"name": "db", "namespace": "default"},
               "spec": {"selector": {"app": "db"}, "clusterIP": "None"}}
    pod = {"metadata": {"name": "db-0", "namespace": "default", "uid": "u1", "labels": {"app": "db"}},
           "spec": {"hostname": "db-0", "subdomain": "db", "containers": []},
           "status": {"phase": "Running", "podIP": "10.244.0.9", "conditions": [{"type": "Ready", "status": "True"}]}}
    subsets, truncated = desired_subsets(service, [pod])
    assert not truncated
    assert subsets == [{"addresses": [{"ip": "10.244.0.9", "hostname": "db-0",
                                       "targetRef": {"kind": "Pod", "namespace": "default", "name": "db-0",
                                                     "uid": "u1"}}]}]


def test_more_than_a_thousand_addresses_are_truncated() -> None:
    service = {"metadata": {"name": "big", "namespace": "default"},
               "spec": {"selector": {"app": "big"}, "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}}
    pods = [{"metadata": {"name": f"p{n}", "namespace": "default", "uid": f"u{n}"}, "spec": {},
             "status": {"phase": "Running", "podIP": f"10.1.{n // 250}.{n % 250 + 1}",
                        "conditions": [{"type": "Ready", "status": "True" if n % 2 else "False"}]}}
            for n in range(1200)]
    subsets, truncated = desired_subsets(service, pods)
    assert truncated
    assert len(subsets[0]["addresses"]) == 600 and len(subsets[0]["notReadyAddresses"]) == 400


async def _pod(client: ApiClient, name: str) -> dict[str, Any]:
    return await client.get(PODS, name, "default")


def _ref(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": "default", "name": meta["name"], "uid": meta["uid"]}


async def _absent(client: ApiClient, name: str) -> bool:
    return await get_or_none(client, ENDPOINTS, name, "default") is None


def test_own_writes_count_as_seen_only_once_the_cache_has_them() -> None:
    informer = Informer(client=None, resource=ENDPOINTS)  # type: ignore[arg-type]  # never started: a bare cache
    written = OwnWrites(informer)
    ours = {"metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "10"}}
    informer.store.upsert({"metadata": {**ours["metadata"], "resourceVersion": "9"}})
    informer.resource_version = "9"
    written.wrote(ours)
    assert not written.seen("default/web")  # the cache still shows the version before our update
    informer.resource_version = "10"  # the watch went past our write (the object may even be gone again)
    assert written.seen("default/web")

    written.deleted(ours)
    assert not written.seen("default/web")
    informer.store.upsert({"metadata": {**ours["metadata"], "uid": "u2", "resourceVersion": "12"}})
    assert written.seen("default/web")  # another object of that name: ours is gone
    assert written.seen("default/other")  # never written by us
