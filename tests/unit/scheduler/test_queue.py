"""The scheduling queue: priority then FIFO, per-pod exponential backoff, unschedulable pods moved back by the
cluster events that can help them, the 5-minute flush, scheduling gates, updates and deletes."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.services.scheduler.framework import ClusterEvent
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo
from provisioner.services.scheduler.queue import QueueClosed, SchedulingQueue, backoff_duration

from .builders import Cluster, make_node, make_pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    return SchedulingQueue(clock=clock)


def pod(name: str, **kwargs: object) -> PodInfo:
    return PodInfo(make_pod(name, uid=name, **kwargs))


def drain(queue: SchedulingQueue) -> list[str]:
    names = []
    while (queued := queue.pop_nowait()) is not None:
        names.append(queued.pod.name)
    return names


def test_backoff_doubles_from_one_second_to_ten() -> None:
    assert [backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_higher_priority_first_then_first_come_first_served(queue: SchedulingQueue, clock: Clock) -> None:
    for name, priority in (("low", 0), ("high", 100), ("low-later", 0), ("high-later", 100)):
        queue.add(pod(name, priority=priority))
        clock.now += 1
    assert drain(queue) == ["high", "high-later", "low", "low-later"]


async def test_pop_waits_for_a_pod_and_close_ends_it(queue: SchedulingQueue) -> None:
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.add(pod("late"))
    assert (await asyncio.wait_for(waiter, 1)).pod.name == "late"
    closing = asyncio.create_task(queue.pop())
    await asyncio.sleep(0.01)
    queue.close()
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(closing, 1)


def test_a_failed_pod_comes_back_only_after_its_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("flaky"))
    queue.add(pod("steady"))
    queued = queue.pop_nowait()
    assert queued is not None and queued.pod.name == "flaky"
    queue.requeue_backoff(queued)  # first attempt failed: 1 s
    assert drain(queue) == ["steady"]
    clock.now += 0.99
    assert queue.pop_nowait() is None
    clock.now += 0.02
    assert queue.pop_nowait() is queued


def test_attempts_grow_the_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("flaky"))
    waits = []
    for _ in range(6):
        queued = queue.pop_nowait()
        assert queued is not None
        queue.requeue_backoff(queued)
        waits.append(queued.backoff_until - clock.now)
        clock.now = queued.backoff_until
    assert waits == [1, 2, 4, 8, 10, 10]


def test_unschedulable_pods_wait_for_a_node_to_be_added(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("big", cpu="64"))
    queued = queue.pop_nowait()
    assert queued is not None
    queue.requeue_unschedulable(queued, frozenset({"NodeResourcesFit"}))
    clock.now += 60
    assert queue.pop_nowait() is None  # backoff is long over, but nothing changed
    assert queue.counts().unschedulable == 1
    assert queue.on_event(ClusterEvent.NODE_ADD) == 1
    assert drain(queue) == ["big"]


def test_a_pod_moved_while_backing_off_waits_out_its_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("big"))
    queued = queue.pop_nowait()
    assert queued is not None
    queue.requeue_unschedulable(queued, frozenset({"NodeResourcesFit"}))
    queue.on_event(ClusterEvent.NODE_ADD)
    assert queue.counts().backoff == 1 and queue.pop_nowait() is None
    clock.now += 1.01
    assert drain(queue) == ["big"]


def test_queueing_hints_skip_events_that_cannot_help() -> None:
    """A pod short of CPU is not woken by a cordon, nor by a node too small for it; a big enough node wakes it."""
    cluster = Cluster()
    fit = cluster.plugin("NodeResourcesFit")

    def hint(event: ClusterEvent, waiting: PodInfo, plugins: frozenset[str], old: object, new: object) -> bool:
        return bool(fit.events & event) and fit.requeue(event, waiting, old, new)

    clock = Clock()
    queue = SchedulingQueue(hint, clock=clock)
    queue.add(pod("big", cpu="8"))
    queued = queue.pop_nowait()
    assert queued is not None
    queue.requeue_unschedulable(queued, frozenset({"NodeResourcesFit"}))
    clock.now += 60
    assert queue.on_event(ClusterEvent.NODE_TAINT, None, NodeInfo("n", make_node("n"))) == 0
    assert queue.on_event(ClusterEvent.NODE_ADD, None, NodeInfo("small", make_node("small", cpu="4"))) == 0
    assert queue.on_event(ClusterEvent.NODE_ADD, None, NodeInfo("large", make_node("large", cpu="16"))) == 1
    assert drain(queue) == ["big"]


def test_unschedulable_pods_are_retried_after_five_minutes_anyway(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("stuck"))
    queued = queue.pop_nowait()
    assert queued is not None
    queue.requeue_unschedulable(queued, frozenset({"NodeAffinity"}))
    clock.now += 299
    assert queue.pop_nowait() is None
    clock.now += 31  # past 5 minutes, and the 30 s flush period has come round
    assert drain(queue) == ["stuck"]


def test_a_spec_change_retries_an_unschedulable_pod_but_a_status_change_does_not(queue: SchedulingQueue) -> None:
    original = make_pod("p", uid="p", node_selector={"disk": "ssd"})
    queue.add(PodInfo(original))
    queued = queue.pop_nowait()
    assert queued is not None
    queue.requeue_unschedulable(queued, frozenset({"NodeAffinity"}))
    status_only = {**original, "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled"}]}}
    queue.update(PodInfo(status_only))
    assert queue.counts().unschedulable == 1
    fixed = {**original, "spec": {**original["spec"], "nodeSelector": {}}}
    queue.update(PodInfo(fixed))
    assert queue.counts().unschedulable == 0
    assert queue.counts().backoff + queue.counts().active == 1


def test_gated_pods_wait_until_their_gates_are_removed(queue: SchedulingQueue) -> None:
    gated = make_pod("gated", uid="gated", schedulingGates=[{"name": "example.com/quota"}])
    queue.add(PodInfo(gated))
    assert queue.pop_nowait() is None and queue.counts().gated == 1
    queue.update(PodInfo({**gated, "spec": {**gated["spec"], "schedulingGates": []}}))
    assert drain(queue) == ["gated"]


def test_deleted_pods_leave_every_sub_queue(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queue.add(pod("b"))
    queued = queue.pop_nowait()
    assert queued is not None
    queue.requeue_unschedulable(queued, frozenset({"X"}))
    queue.delete("a")
    queue.delete("b")
    queue.on_event(ClusterEvent.ALL)
    assert drain(queue) == [] and "a" not in queue and "b" not in queue


def test_a_pod_deleted_while_being_scheduled_is_not_requeued(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queued = queue.pop_nowait()
    assert queued is not None
    queue.delete("a")
    queue.requeue_unschedulable(queued, frozenset({"X"}))
    queue.on_event(ClusterEvent.ALL)
    assert drain(queue) == [] and queue.counts().unschedulable == 0


def test_a_priority_change_reorders_the_active_queue(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queue.add(pod("b"))
    queue.update(pod("b", priority=10))
    assert drain(queue) == ["b", "a"]


def test_each_plugin_declares_the_events_that_can_undo_its_rejection() -> None:
    profile = Cluster().profile
    clock = Clock()
    queue = SchedulingQueue(wake_events=profile.requeue_events, clock=clock)
    queue.add(pod("cordoned-out"))
    queue.add(pod("crowded-out"))
    for queued, plugin in ((queue.pop_nowait(), "NodeUnschedulable"), (queue.pop_nowait(), "NodeResourcesFit")):
        assert queued is not None
        queue.requeue_unschedulable(queued, frozenset({plugin}))
    clock.now += 60
    assert queue.on_event(ClusterEvent.ASSIGNED_POD_DELETE) == 1  # frees resources, not cordons
    assert drain(queue) == ["crowded-out"]
    assert queue.on_event(ClusterEvent.NODE_LABEL) == 0
    assert queue.on_event(ClusterEvent.NODE_TAINT) == 1  # an uncordon
    assert drain(queue) == ["cordoned-out"]
