"""The scheduling queue, kube-scheduler's three sub-queues:

* activeQ — pods ready to be tried: higher ``spec.priority`` first, then first come first served;
* backoffQ — pods that failed recently, each waiting out its own exponential backoff (1 s, 2 s, 4 s … 10 s by
  attempt), then moved to activeQ;
* unschedulable — pods that fit nowhere. They wait for a cluster change that may help them: a node added or
  changed, a pod on a node removed or changed. Each rejecting plugin declares the events that can undo its
  rejection (and may look at the changed object), so a cordon does not wake pods waiting for CPU. A pod that
  waited 5 minutes is retried anyway (podMaxInUnschedulablePodsDuration), in case an event was missed.

Pods with ``spec.schedulingGates`` wait outside all three until the gates are removed.

Because the scheduler's cycle never awaits, no cluster event can arrive while a pod is being decided, so the
in-flight event bookkeeping kube-scheduler needs (to not lose a wake-up that raced a failing cycle) is not needed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from provisioner.services.scheduler.framework import ClusterEvent
from provisioner.services.scheduler.podinfo import PodInfo

POD_INITIAL_BACKOFF = 1.0
POD_MAX_BACKOFF = 10.0
POD_MAX_IN_UNSCHEDULABLE = 300.0
UNSCHEDULABLE_FLUSH_INTERVAL = 30.0

# (event, waiting pod, plugins that rejected it, old object, new object) → should the pod be retried?
RequeueHint = Callable[[ClusterEvent, PodInfo, frozenset[str], Any, Any], bool]
# plugins that rejected a pod → the events that may help it (a cheap first sieve before the hint)
WakeEvents = Callable[[frozenset[str]], ClusterEvent]


class QueueClosed(Exception):
    """``pop()`` on a closed queue."""


@dataclass(eq=False)
class QueuedPod:
    pod: PodInfo
    timestamp: float  # when it last entered activeQ (FIFO order among equal priorities)
    attempts: int = 0
    initial_attempt: float | None = None
    rejected_by: frozenset[str] = frozenset()
    wake_events: ClusterEvent = ClusterEvent.ALL
    backoff_until: float = 0.0
    seq: int = 0
    moved_to_unschedulable: float = 0.0
    where: str = ""  # active | backoff | unschedulable | gated | flight


@dataclass
class QueueCounts:
    active: int
    backoff: int
    unschedulable: int
    gated: int
    in_flight: int


def backoff_duration(attempts: int, initial: float = POD_INITIAL_BACKOFF, maximum: float = POD_MAX_BACKOFF) -> float:
    """initial × 2^(attempts − 1), capped: 1, 2, 4, 8, 10, 10 … seconds."""
    duration = initial
    for _ in range(1, attempts):
        if duration > maximum - duration:
            return maximum
        duration += duration
    return min(duration, maximum)


@dataclass
class SchedulingQueue:
    requeue_hint: RequeueHint = field(default=lambda event, pod, plugins, old, new: True)
    wake_events: WakeEvents = field(default=lambda plugins: ClusterEvent.ALL)
    initial_backoff: float = POD_INITIAL_BACKOFF
    max_backoff: float = POD_MAX_BACKOFF
    max_in_unschedulable: float = POD_MAX_IN_UNSCHEDULABLE
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._pods: dict[str, QueuedPod] = {}  # every pod the queue knows, wherever it is
        self._active: list[tuple[int, float, int, QueuedPod]] = []
        self._backoff: list[tuple[float, int, QueuedPod]] = []
        self._unschedulable: dict[str, QueuedPod] = {}
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._last_unschedulable_flush = self.clock()
        self.scheduling_cycle = 0

    # ---------------------------------------------------------------------------------------------- intake
    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or one seen again after a re-list)."""
        existing = self._pods.get(pod.uid)
        if existing is not None:
            self.update(pod)
            return
        queued = QueuedPod(pod, self.clock())
        self._pods[pod.uid] = queued
        if pod.scheduling_gates:
            queued.where = "gated"
        else:
            self._push_active(queued)

    def update(self, pod: PodInfo) -> None:
        """A newer version of a pending pod. A pod waiting as unschedulable is retried when its spec changed (the
        user may have fixed what kept it pending); a gated pod whose last gate went is queued."""
        queued = self._pods.get(pod.uid)
        if queued is None:
            self.add(pod)
            return
        old = queued.pod
        queued.pod = pod
        if queued.where == "gated":
            if not pod.scheduling_gates:
                self._push_active(queued)
        elif queued.where == "unschedulable" and _spec_changed(old, pod):
            del self._unschedulable[pod.uid]
            self._requeue(queued)
        elif queued.where == "active" and old.priority != pod.priority:
            self._push_active(queued)  # the old heap entry becomes stale

    def delete(self, uid: str) -> None:
        queued = self._pods.pop(uid, None)
        if queued is not None:
            self._unschedulable.pop(uid, None)
            queued.where = "deleted"  # heap entries are dropped lazily

    def __contains__(self, uid: str) -> bool:
        return uid in self._pods

    def get(self, uid: str) -> QueuedPod | None:
        return self._pods.get(uid)

    # ----------------------------------------------------------------------------------------------- pop
    async def pop(self) -> QueuedPod:
        """The next pod to try (waits for one). The pod is in flight until ``done`` or a ``requeue_*``."""
        while True:
            self.flush()
            queued = self._pop_active()
            if queued is not None:
                return queued
            if self._closed:
                raise QueueClosed()
            self._wakeup.clear()
            timeout = self._next_timer() - self.clock()
            try:
                await asyncio.wait_for(self._wakeup.wait(), max(timeout, 0.001))
            except TimeoutError:
                pass

    def pop_nowait(self) -> QueuedPod | None:
        self.flush()
        return self._pop_active()

    def _pop_active(self) -> QueuedPod | None:
        while self._active:
            _, _, seq, queued = heapq.heappop(self._active)
            if queued.where != "active" or seq != queued.seq or self._pods.get(queued.pod.uid) is not queued:
                continue  # stale entry: deleted, moved, or re-pushed with a new priority
            queued.where = "flight"
            queued.attempts += 1
            if queued.initial_attempt is None:
                queued.initial_attempt = self.clock()
            self.scheduling_cycle += 1
            return queued
        return None

    def done(self, uid: str) -> None:
        """The pod was assumed onto a node: the queue lets go of it (a failed binding re-adds it)."""
        queued = self._pods.get(uid)
        if queued is not None and queued.where == "flight":
            del self._pods[uid]

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # ------------------------------------------------------------------------------------------ failures
    def requeue_unschedulable(self, queued: QueuedPod, rejected_by: frozenset[str]) -> None:
        """It fits nowhere: wait for a cluster change that one of ``rejected_by`` cares about."""
        if self._pods.get(queued.pod.uid) is not queued:
            return  # deleted (or bound elsewhere) while it was being decided
        now = self.clock()
        queued.rejected_by = rejected_by
        queued.wake_events = self.wake_events(rejected_by) if rejected_by else ClusterEvent.ALL
        queued.backoff_until = now + backoff_duration(queued.attempts, self.initial_backoff, self.max_backoff)
        queued.moved_to_unschedulable = now
        queued.where = "unschedulable"
        self._unschedulable[queued.pod.uid] = queued

    def requeue_backoff(self, queued: QueuedPod) -> None:
        """An error (not a misfit), e.g. a failed binding: try again after the pod's backoff."""
        uid = queued.pod.uid
        current = self._pods.get(uid)
        if current is not None and current is not queued:
            return
        self._pods[uid] = queued
        queued.rejected_by = frozenset()
        queued.backoff_until = self.clock() + backoff_duration(queued.attempts, self.initial_backoff,
                                                               self.max_backoff)
        self._push_backoff(queued)

    # ---------------------------------------------------------------------------------------- cluster events
    def on_event(self, event: ClusterEvent, old: Any = None, new: Any = None) -> int:
        """Move the unschedulable pods this change may help; returns how many moved."""
        if not event or not self._unschedulable:
            return 0
        moved = [q for q in self._unschedulable.values()
                 if q.wake_events & event and self.requeue_hint(event, q.pod, q.rejected_by, old, new)]
        for queued in moved:
            del self._unschedulable[queued.pod.uid]
            self._requeue(queued)
        return len(moved)

    def move_all(self) -> None:
        """Retry every unschedulable pod (e.g. after the scheduler gained leadership or lost a watch)."""
        for queued in list(self._unschedulable.values()):
            del self._unschedulable[queued.pod.uid]
            self._requeue(queued)

    def flush(self) -> None:
        """Backed-off pods whose time came → activeQ; pods unschedulable for too long → retried."""
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, queued = heapq.heappop(self._backoff)
            if queued.where == "backoff" and queued.seq == seq and self._pods.get(queued.pod.uid) is queued:
                self._push_active(queued)
        if now - self._last_unschedulable_flush >= UNSCHEDULABLE_FLUSH_INTERVAL:
            self._last_unschedulable_flush = now
            stale = [q for q in self._unschedulable.values() if now - q.moved_to_unschedulable >= self.max_in_unschedulable]
            for queued in stale:
                del self._unschedulable[queued.pod.uid]
                self._requeue(queued)

    # ------------------------------------------------------------------------------------------- internals
    def _requeue(self, queued: QueuedPod) -> None:
        if queued.backoff_until > self.clock():
            self._push_backoff(queued)
        else:
            self._push_active(queued)

    def _push_active(self, queued: QueuedPod) -> None:
        queued.where = "active"
        queued.timestamp = self.clock()
        queued.seq = next(self._seq)
        heapq.heappush(self._active, (-queued.pod.priority, queued.timestamp, queued.seq, queued))
        self._wakeup.set()

    def _push_backoff(self, queued: QueuedPod) -> None:
        queued.where = "backoff"
        queued.seq = next(self._seq)
        heapq.heappush(self._backoff, (queued.backoff_until, queued.seq, queued))
        self._wakeup.set()

    def _next_timer(self) -> float:
        next_flush = self._last_unschedulable_flush + UNSCHEDULABLE_FLUSH_INTERVAL
        return min(self._backoff[0][0], next_flush) if self._backoff else next_flush

    def counts(self) -> QueueCounts:
        where = [q.where for q in self._pods.values()]
        return QueueCounts(where.count("active"), where.count("backoff"), where.count("unschedulable"),
                           where.count("gated"), where.count("flight"))

    def pending(self) -> list[QueuedPod]:
        return list(self._pods.values())


def _spec_changed(old: PodInfo, new: PodInfo) -> bool:
    """isPodUpdated: anything but status and bookkeeping metadata changed."""
    def essence(pod: PodInfo) -> tuple[Any, ...]:
        meta = {k: v for k, v in (pod.pod.get("metadata") or {}).items()
                if k not in ("resourceVersion", "generation", "managedFields")}
        return meta, pod.pod.get("spec")
    return essence(old) != essence(new)
