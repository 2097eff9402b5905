"""A watch = history replay followed by live events, with no gap and no duplicate.

The backend subscribes to its broadcaster *before* reading history, at a moment when every event up to
``replay_until`` has been published (so the subscription receives exactly the events after it). The watch then
replays history in ``(after_revision, replay_until]`` page by page and switches to the live queue, skipping any
event at or below the last revision it yielded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

from provisioner.services.storage.backend import Event
from provisioner.services.storage.broadcast import Subscription

REPLAY_PAGE_SIZE = 500

# (after, until, limit) -> up to ``limit`` events under the watch's prefix with after < revision <= until, in
# revision order; raises Compacted when ``after`` is below the compact revision.
ReplayPage = Callable[[int, int, int], Awaitable[list[Event]]]


class StorageWatch:
    """Events for one prefix with revision > ``after_revision``; see ``backend.Watch``."""

    def __init__(
        self,
        subscription: Subscription,
        after_revision: int,
        *,
        replay_until: int,
        replay_page: ReplayPage | None,
        page_size: int | None = None,
    ) -> None:
        self._subscription = subscription
        self._last = after_revision  # the last revision yielded (or skipped as already seen)
        self._replay_until = replay_until
        self._replay_page = replay_page if after_revision < replay_until else None
        self._page_size = page_size or REPLAY_PAGE_SIZE
        self._ready: deque[Event] = deque()
        self._finished = False

    @property
    def prefix(self) -> str:
        return self._subscription.prefix

    @property
    def last_revision(self) -> int:
        """The revision of the last event delivered (or the starting revision before the first)."""
        return self._last

    def __aiter__(self) -> StorageWatch:
        return self

    async def __anext__(self) -> Event:
        while not self._ready:
            if self._finished:
                raise StopAsyncIteration
            try:
                await self._fill()
            except asyncio.CancelledError:
                raise  # the reader stopped waiting (say, to send a bookmark); it may read on later
            except BaseException:
                self._finish()
                raise
        event = self._ready.popleft()
        self._last = event.revision
        return event

    async def close(self) -> None:
        self._finish()

    async def __aenter__(self) -> StorageWatch:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish()

    async def _fill(self) -> None:
        if self._replay_page is not None and not self._subscription.dropped:
            await self._fill_from_history()
            return
        batch = await self._subscription.next_batch()
        if not batch:  # cancelled by close(); a dropped subscription raised WatchDropped instead
            self._finished = True
            return
        self._ready.extend(e for e in batch if e.revision > self._last)

    async def _fill_from_history(self) -> None:
        assert self._replay_page is not None
        page = await self._replay_page(self._last, self._replay_until, self._page_size)
        if self._finished:  # closed while the page was being read
            return
        self._ready.extend(page)
        if len(page) < self._page_size or (page and page[-1].revision >= self._replay_until):
            self._replay_page = None

    def _finish(self) -> None:
        self._finished = True
        self._ready.clear()
        self._replay_page = None
        self._subscription.cancel()
