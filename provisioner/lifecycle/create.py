"""`provision create`: converge a cluster on its spec, phase by phase (provisioner.plan.PHASES).

Every phase is idempotent, so a re-run changes only what differs and a failed run re-runs cleanly. A cluster
that did not exist before a failed run is removed again unless `retain` is set (kind's --retain), so nothing is
left behind by a create that never worked.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provisioner import spec as spec_module
from provisioner.errors import ProvisionError
from provisioner.lifecycle import cluster_api
from provisioner.lifecycle.context import Context, PhaseFailed, Progress, SilentProgress
from provisioner.lifecycle.credentials import ensure_cluster_pki, write_admin_kubeconfig
from provisioner.lifecycle.state import ClusterState, cluster_names
from provisioner.plan import PHASES, SITE_PLAYBOOK, Phase, phase_of_play, select
from provisioner.runner import PlaybookResult, Runner, TaskEvent, failure_report
from provisioner.services.api.nodes import kubelet_may_set_label
from provisioner.spec import Cluster, Machine

API_READY_TIMEOUT_SECONDS = 60.0
NODES_READY_TIMEOUT_SECONDS = 120.0


class ConflictError(ProvisionError):
    """The spec clashes with another cluster on this host (name, subnet, pod or service network)."""

    exit_code = 2


@dataclass(frozen=True)
class PhaseResult:
    name: str
    elapsed: float
    changed: int | None  # Ansible tasks changed; None for phases the tool does itself
    note: str = ""


@dataclass
class CreateResult:
    cluster: Cluster
    state: ClusterState
    phases: list[PhaseResult] = field(default_factory=list)
    elapsed: float = 0.0
    playbook: PlaybookResult | None = None  # the run of site.yml (None when only tool-side phases ran)

    @property
    def changed(self) -> int:
        """Changed tasks over all hosts, from ansible-runner's stats of the run."""
        return self.playbook.changed if self.playbook else 0


def create(spec_path: Path, *, state_root: Path, runner: Runner, progress: Progress | None = None,
           only: Sequence[str] = (), skip: Sequence[str] = (), retain: bool = False,
           cache_dir: Path | None = None, context_factory: Callable[..., Context] = Context) -> CreateResult:
    cluster = spec_module.load(spec_path)
    phases = select(only, skip)
    state = ClusterState(state_root, cluster.name)
    progress = progress or SilentProgress()
    with state.lock():
        existed = state.applied() is not None
        check_conflicts(cluster, state)
        state.save_spec(spec_module.dump(cluster))
        kwargs = {"cache_dir": cache_dir} if cache_dir else {}
        ctx = context_factory(cluster=cluster, state=state, runner=runner, progress=progress, **kwargs)
        started = time.monotonic()
        try:
            runner_ = PhaseRunner(ctx, phases)
            results = runner_.run()
        except BaseException:
            if not existed and not retain and "machines" in {p.name for p in phases}:
                progress.message(f"removing the machines of {cluster.name} made by this failed run "
                                 "(--retain keeps them)")
                from provisioner.lifecycle.delete import delete_cluster_machines
                delete_cluster_machines(ctx)
            raise
        result = CreateResult(cluster, state, results, time.monotonic() - started, runner_.playbook)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        previous = state.applied() or {}
        state.save_applied({
            "applied": now,
            "created": previous.get("created") or now,
            "provider": cluster.provider.type,
            "machines": [m.name for m in cluster.machines],
            "release": state.installed_release(),
            "changed": result.changed,
            "phases": {p.name: {"seconds": round(p.elapsed, 2), "changed": p.changed} for p in result.phases},
        })
        return result


class PhaseRunner:
    """Runs the selected phases: each phase's own work in the tool (machines, bundle, certificates) first, then
    all their playbooks in ONE ansible-playbook run of site.yml with the phases as tags (every separate run
    costs seconds of Ansible start-up and SSH set-up), then what must wait for the run (join, verify).

    Progress follows the run: a phase starts when its play starts, so the user sees phases as they happen."""

    def __init__(self, ctx: Context, phases: Sequence[Phase]) -> None:
        self.ctx = ctx
        self.phases = list(phases)
        self.seconds: dict[str, float] = {p.name: 0.0 for p in phases}
        self.changed: dict[str, int] = {}
        self.notes: dict[str, str] = {}
        self.done: list[PhaseResult] = []
        self.playbook: PlaybookResult | None = None
        self._current: Phase | None = None

    def run(self) -> list[PhaseResult]:
        played = [p for p in self.phases if p.playbook]
        for phase in self.phases:
            before = BEFORE_PLAYBOOKS.get(phase.name)
            if before is not None:
                self._timed(phase, before)
            if not phase.playbook and phase.name not in AFTER_PLAYBOOKS:
                self._finish(phase)
        if played:
            self._play(played)
        for phase in played:  # a play with no host to run on never starts: its phase still gets a result
            if phase.name not in AFTER_PLAYBOOKS:
                self._finish(phase)
        for phase in self.phases:
            after = AFTER_PLAYBOOKS.get(phase.name)
            if after is not None:
                self._enter(phase)
                self._timed(phase, after)
                self._finish(phase)
        return self.done

    def _timed(self, phase: Phase, action: Callable[[Context], str]) -> None:
        self._enter(phase)
        started = time.monotonic()
        try:
            note = action(self.ctx)
        except PhaseFailed:
            raise
        except ProvisionError as e:
            raise PhaseFailed(phase.name, str(e)) from None
        self.seconds[phase.name] += time.monotonic() - started
        if note:
            self.notes[phase.name] = note

    def _enter(self, phase: Phase) -> None:
        if self._current is not phase:
            self._current = phase
            self.ctx.progress.phase_started(phase)

    def _finish(self, phase: Phase) -> None:
        if any(r.name == phase.name for r in self.done):
            return
        result = PhaseResult(phase.name, self.seconds[phase.name], self.changed.get(phase.name) if phase.playbook
                             else None, self.notes.get(phase.name, ""))
        self.done.append(result)
        self.ctx.progress.phase_done(phase, result.elapsed, result.changed, result.note)
        self._current = None

    def _play(self, played: list[Phase]) -> None:
        by_play = {p.name: p for p in played}
        state = {"phase": None, "since": 0.0, "failed": None}

        def close_current() -> None:
            phase = state["phase"]
            if phase is not None:
                self.seconds[phase.name] += time.monotonic() - state["since"]
                if phase.name == "bundle" and state["failed"] is None:
                    # Only now do all hosts run the new release; later `--only join` or `verify` name it.
                    self.ctx.state.save_installed_release(self.ctx.bundle().key)
                if phase.name not in AFTER_PLAYBOOKS:
                    self._finish(phase)

        def on_event(event: TaskEvent) -> None:
            if event.kind == "play_start":
                phase = by_play.get(phase_of_play(event.play))
                if phase is not None and phase is not state["phase"]:
                    close_current()
                    state["phase"], state["since"] = phase, time.monotonic()
                    self.changed.setdefault(phase.name, 0)
                    self._enter(phase)
            elif event.kind == "task_start":
                self.ctx.progress.phase_detail(event.task)
            elif event.kind == "host_changed" and state["phase"] is not None:
                self.changed[state["phase"].name] += 1
            elif event.kind in ("host_failed", "host_unreachable") and state["failed"] is None:
                # The other hosts go on to later plays: the phase that failed is where the first host failed.
                state["failed"] = state["phase"]

        extravars = {}
        if "join" in by_play:
            extravars = self.ctx.join_token_vars()
        workspace = self.ctx.render(with_release=any(p.name != "machines" for p in played))
        try:
            result = self.ctx.runner.run(workspace, SITE_PLAYBOOK, tags=[p.name for p in played],
                                         extravars=extravars, on_event=on_event)
        finally:
            if extravars:
                self.ctx.forget_join_token()
        self.playbook = result
        if not result.ok:
            phase = state["failed"] or state["phase"]
            failed = phase.name if phase is not None else played[0].name
            raise PhaseFailed(failed, "\n" + failure_report(result), result.log_path)
        close_current()


def check_conflicts(cluster: Cluster, state: ClusterState) -> None:
    """Clusters on one host share the host's routing table: their subnets and pod/service networks must not
    overlap. The cluster's own earlier spec may only change in ways a converge can follow."""
    problems = []
    if state.exists():
        previous = spec_module.load(state.spec_file)
        if previous.provider.type != cluster.provider.type:
            problems.append(f"cluster {cluster.name} exists with provider {previous.provider.type}; "
                            f"delete it before changing spec.provider.type")
        elif previous.subnet != cluster.subnet:
            problems.append(f"cluster {cluster.name} exists on subnet {previous.subnet}; delete it before "
                            "changing the provider's subnet")
        if previous.network.pod_cidr != cluster.network.pod_cidr or \
                previous.network.service_cidr != cluster.network.service_cidr:
            problems.append(f"cluster {cluster.name} exists with podCIDR {previous.network.pod_cidr} and "
                            f"serviceCIDR {previous.network.service_cidr}; these cannot change in place")
    if cluster.provider.type == "machines":
        for other_name in cluster_names(state.root):
            if other_name == cluster.name:
                continue
            other = spec_module.load(ClusterState(state.root, other_name).spec_file)
            if other.provider.type != "machines":
                continue
            for label, mine, theirs in (
                ("spec.provider.machines.subnet", cluster.subnet, other.subnet),
                ("spec.network.podCIDR", cluster.network.pod_cidr, other.network.pod_cidr),
                ("spec.network.serviceCIDR", cluster.network.service_cidr, other.network.service_cidr),
            ):
                if mine is not None and theirs is not None and mine.overlaps(theirs):
                    problems.append(f"{label} {mine} overlaps cluster {other_name}'s {theirs}")
            if cluster.subnet is not None:
                for net_label, net in (("podCIDR", other.network.pod_cidr),
                                       ("serviceCIDR", other.network.service_cidr)):
                    if cluster.subnet.overlaps(net):
                        problems.append(f"spec.provider.machines.subnet {cluster.subnet} overlaps cluster "
                                        f"{other_name}'s {net_label} {net}")
    if problems:
        source = cluster.source or "the spec"
        raise ConflictError(f"{source}: refused:\n" + "\n".join(f"  {p}" for p in problems))


# --- the tool's part of each phase ----------------------------------------------------------------------------

def _preflight(ctx: Context) -> str:
    ctx.provider.preflight()
    return f"provider {ctx.cluster.provider.type}"


def _machines(ctx: Context) -> str:
    ctx.accesses = ctx.provider.ensure(ctx.cluster.machines)
    return f"{len(ctx.accesses)} machines"


def _bundle(ctx: Context) -> str:
    return f"release {ctx.bundle().key}"


def _pki(ctx: Context) -> str:
    pki = ensure_cluster_pki(ctx.cluster, ctx.state)
    write_admin_kubeconfig(ctx.cluster, ctx.state, pki)
    return f"issued {', '.join(pki.issued)}" if pki.issued else "certificates unchanged"


def _control_plane_ready(ctx: Context) -> str:
    cluster_api.wait_ready(ctx.state.admin_kubeconfig, API_READY_TIMEOUT_SECONDS)
    return "apiserver ready"


def _nodes_ready(ctx: Context) -> str:
    kubeconfig = ctx.state.admin_kubeconfig
    names = [m.name for m in ctx.cluster.machines]
    ctx.progress.phase_detail("waiting for the nodes to register")
    cluster_api.wait_nodes_registered(kubeconfig, names, NODES_READY_TIMEOUT_SECONDS)
    labelled = cluster_api.ensure_node_labels(kubeconfig, {m.name: admin_labels(m) for m in ctx.cluster.machines})
    ctx.progress.phase_detail("waiting for the nodes to be Ready")
    cluster_api.wait_nodes_ready(kubeconfig, names, NODES_READY_TIMEOUT_SECONDS)
    return f"{len(names)} nodes Ready" + (f", labelled {labelled}" if labelled else "")


def admin_labels(machine: Machine) -> dict[str, str]:
    """The spec's labels a kubelet may not set on its own Node (roles): the tool sets them as the admin."""
    return {k: v for k, v in machine.labels.items() if not kubelet_may_set_label(k)}


def _verify(ctx: Context) -> str:
    from provisioner.verify import verify_cluster
    report = verify_cluster(ctx)
    if not report.passed:
        raise PhaseFailed("verify", report.summary + "".join(f"\n  {f}" for f in report.failures),
                          report.junit_path)
    return report.summary


BEFORE_PLAYBOOKS: dict[str, Callable[[Context], str]] = {
    "preflight": _preflight,
    "machines": _machines,
    "bundle": _bundle,
    "pki": _pki,
}
AFTER_PLAYBOOKS: dict[str, Callable[[Context], str]] = {
    "control_plane": _control_plane_ready,
    "join": _nodes_ready,
    "verify": _verify,
}
assert set(BEFORE_PLAYBOOKS) | set(AFTER_PLAYBOOKS) | {p.name for p in PHASES if p.playbook} == \
    {p.name for p in PHASES}
