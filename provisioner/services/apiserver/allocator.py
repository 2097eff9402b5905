"""Service ClusterIP and NodePort allocation.

Each allocated IP or port is one storage key created with create-if-absent, so two apiservers sharing a store can
never hand out the same value: the store's compare-and-swap is the lock. A repair pass at start-up releases
allocations whose Service no longer exists (a crash between allocating and storing the Service).
"""

from __future__ import annotations

import abc
import ipaddress
import random
from dataclasses import dataclass

import orjson

from provisioner.services.storage.backend import Backend, KeyExists, KeyNotFound

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
_RANDOM_TRIES = 64


class AllocationError(Exception):
    """The value is taken, outside the range, or the range is full (the messages are Kubernetes' allocators')."""


class RangeFull(AllocationError):
    """No value is left to hand out; ``what`` is the allocator's kind of value ("IP" or "port")."""

    def __init__(self, what: str) -> None:
        super().__init__("range is full")
        self.what = what


@dataclass(frozen=True)
class Owner:
    namespace: str
    name: str
    uid: str

    def encode(self) -> bytes:
        return orjson.dumps({"namespace": self.namespace, "name": self.name, "uid": self.uid})

    @classmethod
    def decode(cls, raw: bytes) -> Owner:
        data = orjson.loads(raw)
        return cls(data["namespace"], data["name"], data["uid"])


class _KeyedAllocator(abc.ABC):
    """Allocates members of a finite range of values, each as a storage key."""

    _what: str  # "IP" or "port", for messages

    def __init__(self, backend: Backend, prefix: str) -> None:
        self._backend = backend
        self._prefix = prefix

    @abc.abstractmethod
    def _candidates(self) -> list[str]:
        ...

    @abc.abstractmethod
    def _contains(self, value: str) -> bool:
        ...

    @abc.abstractmethod
    def _size(self) -> int:
        ...

    @abc.abstractmethod
    def _random(self) -> str:
        ...

    async def allocate(self, value: str, owner: Owner) -> None:
        if not self._contains(value):
            raise AllocationError(self._not_in_range(value))
        try:
            await self._backend.create(self._prefix + value, owner.encode())
        except KeyExists:
            holder = await self._backend.get(self._prefix + value)
            if holder is not None and Owner.decode(holder.value).uid == owner.uid:
                return  # already ours (a retried write)
            raise AllocationError(f"provided {self._what} is already allocated") from None

    async def allocate_next(self, owner: Owner) -> str:
        for _ in range(_RANDOM_TRIES):
            candidate = self._random()
            try:
                await self._backend.create(self._prefix + candidate, owner.encode())
                return candidate
            except KeyExists:
                continue
        # The range is crowded: walk it once in order.
        taken = {kv.key[len(self._prefix):] for kv in (await self._backend.list(self._prefix)).items}
        if len(taken) >= self._size():
            raise RangeFull(self._what)
        for candidate in self._candidates():
            if candidate in taken:
                continue
            try:
                await self._backend.create(self._prefix + candidate, owner.encode())
                return candidate
            except KeyExists:
                continue
        raise RangeFull(self._what)

    async def release(self, value: str, owner_uid: str) -> None:
        holder = await self._backend.get(self._prefix + value)
        if holder is None or Owner.decode(holder.value).uid != owner_uid:
            return
        try:
            await self._backend.delete(self._prefix + value, holder.mod_revision)
        except KeyNotFound:
            pass

    async def allocations(self) -> dict[str, Owner]:
        result = await self._backend.list(self._prefix)
        return {kv.key[len(self._prefix):]: Owner.decode(kv.value) for kv in result.items}

    @abc.abstractmethod
    def describe(self) -> str:
        ...

    @abc.abstractmethod
    def _not_in_range(self, value: str) -> str:
        ...


class ClusterIPAllocator(_KeyedAllocator):
    _what = "IP"

    def __init__(self, backend: Backend, cidr: str) -> None:
        super().__init__(backend, IP_PREFIX)
        self.network = ipaddress.ip_network(cidr, strict=True)
        if self.network.num_addresses < 4:
            raise ValueError(f"service cluster IP range {cidr} is too small")
        # The network address is never used; the first host address is the `kubernetes` Service's.
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - (1 if self.network.version == 4 else 0)

    @property
    def first_ip(self) -> str:
        return str(ipaddress.ip_address(self._first))

    def _contains(self, value: str) -> bool:
        try:
            address = int(ipaddress.ip_address(value))
        except ValueError:
            return False
        return self._first <= address <= self._last

    def _size(self) -> int:
        return self._last - self._first + 1

    def _random(self) -> str:
        # Dynamic allocations avoid the first host address, reserved for the `kubernetes` Service.
        return str(ipaddress.ip_address(random.randint(self._first + 1, self._last)))

    def _candidates(self) -> list[str]:
        return [str(ipaddress.ip_address(a)) for a in range(self._first + 1, self._last + 1)]

    def describe(self) -> str:
        return str(self.network)

    def _not_in_range(self, value: str) -> str:
        return f"the provided IP ({value}) is not in the valid range. The range of valid IPs is {self.describe()}"


class NodePortAllocator(_KeyedAllocator):
    _what = "port"

    def __init__(self, backend: Backend, port_range: str) -> None:
        super().__init__(backend, PORT_PREFIX)
        low, _, high = port_range.partition("-")
        self.low, self.high = int(low), int(high)
        if not 0 < self.low <= self.high < 65536:
            raise ValueError(f"service node port range {port_range!r} is not a valid low-high range")

    def _contains(self, value: str) -> bool:
        return value.isdigit() and self.low <= int(value) <= self.high

    def _size(self) -> int:
        return self.high - self.low + 1

    def _random(self) -> str:
        return str(random.randint(self.low, self.high))

    def _candidates(self) -> list[str]:
        return [str(p) for p in range(self.low, self.high + 1)]

    def describe(self) -> str:
        return f"{self.low}-{self.high}"

    def _not_in_range(self, value: str) -> str:
        return f"provided port is not in the valid range. The range of valid ports is {self.describe()}"
