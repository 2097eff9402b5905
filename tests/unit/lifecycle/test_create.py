"""provision create with fakes: the phases' order, the one run of site.yml, the applied record, the release,
failures (and what a failed create leaves behind), conflicts with other clusters, bad specs and the state lock."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import yaml

from provisioner.errors import ProviderError, ProvisionError, RunnerError, SpecError
from provisioner.lifecycle.context import PhaseFailed
from provisioner.lifecycle.create import ConflictError
from provisioner.lifecycle.state import ClusterState, StateError
from provisioner.plan import PHASE_NAMES
from provisioner.runner import TaskFailure
from tests.unit.lifecycle.fakes import PHASE_TASK, Env
from tests.unit.lifecycle.specs import EXAMPLE, write_spec, write_ssh_spec

MACHINES = ["local-cp-1", "local-workers-1", "local-workers-2"]
PLAYED = "machines,bundle,pki,control_plane,join"
TOKEN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")


def _state(env: Env, name: str = "local") -> ClusterState:
    return ClusterState(env.root, name)


def _extravars(env: Env, name: str = "local") -> dict:
    return yaml.safe_load((_state(env, name).workspace / "env" / "extravars").read_text())


def _token_secret(env: Env) -> str:
    token = env.runner.calls[-1].extravars["bootstrap_token"]
    return f"bootstrap-token-{token.split('.')[0]}"


# --- a whole create --------------------------------------------------------------------------------------------

def test_create_runs_the_tool_side_phases_in_order_then_one_run_of_site_yml(env: Env) -> None:
    result = env.create(EXAMPLE)
    assert env.journal == [
        "provider.preflight",
        f"provider.ensure {','.join(MACHINES)}",
        f"bundle {env.bundle_key}",
        f"run site.yml {PLAYED}",
        f"api.delete_join_token {_token_secret(env)}",  # the play stored it; the tool deletes it at once
        "api.wait_ready",
        "api.wait_nodes_registered",
        "api.ensure_node_labels",
        "api.wait_nodes_ready",
        "verify",
    ]
    assert env.runner.seen_pki == [True], "certificates exist before the play that places them"
    assert len(env.runner.calls) == 1
    call = env.runner.calls[0]
    assert (call.playbook, call.tags, call.limit) == ("site.yml", tuple(PLAYED.split(",")), None)
    assert call.workspace == _state(env).workspace
    assert [p.name for p in result.phases] == list(PHASE_NAMES)
    assert env.progress.started[0] == "preflight"
    assert [name for name, _, _ in env.progress.done] == list(PHASE_NAMES)


def test_the_run_carries_a_fresh_bootstrap_token_with_its_expiry(env: Env) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    env.create(EXAMPLE)
    extravars = env.runner.calls[0].extravars
    assert set(extravars) == {"bootstrap_token", "bootstrap_token_expiration"}
    assert TOKEN.fullmatch(extravars["bootstrap_token"])
    expires = dt.datetime.strptime(extravars["bootstrap_token_expiration"], "%Y-%m-%dT%H:%M:%SZ")
    expires = expires.replace(tzinfo=dt.UTC)
    ttl = dt.timedelta(minutes=10)  # the spec's default bootstrapToken.ttl
    assert before + ttl <= expires <= dt.datetime.now(dt.UTC) + ttl
    # The token is not written to the workspace: it exists for this run only.
    assert "bootstrap_token" not in _extravars(env)
    env.create(EXAMPLE)
    assert env.runner.calls[1].extravars["bootstrap_token"] != extravars["bootstrap_token"]


def test_the_workspace_names_the_release_and_every_machine(env: Env) -> None:
    env.create(EXAMPLE)
    extravars = _extravars(env)
    assert extravars["provision_release"] == env.bundle_key
    assert extravars["bundle_dir"] == str(env.cache / "bundles" / env.bundle_key)
    assert extravars["pki_source_dir"] == str(_state(env).pki_dir)
    inventory = yaml.safe_load((_state(env).workspace / "inventory" / "hosts.yml").read_text())
    children = inventory["all"]["children"]
    assert [*children["control_plane"]["hosts"], *children["workers"]["hosts"]] == MACHINES


def test_the_tool_labels_the_nodes_with_what_their_kubelets_may_not_set(env: Env) -> None:
    env.create(write_spec(env.root.parent, workers=1))
    assert env.registered == [["local-cp-1", "local-workers-1"]]
    assert env.node_labels == [{"local-cp-1": {"node-role.kubernetes.io/control-plane": ""},
                                "local-workers-1": {"node-role.kubernetes.io/worker": ""}}]


def test_skipping_join_mints_no_token_and_waits_for_no_node(env: Env) -> None:
    env.create(EXAMPLE, skip=["join"])
    call = env.runner.calls[0]
    assert call.tags == ("machines", "bundle", "pki", "control_plane")
    assert call.extravars == {}
    assert not any(e.startswith(("api.delete_join_token", "api.wait_nodes")) for e in env.journal)
    assert env.journal[-2:] == ["api.wait_ready", "verify"]


def test_only_pki_runs_only_the_pki_work(env: Env) -> None:
    env.create(EXAMPLE)
    env.journal.clear()
    (_state(env).pki_dir / "kube-scheduler.crt").unlink()
    result = env.create(EXAMPLE, only=["pki"])
    assert env.journal == ["run site.yml pki"]
    assert env.runner.calls[-1].tags == ("pki",)
    assert env.runner.calls[-1].extravars == {}
    assert env.bundle_builds == 1
    assert [(p.name, p.note) for p in result.phases] == [("pki", "issued kube-scheduler")]
    assert (_state(env).pki_dir / "kube-scheduler.crt").exists()


def test_only_pki_on_a_cluster_without_a_release_says_to_run_the_bundle_phase(env: Env) -> None:
    with pytest.raises(ProvisionError, match="no release is installed on the hosts yet; run the bundle phase"):
        env.create(EXAMPLE, only=["pki"])
    assert env.runner.calls == []


def test_only_machines_needs_no_release(env: Env) -> None:
    env.create(EXAMPLE, only=["machines"])
    assert env.journal == [f"provider.ensure {','.join(MACHINES)}", "run site.yml machines"]
    assert "provision_release" not in _extravars(env)
    assert env.bundle_builds == 0


# --- the applied record and the release ------------------------------------------------------------------------

def test_the_applied_record_holds_the_phases_and_their_changed_tasks(env: Env) -> None:
    # cp-1 changes its first 3 tasks (machines, bundle, pki), each worker its first 2 (machines, bundle).
    env.runner.changed = {"local-cp-1": 3, "local-workers-1": 2, "local-workers-2": 2}
    result = env.create(EXAMPLE)
    assert result.changed == 7
    record = json.loads(_state(env).applied_file.read_text())
    assert record["provider"] == "machines"
    assert record["machines"] == MACHINES
    assert record["release"] == env.bundle_key
    assert record["changed"] == 7
    assert set(record["phases"]) == set(PHASE_NAMES)
    assert {name: phase["changed"] for name, phase in record["phases"].items()} == {
        "preflight": None, "machines": 3, "bundle": 3, "pki": 1, "control_plane": 0, "join": 0, "verify": None}
    assert all(phase["seconds"] >= 0 for phase in record["phases"].values())
    assert record["created"] == record["applied"]
    assert _state(env).applied_file.stat().st_mode & 0o777 == 0o600

    env.runner.changed = {}
    assert env.create(EXAMPLE).changed == 0
    again = json.loads(_state(env).applied_file.read_text())
    assert again["created"] == record["created"], "a re-run keeps when the cluster was created"
    assert again["changed"] == 0


def test_a_later_only_join_runs_the_installed_release_not_a_newer_build(env: Env) -> None:
    env.create(EXAMPLE)
    installed = env.bundle_key
    assert _state(env).installed_release() == installed
    env.bundle_key = "release0000000002"  # the source tree changed since; only a bundle phase installs it
    env.create(EXAMPLE, only=["join"])
    assert env.bundle_builds == 1
    assert _extravars(env)["provision_release"] == installed
    assert env.runner.calls[-1].tags == ("join",)
    assert TOKEN.fullmatch(env.runner.calls[-1].extravars["bootstrap_token"])
    assert json.loads(_state(env).applied_file.read_text())["release"] == installed

    env.create(EXAMPLE, only=["bundle"])
    assert _state(env).installed_release() == "release0000000002"
    assert _extravars(env)["provision_release"] == "release0000000002"


def test_a_release_the_bundle_play_failed_to_install_is_not_recorded(env: Env) -> None:
    env.create(EXAMPLE)
    installed = env.bundle_key
    env.bundle_key = "release0000000002"
    env.runner.fail("site.yml", TaskFailure(host="local-cp-1", task=f"bundle/{PHASE_TASK}", action="unarchive",
                                            message="No space left on device"))
    with pytest.raises(PhaseFailed, match="phase bundle failed"):
        env.create(EXAMPLE)
    assert _state(env).installed_release() == installed


# --- failures --------------------------------------------------------------------------------------------------

KUBELET_FAILURE = TaskFailure(host="local-workers-2", task=f"join/{PHASE_TASK}", action="systemd",
                              message="kubelet did not start", stderr="exit status 1")


def test_a_failing_play_names_phase_host_task_and_log(env: Env) -> None:
    env.runner.fail("site.yml", KUBELET_FAILURE)
    with pytest.raises(PhaseFailed) as raised:
        env.create(EXAMPLE)
    error = raised.value
    assert error.phase == "join"
    assert error.log_path is not None and error.log_path.is_relative_to(_state(env).workspace)
    message = str(error)
    assert message.startswith("phase join failed:")
    assert f"local-workers-2: join/{PHASE_TASK} (systemd): kubelet did not start" in message
    assert "exit status 1" in message
    assert f"log: {error.log_path}" in message
    assert "api.wait_nodes_registered" not in env.journal
    assert "verify" not in env.journal


def test_the_failed_phase_is_where_the_first_host_failed_though_others_went_on(env: Env) -> None:
    # As ansible-playbook does without any_errors_fatal: a host failing in the bundle play drops out, the others
    # go on through the pki, control_plane and join plays before the run ends failed.
    env.runner.fail("site.yml", TaskFailure(host="local-cp-1", task=f"bundle/{PHASE_TASK}", action="unarchive",
                                            message="No space left on device"))
    with pytest.raises(PhaseFailed) as raised:
        env.create(EXAMPLE)
    assert raised.value.phase == "bundle"
    assert str(raised.value).startswith("phase bundle failed:")
    assert "local-cp-1: bundle/a task (unarchive): No space left on device" in str(raised.value)


def test_a_failed_create_of_a_new_cluster_removes_its_machines(env: Env) -> None:
    env.runner.fail("site.yml", KUBELET_FAILURE)
    with pytest.raises(PhaseFailed):
        env.create(EXAMPLE)
    assert env.journal[-1] == f"provider.delete {','.join(MACHINES)}"
    assert env.providers[0].journal is env.journal and len(env.providers) == 1, "the same provider deletes"
    assert any("--retain keeps them" in m for m in env.progress.messages)
    assert not _state(env).applied_file.exists()


def test_retain_keeps_the_machines_of_a_failed_create(env: Env) -> None:
    env.runner.fail("site.yml", KUBELET_FAILURE)
    with pytest.raises(PhaseFailed):
        env.create(EXAMPLE, retain=True)
    assert not any(e.startswith("provider.delete") for e in env.journal)


def test_a_failed_tool_side_phase_of_a_new_cluster_removes_its_machines(env: Env) -> None:
    def broken(provider) -> None:
        provider.fail_ensure = ProviderError("local-workers-1: the machine stopped while booting")

    env.provider_setup = broken
    with pytest.raises(PhaseFailed, match="phase machines failed: local-workers-1: the machine stopped") as raised:
        env.create(EXAMPLE)
    assert raised.value.phase == "machines"
    assert env.runner.calls == []
    assert env.journal[-1].startswith("provider.delete")


def test_a_failed_converge_of_an_existing_cluster_never_deletes_it(env: Env) -> None:
    env.create(EXAMPLE)
    env.runner.fail("site.yml", KUBELET_FAILURE)
    env.journal.clear()
    with pytest.raises(PhaseFailed):
        env.create(EXAMPLE)
    assert not any(e.startswith("provider.delete") for e in env.journal)
    assert _state(env).applied_file.exists()


def test_the_join_token_is_deleted_even_when_the_run_fails(env: Env) -> None:
    env.runner.fail("site.yml", KUBELET_FAILURE)
    with pytest.raises(PhaseFailed):
        env.create(EXAMPLE)
    assert f"api.delete_join_token {_token_secret(env)}" in env.journal


def test_the_join_token_is_deleted_when_the_playbook_cannot_run_at_all(env: Env) -> None:
    env.runner.raise_error("site.yml", RunnerError("ansible-playbook is missing"))
    with pytest.raises(RunnerError):
        env.create(EXAMPLE)
    assert f"api.delete_join_token {_token_secret(env)}" in env.journal


def test_a_failed_verify_fails_the_create(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import provisioner.verify
    from provisioner.verify import CheckResult, VerifyReport

    junit = env.root / "junit.xml"
    monkeypatch.setattr(provisioner.verify, "verify_cluster", lambda ctx: VerifyReport(
        (CheckResult("local-cp-1", "unit running provision-apiserver.service", False, "inactive"),), junit))
    with pytest.raises(PhaseFailed) as raised:
        env.create(EXAMPLE)
    assert raised.value.phase == "verify"
    assert raised.value.log_path == junit
    assert "local-cp-1: unit running provision-apiserver.service: inactive" in str(raised.value)


# --- conflicts -------------------------------------------------------------------------------------------------

def _nothing_happened(env: Env, name: str) -> None:
    assert env.journal == [] and env.runner.calls == [] and env.providers == []
    assert not _state(env, name).dir.exists()


@pytest.mark.parametrize(("field", "kwargs", "theirs"), [
    ("spec.provider.machines.subnet 10.77.0.128/25", {"subnet": "10.77.0.128/25"}, "10.77.0.0/24"),
    ("spec.network.podCIDR 10.244.128.0/17", {"subnet": "10.78.0.0/24", "pod_cidr": "10.244.128.0/17"},
     "10.244.0.0/16"),
    ("spec.network.serviceCIDR 10.96.0.0/16", {"subnet": "10.78.0.0/24", "pod_cidr": "10.245.0.0/16",
                                              "service_cidr": "10.96.0.0/16"}, "10.96.0.0/12"),
])
def test_a_cluster_overlapping_another_is_refused(env: Env, field: str, kwargs: dict, theirs: str) -> None:
    env.create(EXAMPLE)
    env.journal.clear()
    env.runner.calls.clear()
    env.providers.clear()
    spec = write_spec(env.root.parent, "other", **{"pod_cidr": "10.245.0.0/16", "service_cidr": "10.112.0.0/12",
                                                   **kwargs})
    with pytest.raises(ConflictError) as raised:
        env.create(spec)
    assert raised.value.exit_code == 2
    message = str(raised.value)
    assert message.startswith(f"{spec}: refused:")
    assert f"{field} overlaps cluster local's {theirs}" in message
    _nothing_happened(env, "other")


def test_a_subnet_over_another_clusters_pod_network_is_refused(env: Env) -> None:
    env.create(EXAMPLE)
    env.journal.clear()
    env.runner.calls.clear()
    env.providers.clear()
    spec = write_spec(env.root.parent, "other", subnet="10.244.200.0/24", pod_cidr="10.245.0.0/16",
                      service_cidr="10.112.0.0/12")
    with pytest.raises(ConflictError, match=r"spec.provider.machines.subnet 10.244.200.0/24 overlaps cluster "
                                            r"local's podCIDR 10.244.0.0/16"):
        env.create(spec)
    _nothing_happened(env, "other")


def test_clusters_apart_from_each_other_are_both_made(env: Env) -> None:
    env.create(EXAMPLE)
    env.create(write_spec(env.root.parent, "other", subnet="10.78.0.0/24", pod_cidr="10.245.0.0/16",
                          service_cidr="10.112.0.0/12"))
    assert _state(env, "other").applied_file.exists()


def test_ssh_clusters_share_no_host_routes_with_local_machines(env: Env) -> None:
    env.create(EXAMPLE)
    env.create(write_ssh_spec(env.root.parent))  # same pod and service networks, on hosts of their own
    assert _state(env, "site").applied_file.exists()


@pytest.mark.parametrize(("spec_kwargs", "expected"), [
    ({"subnet": "10.79.0.0/24"}, "cluster local exists on subnet 10.77.0.0/24; delete it before changing"),
    ({"pod_cidr": "10.250.0.0/16"}, "cluster local exists with podCIDR 10.244.0.0/16 and serviceCIDR "
                                    "10.96.0.0/12; these cannot change in place"),
])
def test_an_existing_cluster_cannot_move(env: Env, spec_kwargs: dict, expected: str) -> None:
    env.create(EXAMPLE)
    before = _state(env).spec_file.read_text()
    env.journal.clear()
    with pytest.raises(ConflictError, match=re.escape(expected)):
        env.create(write_spec(env.root.parent, "local", **spec_kwargs))
    assert env.journal == []
    assert _state(env).spec_file.read_text() == before, "the last applied spec stays"


def test_an_existing_cluster_cannot_change_its_provider(env: Env) -> None:
    env.create(EXAMPLE)
    env.journal.clear()
    with pytest.raises(ConflictError, match="cluster local exists with provider machines; delete it before "
                                            "changing spec.provider.type"):
        env.create(write_ssh_spec(env.root.parent, "local"))
    assert env.journal == []


# --- refused before anything is made ---------------------------------------------------------------------------

def test_an_invalid_spec_is_refused_before_any_state_exists(env: Env) -> None:
    spec = env.root.parent / "bad.yaml"
    spec.write_text("apiVersion: provision.dev/v1alpha1\nkind: Cluster\nmetadata: {name: bad}\n"
                    "spec:\n  network: {podCIDR: nonsense}\n  controlPlane: {count: 0}\n")
    with pytest.raises(SpecError) as raised:
        env.create(spec)
    assert raised.value.exit_code == 2
    assert len(raised.value.problems) == 2
    assert not env.root.exists()
    assert env.journal == [] and env.runner.calls == []


def test_an_unknown_phase_is_refused_before_any_state_exists(env: Env) -> None:
    with pytest.raises(ProvisionError, match="unknown phase bogus; phases are: preflight, machines"):
        env.create(EXAMPLE, only=["bogus"])
    assert not env.root.exists()


def test_a_second_command_on_the_same_cluster_fails_at_once(env: Env) -> None:
    with _state(env).lock():
        with pytest.raises(StateError, match="cluster local: another provision command is working on it"):
            env.create(EXAMPLE)
    assert env.journal == [] and env.runner.calls == []
    assert not _state(env).dir.exists()
    env.create(EXAMPLE)  # the lock is free again
    assert _state(env).applied_file.exists()
