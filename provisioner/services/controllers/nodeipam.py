"""Node IPAM: every Node gets a pod CIDR of ``node_cidr_mask_size`` bits carved out of ``cluster_cidr``
(``spec.podCIDR`` and ``spec.podCIDRs``), like Kubernetes' range allocator.

The allocation lives in memory and is rebuilt from the Nodes' own ``spec.podCIDR`` before any new one is handed
out, so a restart never gives a taken range away. A deleted Node's range is released. Candidates are tried from
just after the last allocation (wrapping around), as Kubernetes' CIDR set does, so a freshly released range is not
immediately reused while routes to the old node may still linger. When every range is taken the Node gets a
``CIDRNotAvailable`` event and waits: it is retried with backoff, and at once when a range is released.
Single-stack: one cluster CIDR (IPv4 or IPv6) and one mask size.
"""

from __future__ import annotations

import ipaddress
import logging

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.nodeipam")

NODES = resources.lookup("", "v1", "nodes")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CIDRSetFull(Exception):
    """No free range of the node mask size is left in the cluster CIDR."""


class CIDRSet:
    """The ranges of one size inside one cluster CIDR, by index, with the ones in use marked."""

    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.cluster = ipaddress.ip_network(cluster_cidr, strict=True)
        if not self.cluster.prefixlen <= mask_size <= self.cluster.max_prefixlen:
            raise ValueError(f"node CIDR mask size /{mask_size} does not fit in cluster CIDR {cluster_cidr}")
        if mask_size - self.cluster.prefixlen > 24:
            # Kubernetes caps the difference at 16 bits; a bitmap of 2^24 entries is the most we keep in memory.
            raise ValueError(f"cluster CIDR {cluster_cidr} split into /{mask_size} ranges is too many ranges")
        self.mask_size = mask_size
        self.size = 1 << (mask_size - self.cluster.prefixlen)
        self._used: set[int] = set()
        self._next = 0

    @property
    def free(self) -> int:
        return self.size - len(self._used)

    def _network(self, index: int) -> Network:
        base = int(self.cluster.network_address) + (index << (self.cluster.max_prefixlen - self.mask_size))
        return ipaddress.ip_network((base, self.mask_size))

    def index_of(self, cidr: str) -> int | None:
        """The index of ``cidr`` if it is exactly one of our ranges, else None (foreign or differently sized)."""
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            return None
        if network.version != self.cluster.version or network.prefixlen != self.mask_size or \
                not network.subnet_of(self.cluster):  # type: ignore[arg-type]
            return None
        offset = int(network.network_address) - int(self.cluster.network_address)
        return offset >> (self.cluster.max_prefixlen - self.mask_size)

    def occupy(self, cidr: str) -> bool:
        index = self.index_of(cidr)
        if index is None:
            return False
        self._used.add(index)
        return True

    def release(self, cidr: str) -> None:
        index = self.index_of(cidr)
        if index is not None:
            self._used.discard(index)

    def allocate(self) -> str:
        if len(self._used) >= self.size:
            raise CIDRSetFull(f"no remaining /{self.mask_size} in {self.cluster}")
        for step in range(self.size):
            index = (self._next + step) % self.size
            if index not in self._used:
                self._used.add(index)
                self._next = (index + 1) % self.size
                return str(self._network(index))
        raise CIDRSetFull(f"no remaining /{self.mask_size} in {self.cluster}")  # unreachable: counted above


def _pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


class NodeIpamController:
    name = "node-ipam"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.cidrs = CIDRSet(ctx.options.cluster_cidr, ctx.options.node_cidr_mask_size)
        self.nodes = ctx.informers.informer(NODES)
        # What this controller believes each node holds: released when the node goes, corrected when it differs.
        self._assigned: dict[str, str] = {}
        self._waiting: set[str] = set()  # nodes that found the cluster CIDR full: retried when a range frees up
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers, informers=[self.nodes])
        self.loop.enqueue_all(self.nodes)

    async def run(self) -> None:
        await self.nodes.wait_synced()
        self._occupy_existing()
        await self.loop.run()

    def _occupy_existing(self) -> None:
        """Mark every range nodes already hold before handing out any: a restart must not give them away."""
        for node in self.nodes.store.list():
            for cidr in _pod_cidrs(node):
                if self.cidrs.occupy(cidr):
                    self._assigned[node["metadata"]["name"]] = cidr
                else:
                    log.warning("node %s has podCIDR %s outside cluster CIDR %s/%d", node["metadata"]["name"], cidr,
                                self.cidrs.cluster, self.cidrs.mask_size)
        log.info("%d node CIDRs in use, %d free in %s", len(self._assigned), self.cidrs.free, self.cidrs.cluster)

    async def reconcile(self, name: str) -> None:
        node = self.nodes.store.get(name)
        if node is None:
            self._waiting.discard(name)
            self._release(name)
            return
        held = _pod_cidrs(node)
        if held:
            self._adopt(name, held)
            return
        await self._assign(node)

    def _release(self, name: str) -> None:
        cidr = self._assigned.pop(name, None)
        if cidr is not None:
            self.cidrs.release(cidr)
            log.info("released %s of node %s", cidr, name)
            for waiting in sorted(self._waiting):
                self.loop.queue.add(waiting)

    def _adopt(self, name: str, held: list[str]) -> None:
        """The node has a range (set by us, an earlier run, or its creator): record it as taken."""
        ours = next((c for c in held if self.cidrs.index_of(c) is not None), None)
        if self._assigned.get(name) not in (None, ours):
            self._release(name)
        if ours is not None:
            self.cidrs.occupy(ours)
            self._assigned[name] = ours

    async def _assign(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        cidr = self._assigned.get(name)  # allocated earlier, but the write failed or the cache lags
        if cidr is None:
            try:
                cidr = self.cidrs.allocate()
            except CIDRSetFull as err:
                self._waiting.add(name)
                self.recorder.event(node, "Normal", "CIDRNotAvailable", f"Node {name} status is now: CIDRNotAvailable")
                raise RuntimeError(f"cannot allocate a pod CIDR for node {name}: {err}") from None
            self._assigned[name] = cidr
        self._waiting.discard(name)
        patch = {"metadata": {"uid": node["metadata"]["uid"]}, "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
        try:
            await self.client.patch(NODES, name, patch, patch_type="merge")
        except ApiError as err:
            if err.code in (404, 409):  # gone, or replaced by a new node of the same name: start over from events
                self._release(name)
                return
            self.recorder.event(node, "Warning", "CIDRAssignmentFailed",
                                f"Node {name} status is now: CIDRAssignmentFailed")
            raise
        log.info("assigned podCIDR %s to node %s", cidr, name)
