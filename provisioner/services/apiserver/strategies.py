"""Per-resource behaviour on create, update and delete (Kubernetes' registry "strategies")."""

from __future__ import annotations

import copy
from typing import Any

from provisioner.services.api.resources import Resource

# Kinds whose metadata.generation counts spec changes (controllers report status.observedGeneration).
_GENERATION_KINDS = frozenset(
    {"Pod", "Deployment", "ReplicaSet", "ReplicationController", "DaemonSet", "Job"}
)
# Kinds whose status a create may set (the kubelet posts a Node with its status; events have none).
_STATUS_KEPT_ON_CREATE = frozenset({"Node"})
# Metadata a status write may not change (Kubernetes' ResetObjectMetaForStatus).
_STATUS_WRITE_RESET_META = ("labels", "annotations", "finalizers", "ownerReferences", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "generation")


class Strategy:
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
        for key in _STATUS_WRITE_RESET_META:
            if key in old_meta:
                meta[key] = copy.deepcopy(old_meta[key])
            else:
                meta.pop(key, None)

    # -- delete -----------------------------------------------------------------------------------------------
    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds the object stays with a deletionTimestamp before it is removed; 0 removes it at once."""
        return 0


class PodStrategy(Strategy):
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
    """/status may set the certificate but not approve; /approval may set conditions but not the certificate."""

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(new, old)
        self._keep_old_status_field(new, old, "conditions")

    def prepare_for_approval_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(new, old)
        self._keep_old_status_field(new, old, "certificate")

    @staticmethod
    def _keep_old_status_field(new: dict[str, Any], old: dict[str, Any], field: str) -> None:
        status = new.setdefault("status", {})
        if field in old.get("status", {}):
            status[field] = copy.deepcopy(old["status"][field])
        else:
            status.pop(field, None)


_STRATEGIES: dict[str, type[Strategy]] = {
    "Pod": PodStrategy,
    "CertificateSigningRequest": CertificateSigningRequestStrategy,
}


def strategy_for(resource: Resource) -> Strategy:
    return _STRATEGIES.get(resource.kind, Strategy)(resource)
