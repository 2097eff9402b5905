"""Pod garbage collector (Kubernetes' PodGC):

- pods bound to a node that no longer exists (checked with the apiserver, not only the cache) are marked Failed
  with a ``DisruptionTarget`` condition and force-deleted: no kubelet will ever confirm their end;
- pods terminating on a node that is not Ready and carries the ``node.kubernetes.io/out-of-service`` taint (an
  operator's statement that the node is down for good) are force-deleted the same way;
- pods terminating without ever having been scheduled are force-deleted;
- beyond ``terminated_pod_gc_threshold`` finished (Succeeded/Failed) pods, the oldest are deleted, evicted ones first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import Handler, ReconcileLoop, object_key, run_all, split_key
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.podgc")

PODS = resources.lookup("", "v1", "pods")
NODES = resources.lookup("", "v1", "nodes")
NODE_INDEX = "spec.nodeName"
TERMINATED_INDEX = "terminated"
TERMINATED_KEY = "terminated-pods"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"


def _node_of(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def _is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _terminated(pod: Obj) -> list[str]:
    return ["yes"] if _is_terminated(pod) else []


def _is_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def _out_of_service(node: Obj) -> bool:
    return any(t.get("key") == OUT_OF_SERVICE_TAINT for t in (node.get("spec") or {}).get("taints") or [])


def _eviction_then_age(pod: Obj) -> tuple[bool, str, str]:
    """Evicted pods go first, then the oldest; names break ties of equal creation times."""
    evicted = (pod.get("status") or {}).get("reason") == "Evicted"
    return not evicted, pod["metadata"].get("creationTimestamp", ""), pod["metadata"]["name"]


class PodGarbageCollector:
    name = "pod-gc"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.threshold = ctx.options.terminated_pod_gc_threshold
        self.pods = ctx.informers.informer(PODS, indexers={NODE_INDEX: _node_of, TERMINATED_INDEX: _terminated})
        self.nodes = ctx.informers.informer(NODES)
        informers = [self.pods, self.nodes]
        self.pod_loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers, informers=informers)
        self.terminated_loop = ReconcileLoop(f"{self.name}-terminated", self.reconcile_terminated,
                                             informers=informers)
        self.pods.add_handler(Handler(on_add=self._pod_seen, on_update=lambda _old, new: self._pod_seen(new)))
        self.nodes.add_handler(Handler(on_add=self._node_changed, on_update=lambda _old, new: self._node_changed(new),
                                       on_delete=self._node_changed))

    # -------------------------------------------------------------------------------------------- events
    def _pod_seen(self, pod: Obj) -> None:
        if _is_terminated(pod) and self.threshold > 0:
            self.terminated_loop.queue.add(TERMINATED_KEY)
        node = (pod.get("spec") or {}).get("nodeName")
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        if (node and self.nodes.store.get(node) is None) or (terminating and not node) or \
                (terminating and node and self._node_lost(node)):
            self.pod_loop.queue.add(object_key(pod))

    def _node_changed(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        if self.nodes.store.get(name) is None or self._node_lost(name):
            for pod in self.pods.store.by_index(NODE_INDEX, name):
                self.pod_loop.queue.add(object_key(pod))

    def _node_lost(self, name: str) -> bool:
        node = self.nodes.store.get(name)
        return node is not None and _out_of_service(node) and not _is_ready(node)

    async def run(self) -> None:
        await run_all(self.pod_loop.run(), self.terminated_loop.run())

    # -------------------------------------------------------------------------------------------- pods
    async def reconcile(self, key: str) -> None:
        pod = self.pods.store.get(key)
        if pod is None:
            return
        node = (pod.get("spec") or {}).get("nodeName")
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        if not node:
            if terminating:
                await self._force_delete(pod, None)
            return
        if self.nodes.store.get(node) is None:
            if not await self._node_exists(node):
                await self._force_delete(pod, "PodGC: node no longer exists")
            return
        if terminating and self._node_lost(node):
            await self._force_delete(pod, "PodGC: node is out of service")

    async def _node_exists(self, name: str) -> bool:
        """The cache may not have a node that was just created: ask before deleting anything."""
        try:
            await self.client.get(NODES, name)
        except ApiError as err:
            if err.code == 404:
                return False
            raise
        return True

    async def _force_delete(self, pod: Obj, why: str | None) -> None:
        namespace, name = split_key(object_key(pod))
        uid = pod["metadata"]["uid"]
        if why is not None and not _is_terminated(pod):
            await self._mark_failed(pod, why)
        log.info("force-deleting pod %s/%s%s", namespace, name, f": {why}" if why else "")
        try:
            await self.client.delete(PODS, name, namespace, grace_period_seconds=0, preconditions={"uid": uid})
        except ApiError as err:
            if err.code not in (404, 409):
                raise

    async def _mark_failed(self, pod: Obj, why: str) -> None:
        namespace, name = split_key(object_key(pod))
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status: dict[str, Any] = {
            "phase": "Failed",
            "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                            "message": why, "lastTransitionTime": now}],
        }
        try:
            await self.client.patch(PODS, name, {"metadata": {"uid": pod["metadata"]["uid"]}, "status": status},
                                    namespace, patch_type="strategic", subresource="status")
        except ApiError as err:
            if err.code not in (404, 409):
                raise

    # -------------------------------------------------------------------------------------------- terminated
    async def reconcile_terminated(self, _key: str) -> None:
        if self.threshold <= 0:
            return
        terminated = self.pods.store.by_index(TERMINATED_INDEX, "yes")
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        log.info("garbage collecting %d terminated pods (threshold %d)", excess, self.threshold)
        for pod in sorted(terminated, key=_eviction_then_age)[:excess]:
            await self._force_delete(pod, None)
