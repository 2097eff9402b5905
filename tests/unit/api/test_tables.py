"""Server-side Tables: the column sets and the cells kubectl's printers compute, as `kubectl get` shows them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.tables import human_duration, since, table

Obj = dict[str, Any]
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resource(kind: str) -> Resource:
    return next(r for r in resources.RESOURCES if r.kind == kind)


def cells(kind: str, obj: Obj) -> list[Any]:
    return table(_resource(kind), [obj], now=NOW)["rows"][0]["cells"]


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0s"), (45, "45s"), (119, "119s"), (120, "2m"), (150, "2m30s"), (599, "9m59s"), (600, "10m"),
    (10799, "179m"), (3 * 3600, "3h"), (7 * 3600 + 59 * 60, "7h59m"), (8 * 3600 + 30 * 60, "8h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (49 * 3600, "2d1h"), (8 * 86400, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"),
    (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"), (-1, "0s"), (-2, "<invalid>"),
])
def test_human_duration(seconds: int, shown: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == shown


def test_timestamps_since() -> None:
    assert since(None, NOW) == "<unknown>"
    assert since("", NOW) == "<unknown>"
    assert since(ago(seconds=90), NOW) == "90s"
    assert since("2026-03-01T11:59:30.123456Z", NOW) == "29s"  # MicroTime


# (kind, [(name, type, priority, format)]) — kubectl's internal printers, as the apiserver serves them.
COLUMNS = {
    "Pod": [("Name", "string", 0, "name"), ("Ready", "string", 0, ""), ("Status", "string", 0, ""),
            ("Restarts", "string", 0, ""), ("Age", "string", 0, ""), ("IP", "string", 1, ""),
            ("Node", "string", 1, ""), ("Nominated Node", "string", 1, ""), ("Readiness Gates", "string", 1, "")],
    "Deployment": [("Name", "string", 0, "name"), ("Ready", "string", 0, ""), ("Up-to-date", "string", 0, ""),
                   ("Available", "string", 0, ""), ("Age", "string", 0, ""), ("Containers", "string", 1, ""),
                   ("Images", "string", 1, ""), ("Selector", "string", 1, "")],
    "ReplicaSet": [("Name", "string", 0, "name"), ("Desired", "integer", 0, ""), ("Current", "integer", 0, ""),
                   ("Ready", "integer", 0, ""), ("Age", "string", 0, ""), ("Containers", "string", 1, ""),
                   ("Images", "string", 1, ""), ("Selector", "string", 1, "")],
    "ReplicationController": [("Name", "string", 0, "name"), ("Desired", "integer", 0, ""),
                              ("Current", "integer", 0, ""), ("Ready", "integer", 0, ""), ("Age", "string", 0, ""),
                              ("Containers", "string", 1, ""), ("Images", "string", 1, ""),
                              ("Selector", "string", 1, "")],
    "DaemonSet": [("Name", "string", 0, "name"), ("Desired", "integer", 0, ""), ("Current", "integer", 0, ""),
                  ("Ready", "integer", 0, ""), ("Up-to-date", "integer", 0, ""), ("Available", "integer", 0, ""),
                  ("Node Selector", "string", 0, ""), ("Age", "string", 0, ""), ("Containers", "string", 1, ""),
                  ("Images", "string", 1, ""), ("Selector", "string", 1, "")],
    "Job": [("Name", "string", 0, "name"), ("Status", "string", 0, ""), ("Completions", "string", 0, ""),
            ("Duration", "string", 0, ""), ("Age", "string", 0, ""), ("Containers", "string", 1, ""),
            ("Images", "string", 1, ""), ("Selector", "string", 1, "")],
    "Service": [("Name", "string", 0, "name"), ("Type", "string", 0, ""), ("Cluster-IP", "string", 0, ""),
                ("External-IP", "string", 0, ""), ("Port(s)", "string", 0, ""), ("Age", "string", 0, ""),
                ("Selector", "string", 1, "")],
    "Node": [("Name", "string", 0, "name"), ("Status", "string", 0, ""), ("Roles", "string", 0, ""),
             ("Age", "string", 0, ""), ("Version", "string", 0, ""), ("Internal-IP", "string", 1, ""),
             ("External-IP", "string", 1, ""), ("OS-Image", "string", 1, ""), ("Kernel-Version", "string", 1, ""),
             ("Container-Runtime", "string", 1, "")],
    "Event": [("Last Seen", "string", 0, ""), ("Type", "string", 0, ""), ("Reason", "string", 0, ""),
              ("Object", "string", 0, ""), ("Subobject", "string", 1, ""), ("Source", "string", 1, ""),
              ("Message", "string", 0, ""), ("First Seen", "string", 1, ""), ("Count", "string", 1, ""),
              ("Name", "string", 1, "name")],
    "Namespace": [("Name", "string", 0, "name"), ("Status", "string", 0, ""), ("Age", "string", 0, "")],
    "Endpoints": [("Name", "string", 0, "name"), ("Endpoints", "string", 0, ""), ("Age", "string", 0, "")],
    "ConfigMap": [("Name", "string", 0, "name"), ("Data", "string", 0, ""), ("Age", "string", 0, "")],
    "Secret": [("Name", "string", 0, "name"), ("Type", "string", 0, ""), ("Data", "string", 0, ""),
               ("Age", "string", 0, "")],
    "ServiceAccount": [("Name", "string", 0, "name"), ("Secrets", "string", 0, ""), ("Age", "string", 0, "")],
    "Lease": [("Name", "string", 0, "name"), ("Holder", "string", 0, ""), ("Age", "string", 0, "")],
    "EndpointSlice": [("Name", "string", 0, "name"), ("AddressType", "string", 0, ""), ("Ports", "string", 0, ""),
                      ("Endpoints", "string", 0, ""), ("Age", "string", 0, "")],
    "CertificateSigningRequest": [("Name", "string", 0, "name"), ("Age", "string", 0, ""),
                                  ("SignerName", "string", 0, ""), ("Requestor", "string", 0, ""),
                                  ("RequestedDuration", "string", 0, ""), ("Condition", "string", 0, "")],
    "Binding": [("Name", "string", 0, "name"), ("Created At", "date", 0, "")],
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_column_definitions(kind: str) -> None:
    definitions = table(_resource(kind), [], now=NOW)["columnDefinitions"]
    assert [(c["name"], c["type"], c["priority"], c["format"]) for c in definitions] == COLUMNS[kind]
    assert all(c["description"] for c in definitions)


def test_age_and_name_descriptions_are_the_object_meta_docs() -> None:
    definitions = {c["name"]: c for c in table(_resource("Namespace"), [])["columnDefinitions"]}
    assert definitions["Name"]["description"].startswith("Name must be unique within a namespace.")
    assert "in UTC.\n\nPopulated by the system. Read-only." in definitions["Age"]["description"]


# --- pods --------------------------------------------------------------------------------------------------------

def pod_with(status: Obj, spec: Obj | None = None, meta: Obj | None = None) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(minutes=30), **(meta or {})},
            "spec": spec or {"containers": [{"name": "app", "image": "nginx"}], "nodeName": "node-1"},
            "status": status}


RUNNING = {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": ago(minutes=29)}}}


def waiting(reason: str, restarts: int = 0, finished: str | None = None) -> Obj:
    status: Obj = {"name": "app", "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}
    if finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished}}
    return status


POD_CASES = [
    ("running", pod_with({"phase": "Running", "podIPs": [{"ip": "10.244.1.5"}], "containerStatuses": [RUNNING]}),
     ["web", "1/1", "Running", "0", "30m", "10.244.1.5", "node-1", "<none>", "<none>"]),
    ("pending, unscheduled", pod_with({"phase": "Pending"}, {"containers": [{"name": "app", "image": "x"}]}),
     ["web", "0/1", "Pending", "0", "30m", "<none>", "<none>", "<none>", "<none>"]),
    ("container creating", pod_with({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]}),
     ["web", "0/1", "ContainerCreating", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("crash loop", pod_with({"phase": "Running", "podIPs": [{"ip": "10.244.1.5"}],
                             "containerStatuses": [waiting("CrashLoopBackOff", 12, ago(seconds=114))]}),
     ["web", "0/1", "CrashLoopBackOff", "12 (114s ago)", "30m", "10.244.1.5", "node-1", "<none>", "<none>"]),
    ("completed", pod_with({"phase": "Succeeded", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                                                                                   "reason": "Completed"}}}]}),
     ["web", "0/1", "Completed", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("killed by a signal, no reason", pod_with({"phase": "Failed", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137,
                                                                                   "signal": 9}}}]}),
     ["web", "0/1", "Signal:9", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("exit code, no reason", pod_with({"phase": "Failed", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}]}),
     ["web", "0/1", "ExitCode:3", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("evicted", pod_with({"phase": "Failed", "reason": "Evicted"}),
     ["web", "0/1", "Evicted", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("terminating", pod_with({"phase": "Running", "containerStatuses": [RUNNING]},
                             meta={"deletionTimestamp": ago(seconds=5)}),
     ["web", "1/1", "Terminating", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("node lost", pod_with({"phase": "Running", "reason": "NodeLost", "containerStatuses": [RUNNING]},
                           meta={"deletionTimestamp": ago(seconds=5)}),
     ["web", "1/1", "Unknown", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("scheduling gated", pod_with({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]},
        {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}),
     ["web", "0/2", "SchedulingGated", "0", "30m", "<none>", "<none>", "<none>", "<none>"]),
]


def _init_pod(init_status: Obj, containers: list[Obj] | None = None, conditions: list[Obj] | None = None,
              sidecar: bool = False) -> Obj:
    init: Obj = {"name": "setup", "image": "busybox"}
    if sidecar:
        init["restartPolicy"] = "Always"
    return pod_with({"phase": "Pending", "initContainerStatuses": [init_status],
                     "containerStatuses": containers or [waiting("PodInitializing")],
                     "conditions": conditions or []},
                    {"initContainers": [init], "containers": [{"name": "app", "image": "nginx"}], "nodeName": "node-1"})


INIT_CASES = [
    ("init running", _init_pod({"name": "setup", "ready": False, "restartCount": 0, "state": {"running": {}}}),
     ["web", "0/1", "Init:0/1", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("init crash loop", _init_pod(waiting("CrashLoopBackOff", 3, ago(minutes=1)) | {"name": "setup"}),
     ["web", "0/1", "Init:CrashLoopBackOff", "3 (60s ago)", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("init failed", _init_pod({"name": "setup", "ready": False, "restartCount": 0,
                               "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}),
     ["web", "0/1", "Init:Error", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("init done, app starting", _init_pod({"name": "setup", "ready": False, "restartCount": 0,
                                           "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                                          [waiting("ContainerCreating")]),
     ["web", "0/1", "ContainerCreating", "0", "30m", "<none>", "node-1", "<none>", "<none>"]),
    ("sidecar counts towards ready", _init_pod(
        {"name": "setup", "ready": True, "started": True, "restartCount": 2, "state": {"running": {}}}, [RUNNING],
        [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}], sidecar=True),
     ["web", "2/2", "Pending", "2", "30m", "<none>", "node-1", "<none>", "<none>"]),
]


@pytest.mark.parametrize(("pod", "expected"), [(p, e) for _, p, e in POD_CASES + INIT_CASES],
                         ids=[c[0] for c in POD_CASES + INIT_CASES])
def test_pod_rows(pod: Obj, expected: list[Any]) -> None:
    assert cells("Pod", pod) == expected


def test_completed_with_a_running_container_is_running_or_not_ready() -> None:
    done = {"name": "a", "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    spec = {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}
    running = pod_with({"phase": "Running", "containerStatuses": [done, RUNNING | {"name": "b"}],
                        "conditions": [{"type": "Ready", "status": "True"}]}, spec)
    assert cells("Pod", running)[1:3] == ["1/2", "Running"]
    running["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    assert cells("Pod", running)[1:3] == ["1/2", "NotReady"]


def test_pod_row_conditions_and_readiness_gates() -> None:
    succeeded = pod_with({"phase": "Succeeded"})
    row = table(_resource("Pod"), [succeeded], now=NOW)["rows"][0]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                  "message": "The pod has completed successfully."}]
    failed = table(_resource("Pod"), [pod_with({"phase": "Failed"})], now=NOW)["rows"][0]
    assert failed["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in table(_resource("Pod"), [pod_with({"phase": "Running"})], now=NOW)["rows"][0]
    gated = pod_with({"phase": "Running", "conditions": [{"type": "example.com/lb", "status": "True"}]},
                     {"containers": [{"name": "app", "image": "x"}], "readinessGates": [
                         {"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]})
    assert cells("Pod", gated)[-1] == "1/2"


# --- workloads ---------------------------------------------------------------------------------------------------

TEMPLATE = {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "fluent"}]}}


def test_deployment_row() -> None:
    deployment = {"metadata": {"name": "web", "creationTimestamp": ago(days=3)},
                  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
                      {"key": "tier", "operator": "In", "values": ["fe", "be"]}]}, "template": TEMPLATE},
                  "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert cells("Deployment", deployment) == ["web", "2/3", 3, 2, "3d", "nginx,log", "nginx:1.27,fluent",
                                               "app=web,tier in (be,fe)"]
    fresh = {"metadata": {"name": "new"}, "spec": {"replicas": 1, "template": TEMPLATE}, "status": {}}
    assert cells("Deployment", fresh)[:5] == ["new", "0/1", 0, 0, "<unknown>"]


def test_replica_set_and_replication_controller_rows() -> None:
    replica_set = {"metadata": {"name": "web-5d8f", "creationTimestamp": ago(hours=2)},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8f"}},
                            "template": TEMPLATE}, "status": {"replicas": 2, "readyReplicas": 1}}
    assert cells("ReplicaSet", replica_set) == ["web-5d8f", 2, 2, 1, "120m", "nginx,log", "nginx:1.27,fluent",
                                                "app=web,pod-template-hash=5d8f"]
    controller = {"metadata": {"name": "rc", "creationTimestamp": ago(minutes=5)},
                  "spec": {"replicas": 1, "selector": {"app": "web"}, "template": TEMPLATE}, "status": {}}
    assert cells("ReplicationController", controller) == ["rc", 1, 0, 0, "5m", "nginx,log", "nginx:1.27,fluent",
                                                           "app=web"]


def test_daemon_set_row() -> None:
    daemon_set = {"metadata": {"name": "agent", "creationTimestamp": ago(days=10)},
                  "spec": {"selector": {"matchLabels": {"app": "agent"}},
                           "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                                 "containers": [{"name": "a", "image": "agent:1"}]}}},
                  "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                             "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert cells("DaemonSet", daemon_set) == ["agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "10d", "a", "agent:1",
                                              "app=agent"]
    daemon_set["spec"]["template"]["spec"].pop("nodeSelector")
    daemon_set["spec"]["selector"] = {}
    assert cells("DaemonSet", daemon_set)[6] == "<none>" and cells("DaemonSet", daemon_set)[-1] == "<none>"


JOB_SPEC = {"completions": 1, "parallelism": 1, "template": TEMPLATE,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}}


@pytest.mark.parametrize(("spec", "status", "meta", "expected"), [
    ({}, {"succeeded": 1, "startTime": ago(seconds=10), "completionTime": ago(seconds=6),
          "conditions": [{"type": "Complete", "status": "True"}]}, {}, ["Complete", "1/1", "4s"]),
    ({}, {"startTime": ago(minutes=3)}, {}, ["Running", "0/1", "3m"]),
    ({}, {}, {}, ["Running", "0/1", ""]),
    ({"suspend": True}, {"conditions": [{"type": "Suspended", "status": "True"}]}, {}, ["Suspended", "0/1", ""]),
    ({}, {"conditions": [{"type": "Failed", "status": "True"}]}, {}, ["Failed", "0/1", ""]),
    ({}, {"conditions": [{"type": "FailureTarget", "status": "True"}]}, {"deletionTimestamp": ago(seconds=1)},
     ["Terminating", "0/1", ""]),
    ({"completions": None, "parallelism": 3}, {"succeeded": 2}, {}, ["Running", "2/1 of 3", ""]),
])
def test_job_rows(spec: Obj, status: Obj, meta: Obj, expected: list[str]) -> None:
    job = {"metadata": {"name": "pi", "creationTimestamp": ago(minutes=5), **meta},
           "spec": {**JOB_SPEC, **spec}, "status": status}
    assert cells("Job", job) == ["pi", *expected, "5m", "nginx,log", "nginx:1.27,fluent",
                                 "batch.kubernetes.io/controller-uid=u1"]


# --- services and endpoints ------------------------------------------------------------------------------------

def svc(spec: Obj, status: Obj | None = None) -> Obj:
    return {"metadata": {"name": "web", "creationTimestamp": ago(seconds=45)}, "spec": spec,
            "status": status or {"loadBalancer": {}}}


SERVICE_CASES = [
    ("cluster IP", svc({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                        "selector": {"k8s-app": "kube-dns"}}),
     ["web", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", "45s", "k8s-app=kube-dns"]),
    ("node port", svc({"type": "NodePort", "clusterIPs": ["10.96.12.7"],
                       "ports": [{"port": 8000, "nodePort": 30265, "protocol": "TCP"}], "selector": {"app": "web"}}),
     ["web", "NodePort", "10.96.12.7", "<none>", "8000:30265/TCP", "45s", "app=web"]),
    ("load balancer pending", svc({"type": "LoadBalancer", "clusterIPs": ["10.96.3.3"],
                                   "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}),
     ["web", "LoadBalancer", "10.96.3.3", "<pending>", "80:31000/TCP", "45s", "<none>"]),
    ("load balancer with ingress", svc({"type": "LoadBalancer", "clusterIPs": ["10.96.3.3"], "ports": [],
                                        "externalIPs": ["192.0.2.1"]},
                                       {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"},
                                                                     {"hostname": "a-very-long-name.elb.example.com"},
                                                                     {"ip": "203.0.113.9"}]}}),
     ["web", "LoadBalancer", "10.96.3.3", "203.0.113.9,a-very-long-name.elb.example.com,192.0.2.1", "<none>", "45s",
      "<none>"]),
    ("external IPs", svc({"type": "ClusterIP", "clusterIPs": ["10.96.0.5"], "externalIPs": ["192.0.2.1", "192.0.2.2"],
                          "ports": [{"port": 443, "protocol": "TCP"}]}),
     ["web", "ClusterIP", "10.96.0.5", "192.0.2.1,192.0.2.2", "443/TCP", "45s", "<none>"]),
    ("headless", svc({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"], "ports": []}),
     ["web", "ClusterIP", "None", "<none>", "<none>", "45s", "<none>"]),
    ("external name", svc({"type": "ExternalName", "externalName": "db.example.com"}),
     ["web", "ExternalName", "<none>", "db.example.com", "<none>", "45s", "<none>"]),
]


@pytest.mark.parametrize(("service", "expected"), [(s, e) for _, s, e in SERVICE_CASES],
                         ids=[c[0] for c in SERVICE_CASES])
def test_service_rows(service: Obj, expected: list[str]) -> None:
    assert cells("Service", service) == expected


def test_endpoints_rows() -> None:
    endpoints = {"metadata": {"name": "web", "creationTimestamp": ago(minutes=1)}, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert cells("Endpoints", endpoints) == ["web", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...", "60s"]
    headless = {"metadata": {"name": "db"}, "subsets": [{"addresses": [{"ip": "fd00::1"}]}]}
    assert cells("Endpoints", headless)[1] == "fd00::1"
    assert cells("Endpoints", {"metadata": {"name": "none"}})[1] == "<none>"
    ipv6 = {"metadata": {"name": "v6"}, "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert cells("Endpoints", ipv6)[1] == "[fd00::1]:80"


def test_endpoint_slice_rows() -> None:
    endpoint_slice = {"metadata": {"name": "web-abc", "creationTimestamp": ago(minutes=1)}, "addressType": "IPv4",
                      "ports": [{"name": "http", "port": 80}, {"name": "metrics"}, {}],
                      "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]},
                                    {"addresses": ["10.0.0.4"]}]}
    assert cells("EndpointSlice", endpoint_slice) == ["web-abc", "IPv4", "80,metrics,*",
                                                      "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "60s"]
    empty = {"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": []}
    assert cells("EndpointSlice", empty)[2:4] == ["<unset>", "<unset>"]


# --- cluster and config kinds ------------------------------------------------------------------------------------

def node(labels: Obj, conditions: list[Obj], **extra: Any) -> Obj:
    return {"metadata": {"name": "node-1", "creationTimestamp": ago(days=2, hours=3), "labels": labels},
            "spec": extra.get("spec", {}),
            "status": {"conditions": conditions, "nodeInfo": {
                "kubeletVersion": "v1.37.0", "osImage": "Debian GNU/Linux 13 (trixie)", "kernelVersion": "6.12.0",
                "containerRuntimeVersion": "crun://1.21"},
                "addresses": [{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP",
                                                                         "address": "192.168.1.10"}]}}


READY, NOT_READY, UNKNOWN = ({"type": "Ready", "status": s} for s in ("True", "False", "Unknown"))


@pytest.mark.parametrize(("labels", "conditions", "spec", "status", "roles"), [
    ({"node-role.kubernetes.io/control-plane": ""}, [READY], {}, "Ready", "control-plane"),
    ({}, [NOT_READY], {}, "NotReady", "<none>"),
    ({}, [UNKNOWN], {"unschedulable": True}, "NotReady,SchedulingDisabled", "<none>"),
    ({}, [{"type": "MemoryPressure", "status": "False"}], {}, "Unknown", "<none>"),
    ({"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "edge", "node-role.kubernetes.io/": "x"}, [READY],
     {"unschedulable": True}, "Ready,SchedulingDisabled", "edge,worker"),
])
def test_node_rows(labels: Obj, conditions: list[Obj], spec: Obj, status: str, roles: str) -> None:
    assert cells("Node", node(labels, conditions, spec=spec)) == [
        "node-1", status, roles, "2d3h", "v1.37.0", "192.168.1.10", "<none>", "Debian GNU/Linux 13 (trixie)",
        "6.12.0", "crun://1.21"]


def test_node_without_info() -> None:
    assert cells("Node", {"metadata": {"name": "n"}}) == ["n", "Unknown", "<none>", "<unknown>", "", "<none>",
                                                         "<none>", "<unknown>", "<unknown>", "<unknown>"]


def test_event_rows() -> None:
    event = {"metadata": {"name": "web.17a", "namespace": "default"}, "type": "Warning", "reason": "BackOff",
             "message": "Back-off restarting failed container app in pod web\n",
             "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                                "fieldPath": "spec.containers{app}"},
             "source": {"component": "kubelet", "host": "node-1"}, "count": 5,
             "firstTimestamp": ago(minutes=10), "lastTimestamp": ago(seconds=8)}
    assert cells("Event", event) == ["8s", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, node-1",
                                     "Back-off restarting failed container app in pod web", "10m", 5, "web.17a"]
    new_style = {"metadata": {"name": "n.1"}, "type": "Normal", "reason": "Scheduled", "message": "ok",
                 "involvedObject": {"kind": "Node"}, "eventTime": "2026-03-01T11:59:00.000000Z",
                 "reportingController": "default-scheduler", "reportingInstance": "sched-1"}
    assert cells("Event", new_style) == ["60s", "Normal", "Scheduled", "node", "", "default-scheduler, sched-1", "ok",
                                         "60s", 1, "n.1"]
    series = {**new_style, "series": {"count": 7, "lastObservedTime": "2026-03-01T11:59:50.000000Z"}}
    assert cells("Event", series)[0] == "10s" and cells("Event", series)[8] == 7


@pytest.mark.parametrize(("kind", "obj", "expected"), [
    ("Namespace", {"metadata": {"name": "kube-system", "creationTimestamp": ago(days=400)},
                   "status": {"phase": "Active"}}, ["kube-system", "Active", "400d"]),
    ("Namespace", {"metadata": {"name": "old", "creationTimestamp": ago(days=1)},
                   "status": {"phase": "Terminating"}}, ["old", "Terminating", "24h"]),
    ("ConfigMap", {"metadata": {"name": "kube-root-ca.crt", "creationTimestamp": ago(minutes=90)},
                   "data": {"ca.crt": "x"}, "binaryData": {"b": "eA=="}}, ["kube-root-ca.crt", 2, "90m"]),
    ("ConfigMap", {"metadata": {"name": "empty", "creationTimestamp": ago(seconds=3)}}, ["empty", 0, "3s"]),
    ("Secret", {"metadata": {"name": "tls", "creationTimestamp": ago(hours=5)}, "type": "kubernetes.io/tls",
                "data": {"tls.crt": "", "tls.key": ""}}, ["tls", "kubernetes.io/tls", 2, "5h"]),
    ("ServiceAccount", {"metadata": {"name": "default", "creationTimestamp": ago(days=9)}}, ["default", 0, "9d"]),
    ("ServiceAccount", {"metadata": {"name": "builder"}, "secrets": [{"name": "builder-token"}]},
     ["builder", 1, "<unknown>"]),
    ("Lease", {"metadata": {"name": "node-1", "creationTimestamp": ago(hours=1)},
               "spec": {"holderIdentity": "node-1"}}, ["node-1", "node-1", "60m"]),
    ("Lease", {"metadata": {"name": "free"}, "spec": {}}, ["free", "", "<unknown>"]),
])
def test_simple_rows(kind: str, obj: Obj, expected: list[Any]) -> None:
    assert cells(kind, obj) == expected


@pytest.mark.parametrize(("spec", "status", "expected"), [
    ({"signerName": "kubernetes.io/kube-apiserver-client-kubelet", "username": "system:node:node-1"}, {},
     ["kubernetes.io/kube-apiserver-client-kubelet", "system:node:node-1", "<none>", "Pending"]),
    ({"signerName": "example.com/s", "username": "bob", "expirationSeconds": 86400},
     {"conditions": [{"type": "Approved", "status": "True"}],
      "certificate": base64.b64encode(b"cert").decode()},
     ["example.com/s", "bob", "24h", "Approved,Issued"]),
    ({"username": "eve"}, {"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]},
     ["<none>", "eve", "<none>", "Denied,Failed"]),
])
def test_certificate_signing_request_rows(spec: Obj, status: Obj, expected: list[str]) -> None:
    csr = {"metadata": {"name": "csr-1", "creationTimestamp": ago(seconds=20)}, "spec": spec, "status": status}
    name, age, *rest = cells("CertificateSigningRequest", csr)
    assert (name, age, rest) == ("csr-1", "20s", expected)


def test_default_table_for_kinds_without_a_printer() -> None:
    binding = {"metadata": {"name": "web", "creationTimestamp": "2026-03-01T10:00:00+02:00"}}
    assert cells("Binding", binding) == ["web", "2026-03-01T08:00:00Z"]
    assert cells("Binding", {"metadata": {"name": "x"}}) == ["x", "0001-01-01T00:00:00Z"]


# --- table envelope ----------------------------------------------------------------------------------------------

OBJ = {"metadata": {"name": "cfg", "namespace": "default", "uid": "u", "resourceVersion": "12",
                    "labels": {"app": "web"}, "creationTimestamp": ago(minutes=2)}, "data": {"a": "1"}}


def test_table_envelope_and_partial_object_metadata() -> None:
    result = table(_resource("ConfigMap"), [OBJ], now=NOW, resource_version="128", continue_token="tok",
                   remaining_item_count=3)
    assert result["kind"] == "Table" and result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "128", "continue": "tok", "remainingItemCount": 3}
    assert result["rows"] == [{"cells": ["cfg", 1, "2m"], "object": {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": OBJ["metadata"]}}]
    assert result["rows"][0]["object"]["metadata"] is not OBJ["metadata"]  # a copy, safe to serialise later


def test_include_object_modes_and_headers() -> None:
    whole = table(_resource("ConfigMap"), [OBJ], now=NOW, include_object="Object")
    assert whole["rows"][0]["object"] == OBJ
    bare = table(_resource("ConfigMap"), [OBJ], now=NOW, include_object="None", headers=False)
    assert bare["rows"][0]["object"] is None  # Go serialises the empty RawExtension as null
    assert bare["columnDefinitions"] is None and bare["metadata"] == {}
    with pytest.raises(ValueError):
        table(_resource("ConfigMap"), [OBJ], include_object="Everything")


def test_rows_keep_list_order() -> None:
    names = ["c", "a", "b"]
    objects = [{"metadata": {"name": n}} for n in names]
    assert [r["cells"][0] for r in table(_resource("ConfigMap"), objects, now=NOW)["rows"]] == names
