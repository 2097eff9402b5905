"""Informers against the in-process apiserver: list then watch, handlers, indexes, re-list after 410."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.services.api import resources
from provisioner.services.client import ApiClient, Handler, Informer, ReconcileLoop
from tests.unit.apiserver.conftest import LocalApiserver

CONFIGMAPS = resources.lookup("", "v1", "configmaps")
NAMESPACES = resources.lookup("", "v1", "namespaces")


@pytest.fixture
def server(module_apiserver: LocalApiserver) -> LocalApiserver:
    return module_apiserver


@pytest.fixture
def client(admin_client: ApiClient) -> ApiClient:
    return admin_client


async def _namespace(client: ApiClient, name: str) -> str:
    await client.create(NAMESPACES, {"metadata": {"name": name}})
    return name


async def _eventually(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_list_then_watch_reports_adds_updates_deletes(client: ApiClient) -> None:
    ns = await _namespace(client, "inf-a")
    await client.create(CONFIGMAPS, {"metadata": {"name": "before"}}, ns)
    seen: list[tuple[str, str]] = []
    informer = Informer(client, CONFIGMAPS, ns)
    informer.add_handler(Handler(
        on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
        on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
        on_delete=lambda o: seen.append(("delete", o["metadata"]["name"]))))
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        await client.create(CONFIGMAPS, {"metadata": {"name": "after"}}, ns)
        await client.patch(CONFIGMAPS, "after", {"data": {"k": "v"}}, ns)
        await client.delete(CONFIGMAPS, "before", ns)
        await _eventually(lambda: len(seen) == 4)
        assert seen == [("add", "before"), ("add", "after"), ("update", "after"), ("delete", "before")]
        assert sorted(informer.store.keys()) == [f"{ns}/after"]
        assert informer.store.get(f"{ns}/after")["data"] == {"k": "v"}
    finally:
        task.cancel()


async def test_indexes_follow_changes(client: ApiClient) -> None:
    ns = await _namespace(client, "inf-b")
    informer = Informer(client, CONFIGMAPS, ns,
                        indexers={"tier": lambda o: [(o["metadata"].get("labels") or {}).get("tier", "")]})
    task = asyncio.create_task(informer.run())
    try:
        await informer.wait_synced()
        await client.create(CONFIGMAPS, {"metadata": {"name": "x", "labels": {"tier": "web"}}}, ns)
        await _eventually(lambda: len(informer.store.by_index("tier", "web")) == 1)
        await client.patch(CONFIGMAPS, "x", {"metadata": {"labels": {"tier": "db"}}}, ns)
        await _eventually(lambda: len(informer.store.by_index("tier", "db")) == 1)
        assert informer.store.by_index("tier", "web") == []
    finally:
        task.cancel()


async def test_relist_after_410_catches_up_and_reports_vanished_objects(client: ApiClient,
                                                                         server: LocalApiserver) -> None:
    ns = await _namespace(client, "inf-c")
    await client.create(CONFIGMAPS, {"metadata": {"name": "stays"}}, ns)
    await client.create(CONFIGMAPS, {"metadata": {"name": "goes"}}, ns)
    deleted: list[str] = []
    added: list[str] = []
    informer = Informer(client, CONFIGMAPS, ns, retry_backoff=(0.01, 0.05))
    informer.add_handler(Handler(on_add=lambda o: added.append(o["metadata"]["name"]),
                                 on_delete=lambda o: deleted.append(o["metadata"]["name"])))
    await informer._relist()  # the first list, without starting the watch
    stale_version = informer.resource_version
    # While "disconnected": changes happen and the history the informer would resume from is compacted.
    await client.delete(CONFIGMAPS, "goes", ns)
    await client.create(CONFIGMAPS, {"metadata": {"name": "new"}}, ns)
    current = server.run(server.backend.current_revision())
    server.run(server.backend.compact(current))
    assert informer.resource_version == stale_version
    task = asyncio.create_task(informer.run())
    try:
        await _eventually(lambda: "goes" in deleted and "new" in added)
        assert sorted(o["metadata"]["name"] for o in informer.store.list()) == ["new", "stays"]
        assert int(informer.resource_version) >= current
    finally:
        task.cancel()


async def test_handler_added_late_sees_cached_objects_and_loop_reconciles_each_key(client: ApiClient) -> None:
    ns = await _namespace(client, "inf-d")
    for name in ("one", "two"):
        await client.create(CONFIGMAPS, {"metadata": {"name": name}}, ns)
    informer = Informer(client, CONFIGMAPS, ns)
    task = asyncio.create_task(informer.run())
    reconciled: list[str] = []
    failures = {"two": 2}

    async def reconcile(key: str) -> float | None:
        reconciled.append(key)
        name = key.split("/")[1]
        if failures.get(name, 0) > 0:
            failures[name] -= 1
            raise RuntimeError("transient")
        return None

    await informer.wait_synced()
    loop = ReconcileLoop("test", reconcile, workers=2, informers=[informer])
    loop.enqueue_all(informer)
    loop_task = asyncio.create_task(loop.run())
    try:
        await _eventually(lambda: reconciled.count(f"{ns}/two") == 3)
        assert reconciled.count(f"{ns}/one") == 1
    finally:
        loop_task.cancel()
        task.cancel()
        await asyncio.gather(loop_task, task, return_exceptions=True)
