"""What every controller gets from the controller-manager, and the shape it has.

A controller is a class ``Controller(ctx)`` with ``name`` and ``async run()``. In ``__init__`` it asks
``ctx.informers`` for the shared informers it needs (the manager starts them all after constructing every
controller); ``run()`` waits for their first list and then works until cancelled, normally through
``client.ReconcileLoop``. Controllers read only from informer caches (never mutating cached objects: copy first)
and write only through ``ctx.client``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from provisioner.services.client import ApiClient, EventRecorder, InformerFactory


@dataclass(frozen=True)
class ControllerOptions:
    """Tunables, with Kubernetes' defaults (tests shorten the timeouts)."""

    workers: int = 5  # reconcile workers per controller (kube-controller-manager's --concurrent-*-syncs)
    # node lifecycle
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 50.0
    node_startup_grace_period: float = 60.0
    node_eviction_rate: float = 0.1  # nodes per second whose pods may be evicted
    # node IPAM
    cluster_cidr: str = "10.244.0.0/16"
    node_cidr_mask_size: int = 24
    # garbage collection
    terminated_pod_gc_threshold: int = 12500
    # CSR signing (the cluster CA; empty: the signer controller does not run)
    cluster_signing_cert_file: str = ""
    cluster_signing_key_file: str = ""
    cluster_signing_duration: float = 365 * 24 * 3600.0


@dataclass
class ControllerContext:
    client: ApiClient
    informers: InformerFactory
    recorder: EventRecorder
    options: ControllerOptions


class Controller(Protocol):
    name: str

    def __init__(self, ctx: ControllerContext) -> None: ...

    async def run(self) -> None: ...
