"""`provision verify`: the host checks (pytest + testinfra over SSH) and the cluster checks (through the
cluster's API) run side by side; both end up in one JUnit file, <state>/verify/junit.xml."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from provisioner.pki import ensure_private_dir
from provisioner.services.api.version import GIT_VERSION
from provisioner.verify.cluster_checks import cluster_results
from provisioner.verify.hosts import HostCheckRun, run_host_checks
from provisioner.verify.report import HOSTS, CheckResult, VerifyReport, append_suite, read_junit

if TYPE_CHECKING:
    from provisioner.lifecycle.context import Context

HOST_CHECKS_TIMEOUT_SECONDS = 300.0


def verify_cluster(ctx: Context) -> VerifyReport:
    """Raises ProvisionError only when there is nothing to verify (no release installed); failed checks are in
    the report."""
    started = time.monotonic()
    release = ctx.release()
    workspace = ctx.render()
    junit_path = ensure_private_dir(ctx.state.verify_dir) / "junit.xml"
    junit_path.unlink(missing_ok=True)  # a stale file must not pass for this run's results
    run = HostCheckRun(
        inventory=workspace / "inventory" / "hosts.yml", release=release,
        apiserver_port=ctx.cluster.network.apiserver_port, server_version=GIT_VERSION,
        store=ctx.cluster.control_plane.store, kubernetes_service_ip=str(ctx.cluster.kubernetes_service_ip),
        junit_path=junit_path)
    ctx.progress.phase_detail(f"checking {len(ctx.cluster.machines)} hosts and the cluster")
    with ThreadPoolExecutor(max_workers=1) as pool:
        cluster_checks = pool.submit(cluster_results, ctx.cluster.machines, ctx.state.admin_kubeconfig)
        outcome = run_host_checks(run, HOST_CHECKS_TIMEOUT_SECONDS)
        cluster = cluster_checks.result()
    hosts = read_junit(junit_path) if junit_path.is_file() else []
    if outcome.exit_code not in (0, 1) or not hosts:
        # pytest stopped short (a collection error, a timeout): the end of its output says why.
        why = f"pytest exit {outcome.exit_code}: " + (outcome.output_tail.splitlines() or ["no output"])[-1]
        hosts.append(CheckResult(HOSTS, "host checks ran", False, why))
        append_suite(junit_path, "hosts-run", hosts[-1:])
    append_suite(junit_path, "cluster", cluster)
    return VerifyReport(tuple(hosts + cluster), junit_path, time.monotonic() - started)
