"""Defaulting: what Kubernetes fills in on write, per kind, and the template equality rollouts depend on."""

from __future__ import annotations

import base64
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.services.api import resources
from provisioner.services.api.defaults import (
    apply_defaults,
    default_job_selector,
    default_pod_template,
    default_pull_policy,
    qos_class,
)

Obj = dict[str, Any]


def _resource(kind: str) -> resources.Resource:
    found = next((r for r in resources.RESOURCES if r.kind == kind), None)
    assert found is not None, kind
    return found


def defaulted(kind: str, obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    apply_defaults(_resource(kind), obj)
    return obj


# What `kubectl run nginx --image=nginx` sends, and the defaults kube-apiserver adds (admission plugins such as
# ServiceAccount and DefaultTolerationSeconds are not defaulting and are not part of this).
RUN_NGINX = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "labels": {"run": "nginx"}},
             "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}],
                      "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}, "status": {}}
RUN_NGINX_DEFAULTED = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "labels": {"run": "nginx"}},
    "spec": {
        "containers": [{"name": "nginx", "image": "nginx", "resources": {}, "imagePullPolicy": "Always",
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "enableServiceLinks": True, "securityContext": {},
        "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
    },
    "status": {"phase": "Pending", "qosClass": "BestEffort"},
}


def test_pod_from_kubectl_run() -> None:
    assert defaulted("Pod", RUN_NGINX) == RUN_NGINX_DEFAULTED


def test_defaulting_is_idempotent() -> None:
    once = defaulted("Pod", RUN_NGINX)
    assert defaulted("Pod", once) == once


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("docker.io/library/nginx", "Always"),
    ("localhost:5000/web", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.k8s.io/pause:3.10", "IfNotPresent"),
    ("localhost:5000/web:v2", "IfNotPresent"),
    ("busybox@sha256:" + "ab" * 32, "IfNotPresent"),
    ("busybox:latest@sha256:" + "ab" * 32, "Always"),
    ("Nginx", "IfNotPresent"),  # not a valid reference: Kubernetes cannot find a tag
    ("", "IfNotPresent"),
])
def test_image_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


def test_pathological_image_names_do_not_stall_the_parser() -> None:
    started = time.monotonic()
    assert default_pull_policy("a-" * 400 + "!") == "IfNotPresent"
    assert default_pull_policy(("ab" * 30 + ".") * 8 + "x:" + "y" * 200) == "IfNotPresent"
    assert default_pull_policy("x" * 100_000) == "IfNotPresent"
    assert time.monotonic() - started < 1.0


def test_explicit_values_are_kept() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {
        "restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 0,
        "enableServiceLinks": False, "schedulerName": "mine",
        "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never",
                        "terminationMessagePolicy": "FallbackToLogsOnError"}]}})
    spec = pod["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"]) == ("Never", "Default", 0)
    assert (spec["enableServiceLinks"], spec["schedulerName"]) == (False, "mine")
    container = spec["containers"][0]
    assert (container["imagePullPolicy"], container["terminationMessagePolicy"]) == ("Never", "FallbackToLogsOnError")


def test_container_details() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [{
        "name": "c", "image": "nginx:1.27",
        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}, {"name": "A", "value": "b"}],
        "livenessProbe": {"httpGet": {"port": 80}},
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 3, "timeoutSeconds": 0},
        "lifecycle": {"preStop": {"httpGet": {"port": 8080, "path": "/quit"}}},
        "resources": {"limits": {"cpu": "1000m", "memory": "1024Mi"}, "requests": {"cpu": "0.5"}},
    }]}})
    container = pod["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]
    assert container["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
    assert container["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                          "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert container["readinessProbe"] == {"tcpSocket": {"port": 80}, "periodSeconds": 3, "timeoutSeconds": 1,
                                           "successThreshold": 1, "failureThreshold": 3}
    assert container["lifecycle"]["preStop"]["httpGet"] == {"port": 8080, "path": "/quit", "scheme": "HTTP"}
    # Quantities are stored canonically; a Pod's missing requests are copied from its limits.
    assert container["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"},
                                       "requests": {"cpu": "500m", "memory": "1Gi"}}


def test_volume_sources() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}], "volumes": [
        {"name": "scratch"},
        {"name": "cm", "configMap": {"name": "settings"}},
        {"name": "secret", "secret": {"secretName": "s", "defaultMode": 256}},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
    ]}})
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert volumes["cm"]["configMap"] == {"name": "settings", "defaultMode": 420}
    assert volumes["secret"]["secret"] == {"secretName": "s", "defaultMode": 256}
    assert volumes["host"]["hostPath"] == {"path": "/var/log", "type": ""}
    assert volumes["info"]["downwardAPI"] == {"defaultMode": 420, "items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels", "apiVersion": "v1"}}]}
    assert volumes["token"]["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}
    assert volumes["claim"] == {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}}


def test_host_network_pods_expose_container_ports_on_the_host() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"hostNetwork": True, "containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 8080}, {"containerPort": 53, "hostPort": 5353}]}]}})
    assert [p["hostPort"] for p in pod["spec"]["containers"][0]["ports"]] == [8080, 5353]


def test_pod_status_on_create() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "x"}], "schedulingGates": [{"name": "wait"}]}})
    condition = pod["status"]["conditions"][0]
    stamped = datetime.strptime(condition.pop("lastTransitionTime"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - stamped) < timedelta(minutes=1)
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
        {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "reason": "SchedulingGated",
         "message": "Scheduling is blocked due to non-empty scheduling gates"}]}
    assert defaulted("Pod", pod)["status"]["conditions"] == pod["status"]["conditions"]  # added once
    running = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]},
                                "status": {"phase": "Running", "qosClass": "Burstable", "podIP": "10.0.0.5"}})
    assert running["status"] == {"phase": "Running", "qosClass": "Burstable", "podIP": "10.0.0.5",
                                 "podIPs": [{"ip": "10.0.0.5"}]}


def _pod(*containers: Obj, init: tuple[Obj, ...] = (), resources: Obj | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": f"c{i}", "image": "x", **c} for i, c in enumerate(containers)],
                 "initContainers": [{"name": f"i{i}", "image": "x", **c} for i, c in enumerate(init)]}
    if resources is not None:
        spec["resources"] = resources
    return {"metadata": {"name": "p"}, "spec": spec}


def _res(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    return {"resources": {k: v for k, v in (("requests", requests), ("limits", limits)) if v is not None}}


FULL = {"cpu": "500m", "memory": "128Mi"}

QOS_CASES = [
    ("no resources", _pod({}), "BestEffort"),
    ("only requests", _pod(_res(requests={"cpu": "100m"})), "Burstable"),
    ("limits become requests", _pod(_res(limits=FULL)), "Guaranteed"),
    ("equal requests and limits", _pod(_res(requests=FULL, limits=FULL)), "Guaranteed"),
    ("same amount spelt differently", _pod(_res(requests={"cpu": "0.5", "memory": "134217728"}, limits=FULL)),
     "Guaranteed"),
    ("cpu only", _pod(_res(limits={"cpu": "1"})), "Burstable"),
    ("requests below limits", _pod(_res(requests={"cpu": "100m", "memory": "128Mi"}, limits=FULL)), "Burstable"),
    ("one guaranteed, one best effort", _pod(_res(limits=FULL), {}), "Burstable"),
    ("init container counts", _pod(_res(limits=FULL), init=({},)), "Burstable"),
    ("all guaranteed with init", _pod(_res(limits=FULL), init=(_res(limits=FULL),)), "Guaranteed"),
    ("only extended resources", _pod(_res(limits={"example.com/gpu": "1"})), "BestEffort"),
    ("zero requests", _pod(_res(requests={"cpu": "0", "memory": "0"})), "BestEffort"),
    ("pod-level resources decide", _pod({}, resources={"limits": FULL}), "Guaranteed"),
]


@pytest.mark.parametrize(("pod", "expected"), [(p, e) for _, p, e in QOS_CASES], ids=[c[0] for c in QOS_CASES])
def test_qos_class(pod: Obj, expected: str) -> None:
    assert defaulted("Pod", pod)["status"]["qosClass"] == expected
    assert qos_class(defaulted("Pod", pod)) == expected


def test_pod_level_requests_default_from_containers_then_limits() -> None:
    pod = defaulted("Pod", _pod(_res(requests={"cpu": "100m"}), _res(requests={"cpu": "200m"}),
                                resources={"limits": {"cpu": "1", "memory": "1Gi"}}))
    assert pod["spec"]["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"},
                                        "requests": {"cpu": "300m", "memory": "1Gi"}}


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                 "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}}]}}},
}


def test_deployment_defaults() -> None:
    spec = defaulted("Deployment", DEPLOYMENT)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    template_spec = spec["template"]["spec"]
    assert template_spec["restartPolicy"] == "Always" and template_spec["securityContext"] == {}
    # Pod-only defaults stay out of templates, as in Kubernetes.
    assert "enableServiceLinks" not in template_spec
    assert template_spec["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "256Mi"}}
    recreate = defaulted("Deployment", {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "strategy": {"type": "Recreate"}}})
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}


def _replica_set_for(deployment: Obj, template_hash: str = "5d8f7c9b6") -> Obj:
    """What the deployment controller creates: the deployment's template plus the pod-template-hash label."""
    template = copy.deepcopy(deployment["spec"]["template"])
    template["metadata"]["labels"]["pod-template-hash"] = template_hash
    selector = copy.deepcopy(deployment["spec"]["selector"])
    selector["matchLabels"]["pod-template-hash"] = template_hash
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": f"web-{template_hash}"},
            "spec": {"replicas": 1, "selector": selector, "template": template}}


def _without_hash(template: Obj) -> Obj:
    template = copy.deepcopy(template)
    template["metadata"]["labels"].pop("pod-template-hash", None)
    return template


def test_replica_set_template_defaults_equal_to_its_deployments() -> None:
    deployment = defaulted("Deployment", DEPLOYMENT)
    replica_set = defaulted("ReplicaSet", _replica_set_for(deployment))
    assert _without_hash(replica_set["spec"]["template"]) == deployment["spec"]["template"]
    # ...also when the ReplicaSet is built from the template as the user wrote it.
    raw = defaulted("ReplicaSet", _replica_set_for(copy.deepcopy(DEPLOYMENT)))
    assert _without_hash(raw["spec"]["template"]) == deployment["spec"]["template"]


_names = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
_ports = st.lists(st.fixed_dictionaries({"containerPort": st.integers(1, 65535)},
                                        optional={"protocol": st.sampled_from(["TCP", "UDP"])}), max_size=2)
_probes = st.fixed_dictionaries({}, optional={
    "httpGet": st.fixed_dictionaries({"port": st.integers(1, 65535)}, optional={"path": st.just("/healthz")}),
    "periodSeconds": st.integers(0, 30)})
_quantities = st.sampled_from(["100m", "0.5", "1", "1000m", "64Mi", "1Gi", "1.5Gi", "2e3"])
_containers = st.fixed_dictionaries(
    {"name": _names, "image": st.sampled_from(["nginx", "nginx:1.27", "busybox:latest", "registry.k8s.io/pause:3.10"])},
    optional={"ports": _ports, "livenessProbe": _probes, "imagePullPolicy": st.sampled_from(["Always", "Never"]),
              "env": st.lists(st.fixed_dictionaries({"name": _names, "valueFrom": st.just(
                  {"fieldRef": {"fieldPath": "metadata.name"}})}), max_size=1),
              "resources": st.fixed_dictionaries({}, optional={
                  "limits": st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities),
                  "requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities)})})
_volumes = st.lists(st.one_of(
    st.fixed_dictionaries({"name": _names}),
    st.fixed_dictionaries({"name": _names, "configMap": st.just({"name": "cm"})}),
    st.fixed_dictionaries({"name": _names, "hostPath": st.just({"path": "/tmp"})}),
    st.fixed_dictionaries({"name": _names, "secret": st.just({"secretName": "s"})})), max_size=3)
_templates = st.fixed_dictionaries({
    "metadata": st.just({"labels": {"app": "web"}}),
    "spec": st.fixed_dictionaries({"containers": st.lists(_containers, min_size=1, max_size=3)},
                                  optional={"volumes": _volumes, "initContainers": st.lists(_containers, max_size=1),
                                            "restartPolicy": st.sampled_from(["Always", "OnFailure", "Never"]),
                                            "terminationGracePeriodSeconds": st.integers(0, 60),
                                            "nodeSelector": st.just({"disk": "ssd"})})})


def _wrap(kind: str, template: Obj) -> Obj:
    spec: Obj = {"template": template, "selector": {"matchLabels": {"app": "web"}}}
    if kind == "ReplicationController":
        spec["selector"] = {"app": "web"}
    return {"metadata": {"name": "x"}, "spec": spec}


@settings(max_examples=60)
@given(_templates)
def test_pod_templates_default_identically_wherever_they_appear(template: Obj) -> None:
    expected = copy.deepcopy(template)
    default_pod_template(expected)
    assert json.loads(json.dumps(expected)) == expected
    twice = copy.deepcopy(expected)
    default_pod_template(twice)
    assert twice == expected  # idempotent: re-defaulting a stored template changes nothing
    for kind in ("Deployment", "ReplicaSet", "ReplicationController", "DaemonSet", "Job"):
        assert defaulted(kind, _wrap(kind, copy.deepcopy(template)))["spec"]["template"] == expected, kind


def test_replication_controller_defaults_selector_and_labels_from_template() -> None:
    rc = defaulted("ReplicationController", {"metadata": {"name": "rc"}, "spec": {"template": {
        "metadata": {"labels": {"app": "old"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    assert rc["spec"]["selector"] == {"app": "old"} and rc["metadata"]["labels"] == {"app": "old"}
    assert rc["spec"]["replicas"] == 1
    kept = defaulted("ReplicationController", {"metadata": {"name": "rc", "labels": {"team": "a"}}, "spec": {
        "selector": {"app": "old"}, "template": {"metadata": {"labels": {"app": "old", "v": "1"}}, "spec": {}}}})
    assert kept["spec"]["selector"] == {"app": "old"} and kept["metadata"]["labels"] == {"team": "a"}


def test_daemon_set_defaults() -> None:
    spec = defaulted("DaemonSet", {"metadata": {"name": "ds"}, "spec": {"template": {"spec": {}}}})["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10
    on_delete = defaulted("DaemonSet", {"metadata": {"name": "ds"}, "spec": {"updateStrategy": {"type": "OnDelete"}}})
    assert on_delete["spec"]["updateStrategy"] == {"type": "OnDelete"}


JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "uid": "1234-abcd"},
       "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}}


def test_job_defaults_and_generated_selector() -> None:
    job = defaulted("Job", JOB)
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"], spec["manualSelector"]) == ("NonIndexed", False, False)
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    default_job_selector(job)
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234-abcd"}}
    assert spec["template"]["metadata"]["labels"] == {
        "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "1234-abcd", "batch.kubernetes.io/controller-uid": "1234-abcd"}
    assert "labels" not in job["metadata"]  # the template had no labels to share


def test_job_labels_share_the_template_labels_like_go_maps() -> None:
    job = copy.deepcopy(JOB)
    job["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    job = defaulted("Job", job)
    default_job_selector(job)
    assert job["metadata"]["labels"] == {"app": "pi", "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
                                         "controller-uid": "1234-abcd", "batch.kubernetes.io/controller-uid": "1234-abcd"}


def test_job_selector_keeps_user_labels_and_manual_selectors() -> None:
    job = copy.deepcopy(JOB)
    job["spec"]["template"]["metadata"] = {"labels": {"job-name": "custom"}}
    job = defaulted("Job", job)
    default_job_selector(job)
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "custom"
    manual = copy.deepcopy(JOB)
    manual["spec"]["manualSelector"] = True
    manual["spec"]["selector"] = {"matchLabels": {"app": "pi"}}
    manual = defaulted("Job", manual)
    default_job_selector(manual)
    assert manual["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert "metadata" not in manual["spec"]["template"]


ABSENT = object()


@pytest.mark.parametrize(("spec", "expected"), [
    ({"parallelism": 3}, {"parallelism": 3, "completions": ABSENT, "backoffLimit": 6}),
    ({"completions": 5}, {"completions": 5, "parallelism": 1}),
    ({"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1},
     {"backoffLimit": 2**31 - 1, "completionMode": "Indexed"}),
    ({"podFailurePolicy": {"rules": [{"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget"}]}]}},
     {"podReplacementPolicy": "Failed",
      "podFailurePolicy": {"rules": [{"action": "FailJob",
                                      "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}}),
])
def test_job_spec_variants(spec: Obj, expected: Obj) -> None:
    job = copy.deepcopy(JOB)
    job["spec"].update(spec)
    defaulted_spec = defaulted("Job", job)["spec"]
    for key, value in expected.items():
        assert defaulted_spec.get(key, ABSENT) == value, key


SERVICE_CASES = [
    ("expose",
     {"spec": {"ports": [{"port": 8000, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "web"},
               "type": "NodePort"}, "status": {"loadBalancer": {}}},
     {"spec": {"ports": [{"port": 8000, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "web"},
               "type": "NodePort", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
               "internalTrafficPolicy": "Cluster"}, "status": {"loadBalancer": {}}}),
    ("minimal",
     {"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "name": "https"}]}},
     {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                         {"port": 443, "targetPort": "https", "name": "https", "protocol": "TCP"}],
               "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"},
      "status": {"loadBalancer": {}}}),
    ("client ip affinity and external IPs",
     {"spec": {"ports": [{"port": 80}], "sessionAffinity": "ClientIP", "externalIPs": ["192.0.2.7"]}},
     {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "sessionAffinity": "ClientIP",
               "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}, "externalIPs": ["192.0.2.7"],
               "type": "ClusterIP", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster"},
      "status": {"loadBalancer": {}}}),
    ("load balancer",
     {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
      "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}}},
     {"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
               "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
               "allocateLoadBalancerNodePorts": True},
      "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9", "ipMode": "VIP"},
                                              {"hostname": "lb.example.com"}]}}}),
    ("external name",
     {"spec": {"type": "ExternalName", "externalName": "db.example.com"}},
     {"spec": {"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"},
      "status": {"loadBalancer": {}}}),
]


@pytest.mark.parametrize(("given_service", "expected"), [(g, e) for _, g, e in SERVICE_CASES],
                         ids=[c[0] for c in SERVICE_CASES])
def test_service_defaults(given_service: Obj, expected: Obj) -> None:
    service = defaulted("Service", {"metadata": {"name": "web"}, **given_service})
    assert {k: v for k, v in service.items() if k != "metadata"} == expected


def test_namespace_defaults() -> None:
    namespace = defaulted("Namespace", {"metadata": {"name": "team-a"}})
    assert namespace == {"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                         "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    finalized = defaulted("Namespace", {"metadata": {"name": "x"}, "spec": {"finalizers": []},
                                        "status": {"phase": "Terminating"}})
    assert finalized["spec"] == {"finalizers": []} and finalized["status"] == {"phase": "Terminating"}


def test_secret_defaults_fold_string_data_into_data() -> None:
    secret = defaulted("Secret", {"metadata": {"name": "s"}, "data": {"a": base64.b64encode(b"old").decode()},
                                  "stringData": {"a": "new", "b": "two"}})
    assert secret == {"metadata": {"name": "s"}, "type": "Opaque",
                      "data": {"a": base64.b64encode(b"new").decode(), "b": base64.b64encode(b"two").decode()}}
    assert defaulted("Secret", {"metadata": {"name": "t"}, "type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"


def test_node_defaults() -> None:
    node = defaulted("Node", {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.1.0/24"},
                              "status": {"capacity": {"cpu": "2", "memory": "8148932Ki", "pods": "110"}}})
    assert node["spec"] == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}
    assert node["status"]["allocatable"] == {"cpu": "2", "memory": "8148932Ki", "pods": "110"}
    assert "phase" not in node["status"]
    both = defaulted("Node", {"metadata": {"name": "n2"}, "spec": {"podCIDRs": ["10.244.2.0/24", "fd00::/64"]}})
    assert both["spec"]["podCIDR"] == "10.244.2.0/24"


def test_endpoints_and_slices_default_protocol() -> None:
    endpoints = defaulted("Endpoints", {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]})
    assert [p["protocol"] for p in endpoints["subsets"][0]["ports"]] == ["TCP", "UDP"]
    endpoint_slice = defaulted("EndpointSlice", {"metadata": {"name": "web-x"}, "addressType": "IPv4",
                                                 "endpoints": [], "ports": [{"port": 80}]})
    assert endpoint_slice["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]


@pytest.mark.parametrize("kind", ["ConfigMap", "ServiceAccount", "Event", "Lease", "CertificateSigningRequest"])
def test_kinds_without_defaults_are_untouched(kind: str) -> None:
    obj = {"metadata": {"name": "x"}, "data": {"k": "v"}, "spec": {"usages": []}}
    assert defaulted(kind, obj) == obj


def test_malformed_shapes_are_left_for_validation() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"containers": ["not-an-object", {"name": "c"}],
                                                                "volumes": "nope"}})
    assert pod["spec"]["containers"][0] == "not-an-object"
    assert pod["spec"]["containers"][1]["imagePullPolicy"] == "IfNotPresent"
    assert pod["spec"]["volumes"] == "nope"
    odd = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "x", "resources": {"limits": {"cpu": "lots"}}}]}})
    assert odd["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "lots"}
