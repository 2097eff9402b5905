"""A stand-in for kubelets in controller tests: it watches pods and moves each one through the lifecycle the test
chooses (Running and Ready, Running but not ready, Succeeded, Failed, or left Pending), writing pods/status the
way a kubelet does; pods being deleted are removed at once (grace period 0), as a kubelet does once the
containers stopped. There is no scheduler in these tests: pods stay unbound unless the test binds them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, Handler, Informer

PODS = resources.lookup("", "v1", "pods")

READY, RUNNING, SUCCEED, FAIL, PENDING = "ready", "running", "succeed", "fail", "pending"

Obj = dict[str, Any]
Decide = Callable[[Obj], str]


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, status: bool, at: str) -> dict[str, Any]:
    return {"type": kind, "status": "True" if status else "False", "lastProbeTime": None, "lastTransitionTime": at}


def pod_status(pod: Obj, outcome: str, *, restarts: int = 0) -> dict[str, Any]:
    """The status a kubelet reports for ``outcome`` (one of READY, RUNNING, SUCCEED, FAIL)."""
    at = stamp()
    ready = outcome == READY
    containers = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        if outcome in (SUCCEED, FAIL):
            code = 0 if outcome == SUCCEED else 1
            state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                    "startedAt": at, "finishedAt": at}}
        else:
            state = {"running": {"startedAt": at}}
        containers.append({"name": container["name"], "image": container.get("image", ""), "imageID": "",
                           "ready": ready, "started": outcome in (READY, RUNNING), "restartCount": restarts,
                           "state": state})
    phase = {READY: "Running", RUNNING: "Running", SUCCEED: "Succeeded", FAIL: "Failed"}[outcome]
    return {**(pod.get("status") or {}), "phase": phase, "startTime": at, "containerStatuses": containers,
            "conditions": [_condition("Initialized", True, at), _condition("ContainersReady", ready, at),
                           _condition("Ready", ready, at), _condition("PodScheduled", True, at)]}


async def set_pod_outcome(client: ApiClient, pod: Obj, outcome: str, *, restarts: int = 0) -> Obj:
    fresh = await client.get(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"])
    fresh["status"] = pod_status(fresh, outcome, restarts=restarts)
    return await client.update(PODS, fresh, subresource="status")


async def bind(client: ApiClient, pod: Obj, node: str) -> None:
    binding = {"apiVersion": "v1", "kind": "Binding",
               "metadata": {"name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"]},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    await client.create(PODS, binding, pod["metadata"]["namespace"], subresource="binding",
                        name=pod["metadata"]["name"])


class FakeKubelet:
    """``decide(pod)`` picks what becomes of each new pod; ``seen`` keeps every pod name it handled."""

    def __init__(self, client: ApiClient, decide: Decide | None = None,
                 place: Callable[[Obj], str | None] | None = None, start_delay: float = 0.0) -> None:
        self.client = client
        self.decide: Decide = decide or (lambda pod: READY)
        self.place = place  # the node to bind an unbound pod to (a stand-in scheduler), if any
        # Containers take a moment to start: controllers act meanwhile, as they would on a real node.
        self.start_delay = start_delay
        self._starting: set[asyncio.Task[None]] = set()
        self.informer = Informer(client, PODS)
        self.informer.add_handler(Handler(on_add=self._offer, on_update=lambda _, new: self._offer(new)))
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._started: set[str] = set()
        self.seen: list[str] = []

    def _offer(self, pod: Obj) -> None:
        self._queue.put_nowait(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")

    async def run(self) -> None:
        informer = asyncio.create_task(self.informer.run())
        try:
            while True:
                key = await self._queue.get()
                pod = self.informer.store.get(key)
                if pod is not None:
                    await self._handle(key, pod)
        finally:
            for task in [informer, *self._starting]:
                task.cancel()
            await asyncio.gather(informer, *self._starting, return_exceptions=True)

    async def _handle(self, key: str, pod: Obj) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):  # gone meanwhile, or changed under us: the next event retries
            if meta.get("deletionTimestamp"):
                if (pod.get("spec") or {}).get("nodeName"):
                    await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0)
                return
            if key in self._started:
                return
            self._started.add(key)
            self.seen.append(meta["name"])
            node = self.place(pod) if self.place else None
            if node and not (pod.get("spec") or {}).get("nodeName"):
                await bind(self.client, pod, node)
            outcome = self.decide(pod)
            if outcome == PENDING:
                return
            if self.start_delay:
                task = asyncio.create_task(self._start_later(pod, outcome))
                self._starting.add(task)
                task.add_done_callback(self._starting.discard)
            else:
                await set_pod_outcome(self.client, pod, outcome)

    async def _start_later(self, pod: Obj, outcome: str) -> None:
        await asyncio.sleep(self.start_delay)
        with contextlib.suppress(ApiError):  # deleted before it started
            await set_pod_outcome(self.client, pod, outcome)


@contextlib.asynccontextmanager
async def kubelet(client: ApiClient, decide: Decide | None = None,
                  place: Callable[[Obj], str | None] | None = None,
                  start_delay: float = 0.0) -> AsyncIterator[FakeKubelet]:
    fake = FakeKubelet(client, decide, place, start_delay)
    task = asyncio.create_task(fake.run(), name="fake-kubelet")
    try:
        yield fake
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
