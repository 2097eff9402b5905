"""Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: several replicas of a component run,
one holds the Lease and acts; if it stops renewing, another takes over after the lease duration.

Expiry is judged by when *this* process last saw the Lease change (local monotonic clock), never by comparing
timestamps written by another machine's clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client.rest import ApiClient

log = logging.getLogger("leaderelection")

LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseTiming:
    """Kubernetes' defaults: 15 s lease, give up leading after 10 s without renewing, retry every 2 s."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    def __init__(self, client: ApiClient, namespace: str, name: str, identity: str,
                 timing: LeaseTiming | None = None) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing or LeaseTiming()
        self.is_leader = False
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Wait to become leader, run ``lead()`` while leading; return when leadership is lost or lead() ends."""
        while not await self._acquire_once():
            await asyncio.sleep(self.timing.retry_period)
        self.is_leader = True
        log.info("%s became leader of %s/%s", self.identity, self.namespace, self.name)
        work = asyncio.create_task(lead(), name=f"lead-{self.name}")
        try:
            await self._renew_until_lost(work)
        finally:
            self.is_leader = False
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            log.info("%s stopped leading %s/%s", self.identity, self.namespace, self.name)

    async def _acquire_once(self) -> bool:
        """One attempt; an apiserver that is down or restarting is a failed attempt, not a crash."""
        try:
            return await self._try_acquire_or_renew()
        except ApiError as err:
            log.warning("acquiring lease %s/%s failed: %s", self.namespace, self.name, err.message)
            return False

    async def _renew_until_lost(self, work: asyncio.Task[None]) -> None:
        last_renewal = time.monotonic()
        while not work.done():
            await asyncio.wait({work}, timeout=self.timing.retry_period)
            if work.done():
                return
            try:
                renewed = await asyncio.wait_for(self._try_acquire_or_renew(), self.timing.renew_deadline)
            except (ApiError, TimeoutError) as err:
                log.warning("renewing lease %s/%s failed: %s", self.namespace, self.name, err)
                renewed = False
            if renewed:
                last_renewal = time.monotonic()
            elif time.monotonic() - last_renewal > self.timing.renew_deadline:
                return

    async def release(self) -> None:
        """Give the Lease up at shutdown so another replica need not wait for it to expire."""
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError:
            return
        if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        lease["spec"]["holderIdentity"] = ""
        lease["spec"]["leaseDurationSeconds"] = 1
        try:
            await self.client.update(LEASES, lease)
        except ApiError:
            pass

    async def _try_acquire_or_renew(self) -> bool:
        now = _micro_time()
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError as err:
            if err.code != 404:
                raise
            return await self._create(now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        self._observe(holder, spec.get("renewTime") or "")
        if holder and holder != self.identity and not self._expired(spec):
            return False
        desired = dict(spec)
        if holder != self.identity:
            desired["acquireTime"] = now
            desired["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        desired.update({"holderIdentity": self.identity, "renewTime": now,
                        "leaseDurationSeconds": int(self.timing.lease_duration)})
        lease["spec"] = desired
        try:
            await self.client.update(LEASES, lease)  # compare-and-swap on resourceVersion
        except ApiError as err:
            if err.code == 409:
                return False
            raise
        self._observe(self.identity, now)
        return True

    async def _create(self, now: str) -> bool:
        lease: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.timing.lease_duration),
                     "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
        }
        try:
            await self.client.create(LEASES, lease, self.namespace)
        except ApiError as err:
            if err.code == 409:
                return False
            raise
        self._observe(self.identity, now)
        return True

    def _observe(self, holder: str, renew_time: str) -> None:
        if self._observed != (holder, renew_time):
            self._observed = (holder, renew_time)
            self._observed_at = time.monotonic()

    def _expired(self, spec: dict[str, Any]) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
        return time.monotonic() - self._observed_at > duration
