"""Fan committed events out to watchers without ever blocking the writer.

Each watcher subscribes with a key prefix and gets a bounded queue. ``publish`` appends the matching events to
every queue; a watcher whose queue would overflow is dropped on the spot (its queue is discarded and its next read
raises ``WatchDropped``), because holding the writer back for one slow client would stall the whole cluster.
The client re-lists and watches again from the list's revision, as Kubernetes reflectors do on 410.

Everything here runs on the event loop thread: backends publish from the loop after each commit.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from enum import Enum

from provisioner.services.storage.backend import BackendClosed, Event, WatchDropped

DEFAULT_QUEUE_SIZE = 1024


class _State(Enum):
    OPEN = "open"
    DROPPED = "dropped"  # fell behind: the queue was discarded
    BACKEND_CLOSED = "backend closed"  # deliver what is queued, then raise BackendClosed
    CANCELLED = "cancelled"  # the watcher itself stopped listening


class Subscription:
    """One watcher's bounded queue of events under ``prefix``."""

    def __init__(self, broadcaster: Broadcaster, prefix: str, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.prefix = prefix
        self.queue_size = queue_size
        self._broadcaster = broadcaster
        self._queue: deque[Event] = deque()
        self._state = _State.OPEN
        self._waiter: asyncio.Future[None] | None = None

    @property
    def dropped(self) -> bool:
        return self._state is _State.DROPPED

    @property
    def active(self) -> bool:
        return self._state is _State.OPEN

    def __len__(self) -> int:
        return len(self._queue)

    async def next_batch(self) -> list[Event]:
        """Every queued event, waiting for at least one.

        Returns ``[]`` once the subscription was cancelled; raises ``WatchDropped`` if it was dropped and
        ``BackendClosed`` after the last queued event once the broadcaster was closed.
        """
        while not self._queue:
            if self._state is _State.DROPPED:
                raise WatchDropped(f"watch on {self.prefix!r} fell more than {self.queue_size} events behind")
            if self._state is _State.BACKEND_CLOSED:
                raise BackendClosed("the storage backend was closed")
            if self._state is _State.CANCELLED:
                return []
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def cancel(self) -> None:
        """Stop listening: pending and future reads return ``[]``."""
        if self._state is _State.OPEN:
            self._broadcaster._remove(self)
        if self._state is not _State.DROPPED:
            self._state = _State.CANCELLED
        self._queue.clear()
        self._wake()

    def _offer(self, events: Sequence[Event]) -> bool:
        """Queue ``events``; False when they do not fit and the subscription was dropped instead."""
        if len(self._queue) + len(events) > self.queue_size:
            self._end(_State.DROPPED)
            self._queue.clear()
            return False
        self._queue.extend(events)
        self._wake()
        return True

    def _end(self, state: _State) -> None:
        self._state = state
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Broadcaster:
    """Delivers published events to the subscriptions whose prefix matches the event's key."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        # Watchers cluster on few prefixes (one per resource, or per namespace): filter once per prefix.
        self._by_prefix: dict[str, dict[Subscription, None]] = {}
        self._closed = False
        self.dropped_total = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return sum(len(group) for group in self._by_prefix.values())

    def subscribe(self, prefix: str, *, queue_size: int | None = None) -> Subscription:
        subscription = Subscription(self, prefix, queue_size or self.queue_size)
        if self._closed:
            subscription._end(_State.BACKEND_CLOSED)
            return subscription
        self._by_prefix.setdefault(prefix, {})[subscription] = None
        return subscription

    def publish(self, events: Sequence[Event]) -> None:
        """Queue committed ``events`` (in revision order) for every matching watcher; never waits."""
        if not events or self._closed:
            return
        for prefix, group in list(self._by_prefix.items()):
            matching = events if not prefix else [e for e in events if e.kv.key.startswith(prefix)]
            if not matching:
                continue
            for subscription in list(group):
                if not subscription._offer(matching):
                    self.dropped_total += 1
                    self._remove(subscription)

    def close(self) -> None:
        """End every subscription: each delivers what it has queued, then raises ``BackendClosed``."""
        self._closed = True
        groups, self._by_prefix = self._by_prefix, {}
        for group in groups.values():
            for subscription in group:
                subscription._end(_State.BACKEND_CLOSED)

    def _remove(self, subscription: Subscription) -> None:
        group = self._by_prefix.get(subscription.prefix)
        if group is None:
            return
        group.pop(subscription, None)
        if not group:
            del self._by_prefix[subscription.prefix]
