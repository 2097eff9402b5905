"""Field types, strict decoding and OpenAPI schemas of the served kinds (typeschema.py, decode.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.services.api import resources, typeschema
from provisioner.services.api.decode import (
    QUANTITY_FORMAT_ERROR,
    QUANTITY_SUFFIX_ERROR,
    RFC3339_MICRO,
    FieldReport,
    apply_field_validation,
    base64_error,
    check_fields,
    go_quote,
    loads_checking_duplicates,
    quantity_error,
    time_error,
)
from provisioner.services.api.status import ApiError

# ------------------------------------------------------------------------------------------ fixtures

T0 = "2025-03-01T10:00:00Z"
T1 = "2025-03-01T10:05:12Z"
LABELS = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}

POD_SPEC: dict[str, Any] = {
    "serviceAccountName": "web",
    "automountServiceAccountToken": False,
    "priorityClassName": "shop-critical",
    "terminationGracePeriodSeconds": 45,
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "enableServiceLinks": False,
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "securityContext": {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
        "fsGroupChangePolicy": "OnRootMismatch", "supplementalGroups": [4000],
        "seccompProfile": {"type": "RuntimeDefault"}, "sysctls": [{"name": "net.ipv4.ip_local_port_range",
                                                                    "value": "1024 65000"}],
    },
    "imagePullSecrets": [{"name": "registry-credentials"}],
    "initContainers": [{
        "name": "migrate", "image": "registry.example.com/shop/web:1.4.2", "command": ["/app/migrate"],
        "args": ["--wait"], "envFrom": [{"secretRef": {"name": "web-db"}}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    }, {
        "name": "log-shipper", "image": "fluent/fluent-bit:3.0", "restartPolicy": "Always",
        "volumeMounts": [{"name": "logs", "mountPath": "/logs", "readOnly": True}],
    }],
    "containers": [{
        "name": "web",
        "image": "registry.example.com/shop/web:1.4.2",
        "imagePullPolicy": "IfNotPresent",
        "workingDir": "/app",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"containerName": "web",
                                                                     "resource": "limits.cpu", "divisor": "1m"}}},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "web-db", "key": "password"}}},
            {"name": "FEATURES", "valueFrom": {"configMapKeyRef": {"name": "web", "key": "features",
                                                                   "optional": True}}},
        ],
        "envFrom": [{"configMapRef": {"name": "web"}, "prefix": "WEB_"}],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "1Gi"},
            "limits": {"cpu": 1, "memory": "512Mi", "nvidia.com/gpu": 1},
            "claims": [{"name": "gpu", "request": "one-gpu"}],
        },
        "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
                                      "httpHeaders": [{"name": "X-Probe", "value": "liveness"}]},
                          "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 2,
                          "failureThreshold": 3, "successThreshold": 1},
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
        "startupProbe": {"exec": {"command": ["/app/ready"]}, "failureThreshold": 30, "periodSeconds": 2,
                         "terminationGracePeriodSeconds": 10},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}},
                      "postStart": {"exec": {"command": ["/bin/sh", "-c", "echo started"]}}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                            "appArmorProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/web", "readOnly": True},
            {"name": "cache", "mountPath": "/var/cache/web"},
            {"name": "logs", "mountPath": "/logs", "subPathExpr": "$(POD_NAME)"},
            {"name": "tokens", "mountPath": "/var/run/secrets/tokens", "readOnly": True,
             "recursiveReadOnly": "IfPossible", "mountPropagation": "None"},
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }],
    "volumes": [
        {"name": "config", "configMap": {"name": "web", "defaultMode": 420,
                                         "items": [{"key": "web.yaml", "path": "web.yaml"}]}},
        {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "128Mi"}},
        {"name": "logs", "hostPath": {"path": "/var/log/shop", "type": "DirectoryOrCreate"}},
        {"name": "certs", "secret": {"secretName": "web-tls", "optional": False}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "web-data", "readOnly": False}},
        {"name": "shared", "nfs": {"server": "nfs.example.com", "path": "/exports/shop", "readOnly": True}},
        {"name": "podinfo", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath":
                                                                                       "metadata.labels"}}]}},
        {"name": "tokens", "projected": {"defaultMode": 292, "sources": [
            {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600, "path": "vault-token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            {"secret": {"name": "extra", "optional": True}},
        ]}},
        {"name": "secrets-store", "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True,
                                          "volumeAttributes": {"secretProviderClass": "web"}}},
        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
            "metadata": {"labels": {"type": "scratch"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                     "resources": {"requests": {"storage": "10Gi"}}}}}},
        {"name": "models", "image": {"reference": "registry.example.com/models/llm:1", "pullPolicy": "IfNotPresent"}},
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large", "m5.xlarge"]},
            ]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "preference": {"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1a"]}]}}],
        },
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "cache"}},
            "topologyKey": "kubernetes.io/hostname"}}]},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                                    "values": ["web"]}]},
            "topologyKey": "kubernetes.io/hostname", "matchLabelKeys": ["pod-template-hash"]}]},
    },
    "tolerations": [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"},
    ],
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                   "whenUnsatisfiable": "ScheduleAnyway",
                                   "labelSelector": {"matchLabels": LABELS}, "minDomains": 2,
                                   "nodeTaintsPolicy": "Honor", "matchLabelKeys": ["pod-template-hash"]}],
    "hostAliases": [{"ip": "10.0.0.10", "hostnames": ["legacy.internal"]}],
    "dnsConfig": {"nameservers": ["10.0.0.53"], "searches": ["shop.svc.cluster.local"],
                  "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
    "readinessGates": [{"conditionType": "example.com/load-balancer-ready"}],
    "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "one-gpu"}],
    "schedulingGates": [{"name": "example.com/quota"}],
    "os": {"name": "linux"},
}

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web", "namespace": "shop", "labels": LABELS,
        "annotations": {"deployment.kubernetes.io/revision": "3",
                        "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"apps/v1\"}"},
        "uid": "5b0d3c9e-9b7e-4d1c-a3f5-2f1f7a6f9a11", "resourceVersion": "48211", "generation": 3,
        "creationTimestamp": T0, "finalizers": ["example.com/protect"],
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
                           "time": T0, "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                                        "f:spec": {"f:replicas": {}}}}],
    },
    "spec": {
        "replicas": 3,
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": 600,
        "minReadySeconds": 5,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        "template": {"metadata": {"labels": LABELS, "annotations": {"prometheus.io/scrape": "true"}},
                     "spec": POD_SPEC},
    },
    "status": {
        "observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "conditions": [
            {"type": "Available", "status": "True", "lastUpdateTime": T0, "lastTransitionTime": T0,
             "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "lastUpdateTime": T1, "lastTransitionTime": T0,
             "reason": "NewReplicaSetAvailable", "message": "ReplicaSet \"web-7d4b9c\" has successfully progressed."},
        ],
    },
}

NODE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "name": "worker-1",
        "labels": {"kubernetes.io/hostname": "worker-1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                   "node.kubernetes.io/instance-type": "m5.large"},
        "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach":
                        "true"},
    },
    "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"],
             "providerID": "aws:///eu-west-1a/i-0abc", "unschedulable": False,
             "taints": [{"key": "dedicated", "value": "shop", "effect": "NoSchedule", "timeAdded": T0}]},
    "status": {
        "capacity": {"cpu": "2", "memory": "8025436Ki", "pods": "110", "ephemeral-storage": "81106868Ki",
                     "hugepages-2Mi": "0", "hugepages-1Gi": "0"},
        "allocatable": {"cpu": "1930m", "memory": "7398748Ki", "pods": "110", "ephemeral-storage": "74748379953",
                        "hugepages-2Mi": "0", "hugepages-1Gi": "0"},
        "conditions": [
            {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": T1, "lastTransitionTime": T0,
             "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
            {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": T1, "lastTransitionTime": T0,
             "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
            {"type": "PIDPressure", "status": "False", "lastHeartbeatTime": T1, "lastTransitionTime": T0,
             "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available"},
            {"type": "Ready", "status": "True", "lastHeartbeatTime": T1, "lastTransitionTime": T0,
             "reason": "KubeletReady", "message": "kubelet is posting ready status"},
        ],
        "addresses": [{"type": "InternalIP", "address": "10.0.1.17"}, {"type": "Hostname", "address": "worker-1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "ec2a3b7a0c2d4f6e8a1b2c3d4e5f6a7b", "systemUUID": "ec2a3b7a-0c2d-4f6e-8a1b-2c3d4e5f6a7b",
            "bootID": "6f1c1d2e-3f4a-4b5c-8d9e-0f1a2b3c4d5e", "kernelVersion": "6.8.0-1015-aws",
            "osImage": "Ubuntu 24.04.1 LTS", "containerRuntimeVersion": "containerd://1.7.22",
            "kubeletVersion": "v1.37.0", "kubeProxyVersion": "", "operatingSystem": "linux",
            "architecture": "amd64", "swap": {"capacity": 0},
        },
        "images": [{"names": ["registry.k8s.io/pause@sha256:7031c1b2", "registry.k8s.io/pause:3.10"],
                    "sizeBytes": 320368}],
        "volumesInUse": ["kubernetes.io/csi/ebs.csi.aws.com^vol-0abc"],
        "volumesAttached": [{"name": "kubernetes.io/csi/ebs.csi.aws.com^vol-0abc", "devicePath": ""}],
        "runtimeHandlers": [{"name": "runc", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}},
                            {"name": "", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}}],
        "features": {"supplementalGroupsPolicy": True},
        "config": {},
    },
}

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-7d4b9c-x2x9k", "namespace": "shop", "labels": {**LABELS, "pod-template-hash": "7d4b9c"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
                                      "uid": "0b6e2d3c-1f4a-4c5d-9e8f-7a6b5c4d3e2f", "controller": True,
                                      "blockOwnerDeletion": True}]},
    "spec": {**POD_SPEC, "nodeName": "worker-1"},
    "status": {
        "observedGeneration": 1,
        "phase": "Running",
        "conditions": [{"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": None,
                        "lastTransitionTime": T0},
                       {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": T1}],
        "hostIP": "10.0.1.17", "hostIPs": [{"ip": "10.0.1.17"}],
        "podIP": "10.244.1.23", "podIPs": [{"ip": "10.244.1.23"}, {"ip": "fd00:10:244:1::17"}],
        "startTime": T0,
        "qosClass": "Burstable",
        "initContainerStatuses": [{
            "name": "migrate", "ready": True, "restartCount": 0, "image": "registry.example.com/shop/web:1.4.2",
            "imageID": "registry.example.com/shop/web@sha256:9f86d081", "containerID": "containerd://aa11",
            "started": False,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": T0, "finishedAt": T0,
                                     "containerID": "containerd://aa11"}},
            "lastState": {},
        }],
        "containerStatuses": [{
            "name": "web", "ready": True, "restartCount": 1, "started": True,
            "image": "registry.example.com/shop/web:1.4.2", "imageID": "registry.example.com/shop/web@sha256:9f86d081",
            "containerID": "containerd://bb22",
            "state": {"running": {"startedAt": T1}},
            "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled", "startedAt": T0,
                                         "finishedAt": T1, "containerID": "containerd://cc33"}},
            "allocatedResources": {"cpu": "250m", "memory": "256Mi"},
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": True,
                              "recursiveReadOnly": "Disabled"}],
            "user": {"linux": {"uid": 10001, "gid": 10001, "supplementalGroups": [10001, 4000]}},
        }, {
            "name": "sidecar", "ready": False, "restartCount": 4, "image": "busybox:1.36", "imageID": "",
            "started": False,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
        }],
    },
}

FIXTURES: dict[str, dict[str, Any]] = {
    "Namespace": {"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}},
                  "spec": {"finalizers": ["kubernetes"]},
                  "status": {"phase": "Terminating", "conditions": [{
                      "type": "NamespaceContentRemaining", "status": "True", "lastTransitionTime": T1,
                      "reason": "SomeResourcesRemain", "message": "Some resources are remaining: pods. has 1"}]}},
    "Node": NODE,
    "Pod": POD,
    "Binding": {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web-7d4b9c-x2x9k", "namespace": "shop"},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "worker-1"}},
    "Service": {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop", "labels": LABELS},
                "spec": {"type": "NodePort", "selector": {"app.kubernetes.io/name": "web"},
                         "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"], "ipFamilies": ["IPv4"],
                         "ipFamilyPolicy": "SingleStack", "externalTrafficPolicy": "Local",
                         "internalTrafficPolicy": "Cluster", "sessionAffinity": "ClientIP",
                         "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                         "trafficDistribution": "PreferClose",
                         "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http",
                                    "nodePort": 30080, "appProtocol": "http"},
                                   {"name": "metrics", "port": 9090, "targetPort": 9090}]},
                "status": {"loadBalancer": {}}},
    "Endpoints": {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "shop"},
                  "subsets": [{"addresses": [{"ip": "10.244.1.23", "nodeName": "worker-1",
                                              "targetRef": {"kind": "Pod", "namespace": "shop",
                                                            "name": "web-7d4b9c-x2x9k", "uid": "1f2e"}}],
                               "notReadyAddresses": [{"ip": "10.244.2.9", "hostname": "web-2"}],
                               "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]},
    "Event": {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "web-7d4b9c-x2x9k.17f3a2b4c5d6e7f8", "namespace": "shop"},
              "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-7d4b9c-x2x9k", "uid": "1f2e",
                                 "apiVersion": "v1", "resourceVersion": "48230",
                                 "fieldPath": "spec.containers{web}"},
              "reason": "BackOff", "message": "Back-off restarting failed container web",
              "source": {"component": "kubelet", "host": "worker-1"},
              "firstTimestamp": T0, "lastTimestamp": T1, "count": 7, "type": "Warning",
              "eventTime": None, "reportingComponent": "kubelet", "reportingInstance": "worker-1"},
    "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "shop"},
                  "immutable": False, "data": {"web.yaml": "listen: :8080\n", "features": "a,b"},
                  "binaryData": {"logo.png": "iVBORw0KGgo="}},
    "Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-db", "namespace": "shop"},
               "type": "Opaque", "data": {"password": "czNjcjN0", "dsn": "cG9zdGdyZXM6Ly8=\n"},
               "stringData": {"user": "web"}},
    "ServiceAccount": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"},
                       "secrets": [{"name": "web-token"}], "imagePullSecrets": [{"name": "registry-credentials"}],
                       "automountServiceAccountToken": False},
    "ReplicationController": {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"app": "legacy"}, "template": {
            "metadata": {"labels": {"app": "legacy"}},
            "spec": {"containers": [{"name": "legacy", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}},
        "status": {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                   "observedGeneration": 1},
    },
    "Deployment": DEPLOYMENT,
    "ReplicaSet": {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": "web-7d4b9c", "namespace": "shop",
                                "annotations": {"deployment.kubernetes.io/desired-replicas": "3"}},
                   "spec": {"replicas": 3, "selector": {"matchLabels": {"pod-template-hash": "7d4b9c"}},
                            "template": {"metadata": {"labels": {"pod-template-hash": "7d4b9c"}}, "spec": POD_SPEC}},
                   "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                              "terminatingReplicas": 0, "observedGeneration": 1}},
    "DaemonSet": {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-exporter",
                                                                            "namespace": "monitoring"},
                  "spec": {"selector": {"matchLabels": {"app": "node-exporter"}},
                           "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%",
                                                                                         "maxSurge": 0}},
                           "template": {"metadata": {"labels": {"app": "node-exporter"}}, "spec": {
                               "hostNetwork": True, "hostPID": True,
                               "tolerations": [{"operator": "Exists"}],
                               "containers": [{"name": "node-exporter", "image": "prom/node-exporter:v1.8.2",
                                               "args": ["--path.rootfs=/host"],
                                               "volumeMounts": [{"name": "root", "mountPath": "/host",
                                                                 "mountPropagation": "HostToContainer"}]}],
                               "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}}},
                  "status": {"currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3,
                             "numberReady": 3, "observedGeneration": 2, "updatedNumberScheduled": 3,
                             "numberAvailable": 3}},
    "Job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "report", "namespace": "shop"},
            "spec": {"completions": 5, "parallelism": 2, "backoffLimit": 3, "completionMode": "Indexed",
                     "backoffLimitPerIndex": 1, "ttlSecondsAfterFinished": 3600, "activeDeadlineSeconds": 1800,
                     "podReplacementPolicy": "Failed", "suspend": False,
                     "podFailurePolicy": {"rules": [
                         {"action": "FailJob", "onExitCodes": {"containerName": "report", "operator": "In",
                                                               "values": [42]}},
                         {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
                     "successPolicy": {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2}]},
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "report", "image": "registry.example.com/shop/report:2"}]}}},
            "status": {"startTime": T0, "active": 2, "succeeded": 1, "failed": 0, "ready": 2, "terminating": 0,
                       "completedIndexes": "0", "uncountedTerminatedPods": {"succeeded": ["9f0e"]},
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "False", "lastProbeTime": T1,
                                       "lastTransitionTime": T1}]}},
    "Lease": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
              "metadata": {"name": "worker-1", "namespace": "kube-node-lease",
                           "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "worker-1",
                                                "uid": "7c6b"}]},
              "spec": {"holderIdentity": "worker-1", "leaseDurationSeconds": 40,
                       "acquireTime": "2025-03-01T10:00:00.000000Z", "renewTime": "2025-03-01T10:05:12.123456Z",
                       "leaseTransitions": 0}},
    "EndpointSlice": {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"name": "web-abc12", "namespace": "shop",
                                   "labels": {"kubernetes.io/service-name": "web",
                                              "endpointslice.kubernetes.io/managed-by":
                                                  "endpointslice-controller.k8s.io"}},
                      "addressType": "IPv4",
                      "endpoints": [{"addresses": ["10.244.1.23"], "nodeName": "worker-1", "zone": "eu-west-1a",
                                     "conditions": {"ready": True, "serving": True, "terminating": False},
                                     "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-7d4b9c-x2x9k",
                                                   "uid": "1f2e"},
                                     "hints": {"forZones": [{"name": "eu-west-1a"}],
                                               "forNodes": [{"name": "worker-1"}]}}],
                      "ports": [{"name": "http", "protocol": "TCP", "port": 8080, "appProtocol": "http"}]},
    "CertificateSigningRequest": {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "node-csr-worker-1"},
        "spec": {"request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K",
                 "signerName": "kubernetes.io/kube-apiserver-client-kubelet", "expirationSeconds": 86400,
                 "usages": ["digital signature", "client auth"], "username": "system:node:worker-1",
                 "uid": "", "groups": ["system:nodes", "system:authenticated"],
                 "extra": {"authentication.kubernetes.io/credential-id": ["X509SHA256=ab12"]}},
        "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "AutoApproved",
                                   "message": "Auto approving kubelet client certificate after SubjectAccessReview.",
                                   "lastUpdateTime": T1, "lastTransitionTime": T1}],
                   "certificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="}},
    "Eviction": {"apiVersion": "policy/v1", "kind": "Eviction",
                 "metadata": {"name": "web-7d4b9c-x2x9k", "namespace": "shop"},
                 "deleteOptions": {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 30,
                                   "preconditions": {"uid": "1f2e"}}},
    "Scale": {"apiVersion": "autoscaling/v1", "kind": "Scale",
              "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "48211"},
              "spec": {"replicas": 5}, "status": {"replicas": 3, "selector": "app.kubernetes.io/name=web"}},
    "DeleteOptions": {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground",
                      "gracePeriodSeconds": 0, "dryRun": ["All"],
                      "preconditions": {"resourceVersion": "48211"}},
}

EVENT_SERIES = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.17f3", "namespace": "shop"},
                "involvedObject": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-7d4b9c to 3",
                "type": "Normal", "eventTime": "2025-03-01T10:05:12.654321Z", "action": "Scaling",
                "series": {"count": 2, "lastObservedTime": "2025-03-01T10:06:00.000001Z"},
                "related": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d4b9c"},
                "reportingComponent": "deployment-controller", "reportingInstance": ""}


def deployment(**changes: Any) -> dict[str, Any]:
    """A copy of DEPLOYMENT with dotted paths set: ``deployment(**{"spec.replicas": "3"})``."""
    obj = copy.deepcopy(DEPLOYMENT)
    for path, value in changes.items():
        target = obj
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return obj


def strict_message(kind: str, obj: Any, **kwargs: Any) -> str:
    with pytest.raises(ApiError) as caught:
        apply_field_validation(kind, obj, "Strict", **kwargs)
    assert caught.value.code == 400 and caught.value.reason == "BadRequest"
    return caught.value.message


def decode_failure(kind: str, obj: Any, mode: str = "Ignore") -> str:
    with pytest.raises(ApiError) as caught:
        apply_field_validation(kind, obj, mode)
    assert caught.value.code == 400
    return caught.value.message


# ------------------------------------------------------------------------------------------ catalog


def test_every_served_kind_and_subresource_body_has_a_type() -> None:
    for r in resources.RESOURCES:
        assert typeschema.find_type(r.kind).name == r.kind
        assert typeschema.find_type(r.list_kind).fields["items"].required
    for kind in ("Eviction", "Scale", "DeleteOptions"):
        assert typeschema.find_type(kind).name == kind


def test_types_resolve_by_kind_name_or_package() -> None:
    assert typeschema.find_type("PodSpec").package == "core"
    assert typeschema.find_type("discovery.EndpointPort").fields["port"].type.kind == "int32"
    with pytest.raises(KeyError, match="ambiguous"):
        typeschema.find_type("EndpointPort")
    with pytest.raises(KeyError):
        typeschema.find_type("NoSuchType")


def test_every_volume_source_of_core_v1_is_known() -> None:
    volume = typeschema.find_type("Volume")
    sources = {name for name, f in volume.fields.items() if f.via == ("VolumeSource",)}
    assert len(sources) == 30
    assert {"emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "projected", "downwardAPI",
            "nfs", "csi", "ephemeral", "image", "iscsi", "rbd", "cephfs"} <= sources


# ------------------------------------------------------------------------------------------ realistic manifests


@pytest.mark.parametrize("kind", sorted(FIXTURES))
def test_realistic_manifest_decodes_without_findings(kind: str) -> None:
    report = check_fields(kind, FIXTURES[kind])
    assert report == FieldReport(), report
    assert apply_field_validation(kind, FIXTURES[kind], "Strict") == []


@pytest.mark.parametrize("kind", sorted(FIXTURES))
def test_manifest_read_back_from_json_has_no_duplicates(kind: str) -> None:
    parsed = loads_checking_duplicates(json.dumps(FIXTURES[kind]))
    assert parsed == FIXTURES[kind]
    assert check_fields(kind, parsed).ok


def test_event_with_series_and_microsecond_times_decodes() -> None:
    assert check_fields("Event", EVENT_SERIES).ok


def test_lists_of_kinds_decode() -> None:
    pods = {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "5", "continue": ""},
            "items": [POD]}
    assert check_fields("PodList", pods).ok


# ------------------------------------------------------------------------------------------ unknown fields


def test_unknown_field_paths_are_reported_like_kube_apiserver() -> None:
    obj = deployment(**{"spec.foo": 1, "spec.template.spec.containers.0.imagePullPolicyy": "Always",
                        "metadata.clusterName": "x", "spec.template.spec.volumes.5.nfs.serverr": "a",
                        "spec.template.kind": "PodTemplate"})
    report = check_fields("Deployment", obj)
    assert report.unknown_fields == (  # in document order
        "metadata.clusterName",
        "spec.template.spec.containers[0].imagePullPolicyy",
        "spec.template.spec.volumes[5].nfs.serverr",
        "spec.template.kind",
        "spec.foo",
    )
    assert report.decode_error is None


def test_strict_mode_fails_with_the_decoding_message() -> None:
    obj = deployment(**{"spec.foo": 1, "spec.template.spec.containers.0.imagePullPolicyy": "Always"})
    assert strict_message("Deployment", obj) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[0].imagePullPolicyy", unknown field "spec.foo"')


def test_warn_mode_returns_one_warning_per_field_and_ignore_none() -> None:
    obj = deployment(**{"spec.foo": 1, "status.bar": {"x": 1}})
    assert apply_field_validation("Deployment", obj, "Warn") == ['unknown field "spec.foo"',
                                                                  'unknown field "status.bar"']
    assert apply_field_validation("Deployment", obj, "") == apply_field_validation("Deployment", obj, "Warn")
    assert apply_field_validation("Deployment", obj, "Ignore") == []
    with pytest.raises(ValueError):
        apply_field_validation("Deployment", obj, "strict")


def test_top_level_unknown_field_has_no_prefix_and_names_are_case_sensitive() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "Spec": {}, "template": {}}
    assert check_fields("Deployment", obj).strict_errors == ('unknown field "Spec"', 'unknown field "template"')


def test_values_of_unknown_fields_are_not_inspected() -> None:
    obj = deployment(**{"spec.foo": {"bar": {"replicas": "not checked"}}})
    assert check_fields("Deployment", obj).unknown_fields == ("spec.foo",)


def test_free_form_fields_accept_anything() -> None:
    obj = deployment(**{"metadata.managedFields.0.fieldsV1": {"f:spec": {"k:{\"name\":\"x\"}": {".": {}}}, "n": [1]},
                        "metadata.annotations": {"any/key": "v", "": ""}})
    assert check_fields("Deployment", obj).ok


def test_unknown_field_names_are_quoted_as_go_quotes_them() -> None:
    report = check_fields("ConfigMap", {"metadata": {"na\"me\n": 1}})
    assert report.strict_errors == ('unknown field "metadata.na\\"me\\n"',)
    assert go_quote("é\x7f\u2028") == '"é\\x7f\\u2028"'


def test_strict_errors_are_capped_at_one_hundred() -> None:
    obj = {"metadata": {f"unknown{i}": i for i in range(150)}}
    assert len(check_fields("ConfigMap", obj).strict_errors) == 100


# ------------------------------------------------------------------------------------------ duplicates

K8S_INVALID_BODY = """{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "dupename", "name": "web", "labels": {"app": "nginx"}, "unknownMeta": "metaVal"},
  "spec": {
    "unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2", "paused": true, "paused": false,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{
      "name": "nginx", "image": "nginx:latest", "unknownNested": "val1",
      "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"""


def test_duplicate_and_unknown_fields_in_document_order() -> None:
    obj = loads_checking_duplicates(K8S_INVALID_BODY)
    assert strict_message("Deployment", obj) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'duplicate field "metadata.name", unknown field "metadata.unknownMeta", unknown field "spec.unknown1", '
        'unknown field "spec.unknownDupe", duplicate field "spec.paused", '
        'unknown field "spec.template.spec.containers[0].unknownNested", '
        'duplicate field "spec.template.spec.containers[0].imagePullPolicy"')
    report = check_fields("Deployment", obj)
    assert report.duplicate_fields == ("metadata.name", "spec.paused",
                                       "spec.template.spec.containers[0].imagePullPolicy")


def test_repeated_keys_hold_the_value_go_decodes() -> None:
    obj = loads_checking_duplicates(K8S_INVALID_BODY)
    assert obj["metadata"]["name"] == "web"
    assert obj["spec"]["paused"] is False
    merged = loads_checking_duplicates(b'{"metadata": {"labels": {"a": "1"}}, "metadata": {"name": "x"}}')
    assert merged == {"metadata": {"labels": {"a": "1"}, "name": "x"}}


def test_duplicate_map_keys_are_reported_with_the_key() -> None:
    obj = loads_checking_duplicates('{"metadata": {"name": "c", "labels": {"app": "a", "app": "b"}},'
                                    ' "data": {"k": "1", "k": "2"}}')
    assert check_fields("ConfigMap", obj).strict_errors == ('duplicate field "metadata.labels.app"',
                                                            'duplicate field "data.k"')


def test_objects_parsed_without_duplicate_tracking_report_none() -> None:
    assert check_fields("ConfigMap", json.loads('{"data": {"k": "1", "k": "2"}}')).ok


def test_loads_rejects_what_go_rejects() -> None:
    with pytest.raises(ValueError):
        loads_checking_duplicates("{\"a\": NaN}")
    with pytest.raises(ValueError):
        loads_checking_duplicates(b"{")


# ------------------------------------------------------------------------------------------ type errors

TYPE_ERRORS = [
    ({"spec.replicas": "3"},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"spec.replicas": 1.5},
     "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"spec.replicas": 2**31},
     "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"spec.paused": "yes"},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    ({"spec.template.spec.containers": {"name": "web"}},
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers "
     "of type []v1.Container"),
    ({"spec.template.spec.containers.0.ports": [80]},
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.ports "
     "of type v1.ContainerPort"),
    ({"spec.template.spec.containers.0.env.0.value": 5},
     "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value "
     "of type string"),
    ({"spec.template.metadata.annotations": {"safe-to-evict": False}},
     "json: cannot unmarshal bool into Go struct field ObjectMeta.spec.template.metadata.annotations "
     "of type string"),
    ({"spec.template.spec.nodeSelector": {"ingress-ready": True}},
     "json: cannot unmarshal bool into Go struct field PodSpec.spec.template.spec.nodeSelector of type string"),
    ({"spec.template.spec.containers.0.ports.0.protocol": 6},
     "json: cannot unmarshal number into Go struct field ContainerPort.spec.template.spec.containers.ports."
     "protocol of type v1.Protocol"),
    ({"spec.template.spec.volumes.0.configMap.name": 7},
     "json: cannot unmarshal number into Go struct field ConfigMapVolumeSource.spec.template.spec.volumes."
     "VolumeSource.configMap.LocalObjectReference.name of type string"),
    ({"spec.template.spec.containers.0.livenessProbe.periodSeconds": "10"},
     "json: cannot unmarshal string into Go struct field Probe.spec.template.spec.containers.livenessProbe."
     "periodSeconds of type int32"),
    ({"spec.template.spec.containers.0.resources.limits": ["cpu"]},
     "json: cannot unmarshal array into Go struct field ResourceRequirements.spec.template.spec.containers."
     "resources.limits of type v1.ResourceList"),
    ({"spec.selector": "app=web"},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.selector of type v1.LabelSelector"),
    ({"metadata": []},
     "json: cannot unmarshal array into Go struct field Deployment.metadata of type v1.ObjectMeta"),
    ({"kind": 5},
     "json: cannot unmarshal number into Go struct field Deployment.TypeMeta.kind of type string"),
    # Errors from custom decoders end the decode; intstr's and metav1.Time's keep Go's field context.
    ({"spec.strategy.rollingUpdate.maxSurge": True},
     "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate."
     "maxSurge of type int32"),
    ({"spec.template.spec.containers.0.readinessProbe.tcpSocket.port": 80.5},
     "json: cannot unmarshal number 80.5 into Go struct field TCPSocketAction.spec.template.spec.containers."
     "readinessProbe.ProbeHandler.tcpSocket.port of type int32"),
    ({"metadata.creationTimestamp": 1700000000},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
    ({"metadata.creationTimestamp": "2025-13-01T00:00:00Z"},
     'parsing time "2025-13-01T00:00:00Z": month out of range'),
    ({"spec.template.spec.containers.0.resources.requests": {"memory": "1Gb"}}, QUANTITY_FORMAT_ERROR),
    ({"spec.template.spec.containers.0.resources.requests": {"memory": "1Gj"}}, QUANTITY_FORMAT_ERROR),
    ({"spec.template.spec.containers.0.resources.requests": {"memory": "1Mb1"}}, QUANTITY_FORMAT_ERROR),
    ({"spec.template.spec.containers.0.resources.requests": {"memory": "1Qi"}}, QUANTITY_FORMAT_ERROR),
    ({"spec.template.spec.containers.0.resources.requests": {"cpu": "1mi"}}, QUANTITY_SUFFIX_ERROR),
    ({"spec.template.spec.volumes.1.emptyDir.sizeLimit": True}, QUANTITY_FORMAT_ERROR),
]


@pytest.mark.parametrize(("changes", "error"), TYPE_ERRORS)
def test_type_errors_use_go_wording(changes: dict[str, Any], error: str) -> None:
    message = decode_failure("Deployment", deployment(**changes))
    assert message == f'Deployment in version "v1" cannot be handled as a Deployment: {error}'


def test_type_errors_fail_in_every_mode() -> None:
    for mode in ("Strict", "Warn", "Ignore"):
        decode_failure("Deployment", deployment(**{"spec.replicas": "3"}), mode)


def test_a_type_error_outranks_unknown_fields() -> None:
    obj = deployment(**{"spec.foo": 1, "spec.replicas": "3"})
    assert "strict decoding" not in decode_failure("Deployment", obj, "Strict")


def test_the_first_type_error_is_reported_unless_a_custom_decoder_stops_later() -> None:
    first = check_fields("Deployment", deployment(**{"spec.paused": "x", "spec.replicas": "3"}))
    assert first.decode_error is not None and "spec.replicas" in first.decode_error
    assert len(first.type_errors) == 2
    stopped = check_fields("Deployment", deployment(**{"spec.replicas": "3",
                                                        "spec.strategy.rollingUpdate.maxSurge": [1]}))
    assert stopped.decode_error == ("json: cannot unmarshal array into Go struct field RollingUpdateDeployment."
                                    "spec.strategy.rollingUpdate.maxSurge of type int32")


def test_base64_errors_in_secrets() -> None:
    message = decode_failure("Secret", {"metadata": {"name": "s"}, "data": {"password": "czNjcjN0!"}})
    assert message == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 8'
    number = decode_failure("Secret", {"data": {"password": 5}})
    assert number.endswith("json: cannot unmarshal number into Go struct field Secret.data of type []uint8")


def test_top_level_value_that_is_not_an_object() -> None:
    assert check_fields("Pod", [1]).decode_error == "json: cannot unmarshal array into Go value of type v1.Pod"
    assert check_fields("Pod", None).ok


def test_other_versions_and_kinds_are_named_from_the_body() -> None:
    message = decode_failure("Job", {"apiVersion": "batch/v1", "spec": {"parallelism": "2"}})
    assert message.startswith('Job in version "v1" cannot be handled as a Job: json: cannot unmarshal string '
                              'into Go struct field JobSpec.spec.parallelism of type int32')


def test_errors_of_a_patched_object_are_worded_as_for_patches() -> None:
    assert strict_message("ConfigMap", {"metadata": {"name": "c"}, "dta": {}}, request="patch") == \
        'strict decoding error: unknown field "dta"'
    with pytest.raises(ApiError) as caught:
        apply_field_validation("ConfigMap", {"metadata": {"name": "c"}, "data": {"k": 1}}, "Warn", request="patch")
    error = caught.value
    assert error.code == 422 and error.reason == "Invalid"
    assert error.message == (' "" is invalid: patch: Invalid value: "{\\"data\\":{\\"k\\":1},\\"metadata\\":'
                             '{\\"name\\":\\"c\\"}}": json: cannot unmarshal number into Go struct field '
                             'ConfigMap.data of type string')
    assert error.details["causes"][0]["field"] == "patch"


# ------------------------------------------------------------------------------------------ Go parsers

LAYOUT = '"2006-01-02T15:04:05Z07:00"'


@pytest.mark.parametrize("text", [
    "2025-03-01T10:00:00Z", "2025-03-01T10:00:00.5Z", "2025-03-01T10:00:00,123456789Z", "2025-03-01T10:00:00+02:00",
    "2025-03-01T10:00:00-24:00", "2024-02-29T00:00:00Z", "2025-03-01T1:00:00Z",
])
def test_rfc3339_timestamps_go_accepts(text: str) -> None:
    assert time_error(text) is None


@pytest.mark.parametrize(("text", "error"), [
    ("", f'parsing time "" as {LAYOUT}: cannot parse "" as "2006"'),
    ("yesterday", f'parsing time "yesterday" as {LAYOUT}: cannot parse "yesterday" as "2006"'),
    ("2025-03-01", f'parsing time "2025-03-01" as {LAYOUT}: cannot parse "" as "T"'),
    ("2025-03-01 10:00:00Z", f'parsing time "2025-03-01 10:00:00Z" as {LAYOUT}: cannot parse " 10:00:00Z" as "T"'),
    ("2025-3-01T10:00:00Z", f'parsing time "2025-3-01T10:00:00Z" as {LAYOUT}: cannot parse "3-01T10:00:00Z" as "01"'),
    ("2025-03-01T10:00:00", f'parsing time "2025-03-01T10:00:00" as {LAYOUT}: cannot parse "" as "Z07:00"'),
    ("2025-03-01T10:00:00+0200", f'parsing time "2025-03-01T10:00:00+0200" as {LAYOUT}: cannot parse "+0200" '
                                 'as "Z07:00"'),
    ("2025-03-01T25:00:00Z", 'parsing time "2025-03-01T25:00:00Z": hour out of range'),
    ("2025-03-01T10:60:00Z", 'parsing time "2025-03-01T10:60:00Z": minute out of range'),
    ("2025-02-29T10:00:00Z", 'parsing time "2025-02-29T10:00:00Z": day out of range'),
    ("2025-03-01T10:00:00+25:00", 'parsing time "2025-03-01T10:00:00+25:00": time zone offset hour out of range'),
    ("2025-03-01T10:00:00Zjunk", 'parsing time "2025-03-01T10:00:00Zjunk": extra text: "junk"'),
    ("2025-03-01T10:00:00Zé", 'parsing time "2025-03-01T10:00:00Z\\xc3\\xa9": extra text: "\\xc3\\xa9"'),
])
def test_rfc3339_errors_use_go_wording(text: str, error: str) -> None:
    assert time_error(text) == error


def test_microtime_needs_six_fractional_digits() -> None:
    assert time_error("2025-03-01T10:00:00.123456Z", RFC3339_MICRO) is None
    assert time_error("2025-03-01T10:00:00Z", RFC3339_MICRO) == (
        'parsing time "2025-03-01T10:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"')
    message = decode_failure("Lease", {"spec": {"renewTime": "2025-03-01T10:00:00Z"}})
    assert message.endswith('cannot parse "Z" as ".000000"')


@pytest.mark.parametrize("text", ["0", "100m", "1Gi", "1.5Gi", "0.5", "1e3", "1E3", "2e-3", "+1", "-1", " 12Mi ",
                                  "1.", ".5", "500000000000000000000", "1e308", "1e-2147483647", "1Ki", "3E", "m",
                                  "0.000000001n", "0e2147483647"])
def test_quantities_go_accepts(text: str) -> None:
    assert quantity_error(text) is None


@pytest.mark.parametrize(("text", "error"), [
    ("", QUANTITY_FORMAT_ERROR), (" ", QUANTITY_FORMAT_ERROR), ("abc", QUANTITY_FORMAT_ERROR),
    ("1 Gi", QUANTITY_FORMAT_ERROR), ("1.2.3", QUANTITY_FORMAT_ERROR), ("--1", QUANTITY_SUFFIX_ERROR),
    ("1KiB", QUANTITY_FORMAT_ERROR), ("1e", QUANTITY_SUFFIX_ERROR), ("1ki", QUANTITY_SUFFIX_ERROR),
    ("1mm", QUANTITY_SUFFIX_ERROR), ("1e99999999999999999999", QUANTITY_SUFFIX_ERROR),
    # Exponents past the int32 scale are refused as Kubernetes does since #141203 (it used to wrap them), and
    # amounts of 10^309 or more as out of range (see quantity.MAX_INTEGER_DIGITS).
    ("1e4294967297", QUANTITY_SUFFIX_ERROR), ("1e2147483648", QUANTITY_SUFFIX_ERROR),
    ("1e999999999", QUANTITY_SUFFIX_ERROR), ("1" * 400, "unable to parse numeric part of quantity"),
    (".e-20", "unable to parse numeric part of quantity"),
])
def test_quantity_errors_use_apimachinery_wording(text: str, error: str) -> None:
    assert quantity_error(text) == error


@pytest.mark.parametrize(("text", "error"), [
    ("", None), ("aGVsbG8=", None), ("aGVs\nbG8=\n", None), ("aGVsbA==", None),
    ("aGVsbG8", "illegal base64 data at input byte 4"), ("a===", "illegal base64 data at input byte 1"),
    ("!!!!", "illegal base64 data at input byte 0"), ("aGVsbA=", "illegal base64 data at input byte 7"),
    ("aGVsbA==x", "illegal base64 data at input byte 8"), ("aGV-", "illegal base64 data at input byte 3"),
    ("aGVsbA=x", "illegal base64 data at input byte 6"),
])
def test_base64_errors_use_go_offsets(text: str, error: str | None) -> None:
    assert base64_error(text) == error


# ------------------------------------------------------------------------------------------ OpenAPI


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


@pytest.fixture(scope="module")
def all_schemas() -> dict[str, Any]:
    return typeschema.openapi_schemas(resources.RESOURCES)


def test_every_ref_resolves(all_schemas: dict[str, Any]) -> None:
    refs = _refs(all_schemas)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in all_schemas, ref
    for group, version in resources.group_versions():
        schemas = typeschema.openapi_schemas_for_group_version(group, version)
        assert all(r.removeprefix("#/components/schemas/") in schemas for r in _refs(schemas))


def test_top_level_kinds_carry_their_group_version_kind(all_schemas: dict[str, Any]) -> None:
    expected = {(typeschema.KINDS[r.kind].struct.openapi_name, r.group, r.version, kind)
                for r in resources.RESOURCES for kind in (r.kind, r.list_kind)}
    for name, group, version, kind in expected:
        if kind.endswith("List"):
            name = name + "List"
        assert {"group": group, "kind": kind, "version": version} in \
            all_schemas[name]["x-kubernetes-group-version-kind"], name
    assert all_schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"] == [
        {"group": "autoscaling", "kind": "Scale", "version": "v1"}]
    delete_gvks = all_schemas["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]["x-kubernetes-group-version-kind"]
    assert {"group": "apps", "kind": "DeleteOptions", "version": "v1"} in delete_gvks
    nested = [n for n, s in all_schemas.items() if "x-kubernetes-group-version-kind" in s and
              n.rsplit(".", 1)[1] in ("PodSpec", "ObjectMeta", "Container")]
    assert nested == []


def test_schemas_are_named_like_kubernetes(all_schemas: dict[str, Any]) -> None:
    for name in ("io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.PodSpec", "io.k8s.api.core.v1.Container",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
                 "io.k8s.apimachinery.pkg.api.resource.Quantity", "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                 "io.k8s.api.discovery.v1.EndpointPort", "io.k8s.api.core.v1.EndpointPort",
                 "io.k8s.api.policy.v1.Eviction", "io.k8s.api.apps.v1.DeploymentList"):
        assert name in all_schemas, name


def test_fields_have_their_types_for_explain(all_schemas: dict[str, Any]) -> None:
    spec = all_schemas["io.k8s.api.apps.v1.DeploymentSpec"]
    assert spec["properties"]["replicas"]["type"] == "integer"
    assert spec["properties"]["replicas"]["format"] == "int32"
    assert spec["properties"]["replicas"]["description"]
    assert spec["required"] == ["selector", "template"]
    assert spec["properties"]["template"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1."
                                                                "PodTemplateSpec"}]
    deployment_schema = all_schemas["io.k8s.api.apps.v1.Deployment"]
    assert set(deployment_schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    secret = all_schemas["io.k8s.api.core.v1.Secret"]["properties"]
    assert secret["data"]["additionalProperties"] == {"type": "string", "format": "byte"}
    volume = all_schemas["io.k8s.api.core.v1.Volume"]["properties"]
    assert "nfs" in volume and "emptyDir" in volume and "VolumeSource" not in volume


def test_int_or_string_and_quantity_schemas(all_schemas: dict[str, Any]) -> None:
    intstr = all_schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert intstr["x-kubernetes-int-or-string"] is True
    assert all_schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["x-kubernetes-int-or-string"] is True
    port = all_schemas["io.k8s.api.core.v1.ServicePort"]["properties"]["targetPort"]
    assert port["allOf"] == [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]
    limits = all_schemas["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"] == {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api."
                                                      "resource.Quantity"}


def test_list_semantics_come_from_the_merge_schema(all_schemas: dict[str, Any]) -> None:
    container = all_schemas["io.k8s.api.core.v1.Container"]["properties"]
    assert {k: v for k, v in container["ports"].items() if k.startswith("x-")} == {
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
        "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"}
    assert container["args"]["x-kubernetes-list-type"] == "atomic"
    pod_spec = all_schemas["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert pod_spec["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert pod_spec["containers"]["x-kubernetes-list-map-keys"] == ["name"]
    meta = all_schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["finalizers"]["x-kubernetes-list-type"] == "set"
    assert meta["ownerReferences"]["x-kubernetes-list-map-keys"] == ["uid"]
    strategy = all_schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys" and "$ref" not in strategy
    assert all_schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]["x-kubernetes-list-map-keys"] == \
        ["port", "protocol"]
    node_status = all_schemas["io.k8s.api.core.v1.NodeStatus"]["properties"]
    assert node_status["addresses"]["x-kubernetes-patch-merge-key"] == "type"


def test_schemas_are_json(all_schemas: dict[str, Any]) -> None:
    assert json.loads(json.dumps(all_schemas)) == all_schemas


# ------------------------------------------------------------------------------------------ properties

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(
    max_size=20)
FIELD_NAMES = st.sampled_from(sorted({name for s in typeschema.structs() for name in s.fields}) + ["", "x"])
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(FIELD_NAMES | st.text(max_size=8),
                                                                      children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(typeschema.KINDS)), obj=JSON_VALUES)
def test_random_json_yields_a_report_never_a_crash(kind: str, obj: Any) -> None:
    report = check_fields(kind, obj)
    assert isinstance(report, FieldReport)
    for mode in ("Strict", "Warn", "Ignore"):
        try:
            warnings = apply_field_validation(kind, obj, mode)
        except ApiError as error:
            assert error.code in (400, 422)
        else:
            assert all(isinstance(w, str) for w in warnings)


@settings(max_examples=200, deadline=None)
@given(path=st.lists(st.sampled_from(["spec", "template", "containers", "0", "x", "metadata", "labels"]),
                     min_size=1, max_size=5), value=JSON_VALUES)
def test_random_changes_to_a_real_manifest_never_crash(path: list[str], value: Any) -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    target: Any = obj
    for part in path[:-1]:
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
    if isinstance(target, dict):
        target[path[-1]] = value
    check_fields("Deployment", loads_checking_duplicates(json.dumps(obj)))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_go_parsers_never_crash(text: str) -> None:
    for result in (time_error(text), time_error(text, RFC3339_MICRO), quantity_error(text), base64_error(text)):
        assert result is None or isinstance(result, str)
