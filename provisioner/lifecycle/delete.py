"""`provision delete NAME`: remove the cluster from its hosts, the machines the tool made, and its state."""

from __future__ import annotations

import shutil
from pathlib import Path

from provisioner import spec as spec_module
from provisioner.lifecycle.context import Context, PhaseFailed, Progress, SilentProgress
from provisioner.lifecycle.state import ClusterState, StateError, cluster_names
from provisioner.runner import Runner, failure_report

RESET_PLAYBOOK = "reset.yml"


def delete(name: str, *, state_root: Path, runner: Runner, progress: Progress | None = None,
           cache_dir: Path | None = None) -> None:
    state = existing_state(state_root, name)
    with state.lock():
        cluster = spec_module.load(state.spec_file)
        kwargs = {"cache_dir": cache_dir} if cache_dir else {}
        ctx = Context(cluster=cluster, state=state, runner=runner, progress=progress or SilentProgress(),
                      **kwargs)
        if cluster.provider.type != "machines":
            # Hosts outlive the cluster: take its services and files off them (the machines provider's
            # machines are destroyed whole instead).
            workspace = ctx.render(with_release=False)
            result = runner.run(workspace, RESET_PLAYBOOK)
            if not result.ok:
                raise PhaseFailed("delete", "\n" + failure_report(result), result.log_path)
        delete_cluster_machines(ctx)
        shutil.rmtree(state.dir)
        state.lock_file.unlink(missing_ok=True)


def delete_cluster_machines(ctx: Context) -> None:
    ctx.provider.delete(ctx.cluster.machines)


def existing_state(state_root: Path, name: str) -> ClusterState:
    state = ClusterState(state_root, name)
    if not state.exists():
        known = cluster_names(state_root)
        raise StateError(f"no cluster named {name!r} in {state_root}"
                         + (f" (clusters: {', '.join(known)})" if known else " (no clusters)"))
    return state
