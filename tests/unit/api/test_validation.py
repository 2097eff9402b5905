"""Validation: Kubernetes' field paths, error types and messages, on defaulted objects as the apiserver sees them."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.services.api import resources
from provisioner.services.api.defaults import apply_defaults, default_job_selector
from provisioner.services.api.status import invalid as invalid_status
from provisioner.services.api.tables import table
from provisioner.services.api.validation import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    go_value,
    validate,
    validate_metadata_update,
)

Obj = dict[str, Any]

DNS_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                 "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _resource(kind: str) -> resources.Resource:
    return next(r for r in resources.RESOURCES if r.kind == kind)


def _stored(kind: str, obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    apply_defaults(_resource(kind), obj)
    if kind == "Job":
        default_job_selector(obj)
    return obj


def errors(kind: str, obj: Obj, old: Obj | None = None) -> list[str]:
    """``field: message`` for each cause, the way kubectl prints them, after defaulting like the apiserver."""
    new = _stored(kind, obj)
    previous = _stored(kind, old) if old is not None else None
    return [f"{c.field}: {c.message}" if c.field else c.message for c in validate(_resource(kind), new, previous)]


def container(**fields: Any) -> Obj:
    return {"name": "app", "image": "nginx:1.27", **fields}


def pod(*containers: Obj, name: str = "web", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": list(containers) or [container()], **spec}}


def template(labels: Obj | None = None, **spec: Any) -> Obj:
    return {"metadata": {"labels": {"app": "web"} if labels is None else labels},
            "spec": {"containers": [container()], **spec}}


def deployment(name: str = "web", **spec: Any) -> Obj:
    body = {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": body}


def job(**spec: Any) -> Obj:
    body = {"template": template(restartPolicy="Never"), **spec}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "8b6c2d3e"}, "spec": body}


def service(**spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}, **spec}}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CSR_PEM = ("-----BEGIN CERTIFICATE REQUEST-----\n"
           + base64.b64encode(bytes([0x30, 0x03, 0x02, 0x01, 0x00])).decode()
           + "\n-----END CERTIFICATE REQUEST-----\n")

VALID = {
    "Pod": pod(),
    "Deployment": deployment(),
    "ReplicaSet": {"metadata": {"name": "web-1", "namespace": "d"},
                   "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}},
    "ReplicationController": {"metadata": {"name": "rc", "namespace": "d"}, "spec": {"template": template()}},
    "DaemonSet": {"metadata": {"name": "agent", "namespace": "d"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}},
    "Job": job(),
    "Service": service(),
    "Endpoints": {"metadata": {"name": "web", "namespace": "d"},
                  "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
    "EndpointSlice": {"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv4",
                      "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": "node-1"}],
                      "ports": [{"name": "http", "port": 80}]},
    "ConfigMap": {"metadata": {"name": "settings", "namespace": "d"}, "data": {"app.conf": "x=1", "KEY_1": "v"}},
    "Secret": {"metadata": {"name": "creds", "namespace": "d"}, "data": {"password": b64("hunter2")}},
    "Namespace": {"metadata": {"name": "team-a"}},
    "Node": {"metadata": {"name": "node-1.example", "labels": {"node-role.kubernetes.io/control-plane": ""}},
             "spec": {"podCIDR": "10.244.0.0/24", "taints": [{"key": "dedicated", "value": "db",
                                                              "effect": "NoSchedule"}]}},
    "Event": {"metadata": {"name": "web.17a2b3c4d5e6f708", "namespace": "d"},
              "involvedObject": {"kind": "Pod", "name": "web", "namespace": "d"}, "reason": "Started"},
    "Lease": {"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
              "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}},
    "ServiceAccount": {"metadata": {"name": "default", "namespace": "d"}},
    "CertificateSigningRequest": {"metadata": {"name": "node-csr-Ab_c:1"}, "spec": {
        "request": b64(CSR_PEM), "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
        "usages": ["digital signature", "client auth"]}},
}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_objects_have_no_causes(kind: str) -> None:
    assert errors(kind, VALID[kind]) == []


def test_status_message_is_what_kubectl_prints() -> None:
    bad = deployment(name="bad", replicas=-1)
    causes = validate(_resource("Deployment"), _stored("Deployment", bad))
    error = invalid_status("Deployment", "apps", "bad", causes)
    assert error.code == 422
    assert error.message == ('Deployment.apps "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than '
                             "or equal to 0")
    assert error.to_status()["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0",
         "field": "spec.replicas"}]


@pytest.mark.parametrize(("check", "value", "expected"), [
    (dns1123_label_errors, "my-name", []),
    (dns1123_label_errors, "My_Name", [DNS_LABEL_MSG]),
    (dns1123_label_errors, "a.b", ["must not contain dots"]),
    (dns1123_label_errors, "a" * 64, ["must be no more than 63 characters"]),
    (dns1123_subdomain_errors, "a.b-c.d", []),
    (dns1123_subdomain_errors, "-a", [SUBDOMAIN_MSG]),
    (dns1123_subdomain_errors, "a" * 254, ["must be no more than 253 characters"]),
    (dns1035_label_errors, "web-1", []),
    (dns1035_label_errors, "1web", [DNS1035_MSG]),
])
def test_name_formats(check: Callable[[str], list[str]], value: str, expected: list[str]) -> None:
    assert check(value) == expected


def _with(base: Obj, path: str, value: Any) -> Obj:
    """A copy of ``base`` with the dotted ``path`` set (``containers.0.image`` style indexes)."""
    obj = copy.deepcopy(base)
    *parents, last = path.split(".")
    target: Any = obj
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return obj


CASES: list[tuple[str, str, Obj, list[str]]] = [
    # --- metadata -------------------------------------------------------------------------------------------
    ("name required", "Pod", _with(pod(), "metadata.name", ""),
     ["metadata.name: Required value: name or generateName is required"]),
    ("pod name is a subdomain", "Pod", pod(name="Web_1"), [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}']),
    ("service name is a DNS-1035 label", "Service", _with(service(), "metadata.name", "1web"),
     [f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']),
    ("namespace name is a label", "Namespace", {"metadata": {"name": "a.b"}},
     ['metadata.name: Invalid value: "a.b": must not contain dots']),
    ("label key and value", "Pod", _with(pod(), "metadata.labels", {"Example.com/app": "ok", "app": "-bad"}),
     [f'metadata.labels: Invalid value: "Example.com/app": prefix part {SUBDOMAIN_MSG}',
      "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric "
      "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
      "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
    ("annotations limited to 256 KiB", "ConfigMap",
     {"metadata": {"name": "big", "annotations": {"note": "x" * (256 * 1024)}}},
     ["metadata.annotations: Too long: must have at most 262144 bytes"]),
    ("unqualified custom finalizer", "ConfigMap", {"metadata": {"name": "c", "finalizers": ["cleanup"]}},
     ['metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully '
      "qualified"]),
    ("owner reference", "Pod", _with(pod(), "metadata.ownerReferences",
                                     [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": ""}]),
     ['metadata.ownerReferences.uid: Invalid value: "": must not be empty']),
    ("negative generation", "ConfigMap", {"metadata": {"name": "c", "generation": -1}},
     ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
    # --- pods -------------------------------------------------------------------------------------------------
    ("no containers", "Pod", _with(pod(), "spec.containers", []), ["spec.containers: Required value"]),
    ("image required", "Pod", pod(container(image="")), ["spec.containers[0].image: Required value"]),
    ("container names", "Pod", pod(container(name="App"), container(name="side"), container(name="side")),
     [f'spec.containers[0].name: Invalid value: "App": {DNS_LABEL_MSG}',
      'spec.containers[2].name: Duplicate value: "side"']),
    ("init container shares a name", "Pod", pod(initContainers=[container()]),
     ['spec.initContainers[0].name: Duplicate value: "app"']),
    ("ports", "Pod", pod(container(ports=[{"containerPort": 0}, {"containerPort": 70000, "protocol": "ICMP"},
                                          {"containerPort": 80, "name": "HTTP"}])),
     ["spec.containers[0].ports[0].containerPort: Required value",
      "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      'spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      'spec.containers[0].ports[2].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, '
      '0-9), and hyphens (-)',
      'spec.containers[0].ports[2].name: Invalid value: "HTTP": must contain at least one letter (a-z)']),
    ("restart policy", "Pod", pod(restartPolicy="Sometimes"),
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    ("dns policy", "Pod", pod(dnsPolicy="Google"),
     ['spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
      '"Default", "None"']),
    ("pull policy", "Pod", pod(container(imagePullPolicy="Sometimes")),
     ['spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
      '"IfNotPresent", "Never"']),
    ("requests above limits", "Pod", pod(container(resources={"limits": {"cpu": "500m"},
                                                              "requests": {"cpu": "0.6"}})),
     ['spec.containers[0].resources.requests: Invalid value: "600m": must be less than or equal to cpu limit of '
      "500m"]),
    ("negative and malformed quantities", "Pod", pod(container(resources={"requests": {"cpu": "-1",
                                                                                       "memory": "1 GB"}})),
     ['spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0',
      'spec.containers[0].resources.requests[memory]: Invalid value: "1 GB": quantities must match the regular '
      "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"]),
    ("unknown resource", "Pod", pod(container(resources={"limits": {"gpu": "1"}})),
     # A Pod's requests default from its limits, so the request is reported too.
     [f'spec.containers[0].resources.{which}[gpu]: Invalid value: "gpu": {message}'
      for which in ("limits", "requests")
      for message in ("must be a standard resource type or fully qualified",
                      "must be a standard resource for containers")]),
    ("extended resources are whole and not overcommitted", "Pod", pod(container(resources={
        "limits": {"example.com/gpu": "2"}, "requests": {"example.com/gpu": "500m"}})),
     ["spec.containers[0].resources.requests[example.com/gpu]: Invalid value: 500m: must be an integer",
      'spec.containers[0].resources.requests: Invalid value: "500m": must be equal to example.com/gpu limit of 2']),
    ("mount of a missing volume", "Pod", pod(container(volumeMounts=[{"name": "data", "mountPath": "/data"},
                                                                     {"name": "data", "mountPath": "/data"}])),
     ['spec.containers[0].volumeMounts[0].name: Not found: "data"',
      'spec.containers[0].volumeMounts[1].name: Not found: "data"',
      'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique']),
    ("volumes", "Pod", pod(volumes=[{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}},
                                    {"name": "b", "emptyDir": {}, "hostPath": {"path": "/x"}},
                                    {"name": "c", "configMap": {}, "secret": None},
                                    {"name": "d", "secret": {"secretName": "s", "defaultMode": 1000,
                                                             "items": [{"key": "k", "path": "../x"}]}}]),
     ['spec.volumes[1].name: Duplicate value: "a"',
      "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type",
      "spec.volumes[3].configMap.name: Required value",
      "spec.volumes[4].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both "
      "inclusive",
      'spec.volumes[4].secret.items[0].path: Invalid value: "../x": must not contain \'..\'']),
    ("probes", "Pod", pod(container(livenessProbe={"successThreshold": 2, "httpGet": {"port": 0}},
                                    readinessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})),
     ["spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
      "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
      "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
    ("env", "Pod", pod(container(env=[{"name": ""}, {"name": "A=B"}, {"name": "C", "value": "x",
                                                                      "valueFrom": {"secretKeyRef": {"key": "k"}}}])),
     ["spec.containers[0].env[0].name: Required value",
      'spec.containers[0].env[0].name: Invalid value: "": environment variable name must be non-empty',
      'spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable name must consist only of '
      "printable ASCII characters other than '='",
      "spec.containers[0].env[2].valueFrom.secretKeyRef.name: Required value",
      'spec.containers[0].env[2].valueFrom: Invalid value: "": may not be specified when `value` is not empty']),
    ("tolerations", "Pod", pod(tolerations=[{"key": "a", "operator": "Exists", "value": "x"},
                                            {"operator": "Equal", "value": "v"},
                                            {"key": "b", "effect": "NoSchedule", "tolerationSeconds": 5},
                                            {"key": "c", "operator": "Lt"}]),
     ['spec.tolerations[0].operator: Invalid value: core.Toleration{Key:"a", Operator:"Exists", Value:"x", Effect:"", '
      "TolerationSeconds:(*int64)(nil)}: value must be empty when `operator` is 'Exists'",
      'spec.tolerations[1].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which '
      'means "match all values and all keys"',
      "spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
      "`tolerationSeconds` is set",
      'spec.tolerations[3].operator: Unsupported value: "Lt": supported values: "Equal", "Exists"']),
    ("scheduling fields", "Pod", pod(nodeName="Node_1", activeDeadlineSeconds=0, hostname="h.x"),
     [f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN_MSG}',
      "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
      'spec.hostname: Invalid value: "h.x": must not contain dots']),
    ("init container probes need restartPolicy Always", "Pod",
     pod(initContainers=[container(name="init", livenessProbe={"exec": {"command": ["x"]}})]),
     ["spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without "
      "restartPolicy=Always"]),
    # --- deployments, replica sets, daemon sets, replication controllers ---------------------------------------
    ("deployment replicas", "Deployment", deployment(replicas=-1),
     ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    ("selector must match template labels", "Deployment", _with(deployment(), "spec.template.metadata.labels",
                                                                {"app": "other"}),
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match '
      "template `labels`"]),
    ("selector required", "Deployment", _with(deployment(), "spec.selector", None),
     ["spec.selector: Required value",
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match '
      "template `labels`"]),
    ("empty selector", "Deployment", _with(deployment(), "spec.selector", {}),
     ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]),
    ("selector expressions", "Deployment", _with(deployment(), "spec.selector", {"matchExpressions": [
        {"key": "app", "operator": "In"}, {"key": "tier", "operator": "Near", "values": ["x"]}]}),
     ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or "
      "'NotIn'",
      'spec.selector.matchExpressions[1].operator: Invalid value: "Near": not a valid selector operator',
      "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
      'MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"In", '
      'Values:[]string(nil)}, v1.LabelSelectorRequirement{Key:"tier", Operator:"Near", Values:[]string{"x"}}}}: '
      "invalid label selector"]),
    ("template restart policy", "Deployment", _with(deployment(), "spec.template.spec.restartPolicy", "Never"),
     ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    ("template container errors use the template path", "Deployment",
     _with(deployment(), "spec.template.spec.containers", [container(image="")]),
     ["spec.template.spec.containers[0].image: Required value"]),
    ("template labels path", "Deployment", _with(deployment(), "spec.template.metadata.labels",
                                                 {"app": "web", "bad key": "x"}),
     ["spec.template.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' "
      "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
      "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
    ("rolling update", "Deployment", deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 0, "maxSurge": "0%"}}),
     ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]),
    ("percentages", "Deployment", deployment(strategy={"rollingUpdate": {"maxUnavailable": "110%",
                                                                         "maxSurge": "lots"}}),
     ["spec.strategy.rollingUpdate.maxSurge: Invalid value: lots: a valid percent string must be a numeric string "
      "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
      "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 110%: must not be greater than 100%"]),
    ("strategy type", "Deployment", deployment(strategy={"type": "BlueGreen"}),
     ['spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", '
      "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\""]),
    ("recreate with rolling update", "Deployment", deployment(strategy={"type": "Recreate",
                                                                        "rollingUpdate": {"maxSurge": 1}}),
     ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
    ("progress deadline", "Deployment", deployment(minReadySeconds=30, progressDeadlineSeconds=30),
     ["spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds"]),
    ("replica set deadline", "ReplicaSet", _with(VALID["ReplicaSet"], "spec.template.spec.activeDeadlineSeconds", 5),
     ["spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"]),
    ("replication controller selector", "ReplicationController",
     {"metadata": {"name": "rc"}, "spec": {"selector": {"app": "x"}, "template": template()}},
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match '
      "template `labels`"]),
    ("replication controller without labels", "ReplicationController",
     {"metadata": {"name": "rc"}, "spec": {"template": template(labels={})}}, ["spec.selector: Required value"]),
    ("daemon set", "DaemonSet", _with(VALID["DaemonSet"], "spec.updateStrategy",
                                      {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0,
                                                                                  "maxSurge": 0}}),
     ["spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]),
    ("daemon set empty selector", "DaemonSet", _with(VALID["DaemonSet"], "spec.selector", {"matchLabels": {}}),
     ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset"]),
    # --- jobs ---------------------------------------------------------------------------------------------------
    ("job restart policy left to default", "Job", _with(job(), "spec.template.spec.restartPolicy", None),
     ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']),
    ("job restart policy", "Job", _with(job(), "spec.template.spec.restartPolicy", "Sometimes"),
     ['spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", '
      '"Never"',
      'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never"']),
    ("job counts", "Job", job(parallelism=-1, completions=-2, backoffLimit=-3),
     ["spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
      "spec.completions: Invalid value: -2: must be greater than or equal to 0",
      "spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0"]),
    ("indexed job", "Job", job(completionMode="Indexed", parallelism=2, completions=None),
     ["spec.completions: Required value: when completion mode is Indexed"]),
    ("manual selector must match", "Job", job(manualSelector=True, selector={"matchLabels": {"app": "other"}}),
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match '
      "template `labels`"]),
    # --- services -----------------------------------------------------------------------------------------------
    ("ports required", "Service", service(ports=[]), ["spec.ports: Required value"]),
    ("headless services need no ports", "Service", service(ports=[], clusterIP="None"), []),
    ("port checks", "Service", service(type="Bogus", ports=[{"port": 0, "targetPort": "HTTP"},
                                                            {"port": 80, "name": "web", "protocol": "IP"}]),
     ["spec.ports[0].name: Required value",
      "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
      'spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and '
      "hyphens (-)",
      'spec.ports[0].targetPort: Invalid value: "HTTP": must contain at least one letter (a-z)',
      'spec.ports[1].protocol: Unsupported value: "IP": supported values: "SCTP", "TCP", "UDP"',
      'spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
      '"NodePort"']),
    ("duplicate ports and names", "Service", service(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "a"}]),
     ['spec.ports[1].name: Duplicate value: "a"',
      'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
      'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']),
    ("node port on a ClusterIP service", "Service", service(ports=[{"port": 80, "nodePort": 30080}]),
     ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
    ("headless node port", "Service", service(type="NodePort", clusterIP="None"),
     ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]),
    ("external name", "Service", service(type="ExternalName", ports=[], externalName="-bad"),
     [f'spec.externalName: Invalid value: "-bad": {SUBDOMAIN_MSG}']),
    ("traffic policies", "Service", service(externalTrafficPolicy="Local", internalTrafficPolicy="Nearby"),
     ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
      'spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"']),
    ("cluster IP", "Service", service(clusterIP="10.0.0.300"),
     ['spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
      "2001:db8::ffff)"]),
    # --- config -------------------------------------------------------------------------------------------------
    ("config map keys", "ConfigMap", {"metadata": {"name": "c"}, "data": {"a b": "1", "..x": "2", "k": "3"},
                                      "binaryData": {"k": b64("x")}},
     ["data[..x]: Invalid value: \"..x\": must not start with '..'",
      "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or "
      "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      'data[k]: Invalid value: "k": duplicate of key present in binaryData',
      'binaryData[k]: Invalid value: "k": duplicate of key present in data']),
    ("config map size", "ConfigMap", {"metadata": {"name": "c"}, "data": {"big": "x" * (1024 * 1024 + 1)}},
     ["Too long: must have at most 1048576 bytes"]),
    ("secret data must be base64", "Secret", {"metadata": {"name": "s"}, "data": {"a": "not base64!"}},
     ['data[a]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3']),
    ("tls secret keys", "Secret", {"metadata": {"name": "s"}, "type": "kubernetes.io/tls",
                                   "data": {"tls.crt": b64("cert")}},
     ["data[tls.key]: Required value"]),
    ("dockerconfigjson must be JSON", "Secret", {"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson",
                                                 "data": {".dockerconfigjson": b64("nope")}},
     ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character \'n\' looking for '
      "beginning of value"]),
    ("service account token secret", "Secret", {"metadata": {"name": "s"},
                                                "type": "kubernetes.io/service-account-token"},
     ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
    # --- cluster kinds ------------------------------------------------------------------------------------------
    ("namespace finalizers", "Namespace", {"metadata": {"name": "ns"}, "spec": {"finalizers": ["cleanup"]}},
     ['spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully '
      "qualified"]),
    ("node pod CIDR", "Node", {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.0.0"}},
     ['spec.podCIDRs[0]: Invalid value: "10.244.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
      "2001:db8::/64)"]),
    ("node pod CIDRs per family", "Node", {"metadata": {"name": "n"},
                                           "spec": {"podCIDRs": ["10.244.0.0/24", "10.245.0.0/24"]}},
     ['spec.podCIDRs: Invalid value: []string{"10.244.0.0/24", "10.245.0.0/24"}: may specify no more than one CIDR '
      "for each IP family"]),
    ("node taints", "Node", {"metadata": {"name": "n"}, "spec": {"taints": [
        {"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "Never"}]}},
     ['metadata.taints[1]: Duplicate value: core.Taint{Key:"a", Value:"", Effect:"NoSchedule", '
      "TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
      'metadata.taints[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", '
      '"NoExecute"']),
    ("event namespace", "Event", {"metadata": {"name": "e", "namespace": "team"},
                                  "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}},
     ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']),
    ("event without involved object", "Event", {"metadata": {"name": "e", "namespace": "team"}},
     ['involvedObject.namespace: Invalid value: "": does not match event.namespace']),
    ("event names only need to be URL segments", "Event",
     {"metadata": {"name": "Web.Started:1", "namespace": "default"}, "involvedObject": {"kind": "Node", "name": "n"}},
     []),
    ("lease", "Lease", {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}},
     ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
      "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]),
    ("csr", "CertificateSigningRequest", {"metadata": {"name": "c"}, "spec": {
        "usages": ["client auth", "flying", "client auth"], "signerName": "example", "expirationSeconds": 60}},
     ["spec.request: Invalid value: []byte(nil): PEM block type must be CERTIFICATE REQUEST",
      'spec.usages[1]: Unsupported value: "flying": supported values: "any", "cert sign", "client auth", '
      '"code signing", "content commitment", "crl sign", "data encipherment", "decipher only", "digital signature", '
      '"email protection", "encipher only", "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement", '
      '"key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", '
      '"timestamping"',
      'spec.usages[2]: Duplicate value: "client auth"',
      "spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form "
      "'example.com/signer-name'",
      "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"]),
    ("csr usages and signer required", "CertificateSigningRequest",
     {"metadata": {"name": "c"}, "spec": {"request": b64(CSR_PEM)}},
     ["spec.usages: Required value", "spec.signerName: Required value"]),
    ("endpoint slice", "EndpointSlice", {"metadata": {"name": "s"}, "addressType": "IPv4", "endpoints": [
        {"addresses": []}, {"addresses": ["fd00::1"]}], "ports": [{"name": "a", "port": 0}, {"name": "a"}]},
     ["endpoints[0].addresses: Required value: must contain at least 1 address",
      'endpoints[1].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
      "ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
      'ports[1].name: Duplicate value: "a"']),
    ("endpoints", "Endpoints", {"metadata": {"name": "e"}, "subsets": [
        {"addresses": [{"ip": "x"}], "ports": [{"port": 80}, {"port": 81}]}, {"ports": [{"port": 1}]}]},
     ['subsets[0].addresses[0].ip: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      "subsets[0].ports[0].name: Required value", "subsets[0].ports[1].name: Required value",
      "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`"]),
]


@pytest.mark.parametrize(("kind", "obj", "expected"), [(k, o, e) for _, k, o, e in CASES],
                         ids=[c[0] for c in CASES])
def test_create_validation(kind: str, obj: Obj, expected: list[str]) -> None:
    assert errors(kind, obj) == expected


def test_job_generated_selector_needs_uid_and_labels() -> None:
    no_uid = job()
    del no_uid["metadata"]["uid"]
    assert errors("Job", no_uid)[0] == "metadata.uid: Required value"
    stored = _stored("Job", job())
    stored["spec"]["template"]["metadata"]["labels"]["job-name"] = "other"
    causes = [f"{c.field}: {c.message}" for c in validate(_resource("Job"), stored)]
    assert causes == ["spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"
                      '"app":"web", "batch.kubernetes.io/controller-uid":"8b6c2d3e", "batch.kubernetes.io/job-name":'
                      '"pi", "controller-uid":"8b6c2d3e", "job-name":"other"}: must be \'pi\'']
    stored = _stored("Job", job())
    stored["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "someone-else"}}
    causes = [f"{c.field}: {c.message}" for c in validate(_resource("Job"), stored)]
    assert causes == ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{'
                      '"batch.kubernetes.io/controller-uid":"someone-else"}, '
                      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated",
                      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web", '
                      '"batch.kubernetes.io/controller-uid":"8b6c2d3e", "batch.kubernetes.io/job-name":"pi", '
                      '"controller-uid":"8b6c2d3e", "job-name":"pi"}: `selector` does not match template `labels`']


def _updated(base: Obj, **changes: Any) -> Obj:
    new = copy.deepcopy(base)
    for path, value in changes.items():
        new = _with(new, path.replace("__", "."), value)
    return new


STORED_META = {"uid": "u-1", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z"}


def _stored_with_meta(obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    obj["metadata"].update(STORED_META)
    return obj


UPDATE_CASES: list[tuple[str, str, Obj, dict[str, Any], list[str]]] = [
    ("pod image may change", "Pod", pod(), {"spec__containers__0__image": "nginx:1.28"}, []),
    ("pod tolerations may be added", "Pod", pod(tolerations=[{"key": "a", "operator": "Exists"}]),
     {"spec__tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}, []),
    ("pod tolerations may not be removed", "Pod", pod(tolerations=[{"key": "a", "operator": "Exists"}]),
     {"spec__tolerations": []},
     ["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]),
    ("pod containers are fixed", "Pod", pod(), {"spec__containers": [container(), container(name="b")]},
     ["spec.containers: Forbidden: pod updates may not add or remove containers"]),
    ("pod deadline may only shrink", "Pod", pod(activeDeadlineSeconds=60), {"spec__activeDeadlineSeconds": 120},
     ["spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to previous value"]),
    ("deployment selector is immutable", "Deployment", deployment(),
     {"spec__selector": {"matchLabels": {"app": "web", "tier": "fe"}},
      "spec__template__metadata__labels": {"app": "web", "tier": "fe"}},
     ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"fe"}, '
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]),
    ("deployment replicas may change", "Deployment", deployment(), {"spec__replicas": 5}, []),
    ("replication controller selectors are mutable", "ReplicationController", VALID["ReplicationController"],
     {"spec__selector": {"app": "web"}}, []),
    ("job template is immutable", "Job", job(), {"spec__template__spec__containers__0__image": "perl:5"},
     ["spec.template: Invalid value: "]),
    ("suspended jobs that never ran may be rescheduled", "Job", job(suspend=True),
     {"spec__template__spec__nodeSelector": {"disk": "ssd"}, "spec__template__metadata__labels__team": "a"}, []),
    ("but not given new containers", "Job", job(suspend=True), {"spec__template__spec__containers__0__image": "x"},
     ["spec.template: Invalid value: "]),
    ("job completions are immutable", "Job", job(), {"spec__completions": 3},
     ["spec.completions: Invalid value: 3: field is immutable"]),
    ("secret type is immutable", "Secret", VALID["Secret"], {"type": "kubernetes.io/basic-auth"},
     ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable']),
    ("immutable config maps keep their data", "ConfigMap", {**VALID["ConfigMap"], "immutable": True},
     {"data": {"new": "1"}, "immutable": False},
     ["immutable: Forbidden: field is immutable when `immutable` is set",
      "data: Forbidden: field is immutable when `immutable` is set"]),
    ("node pod CIDR is set once", "Node", VALID["Node"], {"spec__podCIDR": "10.244.9.0/24",
                                                          "spec__podCIDRs": ["10.244.9.0/24"]},
     ['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']),
    ("service cluster IPs stay", "Service", service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"]),
     {"spec__clusterIP": "10.96.0.11", "spec__clusterIPs": ["10.96.0.11"]},
     ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set']),
    ("endpoint slice address type", "EndpointSlice", VALID["EndpointSlice"], {"addressType": "IPv6", "endpoints": []},
     ['addressType: Invalid value: "IPv6": field is immutable']),
]


@pytest.mark.parametrize(("kind", "old", "changes", "expected"), [(k, o, c, e) for _, k, o, c, e in UPDATE_CASES],
                         ids=[c[0] for c in UPDATE_CASES])
def test_update_validation(kind: str, old: Obj, changes: dict[str, Any], expected: list[str]) -> None:
    old = _stored_with_meta(old)
    found = errors(kind, _updated(old, **changes), old)
    assert [f[:len(e)] for f, e in zip(found, expected, strict=False)] == expected and len(found) == len(expected)


def test_pod_spec_changes_are_forbidden_with_the_kubernetes_message() -> None:
    old = _stored_with_meta(pod(container(ports=[{"containerPort": 80}])))
    found = errors("Pod", _updated(old, spec__containers__0__ports__0__containerPort=81), old)
    assert len(found) == 1
    head, _, diff = found[0].partition("\n")
    assert head == ("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                    "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                    "previously negative)")
    assert diff == "-  containers[0].ports[0].containerPort: 80\n+  containers[0].ports[0].containerPort: 81"


def test_a_negative_grace_period_may_become_one() -> None:
    old = _stored_with_meta(pod(terminationGracePeriodSeconds=-1))
    assert errors("Pod", _updated(old, spec__terminationGracePeriodSeconds=1), old) == []
    assert errors("Pod", _updated(old, spec__terminationGracePeriodSeconds=5), old)[0].startswith("spec: Forbidden")


def test_metadata_update() -> None:
    old = {"metadata": {"name": "a", "namespace": "n", "uid": "1", "resourceVersion": "5", "generation": 3,
                        "creationTimestamp": "2026-01-01T00:00:00Z", "deletionTimestamp": "2026-01-02T00:00:00Z",
                        "finalizers": ["example.com/keep"]}}
    new = {"metadata": {"name": "b", "namespace": "m", "uid": "2", "resourceVersion": "", "generation": 2,
                        "creationTimestamp": "2026-01-03T04:05:06Z", "deletionTimestamp": "2026-01-02T00:00:00Z",
                        "finalizers": ["example.com/keep", "example.com/more"]}}
    assert [f"{c.field}: {c.message}" for c in validate_metadata_update(new, old)] == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new '
        'finalizers []string{"example.com/more"}',
        'metadata.resourceVersion: Invalid value: "": must be specified for an update',
        "metadata.generation: Invalid value: 2: must not be decremented",
        'metadata.name: Invalid value: "b": field is immutable',
        'metadata.namespace: Invalid value: "m": field is immutable',
        'metadata.uid: Invalid value: "2": field is immutable',
        "metadata.creationTimestamp: Invalid value: 2026-01-03 04:05:06 +0000 UTC: field is immutable",
    ]


def test_unchanged_update_is_valid_for_every_kind() -> None:
    for kind, obj in VALID.items():
        stored = _stored(kind, _stored_with_meta(obj))
        assert validate(_resource(kind), copy.deepcopy(stored), stored) == [], kind


@pytest.mark.parametrize(("value", "shown"), [
    (-1, "-1"), (True, "true"), (None, "null"), ("x\"y", '"x\\"y"'), (1.5, "1.5"), (2.0, "2"),
    ({"b": "2", "a": "1"}, 'map[string]string{"a":"1", "b":"2"}'), (["a", "b"], '[]string{"a", "b"}'),
    ({"n": 1}, '{"n":1}'),
])
def test_values_print_like_go(value: Any, shown: str) -> None:
    assert go_value(value) == shown


_json = st.recursive(st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                max_size=3), max_leaves=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)), st.data())
def test_malformed_objects_are_reported_not_crashed_on(kind: str, data: st.DataObject) -> None:
    """Whatever shape a client sends, defaulting, validation and printing answer without raising."""
    obj = copy.deepcopy(VALID[kind])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(obj)))
        parent = obj
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = data.draw(_json)
    stored = _stored(kind, obj) if isinstance(obj.get("metadata"), dict) else obj
    validate(_resource(kind), copy.deepcopy(stored))
    validate(_resource(kind), copy.deepcopy(stored), _stored_with_meta(_stored(kind, VALID[kind])))
    table(_resource(kind), [stored], include_object="Object")
