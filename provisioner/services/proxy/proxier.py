"""The kube-proxy loop: Services, EndpointSlices and this Node → one work-queue key → a full sync that renders
the rules and restores them only when the text changed (or when ``sync_period`` has passed since the last
restore, which repairs rules someone else removed).

Syncs are at least ``min_sync_period`` apart: changes arriving in between are folded into the next sync (what
kube-proxy's bounded-frequency runner does with ``--min-sync-period``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from provisioner.services.api import resources
from provisioner.services.client import Handler, InformerFactory, ReconcileLoop
from provisioner.services.proxy import rules

log = logging.getLogger("proxy")

SERVICES = resources.lookup("", "v1", "services")
SLICES = resources.lookup("discovery.k8s.io", "v1", "endpointslices")
NODES = resources.lookup("", "v1", "nodes")
SYNC_KEY = "sync"
NOT_SYNCED = "rules not synced yet"


class RulesTarget(Protocol):
    def apply(self, text: str) -> None: ...


class Proxier:
    def __init__(self, informers: InformerFactory, node_name: str, iptables: RulesTarget, *,
                 cluster_cidr: str = "", nodeport_addresses: tuple[str, ...] = (),
                 min_sync_period: float = 1.0, sync_period: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.node_name = node_name
        self.iptables = iptables
        self.cluster_cidr = cluster_cidr
        self.nodeport_addresses = nodeport_addresses
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.clock = clock
        self.services = informers.informer(SERVICES)
        self.slices = informers.informer(SLICES)
        self.nodes = informers.informer(NODES, field_selector=f"metadata.name={node_name}")
        self.loop = ReconcileLoop("proxy", self.reconcile, informers=[self.services, self.slices, self.nodes])
        for informer in (self.services, self.slices, self.nodes):
            informer.add_handler(Handler(on_add=self._changed, on_update=lambda old, new: self._changed(new),
                                         on_delete=self._changed))
        self.applied_text = ""
        self.problem = NOT_SYNCED  # for /healthz: "" once the last sync succeeded
        self._last_sync = float("-inf")
        self._last_apply = float("-inf")

    def _changed(self, _obj: object) -> None:
        self.loop.queue.add(SYNC_KEY)

    async def run(self) -> None:
        self.loop.queue.add(SYNC_KEY)  # the first sync, even with nothing in the caches
        await self.loop.run()

    async def reconcile(self, key: str) -> float | None:
        wait = self._last_sync + self.min_sync_period - self.clock()
        if wait > 0:
            return wait
        self._last_sync = self.clock()
        try:
            await self.sync()
        except Exception as err:
            self.problem = f"last sync failed: {err}"
            raise
        self.problem = ""
        return self.sync_period

    def node_info(self) -> rules.NodeInfo:
        node = self.nodes.store.get(self.node_name) or {}
        addresses = (node.get("status") or {}).get("addresses") or []
        internal = [a["address"] for a in addresses
                    if a.get("type") == "InternalIP" and rules.is_ipv4(a["address"])]
        return rules.NodeInfo(name=self.node_name, ip=internal[0] if internal else "",
                              pod_cidr=(node.get("spec") or {}).get("podCIDR") or "",
                              cluster_cidr=self.cluster_cidr, nodeport_addresses=self.nodeport_addresses)

    async def sync(self) -> None:
        started = self.clock()
        node = self.node_info()
        text = rules.render(self.services.store.list(), self.slices.store.list(), node)
        due = started - self._last_apply >= self.sync_period
        changed = text != self.applied_text
        if changed or due:
            # iptables-restore blocks for milliseconds to seconds: keep the informers' event loop running.
            await asyncio.to_thread(self.iptables.apply, text)
            self.applied_text = text
            self._last_apply = self.clock()
        lines = text.splitlines()
        log.info("sync: %d service chains, %d endpoint chains, %d rules; %s in %.1f ms%s",
                 sum(line.startswith(":KUBE-SVC-") for line in lines),
                 sum(line.startswith(":KUBE-SEP-") for line in lines),
                 sum(line.startswith("-A ") for line in lines),
                 "applied" if changed else "re-applied" if due else "unchanged",
                 (self.clock() - started) * 1000,
                 "" if node.ip else f" (node {self.node_name} not known yet)")
