"""The API objects a simulated node writes: its Node and the status of the pods it "runs" (its Lease and heartbeat
conditions are the kubelet's, from api/nodes.py).

Pure functions of their inputs (names, times, addresses), so the shapes are tested without a server. The shapes
follow what a kubelet 1.37 writes, so `kubectl get/describe` print simulated nodes and pods like real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.services.api.nodes import KUBELET_PORT, heartbeat_conditions
from provisioner.services.api.quantity import QuantityError, parse_quantity
from provisioner.services.api.timestamps import parse_time, rfc3339
from provisioner.services.api.version import GIT_VERSION

Obj = dict[str, Any]

# A pod annotation: its containers exit after this many seconds (exit code below, default 0), so Jobs complete.
RUN_SECONDS_ANNOTATION = "simnodes.provision.dev/run-seconds"
EXIT_CODE_ANNOTATION = "simnodes.provision.dev/exit-code"
# A label on every simulated Node: select them (or keep pods off them) like kwok's `type: kwok`.
SIMULATED_LABEL = "simnodes.provision.dev/simulated"


@dataclass(frozen=True)
class NodeTemplate:
    """What every simulated node reports about itself. Defaults are a large machine, so scheduling tests are
    limited by the pods they ask for rather than by the simulated hardware."""

    cpu: str = "32"
    memory: str = "256Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    labels: Mapping[str, str] = field(default_factory=dict)
    kubelet_version: str = GIT_VERSION

    def __post_init__(self) -> None:
        for name, value in (("cpu", self.cpu), ("memory", self.memory),
                            ("ephemeral-storage", self.ephemeral_storage)):
            try:
                parse_quantity(value)
            except QuantityError as err:
                raise ValueError(f"node {name} {value!r}: {err}") from None
        if self.pods < 1:
            raise ValueError(f"node pods {self.pods}: must be at least 1")

    def resources(self) -> dict[str, str]:
        return {"cpu": self.cpu, "memory": self.memory, "pods": str(self.pods),
                "ephemeral-storage": self.ephemeral_storage}


def node_object(name: str, internal_ip: str, template: NodeTemplate, now: float) -> Obj:
    labels = {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name,
        SIMULATED_LABEL: "true", **template.labels,
    }
    resources = template.resources()
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": heartbeat_conditions((), now),
            "addresses": [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": {
                "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "6.1.0-simulated",
                "osImage": "Simulated node (provision simnodes)", "containerRuntimeVersion": "simulated://1.0",
                "kubeletVersion": template.kubelet_version, "kubeProxyVersion": "", "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------------- pods
@dataclass(frozen=True)
class ContainerRun:
    """How long a pod's containers run before exiting, from its annotations (None: until deleted)."""

    seconds: float | None
    exit_code: int = 0


def container_run(pod: Obj) -> ContainerRun:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        seconds = float(annotations[RUN_SECONDS_ANNOTATION])
    except (KeyError, TypeError, ValueError):
        return ContainerRun(None)
    try:
        exit_code = int(annotations.get(EXIT_CODE_ANNOTATION, 0))
    except (TypeError, ValueError):
        exit_code = 1
    return ContainerRun(max(seconds, 0.0), exit_code)


def restarts_after_exit(pod: Obj, exit_code: int) -> bool:
    """Whether the kubelet restarts a container that exited with ``exit_code`` (the pod's restartPolicy)."""
    policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def _condition(kind: str, status: str, since: str, reason: str = "") -> Obj:
    condition: Obj = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
    if reason:
        condition["reason"] = reason
    return condition


def _scheduled_since(pod: Obj, fallback: str) -> str:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "True":
            return condition.get("lastTransitionTime") or fallback
    return fallback


def _container_id(pod: Obj, container: str, restart: int) -> str:
    return f"simulated://{pod['metadata'].get('uid', '')}/{container}/{restart}"


def _init_statuses(pod: Obj, started: str) -> list[Obj]:
    return [{
        "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": True, "restartCount": 0,
        "started": False, "containerID": _container_id(pod, c["name"], 0),
        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                 "finishedAt": started, "containerID": _container_id(pod, c["name"], 0)}},
    } for c in (pod.get("spec") or {}).get("initContainers") or []]  # fmt: skip


def running_status(pod: Obj, host_ip: str, pod_ip: str, now: float) -> Obj:
    """The status of a pod whose containers all just started and are ready (phase Running)."""
    stamp = rfc3339(now)
    containers = [{
        "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": True, "restartCount": 0,
        "started": True, "containerID": _container_id(pod, c["name"], 0),
        "state": {"running": {"startedAt": stamp}}, "lastState": {},
    } for c in (pod.get("spec") or {}).get("containers") or []]  # fmt: skip
    status: Obj = {
        "phase": "Running",
        "conditions": [
            _condition("PodReadyToStartContainers", "True", stamp),
            _condition("Initialized", "True", stamp),
            _condition("Ready", "True", stamp),
            _condition("ContainersReady", "True", stamp),
            _condition("PodScheduled", "True", _scheduled_since(pod, stamp)),
        ],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": stamp,
        "containerStatuses": containers,
    }
    if (pod.get("spec") or {}).get("initContainers"):
        status["initContainerStatuses"] = _init_statuses(pod, stamp)
    return status


def started_at(pod: Obj) -> float | None:
    """When the pod's containers last (re)started: the latest running.startedAt."""
    moments = [parse_time(((s.get("state") or {}).get("running") or {}).get("startedAt", ""))
               for s in (pod.get("status") or {}).get("containerStatuses") or []]
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _terminated(pod: Obj, status: Obj, exit_code: int, finished: str) -> Obj:
    running = (status.get("state") or {}).get("running") or {}
    return {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": running.get("startedAt", finished), "finishedAt": finished,
            "containerID": status.get("containerID", "")}


def exited_status(pod: Obj, exit_code: int, now: float) -> Obj:
    """The status after every container exited with ``exit_code``: restarted in place, or the pod finished."""
    stamp = rfc3339(now)
    current = (pod.get("status") or {}).get("containerStatuses") or []
    if restarts_after_exit(pod, exit_code):
        statuses = []
        for status in current:
            restart = int(status.get("restartCount", 0)) + 1
            statuses.append({**status, "restartCount": restart, "ready": True, "started": True,
                             "containerID": _container_id(pod, status["name"], restart),
                             "state": {"running": {"startedAt": stamp}},
                             "lastState": {"terminated": _terminated(pod, status, exit_code, stamp)}})
        return {"containerStatuses": statuses}
    statuses = [{**status, "ready": False, "started": False,
                 "state": {"terminated": _terminated(pod, status, exit_code, stamp)}} for status in current]
    conditions = []
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Ready", "ContainersReady"):
            condition = _condition(condition["type"], "False", stamp, "PodCompleted")
        elif condition.get("type") == "PodReadyToStartContainers":
            condition = _condition(condition["type"], "False", stamp)
        conditions.append(condition)
    return {"phase": "Succeeded" if exit_code == 0 else "Failed", "conditions": conditions,
            "containerStatuses": statuses}
