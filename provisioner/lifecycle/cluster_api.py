"""What the tool asks of a running cluster, as the admin, over the cluster's own API: readiness, join tokens,
nodes, component leases. A thin synchronous face over the shared async REST client."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from provisioner.errors import ProvisionError
from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client.config import ClientConfig, ConfigError
from provisioner.services.client.rest import ApiClient, RetryPolicy

SECRETS = resources.lookup("", "v1", "secrets")
NODES = resources.lookup("", "v1", "nodes")
LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")
# The leader-election Leases the scheduler and controller-manager renew while they work.
COMPONENT_LEASES = ("kube-scheduler", "kube-controller-manager")

T = TypeVar("T")


class ClusterApiError(ProvisionError):
    """The cluster's apiserver cannot be reached or refuses what the tool needs."""


@dataclass(frozen=True)
class NodeReport:
    name: str
    ready: bool
    roles: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ComponentReport:
    name: str
    healthy: bool
    detail: str


def _run(kubeconfig: Path, work: Callable[[ApiClient], Awaitable[T]], attempts: int = 3) -> T:
    try:
        config = ClientConfig.from_kubeconfig(kubeconfig)
    except ConfigError as e:
        raise ClusterApiError(f"{kubeconfig}: {e}") from None

    async def main() -> T:
        async with ApiClient(config, user_agent="provision", retry=RetryPolicy(attempts=attempts)) as client:
            return await work(client)
    try:
        return asyncio.run(main())
    except ApiError as e:
        raise ClusterApiError(f"apiserver: {e.message}") from None


def wait_ready(kubeconfig: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            ready, last = readyz(kubeconfig)
        except ClusterApiError as e:
            ready, last = False, str(e)
        if ready:
            return
        time.sleep(0.5)
    raise ClusterApiError(f"the apiserver was not ready within {timeout:g}s: {last}")


def delete_join_token(kubeconfig: Path, secret_name: str) -> None:
    async def delete(client: ApiClient) -> None:
        try:
            await client.delete(SECRETS, secret_name, "kube-system")
        except ApiError as e:
            if e.code != 404:
                raise
    _run(kubeconfig, delete)


def nodes(kubeconfig: Path) -> list[NodeReport]:
    return [_node_report(n) for n in node_objects(kubeconfig)]


def ensure_node_labels(kubeconfig: Path, labels: dict[str, dict[str, str]]) -> int:
    """Give each node (by name) the labels it lacks; returns how many nodes were patched."""
    async def work(client: ApiClient) -> int:
        patched = 0
        for name, wanted in labels.items():
            node = await client.get(NODES, name)
            have = (node.get("metadata") or {}).get("labels") or {}
            missing = {k: v for k, v in wanted.items() if have.get(k) != v}
            if missing:
                await client.patch(NODES, name, {"metadata": {"labels": missing}}, field_manager="provision")
                patched += 1
        return patched
    return _run(kubeconfig, work)


def wait_nodes_registered(kubeconfig: Path, names: Iterable[str], timeout: float) -> None:
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while True:
        missing = sorted(wanted - {n.name for n in nodes(kubeconfig)})
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise ClusterApiError(f"nodes not registered within {timeout:g}s: {', '.join(missing)}")
        time.sleep(0.3)


def wait_nodes_ready(kubeconfig: Path, names: Iterable[str], timeout: float,
                     on_wait: Callable[[list[str]], None] = lambda _: None) -> None:
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while True:
        reports = {n.name: n for n in nodes(kubeconfig)}
        waiting = sorted(n for n in wanted if not (n in reports and reports[n].ready))
        if not waiting:
            return
        if time.monotonic() >= deadline:
            details = [f"{n} ({reports[n].reason})" if n in reports else f"{n} (not registered)" for n in waiting]
            raise ClusterApiError(f"nodes not Ready within {timeout:g}s: {', '.join(details)}")
        on_wait(waiting)
        time.sleep(0.5)


def components(kubeconfig: Path, stale_after: float = 30.0) -> list[ComponentReport]:
    """The scheduler and controller-manager are healthy when their leader Lease was renewed recently."""
    async def work(client: ApiClient) -> dict[str, dict[str, Any] | None]:
        found: dict[str, dict[str, Any] | None] = {}
        for name in COMPONENT_LEASES:
            try:
                found[name] = await client.get(LEASES, name, "kube-system")
            except ApiError as e:
                if e.code != 404:
                    raise
                found[name] = None
        return found
    reports = []
    now = dt.datetime.now(dt.UTC)
    for name, lease in _run(kubeconfig, work).items():
        spec = (lease or {}).get("spec") or {}
        renewed = spec.get("renewTime")
        if not renewed:
            reports.append(ComponentReport(name, False, "no leader lease"))
            continue
        age = (now - dt.datetime.fromisoformat(renewed.replace("Z", "+00:00"))).total_seconds()
        reports.append(ComponentReport(name, age <= stale_after,
                                       f"leader {spec.get('holderIdentity', '?')}, renewed {age:.0f}s ago"))
    return reports


def _node_report(node: dict[str, Any]) -> NodeReport:
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = tuple(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")))
    ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
    return NodeReport(node["metadata"]["name"], ready.get("status") == "True", roles,
                      ready.get("reason") or "no Ready condition")


def node_objects(kubeconfig: Path) -> list[dict[str, Any]]:
    """Every Node as the apiserver returns it (labels, taints, conditions), for checks that need more than
    NodeReport carries."""
    async def work(client: ApiClient) -> list[dict[str, Any]]:
        return (await client.list(NODES)).get("items") or []
    return _run(kubeconfig, work)


def readyz(kubeconfig: Path) -> tuple[bool, str]:
    """The apiserver's `/readyz?verbose`: whether it is ready, and its per-check lines."""
    async def work(client: ApiClient) -> tuple[bool, str]:
        async with client.session.get("/readyz", params={"verbose": "true"}) as response:
            return response.status == 200, (await response.text()).strip()
    try:
        return _run(kubeconfig, work)
    except (aiohttp.ClientError, TimeoutError) as e:
        raise ClusterApiError(f"apiserver: /readyz: {e.__class__.__name__}: {e}") from None
