"""`provision plan SPEC`: what each phase of `provision create` would do on each host, with nothing changed
(terraform plan; the dry run kubespray lacks).

The spec is loaded, validated and checked against the other clusters exactly as `create` does. Then, per
selected phase:

    preflight      the provider's preflight: ok, or the sentence saying what is missing (the plan goes on)
    machines       per machine: exists and runs / would start / would create (the provider's status)
    bundle         the release `create` would install (its key, computed without building it) vs the hosts'
    pki            the certificates `create` would issue, by the rule it issues them (lifecycle.credentials)
    playbooks      site.yml in Ansible's check mode (--check --diff), tagged with the selected phases, on the
                   machines that run and that a completed create provisioned: per host the tasks that would
                   change. Other hosts would get every task: "would run on new hosts" (no Ansible run).
    verify         the host and cluster checks that would run

Nothing changes on hosts or in the cluster: the one Ansible run is a check-mode run, and the join play's
bootstrap-token Secret is never created in check mode (its task is skipped there; the token passed in check
mode is a placeholder only rendered into the would-be bootstrap kubeconfig, never written). The only writes
are the tool's own bookkeeping in an existing cluster's state directory: the rendered workspace and the run's
log in its artifacts. A cluster without state (a new spec) gets no state directory at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provisioner import spec as spec_module
from provisioner.bundle import Bundle, bundle_for
from provisioner.errors import PKIError, ProviderError, ProvisionError
from provisioner.lifecycle.context import Context
from provisioner.lifecycle.create import check_conflicts
from provisioner.lifecycle.credentials import planned_pki
from provisioner.lifecycle.state import ClusterState
from provisioner.plan import SITE_PLAYBOOK, Phase, phase_of_play, select
from provisioner.providers import MachineStatus
from provisioner.runner import PlaybookResult, Runner, TaskEvent
from provisioner.spec import Cluster

OPERATOR = "operator"  # the target of what the tool itself does (not on a host)
# Check mode only: lets the join play render the bootstrap kubeconfig it would write for a kubelet without
# credentials (reported as "would change", never written). Not a valid token: its secret part is all zeros.
CHECK_MODE_JOIN_VARS = {"bootstrap_token": "000000.0000000000000000",
                        "bootstrap_token_expiration": "1970-01-01T00:00:00Z"}


@dataclass(frozen=True)
class PlanEntry:
    target: str  # a host (machine name), or OPERATOR
    action: str
    change: bool = False  # the action changes something on a host, in the cluster or in its certificates
    problem: bool = False  # `create` would fail here, or the plan could not find out


@dataclass
class PhasePlan:
    phase: Phase
    entries: list[PlanEntry] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return any(e.change for e in self.entries)


@dataclass
class PlanReport:
    cluster: Cluster
    phases: list[PhasePlan]
    playbook: PlaybookResult | None = None  # the check-mode run of site.yml; None when none could run

    @property
    def changes(self) -> bool:
        return any(p.changes for p in self.phases)

    @property
    def problems(self) -> list[PlanEntry]:
        return [e for p in self.phases for e in p.entries if e.problem]

    def phase(self, name: str) -> PhasePlan:
        return next(p for p in self.phases if p.phase.name == name)


def plan(spec_path: Path, *, state_root: Path, runner: Runner, only: Sequence[str] = (),
         skip: Sequence[str] = (), cache_dir: Path | None = None,
         context_factory: Callable[..., Context] = Context,
         on_detail: Callable[[str], None] = lambda _: None) -> PlanReport:
    cluster = spec_module.load(spec_path)
    phases = select(only, skip)
    state = ClusterState(state_root, cluster.name)
    with _locked_if_exists(state):
        check_conflicts(cluster, state)
        kwargs = {"cache_dir": cache_dir} if cache_dir else {}
        ctx = context_factory(cluster=cluster, state=state, runner=runner, bundle_builder=_bundle_unbuilt,
                              **kwargs)
        return _Planner(ctx, phases, on_detail).run()


@contextlib.contextmanager
def _locked_if_exists(state: ClusterState) -> Iterator[None]:
    """An existing cluster is locked as `create` locks it (the plan renders its workspace and must not read
    state half written). A new one has nothing to protect, and the plan leaves no trace of it."""
    if not state.exists():
        yield
        return
    with state.lock():
        yield


def _bundle_unbuilt(cache_dir: Path, log: Callable[[str], None] = lambda _: None) -> Bundle:
    """Context's bundle for the plan: the key and cache paths of the bundle `create` would install; the plan
    builds nothing."""
    return bundle_for(cache_dir)


class _Planner:
    def __init__(self, ctx: Context, phases: Sequence[Phase], on_detail: Callable[[str], None]) -> None:
        self.ctx = ctx
        self.phases = list(phases)
        self.plans = {p.name: PhasePlan(p) for p in phases}
        self.on_detail = on_detail
        self.playbook: PlaybookResult | None = None

    def run(self) -> PlanReport:
        cluster = self.ctx.cluster
        self.on_detail("asking the provider about the machines")
        statuses = self.ctx.provider.status(cluster.machines)
        tool_side: dict[str, Callable[[], None]] = {
            "preflight": self._preflight,
            "machines": lambda: self._machines(statuses),
            "bundle": self._bundle,
            "pki": self._pki,
            "verify": self._verify,
        }
        for phase in self.phases:
            if phase.name in tool_side:
                tool_side[phase.name]()
        played = [p for p in self.phases if p.playbook]
        if played:
            self._playbooks(played, statuses)
        return PlanReport(cluster, [self.plans[p.name] for p in self.phases], self.playbook)

    def _add(self, phase: str, target: str, action: str, *, change: bool = False,
             problem: bool = False) -> None:
        self.plans[phase].entries.append(PlanEntry(target, action, change, problem))

    # --- the tool's part of each phase ----------------------------------------------------------------------

    def _preflight(self) -> None:
        self.on_detail("running the provider's preflight")
        try:
            self.ctx.provider.preflight()
        except ProviderError as e:
            self._add("preflight", OPERATOR, str(e), problem=True)
        else:
            self._add("preflight", OPERATOR, f"ok (provider {self.ctx.cluster.provider.type})")

    def _machines(self, statuses: list[MachineStatus]) -> None:
        for status in statuses:
            if status.state == "running":
                self._add("machines", status.name, "exists, running")
            elif status.state == "stopped":
                self._add("machines", status.name, "exists, stopped: would start", change=True)
            elif status.state == "missing":
                self._add("machines", status.name, "would create", change=True)
            else:
                detail = f": {status.detail}" if status.detail else ""
                self._add("machines", status.name, f"state unknown{detail}", problem=True)

    def _bundle(self) -> None:
        self.on_detail("computing the bundle's release")
        bundle = self.ctx.bundle()
        installed = self.ctx.state.installed_release()
        built = "" if bundle.built else "; it is not in the cache yet: would build it first"
        if installed == bundle.key:
            self._add("bundle", OPERATOR, f"release {bundle.key} unchanged{built}")
        else:
            hosts = f"hosts run {installed}" if installed else "no release installed yet"
            self._add("bundle", OPERATOR, f"would install release {bundle.key} ({hosts}){built}", change=True)

    def _pki(self) -> None:
        try:
            planned = planned_pki(self.ctx.cluster, self.ctx.state)
        except PKIError as e:
            self._add("pki", OPERATOR, f"would fail: {e}", problem=True)
            return
        if not planned:
            self._add("pki", OPERATOR, "certificates unchanged")
            return
        for cert in planned:
            self._add("pki", OPERATOR, f"would issue {cert.stem}: {cert.reason}", change=True)
        if self.ctx.state.installed_release() is not None:
            self._add("pki", OPERATOR, "the new certificates would be placed on the control plane hosts and "
                      "their services restarted (not in the check below, which compares today's files)",
                      change=True)

    def _verify(self) -> None:
        self._add("verify", OPERATOR, "would run host and cluster checks")

    # --- the playbooks, in check mode -----------------------------------------------------------------------

    def _playbooks(self, played: list[Phase], statuses: list[MachineStatus]) -> None:
        """Check mode runs on the hosts a completed create provisioned that run now. Any other host would get
        every task: in check mode a host without the units would fail at the first one a task starts (the
        unit file is not written there), so those hosts are reported as new instead."""
        cluster = self.ctx.cluster
        by_state = {s.name: s.state for s in statuses}
        applied = self.ctx.state.applied() if self.ctx.state.exists() else None
        provisioned = set((applied or {}).get("machines") or ())
        running = [m.name for m in cluster.machines
                   if m.name in provisioned and by_state.get(m.name) == "running"]
        for phase in played:
            hosts = [h for h in phase_hosts(cluster, phase) if h not in running]
            new = [h for h in hosts if h not in provisioned or by_state.get(h) == "missing"]
            stopped = [h for h in hosts if h not in new and by_state.get(h) == "stopped"]
            unknown = [h for h in hosts if h not in new and h not in stopped]
            if new:
                self._add(phase.name, OPERATOR, f"would run on new hosts: {', '.join(new)}", change=True)
            if stopped:
                self._add(phase.name, OPERATOR, f"would run once started (not checked): {', '.join(stopped)}")
            if unknown:
                self._add(phase.name, OPERATOR, f"not checked, state unknown: {', '.join(unknown)}",
                          problem=True)
        if not running:
            return
        try:
            # As create: past the machines phase the workspace names a release (the bundle's, else the
            # hosts').
            workspace = self.ctx.render(with_release=any(p.name != "machines" for p in played))
        except ProvisionError as e:
            for phase in played:
                self._add(phase.name, OPERATOR, f"cannot check the hosts: {e}", problem=True)
            return
        changed: dict[str, dict[str, list[str]]] = {p.name: {} for p in played}
        failed: dict[str, dict[str, str]] = {p.name: {} for p in played}
        by_play = {p.name: p for p in played}
        current: list[Phase | None] = [None]

        def on_event(event: TaskEvent) -> None:
            if event.kind == "play_start":
                current[0] = by_play.get(phase_of_play(event.play))
                if current[0] is not None:
                    self.on_detail(f"checking {current[0].name}")
                return
            phase = current[0]
            if phase is None or event.host is None:
                if event.kind == "task_start" and phase is not None:
                    self.on_detail(f"checking {phase.name}: {event.task}")
                return
            if event.kind == "host_changed":
                tasks = changed[phase.name].setdefault(event.host, [])
                if event.task not in tasks:
                    tasks.append(event.task)
            elif event.kind in ("host_failed", "host_unreachable"):
                failed[phase.name].setdefault(event.host, event.task)

        extravars = dict(CHECK_MODE_JOIN_VARS) if "join" in by_play else {}
        limit = None if len(running) == len(cluster.machines) else running
        result = self.ctx.runner.run(workspace, SITE_PLAYBOOK, limit=limit, tags=[p.name for p in played],
                                     extravars=extravars, on_event=on_event, check=True, diff=True)
        self.playbook = result
        messages = {(f.host, f.task): f for f in result.failures}
        halted: dict[str, str] = {}  # host -> the phase where its check failed: Ansible ran nothing after it
        for phase in played:
            for host in phase_hosts(cluster, phase):
                if host not in running:
                    continue
                if host in halted:
                    self._add(phase.name, host, f"not checked: the check failed in phase {halted[host]}",
                              problem=True)
                elif host in failed[phase.name]:
                    task = failed[phase.name][host]
                    failure = messages.get((host, task))
                    how = "unreachable" if failure is not None and failure.unreachable else "failed"
                    message = f": {failure.message}" if failure is not None and failure.message else ""
                    self._add(phase.name, host, f"check {how} at {task!r}{message}", problem=True)
                    halted[host] = phase.name
                elif changed[phase.name].get(host):
                    self._add(phase.name, host, f"would change: {', '.join(changed[phase.name][host])}",
                              change=True)
                else:
                    self._add(phase.name, host, "no changes")
        if not result.ok and not result.failures:
            for phase in played:
                self._add(phase.name, OPERATOR, f"the check-mode run ended {result.status} (rc {result.rc}); "
                          f"log: {result.log_path}", problem=True)


def phase_hosts(cluster: Cluster, phase: Phase) -> list[str]:
    """The machines a phase's playbook targets (its inventory group), in spec order."""
    if phase.hosts == "control_plane":
        return [m.name for m in cluster.control_planes]
    if phase.hosts in ("all", "nodes"):
        return [m.name for m in cluster.machines]
    raise ValueError(f"phase {phase.name}: unknown host group {phase.hosts!r}")
