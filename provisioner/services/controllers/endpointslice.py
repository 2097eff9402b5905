"""EndpointSlice controller: the discovery.k8s.io/v1 slices of every Service with a selector (what kube-proxy,
DNS and ``kubectl describe svc`` read), as Kubernetes' endpointslice controller keeps them:

- one set of slices per IP family of the service and per distinct port set (a named targetPort may resolve to
  different numbers on different pods), at most 100 endpoints per slice;
- slices are labelled ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by``, named
  ``<service>-<random>``, and owned by the Service (so the garbage collector removes them with it);
- each endpoint carries the pod IP, ``conditions`` ready/serving/terminating, ``targetRef``, ``nodeName``,
  ``zone`` (from the node's ``topology.kubernetes.io/zone`` label) and ``hostname`` when the pod asks for it;
- changes touch as few slices as possible: endpoints stay in the slice they are in, new ones fill slices that are
  being rewritten anyway, and a service with no endpoints keeps one empty placeholder slice.

Our own writes may not be in the informer cache yet when the next change comes in; acting on such a stale view
would create duplicate slices, so the controller remembers what it wrote and waits until the cache has caught up.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop, object_key
from provisioner.services.client.informer import Obj, namespace_index
from provisioner.services.controllers.base import ControllerContext
from provisioner.services.controllers.endpoints import (
    APISERVER_SERVICE,
    HEADLESS_LABEL,
    NAMESPACE_INDEX,
    PODS,
    SERVICES,
    STALE_CACHE_RETRY,
    OwnWrites,
    find_port,
    is_pod_ready,
    namespace_terminating,
    pod_hostname,
    pod_ip_of_family,
    selected_pods,
    service_families,
    service_selects,
    should_pod_be_in_endpoints,
    target_ref,
    watch_pods_for_services,
)

log = logging.getLogger("controllers.endpointslice")

SLICES = resources.lookup("discovery.k8s.io", "v1", "endpointslices")
NODES = resources.lookup("", "v1", "nodes")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "service"

PortsKey = tuple[tuple[str, int, str], ...]
EndpointKey = tuple[str, str]


def _managed_service_key(endpoint_slice: Obj) -> list[str]:
    labels = endpoint_slice["metadata"].get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
        return []
    return [f"{endpoint_slice['metadata']['namespace']}/{labels[SERVICE_NAME_LABEL]}"]


def _ports_key(ports: Iterable[dict[str, Any]]) -> PortsKey:
    return tuple(sorted((p.get("name") or "", p.get("port") or 0, p.get("protocol") or "TCP") for p in ports))


def _endpoint_key(endpoint: dict[str, Any]) -> EndpointKey:
    ref = endpoint.get("targetRef") or {}
    return (endpoint["addresses"][0], ref.get("uid", ""))


def slice_ports(pod: Obj, service: Obj) -> list[dict[str, Any]]:
    """The pod's ports for the service; a port the pod does not have is left out (the pod is still listed)."""
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port = {"name": service_port.get("name") or "", "port": number,
                "protocol": service_port.get("protocol", "TCP")}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def pod_endpoint(pod: Obj, ip: str, service: Obj, node: Obj | None) -> dict[str, Any]:
    publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    serving = publish_not_ready or is_pod_ready(pod)
    # A terminating pod is never "ready" (old clients read only that), unless the service publishes everything.
    ready = publish_not_ready or (serving and not terminating)
    endpoint: dict[str, Any] = {"addresses": [ip],
                                "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if hostname := pod_hostname(pod, service):
        endpoint["hostname"] = hostname
    endpoint["targetRef"] = target_ref(pod)
    if node_name := (pod.get("spec") or {}).get("nodeName"):
        endpoint["nodeName"] = node_name
    if node is not None and (zone := (node["metadata"].get("labels") or {}).get(ZONE_LABEL)):
        endpoint["zone"] = zone
    return endpoint


@dataclass
class DesiredPortSet:
    ports: list[dict[str, Any]]
    endpoints: dict[EndpointKey, dict[str, Any]] = field(default_factory=dict)


@dataclass
class SlicePlan:
    """What one reconcile writes: slices to create (no name yet), to update (changed), and to delete."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def _slice_labels(service: Obj) -> dict[str, str]:
    labels = dict(service["metadata"].get("labels") or {})
    labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


def _owner_reference(service: Obj) -> dict[str, Any]:
    meta = service["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta["uid"], "controller": True,
            "blockOwnerDeletion": True}


def _owned_by(endpoint_slice: Obj, service: Obj) -> bool:
    uid = service["metadata"]["uid"]
    return any(ref.get("uid") == uid and ref.get("controller") for ref in
               endpoint_slice["metadata"].get("ownerReferences") or [])


def _new_slice(service: Obj, family: str, ports: list[dict[str, Any]],
               endpoints: list[dict[str, Any]]) -> Obj:
    meta = service["metadata"]
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"], "labels": _slice_labels(service),
                     "ownerReferences": [_owner_reference(service)]},
        "addressType": family,
        "endpoints": endpoints,
        "ports": copy.deepcopy(ports),
    }


def _with_metadata(existing: Obj, service: Obj) -> Obj:
    """A new slice over an existing (cached, never modified) one, with the labels and owner the service wants;
    callers replace ``endpoints`` and ``ports`` rather than change them in place."""
    updated = dict(existing)
    updated["metadata"] = {**existing["metadata"], "labels": _slice_labels(service),
                           "ownerReferences": [_owner_reference(service)]}
    return updated


def plan_family(service: Obj, family: str, desired: dict[PortsKey, DesiredPortSet], existing: list[Obj]) -> SlicePlan:
    """Slices of one address family: keep endpoints where they are, fill slices being rewritten anyway, then
    create new ones; delete slices left empty. With nothing desired, one empty placeholder slice remains."""
    plan = SlicePlan()
    by_ports: dict[PortsKey, list[Obj]] = {}
    for endpoint_slice in existing:
        key = _ports_key(endpoint_slice.get("ports") or [])
        if key in desired and any(desired[key].endpoints.values()):
            by_ports.setdefault(key, []).append(endpoint_slice)
        else:
            plan.delete.append(endpoint_slice)
    for key, wanted in desired.items():
        if wanted.endpoints:
            _plan_port_set(service, family, wanted, by_ports.get(key, []), plan)
    if not any(w.endpoints for w in desired.values()):
        _keep_placeholder(service, family, plan)
    return plan


def _plan_port_set(service: Obj, family: str, wanted: DesiredPortSet, slices: list[Obj], plan: SlicePlan) -> None:
    remaining = dict(sorted(wanted.endpoints.items()))
    changed: list[Obj] = []
    unchanged: list[Obj] = []
    for existing in slices:
        kept = [remaining.pop(_endpoint_key(e)) for e in existing.get("endpoints") or []
                if _endpoint_key(e) in remaining]
        updated = _with_metadata(existing, service)
        updated["endpoints"] = kept
        updated["ports"] = copy.deepcopy(wanted.ports)
        if not kept:
            plan.delete.append(existing)
        elif updated != existing:
            changed.append(updated)
        else:
            unchanged.append(existing)
    leftovers = list(remaining.values())
    for endpoint_slice in changed:  # these are written anyway: top them up first
        room = MAX_ENDPOINTS_PER_SLICE - len(endpoint_slice["endpoints"])
        endpoint_slice["endpoints"].extend(leftovers[:room])
        leftovers = leftovers[room:]
    while len(leftovers) >= MAX_ENDPOINTS_PER_SLICE:
        plan.create.append(_new_slice(service, family, wanted.ports, leftovers[:MAX_ENDPOINTS_PER_SLICE]))
        leftovers = leftovers[MAX_ENDPOINTS_PER_SLICE:]
    if leftovers:
        # The last partial chunk goes into an untouched slice with room for all of it, else into a new slice.
        roomy = next((s for s in unchanged
                      if MAX_ENDPOINTS_PER_SLICE - len(s.get("endpoints") or []) >= len(leftovers)), None)
        if roomy is not None:
            unchanged.remove(roomy)
            topped = dict(roomy)
            topped["endpoints"] = list(roomy.get("endpoints") or []) + leftovers
            changed.append(topped)
        else:
            plan.create.append(_new_slice(service, family, wanted.ports, leftovers))
    plan.update.extend(changed)


def _keep_placeholder(service: Obj, family: str, plan: SlicePlan) -> None:
    """Kubernetes keeps one slice without endpoints for a service that has none: reuse one, else create it."""
    placeholder = next((s for s in plan.delete if not s.get("endpoints") and not s.get("ports")), None)
    if placeholder is None:
        plan.create.append(_new_slice(service, family, [], []))
        return
    plan.delete.remove(placeholder)
    updated = _with_metadata(placeholder, service)
    if updated != placeholder:
        plan.update.append(updated)


class EndpointSliceController:
    name = "endpointslice"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        index = {NAMESPACE_INDEX: namespace_index}
        self.services = ctx.informers.informer(SERVICES, indexers=index)
        self.pods = ctx.informers.informer(PODS, indexers=index)
        self.nodes = ctx.informers.informer(NODES)
        self.slices = ctx.informers.informer(SLICES, indexers={SERVICE_INDEX: _managed_service_key})
        # Our slice writes not yet in the cache, and which service each belongs to (see the module doc).
        self.own_writes = OwnWrites(self.slices)
        self._written_for: dict[str, set[str]] = {}  # service key -> keys of its slices we wrote
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.services, self.pods, self.nodes, self.slices])
        self.loop.enqueue_all(self.services)
        watch_pods_for_services(self.loop, self.pods, self.services)
        # A managed slice changed by anyone (or by us, once the cache sees it) means: look at its service again.
        self.loop.enqueue_all(self.slices, key_of=_managed_service_key)

    async def run(self) -> None:
        await self.loop.run()

    async def reconcile(self, key: str) -> float | None:
        if key == APISERVER_SERVICE:
            return None
        if not self._cache_caught_up(key):
            return STALE_CACHE_RETRY
        service = self.services.store.get(key)
        existing = self.slices.store.by_index(SERVICE_INDEX, key)
        if service is None or not service_selects(service):
            plan = SlicePlan(delete=list(existing))
        else:
            plan = self._plan(service, existing)
        if not plan.empty():
            await self._apply(key, plan)
        return None

    def _cache_caught_up(self, key: str) -> bool:
        """Whether the slice cache reflects every write we made for this service (see the module doc)."""
        slices = self._written_for.get(key)
        if not slices:
            return True
        slices -= {slice_key for slice_key in slices if self.own_writes.seen(slice_key)}
        return not slices

    def _plan(self, service: Obj, existing: list[Obj]) -> SlicePlan:
        plan = SlicePlan()
        owned = [s for s in existing if _owned_by(s, service)]
        plan.delete.extend(s for s in existing if not _owned_by(s, service))  # left by an earlier service
        pods = [p for p in selected_pods(service, self.pods) if should_pod_be_in_endpoints(p, include_terminating=True)]
        families = service_families(service)
        plan.delete.extend(s for s in owned if s.get("addressType") not in families)
        for family in families:
            desired = self._desired(service, family, pods)
            family_plan = plan_family(service, family, desired, [s for s in owned if s.get("addressType") == family])
            plan.create += family_plan.create
            plan.update += family_plan.update
            plan.delete += family_plan.delete
        return plan

    def _desired(self, service: Obj, family: str, pods: list[Obj]) -> dict[PortsKey, DesiredPortSet]:
        desired: dict[PortsKey, DesiredPortSet] = {}
        for pod in pods:
            ip = pod_ip_of_family(pod, family)
            if ip is None:
                continue
            ports = slice_ports(pod, service)
            node_name = (pod.get("spec") or {}).get("nodeName")
            node = self.nodes.store.get(node_name) if node_name else None
            endpoint = pod_endpoint(pod, ip, service, node)
            desired.setdefault(_ports_key(ports), DesiredPortSet(ports)).endpoints[_endpoint_key(endpoint)] = endpoint
        return desired

    async def _apply(self, key: str, plan: SlicePlan) -> None:
        written = self._written_for.setdefault(key, set())
        namespace = key.partition("/")[0]
        try:
            for endpoint_slice in plan.create:
                created = await self.client.create(SLICES, endpoint_slice, namespace)
                self.own_writes.wrote(created)
                written.add(object_key(created))
            for endpoint_slice in plan.update:
                self.own_writes.wrote(await self.client.update(SLICES, endpoint_slice))
                written.add(object_key(endpoint_slice))
            for endpoint_slice in plan.delete:
                await self._delete(endpoint_slice)
                self.own_writes.deleted(endpoint_slice)
                written.add(object_key(endpoint_slice))
        except ApiError as err:
            if namespace_terminating(err):
                log.debug("not writing endpoint slices of %s: %s", key, err.message)
                return
            raise

    async def _delete(self, endpoint_slice: Obj) -> None:
        meta = endpoint_slice["metadata"]
        try:
            await self.client.delete(SLICES, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
        except ApiError as err:
            if err.code not in (404, 409):
                raise
