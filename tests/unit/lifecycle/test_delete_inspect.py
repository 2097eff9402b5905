"""provision delete, get clusters and kubeconfig against fakes."""

from __future__ import annotations

import pytest

from provisioner.errors import ProvisionError
from provisioner.lifecycle import delete as delete_module
from provisioner.lifecycle import inspect
from provisioner.lifecycle.context import PhaseFailed
from provisioner.lifecycle.state import ClusterState, StateError
from provisioner.runner import TaskFailure
from tests.unit.lifecycle.fakes import Env
from tests.unit.lifecycle.specs import EXAMPLE, write_spec, write_ssh_spec


@pytest.fixture
def delete(env: Env, monkeypatch: pytest.MonkeyPatch):
    """lifecycle.delete.delete wired to the fakes (it builds its Context itself)."""
    monkeypatch.setattr(delete_module, "Context", env.context)

    def run(name: str) -> None:
        delete_module.delete(name, state_root=env.root, runner=env.runner, progress=env.progress,
                             cache_dir=env.cache)
    return run


def test_delete_removes_the_machines_and_the_state(env: Env, delete) -> None:
    env.create(EXAMPLE)
    state = ClusterState(env.root, "local")
    env.journal.clear()
    delete("local")
    assert env.journal == ["provider.delete local-cp-1,local-workers-1,local-workers-2"]
    assert not state.dir.exists()
    assert not state.lock_file.exists()
    assert inspect.list_clusters(env.root) == []


def test_delete_of_an_ssh_cluster_resets_its_hosts_first(env: Env, delete) -> None:
    env.create(write_ssh_spec(env.root.parent))
    env.journal.clear()
    delete("site")
    assert env.journal == ["run reset.yml", "provider.delete cp1,worker1"]
    call = env.runner.calls[-1]
    assert (call.playbook, call.tags, call.extravars) == ("reset.yml", (), {})
    assert not ClusterState(env.root, "site").dir.exists()


def test_a_failed_reset_keeps_the_cluster(env: Env, delete) -> None:
    env.create(write_ssh_spec(env.root.parent))
    env.runner.fail("reset.yml", TaskFailure(host="worker1", task="Stop and disable the cluster's services",
                                             action="systemd", message="unreachable", unreachable=True))
    with pytest.raises(PhaseFailed, match="phase delete failed") as raised:
        delete("site")
    assert "worker1: Stop and disable the cluster's services (unreachable)" in str(raised.value)
    assert ClusterState(env.root, "site").exists()


def test_delete_of_an_unknown_cluster_names_the_known_ones(env: Env, delete) -> None:
    with pytest.raises(StateError, match=f"no cluster named 'nosuch' in {env.root} \\(no clusters\\)"):
        delete("nosuch")
    env.create(EXAMPLE)
    env.create(write_spec(env.root.parent, "other", subnet="10.78.0.0/24", pod_cidr="10.245.0.0/16",
                          service_cidr="10.112.0.0/12"))
    with pytest.raises(StateError, match=r"no cluster named 'nosuch' in .* \(clusters: local, other\)") as raised:
        delete("nosuch")
    assert raised.value.exit_code == 1


def test_delete_waits_for_no_one(env: Env, delete) -> None:
    env.create(EXAMPLE)
    with ClusterState(env.root, "local").lock():
        with pytest.raises(StateError, match="another provision command is working on it"):
            delete("local")
    assert ClusterState(env.root, "local").exists()


def test_list_clusters(env: Env) -> None:
    assert inspect.list_clusters(env.root) == []
    env.create(EXAMPLE)
    env.runner.fail("site.yml", TaskFailure(host="site-x", task="x", action="x", message="x"))
    env.create(write_ssh_spec(env.root.parent))  # the failure names no host of this cluster: it succeeds
    unfinished = write_spec(env.root.parent, "half", subnet="10.78.0.0/24", pod_cidr="10.245.0.0/16",
                            service_cidr="10.112.0.0/12", workers=1)
    env.runner.fail("site.yml", TaskFailure(host="half-cp-1", task="pki/a task", action="copy", message="no"))
    with pytest.raises(PhaseFailed):
        env.create(unfinished)
    summaries = {s.name: s for s in inspect.list_clusters(env.root)}
    assert list(summaries) == ["half", "local", "site"]
    local = summaries["local"]
    assert (local.provider, local.control_planes, local.workers) == ("machines", 1, 2)
    assert local.created != "-" and local.applied == local.created
    assert (summaries["site"].provider, summaries["site"].workers) == ("ssh", 1)
    assert (summaries["half"].created, summaries["half"].applied) == ("-", "never (create did not finish)")


def test_admin_kubeconfig(env: Env) -> None:
    with pytest.raises(StateError, match="no cluster named 'local'"):
        inspect.admin_kubeconfig("local", state_root=env.root)
    env.create(EXAMPLE, only=["machines"])
    with pytest.raises(ProvisionError, match="cluster local: no admin kubeconfig yet; run `provision create`"):
        inspect.admin_kubeconfig("local", state_root=env.root)
    env.create(EXAMPLE)
    path = inspect.admin_kubeconfig("local", state_root=env.root)
    assert path == ClusterState(env.root, "local").admin_kubeconfig
    assert path.is_file()
