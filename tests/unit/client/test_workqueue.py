"""The work queue's guarantees: dedupe, no key handed to two workers at once, re-add while in flight, backoff."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.services.client.workqueue import ExponentialBackoff, QueueShutDown, WorkQueue


async def test_a_key_is_queued_once() -> None:
    queue = WorkQueue()
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_a_key_in_flight_is_not_handed_out_again_until_done() -> None:
    queue = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")  # changed again while being processed
    assert len(queue) == 0
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.done(key)
    assert await asyncio.wait_for(waiter, 1) == "a"


async def test_add_after_and_earliest_delay_wins() -> None:
    queue = WorkQueue()
    queue.add_after("a", 5.0)
    queue.add_after("a", 0.01)
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_rate_limited_backoff_doubles_and_forget_resets() -> None:
    backoff = ExponentialBackoff(base=0.01, cap=0.05)
    assert [backoff.when("k") for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert backoff.failures("k") == 5
    backoff.forget("k")
    assert backoff.when("k") == 0.01


async def test_shutdown_wakes_blocked_workers() -> None:
    queue = WorkQueue()
    workers = [asyncio.create_task(queue.get()) for _ in range(3)]
    await asyncio.sleep(0.01)
    queue.shutdown()
    for worker in workers:
        with pytest.raises(QueueShutDown):
            await asyncio.wait_for(worker, 1)


async def test_many_workers_each_key_processed_exclusively() -> None:
    queue = WorkQueue()
    active: set[str] = set()
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            assert key not in active, f"{key} handed to two workers"
            active.add(key)
            await asyncio.sleep(0.001)
            processed.append(key)
            active.discard(key)
            queue.done(key)

    tasks = [asyncio.create_task(worker()) for _ in range(4)]
    for round_ in range(20):
        for key in ("a", "b", "c"):
            queue.add(key)
        await asyncio.sleep(0.0005 * round_)
    while len(queue) or queue.in_flight:
        await asyncio.sleep(0.005)
    queue.shutdown()
    await asyncio.gather(*tasks)
    assert set(processed) == {"a", "b", "c"}
