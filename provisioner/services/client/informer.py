"""Informers: list → watch from the list's resourceVersion → re-list on 410, keeping a read-only cache with
indexes and telling handlers what changed.

Handlers receive the cached objects themselves. They must not mutate them (copy first): every loop shares them.
Handlers should only enqueue keys; the work happens in ``reconcile(key)``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError
from provisioner.services.client.rest import ApiClient

log = logging.getLogger("informer")

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]


def object_key(obj: Obj) -> str:
    """``namespace/name`` for namespaced objects, ``name`` otherwise (client-go's MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else meta["name"]


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


def namespace_index(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace", "")]


@dataclass
class Handler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Store:
    """The informer's cache: objects by key, plus secondary indexes (e.g. pods by node name)."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        for name, func in (indexers or {}).items():
            self.add_indexer(name, func)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Add an index (also over objects already cached); adding the same name twice keeps the first."""
        if name in self._indexers:
            return
        self._indexers[name] = func
        self._indices[name] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                self._indices[name].setdefault(value, set()).add(key)

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def by_index(self, index: str, value: str) -> list[Obj]:
        return [self._items[k] for k in self._indices[index].get(value, ())]

    def index_values(self, index: str) -> list[str]:
        return [v for v, keys in self._indices[index].items() if keys]

    def upsert(self, obj: Obj) -> Obj | None:
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _index(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            for value in func(obj):
                self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            for value in func(obj):
                keys = self._indices[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._indices[name][value]


@dataclass
class Informer:
    client: ApiClient
    resource: Resource
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""
    indexers: dict[str, IndexFunc] = field(default_factory=dict)
    watch_timeout: tuple[int, int] = (300, 600)  # seconds: each watch asks for a random timeout in this range
    retry_backoff: tuple[float, float] = (0.2, 10.0)

    def __post_init__(self) -> None:
        self.store = Store(self.indexers)
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self.resource_version = ""

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self.store.add_indexer(name, func)

    def add_handler(self, handler: Handler) -> None:
        """A handler added after the first list is told about every cached object as an add (as client-go does)."""
        self._handlers.append(handler)
        if self.has_synced and handler.on_add:
            for obj in self.store.list():
                handler.on_add(obj)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def run(self) -> None:
        """List and watch until cancelled; errors are logged and retried with backoff."""
        failures = 0
        while True:
            try:
                if not self.resource_version:
                    await self._relist()
                await self._watch()
                failures = 0
            except asyncio.CancelledError:
                raise
            except ApiError as err:
                if err.code == 410:
                    log.info("%s: resourceVersion %s expired; re-listing", self.resource.plural,
                             self.resource_version)
                    self.resource_version = ""
                    continue
                failures += 1
                log.warning("%s: %s (retrying)", self.resource.plural, err.message)
            except Exception as err:  # connection reset, malformed line: keep the loop alive
                failures += 1
                log.warning("%s: %s: %s (retrying)", self.resource.plural, err.__class__.__name__, err)
            await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        low, high = self.retry_backoff
        return min(high, low * (2 ** max(failures - 1, 0))) * random.uniform(0.5, 1.0)

    async def _relist(self) -> None:
        items, resource_version = await self.client.list_all(
            self.resource, self.namespace, label_selector=self.label_selector, field_selector=self.field_selector)
        fresh = {object_key(obj): obj for obj in items}
        for key in [k for k in self.store.keys() if k not in fresh]:
            old = self.store.remove(key)
            if old is not None:
                self._dispatch_delete(old)
        for obj in fresh.values():
            old = self.store.upsert(obj)
            if old is None:
                self._dispatch_add(obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._dispatch_update(old, obj)
        self.resource_version = resource_version
        self._synced.set()

    async def _watch(self) -> None:
        timeout = random.randint(*self.watch_timeout)
        async for event in self.client.watch(
            self.resource, self.namespace, resource_version=self.resource_version,
            label_selector=self.label_selector, field_selector=self.field_selector, timeout_seconds=timeout,
        ):
            self.resource_version = event.object.get("metadata", {}).get("resourceVersion", self.resource_version)
            if event.type == "BOOKMARK":
                continue
            if event.type in ("ADDED", "MODIFIED"):
                old = self.store.upsert(event.object)
                if old is None:
                    self._dispatch_add(event.object)
                else:
                    self._dispatch_update(old, event.object)
            elif event.type == "DELETED":
                self.store.remove(object_key(event.object))
                self._dispatch_delete(event.object)

    def _dispatch_add(self, obj: Obj) -> None:
        for handler in self._handlers:
            if handler.on_add:
                handler.on_add(obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for handler in self._handlers:
            if handler.on_update:
                handler.on_update(old, new)

    def _dispatch_delete(self, obj: Obj) -> None:
        for handler in self._handlers:
            if handler.on_delete:
                handler.on_delete(obj)


class InformerFactory:
    """Shared informers: one per (resource, namespace, selectors), so every loop of a process reads one cache."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._informers: dict[tuple[str, str, str, str], Informer] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def informer(self, resource: Resource, namespace: str = "", *, label_selector: str = "",
                 field_selector: str = "", indexers: dict[str, IndexFunc] | None = None) -> Informer:
        key = (resource.qualified_name, namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, resource, namespace, label_selector, field_selector)
            self._informers[key] = informer
        for name, func in (indexers or {}).items():
            informer.add_indexer(name, func)
        return informer

    def start(self) -> None:
        """Start every informer not started yet (call again after adding informers)."""
        started = len(self._tasks)
        for informer in list(self._informers.values())[started:]:
            self._tasks.append(asyncio.create_task(informer.run(), name=f"informer-{informer.resource.plural}"))

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers.values()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
