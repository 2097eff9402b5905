"""The field types of every kind we serve, as compact data, and the OpenAPI v3 schemas built from them.

Each Go package of the Kubernetes API (meta/v1, core/v1, apps/v1, ...) is declared once below as
``{struct name: {json field: type expression}}`` plus its named scalar types (``Protocol``, ``ResourceList``).
A type expression is one of:

    string bool int32 int64 float64   a JSON value of that Go type
    intstr        an int or a string (intstr.IntOrString)
    quantity      resource.Quantity: "250m", "1Gi" or a plain number
    time          an RFC 3339 timestamp (metav1.Time); ``microtime``: with six fractional digits (metav1.MicroTime)
    bytes         a base64 string (Go ``[]byte``)
    raw           free-form JSON kept verbatim (metav1.FieldsV1)
    []T           a list of T
    map[string]T  an object with arbitrary keys and values of T
    Name          a struct or named type of the same package, else of meta/v1, else of core/v1

A trailing ``!`` marks a field the API requires (OpenAPI ``required``). The key ``"..."`` embeds another struct's
fields, as Go's ``json:",inline"`` does. A field may be written ``(expression, description)``.

The decoder (``decode.py``) walks request bodies against these types; ``openapi_schemas`` turns them into the
``components.schemas`` of the ``/openapi/v3`` documents, named and annotated as Kubernetes names them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from provisioner.services.api import resources, schema
from provisioner.services.api.resources import Resource

INLINE = "..."

# --------------------------------------------------------------------------------------------- type model


@dataclass(frozen=True)
class Scalar:
    """A JSON leaf: ``kind`` says how it decodes, ``go_name`` how Go's errors name its type."""

    kind: str
    go_name: str


@dataclass(frozen=True)
class ListOf:
    item: FieldType
    go_name: str


@dataclass(frozen=True)
class MapOf:
    value: FieldType
    go_name: str


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    required: bool = False
    description: str = ""
    # Go names of the inline structs this field is promoted through (``VolumeSource`` for ``volumes[].nfs``):
    # Go's decode errors spell them in the field path.
    via: tuple[str, ...] = ()


@dataclass(eq=False)
class Struct:
    """A Go struct: its JSON fields, including those promoted from inline structs."""

    name: str
    package: str
    description: str = ""
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def go_name(self) -> str:
        return f"v1.{self.name}"  # every API package we serve is a "v1" Go package

    @property
    def openapi_name(self) -> str:
        return f"{PACKAGES[self.package].openapi_prefix}.{self.name}"

    def __repr__(self) -> str:
        return f"Struct({self.package}.{self.name})"


FieldType = Scalar | ListOf | MapOf | Struct


@dataclass(frozen=True)
class Package:
    openapi_prefix: str
    group: str
    version: str


PACKAGES: dict[str, Package] = {
    "meta": Package("io.k8s.apimachinery.pkg.apis.meta.v1", "meta.k8s.io", "v1"),
    "core": Package("io.k8s.api.core.v1", "", "v1"),
    "apps": Package("io.k8s.api.apps.v1", "apps", "v1"),
    "batch": Package("io.k8s.api.batch.v1", "batch", "v1"),
    "coordination": Package("io.k8s.api.coordination.v1", "coordination.k8s.io", "v1"),
    "discovery": Package("io.k8s.api.discovery.v1", "discovery.k8s.io", "v1"),
    "certificates": Package("io.k8s.api.certificates.v1", "certificates.k8s.io", "v1"),
    "policy": Package("io.k8s.api.policy.v1", "policy", "v1"),
    "autoscaling": Package("io.k8s.api.autoscaling.v1", "autoscaling", "v1"),
}
_PACKAGE_OF_GROUP = {p.group: name for name, p in PACKAGES.items() if name != "meta"}

# Leaves with a decoding rule of their own; the Go names are what json's errors print.
_SCALARS: dict[str, Scalar] = {
    "string": Scalar("string", "string"),
    "bool": Scalar("bool", "bool"),
    "int32": Scalar("int32", "int32"),
    "int64": Scalar("int64", "int64"),
    "float64": Scalar("float64", "float64"),
    "intstr": Scalar("intstr", "intstr.IntOrString"),
    "quantity": Scalar("quantity", "resource.Quantity"),
    "time": Scalar("time", "v1.Time"),
    "microtime": Scalar("microtime", "v1.MicroTime"),
    "bytes": Scalar("bytes", "[]uint8"),
    "raw": Scalar("raw", "v1.FieldsV1"),
}

# ------------------------------------------------------------------------------------------- declarations

_METADATA = ("ObjectMeta", "Standard object metadata: name, namespace, labels, annotations, owners, finalizers.")
_TOP = {INLINE: "TypeMeta", "metadata": _METADATA}
_CONDITION_FIELDS = {"lastTransitionTime": "time", "reason": "string", "message": "string"}

_META_TYPES: dict[str, dict[str, Any]] = {
    "TypeMeta": {
        "apiVersion": ("string", "The versioned schema of this representation, such as apps/v1."),
        "kind": ("string", "The REST resource this object represents, in CamelCase."),
    },
    "ObjectMeta": {
        "name": ("string", "Unique name within a namespace (or the cluster, for cluster-scoped kinds)."),
        "generateName": ("string", "Prefix the server completes with a random suffix when name is empty."),
        "namespace": ("string", "The namespace the object lives in; empty for cluster-scoped kinds."),
        "selfLink": "string",
        "uid": ("UID", "Unique identifier assigned by the server at creation; never reused."),
        "resourceVersion": ("string", "Opaque version of this object, for optimistic concurrency and watches."),
        "generation": ("int64", "Sequence number of the desired state, bumped by the server on spec changes."),
        "creationTimestamp": ("time", "When the server created the object."),
        "deletionTimestamp": ("time", "When the object will be deleted; set by the server on graceful deletion."),
        "deletionGracePeriodSeconds": "int64",
        "labels": ("map[string]string", "Key/value pairs used to select and group objects."),
        "annotations": ("map[string]string", "Arbitrary non-identifying metadata for tools and controllers."),
        "ownerReferences": ("[]OwnerReference", "Objects this one depends on; it is garbage-collected after them."),
        "finalizers": ("[]string", "Must be empty before the object is removed from storage."),
        "managedFields": ("[]ManagedFieldsEntry", "Which manager owns which fields, for server-side apply."),
    },
    "ListMeta": {"selfLink": "string", "resourceVersion": "string", "continue": "string",
                 "remainingItemCount": "int64"},
    "OwnerReference": {
        "apiVersion": "string!", "kind": "string!", "name": "string!", "uid": "UID!",
        "controller": ("bool", "True if the owner is the managing controller."),
        "blockOwnerDeletion": "bool",
    },
    "ManagedFieldsEntry": {
        "manager": "string", "operation": "ManagedFieldsOperationType", "apiVersion": "string", "time": "time",
        "fieldsType": "string", "fieldsV1": "raw", "subresource": "string",
    },
    "LabelSelector": {
        "matchLabels": ("map[string]string", "Labels that must all match exactly."),
        "matchExpressions": ("[]LabelSelectorRequirement", "Requirements that must all hold."),
    },
    "LabelSelectorRequirement": {"key": "string!", "operator": ("LabelSelectorOperator!", "In, NotIn, Exists "
                                                                "or DoesNotExist."), "values": "[]string"},
    "Condition": {"type": "string!", "status": "ConditionStatus!", "observedGeneration": "int64",
                  "lastTransitionTime": "time!", "reason": "string!", "message": "string!"},
    "DeleteOptions": {
        INLINE: "TypeMeta",
        "gracePeriodSeconds": ("int64", "Seconds before the object is deleted; zero deletes immediately."),
        "preconditions": "Preconditions",
        "orphanDependents": "bool",
        "propagationPolicy": ("DeletionPropagation", "Orphan, Background or Foreground garbage collection."),
        "dryRun": "[]string",
        "ignoreStoreReadErrorWithClusterBreakingPotential": "bool",
    },
    "Preconditions": {"uid": "UID", "resourceVersion": "string"},
}
_META_NAMED = {
    "UID": ("string", "types.UID"),
    "ManagedFieldsOperationType": "string",
    "LabelSelectorOperator": "string",
    "ConditionStatus": "string",
    "DeletionPropagation": "string",
}

_CONTAINER_FIELDS: dict[str, Any] = {
    "name": ("string!", "Name of the container: a DNS label, unique within the pod."),
    "image": ("string", "Container image reference."),
    "command": ("[]string", "Entrypoint, replacing the image's ENTRYPOINT; not run in a shell."),
    "args": ("[]string", "Arguments to the entrypoint, replacing the image's CMD."),
    "workingDir": "string",
    "ports": ("[]ContainerPort", "Ports the container listens on."),
    "envFrom": "[]EnvFromSource",
    "env": ("[]EnvVar", "Environment variables to set in the container."),
    "resources": ("ResourceRequirements", "Compute resources the container requests and is limited to."),
    "resizePolicy": "[]ContainerResizePolicy",
    "restartPolicy": "ContainerRestartPolicy",
    "restartPolicyRules": "[]ContainerRestartRule",
    "volumeMounts": ("[]VolumeMount", "Pod volumes to mount into the container's filesystem."),
    "volumeDevices": "[]VolumeDevice",
    "livenessProbe": ("Probe", "Restarts the container when it fails."),
    "readinessProbe": ("Probe", "Removes the pod from service endpoints while it fails."),
    "startupProbe": ("Probe", "Holds off the other probes until it succeeds once."),
    "lifecycle": "Lifecycle",
    "terminationMessagePath": "string",
    "terminationMessagePolicy": "TerminationMessagePolicy",
    "imagePullPolicy": ("PullPolicy", "Always, Never or IfNotPresent."),
    "securityContext": "SecurityContext",
    "stdin": "bool",
    "stdinOnce": "bool",
    "tty": "bool",
}
_PROBE_HANDLERS = {"exec": "ExecAction", "httpGet": "HTTPGetAction", "tcpSocket": "TCPSocketAction"}
_AFFINITY_TERMS = {"requiredDuringSchedulingIgnoredDuringExecution": "[]PodAffinityTerm",
                   "preferredDuringSchedulingIgnoredDuringExecution": "[]WeightedPodAffinityTerm"}
_KEY_SELECTOR = {INLINE: "LocalObjectReference", "key": "string!", "optional": "bool"}
_ENV_SOURCE = {INLINE: "LocalObjectReference", "optional": "bool"}

_CORE_TYPES: dict[str, dict[str, Any]] = {
    # --- pods and their templates
    "Pod": {**_TOP, "spec": ("PodSpec", "Desired behaviour of the pod."),
            "status": ("PodStatus", "Most recently observed status, written by the kubelet.")},
    "PodTemplateSpec": {"metadata": _METADATA, "spec": ("PodSpec", "Desired behaviour of the pods created.")},
    "PodSpec": {
        "volumes": ("[]Volume", "Volumes the pod's containers can mount."),
        "initContainers": ("[]Container", "Containers run to completion, in order, before the others start."),
        "containers": ("[]Container!", "The pod's containers; at least one."),
        "ephemeralContainers": "[]EphemeralContainer",
        "restartPolicy": ("RestartPolicy", "Always, OnFailure or Never."),
        "terminationGracePeriodSeconds": ("int64", "Seconds between the stop signal and the kill; default 30."),
        "activeDeadlineSeconds": "int64",
        "dnsPolicy": "DNSPolicy",
        "nodeSelector": ("map[string]string", "Labels a node must have for the pod to be scheduled there."),
        "serviceAccountName": ("string", "The ServiceAccount the pod runs as."),
        "serviceAccount": "string",
        "automountServiceAccountToken": "bool",
        "nodeName": ("string", "The node the pod is bound to; set by the scheduler."),
        "hostNetwork": "bool",
        "hostPID": "bool",
        "hostIPC": "bool",
        "shareProcessNamespace": "bool",
        "securityContext": ("PodSecurityContext", "Pod-level security attributes."),
        "imagePullSecrets": "[]LocalObjectReference",
        "hostname": "string",
        "subdomain": "string",
        "affinity": ("Affinity", "Node affinity and pod (anti-)affinity scheduling constraints."),
        "schedulerName": "string",
        "tolerations": ("[]Toleration", "Taints the pod tolerates."),
        "hostAliases": "[]HostAlias",
        "priorityClassName": "string",
        "priority": "int32",
        "dnsConfig": "PodDNSConfig",
        "readinessGates": "[]PodReadinessGate",
        "runtimeClassName": "string",
        "enableServiceLinks": "bool",
        "preemptionPolicy": "PreemptionPolicy",
        "overhead": "ResourceList",
        "topologySpreadConstraints": ("[]TopologySpreadConstraint", "How pods spread across topology domains."),
        "setHostnameAsFQDN": "bool",
        "os": "PodOS",
        "hostUsers": "bool",
        "schedulingGates": "[]PodSchedulingGate",
        "resourceClaims": "[]PodResourceClaim",
        "resources": ("ResourceRequirements", "Pod-level resource requests and limits."),
        "hostnameOverride": "string",
    },
    "Container": _CONTAINER_FIELDS,
    "EphemeralContainerCommon": _CONTAINER_FIELDS,
    "EphemeralContainer": {INLINE: "EphemeralContainerCommon", "targetContainerName": "string"},
    "ContainerPort": {"name": "string", "hostPort": "int32",
                      "containerPort": ("int32!", "Port number on the pod's IP address."),
                      "protocol": ("Protocol", "TCP, UDP or SCTP; default TCP."), "hostIP": "string"},
    "EnvVar": {"name": "string!", "value": "string", "valueFrom": "EnvVarSource"},
    "EnvVarSource": {"fieldRef": "ObjectFieldSelector", "resourceFieldRef": "ResourceFieldSelector",
                     "configMapKeyRef": "ConfigMapKeySelector", "secretKeyRef": "SecretKeySelector",
                     "fileKeyRef": "FileKeySelector"},
    "EnvFromSource": {"prefix": "string", "configMapRef": "ConfigMapEnvSource", "secretRef": "SecretEnvSource"},
    "ConfigMapEnvSource": _ENV_SOURCE,
    "SecretEnvSource": _ENV_SOURCE,
    "ConfigMapKeySelector": _KEY_SELECTOR,
    "SecretKeySelector": _KEY_SELECTOR,
    "FileKeySelector": {"volumeName": "string!", "path": "string!", "key": "string!", "optional": "bool"},
    "ObjectFieldSelector": {"apiVersion": "string", "fieldPath": "string!"},
    "ResourceFieldSelector": {"containerName": "string", "resource": "string!", "divisor": "quantity"},
    "LocalObjectReference": {"name": "string"},
    "ResourceRequirements": {
        "limits": ("ResourceList", "The most of each resource the container may use."),
        "requests": ("ResourceList", "The amount of each resource the scheduler reserves."),
        "claims": "[]ResourceClaim",
    },
    "ResourceClaim": {"name": "string!", "request": "string"},
    "ContainerResizePolicy": {"resourceName": "ResourceName!", "restartPolicy": "ResourceResizeRestartPolicy!"},
    "ContainerRestartRule": {"action": "ContainerRestartRuleAction!", "exitCodes": "ContainerRestartRuleOnExitCodes"},
    "ContainerRestartRuleOnExitCodes": {"operator": "ContainerRestartRuleOnExitCodesOperator!",
                                        "values": "[]int32"},
    "VolumeMount": {"name": "string!", "readOnly": "bool", "recursiveReadOnly": "RecursiveReadOnlyMode",
                    "mountPath": "string!", "subPath": "string", "mountPropagation": "MountPropagationMode",
                    "subPathExpr": "string"},
    "VolumeDevice": {"name": "string!", "devicePath": "string!"},
    "Probe": {INLINE: "ProbeHandler", "initialDelaySeconds": "int32", "timeoutSeconds": "int32",
              "periodSeconds": "int32", "successThreshold": "int32", "failureThreshold": "int32",
              "terminationGracePeriodSeconds": "int64"},
    "ProbeHandler": {**_PROBE_HANDLERS, "grpc": "GRPCAction"},
    "ExecAction": {"command": "[]string"},
    "HTTPGetAction": {"path": "string", "port": ("intstr!", "Port number or name."), "host": "string",
                      "scheme": "URIScheme", "httpHeaders": "[]HTTPHeader"},
    "HTTPHeader": {"name": "string!", "value": "string!"},
    "TCPSocketAction": {"port": ("intstr!", "Port number or name."), "host": "string"},
    "GRPCAction": {"port": "int32!", "service": "string"},
    "Lifecycle": {"postStart": "LifecycleHandler", "preStop": "LifecycleHandler", "stopSignal": "Signal"},
    "LifecycleHandler": {**_PROBE_HANDLERS, "sleep": "SleepAction"},
    "SleepAction": {"seconds": "int64!"},
    "SecurityContext": {
        "capabilities": "Capabilities", "privileged": "bool", "seLinuxOptions": "SELinuxOptions",
        "windowsOptions": "WindowsSecurityContextOptions", "runAsUser": "int64", "runAsGroup": "int64",
        "runAsNonRoot": "bool", "readOnlyRootFilesystem": "bool", "allowPrivilegeEscalation": "bool",
        "procMount": "ProcMountType", "seccompProfile": "SeccompProfile", "appArmorProfile": "AppArmorProfile",
    },
    "Capabilities": {"add": "[]Capability", "drop": "[]Capability"},
    "SELinuxOptions": {"user": "string", "role": "string", "type": "string", "level": "string"},
    "WindowsSecurityContextOptions": {"gmsaCredentialSpecName": "string", "gmsaCredentialSpec": "string",
                                      "runAsUserName": "string", "hostProcess": "bool"},
    "SeccompProfile": {"type": "SeccompProfileType!", "localhostProfile": "string"},
    "AppArmorProfile": {"type": "AppArmorProfileType!", "localhostProfile": "string"},
    "PodSecurityContext": {
        "seLinuxOptions": "SELinuxOptions", "windowsOptions": "WindowsSecurityContextOptions",
        "runAsUser": "int64", "runAsGroup": "int64", "runAsNonRoot": "bool", "supplementalGroups": "[]int64",
        "supplementalGroupsPolicy": "SupplementalGroupsPolicy", "fsGroup": "int64", "sysctls": "[]Sysctl",
        "fsGroupChangePolicy": "PodFSGroupChangePolicy", "seccompProfile": "SeccompProfile",
        "appArmorProfile": "AppArmorProfile", "seLinuxChangePolicy": "PodSELinuxChangePolicy",
    },
    "Sysctl": {"name": "string!", "value": "string!"},
    "Affinity": {"nodeAffinity": "NodeAffinity", "podAffinity": "PodAffinity", "podAntiAffinity": "PodAntiAffinity"},
    "NodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": "NodeSelector",
                     "preferredDuringSchedulingIgnoredDuringExecution": "[]PreferredSchedulingTerm"},
    "NodeSelector": {"nodeSelectorTerms": "[]NodeSelectorTerm!"},
    "NodeSelectorTerm": {"matchExpressions": "[]NodeSelectorRequirement", "matchFields": "[]NodeSelectorRequirement"},
    "NodeSelectorRequirement": {"key": "string!", "operator": "NodeSelectorOperator!", "values": "[]string"},
    "PreferredSchedulingTerm": {"weight": "int32!", "preference": "NodeSelectorTerm!"},
    "PodAffinity": _AFFINITY_TERMS,
    "PodAntiAffinity": _AFFINITY_TERMS,
    "PodAffinityTerm": {"labelSelector": "LabelSelector", "namespaces": "[]string", "topologyKey": "string!",
                        "namespaceSelector": "LabelSelector", "matchLabelKeys": "[]string",
                        "mismatchLabelKeys": "[]string"},
    "WeightedPodAffinityTerm": {"weight": "int32!", "podAffinityTerm": "PodAffinityTerm!"},
    "Toleration": {"key": "string", "operator": ("TolerationOperator", "Exists or Equal (the default)."),
                   "value": "string", "effect": "TaintEffect", "tolerationSeconds": "int64"},
    "HostAlias": {"ip": "string!", "hostnames": "[]string"},
    "PodDNSConfig": {"nameservers": "[]string", "searches": "[]string", "options": "[]PodDNSConfigOption"},
    "PodDNSConfigOption": {"name": "string", "value": "string"},
    "PodReadinessGate": {"conditionType": "PodConditionType!"},
    "TopologySpreadConstraint": {
        "maxSkew": "int32!", "topologyKey": "string!", "whenUnsatisfiable": "UnsatisfiableConstraintAction!",
        "labelSelector": "LabelSelector", "minDomains": "int32", "nodeAffinityPolicy": "NodeInclusionPolicy",
        "nodeTaintsPolicy": "NodeInclusionPolicy", "matchLabelKeys": "[]string",
    },
    "PodOS": {"name": "OSName!"},
    "PodSchedulingGate": {"name": "string!"},
    "PodResourceClaim": {"name": "string!", "resourceClaimName": "string", "resourceClaimTemplateName": "string"},
    "PodStatus": {
        "observedGeneration": "int64",
        "phase": ("PodPhase", "Pending, Running, Succeeded, Failed or Unknown."),
        "conditions": "[]PodCondition",
        "message": "string",
        "reason": "string",
        "nominatedNodeName": "string",
        "hostIP": "string",
        "hostIPs": "[]HostIP",
        "podIP": "string",
        "podIPs": "[]PodIP",
        "startTime": "time",
        "initContainerStatuses": "[]ContainerStatus",
        "containerStatuses": "[]ContainerStatus",
        "qosClass": "PodQOSClass",
        "ephemeralContainerStatuses": "[]ContainerStatus",
        "resize": "PodResizeStatus",
        "resourceClaimStatuses": "[]PodResourceClaimStatus",
        "extendedResourceClaimStatus": "PodExtendedResourceClaimStatus",
        "allocatedResources": "ResourceList",
        "resources": "ResourceRequirements",
    },
    "PodCondition": {"type": "PodConditionType!", "observedGeneration": "int64", "status": "ConditionStatus!",
                     "lastProbeTime": "time", **_CONDITION_FIELDS},
    "HostIP": {"ip": "string!"},
    "PodIP": {"ip": "string!"},
    "ContainerStatus": {
        "name": "string!", "state": "ContainerState", "lastState": "ContainerState", "ready": "bool!",
        "restartCount": "int32!", "image": "string!", "imageID": "string!", "containerID": "string",
        "started": "bool", "allocatedResources": "ResourceList", "resources": "ResourceRequirements",
        "volumeMounts": "[]VolumeMountStatus", "user": "ContainerUser",
        "allocatedResourcesStatus": "[]ResourceStatus", "stopSignal": "Signal",
    },
    "ContainerState": {"waiting": "ContainerStateWaiting", "running": "ContainerStateRunning",
                       "terminated": "ContainerStateTerminated"},
    "ContainerStateWaiting": {"reason": "string", "message": "string"},
    "ContainerStateRunning": {"startedAt": "time"},
    "ContainerStateTerminated": {"exitCode": "int32!", "signal": "int32", "reason": "string", "message": "string",
                                 "startedAt": "time", "finishedAt": "time", "containerID": "string"},
    "VolumeMountStatus": {"name": "string!", "mountPath": "string!", "readOnly": "bool",
                          "recursiveReadOnly": "RecursiveReadOnlyMode"},
    "ContainerUser": {"linux": "LinuxContainerUser"},
    "LinuxContainerUser": {"uid": "int64!", "gid": "int64!", "supplementalGroups": "[]int64"},
    "ResourceStatus": {"name": "ResourceName!", "resources": "[]ResourceHealth"},
    "ResourceHealth": {"resourceID": "ResourceID!", "health": "ResourceHealthStatus"},
    "PodResourceClaimStatus": {"name": "string!", "resourceClaimName": "string"},
    "PodExtendedResourceClaimStatus": {"requestMappings": "[]ContainerExtendedResourceRequest!",
                                       "resourceClaimName": "string!"},
    "ContainerExtendedResourceRequest": {"containerName": "string!", "resourceName": "string!",
                                         "requestName": "string!"},
    # --- volumes: every VolumeSource of core/v1
    "Volume": {"name": ("string!", "Name of the volume, unique within the pod."), INLINE: "VolumeSource"},
    "VolumeSource": {
        "hostPath": "HostPathVolumeSource",
        "emptyDir": ("EmptyDirVolumeSource", "A scratch directory that lives as long as the pod."),
        "gcePersistentDisk": "GCEPersistentDiskVolumeSource",
        "awsElasticBlockStore": "AWSElasticBlockStoreVolumeSource",
        "gitRepo": "GitRepoVolumeSource",
        "secret": "SecretVolumeSource",
        "nfs": "NFSVolumeSource",
        "iscsi": "ISCSIVolumeSource",
        "glusterfs": "GlusterfsVolumeSource",
        "persistentVolumeClaim": "PersistentVolumeClaimVolumeSource",
        "rbd": "RBDVolumeSource",
        "flexVolume": "FlexVolumeSource",
        "cinder": "CinderVolumeSource",
        "cephfs": "CephFSVolumeSource",
        "flocker": "FlockerVolumeSource",
        "downwardAPI": "DownwardAPIVolumeSource",
        "fc": "FCVolumeSource",
        "azureFile": "AzureFileVolumeSource",
        "configMap": "ConfigMapVolumeSource",
        "vsphereVolume": "VsphereVirtualDiskVolumeSource",
        "quobyte": "QuobyteVolumeSource",
        "azureDisk": "AzureDiskVolumeSource",
        "photonPersistentDisk": "PhotonPersistentDiskVolumeSource",
        "projected": "ProjectedVolumeSource",
        "portworxVolume": "PortworxVolumeSource",
        "scaleIO": "ScaleIOVolumeSource",
        "storageos": "StorageOSVolumeSource",
        "csi": "CSIVolumeSource",
        "ephemeral": "EphemeralVolumeSource",
        "image": "ImageVolumeSource",
    },
    "HostPathVolumeSource": {"path": "string!", "type": "HostPathType"},
    "EmptyDirVolumeSource": {"medium": "StorageMedium", "sizeLimit": "quantity"},
    "GCEPersistentDiskVolumeSource": {"pdName": "string!", "fsType": "string", "partition": "int32",
                                      "readOnly": "bool"},
    "AWSElasticBlockStoreVolumeSource": {"volumeID": "string!", "fsType": "string", "partition": "int32",
                                         "readOnly": "bool"},
    "GitRepoVolumeSource": {"repository": "string!", "revision": "string", "directory": "string"},
    "SecretVolumeSource": {"secretName": "string", "items": "[]KeyToPath", "defaultMode": "int32",
                           "optional": "bool"},
    "NFSVolumeSource": {"server": "string!", "path": "string!", "readOnly": "bool"},
    "ISCSIVolumeSource": {
        "targetPortal": "string!", "iqn": "string!", "lun": "int32!", "iscsiInterface": "string",
        "fsType": "string", "readOnly": "bool", "portals": "[]string", "chapAuthDiscovery": "bool",
        "chapAuthSession": "bool", "secretRef": "LocalObjectReference", "initiatorName": "string",
    },
    "GlusterfsVolumeSource": {"endpoints": "string!", "path": "string!", "readOnly": "bool"},
    "PersistentVolumeClaimVolumeSource": {"claimName": "string!", "readOnly": "bool"},
    "RBDVolumeSource": {"monitors": "[]string!", "image": "string!", "fsType": "string", "pool": "string",
                        "user": "string", "keyring": "string", "secretRef": "LocalObjectReference",
                        "readOnly": "bool"},
    "FlexVolumeSource": {"driver": "string!", "fsType": "string", "secretRef": "LocalObjectReference",
                         "readOnly": "bool", "options": "map[string]string"},
    "CinderVolumeSource": {"volumeID": "string!", "fsType": "string", "readOnly": "bool",
                           "secretRef": "LocalObjectReference"},
    "CephFSVolumeSource": {"monitors": "[]string!", "path": "string", "user": "string", "secretFile": "string",
                           "secretRef": "LocalObjectReference", "readOnly": "bool"},
    "FlockerVolumeSource": {"datasetName": "string", "datasetUUID": "string"},
    "DownwardAPIVolumeSource": {"items": "[]DownwardAPIVolumeFile", "defaultMode": "int32"},
    "DownwardAPIVolumeFile": {"path": "string!", "fieldRef": "ObjectFieldSelector",
                              "resourceFieldRef": "ResourceFieldSelector", "mode": "int32"},
    "FCVolumeSource": {"targetWWNs": "[]string", "lun": "int32", "fsType": "string", "readOnly": "bool",
                       "wwids": "[]string"},
    "AzureFileVolumeSource": {"secretName": "string!", "shareName": "string!", "readOnly": "bool"},
    "ConfigMapVolumeSource": {INLINE: "LocalObjectReference", "items": "[]KeyToPath", "defaultMode": "int32",
                              "optional": "bool"},
    "VsphereVirtualDiskVolumeSource": {"volumePath": "string!", "fsType": "string", "storagePolicyName": "string",
                                       "storagePolicyID": "string"},
    "QuobyteVolumeSource": {"registry": "string!", "volume": "string!", "readOnly": "bool", "user": "string",
                            "group": "string", "tenant": "string"},
    "AzureDiskVolumeSource": {"diskName": "string!", "diskURI": "string!", "cachingMode": "AzureDataDiskCachingMode",
                              "fsType": "string", "readOnly": "bool", "kind": "AzureDataDiskKind"},
    "PhotonPersistentDiskVolumeSource": {"pdID": "string!", "fsType": "string"},
    "ProjectedVolumeSource": {"sources": "[]VolumeProjection", "defaultMode": "int32"},
    "VolumeProjection": {
        "secret": "SecretProjection", "downwardAPI": "DownwardAPIProjection", "configMap": "ConfigMapProjection",
        "serviceAccountToken": "ServiceAccountTokenProjection",
        "clusterTrustBundle": "ClusterTrustBundleProjection", "podCertificate": "PodCertificateProjection",
    },
    "SecretProjection": {INLINE: "LocalObjectReference", "items": "[]KeyToPath", "optional": "bool"},
    "ConfigMapProjection": {INLINE: "LocalObjectReference", "items": "[]KeyToPath", "optional": "bool"},
    "DownwardAPIProjection": {"items": "[]DownwardAPIVolumeFile"},
    "ServiceAccountTokenProjection": {"audience": "string", "expirationSeconds": "int64", "path": "string!"},
    "ClusterTrustBundleProjection": {"name": "string", "signerName": "string", "labelSelector": "LabelSelector",
                                     "optional": "bool", "path": "string!"},
    "PodCertificateProjection": {
        "signerName": "string!", "keyType": "string!", "maxExpirationSeconds": "int32",
        "credentialBundlePath": "string", "keyPath": "string", "certificateChainPath": "string",
        "userAnnotations": "map[string]string",
    },
    "KeyToPath": {"key": "string!", "path": "string!", "mode": "int32"},
    "PortworxVolumeSource": {"volumeID": "string!", "fsType": "string", "readOnly": "bool"},
    "ScaleIOVolumeSource": {
        "gateway": "string!", "system": "string!", "secretRef": "LocalObjectReference!", "sslEnabled": "bool",
        "protectionDomain": "string", "storagePool": "string", "storageMode": "string", "volumeName": "string",
        "fsType": "string", "readOnly": "bool",
    },
    "StorageOSVolumeSource": {"volumeName": "string", "volumeNamespace": "string", "fsType": "string",
                              "readOnly": "bool", "secretRef": "LocalObjectReference"},
    "CSIVolumeSource": {"driver": "string!", "readOnly": "bool", "fsType": "string",
                        "volumeAttributes": "map[string]string", "nodePublishSecretRef": "LocalObjectReference"},
    "EphemeralVolumeSource": {"volumeClaimTemplate": "PersistentVolumeClaimTemplate"},
    "PersistentVolumeClaimTemplate": {"metadata": _METADATA, "spec": "PersistentVolumeClaimSpec!"},
    "PersistentVolumeClaimSpec": {
        "accessModes": "[]PersistentVolumeAccessMode", "selector": "LabelSelector",
        "resources": "VolumeResourceRequirements", "volumeName": "string", "storageClassName": "string",
        "volumeMode": "PersistentVolumeMode", "dataSource": "TypedLocalObjectReference",
        "dataSourceRef": "TypedObjectReference", "volumeAttributesClassName": "string",
    },
    "VolumeResourceRequirements": {"limits": "ResourceList", "requests": "ResourceList"},
    "TypedLocalObjectReference": {"apiGroup": "string", "kind": "string!", "name": "string!"},
    "TypedObjectReference": {"apiGroup": "string", "kind": "string!", "name": "string!", "namespace": "string"},
    "ImageVolumeSource": {"reference": "string", "pullPolicy": "PullPolicy"},
    # --- other core kinds
    "ObjectReference": {"kind": "string", "namespace": "string", "name": "string", "uid": "UID",
                        "apiVersion": "string", "resourceVersion": "string", "fieldPath": "string"},
    "Binding": {**_TOP, "target": ("ObjectReference!", "The object to bind to: for pods, the Node.")},
    "Namespace": {**_TOP, "spec": "NamespaceSpec", "status": "NamespaceStatus"},
    "NamespaceSpec": {"finalizers": "[]FinalizerName"},
    "NamespaceStatus": {"phase": ("NamespacePhase", "Active or Terminating."), "conditions": "[]NamespaceCondition"},
    "NamespaceCondition": {"type": "NamespaceConditionType!", "status": "ConditionStatus!", **_CONDITION_FIELDS},
    "Node": {**_TOP, "spec": "NodeSpec", "status": ("NodeStatus", "Most recently observed status, posted by the "
                                                    "node's kubelet.")},
    "NodeSpec": {"podCIDR": "string", "podCIDRs": "[]string", "providerID": "string",
                 "unschedulable": ("bool", "Keeps new pods off the node (kubectl cordon)."),
                 "taints": "[]Taint", "configSource": "NodeConfigSource", "externalID": "string"},
    "Taint": {"key": "string!", "value": "string", "effect": ("TaintEffect!", "NoSchedule, PreferNoSchedule or "
                                                              "NoExecute."), "timeAdded": "time"},
    "NodeConfigSource": {"configMap": "ConfigMapNodeConfigSource"},
    "ConfigMapNodeConfigSource": {"namespace": "string!", "name": "string!", "uid": "UID",
                                  "resourceVersion": "string", "kubeletConfigKey": "string!"},
    "NodeStatus": {
        "capacity": ("ResourceList", "Total resources of the node."),
        "allocatable": ("ResourceList", "Resources available to pods."),
        "phase": "NodePhase",
        "conditions": "[]NodeCondition",
        "addresses": "[]NodeAddress",
        "daemonEndpoints": "NodeDaemonEndpoints",
        "nodeInfo": "NodeSystemInfo",
        "images": "[]ContainerImage",
        "volumesInUse": "[]UniqueVolumeName",
        "volumesAttached": "[]AttachedVolume",
        "config": "NodeConfigStatus",
        "runtimeHandlers": "[]NodeRuntimeHandler",
        "features": "NodeFeatures",
        "declaredFeatures": "[]string",
    },
    "NodeCondition": {"type": "NodeConditionType!", "status": "ConditionStatus!", "lastHeartbeatTime": "time",
                      **_CONDITION_FIELDS},
    "NodeAddress": {"type": "NodeAddressType!", "address": "string!"},
    "NodeDaemonEndpoints": {"kubeletEndpoint": "DaemonEndpoint"},
    "DaemonEndpoint": {"Port": "int32!"},
    "NodeSystemInfo": {
        "machineID": "string!", "systemUUID": "string!", "bootID": "string!", "kernelVersion": "string!",
        "osImage": "string!", "containerRuntimeVersion": "string!", "kubeletVersion": "string!",
        "kubeProxyVersion": "string!", "operatingSystem": "string!", "architecture": "string!",
        "swap": "NodeSwapStatus",
    },
    "NodeSwapStatus": {"capacity": "int64"},
    "ContainerImage": {"names": "[]string", "sizeBytes": "int64"},
    "AttachedVolume": {"name": "UniqueVolumeName!", "devicePath": "string!"},
    "NodeConfigStatus": {"assigned": "NodeConfigSource", "active": "NodeConfigSource",
                         "lastKnownGood": "NodeConfigSource", "error": "string"},
    "NodeRuntimeHandler": {"name": "string", "features": "NodeRuntimeHandlerFeatures"},
    "NodeRuntimeHandlerFeatures": {"recursiveReadOnlyMounts": "bool", "userNamespaces": "bool"},
    "NodeFeatures": {"supplementalGroupsPolicy": "bool"},
    "Service": {**_TOP, "spec": "ServiceSpec", "status": "ServiceStatus"},
    "ServiceSpec": {
        "ports": ("[]ServicePort", "Ports the service exposes."),
        "selector": ("map[string]string", "Pods with these labels receive the service's traffic."),
        "clusterIP": "string",
        "clusterIPs": "[]string",
        "type": ("ServiceType", "ClusterIP (default), NodePort, LoadBalancer or ExternalName."),
        "externalIPs": "[]string",
        "sessionAffinity": "ServiceAffinity",
        "loadBalancerIP": "string",
        "loadBalancerSourceRanges": "[]string",
        "externalName": "string",
        "externalTrafficPolicy": "ServiceExternalTrafficPolicy",
        "healthCheckNodePort": "int32",
        "publishNotReadyAddresses": "bool",
        "sessionAffinityConfig": "SessionAffinityConfig",
        "ipFamilies": "[]IPFamily",
        "ipFamilyPolicy": "IPFamilyPolicy",
        "allocateLoadBalancerNodePorts": "bool",
        "loadBalancerClass": "string",
        "internalTrafficPolicy": "ServiceInternalTrafficPolicy",
        "trafficDistribution": "string",
    },
    "ServicePort": {
        "name": "string", "protocol": "Protocol", "appProtocol": "string",
        "port": ("int32!", "The port the service listens on."),
        "targetPort": ("intstr", "Number or name of the pods' port; defaults to port."),
        "nodePort": ("int32", "The port on every node, for NodePort and LoadBalancer services."),
    },
    "SessionAffinityConfig": {"clientIP": "ClientIPConfig"},
    "ClientIPConfig": {"timeoutSeconds": "int32"},
    "ServiceStatus": {"loadBalancer": "LoadBalancerStatus", "conditions": "[]Condition"},
    "LoadBalancerStatus": {"ingress": "[]LoadBalancerIngress"},
    "LoadBalancerIngress": {"ip": "string", "hostname": "string", "ipMode": "LoadBalancerIPMode",
                            "ports": "[]PortStatus"},
    "PortStatus": {"port": "int32!", "protocol": "Protocol!", "error": "string"},
    "Endpoints": {**_TOP, "subsets": "[]EndpointSubset"},
    "EndpointSubset": {"addresses": "[]EndpointAddress", "notReadyAddresses": "[]EndpointAddress",
                       "ports": "[]EndpointPort"},
    "EndpointAddress": {"ip": "string!", "hostname": "string", "nodeName": "string", "targetRef": "ObjectReference"},
    "EndpointPort": {"name": "string", "port": "int32!", "protocol": "Protocol", "appProtocol": "string"},
    "Event": {
        **_TOP,
        "involvedObject": ("ObjectReference!", "The object this event is about."),
        "reason": ("string", "Short, machine-readable reason, in UpperCamelCase."),
        "message": "string",
        "source": "EventSource",
        "firstTimestamp": "time",
        "lastTimestamp": "time",
        "count": "int32",
        "type": ("string", "Normal or Warning."),
        "eventTime": "microtime",
        "series": "EventSeries",
        "action": "string",
        "related": "ObjectReference",
        "reportingComponent": "string",
        "reportingInstance": "string",
    },
    "EventSource": {"component": "string", "host": "string"},
    "EventSeries": {"count": "int32", "lastObservedTime": "microtime"},
    "ConfigMap": {**_TOP, "immutable": "bool", "data": ("map[string]string", "UTF-8 configuration data."),
                  "binaryData": ("map[string]bytes", "Binary configuration data, base64-encoded.")},
    "Secret": {**_TOP, "immutable": "bool",
               "data": ("map[string]bytes", "Secret data, base64-encoded."),
               "stringData": ("map[string]string", "Write-only convenience: merged into data on write."),
               "type": "SecretType"},
    "ServiceAccount": {**_TOP, "secrets": "[]ObjectReference", "imagePullSecrets": "[]LocalObjectReference",
                       "automountServiceAccountToken": "bool"},
    "ReplicationController": {**_TOP, "spec": "ReplicationControllerSpec", "status": "ReplicationControllerStatus"},
    "ReplicationControllerSpec": {"replicas": "int32", "minReadySeconds": "int32", "selector": "map[string]string",
                                  "template": "PodTemplateSpec"},
    "ReplicationControllerStatus": {
        "replicas": "int32!", "fullyLabeledReplicas": "int32", "readyReplicas": "int32",
        "availableReplicas": "int32", "observedGeneration": "int64",
        "conditions": "[]ReplicationControllerCondition",
    },
    "ReplicationControllerCondition": {"type": "ReplicationControllerConditionType!", "status": "ConditionStatus!",
                                       **_CONDITION_FIELDS},
}
_CORE_NAMED = {
    "ResourceList": "map[string]quantity",
    **dict.fromkeys((
        "Protocol", "PullPolicy", "TerminationMessagePolicy", "RestartPolicy", "ContainerRestartPolicy",
        "ContainerRestartRuleAction", "ContainerRestartRuleOnExitCodesOperator", "DNSPolicy", "PodPhase",
        "PodConditionType", "ConditionStatus", "PodQOSClass", "PodResizeStatus", "ResourceName",
        "ResourceResizeRestartPolicy", "RecursiveReadOnlyMode", "MountPropagationMode", "URIScheme", "Signal",
        "Capability", "ProcMountType", "SeccompProfileType", "AppArmorProfileType", "SupplementalGroupsPolicy",
        "PodFSGroupChangePolicy", "PodSELinuxChangePolicy", "NodeSelectorOperator", "TolerationOperator",
        "TaintEffect", "UnsatisfiableConstraintAction", "NodeInclusionPolicy", "OSName", "PreemptionPolicy",
        "HostPathType", "StorageMedium", "AzureDataDiskCachingMode", "AzureDataDiskKind",
        "PersistentVolumeAccessMode", "PersistentVolumeMode", "ServiceType", "ServiceAffinity",
        "ServiceExternalTrafficPolicy", "ServiceInternalTrafficPolicy", "IPFamily", "IPFamilyPolicy",
        "LoadBalancerIPMode", "NamespacePhase", "NamespaceConditionType", "FinalizerName", "NodePhase",
        "NodeConditionType", "NodeAddressType", "UniqueVolumeName", "SecretType",
        "ReplicationControllerConditionType", "ResourceID", "ResourceHealthStatus",
    ), "string"),
}

_APPS_TYPES: dict[str, dict[str, Any]] = {
    "Deployment": {**_TOP, "spec": ("DeploymentSpec", "Desired state of the Deployment."),
                   "status": ("DeploymentStatus", "Most recently observed state of the Deployment.")},
    "DeploymentSpec": {
        "replicas": ("int32", "Number of desired pods; defaults to 1."),
        "selector": ("LabelSelector!", "Selects the pods this Deployment manages; must match the template's "
                                       "labels. Immutable."),
        "template": ("PodTemplateSpec!", "Template of the pods to create."),
        "strategy": ("DeploymentStrategy", "How old pods are replaced by new ones."),
        "minReadySeconds": ("int32", "Seconds a new pod must be ready before it counts as available."),
        "revisionHistoryLimit": ("int32", "Old ReplicaSets kept for rollback; defaults to 10."),
        "paused": ("bool", "Pauses rollouts while true."),
        "progressDeadlineSeconds": ("int32", "Seconds before a stalled rollout is reported as failed."),
    },
    "DeploymentStrategy": {"type": ("DeploymentStrategyType", "Recreate or RollingUpdate (the default)."),
                           "rollingUpdate": "RollingUpdateDeployment"},
    "RollingUpdateDeployment": {"maxUnavailable": ("intstr", "Pods that may be unavailable during the update."),
                                "maxSurge": ("intstr", "Pods that may be created above the desired count.")},
    "DeploymentStatus": {
        "observedGeneration": "int64", "replicas": "int32", "updatedReplicas": "int32", "readyReplicas": "int32",
        "availableReplicas": "int32", "unavailableReplicas": "int32", "terminatingReplicas": "int32",
        "conditions": "[]DeploymentCondition", "collisionCount": "int32",
    },
    "DeploymentCondition": {"type": "DeploymentConditionType!", "status": "ConditionStatus!",
                            "lastUpdateTime": "time", **_CONDITION_FIELDS},
    "ReplicaSet": {**_TOP, "spec": "ReplicaSetSpec", "status": "ReplicaSetStatus"},
    "ReplicaSetSpec": {"replicas": "int32", "minReadySeconds": "int32", "selector": "LabelSelector!",
                       "template": "PodTemplateSpec"},
    "ReplicaSetStatus": {"replicas": "int32!", "fullyLabeledReplicas": "int32", "readyReplicas": "int32",
                         "availableReplicas": "int32", "terminatingReplicas": "int32", "observedGeneration": "int64",
                         "conditions": "[]ReplicaSetCondition"},
    "ReplicaSetCondition": {"type": "ReplicaSetConditionType!", "status": "ConditionStatus!", **_CONDITION_FIELDS},
    "DaemonSet": {**_TOP, "spec": "DaemonSetSpec", "status": "DaemonSetStatus"},
    "DaemonSetSpec": {"selector": "LabelSelector!", "template": "PodTemplateSpec!",
                      "updateStrategy": "DaemonSetUpdateStrategy", "minReadySeconds": "int32",
                      "revisionHistoryLimit": "int32"},
    "DaemonSetUpdateStrategy": {"type": "DaemonSetUpdateStrategyType", "rollingUpdate": "RollingUpdateDaemonSet"},
    "RollingUpdateDaemonSet": {"maxUnavailable": "intstr", "maxSurge": "intstr"},
    "DaemonSetStatus": {
        "currentNumberScheduled": "int32!", "numberMisscheduled": "int32!", "desiredNumberScheduled": "int32!",
        "numberReady": "int32!", "observedGeneration": "int64", "updatedNumberScheduled": "int32",
        "numberAvailable": "int32", "numberUnavailable": "int32", "collisionCount": "int32",
        "conditions": "[]DaemonSetCondition",
    },
    "DaemonSetCondition": {"type": "DaemonSetConditionType!", "status": "ConditionStatus!", **_CONDITION_FIELDS},
}
_APPS_NAMED = dict.fromkeys(("DeploymentStrategyType", "DeploymentConditionType", "ReplicaSetConditionType",
                             "DaemonSetUpdateStrategyType", "DaemonSetConditionType"), "string")

_BATCH_TYPES: dict[str, dict[str, Any]] = {
    "Job": {**_TOP, "spec": "JobSpec", "status": "JobStatus"},
    "JobSpec": {
        "parallelism": ("int32", "Most pods running at once."),
        "completions": ("int32", "Successful pods needed for the Job to complete."),
        "activeDeadlineSeconds": "int64",
        "podFailurePolicy": "PodFailurePolicy",
        "successPolicy": "SuccessPolicy",
        "backoffLimit": ("int32", "Retries before the Job is marked failed; defaults to 6."),
        "backoffLimitPerIndex": "int32",
        "maxFailedIndexes": "int32",
        "selector": "LabelSelector",
        "manualSelector": "bool",
        "template": ("PodTemplateSpec!", "Template of the pods the Job runs."),
        "ttlSecondsAfterFinished": "int32",
        "completionMode": "CompletionMode",
        "suspend": "bool",
        "podReplacementPolicy": "PodReplacementPolicy",
        "managedBy": "string",
    },
    "PodFailurePolicy": {"rules": "[]PodFailurePolicyRule!"},
    "PodFailurePolicyRule": {"action": "PodFailurePolicyAction!",
                             "onExitCodes": "PodFailurePolicyOnExitCodesRequirement",
                             "onPodConditions": "[]PodFailurePolicyOnPodConditionsPattern"},
    "PodFailurePolicyOnExitCodesRequirement": {"containerName": "string",
                                               "operator": "PodFailurePolicyOnExitCodesOperator!",
                                               "values": "[]int32!"},
    "PodFailurePolicyOnPodConditionsPattern": {"type": "PodConditionType!", "status": "ConditionStatus"},
    "SuccessPolicy": {"rules": "[]SuccessPolicyRule!"},
    "SuccessPolicyRule": {"succeededIndexes": "string", "succeededCount": "int32"},
    "JobStatus": {
        "conditions": "[]JobCondition", "startTime": "time", "completionTime": "time", "active": "int32",
        "succeeded": "int32", "failed": "int32", "terminating": "int32", "completedIndexes": "string",
        "failedIndexes": "string", "uncountedTerminatedPods": "UncountedTerminatedPods", "ready": "int32",
    },
    "JobCondition": {"type": "JobConditionType!", "status": "ConditionStatus!", "lastProbeTime": "time",
                     **_CONDITION_FIELDS},
    "UncountedTerminatedPods": {"succeeded": "[]UID", "failed": "[]UID"},
}
_BATCH_NAMED = dict.fromkeys(("CompletionMode", "PodReplacementPolicy", "PodFailurePolicyAction",
                              "PodFailurePolicyOnExitCodesOperator", "JobConditionType"), "string")

_COORDINATION_TYPES: dict[str, dict[str, Any]] = {
    "Lease": {**_TOP, "spec": "LeaseSpec"},
    "LeaseSpec": {
        "holderIdentity": ("string", "Identity of the current holder."),
        "leaseDurationSeconds": ("int32", "Seconds candidates wait after the last renewal before taking over."),
        "acquireTime": "microtime",
        "renewTime": ("microtime", "When the holder last renewed the lease."),
        "leaseTransitions": "int32",
        "strategy": "CoordinatedLeaseStrategy",
        "preferredHolder": "string",
    },
}

_DISCOVERY_TYPES: dict[str, dict[str, Any]] = {
    "EndpointSlice": {**_TOP, "addressType": ("AddressType!", "IPv4, IPv6 or FQDN."),
                      "endpoints": ("[]Endpoint!", "The endpoints in this slice."), "ports": "[]EndpointPort"},
    "Endpoint": {"addresses": "[]string!", "conditions": "EndpointConditions", "hostname": "string",
                 "targetRef": "ObjectReference", "deprecatedTopology": "map[string]string", "nodeName": "string",
                 "zone": "string", "hints": "EndpointHints"},
    "EndpointConditions": {"ready": "bool", "serving": "bool", "terminating": "bool"},
    "EndpointHints": {"forZones": "[]ForZone", "forNodes": "[]ForNode"},
    "ForZone": {"name": "string!"},
    "ForNode": {"name": "string!"},
    "EndpointPort": {"name": "string", "protocol": "Protocol", "port": "int32", "appProtocol": "string"},
}

_CERTIFICATES_TYPES: dict[str, dict[str, Any]] = {
    "CertificateSigningRequest": {**_TOP, "spec": "CertificateSigningRequestSpec!",
                                  "status": "CertificateSigningRequestStatus"},
    "CertificateSigningRequestSpec": {
        "request": ("bytes!", "PEM-encoded PKCS#10 certificate request, base64-encoded."),
        "signerName": ("string!", "The signer asked to sign, e.g. kubernetes.io/kube-apiserver-client."),
        "expirationSeconds": "int32",
        "usages": "[]KeyUsage",
        "username": "string",
        "uid": "string",
        "groups": "[]string",
        "extra": "map[string]ExtraValue",
    },
    "CertificateSigningRequestStatus": {"conditions": "[]CertificateSigningRequestCondition",
                                        "certificate": ("bytes", "The issued certificate chain, PEM, base64.")},
    "CertificateSigningRequestCondition": {"type": "RequestConditionType!", "status": "ConditionStatus!",
                                           "lastUpdateTime": "time", **_CONDITION_FIELDS},
}

_POLICY_TYPES: dict[str, dict[str, Any]] = {
    "Eviction": {**_TOP, "deleteOptions": ("DeleteOptions", "Options for the deletion of the evicted pod.")},
}

_AUTOSCALING_TYPES: dict[str, dict[str, Any]] = {
    "Scale": {**_TOP, "spec": "ScaleSpec", "status": "ScaleStatus"},
    "ScaleSpec": {"replicas": ("int32", "Desired number of replicas.")},
    "ScaleStatus": {"replicas": ("int32!", "Observed number of replicas."),
                    "selector": ("string", "Label selector of the pods counted, in string form.")},
}

_DECLARATIONS: dict[str, tuple[dict[str, dict[str, Any]], dict[str, Any]]] = {
    "meta": (_META_TYPES, _META_NAMED),
    "core": (_CORE_TYPES, _CORE_NAMED),
    "apps": (_APPS_TYPES, _APPS_NAMED),
    "batch": (_BATCH_TYPES, _BATCH_NAMED),
    "coordination": (_COORDINATION_TYPES, {"CoordinatedLeaseStrategy": "string"}),
    "discovery": (_DISCOVERY_TYPES, {"AddressType": "string"}),
    "certificates": (_CERTIFICATES_TYPES, {"KeyUsage": "string", "RequestConditionType": "string",
                                           "ExtraValue": "[]string"}),
    "policy": (_POLICY_TYPES, {}),
    "autoscaling": (_AUTOSCALING_TYPES, {}),
}

_DESCRIPTIONS = {
    "Namespace": "A scope for names; most objects live in one.",
    "Node": "A machine, physical or virtual, that runs pods.",
    "Pod": "A group of containers scheduled together onto one node.",
    "Binding": "Binds a pod to a node; posted by schedulers to pods/binding.",
    "Service": "A stable virtual IP and DNS name in front of a set of pods.",
    "Endpoints": "The addresses that implement a Service (legacy API; see EndpointSlice).",
    "Event": "A report of something that happened to an object.",
    "ConfigMap": "Non-confidential configuration data for pods.",
    "Secret": "Confidential data for pods: passwords, tokens, keys.",
    "ServiceAccount": "An identity for processes running in pods.",
    "ReplicationController": "Keeps a number of pod replicas running (legacy; see ReplicaSet).",
    "Deployment": "Declarative updates for pods, rolled out through ReplicaSets.",
    "ReplicaSet": "Keeps a number of pod replicas running.",
    "DaemonSet": "Runs a copy of a pod on every eligible node.",
    "Job": "Runs pods until a number of them complete successfully.",
    "Lease": "A lock held for a time, for leader election and node heartbeats.",
    "EndpointSlice": "A subset of the endpoints that implement a service.",
    "CertificateSigningRequest": "A request to have a certificate signed.",
    "Eviction": "Evicts a pod, honouring PodDisruptionBudgets; posted to pods/eviction.",
    "Scale": "The scale subresource of a scalable workload.",
    "DeleteOptions": "Options for a deletion.",
    "ObjectMeta": "Metadata every persisted object carries.",
    "ListMeta": "Metadata of a list: resource version and continue token.",
    "LabelSelector": "A label query; the requirements of matchLabels and matchExpressions are ANDed.",
    "PodSpec": "The desired behaviour of a pod.",
    "PodTemplateSpec": "Describes the pods a workload creates.",
    "Container": "A single application container running in a pod.",
    "Volume": "A named volume the pod's containers can mount.",
    "Probe": "A health check performed against a container.",
    "ResourceRequirements": "Compute resource requests and limits.",
    "Affinity": "Scheduling constraints relative to nodes and to other pods.",
    "Toleration": "Lets a pod schedule onto nodes with a matching taint.",
    "TopologySpreadConstraint": "How to spread matching pods across a topology.",
}

# ------------------------------------------------------------------------------------------------ compile

_STRUCTS: dict[tuple[str, str], Struct] = {}
_NAMED: dict[tuple[str, str], FieldType] = {}


def _lookup_order(package: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((package, "meta", "core")))


def _resolve(name: str, package: str) -> FieldType:
    for scope in _lookup_order(package):
        if (scope, name) in _NAMED:
            return _NAMED[(scope, name)]
        if (scope, name) in _STRUCTS:
            return _STRUCTS[(scope, name)]
    raise LookupError(f"type {name!r} used in package {package!r} is not declared")


def _parse(expression: str, package: str) -> FieldType:
    if expression.startswith("[]"):
        item = _parse(expression[2:], package)
        return ListOf(item, f"[]{item.go_name}")
    if expression.startswith("map[string]"):
        value = _parse(expression[len("map[string]"):], package)
        return MapOf(value, f"map[string]{value.go_name}")
    if expression in _SCALARS:
        return _SCALARS[expression]
    return _resolve(expression, package)


def _named_type(name: str, declaration: Any, package: str) -> FieldType:
    """A Go named type over a builtin shape: it decodes like the shape, Go's errors print its own name."""
    expression, go_name = declaration if isinstance(declaration, tuple) else (declaration, f"v1.{name}")
    return dataclasses.replace(_parse(expression, package), go_name=go_name)


def _compile_fields(struct: Struct, declaration: dict[str, Any], done: set[int]) -> None:
    for key, spec in declaration.items():
        if key == INLINE:
            embedded = _resolve(spec, struct.package)
            if not isinstance(embedded, Struct):
                raise TypeError(f"{struct.name} inlines {spec}, which is not a struct")
            _fill(embedded, done)
            for name, promoted in embedded.fields.items():
                struct.fields.setdefault(name, dataclasses.replace(promoted, via=(embedded.name, *promoted.via)))
            continue
        expression, description = spec if isinstance(spec, tuple) else (spec, "")
        required = expression.endswith("!")
        field_type = _parse(expression.rstrip("!"), struct.package)
        # A field of the struct itself wins over one promoted from an inline struct, as in Go.
        struct.fields[key] = Field(key, field_type, required, description)


def _fill(struct: Struct, done: set[int]) -> None:
    if id(struct) in done:
        return
    done.add(id(struct))
    _compile_fields(struct, _DECLARATIONS[struct.package][0][struct.name], done)


def _compile() -> None:
    for package, (types, _) in _DECLARATIONS.items():
        for name in types:
            _STRUCTS[(package, name)] = Struct(name, package, _DESCRIPTIONS.get(name, ""))
    for package, (_, named) in _DECLARATIONS.items():
        for name, declaration in named.items():
            _NAMED[(package, name)] = _named_type(name, declaration, package)
    done: set[int] = set()
    for struct in _STRUCTS.values():
        _fill(struct, done)


_compile()

# ----------------------------------------------------------------------------------------------- kinds


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    struct: Struct

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _list_struct(item: Struct) -> Struct:
    """``DeploymentList`` and friends: TypeMeta, ListMeta and the items."""
    typemeta = _STRUCTS[("meta", "TypeMeta")]
    fields = {name: dataclasses.replace(f, via=("TypeMeta",)) for name, f in typemeta.fields.items()}
    fields["metadata"] = Field("metadata", _STRUCTS[("meta", "ListMeta")], description="Standard list metadata.")
    fields["items"] = Field("items", ListOf(item, f"[]{item.go_name}"), True, f"The {item.name} objects.")
    return Struct(f"{item.name}List", item.package, f"A list of {item.name} objects.", fields)


def _kinds() -> dict[str, KindInfo]:
    kinds: dict[str, KindInfo] = {}
    for r in resources.RESOURCES:
        struct = _STRUCTS[(_PACKAGE_OF_GROUP[r.group], r.kind)]
        kinds[r.kind] = KindInfo(r.group, r.version, struct)
        kinds[r.list_kind] = KindInfo(r.group, r.version, _list_struct(struct))
    for package, kind in (("policy", "Eviction"), ("autoscaling", "Scale")):
        kinds[kind] = KindInfo(PACKAGES[package].group, PACKAGES[package].version, _STRUCTS[(package, kind)])
    kinds["DeleteOptions"] = KindInfo(PACKAGES["meta"].group, PACKAGES["meta"].version,
                                      _STRUCTS[("meta", "DeleteOptions")])
    return kinds


# Top-level kinds: every kind of the catalog, its list, and the bodies of subresources and deletes.
KINDS: dict[str, KindInfo] = _kinds()


def find_type(name: str) -> Struct:
    """The struct of a kind (``Deployment``), of a type (``PodSpec``), or of ``package.Type`` (``discovery.Endpoint``).

    Raises KeyError for unknown or ambiguous names.
    """
    if name in KINDS:
        return KINDS[name].struct
    package, _, type_name = name.rpartition(".")
    if package:
        if (package, type_name) in _STRUCTS:
            return _STRUCTS[(package, type_name)]
        raise KeyError(name)
    matches = [s for (_, n), s in _STRUCTS.items() if n == name]
    if len(matches) != 1:
        raise KeyError(name if not matches else f"{name} is ambiguous: qualify it with one of "
                                                f"{sorted(s.package for s in matches)}")
    return matches[0]


def structs() -> list[Struct]:
    """Every declared struct (list kinds excluded)."""
    return list(_STRUCTS.values())


# --------------------------------------------------------------------------------------------- OpenAPI

_REF_PREFIX = "#/components/schemas/"
_SPECIAL_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "intstr": ("io.k8s.apimachinery.pkg.util.intstr.IntOrString", {
        "description": "An int32 or a string: a port number or a port name, a count or a percentage.",
        "format": "int-or-string",
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    }),
    "quantity": ("io.k8s.apimachinery.pkg.api.resource.Quantity", {
        "description": "A fixed-point amount: a number with an optional SI (m, k, M, G, ...), binary "
                       "(Ki, Mi, Gi, ...) or exponent (e3) suffix, e.g. 250m, 1.5Gi, 1e3.",
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    }),
    "time": ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", {
        "description": "A timestamp in RFC 3339 form, with second precision.",
        "type": "string", "format": "date-time",
    }),
    "microtime": ("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", {
        "description": "A timestamp in RFC 3339 form, with microsecond precision.",
        "type": "string", "format": "date-time",
    }),
}
_INLINE_SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "bool": {"type": "boolean"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "float64": {"type": "number", "format": "double"},
    "bytes": {"type": "string", "format": "byte"},
    "raw": {"type": "object"},
}


@dataclass(frozen=True)
class _Semantics:
    """How a list or object field merges, from ``schema``: the x-kubernetes-* extensions of its property."""

    list_type: schema.ListType | None = None
    retain_keys: bool = False


def _walk_semantics(kind: str, struct: Struct, path: schema.Path, out: dict[tuple[int, str], _Semantics],
                    depth: int = 0) -> None:
    if depth > 32:  # the API has no recursive types; this only guards against a future one
        return
    for name, f in struct.fields.items():
        here = (*path, name)
        semantics = _Semantics(schema.list_type(kind, here), schema.retains_keys(kind, here))
        if semantics != _Semantics():
            out.setdefault((id(struct), name), semantics)
        target = f.type.item if isinstance(f.type, ListOf) else f.type
        if isinstance(target, Struct):
            _walk_semantics(kind, target, here, out, depth + 1)


@cache
def _semantics_of(kind: str) -> dict[tuple[int, str], _Semantics]:
    out: dict[tuple[int, str], _Semantics] = {}
    _walk_semantics(kind, KINDS[kind].struct, (), out)
    return out


def _list_extensions(semantics: _Semantics | None) -> dict[str, Any]:
    lt = semantics.list_type if semantics else None
    if lt is None:
        return {"x-kubernetes-list-type": "atomic"}  # what a list without declared semantics is to apply
    strategy = "merge,retainKeys" if semantics and semantics.retain_keys else "merge"
    extensions: dict[str, Any] = {"x-kubernetes-list-type": lt.type, "x-kubernetes-patch-strategy": strategy}
    if lt.type == "map":
        extensions["x-kubernetes-list-map-keys"] = list(lt.keys)
        extensions["x-kubernetes-patch-merge-key"] = lt.merge_key
    return extensions


class _SchemaBuilder:
    """Builds components.schemas from root structs, following references until closed."""

    def __init__(self, semantics: dict[tuple[int, str], _Semantics]) -> None:
        self.semantics = semantics
        self.schemas: dict[str, dict[str, Any]] = {}
        self.pending: list[Struct] = []

    def ref(self, struct: Struct) -> dict[str, Any]:
        if struct.openapi_name not in self.schemas:
            self.schemas[struct.openapi_name] = {}  # reserved; filled by build()
            self.pending.append(struct)
        return {"$ref": _REF_PREFIX + struct.openapi_name}

    def type_schema(self, t: FieldType) -> dict[str, Any]:
        if isinstance(t, Struct):
            return self.ref(t)
        if isinstance(t, ListOf):
            return {"type": "array", "items": self.type_schema(t.item)}
        if isinstance(t, MapOf):
            return {"type": "object", "additionalProperties": self.type_schema(t.value)}
        if t.kind in _SPECIAL_SCHEMAS:
            name, body = _SPECIAL_SCHEMAS[t.kind]
            self.schemas[name] = body
            return {"$ref": _REF_PREFIX + name}
        return dict(_INLINE_SCALARS[t.kind])

    def property_schema(self, struct: Struct, f: Field) -> dict[str, Any]:
        prop = self.type_schema(f.type)
        semantics = self.semantics.get((id(struct), f.name))
        extras: dict[str, Any] = {}
        if isinstance(f.type, ListOf):
            prop.update(_list_extensions(semantics))
        elif semantics and semantics.retain_keys:
            extras["x-kubernetes-patch-strategy"] = "retainKeys"
        if f.description:
            extras["description"] = f.description
        if not extras:
            return prop
        # OpenAPI 3.0 ignores the siblings of a $ref, so Kubernetes wraps a described reference in allOf.
        return {"allOf": [prop], **extras} if "$ref" in prop else {**prop, **extras}

    def struct_schema(self, struct: Struct) -> dict[str, Any]:
        body: dict[str, Any] = {"description": struct.description, "type": "object",
                                "properties": {n: self.property_schema(struct, f) for n, f in struct.fields.items()}}
        required = sorted(n for n, f in struct.fields.items() if f.required)
        if required:
            body["required"] = required
        return body

    def build(self, roots: Iterable[tuple[Struct, list[dict[str, str]]]]) -> dict[str, dict[str, Any]]:
        gvks: dict[str, list[dict[str, str]]] = {}
        for struct, kinds in roots:
            self.ref(struct)
            known = gvks.setdefault(struct.openapi_name, [])
            known.extend(k for k in kinds if k not in known)
        while self.pending:
            struct = self.pending.pop()
            self.schemas[struct.openapi_name] = self.struct_schema(struct)
        for name, kinds in gvks.items():
            if kinds:
                self.schemas[name]["x-kubernetes-group-version-kind"] = kinds
        return dict(sorted(self.schemas.items()))


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def openapi_schemas(served: Iterable[Resource]) -> dict[str, dict[str, Any]]:
    """``components.schemas`` for these resources: their kinds, lists and subresource kinds, the DeleteOptions
    their deletes take, and every type those reference. Top-level kinds carry x-kubernetes-group-version-kind;
    list fields carry the list type and patch strategy of ``schema``."""
    served = list(served)
    roots: list[tuple[Struct, list[dict[str, str]]]] = []
    semantics: dict[tuple[int, str], _Semantics] = {}
    group_versions: list[tuple[str, str]] = []
    for r in served:
        for kind in (r.kind, *(s.kind for s in r.subresources)):
            info = KINDS.get(kind)
            if info is None:
                continue  # connect-style subresources (exec) take query parameters, not a body
            roots.append((info.struct, [_gvk(info.group, info.version, kind)]))
            for key, value in _semantics_of(kind).items():
                semantics.setdefault(key, value)
        roots.append((KINDS[r.list_kind].struct, [_gvk(r.group, r.version, r.list_kind)]))
        if (r.group, r.version) not in group_versions:
            group_versions.append((r.group, r.version))
    delete_gvks = [_gvk(g, v, "DeleteOptions") for g, v in group_versions]
    roots.append((KINDS["DeleteOptions"].struct, delete_gvks))
    return _SchemaBuilder(semantics).build(roots)


def openapi_schemas_for_group_version(group: str, version: str) -> dict[str, dict[str, Any]]:
    """The schemas of one ``/openapi/v3/apis/<group>/<version>`` document."""
    return openapi_schemas(r for r in resources.RESOURCES if (r.group, r.version) == (group, version))
