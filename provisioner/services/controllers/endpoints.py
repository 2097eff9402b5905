"""Endpoints controller: the v1 Endpoints of every Service with a selector list the selected pods' IPs, ready ones
under ``addresses`` and the others under ``notReadyAddresses``, with ports resolved from each service port's
``targetPort`` (a number, or a container port name looked up per pod), as Kubernetes' endpoint controller does.

Services without a selector keep whatever Endpoints their owner writes; ``default/kubernetes`` is the apiserver's.
The pod helpers here (readiness, which pods belong in endpoints, port resolution) are shared with the
EndpointSlice controller.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.selectors import selector_from_labels
from provisioner.services.api.status import ApiError
from provisioner.services.client import Handler, Informer, ReconcileLoop, object_key
from provisioner.services.client.informer import Obj, namespace_index
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.endpoints")

SERVICES = resources.lookup("", "v1", "services")
PODS = resources.lookup("", "v1", "pods")
ENDPOINTS = resources.lookup("", "v1", "endpoints")

NAMESPACE_INDEX = "namespace"
APISERVER_SERVICE = "default/kubernetes"
MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
MANAGED_BY = "endpoint-controller"
HEADLESS_LABEL = "service.kubernetes.io/headless"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
MAX_ADDRESSES = 1000  # Kubernetes truncates an Endpoints object beyond this and says so in an annotation
STALE_CACHE_RETRY = 0.05  # seconds: how soon to look again when our own last write is not in the cache yet


# --------------------------------------------------------------------------------------------- pod helpers
def pod_condition(pod: Obj, kind: str) -> dict[str, Any] | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def is_pod_ready(pod: Obj) -> bool:
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def is_pod_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """Kubernetes' ShouldPodBeInEndpoints: it has an IP, has not finished, and (unless asked) is not terminating."""
    if not (pod.get("status") or {}).get("podIP") or is_pod_terminal(pod):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def service_selects(service: Obj) -> bool:
    """Whether the controllers manage this service's endpoints: it selects pods and is not an ExternalName."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def selects_pod(service: Obj, pod: Obj) -> bool:
    return selector_from_labels((service.get("spec") or {}).get("selector")).matches(pod["metadata"].get("labels"))


def selected_pods(service: Obj, pods: Informer) -> list[Obj]:
    """The pods of the service's namespace its selector matches (from a pod informer with the namespace index)."""
    selector = selector_from_labels((service.get("spec") or {}).get("selector"))
    return [p for p in pods.store.by_index(NAMESPACE_INDEX, service["metadata"]["namespace"])
            if selector.matches(p["metadata"].get("labels"))]


def service_families(service: Obj) -> list[str]:
    spec = service.get("spec") or {}
    families = list(spec.get("ipFamilies") or [])
    if not families and spec.get("clusterIP") not in (None, "", "None"):
        families = [ip_family(spec["clusterIP"]) or "IPv4"]
    return families or ["IPv4"]


def ip_family(address: str) -> str | None:
    """IPv4 or IPv6 for a valid address (the apiserver validated pod IPs), else None."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    except (OSError, ValueError):
        return None
    return "IPv6" if ":" in address else "IPv4"


def pod_ip_of_family(pod: Obj, family: str) -> str | None:
    status = pod.get("status") or {}
    candidates = [entry.get("ip", "") for entry in status.get("podIPs") or []] or [status.get("podIP", "")]
    return next((ip for ip in candidates if ip and ip_family(ip) == family), None)


def _container_ports(pod: Obj) -> Iterable[dict[str, Any]]:
    spec = pod.get("spec") or {}
    # Sidecars (init containers that keep running) serve ports too.
    containers = list(spec.get("containers") or []) + [c for c in spec.get("initContainers") or []
                                                        if c.get("restartPolicy") == "Always"]
    for container in containers:
        yield from container.get("ports") or []


def find_port(pod: Obj, service_port: dict[str, Any]) -> int | None:
    """The pod's port for a service port (Kubernetes' FindPort): a numeric targetPort as is, a named one looked up
    among the pod's container ports of the same protocol; None if the pod has no such named port."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for port in _container_ports(pod):
        if port.get("name") == target and port.get("protocol", "TCP") == protocol:
            return port.get("containerPort")
    return None


def target_ref(pod: Obj) -> dict[str, Any]:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def pod_hostname(pod: Obj, service: Obj) -> str:
    """A pod's hostname counts for a service only if the pod names that service as its subdomain."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"] and \
            pod["metadata"]["namespace"] == service["metadata"]["namespace"]:
        return str(spec["hostname"])
    return ""


def endpoints_relevant_state(pod: Obj) -> tuple[Any, ...]:
    """What of a pod the endpoint controllers look at: an update changing none of it is ignored."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    ports = [(p.get("name"), p.get("containerPort"), p.get("protocol")) for p in _container_ports(pod)]
    return (meta.get("labels"), bool(meta.get("deletionTimestamp")), status.get("podIP"), str(status.get("podIPs")),
            is_pod_ready(pod), is_pod_terminal(pod), spec.get("nodeName"), spec.get("hostname"),
            spec.get("subdomain"), ports)


def namespace_terminating(err: ApiError) -> bool:
    """The apiserver refused to create content in a namespace being deleted (nothing to retry)."""
    causes = (err.details or {}).get("causes") or []
    return err.code == 403 and any(c.get("reason") == "NamespaceTerminating" for c in causes)


def _version_number(resource_version: Any) -> int:
    try:
        return int(resource_version or 0)
    except (TypeError, ValueError):
        return 0


class OwnWrites:
    """What a controller last wrote, per object key, until its informer shows it. Deciding from a cache that does
    not have our own last write yet would conflict (an update from an old resourceVersion) or duplicate (a second
    create): callers look again a moment later instead."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self._pending: dict[str, tuple[str, int | str]] = {}  # key -> ("wrote", resourceVersion) | ("deleted", uid)

    def wrote(self, obj: Obj) -> None:
        self._pending[object_key(obj)] = ("wrote", _version_number(obj["metadata"].get("resourceVersion")))

    def deleted(self, obj: Obj) -> None:
        self._pending[object_key(obj)] = ("deleted", obj["metadata"]["uid"])

    def seen(self, key: str) -> bool:
        """Whether the cache reflects our last write of ``key`` (forgotten once it does)."""
        pending = self._pending.get(key)
        if pending is None:
            return True
        cached = self.informer.store.get(key)
        kind, value = pending
        if kind == "deleted":
            caught_up = cached is None or cached["metadata"].get("uid") != value
        else:
            caught_up = _version_number(self.informer.resource_version) >= int(value) or (
                cached is not None and _version_number(cached["metadata"].get("resourceVersion")) >= int(value))
        if caught_up:
            del self._pending[key]
        return caught_up


def watch_pods_for_services(loop: ReconcileLoop, pods: Informer, services: Informer) -> None:
    """Queue the services a pod belongs to (before and after a change) whenever something that matters changes."""

    def enqueue(pod: Obj) -> None:
        for service in services.store.by_index(NAMESPACE_INDEX, pod["metadata"].get("namespace", "")):
            if service_selects(service) and selects_pod(service, pod):
                loop.queue.add(object_key(service))

    def changed(old: Obj, new: Obj) -> None:
        if endpoints_relevant_state(old) == endpoints_relevant_state(new):
            return
        enqueue(old)
        if old["metadata"].get("labels") != new["metadata"].get("labels"):
            enqueue(new)

    pods.add_handler(Handler(on_add=enqueue, on_update=changed, on_delete=enqueue))


# --------------------------------------------------------------------------------------------- subsets
def _address(pod: Obj, ip: str, service: Obj) -> dict[str, Any]:
    address: dict[str, Any] = {"ip": ip}
    if hostname := pod_hostname(pod, service):
        address["hostname"] = hostname
    if node := (pod.get("spec") or {}).get("nodeName"):
        address["nodeName"] = node
    address["targetRef"] = target_ref(pod)
    return address


def _endpoint_ports(pod: Obj, service: Obj) -> tuple[dict[str, Any], ...] | None:
    """The pod's ports for the service, or None if it serves none of them. A service without ports (headless)
    yields an empty tuple: the address alone."""
    service_ports = (service.get("spec") or {}).get("ports") or []
    ports = []
    for service_port in service_ports:
        number = find_port(pod, service_port)
        if number is None:
            log.debug("pod %s has no port %s for service %s", object_key(pod), service_port.get("targetPort"),
                      object_key(service))
            continue
        port: dict[str, Any] = {"port": number, "protocol": service_port.get("protocol", "TCP")}
        if service_port.get("name"):
            port["name"] = service_port["name"]
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    if service_ports and not ports:
        return None
    return tuple(ports)


def _ports_key(ports: Iterable[dict[str, Any]]) -> tuple[tuple[str, int, str], ...]:
    return tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))


def _ip_sort_key(address: dict[str, Any]) -> tuple[int, bytes]:
    ip: str = address["ip"]
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return family, socket.inet_pton(family, ip)


def desired_subsets(service: Obj, pods: Iterable[Obj]) -> tuple[list[dict[str, Any]], bool]:
    """Subsets grouped by port set, addresses sorted (Kubernetes' RepackSubsets), and whether they were truncated."""
    tolerate_unready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    family = service_families(service)[0]
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate_unready):
            continue
        ip = pod_ip_of_family(pod, family)
        ports = _endpoint_ports(pod, service)
        if ip is None or ports is None:
            continue
        group = groups.setdefault(_ports_key(ports), {"ports": list(ports), "ready": {}, "not_ready": {}})
        bucket = "ready" if tolerate_unready or is_pod_ready(pod) else "not_ready"
        group[bucket].setdefault(ip, _address(pod, ip, service))
    subsets, total = [], 0
    for key in sorted(groups):
        group = groups[key]
        subset: dict[str, Any] = {}
        ready = sorted(group["ready"].values(), key=_ip_sort_key)
        not_ready = sorted((a for ip, a in group["not_ready"].items() if ip not in group["ready"]), key=_ip_sort_key)
        ready, not_ready, total = _within_capacity(ready, not_ready, total)
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if not subset:
            continue
        if group["ports"]:
            subset["ports"] = sorted(group["ports"], key=lambda p: (p.get("name", ""), p["port"], p["protocol"]))
        subsets.append(subset)
    truncated = sum(len(g["ready"]) + len(g["not_ready"]) for g in groups.values()) > total
    return subsets, truncated


def _within_capacity(ready: list[Any], not_ready: list[Any], used: int) -> tuple[list[Any], list[Any], int]:
    room = max(MAX_ADDRESSES - used, 0)
    ready = ready[:room]
    not_ready = not_ready[:room - len(ready)]
    return ready, not_ready, used + len(ready) + len(not_ready)


def _labels_for(service: Obj) -> dict[str, str]:
    labels = dict(service["metadata"].get("labels") or {})
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


# --------------------------------------------------------------------------------------------- controller
class EndpointsController:
    name = "endpoints"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        index = {NAMESPACE_INDEX: namespace_index}
        self.services = ctx.informers.informer(SERVICES, indexers=index)
        self.pods = ctx.informers.informer(PODS, indexers=index)
        self.endpoints = ctx.informers.informer(ENDPOINTS)
        self.own_writes = OwnWrites(self.endpoints)
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.services, self.pods, self.endpoints])
        self.loop.enqueue_all(self.services)
        watch_pods_for_services(self.loop, self.pods, self.services)
        # Our Endpoints deleted, edited by someone else or left behind by a deleted service are looked at again;
        # others' Endpoints are not our business.
        self.endpoints.add_handler(Handler(on_add=self._endpoints_seen,
                                           on_update=lambda _old, new: self._endpoints_seen(new),
                                           on_delete=lambda obj: self.loop.queue.add(object_key(obj))))

    def _endpoints_seen(self, endpoints: Obj) -> None:
        if self._ours(endpoints):
            self.loop.queue.add(object_key(endpoints))

    @staticmethod
    def _ours(endpoints: Obj) -> bool:
        return (endpoints["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY

    async def run(self) -> None:
        await self.loop.run()

    async def reconcile(self, key: str) -> float | None:
        if key == APISERVER_SERVICE:
            return None
        if not self.own_writes.seen(key):
            return STALE_CACHE_RETRY
        service = self.services.store.get(key)
        current = self.endpoints.store.get(key)
        if service is None:
            if current is not None and self._ours(current):
                await self._delete(current)
            return None
        if not service_selects(service):
            return None
        subsets, truncated = desired_subsets(service, selected_pods(service, self.pods))
        await self._write(service, current, subsets, truncated)
        return None

    async def _write(self, service: Obj, current: Obj | None, subsets: list[dict[str, Any]],
                     truncated: bool) -> None:
        meta = service["metadata"]
        # A new top level and metadata over the cached object (never modified): subsets are replaced whole.
        desired = dict(current) if current is not None else {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
        desired["metadata"] = dict(desired["metadata"])
        desired["metadata"]["labels"] = _labels_for(service)
        annotations = dict(desired["metadata"].get("annotations") or {})
        if truncated:
            annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY_ANNOTATION, None)
        desired["metadata"]["annotations"] = annotations
        if not annotations:
            del desired["metadata"]["annotations"]
        if subsets:
            desired["subsets"] = subsets
        else:
            desired.pop("subsets", None)
        if current is not None and desired == current:
            return
        try:
            if current is None:
                self.own_writes.wrote(await self.client.create(ENDPOINTS, desired, meta["namespace"]))
            else:
                self.own_writes.wrote(await self.client.update(ENDPOINTS, desired))
        except ApiError as err:
            if namespace_terminating(err):
                log.debug("not writing endpoints %s/%s: %s", meta["namespace"], meta["name"], err.message)
                return
            raise

    async def _delete(self, endpoints: Obj) -> None:
        meta = endpoints["metadata"]
        try:
            await self.client.delete(ENDPOINTS, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
        except ApiError as err:
            if err.code not in (404, 409):
                raise
        self.own_writes.deleted(endpoints)
