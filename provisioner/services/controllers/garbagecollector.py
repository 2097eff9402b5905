"""Garbage collector: deletes objects whose owners are gone and carries out the Foreground and Orphan deletion
policies, over every kind the catalog serves, as Kubernetes' garbage collector does.

A dependency graph (owner uid → dependent uids) is built from the ``ownerReferences`` of every object in the
informer caches. It is an index over the caches, kept in step with them like the stores' own indexes: the
informer handlers update it (in memory, no I/O) and queue the work below. Were it fed through a queue of its own,
a busy cluster would keep it behind the caches, and deciding that an owner has no dependents left, or which
dependents to orphan, from a lagging graph is exactly the mistake a garbage collector must not make. Two loops act:

- attempt-to-delete, for an object whose owners may be gone: each owner is *solid* (exists with that uid),
  *dangling* (absent, or the name now belongs to another uid — checked against the apiserver, not only the cache)
  or *waiting* (being deleted in the foreground). With a solid owner, references to dangling/waiting owners are
  removed; otherwise the object is deleted (in the foreground if an owner waits on it and it has dependents of its
  own). An owner being deleted in the foreground gets its ``foregroundDeletion`` finalizer removed once no
  dependent with ``blockOwnerDeletion`` is left;
- orphan, for an owner deleted with the Orphan policy: its dependents lose their reference to it, then the
  ``orphan`` finalizer is removed.

Events are not collected (as in Kubernetes).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError
from provisioner.services.client import Handler, Informer, ReconcileLoop, object_key, run_all
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.garbagecollector")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
IGNORED_RESOURCES = frozenset({"events"})  # high volume, never owners: Kubernetes ignores them too
ABSENT_CACHE_SIZE = 4096
_SEPARATOR = "\x00"


def collected_resources() -> list[Resource]:
    return [r for r in resources.RESOURCES
            if {"list", "watch", "delete"} <= set(r.verbs) and r.plural not in IGNORED_RESOURCES]


@dataclass
class GraphNode:
    uid: str
    resource: Resource | None = None  # None while virtual (known only as someone's owner)
    namespace: str = ""
    name: str = ""
    owners: list[dict[str, Any]] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)
    deleting: bool = False
    deleting_dependents: bool = False  # deleted in the foreground: waits for its blocking dependents

    @property
    def observed(self) -> bool:
        return self.resource is not None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def blocks(self, owner_uid: str) -> bool:
        return any(ref.get("uid") == owner_uid and ref.get("blockOwnerDeletion") for ref in self.owners)


def _gc_relevant(obj: Obj) -> tuple[Any, ...]:
    meta = obj["metadata"]
    return meta.get("uid"), meta.get("ownerReferences"), bool(meta.get("deletionTimestamp")), meta.get("finalizers")


@dataclass
class OwnerStates:
    solid: list[dict[str, Any]] = field(default_factory=list)
    dangling: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)


class GarbageCollector:
    name = "garbage-collector"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.informers: dict[str, Informer] = {r.qualified_name: ctx.informers.informer(r)
                                               for r in collected_resources()}
        self.graph: dict[str, GraphNode] = {}
        self._uid_at: dict[str, str] = {}  # graph key (resource + object key) -> uid last seen there
        self._absent: OrderedDict[str, None] = OrderedDict()  # owner uids known to be gone
        every = list(self.informers.values())
        # Kubernetes runs 20 of these (--concurrent-gc-syncs): a cascade is many independent deletes.
        workers = max(ctx.options.workers, 1) * 4
        self.delete_loop = ReconcileLoop("gc-attempt-to-delete", self.attempt_to_delete, workers=workers,
                                         informers=every)
        self.orphan_loop = ReconcileLoop("gc-orphan", self.orphan_dependents, workers=ctx.options.workers,
                                         informers=every)
        for qualified, informer in self.informers.items():
            self._watch(qualified, informer)

    def _watch(self, qualified: str, informer: Informer) -> None:
        def seen(obj: Obj) -> None:
            self.sync(qualified, object_key(obj))

        def changed(old: Obj, new: Obj) -> None:
            if _gc_relevant(old) != _gc_relevant(new):
                seen(new)

        informer.add_handler(Handler(on_add=seen, on_update=changed, on_delete=seen))

    async def run(self) -> None:
        # Deciding that an owner is missing needs every cache: the loops start once all are listed (the graph
        # holds all of them by then).
        for informer in self.informers.values():
            await informer.wait_synced()
        log.info("dependency graph built: %d objects", sum(1 for n in self.graph.values() if n.observed))
        await run_all(self.delete_loop.run(), self.orphan_loop.run())

    # ================================================================================================ graph
    def sync(self, qualified: str, object_name: str) -> None:
        """Make the graph agree with the cache about one object (the only graph writer; no I/O)."""
        key = f"{qualified}{_SEPARATOR}{object_name}"
        informer = self.informers[qualified]
        obj = informer.store.get(object_name)
        previous = self._uid_at.get(key)
        if obj is None:
            if previous is not None:
                del self._uid_at[key]
                self._remove(previous)
            return
        uid = obj["metadata"]["uid"]
        if previous is not None and previous != uid:  # deleted and re-created between two looks
            self._remove(previous)
        self._uid_at[key] = uid
        self._upsert(informer.resource, obj)

    def _upsert(self, resource: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        uid = meta["uid"]
        node = self.graph.get(uid)
        if node is None:
            node = self.graph[uid] = GraphNode(uid)
        node.resource, node.namespace, node.name = resource, meta.get("namespace", ""), meta["name"]
        self._relink_owners(node, meta.get("ownerReferences") or [])
        finalizers = meta.get("finalizers") or []
        node.deleting = bool(meta.get("deletionTimestamp"))
        started_waiting = node.deleting and FOREGROUND in finalizers and not node.deleting_dependents
        node.deleting_dependents = node.deleting and FOREGROUND in finalizers
        if started_waiting:
            for dependent in node.dependents:
                self.delete_loop.queue.add(dependent)
        if node.deleting_dependents:
            self.delete_loop.queue.add(uid)
        if node.deleting and ORPHAN in finalizers:
            self.orphan_loop.queue.add(uid)

    def _relink_owners(self, node: GraphNode, references: list[dict[str, Any]]) -> None:
        before = {ref.get("uid"): ref for ref in node.owners}
        after = {ref.get("uid"): ref for ref in references if ref.get("uid")}
        for owner_uid, ref in before.items():
            owner = self.graph.get(owner_uid)
            if owner is None:
                continue
            if owner_uid not in after:
                owner.dependents.discard(node.uid)
                self._drop_if_unused(owner)
            # A dependent that no longer blocks (or no longer depends) may be what a foreground owner waits for.
            if owner.deleting_dependents and ref.get("blockOwnerDeletion") and \
                    not (after.get(owner_uid) or {}).get("blockOwnerDeletion"):
                self.delete_loop.queue.add(owner_uid)
        needs_attempt = False
        for owner_uid in after:
            owner = self.graph.get(owner_uid)
            if owner is None:
                owner = self.graph[owner_uid] = GraphNode(owner_uid)
            owner.dependents.add(node.uid)
            # An owner not in any cache may be gone; one deleting in the foreground waits for us.
            needs_attempt |= not owner.observed or owner.deleting_dependents
        node.owners = list(references)
        if needs_attempt:
            self.delete_loop.queue.add(node.uid)

    def _remove(self, uid: str) -> None:
        node = self.graph.pop(uid, None)
        if node is None:
            return
        self._remember_absent(uid)
        for ref in node.owners:
            owner = self.graph.get(ref.get("uid", ""))
            if owner is None:
                continue
            owner.dependents.discard(uid)
            if owner.deleting_dependents:
                self.delete_loop.queue.add(owner.uid)
            self._drop_if_unused(owner)
        for dependent in node.dependents:  # their owner is gone: each decides whether it goes too
            self.delete_loop.queue.add(dependent)
        if node.dependents:
            self.graph[uid] = GraphNode(uid, dependents=node.dependents)  # virtual: remembers who pointed here

    def _drop_if_unused(self, node: GraphNode) -> None:
        if not node.observed and not node.dependents:
            self.graph.pop(node.uid, None)

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        if len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    def _cached(self, node: GraphNode) -> Obj | None:
        if node.resource is None:
            return None
        obj = self.informers[node.resource.qualified_name].store.get(node.key)
        return obj if obj is not None and obj["metadata"].get("uid") == node.uid else None

    # ================================================================================================ delete
    async def attempt_to_delete(self, uid: str) -> None:
        node = self.graph.get(uid)
        obj = self._cached(node) if node is not None else None
        if node is None or obj is None:
            return
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            if FOREGROUND in (meta.get("finalizers") or []):
                await self._finish_foreground(node, obj)
            return
        references = meta.get("ownerReferences") or []
        if not references:
            return
        owners = await self._classify(obj, references)
        if owners.solid:
            stale = owners.dangling + owners.waiting
            if stale:
                await self._remove_owner_references(node, obj, [ref["uid"] for ref in stale])
            return
        if owners.waiting and node.dependents:
            if any((dep := self.graph.get(d)) is not None and dep.deleting_dependents for d in node.dependents):
                # A cycle: our dependents wait for us while we wait for them. Stop blocking our owners.
                await self._unblock_owners(node, obj, [ref["uid"] for ref in owners.waiting])
            await self._delete(node, obj, "Foreground")
            return
        finalizers = meta.get("finalizers") or []
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        await self._delete(node, obj, policy)

    async def _classify(self, obj: Obj, references: list[dict[str, Any]]) -> OwnerStates:
        states = OwnerStates()
        for ref in references:
            state = await self._owner_state(obj, ref)
            getattr(states, state).append(ref)
        return states

    async def _owner_state(self, obj: Obj, ref: dict[str, Any]) -> str:
        """solid | dangling | waiting, for one owner reference of ``obj``."""
        owner_resource = resources.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if owner_resource is None:
            log.debug("%s: owner kind %s/%s is not served; leaving it be", object_key(obj), ref.get("apiVersion"),
                      ref.get("kind"))
            return "solid"
        namespace = obj["metadata"].get("namespace", "")
        if owner_resource.namespaced and not namespace:
            self.recorder.event(obj, "Warning", "OwnerRefInvalidNamespace",
                                f"ownerRef {ref} does not resolve to a cluster-scoped owner")
            return "dangling"
        uid = ref.get("uid", "")
        owner_node = self.graph.get(uid)
        owner = self._cached(owner_node) if owner_node is not None else None
        if owner is None:
            if uid in self._absent:
                return "dangling"
            owner = await self._live_owner(owner_resource, namespace if owner_resource.namespaced else "", ref)
            if owner is None:
                self._remember_absent(uid)
                return "dangling"
        meta = owner["metadata"]
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            return "waiting"
        return "solid"

    async def _live_owner(self, resource: Resource, namespace: str, ref: dict[str, Any]) -> Obj | None:
        """The owner as the apiserver has it, or None if absent (a same-named object with another uid is not it)."""
        try:
            owner = await self.client.get(resource, ref.get("name", ""), namespace)
        except ApiError as err:
            if err.code == 404:
                return
            raise
        return owner if owner["metadata"].get("uid") == ref.get("uid") else None

    async def _finish_foreground(self, node: GraphNode, obj: Obj) -> None:
        blocking = [d for d in node.dependents
                    if (dep := self.graph.get(d)) is not None and dep.observed and dep.blocks(node.uid)]
        if not blocking:
            await self._remove_finalizer(node, obj, FOREGROUND)
            return
        for dependent in blocking:
            if not self.graph[dependent].deleting:
                self.delete_loop.queue.add(dependent)

    # ================================================================================================ orphan
    async def orphan_dependents(self, uid: str) -> None:
        node = self.graph.get(uid)
        obj = self._cached(node) if node is not None else None
        if node is None or obj is None:
            return
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or ORPHAN not in (meta.get("finalizers") or []):
            return
        for dependent_uid in list(node.dependents):
            dependent = self.graph.get(dependent_uid)
            dependent_obj = self._cached(dependent) if dependent is not None else None
            if dependent is not None and dependent_obj is not None:
                await self._remove_owner_references(dependent, dependent_obj, [uid])
        await self._remove_finalizer(node, obj, ORPHAN)

    # ================================================================================================ writes
    async def _delete(self, node: GraphNode, obj: Obj, policy: str) -> None:
        assert node.resource is not None
        log.info("deleting %s %s (owners gone), propagation %s", node.resource.kind, node.key, policy)
        try:
            await self.client.delete(node.resource, node.name, node.namespace, propagation_policy=policy,
                                     preconditions={"uid": node.uid})
        except ApiError as err:
            if err.code not in (404, 409):  # already gone, or replaced by another object of that name
                raise

    async def _patch_metadata(self, node: GraphNode, metadata: dict[str, Any]) -> None:
        """A strategic merge patch of metadata, only if the object still has this uid."""
        assert node.resource is not None
        body = {"metadata": {**metadata, "uid": node.uid}}
        try:
            await self.client.patch(node.resource, node.name, body, node.namespace, patch_type="strategic")
        except ApiError as err:
            if err.code not in (404, 409):
                raise

    async def _remove_owner_references(self, node: GraphNode, obj: Obj, owner_uids: list[str]) -> None:
        log.info("removing owner references %s from %s %s", owner_uids, node.resource and node.resource.kind,
                 node.key)
        await self._patch_metadata(node, {"ownerReferences": [{"$patch": "delete", "uid": u} for u in owner_uids]})

    async def _unblock_owners(self, node: GraphNode, obj: Obj, owner_uids: list[str]) -> None:
        await self._patch_metadata(node, {"ownerReferences": [{"uid": u, "blockOwnerDeletion": False}
                                                              for u in owner_uids]})

    async def _remove_finalizer(self, node: GraphNode, obj: Obj, finalizer: str) -> None:
        log.info("removing finalizer %s from %s %s", finalizer, node.resource and node.resource.kind, node.key)
        await self._patch_metadata(node, {"$deleteFromPrimitiveList/finalizers": [finalizer]})
