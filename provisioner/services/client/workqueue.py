"""A work queue of keys with client-go's guarantees: a key is queued at most once, a key being processed is never
handed to a second worker (a re-add while in flight queues it again after ``done``), and failures come back with
per-key exponential backoff."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable


class QueueShutDown(Exception):
    """``get()`` on a queue that was shut down and has nothing left."""


class ExponentialBackoff:
    """Per-key delay doubling from ``base`` to ``cap`` (client-go's ItemExponentialFailureRateLimiter)."""

    def __init__(self, base: float = 0.005, cap: float = 300.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return min(self.cap, self.base * (2 ** failures))

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class WorkQueue:
    def __init__(self, backoff: ExponentialBackoff | None = None) -> None:
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._waiting: dict[Hashable, asyncio.TimerHandle] = {}
        self._getters: deque[asyncio.Future[None]] = deque()  # workers blocked in get()
        self._shutting_down = False
        self.backoff = backoff or ExponentialBackoff()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds; an earlier pending delay for the same key wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        pending = self._waiting.get(key)
        due = loop.time() + delay
        if pending is not None:
            if pending.when() <= due:
                return
            pending.cancel()
        self._waiting[key] = loop.call_at(due, self._fire, key)

    def _fire(self, key: Hashable) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: Hashable) -> None:
        self.add_after(key, self.backoff.when(key))

    def forget(self, key: Hashable) -> None:
        self.backoff.forget(key)

    async def get(self) -> Hashable:
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown()
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._notify()  # we were woken for an item we will not take: pass it on
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        self._shutting_down = True
        for handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._notify()

    @property
    def in_flight(self) -> int:
        return len(self._processing)

    def _notify(self) -> None:
        """Wake one blocked worker (all of them on shutdown)."""
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not self._shutting_down:
                    return
