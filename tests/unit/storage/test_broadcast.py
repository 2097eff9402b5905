"""The broadcaster on its own: prefix routing, bounded queues, dropping, closing."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.services.storage.backend import BackendClosed, Event, KeyValue, WatchDropped
from provisioner.services.storage.broadcast import Broadcaster


def put(revision: int, key: str) -> Event:
    return Event("PUT", KeyValue(key, b"v", revision, revision), None)


async def test_events_reach_the_subscriptions_whose_prefix_matches_in_order() -> None:
    broadcaster = Broadcaster()
    pods = broadcaster.subscribe("/pods/")
    everything = broadcaster.subscribe("")
    events = [put(1, "/pods/a"), put(2, "/nodes/n"), put(3, "/pods/b"), put(4, "/podsx")]
    broadcaster.publish(events)
    assert await pods.next_batch() == [events[0], events[2]]
    assert await everything.next_batch() == events


async def test_a_waiting_subscription_wakes_on_publish() -> None:
    broadcaster = Broadcaster()
    subscription = broadcaster.subscribe("/k")
    waiting = asyncio.create_task(subscription.next_batch())
    await asyncio.sleep(0)
    assert not waiting.done()
    broadcaster.publish([put(1, "/k")])
    assert await waiting == [put(1, "/k")]


async def test_an_overflowing_subscription_is_dropped_and_the_others_are_not() -> None:
    broadcaster = Broadcaster(queue_size=3)
    slow = broadcaster.subscribe("/k")
    fast = broadcaster.subscribe("/k")
    broadcaster.publish([put(1, "/k"), put(2, "/k")])
    assert await fast.next_batch() == [put(1, "/k"), put(2, "/k")]
    broadcaster.publish([put(3, "/k"), put(4, "/k")])  # slow would hold 4 > 3
    assert slow.dropped and not fast.dropped
    assert broadcaster.dropped_total == 1
    assert len(broadcaster) == 1
    with pytest.raises(WatchDropped):  # nothing more is drained: the client must re-list
        await slow.next_batch()
    assert await fast.next_batch() == [put(3, "/k"), put(4, "/k")]


async def test_a_batch_larger_than_the_queue_drops_even_an_empty_subscription() -> None:
    broadcaster = Broadcaster(queue_size=2)
    subscription = broadcaster.subscribe("")
    broadcaster.publish([put(1, "/a"), put(2, "/b"), put(3, "/c")])
    with pytest.raises(WatchDropped):
        await subscription.next_batch()


async def test_close_delivers_what_is_queued_then_raises_backend_closed() -> None:
    broadcaster = Broadcaster()
    subscription = broadcaster.subscribe("")
    broadcaster.publish([put(1, "/a")])
    broadcaster.close()
    broadcaster.publish([put(2, "/b")])  # after close: ignored
    assert await subscription.next_batch() == [put(1, "/a")]
    with pytest.raises(BackendClosed):
        await subscription.next_batch()
    with pytest.raises(BackendClosed):
        await broadcaster.subscribe("").next_batch()


async def test_cancel_wakes_a_waiting_reader_with_an_empty_batch_and_unsubscribes() -> None:
    broadcaster = Broadcaster()
    subscription = broadcaster.subscribe("/k")
    waiting = asyncio.create_task(subscription.next_batch())
    await asyncio.sleep(0)
    subscription.cancel()
    assert await waiting == []
    assert len(broadcaster) == 0
    broadcaster.publish([put(1, "/k")])
    assert await subscription.next_batch() == []


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Broadcaster().subscribe("", queue_size=-1)
