"""Deleting a namespace empties it of every kind of content, reports what holds it up, then lets it go."""

from __future__ import annotations

from typing import Any

from provisioner.services.client import ApiClient
from provisioner.services.controllers.namespace import NamespaceController, deletable_resources
from tests.unit.controllers.conftest import create_pod, eventually, get_or_none, resource, running

NAMESPACES = resource("namespaces")
CONFIGMAPS = resource("configmaps")
SECRETS = resource("secrets")
SERVICES = resource("services")
DEPLOYMENTS = resource("deployments", "apps")
PODS = resource("pods")
LEASES = resource("leases", "coordination.k8s.io")


async def fill(client: ApiClient, namespace: str) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    await client.create(CONFIGMAPS, {"metadata": {"name": "settings"}, "data": {"a": "1"}}, namespace)
    await client.create(SECRETS, {"metadata": {"name": "token"}, "stringData": {"t": "x"}}, namespace)
    await client.create(SERVICES, {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}, namespace)
    await client.create(LEASES, {"metadata": {"name": "lock"}, "spec": {}}, namespace)
    await client.create(DEPLOYMENTS, {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}, namespace)
    for n in range(3):
        await create_pod(client, f"web-{n}", namespace, labels={"app": "web"})


async def namespace_gone(client: ApiClient, name: str) -> bool:
    return await get_or_none(client, NAMESPACES, name) is None


async def test_a_deleted_namespace_is_emptied_and_removed(client: ApiClient) -> None:
    await fill(client, "doomed")
    await client.create(NAMESPACES, {"metadata": {"name": "bystander"}})
    await client.create(CONFIGMAPS, {"metadata": {"name": "keep"}}, "bystander")
    async with running(client, NamespaceController):
        await client.delete(NAMESPACES, "doomed")
        await eventually(lambda: namespace_gone(client, "doomed"), "the namespace removed")
    for res in deletable_resources():
        items, _ = await client.list_all(res, "doomed")
        assert items == [], res.plural
    assert await get_or_none(client, CONFIGMAPS, "keep", "bystander") is not None


async def test_content_held_by_a_finalizer_is_reported_and_the_namespace_waits(client: ApiClient) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": "held"}})
    await client.create(CONFIGMAPS, {"metadata": {"name": "guarded", "finalizers": ["example.com/hold"]}}, "held")
    await client.create(CONFIGMAPS, {"metadata": {"name": "plain"}}, "held")
    async with running(client, NamespaceController):
        await client.delete(NAMESPACES, "held")
        namespace = await eventually(lambda: _with_condition(client, "held", "NamespaceFinalizersRemaining", "True"),
                                     "a NamespaceFinalizersRemaining condition")
        conditions = {c["type"]: c for c in namespace["status"]["conditions"]}
        assert conditions["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
        assert conditions["NamespaceFinalizersRemaining"]["message"] == (
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        assert conditions["NamespaceContentRemaining"]["message"] == (
            "Some resources are remaining: configmaps. has 1 resource instances")
        assert conditions["NamespaceDeletionContentFailure"]["status"] == "False"
        assert namespace["spec"]["finalizers"] == ["kubernetes"]
        assert await get_or_none(client, CONFIGMAPS, "plain", "held") is None

        await client.patch(CONFIGMAPS, "guarded", {"metadata": {"finalizers": None}}, "held")
        await eventually(lambda: namespace_gone(client, "held"), "the namespace removed once the finalizer went")


def test_workloads_go_first_and_events_last() -> None:
    order = [r.plural for r in deletable_resources()]
    assert order[:6] == ["deployments", "daemonsets", "replicasets", "replicationcontrollers", "jobs", "pods"]
    assert order[-1] == "events"
    assert "bindings" not in order and "namespaces" not in order and "nodes" not in order


async def _with_condition(client: ApiClient, name: str, kind: str, status: str) -> dict[str, Any] | None:
    namespace = await get_or_none(client, NAMESPACES, name)
    conditions = (namespace or {}).get("status", {}).get("conditions") or []
    return namespace if any(c["type"] == kind and c["status"] == status for c in conditions) else None
