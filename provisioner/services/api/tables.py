"""Server-side Table printing (``meta.k8s.io/v1`` Table), as kube-apiserver answers ``kubectl get``.

Column definitions (name, type, format, description, priority) and cell values follow kubectl's internal printers
(``pkg/printers/internalversion``) as the apiserver runs them: always "wide", so priority-1 columns are filled and
kubectl hides them unless ``-o wide``. Kinds without a printer get the generic ``Name``/``Created At`` table. Ages
use apimachinery's ``duration.HumanDuration``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from provisioner.services.api.resources import Resource
from provisioner.services.api.selectors import label_selector_from_dict, selector_string_from_labels
from provisioner.services.api.status import ApiError

Obj = dict[str, Any]
Cells = list[Any]

INCLUDE_NONE, INCLUDE_METADATA, INCLUDE_OBJECT = "None", "Metadata", "Object"
NODE_UNREACHABLE_POD_REASON = "NodeLost"

# --- durations -------------------------------------------------------------------------------------------------

_SECOND = 10**9
_MINUTE, _HOUR = 60 * _SECOND, 3600 * _SECOND


def human_duration(duration: timedelta | int) -> str:
    """duration.HumanDuration: ~2-3 significant figures (``45s``, ``2m30s``, ``5m``, ``3h10m``, ``2d4h``,
    ``2y30d``). An int is nanoseconds, like Go's time.Duration."""
    ns = duration if isinstance(duration, int) else duration // timedelta(microseconds=1) * 1000
    seconds = abs(ns) // _SECOND * (1 if ns >= 0 else -1)  # int(d.Seconds()) truncates towards zero
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = ns // _MINUTE
    if minutes < 10:
        rest = ns // _SECOND % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = ns // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = hours // 24 % 365
        return f"{hours // 24 // 365}y{rest}d" if rest else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``metav1.Time`` or ``MicroTime``) as an aware datetime; None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def since(value: Any, now: datetime) -> str:
    """translateTimestampSince: the age of a timestamp, ``<unknown>`` when it is missing."""
    moment = parse_time(value)
    return "<unknown>" if moment is None else human_duration(now - moment)


# --- column definitions ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    priority: int = 0
    format: str = ""

    def to_dict(self) -> Obj:
        return {"name": self.name, "type": self.type, "format": self.format, "description": self.description,
                "priority": self.priority}


# The descriptions are the API's field documentation (SwaggerDoc) the printers point at.
_NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some resources "
             "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
             "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
            "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
            "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
            "lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
            "api-conventions.md#metadata")
_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."
_LABEL_SELECTORS = "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
_DAEMONSET_DOCS = "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
_RC_DOCS = "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller"

NAME = Column("Name", "string", _NAME_DOC, format="name")
AGE = Column("Age", "string", _AGE_DOC)
CONTAINERS = Column("Containers", "string", _CONTAINERS_DOC, 1)
IMAGES = Column("Images", "string", _IMAGES_DOC, 1)

_POD_COLUMNS = (
    NAME,
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the "
                                 "last container in this pod has restarted."),
    AGE,
    Column("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not "
                           "yet allocated.", 1),
    Column("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
                             "candidate for scheduling by the scheduler defined in schedulerName. Once this field is "
                             "set, the kubelet for this node becomes responsible for the lifecycle of this pod. This "
                             "field should not be used to express a desire for the pod to be scheduled on a specific "
                             "node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
           1),
    Column("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, "
                                       "but it cannot be scheduled right away as preemption victims receive their "
                                       "graceful termination periods. This field does not guarantee that the pod will "
                                       "be scheduled on this node. Scheduler may decide to place the pod elsewhere if "
                                       "other nodes become available sooner. Scheduler may also decide to give the "
                                       "resources on this node to a higher priority pod that is created after "
                                       "preemption. As a result, this field may be different than PodSpec.nodeName "
                                       "when the pod is scheduled.", 1),
    Column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness. A pod "
                                        "is ready when all its containers are ready AND all conditions specified in "
                                        'the readiness gates have status equal to "True" More info: '
                                        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates", 1),
)

_RC_COLUMNS = (
    NAME,
    Column("Desired", "integer", "Replicas is the number of desired replicas. This is a pointer to distinguish between "
                                 "explicit zero and unspecified. Defaults to 1. More info: "
                                 f"{_RC_DOCS}#what-is-a-replicationcontroller"),
    Column("Current", "integer", "Replicas is the most recently observed number of replicas. More info: "
                                 f"{_RC_DOCS}#what-is-a-replicationcontroller"),
    Column("Ready", "integer", "The number of ready replicas for this replication controller."),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", "string", "Selector is a label query over pods that should match the Replicas count. If "
                                 "Selector is empty, it is defaulted to the labels present on the Pod template. Label "
                                 "keys and values that must match in order to be controlled by this replication "
                                 "controller, if empty defaulted to labels on Pod template. More info: "
                                 f"{_LABEL_SELECTORS}", 1),
)

_RS_COLUMNS = (
    NAME,
    Column("Desired", "integer", "Replicas is the number of desired replicas. This is a pointer to distinguish between "
                                 "explicit zero and unspecified. Defaults to 1. More info: "
                                 f"{_RC_DOCS}/#what-is-a-replicationcontroller"),
    Column("Current", "integer", "Replicas is the most recently observed number of replicas. More info: "
                                 f"{_RC_DOCS}/#what-is-a-replicationcontroller"),
    Column("Ready", "integer", "The number of ready replicas for this replica set."),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", "string", "Selector is a label query over pods that should match the replica count. If the "
                                 "selector is empty, it is defaulted to the labels present on the pod template. Label "
                                 "keys and values that must match in order to be controlled by this replica set. More "
                                 f"info: {_LABEL_SELECTORS}", 1),
)

_DAEMON_SET_COLUMNS = (
    NAME,
    Column("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes "
                                 f"correctly running the daemon pod). More info: {_DAEMONSET_DOCS}"),
    Column("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run "
                                 f"the daemon pod. More info: {_DAEMONSET_DOCS}"),
    Column("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the "
                               "daemon pod running and ready."),
    Column("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    Column("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of "
                                   "the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    Column("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node. "
                                      "Selector which must match a node's labels for the pod to be scheduled on that "
                                      "node. More info: https://kubernetes.io/docs/concepts/configuration/"
                                      "assign-pod-node/"),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", "string", "A label query over pods that are managed by the daemon set. Must match in order to "
                                 "be controlled. If empty, defaulted to labels on Pod template. More info: "
                                 f"{_LABEL_SELECTORS}", 1),
)

_JOB_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the job."),
    Column("Completions", "string", "The number of pods which reached phase Succeeded. The value increases "
                                    "monotonically for a given spec. However, it may decrease in reaction to scale "
                                    "down of elastic indexed jobs."),
    Column("Duration", "string", "Time required to complete the job."),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", "string", "A label query over pods that should match the pod count. Normally, the system sets "
                                 f"this field for you. More info: {_LABEL_SELECTORS}", 1),
)

_SERVICE_COLUMNS = (
    NAME,
    Column("Type", "string", 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are '
                             'ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a '
                             "cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by "
                             "the selector or if that is not specified, by manual construction of an Endpoints object "
                             'or EndpointSlice objects. If clusterIP is "None", no virtual IP is allocated and the '
                             'endpoints are published as a set of endpoints rather than a virtual IP. "NodePort" builds '
                             "on ClusterIP and allocates a port on every node which routes to the same endpoints as the "
                             'clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if '
                             "supported in the current cloud) which routes to the same endpoints as the clusterIP. "
                             '"ExternalName" aliases this service to the specified externalName. Several other fields '
                             "do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/"
                             "services-networking/service/#publishing-services-service-types"),
    Column("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly. If an "
                                   "address is specified manually, is in-range (as per system configuration), and is "
                                   "not in use, it will be allocated to the service; otherwise creation of the service "
                                   "will fail. This field may not be changed through updates unless the type field is "
                                   "also being changed to ExternalName (which requires this field to be blank) or the "
                                   "type field is being changed from ExternalName (in which case this field may "
                                   "optionally be specified, as describe above).  Valid values are \"None\", empty "
                                   'string (""), or a valid IP address. Setting this to "None" makes a "headless '
                                   'service" (no virtual IP), which is useful when direct endpoint connections are '
                                   "preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, "
                                   "and LoadBalancer. If this field is specified when creating a Service of type "
                                   "ExternalName, creation will fail. This field will be wiped when updating a Service "
                                   "to type ExternalName. More info: https://kubernetes.io/docs/concepts/"
                                   "services-networking/service/#virtual-ips-and-service-proxies"),
    Column("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also "
                                    "accept traffic for this service.  These IPs are not managed by Kubernetes.  The "
                                    "user is responsible for ensuring that traffic arrives at a node with this IP.  A "
                                    "common example is external load-balancers that are not part of the Kubernetes "
                                    "system."),
    Column("Port(s)", "string", "The list of ports that are exposed by this service. More info: "
                                "https://kubernetes.io/docs/concepts/services-networking/service/"
                                "#virtual-ips-and-service-proxies"),
    AGE,
    Column("Selector", "string", "Route service traffic to pods with label keys and values matching this selector. "
                                 "If empty or not present, the service is assumed to have an external process managing "
                                 "its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, "
                                 "NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: "
                                 "https://kubernetes.io/docs/concepts/services-networking/service/", 1),
)

_NODE_ADDRESSES_DOC = ("List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
                       "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared "
                       "as mergeable, but the merge key is not sufficiently unique, which can cause data corruption "
                       "when it is merged. Callers should instead use a full-replacement patch. See "
                       "https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change "
                       "during the lifetime of a Node. However, there are some exceptions where this may not be "
                       "possible, such as Pods that inherit a Node's address in its own status or consumers of the "
                       "downward API (status.hostIP).")
_NODE_COLUMNS = (
    NAME,
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    AGE,
    Column("Version", "string", "Kubelet Version reported by the node."),
    Column("Internal-IP", "string", _NODE_ADDRESSES_DOC, 1),
    Column("External-IP", "string", _NODE_ADDRESSES_DOC, 1),
    Column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 "
                                 "(wheezy)).", 1),
    Column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. "
                                       "3.16.0-0.bpo.4-amd64).", 1),
    Column("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API "
                                          "(e.g. containerd://1.4.2).", 1),
)

_EVENT_COLUMNS = (
    Column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
    Column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    Column("Reason", "string", "This should be a short, machine understandable string that gives the reason for the "
                               "transition into the object's current status."),
    Column("Object", "string", "The object that this event is about."),
    Column("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string "
                                  "should contain a valid JSON/Go field access statement, such as "
                                  "desiredState.manifest.containers[2]. For example, if the object reference is to a "
                                  'container within a pod, this would take on a value like: "spec.containers{name}" '
                                  '(where "name" refers to the name of the container that triggered the event) or if '
                                  'no container name is specified "spec.containers[2]" (container with index 2 in this '
                                  "pod). This syntax is chosen only to have some well-defined way of referencing a part "
                                  "of an object.", 1),
    Column("Source", "string", "The component reporting this event. Should be a short machine understandable "
                               "string.", 1),
    Column("Message", "string", "A human-readable description of the status of this operation."),
    Column("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in "
                                   "TypeMeta.)", 1),
    Column("Count", "string", "The number of times this event has occurred.", 1),
    Column("Name", "string", _NAME_DOC, 1, "name"),
)

_NAMESPACE_COLUMNS = (NAME, Column("Status", "string", "The status of the namespace"), AGE)

_ENDPOINTS_COLUMNS = (
    NAME,
    Column("Endpoints", "string", "The set of all endpoints is the union of all subsets. Addresses are placed into "
                                  "subsets according to the IPs they share. A single address with multiple ports, some "
                                  "of which are ready and some of which are not (because they come from different "
                                  "containers) will result in the address being displayed in different subsets for "
                                  "the different ports. No address will appear in both Addresses and "
                                  "NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a "
                                  "service."),
    AGE,
)

_CONFIG_MAP_COLUMNS = (
    NAME,
    Column("Data", "string", "Data contains the configuration data. Each key must consist of alphanumeric characters, "
                             "'-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The "
                             "keys stored in Data must not overlap with the keys in the BinaryData field, this is "
                             "enforced during validation process."),
    AGE,
)

_SECRET_COLUMNS = (
    NAME,
    Column("Type", "string", "Used to facilitate programmatic handling of secret data. More info: "
                             "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
    Column("Data", "string", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', "
                             "'_' or '.'. The serialized form of the secret data is a base64 encoded string, "
                             "representing the arbitrary (possibly non-string) data value here. Described in "
                             "https://tools.ietf.org/html/rfc4648#section-4"),
    AGE,
)

_SERVICE_ACCOUNT_COLUMNS = (
    NAME,
    Column("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this "
                                "ServiceAccount are allowed to use. Pods are only limited to this list if this service "
                                'account has a "kubernetes.io/enforce-mountable-secrets" annotation set to "true". The '
                                '"kubernetes.io/enforce-mountable-secrets" annotation is deprecated since v1.32. Prefer '
                                "separate namespaces to isolate access to mounted secrets. This field should not be "
                                "used to find auto-generated service account token secrets for use outside of pods. "
                                "Instead, tokens can be requested directly using the TokenRequest API, or service "
                                "account token secrets can be manually created. More info: "
                                "https://kubernetes.io/docs/concepts/configuration/secret"),
    AGE,
)

_DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    Column("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the "
                                   "desired template spec."),
    Column("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by "
                                  "this deployment."),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be "
                                 "the ones affected by this deployment.", 1),
)

_LEASE_COLUMNS = (
    NAME,
    Column("Holder", "string", "holderIdentity contains the identity of the holder of a current lease. If Coordinated "
                               "Leader Election is used, the holder identity must be equal to the elected "
                               "LeaseCandidate.metadata.name field."),
    AGE,
)

_ENDPOINT_SLICE_COLUMNS = (
    NAME,
    Column("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice. All "
                                    "addresses in this slice must be the same type. This field is immutable after "
                                    "creation. The following address types are currently supported: * IPv4: "
                                    "Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: "
                                    "Represents a Fully Qualified Domain Name."),
    Column("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice. Each "
                              "port must have a unique name. When ports is empty, it indicates that there are no "
                              'defined ports. When a port is defined with a nil port value, it indicates "all ports". '
                              "Each slice may include a maximum of 100 ports."),
    Column("Endpoints", "string", "endpoints is a list of unique endpoints in this slice. Each slice may include a "
                                  "maximum of 1000 endpoints."),
    AGE,
)

_CSR_COLUMNS = (
    NAME,
    AGE,
    Column("SignerName", "string", "signerName indicates the requested signer, and is a qualified name.\n\nList/watch "
                                   "requests for CertificateSigningRequests can filter on this field using a "
                                   '"spec.signerName=NAME" fieldSelector.\n\nWell-known Kubernetes signers are:\n 1. '
                                   '"kubernetes.io/kube-apiserver-client": issues client certificates that can be used '
                                   "to authenticate to kube-apiserver.\n  Requests for this signer are never "
                                   'auto-approved by kube-controller-manager, can be issued by the "csrsigning" '
                                   'controller in kube-controller-manager.\n 2. "kubernetes.io/kube-apiserver-client-'
                                   'kubelet": issues client certificates that kubelets use to authenticate to '
                                   "kube-apiserver.\n  Requests for this signer can be auto-approved by the "
                                   '"csrapproving" controller in kube-controller-manager, and can be issued by the '
                                   '"csrsigning" controller in kube-controller-manager.\n 3. "kubernetes.io/kubelet-'
                                   'serving" issues serving certificates that kubelets use to serve TLS endpoints, '
                                   "which kube-apiserver can connect to securely.\n  Requests for this signer are never "
                                   'auto-approved by kube-controller-manager, and can be issued by the "csrsigning" '
                                   "controller in kube-controller-manager.\n\nMore details are available at "
                                   "https://k8s.io/docs/reference/access-authn-authz/certificate-signing-requests/"
                                   "#kubernetes-signers\n\nCustom signerNames can also be specified. The signer "
                                   "defines:\n 1. Trust distribution: how trust (CA bundles) are distributed.\n 2. "
                                   "Permitted subjects: and behavior when a disallowed subject is requested.\n 3. "
                                   "Required, permitted, or forbidden x509 extensions in the request (including whether "
                                   "subjectAltNames are allowed, which types, restrictions on allowed values) and "
                                   "behavior when a disallowed extension is requested.\n 4. Required, permitted, or "
                                   "forbidden key usages / extended key usages.\n 5. Expiration/certificate lifetime: "
                                   "whether it is fixed by the signer, configurable by the admin.\n 6. Whether or not "
                                   "requests for CA certificates are allowed."),
    Column("Requestor", "string", 'request contains an x509 certificate signing request encoded in a "CERTIFICATE '
                                  'REQUEST" PEM block. When serialized as JSON or YAML, the data is additionally '
                                  "base64-encoded."),
    Column("RequestedDuration", "string", "expirationSeconds is the requested duration of validity of the issued "
                                          "certificate. The certificate signer may issue a certificate with a different "
                                          "validity duration so a client must check the delta between the notBefore "
                                          "and and notAfter fields in the issued certificate to determine the actual "
                                          "duration.\n\nThe v1.22+ in-tree implementations of the well-known Kubernetes "
                                          "signers will honor this field as long as the requested duration is not "
                                          "greater than the maximum duration they will honor per the "
                                          "--cluster-signing-duration CLI flag to the Kubernetes controller manager."
                                          "\n\nCertificate signers may not honor this field for various reasons:\n\n  "
                                          "1. Old signer that is unaware of the field (such as the in-tree\n     "
                                          "implementations prior to v1.22)\n  2. Signer whose configured maximum is "
                                          "shorter than the requested duration\n  3. Signer whose configured minimum "
                                          "is longer than the requested duration\n\nThe minimum valid value for "
                                          "expirationSeconds is 600, i.e. 10 minutes."),
    Column("Condition", "string", 'conditions applied to the request. Known conditions are "Approved", "Denied", and '
                                  '"Failed".'),
)

_DEFAULT_COLUMNS = (NAME, Column("Created At", "date", _AGE_DOC))


# --- shared cell helpers ---------------------------------------------------------------------------------------

def _obj(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _items(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _meta(obj: Obj) -> Obj:
    return _obj(obj.get("metadata"))


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name") or "")


def _age(obj: Obj, now: datetime) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _containers_and_images(template: Any) -> tuple[str, str]:
    """layoutContainerCells: names and images joined by commas."""
    containers = _items(_obj(_obj(template).get("spec")).get("containers"))
    return (",".join(str(c.get("name") or "") for c in containers),
            ",".join(str(c.get("image") or "") for c in containers))


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted ``k=v`` pairs, ``<none>`` for none. (Non-string values never get past the
    apiserver's decoding; they are skipped rather than printed.)"""
    pairs = {k: v for k, v in labels.items() if isinstance(v, str)} if isinstance(labels, Mapping) else None
    return selector_string_from_labels(pairs) or "<none>"


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: the selector string, ``<none>`` when empty, ``<error>`` when unusable."""
    try:
        text = str(label_selector_from_dict(selector if isinstance(selector, Mapping) else None))
    except ApiError:
        return "<error>"
    return text or "<none>"


def _selector_string(selector: Any) -> str:
    """LabelSelectorAsSelector(...).String() as Deployments print it: empty when absent, ``<invalid>`` if bad."""
    try:
        return str(label_selector_from_dict(selector if isinstance(selector, Mapping) else None))
    except ApiError:
        return "<invalid>"


def _list_with_more(shown: list[str], total: int, limit: int = 3) -> str:
    """listWithMoreString: up to three entries then ``+ N more...``; ``<unset>`` for none."""
    text = ",".join(shown[:limit])
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or "<unset>"


# --- pods ------------------------------------------------------------------------------------------------------

_POD_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _has_condition(conditions: Any, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in _items(conditions))


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if _int(terminated.get("signal")):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


@dataclass
class _PodProgress:
    """What printPod accumulates over the container statuses."""

    reason: str
    ready: int = 0
    restarts: int = 0
    sidecar_restarts: int = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    def saw_restart(self, status: Obj, sidecar: bool) -> None:
        finished = parse_time(_obj(_obj(status.get("lastState")).get("terminated")).get("finishedAt"))
        if finished is not None and (self.last_restart is None or finished > self.last_restart):
            self.last_restart = finished
        if sidecar:
            self.sidecar_restarts += _int(status.get("restartCount"))
            if finished is not None and (self.last_sidecar_restart is None or finished > self.last_sidecar_restart):
                self.last_sidecar_restart = finished


def _init_container_progress(pod: Obj, progress: _PodProgress) -> bool:
    """Walk init containers until the first unfinished one; True if the pod is still initializing."""
    spec, status = _obj(pod.get("spec")), _obj(pod.get("status"))
    init_specs = _items(spec.get("initContainers"))
    sidecars = {str(c.get("name")) for c in init_specs if c.get("restartPolicy") == "Always"}
    for index, container in enumerate(_items(status.get("initContainerStatuses"))):
        progress.restarts += _int(container.get("restartCount"))
        sidecar = str(container.get("name")) in sidecars
        progress.saw_restart(container, sidecar)
        state = _obj(container.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and container.get("started") is True:
            if container.get("ready") is True:
                progress.ready += 1
            continue
        if isinstance(terminated, dict):
            progress.reason = _terminated_reason(terminated, "Init:")
        elif isinstance(waiting, dict) and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            progress.reason = f"Init:{waiting['reason']}"
        else:
            progress.reason = f"Init:{index}/{len(init_specs)}"
        return True
    return False


def _container_progress(pod: Obj, progress: _PodProgress) -> None:
    """Regular containers, last to first, so the first container's state wins the STATUS column."""
    status = _obj(pod.get("status"))
    progress.restarts = progress.sidecar_restarts
    progress.last_restart = progress.last_sidecar_restart
    running = False
    for container in reversed(_items(status.get("containerStatuses"))):
        progress.restarts += _int(container.get("restartCount"))
        progress.saw_restart(container, sidecar=False)
        state = _obj(container.get("state"))
        waiting, terminated = _obj(state.get("waiting")), state.get("terminated")
        if waiting.get("reason"):
            progress.reason = str(waiting["reason"])
        elif isinstance(terminated, dict):
            progress.reason = _terminated_reason(terminated)
        elif container.get("ready") is True and isinstance(state.get("running"), dict):
            running = True
            progress.ready += 1
    if progress.reason == "Completed" and running:
        progress.reason = "Running" if _has_condition(status.get("conditions"), "Ready") else "NotReady"


def _pod_status(pod: Obj, progress: _PodProgress) -> None:
    status = _obj(pod.get("status"))
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in _items(status.get("conditions"))):
        progress.reason = "SchedulingGated"
    initializing = _init_container_progress(pod, progress)
    if not initializing or _has_condition(status.get("conditions"), "Initialized"):
        _container_progress(pod, progress)
    if _meta(pod).get("deletionTimestamp"):
        if status.get("reason") == NODE_UNREACHABLE_POD_REASON:
            progress.reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            progress.reason = "Terminating"


def _readiness_gates(pod: Obj) -> str:
    gates = _items(_obj(pod.get("spec")).get("readinessGates"))
    if not gates:
        return "<none>"
    conditions = _items(_obj(pod.get("status")).get("conditions"))
    passing = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
        if match is not None and match.get("status") == "True":
            passing += 1
    return f"{passing}/{len(gates)}"


def _pod_row(pod: Obj, now: datetime) -> tuple[Cells, list[Obj] | None]:
    spec, status = _obj(pod.get("spec")), _obj(pod.get("status"))
    phase = str(status.get("phase") or "")
    progress = _PodProgress(reason=str(status.get("reason") or phase))
    _pod_status(pod, progress)
    total = len(_items(spec.get("containers"))) + sum(
        1 for c in _items(spec.get("initContainers")) if c.get("restartPolicy") == "Always")
    restarts = str(progress.restarts)
    if progress.restarts and progress.last_restart is not None:
        restarts = f"{progress.restarts} ({human_duration(now - progress.last_restart)} ago)"
    pod_ips = _items(status.get("podIPs"))
    pod_ip = str(pod_ips[0].get("ip") or "") if pod_ips else ""  # the printer reads podIPs only
    cells = [_name(pod), f"{progress.ready}/{total}", progress.reason, restarts, _age(pod, now),
             pod_ip or "<none>", spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
             _readiness_gates(pod)]
    conditions = {"Succeeded": _POD_SUCCEEDED, "Failed": _POD_FAILED}.get(phase)
    return cells, copy.deepcopy(conditions) if conditions else None


# --- workloads ---------------------------------------------------------------------------------------------------

def _deployment_row(obj: Obj, now: datetime) -> Cells:
    spec, status = _obj(obj.get("spec")), _obj(obj.get("status"))
    names, images = _containers_and_images(spec.get("template"))
    return [_name(obj), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
            _int(status.get("updatedReplicas")), _int(status.get("availableReplicas")), _age(obj, now),
            names, images, _selector_string(spec.get("selector"))]


def _replica_set_row(obj: Obj, now: datetime) -> Cells:
    spec, status = _obj(obj.get("spec")), _obj(obj.get("status"))
    names, images = _containers_and_images(spec.get("template"))
    return [_name(obj), _int(spec.get("replicas")), _int(status.get("replicas")), _int(status.get("readyReplicas")),
            _age(obj, now), names, images, format_label_selector(spec.get("selector"))]


def _replication_controller_row(obj: Obj, now: datetime) -> Cells:
    spec, status = _obj(obj.get("spec")), _obj(obj.get("status"))
    names, images = _containers_and_images(spec.get("template"))
    return [_name(obj), _int(spec.get("replicas")), _int(status.get("replicas")), _int(status.get("readyReplicas")),
            _age(obj, now), names, images, format_labels(spec.get("selector"))]


def _daemon_set_row(obj: Obj, now: datetime) -> Cells:
    spec, status = _obj(obj.get("spec")), _obj(obj.get("status"))
    template = _obj(spec.get("template"))
    names, images = _containers_and_images(template)
    return [_name(obj), _int(status.get("desiredNumberScheduled")), _int(status.get("currentNumberScheduled")),
            _int(status.get("numberReady")), _int(status.get("updatedNumberScheduled")),
            _int(status.get("numberAvailable")), format_labels(_obj(template.get("spec")).get("nodeSelector")),
            _age(obj, now), names, images, format_label_selector(spec.get("selector"))]


def _job_status(obj: Obj) -> str:
    conditions = _obj(obj.get("status")).get("conditions")

    def holds(kind: str) -> bool:  # hasJobCondition: the first condition of that type decides
        match = next((c for c in _items(conditions) if c.get("type") == kind), None)
        return match is not None and match.get("status") == "True"

    if holds("Complete"):
        return "Complete"
    if holds("Failed"):
        return "Failed"
    if _meta(obj).get("deletionTimestamp"):
        return "Terminating"
    if holds("Suspended"):
        return "Suspended"
    if holds("FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_row(obj: Obj, now: datetime) -> Cells:
    spec, status = _obj(obj.get("spec")), _obj(obj.get("status"))
    succeeded = _int(status.get("succeeded"))
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    started, finished = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if started is None else human_duration((finished or now) - started)
    names, images = _containers_and_images(spec.get("template"))
    return [_name(obj), _job_status(obj), completions, duration, _age(obj, now), names, images,
            format_label_selector(spec.get("selector"))]


# --- services, endpoints -------------------------------------------------------------------------------------

def _load_balancer_addresses(status: Obj) -> list[str]:
    found = {str(i.get("ip") or i.get("hostname")) for i in _items(_obj(status.get("loadBalancer")).get("ingress"))
             if i.get("ip") or i.get("hostname")}
    return sorted(found)


def _external_ip(service: Obj) -> str:
    """getServiceExternalIP, wide (never truncated) as the apiserver prints it."""
    spec = _obj(service.get("spec"))
    external = [str(ip) for ip in _list(spec.get("externalIPs"))]
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        addresses = _load_balancer_addresses(_obj(service.get("status")))
        if external:
            return ",".join(addresses + external)
        return ",".join(addresses) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _ports(service: Obj) -> str:
    """makePortString: ``port/proto`` or ``port:nodePort/proto``, comma-separated."""
    pieces = []
    for port in _items(_obj(service.get("spec")).get("ports")):
        node_port = _int(port.get("nodePort"))
        middle = f":{node_port}" if node_port > 0 else ""
        pieces.append(f"{port.get('port')}{middle}/{port.get('protocol') or ''}")
    return ",".join(pieces) or "<none>"


def _service_row(obj: Obj, now: datetime) -> Cells:
    spec = _obj(obj.get("spec"))
    cluster_ips = _list(spec.get("clusterIPs"))
    return [_name(obj), str(spec.get("type") or ""), str(cluster_ips[0]) if cluster_ips else "<none>",
            _external_ip(obj), _ports(obj), _age(obj, now), format_labels(spec.get("selector"))]


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(endpoints: Obj) -> str:
    """formatEndpoints: up to three ``ip:port`` entries, then ``+ N more...``; ``<none>`` without subsets."""
    subsets = _items(endpoints.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [str(a.get("ip") or "") for a in _items(subset.get("addresses"))]
        ports = _items(subset.get("ports"))
        for port in ports or [None]:
            total += len(addresses)
            for address in addresses:
                if len(shown) < 3:
                    shown.append(address if port is None else _host_port(address, _int(port.get("port"))))
    text = ",".join(shown)
    return f"{text} + {total - 3} more..." if total > 3 else text


def _endpoints_row(obj: Obj, now: datetime) -> Cells:
    return [_name(obj), format_endpoints(obj), _age(obj, now)]


def _endpoint_slice_row(obj: Obj, now: datetime) -> Cells:
    ports = []
    for port in _items(obj.get("ports")):
        if port.get("port") is not None:
            ports.append(str(port["port"]))
        elif port.get("name") is not None:
            ports.append(str(port["name"]))
        else:
            ports.append("*")
    addresses = [str(a) for e in _items(obj.get("endpoints")) for a in _list(e.get("addresses"))]
    return [_name(obj), str(obj.get("addressType") or ""), _list_with_more(ports, len(ports)),
            _list_with_more(addresses, len(addresses)), _age(obj, now)]


# --- cluster, config and other kinds ---------------------------------------------------------------------------

def _node_status(node: Obj) -> str:
    ready = next((c for c in _items(_obj(node.get("status")).get("conditions")) if c.get("type") == "Ready"), None)
    status = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if _obj(node.get("spec")).get("unschedulable") is True:
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(node: Obj) -> list[str]:
    """findNodeRoles: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values, sorted."""
    roles = set()
    for key, value in _obj(_meta(node).get("labels")).items():
        if key.startswith("node-role.kubernetes.io/") and key.removeprefix("node-role.kubernetes.io/"):
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


def _node_address(node: Obj, kind: str) -> str:
    addresses = _items(_obj(node.get("status")).get("addresses"))
    return next((str(a.get("address")) for a in addresses if a.get("type") == kind), "<none>")


def _node_row(obj: Obj, now: datetime) -> Cells:
    info = _obj(_obj(obj.get("status")).get("nodeInfo"))
    return [_name(obj), _node_status(obj), ",".join(node_roles(obj)) or "<none>", _age(obj, now),
            str(info.get("kubeletVersion") or ""), _node_address(obj, "InternalIP"), _node_address(obj, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _event_source(event: Obj) -> str:
    """formatEventSource: component (or reportingController), then host (or reportingInstance)."""
    source = _obj(event.get("source"))
    component = source.get("component") or event.get("reportingController") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def _event_row(obj: Obj, now: datetime) -> Cells:
    first = since(obj.get("firstTimestamp"), now)
    if parse_time(obj.get("firstTimestamp")) is None:
        first = since(obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now) if parse_time(obj.get("lastTimestamp")) else first
    count = _int(obj.get("count"))
    series = obj.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = _obj(obj.get("involvedObject"))
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [last, str(obj.get("type") or ""), str(obj.get("reason") or ""), target,
            str(involved.get("fieldPath") or ""), _event_source(obj), str(obj.get("message") or "").strip(), first,
            count, _name(obj)]


def _namespace_row(obj: Obj, now: datetime) -> Cells:
    return [_name(obj), str(_obj(obj.get("status")).get("phase") or ""), _age(obj, now)]


def _config_map_row(obj: Obj, now: datetime) -> Cells:
    return [_name(obj), len(_obj(obj.get("data"))) + len(_obj(obj.get("binaryData"))), _age(obj, now)]


def _secret_row(obj: Obj, now: datetime) -> Cells:
    return [_name(obj), str(obj.get("type") or ""), len(_obj(obj.get("data"))), _age(obj, now)]


def _service_account_row(obj: Obj, now: datetime) -> Cells:
    return [_name(obj), len(_list(obj.get("secrets"))), _age(obj, now)]


def _lease_row(obj: Obj, now: datetime) -> Cells:
    return [_name(obj), str(_obj(obj.get("spec")).get("holderIdentity") or ""), _age(obj, now)]


def csr_condition(csr: Obj) -> str:
    """extractCSRStatus: Denied, Approved or Pending, then ``,Failed`` and ``,Issued``."""
    kinds = {str(c.get("type")) for c in _items(_obj(csr.get("status")).get("conditions"))}
    status = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        status += ",Failed"
    if _obj(csr.get("status")).get("certificate"):
        status += ",Issued"
    return status


def _csr_row(obj: Obj, now: datetime) -> Cells:
    spec = _obj(obj.get("spec"))
    expiration = spec.get("expirationSeconds")
    duration = human_duration(timedelta(seconds=expiration)) if isinstance(expiration, int) else "<none>"
    return [_name(obj), _age(obj, now), spec.get("signerName") or "<none>", str(spec.get("username") or ""),
            duration, csr_condition(obj)]


def _default_row(obj: Obj, now: datetime) -> Cells:
    created = parse_time(_meta(obj).get("creationTimestamp"))
    shown = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if created else "0001-01-01T00:00:00Z"
    return [_name(obj), shown]


# --- tables ------------------------------------------------------------------------------------------------------

RowPrinter = Callable[[Obj, datetime], Cells]

_PRINTERS: dict[str, tuple[tuple[Column, ...], RowPrinter]] = {
    "Deployment": (_DEPLOYMENT_COLUMNS, _deployment_row),
    "ReplicaSet": (_RS_COLUMNS, _replica_set_row),
    "ReplicationController": (_RC_COLUMNS, _replication_controller_row),
    "DaemonSet": (_DAEMON_SET_COLUMNS, _daemon_set_row),
    "Job": (_JOB_COLUMNS, _job_row),
    "Service": (_SERVICE_COLUMNS, _service_row),
    "Node": (_NODE_COLUMNS, _node_row),
    "Event": (_EVENT_COLUMNS, _event_row),
    "Namespace": (_NAMESPACE_COLUMNS, _namespace_row),
    "Endpoints": (_ENDPOINTS_COLUMNS, _endpoints_row),
    "ConfigMap": (_CONFIG_MAP_COLUMNS, _config_map_row),
    "Secret": (_SECRET_COLUMNS, _secret_row),
    "ServiceAccount": (_SERVICE_ACCOUNT_COLUMNS, _service_account_row),
    "Lease": (_LEASE_COLUMNS, _lease_row),
    "EndpointSlice": (_ENDPOINT_SLICE_COLUMNS, _endpoint_slice_row),
    "CertificateSigningRequest": (_CSR_COLUMNS, _csr_row),
}


def columns(resource: Resource) -> tuple[Column, ...]:
    """The column definitions the apiserver returns for ``resource``."""
    if resource.kind == "Pod":
        return _POD_COLUMNS
    return _PRINTERS.get(resource.kind, (_DEFAULT_COLUMNS, _default_row))[0]


def _row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object == INCLUDE_NONE:
        return None
    if include_object == INCLUDE_OBJECT:
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": copy.deepcopy(_meta(obj))}


def row(resource: Resource, obj: Obj, *, include_object: str = INCLUDE_METADATA,
        now: datetime | None = None) -> Obj:
    """One ``TableRow``: the cells, the pod row conditions, and the object as ``include_object`` asks."""
    now = now or datetime.now(UTC)
    conditions = None
    if resource.kind == "Pod":
        cells, conditions = _pod_row(obj, now)
    else:
        cells = _PRINTERS.get(resource.kind, (_DEFAULT_COLUMNS, _default_row))[1](obj, now)
    result: Obj = {"cells": cells}
    if conditions:
        result["conditions"] = conditions
    # Go serialises an empty RawExtension as null rather than leaving it out.
    result["object"] = _row_object(obj, include_object)
    return result


def table(resource: Resource, objects: Iterable[Obj], *, include_object: str = INCLUDE_METADATA,
          now: datetime | None = None, headers: bool = True, resource_version: str = "",
          continue_token: str = "", remaining_item_count: int | None = None) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects``. ``headers=False`` leaves ``columnDefinitions`` null, as the
    apiserver does for watch events after the first; ``include_object`` is ``None``, ``Metadata`` (a
    PartialObjectMetadata, the default) or ``Object``."""
    if include_object not in (INCLUDE_NONE, INCLUDE_METADATA, INCLUDE_OBJECT):
        raise ValueError(f"includeObject must be one of None, Metadata, Object, not {include_object!r}")
    now = now or datetime.now(UTC)
    metadata: Obj = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [column.to_dict() for column in columns(resource)] if headers else None,
        "rows": [row(resource, obj, include_object=include_object, now=now) for obj in objects],
    }
