"""Namespace controller: a namespace being deleted (``deletionTimestamp`` set, phase Terminating) has all its
content deleted, then its ``kubernetes`` finalizer removed through the ``finalize`` subresource, after which the
apiserver lets it go — Kubernetes' namespace controller and its NamespacedResourcesDeleter.

Every namespaced resource of the catalog that can be listed and deleted is emptied, workload controllers first (so
nothing re-creates pods), then pods, then the rest, events last (so deletion events can still be recorded). While
content remains, the namespace's status conditions say what and why (NamespaceContentRemaining,
NamespaceFinalizersRemaining, NamespaceDeletionContentFailure, ...), and the namespace is looked at again: after
the longest remaining pod grace period, or with backoff while finalizers hold objects.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop, resource_path
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.namespace")

NAMESPACES = resources.lookup("", "v1", "namespaces")
FINALIZER = "kubernetes"
FIRST = ("deployments", "daemonsets", "replicasets", "replicationcontrollers", "jobs", "pods")
LAST = ("events",)
MAX_RECHECK = 30.0  # seconds between looks at a namespace whose content is held by finalizers

CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
OK_CONDITIONS = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


def deletable_resources() -> list[Resource]:
    """Namespaced resources to empty, in deletion order."""
    candidates = [r for r in resources.RESOURCES
                  if r.namespaced and "list" in r.verbs and "delete" in r.verbs]

    def rank(resource: Resource) -> tuple[int, int]:
        if resource.plural in FIRST:
            return 0, FIRST.index(resource.plural)
        if resource.plural in LAST:
            return 2, LAST.index(resource.plural)
        return 1, resources.RESOURCES.index(resource)

    return sorted(candidates, key=rank)


def _now() -> datetime:
    return datetime.now(UTC)


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


@dataclass
class ContentReport:
    """What one deletion pass left behind."""

    remaining: Counter[str] = field(default_factory=Counter)  # "pods." -> count
    finalizers: Counter[str] = field(default_factory=Counter)  # finalizer -> objects holding it
    failures: list[str] = field(default_factory=list)
    estimate: float = 0.0  # seconds until the remaining pods should be gone

    @property
    def done(self) -> bool:
        return not self.remaining and not self.failures

    def conditions(self) -> dict[str, tuple[str, str, str]]:
        """type -> (status, reason, message) for the conditions that are not in their OK state."""
        found: dict[str, tuple[str, str, str]] = {}
        if self.failures:
            found["NamespaceDeletionContentFailure"] = (
                "True", "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(self.failures)} remaining: "
                f"{', '.join(sorted(self.failures))}")
        if self.remaining:
            listed = ", ".join(sorted(f"{name} has {count} resource instances"
                                      for name, count in self.remaining.items()))
            found["NamespaceContentRemaining"] = ("True", "SomeResourcesRemain",
                                                  f"Some resources are remaining: {listed}")
        if self.finalizers:
            listed = ", ".join(sorted(f"{name} in {count} resource instances"
                                      for name, count in self.finalizers.items()))
            found["NamespaceFinalizersRemaining"] = ("True", "SomeFinalizersRemain",
                                                     f"Some content in the namespace has finalizers remaining: "
                                                     f"{listed}")
        return found


def updated_conditions(existing: list[dict[str, Any]], report: ContentReport) -> list[dict[str, Any]]:
    """The namespace's conditions with ours set from ``report``; transition times move only on status changes."""
    conditions = copy.deepcopy(existing)
    bad = report.conditions()
    for kind in CONDITION_TYPES:
        status, reason, message = bad.get(kind) or ("False", *OK_CONDITIONS[kind])
        current = next((c for c in conditions if c.get("type") == kind), None)
        if current is None:
            conditions.append({"type": kind, "status": status, "lastTransitionTime": _format(_now()),
                               "reason": reason, "message": message})
            continue
        if current.get("status") != status:
            current["lastTransitionTime"] = _format(_now())
        current.update(status=status, reason=reason, message=message)
    return conditions


class NamespaceController:
    name = "namespace"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self._content = deletable_resources()
        self._attempts: Counter[str] = Counter()
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.namespaces])
        self.loop.enqueue_all(self.namespaces)

    async def run(self) -> None:
        await self.loop.run()

    async def reconcile(self, name: str) -> float | None:
        cached = self.namespaces.store.get(name)
        if cached is None or not cached["metadata"].get("deletionTimestamp"):
            self._attempts.pop(name, None)
            return None
        namespace = await self._live(name)  # act on the apiserver's view, not a possibly older cache
        if namespace is None:
            self._attempts.pop(name, None)
            return None
        if FINALIZER not in (namespace.get("spec") or {}).get("finalizers") or []:
            await self._delete_if_finalized(namespace)
            return None
        report = await self._delete_content(name)
        await self._report(namespace, report)
        if not report.done:
            return self._recheck_after(name, report)
        self._attempts.pop(name, None)
        await self._finalize(namespace)
        return None

    async def _live(self, name: str) -> Obj | None:
        try:
            return await self.client.get(NAMESPACES, name)
        except ApiError as err:
            if err.code == 404:
                return None
            raise

    def _recheck_after(self, name: str, report: ContentReport) -> float:
        if report.estimate > 0 and not report.failures and not report.finalizers:
            return report.estimate
        self._attempts[name] += 1
        return min(0.1 * 2 ** self._attempts[name], MAX_RECHECK)

    # ------------------------------------------------------------------------------------------------ content
    async def _delete_content(self, namespace: str) -> ContentReport:
        report = ContentReport()
        for resource in self._content:
            try:
                await self._delete_all(resource, namespace)
            except ApiError as err:
                report.failures.append(f"{resource.qualified_name}: {err.message}")
                continue
            try:
                await self._count_remaining(resource, namespace, report)
            except ApiError as err:
                report.failures.append(f"{resource.qualified_name}: {err.message}")
        return report

    async def _delete_all(self, resource: Resource, namespace: str) -> None:
        options = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if "deletecollection" in resource.verbs:
            await self.client.request("DELETE", resource_path(resource, namespace), body=options)
            return
        items, _ = await self.client.list_all(resource, namespace)
        for item in items:
            if item["metadata"].get("deletionTimestamp"):
                continue
            try:
                await self.client.delete(resource, item["metadata"]["name"], namespace)
            except ApiError as err:
                if err.code != 404:
                    raise

    async def _count_remaining(self, resource: Resource, namespace: str, report: ContentReport) -> None:
        items, _ = await self.client.list_all(resource, namespace)
        if not items:
            return
        report.remaining[f"{resource.plural}.{resource.group}"] += len(items)
        now = _now()
        for item in items:
            for finalizer in item["metadata"].get("finalizers") or []:
                report.finalizers[finalizer] += 1
            if resource.kind == "Pod" and (deadline := _parse(item["metadata"].get("deletionTimestamp", ""))):
                report.estimate = max(report.estimate, (deadline - now).total_seconds(), 1.0)

    # ------------------------------------------------------------------------------------------------ status
    async def _report(self, namespace: Obj, report: ContentReport) -> None:
        status = namespace.get("status") or {}
        conditions = updated_conditions(status.get("conditions") or [], report)
        if conditions == (status.get("conditions") or []):
            return
        updated = copy.deepcopy(namespace)
        updated.setdefault("status", {})["conditions"] = conditions
        try:
            result = await self.client.update(NAMESPACES, updated, subresource="status")
        except ApiError as err:
            if err.code in (404, 409):  # gone, or changed meanwhile: the next pass reports again
                return
            raise
        namespace["metadata"]["resourceVersion"] = result["metadata"]["resourceVersion"]

    # ------------------------------------------------------------------------------------------------ finalize
    async def _finalize(self, namespace: Obj) -> None:
        finalized = copy.deepcopy(namespace)
        spec = finalized.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        try:
            result = await self.client.update(NAMESPACES, finalized, subresource="finalize")
        except ApiError as err:
            if err.code == 404:
                return
            raise
        log.info("namespace %s: content deleted, finalized", namespace["metadata"]["name"])
        await self._delete_if_finalized(result)

    async def _delete_if_finalized(self, namespace: Obj) -> None:
        """With every finalizer gone the namespace must go; delete it again in case nothing removed it yet."""
        meta = namespace["metadata"]
        if (namespace.get("spec") or {}).get("finalizers") or meta.get("finalizers"):
            return
        try:
            await self.client.delete(NAMESPACES, meta["name"], preconditions={"uid": meta["uid"]})
        except ApiError as err:
            if err.code not in (404, 409):
                raise
