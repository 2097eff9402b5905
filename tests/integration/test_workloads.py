"""Issue 3 "Done when", with the real kubectl against `provision dev up --simulated-nodes 3`: workloads driven by
the scheduler and the controller-manager, run by simulated nodes.

Each test waits for outcomes (with hang guards) and never asserts how long something took. The module shares one
cluster; the tests that break it on purpose (node failure, killing the controller-manager) come last and restore
what later tests need.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from provisioner import dev
from tests.integration.conftest import FAST_CONTROLLER_MANAGER_ARGS, SIMULATED_NODES, nodes_ready
from tests.integration.harness import Kubectl

pytestmark = pytest.mark.integration

T = TypeVar("T")
HANG_GUARD = 120.0  # seconds: only a broken component takes this long
ROLLOUT_TIMEOUT = "120s"
SIM_RUN_SECONDS = "simnodes.provision.dev/run-seconds"


# ------------------------------------------------------------------------------------------------ helpers
def wait_for(check: Callable[[], T], what: str, limit: float = HANG_GUARD) -> T:
    deadline = time.monotonic() + limit
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what} (last seen: {last!r})")
        time.sleep(0.3)


def apply(kubectl: Kubectl, manifest: dict, namespace: str) -> str:
    return kubectl.run("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest)).stdout


def pod_template(app: str, image: str = "registry.local/web:1", cpu: str = "100m",
                 annotations: dict | None = None, **spec: Any) -> dict:
    return {
        "metadata": {"labels": {"app": app}, "annotations": annotations or {}},
        "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}], **spec},
    }


def deployment(name: str, replicas: int = 3, image: str = "registry.local/web:1", **spec: Any) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": pod_template(name, image, **spec)}}


def pods(kubectl: Kubectl, namespace: str, selector: str) -> list[dict]:
    return kubectl.json("get", "pods", "-n", namespace, "-l", selector)["items"]


def live(items: list[dict]) -> list[dict]:
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def running(kubectl: Kubectl, namespace: str, selector: str) -> list[dict]:
    return [p for p in live(pods(kubectl, namespace, selector)) if p["status"].get("phase") == "Running"]


def exactly_running(kubectl: Kubectl, namespace: str, selector: str, count: int) -> Callable[[], list[dict]]:
    """A check: the live pods are exactly ``count``, all Running (so scale-downs have finished too)."""
    def check() -> list[dict]:
        current = live(pods(kubectl, namespace, selector))
        ok = len(current) == count and all(p["status"].get("phase") == "Running" for p in current)
        return current if ok else []

    return check


def rollout_status(kubectl: Kubectl, kind_name: str, namespace: str) -> str:
    return kubectl.run("rollout", "status", kind_name, "-n", namespace, f"--timeout={ROLLOUT_TIMEOUT}",
                       timeout=HANG_GUARD + 30).stdout


def node_names(kubectl: Kubectl) -> list[str]:
    return sorted(n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"])


def images_of(items: list[dict]) -> set[str]:
    return {c["image"] for p in items for c in p["spec"]["containers"]}


# ------------------------------------------------------------------------------------------- deployments
@pytest.fixture(scope="module")
def web(workload_kubectl: Kubectl) -> Iterator[tuple[str, str]]:
    """One Deployment that the rollout tests take through its life, in order."""
    namespace = "web-life"
    workload_kubectl.run("apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
    yield namespace, "web"


def test_apply_deployment_and_rollout_status(workload_kubectl: Kubectl, web: tuple[str, str]) -> None:
    namespace, name = web
    assert "deployment.apps/web created" in apply(workload_kubectl, deployment(name, 3), namespace)
    out = rollout_status(workload_kubectl, f"deployment/{name}", namespace)
    assert 'deployment "web" successfully rolled out' in out
    current = running(workload_kubectl, namespace, "app=web")
    assert len(current) == 3
    nodes = {n["metadata"]["name"]: n for n in workload_kubectl.json("get", "nodes")["items"]}
    for pod in current:
        node = nodes[pod["spec"]["nodeName"]]
        assert node["spec"].get("podCIDR"), "node-ipam gave the node no podCIDR"
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    (replica_set,) = workload_kubectl.json("get", "rs", "-n", namespace, "-l", "app=web")["items"]
    template_hash = replica_set["metadata"]["labels"]["pod-template-hash"]
    assert replica_set["metadata"]["name"] == f"web-{template_hash}"
    assert replica_set["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    row = workload_kubectl.run("get", "deployment", name, "-n", namespace, "--no-headers").stdout.split()
    assert row[:4] == ["web", "3/3", "3", "3"]


def test_scale(workload_kubectl: Kubectl, web: tuple[str, str]) -> None:
    namespace, name = web
    out = workload_kubectl.run("scale", f"deployment/{name}", "--replicas=5", "-n", namespace).stdout
    assert "deployment.apps/web scaled" in out
    rollout_status(workload_kubectl, f"deployment/{name}", namespace)
    wait_for(exactly_running(workload_kubectl, namespace, "app=web", 5), "5 web pods Running")
    workload_kubectl.run("scale", f"deployment/{name}", "--replicas=2", "-n", namespace)
    wait_for(exactly_running(workload_kubectl, namespace, "app=web", 2), "scaled down to 2 web pods")
    workload_kubectl.run("scale", f"deployment/{name}", "--replicas=4", "-n", namespace)
    rollout_status(workload_kubectl, f"deployment/{name}", namespace)


def test_set_image_rolls_out_a_new_replicaset(workload_kubectl: Kubectl, web: tuple[str, str]) -> None:
    namespace, name = web
    workload_kubectl.run("set", "image", f"deployment/{name}", "web=registry.local/web:2", "-n", namespace)
    out = rollout_status(workload_kubectl, f"deployment/{name}", namespace)
    assert 'deployment "web" successfully rolled out' in out
    current = wait_for(exactly_running(workload_kubectl, namespace, "app=web", 4), "4 pods of the new image")
    assert images_of(current) == {"registry.local/web:2"}
    replica_sets = workload_kubectl.json("get", "rs", "-n", namespace, "-l", "app=web")["items"]
    by_revision = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in replica_sets}
    assert sorted(by_revision) == ["1", "2"]
    assert by_revision["1"]["spec"]["replicas"] == 0 and by_revision["2"]["spec"]["replicas"] == 4


def test_rollout_history_and_undo(workload_kubectl: Kubectl, web: tuple[str, str]) -> None:
    namespace, name = web
    history = workload_kubectl.run("rollout", "history", f"deployment/{name}", "-n", namespace).stdout
    revisions = [line.split()[0] for line in history.splitlines() if re.match(r"^\d+\s", line)]
    assert revisions == ["1", "2"], history
    detail = workload_kubectl.run("rollout", "history", f"deployment/{name}", "--revision=2",
                                  "-n", namespace).stdout
    assert "registry.local/web:2" in detail

    out = workload_kubectl.run("rollout", "undo", f"deployment/{name}", "-n", namespace).stdout
    assert "deployment.apps/web rolled back" in out
    rollout_status(workload_kubectl, f"deployment/{name}", namespace)
    current = wait_for(exactly_running(workload_kubectl, namespace, "app=web", 4), "4 pods of the old image")
    assert images_of(current) == {"registry.local/web:1"}
    history = workload_kubectl.run("rollout", "history", f"deployment/{name}", "-n", namespace).stdout
    revisions = [line.split()[0] for line in history.splitlines() if re.match(r"^\d+\s", line)]
    assert revisions == ["2", "3"], history  # revision 1's template became revision 3


def test_expose_describe_endpoints_and_endpointslices(workload_kubectl: Kubectl, web: tuple[str, str]) -> None:
    namespace, name = web
    workload_kubectl.run("expose", f"deployment/{name}", "--port=80", "--target-port=80", "-n", namespace)
    pod_ips = sorted(p["status"]["podIP"] for p in running(workload_kubectl, namespace, "app=web"))

    def described_endpoints() -> list[str]:
        out = workload_kubectl.run("describe", "svc", name, "-n", namespace).stdout
        match = re.search(r"^Endpoints:\s+(.*)$", out, re.MULTILINE)
        shown = match.group(1).strip() if match else ""
        return [] if shown in ("", "<none>") else [shown]

    (shown,) = wait_for(described_endpoints, "describe svc to show endpoints")
    # kubectl prints at most three endpoints and "+ N more..."
    listed = re.findall(r"([\d.]+):80", shown)
    assert listed and set(listed) <= set(pod_ips), (shown, pod_ips)

    def slice_addresses() -> list[str]:
        slices = workload_kubectl.json("get", "endpointslices", "-n", namespace,
                                       "-l", f"kubernetes.io/service-name={name}")["items"]
        addresses = sorted(a for s in slices for e in s.get("endpoints") or []
                           if (e.get("conditions") or {}).get("ready") for a in e["addresses"])
        return addresses if addresses == pod_ips else []

    wait_for(slice_addresses, "EndpointSlices to list every ready pod")
    table = workload_kubectl.run("get", "endpointslices", "-n", namespace).stdout
    assert re.search(rf"^{name}-\S+\s+IPv4\s+80\s+", table, re.MULTILINE), table
    endpoints = workload_kubectl.json("get", "endpoints", name, "-n", namespace)
    assert sorted(a["ip"] for s in endpoints["subsets"] for a in s["addresses"]) == pod_ips


def test_cordon_drain_moves_pods_and_uncordon(workload_kubectl: Kubectl, web: tuple[str, str]) -> None:
    namespace, name = web
    current = running(workload_kubectl, namespace, "app=web")
    target = max({p["spec"]["nodeName"] for p in current},
                 key=lambda node: sum(p["spec"]["nodeName"] == node for p in current))
    assert "cordoned" in workload_kubectl.run("cordon", target).stdout
    out = workload_kubectl.run("drain", target, "--ignore-daemonsets", "--delete-emptydir-data",
                               f"--timeout={ROLLOUT_TIMEOUT}", timeout=HANG_GUARD + 30).stdout
    assert f"node/{target} drained" in out
    moved = wait_for(exactly_running(workload_kubectl, namespace, "app=web", 4), "4 web pods after the drain")
    assert target not in {p["spec"]["nodeName"] for p in moved}
    status = workload_kubectl.run("get", "node", target, "--no-headers").stdout.split()[1]
    assert status == "Ready,SchedulingDisabled"

    assert "uncordoned" in workload_kubectl.run("uncordon", target).stdout
    assert workload_kubectl.run("get", "node", target, "--no-headers").stdout.split()[1] == "Ready"
    workload_kubectl.run("scale", f"deployment/{name}", "--replicas=9", "-n", namespace)
    spread = wait_for(exactly_running(workload_kubectl, namespace, "app=web", 9), "9 web pods")
    assert target in {p["spec"]["nodeName"] for p in spread}  # schedulable again


def test_delete_deployment_cascades(workload_kubectl: Kubectl, web: tuple[str, str]) -> None:
    namespace, name = web
    assert "deleted" in workload_kubectl.run("delete", "deployment", name, "-n", namespace).stdout

    def all_gone() -> bool:
        left = workload_kubectl.run("get", "rs,pods", "-n", namespace, "-l", "app=web", "-o", "name").stdout
        return not left.strip()

    wait_for(all_gone, "the ReplicaSets and pods of the deleted Deployment to go")


# ----------------------------------------------------------------------------------------- other workloads
def test_job_completes(workload_kubectl: Kubectl, workload_namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "count"},
        "spec": {"completions": 3, "parallelism": 2, "backoffLimit": 2,
                 "template": pod_template("count", "registry.local/busybox:1",
                                          annotations={SIM_RUN_SECONDS: "1"}, restartPolicy="Never")},
    }  # fmt: skip
    del job["spec"]["template"]["metadata"]["labels"]  # the Job controller labels its pods itself
    apply(workload_kubectl, job, workload_namespace)
    out = workload_kubectl.run("wait", "--for=condition=complete", "job/count", "-n", workload_namespace,
                               f"--timeout={ROLLOUT_TIMEOUT}", timeout=HANG_GUARD + 30).stdout
    assert "job.batch/count condition met" in out
    stored = workload_kubectl.json("get", "job", "count", "-n", workload_namespace)
    assert stored["status"]["succeeded"] == 3
    row = workload_kubectl.run("get", "job", "count", "-n", workload_namespace, "--no-headers").stdout.split()
    assert row[1] == "Complete" and row[2] == "3/3"


def test_daemonset_covers_every_node(workload_kubectl: Kubectl, workload_namespace: str) -> None:
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": pod_template("agent", "registry.local/agent:1", cpu="10m")},
    }  # fmt: skip
    apply(workload_kubectl, daemonset, workload_namespace)
    out = rollout_status(workload_kubectl, "daemonset/agent", workload_namespace)
    assert 'daemon set "agent" successfully rolled out' in out
    agents = wait_for(exactly_running(workload_kubectl, workload_namespace, "app=agent", SIMULATED_NODES),
                      "one agent per node")
    assert sorted(p["spec"]["nodeName"] for p in agents) == node_names(workload_kubectl)
    status = workload_kubectl.json("get", "daemonset", "agent", "-n", workload_namespace)["status"]
    assert status["desiredNumberScheduled"] == status["numberReady"] == SIMULATED_NODES


def test_unschedulable_pod_shows_the_reason(workload_kubectl: Kubectl, workload_namespace: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", **pod_template("huge", cpu="1000")}
    pod["metadata"]["name"] = "huge"
    apply(workload_kubectl, pod, workload_namespace)

    def failed_scheduling() -> str:
        out = workload_kubectl.run("describe", "pod", "huge", "-n", workload_namespace).stdout
        return out if "FailedScheduling" in out else ""

    described = wait_for(failed_scheduling, "a FailedScheduling event on the pod")
    assert f"0/{SIMULATED_NODES} nodes are available: {SIMULATED_NODES} Insufficient cpu." in described
    stored = workload_kubectl.json("get", "pod", "huge", "-n", workload_namespace)
    scheduled = next(c for c in stored["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert stored["status"]["phase"] == "Pending" and not stored["spec"].get("nodeName")


def test_replication_controller_keeps_the_count(workload_kubectl: Kubectl, workload_namespace: str) -> None:
    """The seed's steps: fewer pods than wanted → pods created; more → pods deleted."""
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "seed"},
          "spec": {"replicas": 3, "selector": {"app": "seed"}, "template": pod_template("seed")}}
    apply(workload_kubectl, rc, workload_namespace)
    first = wait_for(exactly_running(workload_kubectl, workload_namespace, "app=seed", 3), "3 seed pods")
    victim = first[0]["metadata"]["name"]
    workload_kubectl.run("delete", "pod", victim, "-n", workload_namespace)
    after = wait_for(exactly_running(workload_kubectl, workload_namespace, "app=seed", 3),
                     "a replacement for the deleted pod")
    assert victim not in {p["metadata"]["name"] for p in after}

    workload_kubectl.run("scale", "rc", "seed", "--replicas=1", "-n", workload_namespace)
    wait_for(exactly_running(workload_kubectl, workload_namespace, "app=seed", 1), "scale down to 1")
    workload_kubectl.run("scale", "rc", "seed", "--replicas=2", "-n", workload_namespace)
    wait_for(exactly_running(workload_kubectl, workload_namespace, "app=seed", 2), "scale up to 2")
    rc_status = workload_kubectl.json("get", "rc", "seed", "-n", workload_namespace)["status"]
    assert rc_status["replicas"] == rc_status["readyReplicas"] == 2


# ------------------------------------------------------------------------------------------- node failure
def condition(node: dict, kind: str) -> dict:
    return next((c for c in node["status"].get("conditions") or [] if c["type"] == kind), {})


def taint_keys(node: dict) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}


def test_node_failure_taints_the_node_and_replaces_its_pods(
    workload_kubectl: Kubectl, workload_namespace: str, workload_cluster: dev.DevCluster
) -> None:
    ns = workload_namespace
    # Explicit short tolerations: evicted 2 s after the taint (Kubernetes' default is 300 s).
    tolerations = [{"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": 2} for k in ("not-ready", "unreachable")]
    apply(workload_kubectl, deployment("sturdy", 6, tolerations=tolerations), ns)
    rollout_status(workload_kubectl, "deployment/sturdy", ns)
    before = running(workload_kubectl, ns, "app=sturdy")
    victim = max({p["spec"]["nodeName"] for p in before},
                 key=lambda node: sum(p["spec"]["nodeName"] == node for p in before))
    doomed = {p["metadata"]["name"] for p in before if p["spec"]["nodeName"] == victim}
    stopped_file = workload_cluster.dir / "stopped-nodes"
    stopped_file.write_text(victim + "\n")
    try:
        def unknown() -> dict:
            node = workload_kubectl.json("get", "node", victim)
            return node if condition(node, "Ready").get("status") == "Unknown" else {}

        failed = wait_for(unknown, f"{victim} to become Ready=Unknown")
        assert condition(failed, "Ready")["reason"] == "NodeStatusUnknown"
        tainted = wait_for(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in
                           taint_keys(workload_kubectl.json("get", "node", victim)), "the unreachable taint")
        assert tainted
        assert "NotReady" in workload_kubectl.run("get", "node", victim, "--no-headers").stdout

        def replaced() -> list[dict]:
            current = running(workload_kubectl, ns, "app=sturdy")
            healthy = [p for p in current if p["spec"]["nodeName"] != victim]
            return healthy if len(healthy) == 6 else []

        healthy = wait_for(replaced, "6 Running pods on the remaining nodes")
        assert not doomed & {p["metadata"]["name"] for p in healthy}
    finally:
        stopped_file.write_text("")
    wait_for(lambda: nodes_ready(workload_kubectl, SIMULATED_NODES), "the node to come back Ready")
    wait_for(lambda: not {k for k, _ in taint_keys(workload_kubectl.json("get", "node", victim))}
             & {"node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"}, "the taints to be removed")
    # Back in contact, the node confirms the deletions the controllers asked for while it was away.
    wait_for(lambda: not doomed & {p["metadata"]["name"] for p in pods(workload_kubectl, ns, "app=sturdy")},
             "the evicted pods to be gone")


# ------------------------------------------------------------------------------ two controller-managers
def lease_holder(kubectl: Kubectl) -> str:
    lease = kubectl.json("get", "lease", "kube-controller-manager", "-n", "kube-system")
    return lease["spec"].get("holderIdentity") or ""


def identity_in(log: Path) -> str:
    match = re.search(r"leader election on Lease kube-system/kube-controller-manager as (\S+)", log.read_text())
    return match.group(1) if match else ""


@pytest.fixture
def second_controller_manager(workload_cluster: dev.DevCluster, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """Another controller-manager with the same kubeconfig and flags, as a second control-plane machine runs."""
    log = tmp_path / "controller-manager-2.log"
    argv = [sys.executable, "-m", "provisioner.services.controllers.main",
            "--kubeconfig", str(workload_cluster.dir / "controller-manager.kubeconfig"),
            "--cluster-cidr", "10.244.0.0/16", "--healthz-bind-address=127.0.0.1:0",
            *FAST_CONTROLLER_MANAGER_ARGS]
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_two_controller_managers_only_the_leader_acts_and_the_other_takes_over(
    workload_kubectl: Kubectl, workload_namespace: str, workload_cluster: dev.DevCluster,
    second_controller_manager: tuple[Any, Path],
) -> None:
    process, second_log = second_controller_manager
    first_log = workload_cluster.dir / "logs" / "controller-manager.log"
    first_identity = wait_for(lambda: identity_in(first_log), "the dev controller-manager's identity")
    second_identity = wait_for(lambda: identity_in(second_log), "the second controller-manager's identity")
    assert first_identity != second_identity
    assert wait_for(lambda: lease_holder(workload_kubectl), "a Lease holder") == first_identity

    apply(workload_kubectl, deployment("handover", 2), workload_namespace)
    rollout_status(workload_kubectl, "deployment/handover", workload_namespace)
    assert process.poll() is None, second_log.read_text()
    assert "started" not in _controller_lines(second_log)  # a candidate constructs no controllers
    assert lease_holder(workload_kubectl) == first_identity

    leader = next(c for c in dev.status(workload_cluster.dir).components if c.name == "controller-manager")
    assert leader.pid is not None
    os.kill(leader.pid, signal.SIGKILL)  # a crash: the Lease is not released, the other waits it out
    wait_for(lambda: lease_holder(workload_kubectl) == second_identity, "the second to take the Lease")
    wait_for(lambda: "started" in _controller_lines(second_log), "the second to start its controllers")

    workload_kubectl.run("scale", "deployment/handover", "--replicas=4", "-n", workload_namespace)
    rollout_status(workload_kubectl, "deployment/handover", workload_namespace)
    wait_for(exactly_running(workload_kubectl, workload_namespace, "app=handover", 4), "the new leader to act")


def _controller_lines(log: Path) -> str:
    return " ".join(re.findall(r"controller-manager: (started \d+ controllers)", log.read_text()))
