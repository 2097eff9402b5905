"""`provision plan`: per phase and host what create would do, against a fake provider and fake runners — and
that planning writes nothing: no state for a new cluster, no certificates, no bundle, only check-mode runs."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner import spec as spec_module
from provisioner.bundle import bundle_for
from provisioner.cli import clusters as cli_clusters
from provisioner.cli.main import main
from provisioner.errors import ProviderError
from provisioner.lifecycle import planning
from provisioner.lifecycle.context import Context
from provisioner.lifecycle.create import ConflictError
from provisioner.lifecycle.credentials import ensure_cluster_pki, planned_pki
from provisioner.lifecycle.state import ClusterState, StateError
from provisioner.plan import PHASES, select
from provisioner.providers import HostAccess, MachineStatus
from provisioner.runner import FakeRunner, HostStats, PlaybookResult, TaskEvent, TaskFailure
from provisioner.spec import Cluster, Machine

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "cluster.yaml"  # cluster "local": local-cp-1, local-workers-1, local-workers-2
CP, W1, W2 = "local-cp-1", "local-workers-1", "local-workers-2"
ALL = [CP, W1, W2]
PLAYED = tuple(p.name for p in PHASES if p.playbook)


# --- fakes --------------------------------------------------------------------------------------------------


class FakeProvider:
    """Answers status from `states` (default running); a plan must never make or remove a machine."""

    kind = "machines"

    def __init__(self, ssh_key: Path, states: Mapping[str, str], preflight_error: str | None) -> None:
        self.ssh_key = ssh_key
        self.states = states
        self.preflight_error = preflight_error
        self.preflights = 0

    def preflight(self) -> None:
        self.preflights += 1
        if self.preflight_error:
            raise ProviderError(self.preflight_error)

    def ensure(self, machines: Sequence[Machine]) -> list[HostAccess]:
        raise AssertionError("a plan must not create or start machines")

    def delete(self, machines: Sequence[Machine]) -> None:
        raise AssertionError("a plan must not delete machines")

    def accesses(self, machines: Sequence[Machine]) -> list[HostAccess]:
        known_hosts = self.ssh_key.parent / "known_hosts"
        return [HostAccess(m.name, m.address, "root", 22, self.ssh_key, known_hosts, True) for m in machines]

    def status(self, machines: Sequence[Machine]) -> list[MachineStatus]:
        return [MachineStatus(m.name, m.address, self.states.get(m.name, "running"))  # type: ignore[arg-type]
                for m in machines]


class PhasedRunner(FakeRunner):
    """Plays site.yml as ansible-playbook does: one play per tag, named "<phase>: …", on the inventory hosts
    of the phase's group (within `limit`). `changes[phase][host]` lists the tasks that report changed there;
    `failures[phase][host]` the task that fails there (the host then runs nothing more)."""

    def __init__(self, changes: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                 failures: Mapping[str, Mapping[str, str]] | None = None) -> None:
        super().__init__()
        self.changes = changes or {}
        self.failures = failures or {}

    def run(self, workspace: Path, playbook: str, *, limit: Sequence[str] | None = None,
            tags: Sequence[str] = (), on_event: Callable[[TaskEvent], None] | None = None,
            **kwargs: Any) -> PlaybookResult:
        super().run(workspace, playbook, limit=limit, tags=tags, **kwargs)  # records the call
        emit = on_event or (lambda _event: None)
        groups = yaml.safe_load((workspace / "inventory" / "hosts.yml").read_text())["all"]["children"]
        control_planes = list(groups["control_plane"]["hosts"])
        every = control_planes + list(groups["workers"]["hosts"] or {})
        stats = {h: {"ok": 0, "changed": 0, "failed": 0} for h in every if limit is None or h in limit}
        failures, down = [], set()
        for phase in tags:
            hosts = [h for h in (control_planes if phase == "control_plane" else every) if h in stats]
            emit(TaskEvent("play_start", None, "", f"{phase}: the {phase} play"))
            emit(TaskEvent("task_start", None, "a task", f"{phase}: the {phase} play"))
            for host in hosts:
                if host in down:
                    continue
                failed = self.failures.get(phase, {}).get(host)
                if failed:
                    emit(TaskEvent("host_failed", host, failed, f"{phase}: …"))
                    failures.append(TaskFailure(host, failed, "copy", "no such file"))
                    stats[host]["failed"] += 1
                    down.add(host)
                    continue
                changed = self.changes.get(phase, {}).get(host, ())
                for task in changed:
                    emit(TaskEvent("host_changed", host, task, f"{phase}: …"))
                emit(TaskEvent("host_ok", host, "a task", f"{phase}: …"))
                stats[host]["changed"] += len(changed)
                stats[host]["ok"] += 1 + len(changed)
        return PlaybookResult(playbook, "failed" if failures else "successful", 2 if failures else 0,
                              {h: HostStats(**s) for h, s in stats.items()}, tuple(failures),
                              workspace / "artifacts" / "fake" / "stdout", 0.0)


class Env:
    def __init__(self, tmp_path: Path, states: Mapping[str, str] | None = None,
                 preflight_error: str | None = None) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "state"
        self.cache = tmp_path / "cache"
        self.spec = tmp_path / "cluster.yaml"
        shutil.copy(EXAMPLE, self.spec)
        self.states = dict(states or {})
        self.preflight_error = preflight_error
        self.providers: list[FakeProvider] = []

    @property
    def cluster(self) -> Cluster:
        return spec_module.load(self.spec)

    @property
    def state(self) -> ClusterState:
        return ClusterState(self.root, "local")

    def provider_factory(self, cluster: Cluster, machines_dir: Path, ssh_key: Path, cache_dir: Path,
                         log: Callable[[str], None] = lambda _: None) -> FakeProvider:
        assert cache_dir == self.cache, "the real cache must never be used by unit tests"
        provider = FakeProvider(ssh_key, self.states, self.preflight_error)
        self.providers.append(provider)
        return provider

    def converged(self, release: str | None = None) -> None:
        """The state a completed create leaves: spec, certificates, installed release, applied record."""
        self.state.save_spec(spec_module.dump(self.cluster))
        ensure_cluster_pki(self.cluster, self.state)
        self.state.save_installed_release(release or bundle_for(self.cache).key)
        self.state.save_applied({"machines": ALL, "release": self.state.installed_release()})

    def plan(self, runner: FakeRunner | None = None, **kwargs: Any) -> planning.PlanReport:
        self.runner = runner or FakeRunner()
        return planning.plan(self.spec, state_root=self.root, runner=self.runner, cache_dir=self.cache,
                             context_factory=self.context_factory, **kwargs)

    @property
    def context_factory(self) -> Callable[..., Context]:
        return functools.partial(Context, provider_factory=self.provider_factory)


def entries(report: planning.PlanReport, phase: str) -> list[tuple[str, str]]:
    return [(e.target, e.action) for e in report.phase(phase).entries]


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


# --- a new cluster ------------------------------------------------------------------------------------------


def test_a_new_cluster_would_get_everything_and_the_plan_leaves_no_trace(tmp_path: Path) -> None:
    env = Env(tmp_path, states=dict.fromkeys(ALL, "missing"))

    report = env.plan()

    key = bundle_for(env.cache).key
    assert [p.phase.name for p in report.phases] == [p.name for p in PHASES]
    assert entries(report, "preflight") == [("operator", "ok (provider machines)")]
    assert entries(report, "machines") == [
        (CP, "would create"), (W1, "would create"), (W2, "would create"),
        ("operator", f"would run on new hosts: {CP}, {W1}, {W2}")]
    assert entries(report, "bundle") == [
        ("operator", f"would install release {key} (no release installed yet); it is not in the cache yet: "
                     "would build it first"),
        ("operator", f"would run on new hosts: {CP}, {W1}, {W2}")]
    assert entries(report, "pki")[:2] == [("operator", "would issue ca: missing (a new cluster CA)"),
                                          ("operator", "would issue apiserver: missing")]
    assert entries(report, "control_plane") == [("operator", f"would run on new hosts: {CP}")]
    assert entries(report, "verify") == [("operator", "would run host and cluster checks")]
    assert report.changes and not report.problems
    assert report.playbook is None and env.runner.calls == []
    assert not env.root.exists(), "a plan of a new cluster must not make its state directory"
    assert not env.cache.exists(), "a plan builds no bundle"


def test_a_plan_is_refused_like_create_when_the_spec_clashes_with_another_cluster(tmp_path: Path) -> None:
    env = Env(tmp_path)
    text = EXAMPLE.read_text().replace("name: local ", "name: other ")  # the same networks, another name
    other = spec_module.load(_write(tmp_path / "other.yaml", text))
    ClusterState(env.root, "other").save_spec(spec_module.dump(other))
    before = tree(env.root)

    with pytest.raises(ConflictError, match="overlaps cluster other's"):
        env.plan()
    assert tree(env.root) == before


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- a converged cluster ------------------------------------------------------------------------------------


def test_a_converged_cluster_plans_no_changes_from_one_check_mode_run(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()
    pki_before = {p.name: p.read_bytes() for p in env.state.pki_dir.iterdir()}

    report = env.plan()

    assert not report.changes and not report.problems
    [call] = env.runner.calls
    assert (call.playbook, call.check, call.limit, call.tags) == ("site.yml", True, None, PLAYED)
    assert call.extravars == planning.CHECK_MODE_JOIN_VARS  # a placeholder token, never a real one
    assert report.playbook is not None and report.playbook.changed == 0
    key = bundle_for(env.cache).key
    assert entries(report, "bundle")[0] == (
        "operator", f"release {key} unchanged; it is not in the cache yet: would build it first")
    assert entries(report, "pki")[0] == ("operator", "certificates unchanged")
    for phase in PLAYED:
        hosts = [CP] if phase == "control_plane" else ALL
        checked = [(t, a) for t, a in entries(report, phase) if t != "operator" and a != "exists, running"]
        assert checked == [(h, "no changes") for h in hosts]
    assert {p.name: p.read_bytes() for p in env.state.pki_dir.iterdir()} == pki_before
    assert not env.cache.exists()


def test_tasks_that_would_change_are_reported_per_phase_and_host(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()
    runner = PhasedRunner(changes={
        "control_plane": {CP: ["Install the apiserver unit", "Restart apiserver"]},
        "join": {W1: ["Install the kubelet unit", "Install the kubelet unit", "Restart kubelet"]},
    })

    report = env.plan(runner)

    assert entries(report, "control_plane") == [
        (CP, "would change: Install the apiserver unit, Restart apiserver")]
    assert entries(report, "join") == [(CP, "no changes"),
                                       (W1, "would change: Install the kubelet unit, Restart kubelet"),
                                       (W2, "no changes")]
    assert entries(report, "pki")[1:] == [(h, "no changes") for h in ALL]
    assert report.changes and [p.phase.name for p in report.phases if p.changes] == ["control_plane", "join"]
    assert report.playbook is not None and report.playbook.changed == 5


def test_a_failed_check_is_a_problem_and_the_host_is_not_checked_further(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()

    report = env.plan(PhasedRunner(failures={"pki": {W1: "Place the cluster CA certificate"}}))

    assert (W1, "check failed at 'Place the cluster CA certificate': no such file") in entries(report, "pki")
    assert (W1, "not checked: the check failed in phase pki") in entries(report, "join")
    assert (W2, "no changes") in entries(report, "join")
    assert [e.target for e in report.problems] == [W1, W1]


def test_the_check_renders_the_new_release_and_without_bundle_the_hosts_one(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged(release="0ld0ld0ld0ld0ld0")
    key = bundle_for(env.cache).key

    report = env.plan()
    assert entries(report, "bundle")[0] == (
        "operator", f"would install release {key} (hosts run 0ld0ld0ld0ld0ld0); it is not in the cache yet: "
                    "would build it first")
    assert _rendered_release(env) == key

    env.plan(skip=["bundle"])
    assert _rendered_release(env) == "0ld0ld0ld0ld0ld0"
    assert env.runner.calls[0].tags == tuple(t for t in PLAYED if t != "bundle")


def _rendered_release(env: Env) -> str:
    return yaml.safe_load((env.state.workspace / "env" / "extravars").read_text())["provision_release"]


def test_without_an_installed_release_the_hosts_cannot_be_checked_past_machines(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()
    env.state.release_file.unlink()

    report = env.plan(only=["pki", "join"])

    assert env.runner.calls == []
    for phase in ("pki", "join"):
        [problem] = [e for e in report.phase(phase).entries if e.problem]
        assert problem.action.startswith("cannot check the hosts: cluster local: no release is installed")


def test_only_the_selected_phases_are_planned_and_checked(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()

    report = env.plan(only=["machines", "verify"])

    assert [p.phase.name for p in report.phases] == ["machines", "verify"]
    [call] = env.runner.calls
    assert call.tags == ("machines",) and call.extravars == {}  # no join: no placeholder token either
    assert env.providers[-1].preflights == 0


# --- machines -----------------------------------------------------------------------------------------------


def test_stopped_and_missing_machines_are_planned_and_only_running_hosts_checked(tmp_path: Path) -> None:
    env = Env(tmp_path, states={W1: "stopped", W2: "missing"})
    env.converged()

    report = env.plan()

    assert entries(report, "machines") == [
        (CP, "exists, running"), (W1, "exists, stopped: would start"), (W2, "would create"),
        ("operator", f"would run on new hosts: {W2}"),
        ("operator", f"would run once started (not checked): {W1}"),
        (CP, "no changes")]
    assert entries(report, "control_plane") == [(CP, "no changes")]
    assert env.runner.calls[0].limit == (CP,)


def test_hosts_no_completed_create_provisioned_are_new_hosts(tmp_path: Path) -> None:
    """A host without the units would fail in check mode at the first task starting one: never checked."""
    env = Env(tmp_path)
    env.converged()
    env.state.save_applied({"machines": [CP, W1]})  # W2 was added by a create that did not finish

    report = env.plan()
    assert env.runner.calls[0].limit == (CP, W1)
    assert ("operator", f"would run on new hosts: {W2}") in entries(report, "join")

    env.state.applied_file.unlink()  # the first create never finished
    report = env.plan()
    assert env.runner.calls == []
    assert ("operator", f"would run on new hosts: {CP}, {W1}, {W2}") in entries(report, "join")


def test_a_failing_preflight_is_reported_and_the_plan_goes_on(tmp_path: Path) -> None:
    env = Env(tmp_path, preflight_error="the machines provider cannot run here: run as root.")
    env.converged()

    report = env.plan()

    [problem] = report.problems
    assert (problem.target, problem.action) == (
        "operator", "the machines provider cannot run here: run as root.")
    assert len(env.runner.calls) == 1


# --- certificates -------------------------------------------------------------------------------------------


def test_certificates_that_would_be_issued_are_the_ones_create_issues(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()
    (env.state.pki_dir / "admin.crt").unlink()
    (env.state.pki_dir / "kube-scheduler.key").write_text("garbage")

    report = env.plan(only=["pki"])
    assert entries(report, "pki")[:2] == [("operator", "would issue admin: missing"),
                                          ("operator", "would issue kube-scheduler: unreadable "
                                                       f"({_unreadable(env)})")]
    assert report.changes

    planned = [c.stem for c in planned_pki(env.cluster, env.state)]
    assert list(ensure_cluster_pki(env.cluster, env.state).issued) == planned == ["admin", "kube-scheduler"]
    assert planned_pki(env.cluster, env.state) == []


def _unreadable(env: Env) -> str:
    from provisioner.errors import PKIError
    from provisioner.pki import load_issued_cert

    pki = env.state.pki_dir
    with pytest.raises(PKIError) as error:
        load_issued_cert(pki / "kube-scheduler.crt", pki / "kube-scheduler.key")
    return str(error.value)


def test_an_apiserver_certificate_no_longer_covering_the_spec_would_be_reissued(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()
    text = env.spec.read_text().replace("  network:\n", "  network:\n    clusterDomain: corp.example\n")
    changed = spec_module.load(_write(tmp_path / "domain.yaml", text))

    [planned] = planned_pki(changed, env.state)

    assert planned.stem == "apiserver"
    assert planned.reason == "does not cover kubernetes.default.svc.corp.example"
    assert ensure_cluster_pki(changed, env.state).issued == ("apiserver",)


def test_half_a_ca_is_a_problem_not_a_new_ca(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()
    (env.state.pki_dir / "ca.key").unlink()

    report = env.plan(only=["pki"])

    [problem] = report.problems
    assert problem.action.startswith("would fail: ")
    assert "ca.key: missing while its pair exists" in problem.action
    assert not (env.state.pki_dir / "ca.key").exists()


# --- locking ------------------------------------------------------------------------------------------------


def test_an_existing_cluster_is_locked_while_planned(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.converged()
    with env.state.lock(), pytest.raises(StateError, match="another provision command"):
        env.plan()


# --- the verb -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "problem", "flag", "code"), [
    (False, False, True, 0), (True, False, True, 2), (True, True, True, 1), (True, True, False, 0),
])
def test_plan_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                         change: bool, problem: bool, flag: bool, code: int) -> None:
    cluster = spec_module.load(EXAMPLE)
    [machines] = select(only=["machines"])
    report = planning.PlanReport(cluster, [planning.PhasePlan(machines, [
        planning.PlanEntry(CP, "exists, running"),
        planning.PlanEntry(W1, "would create" if change else "exists, running", change, problem)])])
    calls: list[dict[str, Any]] = []

    def fake_plan(spec: Path, **kwargs: Any) -> planning.PlanReport:
        calls.append(kwargs)
        return report

    monkeypatch.setattr(cli_clusters.planning_module, "plan", fake_plan)
    argv = ["plan", str(EXAMPLE), "--state-dir", str(tmp_path), "--only", "machines"]

    assert main(argv + (["--detailed-exitcode"] if flag else [])) == code
    out = capsys.readouterr().out
    assert calls[0]["only"] == ["machines"] and calls[0]["state_root"] == tmp_path
    assert f"    {CP:<24} exists, running" in out
    assert ("would change (~): machines" in out) == change
    assert ("1 problem(s)" in out) == problem
