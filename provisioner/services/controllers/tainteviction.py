"""Taint-based eviction (Kubernetes' taint-eviction controller, run by the node lifecycle controller): pods on a
node with ``NoExecute`` taints are deleted

- at once if they do not tolerate every one of them;
- after the smallest ``tolerationSeconds`` among the tolerations used, counted from when the controller first saw
  the pod exposed (a pod tolerating forever stays);

and a scheduled eviction is cancelled when the taints go or the pod comes to tolerate them. Before deleting, the
pod gets a ``DisruptionTarget`` condition saying why. Timers are the work queue's delayed keys: a pod's key comes
back when its toleration runs out, and every change to the pod or its node's taints re-examines it.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import Handler, ReconcileLoop, object_key, split_key
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.tainteviction")

PODS = resources.lookup("", "v1", "pods")
NODES = resources.lookup("", "v1", "nodes")
NODE_INDEX = "spec.nodeName"
Taint = dict[str, Any]
Toleration = dict[str, Any]


def pods_by_node(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def no_execute_taints(node: Obj | None) -> list[Taint]:
    if node is None:
        return []
    return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Kubernetes' Toleration.ToleratesTaint (Equal and Exists operators)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return not key or key == taint.get("key")
    if operator == "Equal":
        return key == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def matching_tolerations(taints: list[Taint], tolerations: list[Toleration]) -> list[Toleration] | None:
    """For each taint the first toleration that tolerates it; None if some taint is not tolerated."""
    used = []
    for taint in taints:
        toleration = next((t for t in tolerations if tolerates(t, taint)), None)
        if toleration is None:
            return None
        used.append(toleration)
    return used


def min_toleration_seconds(used: list[Toleration]) -> float | None:
    """How long the pod may stay: the smallest tolerationSeconds (≤ 0 means not at all); None means forever."""
    seconds = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return max(float(min(seconds)), 0.0)


def _tolerations(pod: Obj) -> list[Toleration]:
    return list((pod.get("spec") or {}).get("tolerations") or [])


class TaintEvictionController:
    name = "taint-eviction-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.pods = ctx.informers.informer(PODS, indexers={NODE_INDEX: pods_by_node})
        self.nodes = ctx.informers.informer(NODES)
        self._exposed_since: dict[str, tuple[str, float]] = {}  # pod key -> (uid, monotonic time first exposed)
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.pods, self.nodes])
        self.pods.add_handler(Handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=lambda pod: self.loop.queue.add(object_key(pod))))
        self.nodes.add_handler(Handler(on_add=self._node_changed, on_update=self._node_updated,
                                       on_delete=self._node_changed))

    def _pod_added(self, pod: Obj) -> None:
        if pods_by_node(pod):
            self.loop.queue.add(object_key(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if pods_by_node(old) != pods_by_node(new) or _tolerations(old) != _tolerations(new):
            self.loop.queue.add(object_key(new))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self._node_changed(new)

    def _node_changed(self, node: Obj) -> None:
        for pod in self.pods.store.by_index(NODE_INDEX, node["metadata"]["name"]):
            self.loop.queue.add(object_key(pod))

    async def run(self) -> None:
        await self.loop.run()

    async def reconcile(self, key: str) -> float | None:
        pod = self.pods.store.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            self._exposed_since.pop(key, None)
            return None
        node_name = (pod.get("spec") or {}).get("nodeName")
        taints = no_execute_taints(self.nodes.store.get(node_name) if node_name else None)
        if not taints:
            self._cancel(pod)
            return None
        used = matching_tolerations(taints, _tolerations(pod))
        if used is None:
            await self._evict(pod)
            return None
        seconds = min_toleration_seconds(used)
        if seconds is None:
            self._cancel(pod)
            return None
        now = time.monotonic()
        uid = pod["metadata"]["uid"]
        since = self._exposed_since.get(key)
        if since is None or since[0] != uid:
            since = (uid, now)
            self._exposed_since[key] = since
            if seconds > 0:
                log.info("pod %s tolerates the taints of node %s for %.0fs", key, node_name, seconds)
        remaining = since[1] + seconds - now
        if remaining > 0:
            return remaining
        await self._evict(pod)
        return None

    def _cancel(self, pod: Obj) -> None:
        key = object_key(pod)
        if self._exposed_since.pop(key, None) is not None:
            self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    async def _evict(self, pod: Obj) -> None:
        key = object_key(pod)
        namespace, name = split_key(key)
        uid = pod["metadata"]["uid"]
        self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                     "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now}
        try:
            await self.client.patch(PODS, name, {"metadata": {"uid": uid}, "status": {"conditions": [condition]}},
                                    namespace, patch_type="strategic", subresource="status")
            await self.client.delete(PODS, name, namespace, preconditions={"uid": uid})
        except ApiError as err:
            if err.code not in (404, 409):  # 404/409: gone already, or another pod by now
                raise  # retried with backoff; the exposure start is kept, so no new grace period
        self._exposed_since.pop(key, None)
        log.info("evicted pod %s: NoExecute taint not tolerated (any longer)", key)
