"""ClusterIP and NodePort bookkeeping for Service writes: allocate what a Service needs, keep what it already had,
release what it no longer uses."""

from __future__ import annotations

from typing import Any

from provisioner.services.api import validation
from provisioner.services.api.status import ApiError, Cause, invalid
from provisioner.services.apiserver.allocator import (
    AllocationError,
    ClusterIPAllocator,
    NodePortAllocator,
    Owner,
    RangeFull,
)

_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


class _Refused(Exception):
    """What the Service asked for cannot be had: the field and why, as kube-apiserver reports it (422)."""

    def __init__(self, cause: Cause) -> None:
        super().__init__(cause.message)
        self.cause = cause


def _owner(svc: dict[str, Any]) -> Owner:
    meta = svc["metadata"]
    return Owner(meta.get("namespace", ""), meta["name"], meta["uid"])


def _needs_cluster_ip(svc: dict[str, Any]) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


def _node_ports(svc: dict[str, Any]) -> set[str]:
    spec = svc.get("spec") or {}
    if spec.get("type") not in _NODE_PORT_TYPES:
        return set()
    return {str(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")}


def _cluster_ip(svc: dict[str, Any]) -> str:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return ip if ip != "None" else ""


class ServiceAllocations:
    def __init__(self, cluster_ips: ClusterIPAllocator, node_ports: NodePortAllocator) -> None:
        self.cluster_ips = cluster_ips
        self.node_ports = node_ports

    async def allocate(self, svc: dict[str, Any], old: dict[str, Any] | None, *, dry_run: bool) -> None:
        """Fill in and reserve the Service's cluster IP and node ports (keeping an update's existing ones)."""
        owner = _owner(svc)
        svc.setdefault("spec", {})
        reserved: list[tuple[str, str]] = []  # (kind, value) reserved by this call, released if a later one fails
        try:
            await self._allocate_cluster_ip(svc, old, owner, reserved, dry_run)
            await self._allocate_node_ports(svc, old, owner, reserved, dry_run)
        except (_Refused, RangeFull) as err:
            for kind, value in reserved:
                await self._release_value(kind, value, owner.uid)
            if isinstance(err, RangeFull):  # Kubernetes treats an exhausted range as an internal error
                what = "a nodePort" if err.what == "port" else "a serviceIP"
                raise ApiError(500, f"Internal error occurred: failed to allocate {what}: {err}",
                               "InternalError") from None
            raise invalid("Service", "", svc["metadata"]["name"], [err.cause]) from None

    async def _allocate_cluster_ip(self, svc: dict[str, Any], old: dict[str, Any] | None, owner: Owner,
                                   reserved: list[tuple[str, str]], dry_run: bool) -> None:
        spec = svc["spec"]
        if not _needs_cluster_ip(svc):
            if spec.get("type") == "ExternalName":
                spec.pop("clusterIP", None)
                spec.pop("clusterIPs", None)
            else:
                spec["clusterIPs"] = ["None"]
            return
        wanted = spec.get("clusterIP") or ""
        previous = _cluster_ip(old) if old is not None and _needs_cluster_ip(old) else ""
        if not wanted and previous:
            wanted = previous  # a PUT or patch that leaves the field out keeps the allocated IP
        if wanted and wanted != previous:
            if previous:
                raise _Refused(validation.invalid("spec.clusterIPs[0]", [wanted], "may not change once set"))
            if not dry_run:
                try:
                    await self.cluster_ips.allocate(wanted, owner)
                except AllocationError as err:
                    raise _Refused(validation.invalid("spec.clusterIPs", [wanted],
                                                      f"failed to allocate IP {wanted}: {err}")) from None
                reserved.append(("ip", wanted))
        elif not wanted:
            wanted = self.cluster_ips.first_ip if dry_run else await self.cluster_ips.allocate_next(owner)
            if not dry_run:
                reserved.append(("ip", wanted))
        spec["clusterIP"] = wanted
        spec["clusterIPs"] = [wanted]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    async def _allocate_node_ports(self, svc: dict[str, Any], old: dict[str, Any] | None, owner: Owner,
                                   reserved: list[tuple[str, str]], dry_run: bool) -> None:
        spec = svc["spec"]
        ports = spec.get("ports") or []
        if spec.get("type") not in _NODE_PORT_TYPES:
            for port in ports:
                port.pop("nodePort", None)
            return
        previous = _previous_node_ports(old)
        held = _node_ports(old) if old is not None else set()
        taken_here: set[str] = set()
        for index, port in enumerate(ports):
            value = port.get("nodePort")
            if not value:
                value = previous.get((port.get("port"), port.get("protocol", "TCP")))
            if value and str(value) not in held and str(value) not in taken_here:
                if not dry_run:
                    try:
                        await self.node_ports.allocate(str(value), owner)
                    except AllocationError as err:
                        raise _Refused(validation.invalid(f"spec.ports[{index}].nodePort", value, str(err))) from None
                    reserved.append(("port", str(value)))
            elif not value:
                value = self.node_ports.low if dry_run else int(await self.node_ports.allocate_next(owner))
                if not dry_run:
                    reserved.append(("port", str(value)))
            port["nodePort"] = int(value)
            taken_here.add(str(value))

    async def release(self, svc: dict[str, Any]) -> None:
        """Release everything the Service holds (it was deleted, or storing it failed)."""
        uid = svc["metadata"].get("uid", "")
        if ip := _cluster_ip(svc):
            await self.cluster_ips.release(ip, uid)
        for port in _node_ports(svc):
            await self.node_ports.release(port, uid)

    async def release_unused(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Release what ``before`` held that ``after`` no longer uses."""
        uid = before["metadata"].get("uid", "")
        ip = _cluster_ip(before)
        if ip and ip != _cluster_ip(after):
            await self.cluster_ips.release(ip, uid)
        for port in _node_ports(before) - _node_ports(after):
            await self.node_ports.release(port, uid)

    async def _release_value(self, kind: str, value: str, uid: str) -> None:
        allocator = self.cluster_ips if kind == "ip" else self.node_ports
        await allocator.release(value, uid)

    async def repair(self, live_services: list[dict[str, Any]]) -> int:
        """Release allocations whose owner no longer exists (a crash between allocating and storing)."""
        owners = {s["metadata"]["uid"] for s in live_services}
        released = 0
        for allocator in (self.cluster_ips, self.node_ports):
            for value, owner in (await allocator.allocations()).items():
                if owner.uid not in owners:
                    await allocator.release(value, owner.uid)
                    released += 1
        return released


def _previous_node_ports(old: dict[str, Any] | None) -> dict[tuple[Any, str], int]:
    if old is None or (old.get("spec") or {}).get("type") not in _NODE_PORT_TYPES:
        return {}
    return {(p.get("port"), p.get("protocol", "TCP")): p["nodePort"]
            for p in old["spec"].get("ports") or [] if p.get("nodePort")}
