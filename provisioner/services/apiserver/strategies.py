"""Per-resource behaviour on create, update and delete (Kubernetes' registry "strategies")."""

from __future__ import annotations

import copy
from typing import Any

from provisioner.services.api import validation
from provisioner.services.api.defaults import externally_accessible
from provisioner.services.api.resources import Resource
from provisioner.services.api.status import Cause
from provisioner.services.apiserver import meta as metalib

# Kinds whose metadata.generation counts spec changes (controllers report status.observedGeneration).
_GENERATION_KINDS = frozenset(
    {"Pod", "Deployment", "ReplicaSet", "ReplicationController", "DaemonSet", "Job"}
)
# Kinds whose status a create may set (the kubelet posts a Node with its status; events have none).
_STATUS_KEPT_ON_CREATE = frozenset({"Node"})
# Metadata a status write may not change besides what the server owns anyway (uid, generation, deletion fields).
# Kubernetes' status strategies keep spec and labels; annotations stay writable (the deployment controller sets
# its revision annotation through /status).
_APPROVAL_CONDITIONS = ("Approved", "Denied")


class Strategy:
    status_write_kept_meta: tuple[str, ...] = ("labels",)

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.tracks_generation = resource.kind in _GENERATION_KINDS

    # -- create ---------------------------------------------------------------------------------------------
    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        if self.resource.has_status and self.resource.kind not in _STATUS_KEPT_ON_CREATE:
            obj["status"] = {}
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1
        else:
            obj["metadata"].pop("generation", None)

    # -- update of the main resource --------------------------------------------------------------------------
    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        if self.resource.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        self._bump_generation(new, old)

    def _bump_generation(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        old_generation = old["metadata"].get("generation")
        if not self.tracks_generation:
            if old_generation is None:
                new["metadata"].pop("generation", None)
            else:
                new["metadata"]["generation"] = old_generation
            return
        generation = old_generation or 1
        if new.get("spec") != old.get("spec"):
            generation += 1
        new["metadata"]["generation"] = generation

    # -- update of the status subresource ---------------------------------------------------------------------
    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        for field, value in old.items():
            if field not in ("metadata", "status"):
                new[field] = copy.deepcopy(value)
        for field in [f for f in new if f not in old and f not in ("metadata", "status", "apiVersion", "kind")]:
            del new[field]
        meta, old_meta = new["metadata"], old["metadata"]
        for key in self.status_write_kept_meta:
            if key in old_meta:
                meta[key] = copy.deepcopy(old_meta[key])
            else:
                meta.pop(key, None)

    def prepare_for_approval_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Only kinds with an /approval subresource (CSRs) have their own rules."""
        self.prepare_for_status_update(new, old)

    def update_errors(self, new: dict[str, Any], old: dict[str, Any], subresource: str) -> list[Cause]:
        """What an update through ``subresource`` ("" for the object itself) may not change, beyond validation."""
        return []

    # -- delete -----------------------------------------------------------------------------------------------
    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds the object stays with a deletionTimestamp before it is removed; 0 removes it at once."""
        return 0


class PodStrategy(Strategy):
    # A kubelet posting status may not rewrite who owns the pod (Kubernetes guards against old kubelets here).
    status_write_kept_meta = ("labels", "ownerReferences")

    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int:
        # An unscheduled or finished pod has no kubelet to stop it: it goes at once.
        if not obj.get("spec", {}).get("nodeName"):
            return 0
        if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        return int(obj.get("spec", {}).get("terminationGracePeriodSeconds", 30))


class CertificateSigningRequestStrategy(Strategy):
    """/status issues the certificate (and may report failure) but cannot approve; /approval sets the conditions
    and nothing else — Kubernetes' csrStatusStrategy and csrApprovalStrategy."""

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(new, old)
        for kind in _APPROVAL_CONDITIONS:
            _preserve_condition_instances(new, old, kind)
        _populate_condition_timestamps(new, old)

    def prepare_for_approval_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(new, old)
        _populate_condition_timestamps(new, old)
        conditions = (new.get("status") or {}).get("conditions")
        status = copy.deepcopy(old.get("status") or {})
        if conditions is None:
            status.pop("conditions", None)
        else:
            status["conditions"] = conditions
        new["status"] = status

    def update_errors(self, new: dict[str, Any], old: dict[str, Any], subresource: str) -> list[Cause]:
        return validation.csr_status_update_errors(new, old, approval=subresource == "approval",
                                                   certificate=subresource == "status")


def _conditions(csr: dict[str, Any]) -> list[Any]:
    conditions = (csr.get("status") or {}).get("conditions")
    return conditions if isinstance(conditions, list) else []


def _preserve_condition_instances(new: dict[str, Any], old: dict[str, Any], kind: str) -> None:
    """Put back the old conditions of ``kind`` when there are as many; a changed count is left for validation."""
    new_conditions = _conditions(new)
    new_indices = [i for i, c in enumerate(new_conditions) if isinstance(c, dict) and c.get("type") == kind]
    old_kind = [c for c in _conditions(old) if isinstance(c, dict) and c.get("type") == kind]
    if len(new_indices) == len(old_kind):
        for index, condition in zip(new_indices, old_kind, strict=True):
            new_conditions[index] = copy.deepcopy(condition)


def _populate_condition_timestamps(new: dict[str, Any], old: dict[str, Any]) -> None:
    """A condition without times gets now, or keeps the transition time of an old condition it repeats."""
    now = metalib.now_rfc3339()
    for condition in _conditions(new):
        if not isinstance(condition, dict):
            continue
        if not condition.get("lastUpdateTime"):
            condition["lastUpdateTime"] = now
        if not condition.get("lastTransitionTime"):
            condition["lastTransitionTime"] = next(
                (c["lastTransitionTime"] for c in _conditions(old) if isinstance(c, dict)
                 and c.get("type") == condition.get("type") and c.get("status") == condition.get("status")
                 and c.get("lastTransitionTime")), now)


class ServiceStrategy(Strategy):
    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        _drop_type_dependent_fields(new.setdefault("spec", {}), old.get("spec") or {})


def _drop_type_dependent_fields(spec: dict[str, Any], old: dict[str, Any]) -> None:
    """Kubernetes' dropTypeDependentFields: a Service whose type changes loses the values its old type needed
    — as long as the client left them as they were — so ``type: ClusterIP`` alone turns a NodePort back."""
    def same(*fields: str) -> bool:
        return all(spec.get(f) == old.get(f) for f in fields)

    if _service_type(old) != "ExternalName" and _service_type(spec) == "ExternalName":
        for fields in (("clusterIP", "clusterIPs"), ("ipFamilies",), ("ipFamilyPolicy",)):
            if same(*fields):
                for field in fields:
                    spec.pop(field, None)
    if _service_type(old) in _NODE_PORT_TYPES and _service_type(spec) not in _NODE_PORT_TYPES \
            and _node_ports(spec) <= _node_ports(old):
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.pop("nodePort", None)
    if _needs_health_check_node_port(old) and not _needs_health_check_node_port(spec) \
            and same("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if _service_type(old) == "LoadBalancer" and _service_type(spec) != "LoadBalancer":
        for field in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if same(field):
                spec.pop(field, None)
    if externally_accessible({"spec": old}) and not externally_accessible({"spec": spec}) \
            and same("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)


_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _service_type(spec: dict[str, Any]) -> str:
    return spec.get("type") or "ClusterIP"


def _node_ports(spec: dict[str, Any]) -> set[Any]:
    return {p["nodePort"] for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")}


def _needs_health_check_node_port(spec: dict[str, Any]) -> bool:
    return _service_type(spec) == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


_STRATEGIES: dict[str, type[Strategy]] = {
    "Pod": PodStrategy,
    "Service": ServiceStrategy,
    "CertificateSigningRequest": CertificateSigningRequestStrategy,
}


def strategy_for(resource: Resource) -> Strategy:
    return _STRATEGIES.get(resource.kind, Strategy)(resource)
