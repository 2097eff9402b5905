"""The Node this kubelet registers and the status it keeps posting.

``node_object``/``node_status`` are pure (flags + machine facts + time → JSON), as the upstream kubelet builds
them: default labels (hostname, os, arch) over ``--node-labels``; ``--register-with-taints``; capacity =
allocatable (nothing is reserved yet); InternalIP and Hostname addresses; nodeInfo; the four healthy conditions.

``NodeStatusReporter.register()`` creates the Node, or — if it exists, as after a restart — merges our labels into
it and posts our status (taints are set on first creation only, as upstream: an operator may have changed them).
``run()`` then posts the status every ``--node-status-update-frequency`` through the ``status`` subresource; a
condition's lastTransitionTime moves only when its status flips. A Node deleted meanwhile is registered again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.nodes import KUBELET_PORT, heartbeat_conditions
from provisioner.services.api.status import ApiError
from provisioner.services.api.version import GIT_VERSION
from provisioner.services.client import ApiClient, until_available
from provisioner.services.kubelet.sysinfo import Machine

log = logging.getLogger("kubelet.node")

NODES = resources.lookup("", "v1", "nodes")
MAX_PODS = 110

Obj = dict[str, Any]


@dataclass(frozen=True)
class NodeSettings:
    """What the flags say about the Node."""

    name: str
    ip: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Obj] = ()


def node_labels(settings: NodeSettings, machine: Machine) -> dict[str, str]:
    """``--node-labels`` under the labels every kubelet sets (which win, as upstream)."""
    return {
        **settings.labels,
        "kubernetes.io/hostname": settings.name,
        "kubernetes.io/os": "linux", "kubernetes.io/arch": machine.architecture,
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": machine.architecture,
    }  # fmt: skip


def capacity(machine: Machine) -> dict[str, str]:
    return {"cpu": str(machine.cpus), "memory": f"{machine.memory_ki}Ki", "pods": str(MAX_PODS),
            "ephemeral-storage": f"{machine.ephemeral_storage_ki}Ki", "hugepages-2Mi": "0"}


def node_status(settings: NodeSettings, machine: Machine, previous_conditions: Sequence[Obj], now: float) -> Obj:
    resources_ = capacity(machine)
    return {
        "capacity": resources_,
        "allocatable": dict(resources_),
        "conditions": heartbeat_conditions(previous_conditions, now),
        "addresses": [{"type": "InternalIP", "address": settings.ip}, {"type": "Hostname", "address": settings.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": machine.machine_id, "systemUUID": machine.system_uuid, "bootID": machine.boot_id,
            "kernelVersion": machine.kernel_version, "osImage": machine.os_image,
            "containerRuntimeVersion": machine.container_runtime_version,
            "kubeletVersion": GIT_VERSION, "kubeProxyVersion": GIT_VERSION,
            "operatingSystem": "linux", "architecture": machine.architecture,
        },
    }  # fmt: skip


def node_object(settings: NodeSettings, machine: Machine, now: float) -> Obj:
    spec: Obj = {"taints": [dict(t) for t in settings.taints]} if settings.taints else {}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": settings.name, "labels": node_labels(settings, machine),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": spec,
        "status": node_status(settings, machine, (), now),
    }  # fmt: skip


class NodeStatusReporter:
    def __init__(self, client: ApiClient, settings: NodeSettings, machine: Machine, update_frequency: float,
                 registered: asyncio.Event | None = None) -> None:
        self.client = client
        self.settings = settings
        self.machine = machine
        self.update_frequency = update_frequency
        self.registered = registered or asyncio.Event()  # set while the Node exists (what /healthz reports)
        self.uid = ""  # of the registered Node: the Lease's owner

    async def register(self) -> None:
        """Create or adopt the Node; retried while the apiserver is unavailable, other refusals are raised."""
        node = await until_available(self._create_or_adopt)
        self.uid = node["metadata"]["uid"]
        self.registered.set()

    async def _create_or_adopt(self) -> Obj:
        name = self.settings.name
        try:
            created = await self.client.create(NODES, node_object(self.settings, self.machine, time.time()))
        except ApiError as err:
            if err.code != 409:
                raise
        else:
            log.info("registered node %s", name)
            return created
        labels = node_labels(self.settings, self.machine)
        await self.client.patch(NODES, name, {"metadata": {"labels": labels}})
        node = await self._post_status()
        log.info("node %s was registered before; labels and status updated", name)
        return node

    async def run(self) -> None:
        """Post the status every ``update_frequency`` until cancelled; failures are logged and retried."""
        while True:
            await asyncio.sleep(self.update_frequency)
            try:
                node = await self._post_status()
            except ApiError as err:
                if err.code != 404:
                    log.warning("updating the status of node %s failed: %s", self.settings.name, err.message)
                    continue
                log.warning("node %s was deleted; registering it again", self.settings.name)
                self.registered.clear()
                try:
                    await self.register()
                except ApiError as again:
                    log.warning("registering node %s failed: %s", self.settings.name, again.message)
                continue
            self.uid = node["metadata"]["uid"]

    async def _post_status(self) -> Obj:
        """A strategic merge patch of our part of the status: conditions and addresses merge by type, so
        conditions others own (NetworkUnavailable) stay."""
        current = await self.client.get(NODES, self.settings.name)
        previous = (current.get("status") or {}).get("conditions") or []
        status = node_status(self.settings, self.machine, previous, time.time())
        return await self.client.patch(NODES, self.settings.name, {"status": status}, patch_type="strategic",
                                       subresource="status")
