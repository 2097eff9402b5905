"""Controllers under test run in the test's event loop against an in-process apiserver (one per test, memory
store, bearer-token admin), sharing one InformerFactory as the controller-manager does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, ClientConfig, EventRecorder, InformerFactory
from provisioner.services.controllers.base import ControllerContext, ControllerOptions
from tests.unit.apiserver.conftest import LocalApiserver

T = TypeVar("T")

# A hang guard only: tests wait for outcomes, never assert how long they took.
WAIT_LIMIT = 20.0


def resource(plural: str, group: str = "") -> Resource:
    found = resources.lookup(group, "v1", plural)
    assert found is not None, plural
    return found


@pytest.fixture
async def client(apiserver: LocalApiserver) -> AsyncIterator[ApiClient]:
    async with ApiClient(ClientConfig(server=apiserver.url, token=apiserver.tokens["admin"])) as api:
        yield api


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, *, limit: float = WAIT_LIMIT,
                     interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail (naming ``what``) if it never does."""
    deadline = asyncio.get_running_loop().time() + limit
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened: {what} (last seen: {last!r})")
        await asyncio.sleep(interval)


async def get_or_none(api: ApiClient, res: Resource, name: str, namespace: str = "") -> dict[str, Any] | None:
    try:
        return await api.get(res, name, namespace)
    except ApiError as err:
        if err.code == 404:
            return None
        raise


@contextlib.asynccontextmanager
async def running(api: ApiClient, *controller_classes: type, options: ControllerOptions | None = None,
                  ) -> AsyncIterator[list[Any]]:
    """Construct the controllers on one shared InformerFactory, start informers and controllers, and stop all
    of them on exit (as the controller-manager does)."""
    factory = InformerFactory(api)
    recorder = EventRecorder(api, "controller-manager")
    ctx = ControllerContext(client=api, informers=factory, recorder=recorder,
                            options=options or ControllerOptions(workers=2))
    controllers = [cls(ctx) for cls in controller_classes]
    factory.start()
    tasks = [asyncio.create_task(c.run(), name=f"controller-{c.name}") for c in controllers]
    tasks.append(asyncio.create_task(recorder.run(), name="events"))
    try:
        yield controllers
        for task in tasks:  # a controller that crashed fails the test rather than hiding behind a timeout
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await factory.stop()


async def events_for(api: ApiClient, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    items, _ = await api.list_all(resource("events"), namespace,
                                  field_selector=f"involvedObject.name={name}")
    return items


async def create_pod(api: ApiClient, name: str, namespace: str = "default", *, labels: dict[str, str] | None = None,
                     node: str = "", ports: list[dict[str, Any]] | None = None,
                     extra_spec: dict[str, Any] | None = None,
                     owner: dict[str, Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "busybox"}
    if ports:
        container["ports"] = ports
    spec: dict[str, Any] = {"containers": [container], **(extra_spec or {})}
    if node:
        spec["nodeName"] = node
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return await api.create(resource("pods"), {"metadata": meta, "spec": spec}, namespace)


async def set_pod_status(api: ApiClient, name: str, namespace: str = "default", *, ip: str = "",
                         ready: bool | None = None, phase: str = "Running") -> dict[str, Any]:
    """What a kubelet reports: phase, IP and the Ready condition (merged by type into the pod's conditions)."""
    status: dict[str, Any] = {"phase": phase}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return await api.patch(resource("pods"), name, {"status": status}, namespace, patch_type="strategic",
                           subresource="status")


def owner_ref(obj: dict[str, Any], *, controller: bool = True, block: bool = True) -> dict[str, Any]:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": controller, "blockOwnerDeletion": block}


async def idle(*loops: Any) -> None:
    """Wait until the ReconcileLoops have nothing queued and nothing in progress: whatever they were going to do
    about the keys they were given is done (so an absence can be asserted)."""

    async def quiet() -> bool:
        await asyncio.sleep(0)
        return all(len(loop.queue) == 0 and loop.queue.in_flight == 0 for loop in loops)

    await eventually(quiet, "the controllers idle", interval=0.01)
