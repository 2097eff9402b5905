"""The shape every watch-driven loop has: informers feed keys into a work queue; N workers call ``reconcile(key)``.

``reconcile`` returns None when done, or a delay in seconds to look again later; an exception re-queues the key
with per-key backoff. Keys of one object are never reconciled by two workers at once; different objects are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable

from provisioner.services.client.informer import Handler, Informer, Obj, object_key
from provisioner.services.client.workqueue import QueueShutDown, WorkQueue

log = logging.getLogger("loop")

Reconcile = Callable[[str], Awaitable[float | None]]


class ReconcileLoop:
    def __init__(self, name: str, reconcile: Reconcile, *, workers: int = 1,
                 informers: Iterable[Informer] = (), queue: WorkQueue | None = None) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.informers = list(informers)
        self.queue = queue or WorkQueue()

    def enqueue_all(self, informer: Informer, key_of: Callable[[Obj], Iterable[str]] | None = None) -> None:
        """Queue the key of every added, changed or deleted object of ``informer`` (or the keys ``key_of`` maps
        the object to, e.g. the owner of a pod)."""
        keys = key_of or (lambda obj: [object_key(obj)])

        def add(obj: Obj) -> None:
            for key in keys(obj):
                self.queue.add(key)

        def changed(old: Obj, new: Obj) -> None:
            add(old)  # a mapped key may differ between the two states (a pod relabelled to another owner)
            add(new)

        informer.add_handler(Handler(on_add=add, on_update=changed, on_delete=add))

    async def run(self) -> None:
        """Wait for the informers' first list, then work until cancelled (in-flight keys finish first)."""
        await asyncio.gather(*(i.wait_synced() for i in self.informers))
        workers = [asyncio.create_task(self._work(), name=f"{self.name}-worker-{n}") for n in range(self.workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            self.queue.shutdown()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            await self._process(key)

    async def _process(self, key: Hashable) -> None:
        try:
            again = await self.reconcile(str(key))
        except asyncio.CancelledError:
            self.queue.done(key)
            raise
        except Exception as err:
            failures = self.queue.backoff.failures(key)
            level = logging.WARNING if failures < 5 else logging.ERROR
            log.log(level, "%s: reconciling %s failed (%s: %s); retrying", self.name, key,
                    err.__class__.__name__, err, exc_info=failures >= 5)
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
            if again is not None:
                self.queue.add_after(key, again)
        self.queue.done(key)


async def run_all(*tasks: Awaitable[None]) -> None:
    """Run informers and loops together; the first one to fail cancels the rest."""
    running = [asyncio.ensure_future(t) for t in tasks]
    try:
        await asyncio.gather(*running)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
