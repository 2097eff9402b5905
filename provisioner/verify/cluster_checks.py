"""Cluster checks of `provision verify`, made through the cluster's API: every machine of the spec is a Ready
Node with the spec's labels and taints, the scheduler and controller-manager hold fresh leader leases, and the
apiserver is ready. `check_cluster` is a pure function of what the API returned; `cluster_results` asks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from provisioner.lifecycle import cluster_api
from provisioner.lifecycle.cluster_api import ComponentReport
from provisioner.spec import Machine
from provisioner.spec.model import CONTROL_PLANE_TAINT
from provisioner.verify.report import CLUSTER, CheckResult


def cluster_results(machines: Sequence[Machine], kubeconfig: Path) -> list[CheckResult]:
    try:
        readyz = cluster_api.readyz(kubeconfig)
        nodes = cluster_api.node_objects(kubeconfig)
        components = cluster_api.components(kubeconfig)
    except cluster_api.ClusterApiError as e:
        return [CheckResult(CLUSTER, "apiserver reachable", False, str(e))]
    return check_cluster(machines, nodes, components, readyz)


def check_cluster(machines: Sequence[Machine], nodes: Sequence[Mapping[str, Any]],
                  components: Sequence[ComponentReport], readyz: tuple[bool, str]) -> list[CheckResult]:
    """`readyz`: (ready, the body of /readyz?verbose), as cluster_api.readyz returns it."""
    ready, readyz_text = readyz
    failing = [line for line in readyz_text.splitlines() if line.startswith("[-]")]
    results = [CheckResult(CLUSTER, "apiserver ready", ready,
                           "" if ready else "; ".join(failing) or readyz_text or "not ready")]
    by_name = {(n.get("metadata") or {}).get("name"): n for n in nodes}
    for machine in machines:
        node = by_name.get(machine.name)
        if node is None:
            results.append(CheckResult(CLUSTER, f"node {machine.name} Ready", False, "not registered"))
            continue
        results += [_ready(machine.name, node), _labels(machine, node), _taints(machine, node)]
    unknown = sorted(set(by_name) - {m.name for m in machines})
    results.append(CheckResult(CLUSTER, "no nodes outside the spec", not unknown,
                               ", ".join(map(str, unknown))))
    results += [CheckResult(CLUSTER, f"{c.name} leader lease fresh", c.healthy, "" if c.healthy else c.detail)
                for c in components]
    return results


def _ready(name: str, node: Mapping[str, Any]) -> CheckResult:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None:
        return CheckResult(CLUSTER, f"node {name} Ready", False, "no Ready condition")
    status = ready.get("status")
    why = f"Ready={status}: {ready.get('reason') or 'no reason'} {ready.get('message') or ''}".strip()
    return CheckResult(CLUSTER, f"node {name} Ready", status == "True", "" if status == "True" else why)


def _labels(machine: Machine, node: Mapping[str, Any]) -> CheckResult:
    """The spec's labels, the role label (node-role.kubernetes.io/<role>) among them."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    wrong = [f"{key}={value!r} (has {labels[key]!r})" if key in labels else f"{key} missing"
             for key, value in sorted(machine.labels.items()) if labels.get(key) != value]
    return CheckResult(CLUSTER, f"node {machine.name} labels", not wrong, "; ".join(wrong))


def _taints(machine: Machine, node: Mapping[str, Any]) -> CheckResult:
    """The spec's taints are on the node; a control plane's NoSchedule taint is there exactly when the spec
    has it (control planes are schedulable when spec.controlPlane.schedulable)."""
    present = {(t.get("key"), t.get("value") or "", t.get("effect"))
               for t in (node.get("spec") or {}).get("taints") or []}
    problems = [f"{taint} missing" for taint in machine.taints
                if (taint.key, taint.value, taint.effect) not in present]
    control_plane_taint = (CONTROL_PLANE_TAINT.key, CONTROL_PLANE_TAINT.value, CONTROL_PLANE_TAINT.effect)
    if machine.role == "control-plane" and CONTROL_PLANE_TAINT not in machine.taints \
            and control_plane_taint in present:
        problems.append(f"{CONTROL_PLANE_TAINT} present on a schedulable control plane")
    return CheckResult(CLUSTER, f"node {machine.name} taints", not problems, "; ".join(problems))
