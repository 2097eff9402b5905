"""`provision get clusters`, `provision status NAME`, `provision kubeconfig NAME`: read-only views."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provisioner import spec as spec_module
from provisioner.errors import ProvisionError
from provisioner.lifecycle import cluster_api
from provisioner.lifecycle.context import Context
from provisioner.lifecycle.delete import existing_state
from provisioner.lifecycle.state import ClusterState, cluster_names
from provisioner.providers import MachineStatus
from provisioner.runner import Runner
from provisioner.verify.report import VerifyReport


@dataclass(frozen=True)
class ClusterSummary:
    name: str
    provider: str
    control_planes: int
    workers: int
    created: str
    applied: str


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    machines: list[MachineStatus]
    apiserver: str  # "ready" or why not
    nodes: list[cluster_api.NodeReport]
    components: list[cluster_api.ComponentReport]

    @property
    def healthy(self) -> bool:
        expected = {m.name for m in self.machines}
        ready = {n.name for n in self.nodes if n.ready}
        return (self.apiserver == "ready" and all(m.state == "running" for m in self.machines)
                and expected <= ready and all(c.healthy for c in self.components))


def list_clusters(state_root: Path) -> list[ClusterSummary]:
    summaries = []
    for name in cluster_names(state_root):
        state = ClusterState(state_root, name)
        cluster = spec_module.load(state.spec_file)
        applied = state.applied() or {}
        summaries.append(ClusterSummary(name, cluster.provider.type, len(cluster.control_planes),
                                        len(cluster.workers), applied.get("created", "-"),
                                        applied.get("applied", "never (create did not finish)")))
    return summaries


def status(name: str, *, state_root: Path, runner: Runner) -> ClusterStatus:
    state = existing_state(state_root, name)
    cluster = spec_module.load(state.spec_file)
    ctx = Context(cluster=cluster, state=state, runner=runner)
    machines = ctx.provider.status(cluster.machines)
    nodes: list[cluster_api.NodeReport] = []
    components: list[cluster_api.ComponentReport] = []
    if not state.admin_kubeconfig.exists():
        apiserver = "no admin kubeconfig yet (create has not reached the pki phase)"
    else:
        try:
            cluster_api.wait_ready(state.admin_kubeconfig, timeout=3.0)
            apiserver = "ready"
            nodes = cluster_api.nodes(state.admin_kubeconfig)
            components = cluster_api.components(state.admin_kubeconfig)
        except ProvisionError as e:
            apiserver = str(e)
    return ClusterStatus(name, machines, apiserver, nodes, components)


def admin_kubeconfig(name: str, *, state_root: Path) -> Path:
    state = existing_state(state_root, name)
    if not state.admin_kubeconfig.exists():
        raise ProvisionError(f"cluster {name}: no admin kubeconfig yet; run `provision create` to the pki phase")
    return state.admin_kubeconfig


def verify(name: str, *, state_root: Path, runner: Runner) -> VerifyReport:
    """`provision verify NAME`: the verify phase on its own, against the cluster as it is."""
    from provisioner.verify import verify_cluster

    state = existing_state(state_root, name)
    with state.lock():
        ctx = Context(cluster=spec_module.load(state.spec_file), state=state, runner=runner)
        return verify_cluster(ctx)
