"""Defaulting: the values Kubernetes fills in when an object is written, for every kind in the catalog.

This mirrors ``SetDefaults_*`` of ``pkg/apis/{core,apps,batch,discovery}/v1`` plus the few create-time settings
of the registry strategies that clients read back (a new Pod's ``status.phase``/``qosClass``, a Namespace's
``spec.finalizers``), and the normalisations of the v1 ↔ internal conversion (a Secret's ``stringData`` folded into
``data``, ``podIP``/``podIPs``, ``podCIDR``/``podCIDRs``). Defaulting is idempotent.

One pod-template defaulting serves every place a PodTemplateSpec appears (Deployment, ReplicaSet,
ReplicationController, DaemonSet, Job), so a Deployment's template and the ReplicaSet template derived from it
compare equal after both are defaulted — ``kubectl rollout undo/history`` rely on that. Defaults that Kubernetes
applies to Pods only (``enableServiceLinks``, requests from limits, host-network ports) stay out of templates, as
they do in Kubernetes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from provisioner.services.api.quantity import Quantity, QuantityError, format_quantity, parse_quantity
from provisioner.services.api.resources import Resource

Obj = dict[str, Any]

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_VOLUME_MODE = 0o644  # 420: configMap, secret, downwardAPI and projected volumes
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800
DEFAULT_SERVICE_ACCOUNT_TOKEN_SECONDS = 3600

# Labels the Job strategy puts on the pod template (legacy and prefixed) and the one it selects on.
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
JOB_CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
JOB_SELECTOR_LABEL = "batch.kubernetes.io/controller-uid"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_QOS_RESOURCES = ("cpu", "memory")


# --- small accessors that never fail on malformed input (validation reports that) ----------------------------

def _child(parent: Obj, key: str) -> Obj:
    """``parent[key]`` created as ``{}`` when absent; a non-object stays as it is and is not descended into."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _existing(parent: Any, key: str) -> Obj | None:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else None


def _items(parent: Any, key: str) -> Iterator[Obj]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _set_default(obj: Obj, key: str, value: Any) -> None:
    """Set when absent or null — Go's ``if x == nil`` / ``if x == ""`` for the fields defaulted here."""
    if obj.get(key) in (None, ""):
        obj[key] = value


# --- images -----------------------------------------------------------------------------------------------

# Docker reference grammar (distribution/reference), enough to find the tag the way parsers.ParseImageName does.
# Separators are "[._]", "__" or dashes; the grammar's "[-]*" also allows none, which adds nothing but makes a
# backtracking engine explode, so at least one dash is required here.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}))?"
)
_HEX64 = re.compile(r"[a-f0-9]{64}")
# A name is at most 255 characters; with a tag and a digest no valid reference gets near this.
_MAX_REFERENCE_LENGTH = 1024


def _split_domain(image: str) -> tuple[str, str]:
    first, slash, rest = image.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        return "", image
    return first, rest


def image_tag(image: str) -> str | None:
    """The tag ``image`` refers to (``latest`` when it names neither tag nor digest), ``""`` for a digest only,
    or None when it is not a valid image reference."""
    if not image or len(image) > _MAX_REFERENCE_LENGTH or _HEX64.fullmatch(image):
        return None
    _, remainder = _split_domain(image)
    if remainder.lower() != remainder:  # "repository name must be lowercase"
        return None
    match = _REFERENCE.fullmatch(image)
    if match is None or len(match.group("name")) > 255:
        return None
    tag, digest = match.group("tag"), match.group("digest")
    if tag:
        return tag
    return "" if digest else "latest"


def default_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` (or no tag), ``IfNotPresent`` otherwise — including digests and bad names."""
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


# --- quantities ----------------------------------------------------------------------------------------------

def _canonical_resource_list(resources: Any) -> None:
    """SetDefaults_ResourceList: round every quantity up to milli-units and store its canonical string."""
    if not isinstance(resources, dict):
        return
    for name, raw in resources.items():
        try:
            quantity = parse_quantity(str(raw)) if isinstance(raw, (str, int, float)) else None
        except QuantityError:
            quantity = None  # validation reports it
        if quantity is not None:
            resources[name] = format_quantity(quantity.rounded_up(-3))


def _quantity(raw: Any) -> Quantity | None:
    try:
        return parse_quantity(str(raw)) if isinstance(raw, (str, int, float)) else None
    except QuantityError:
        return None


# --- pod spec (templates and pods) --------------------------------------------------------------------------

def _default_http_get(handler: Any) -> None:
    http_get = _existing(handler, "httpGet")
    if http_get is not None:
        _set_default(http_get, "path", "/")
        _set_default(http_get, "scheme", "HTTP")


def _default_probe(probe: Obj) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not probe.get(key):  # zero counts as unset, as in SetDefaults_Probe
            probe[key] = value
    _default_http_get(probe)


def _default_field_ref(env_source: Any) -> None:
    field_ref = _existing(env_source, "fieldRef")
    if field_ref is not None:
        _set_default(field_ref, "apiVersion", "v1")


def _default_container(container: Obj) -> None:
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = default_pull_policy(str(container.get("image") or ""))
    _set_default(container, "terminationMessagePath", "/dev/termination-log")
    _set_default(container, "terminationMessagePolicy", "File")
    for port in _items(container, "ports"):
        _set_default(port, "protocol", "TCP")
    for env in _items(container, "env"):
        _default_field_ref(_existing(env, "valueFrom"))
    resources = _child(container, "resources")  # a struct in Go: always serialised, "{}" when empty
    _canonical_resource_list(resources.get("limits"))
    _canonical_resource_list(resources.get("requests"))
    for probe_name in _PROBES:
        probe = _existing(container, probe_name)
        if probe is not None:
            _default_probe(probe)
    lifecycle = _existing(container, "lifecycle")
    for hook in ("postStart", "preStop"):
        _default_http_get(_existing(lifecycle, hook))


def _default_volume(volume: Obj) -> None:
    sources = [key for key, value in volume.items() if key != "name" and value is not None]
    if not sources:
        volume["emptyDir"] = {}
    if (host_path := _existing(volume, "hostPath")) is not None and host_path.get("type") is None:
        host_path["type"] = ""
    for mode_source in ("secret", "configMap", "downwardAPI", "projected"):
        if (source := _existing(volume, mode_source)) is not None:
            _set_default(source, "defaultMode", DEFAULT_VOLUME_MODE)
    for item in _items(_existing(volume, "downwardAPI"), "items"):
        _default_field_ref(item)
    for projection in _items(_existing(volume, "projected"), "sources"):
        for item in _items(_existing(projection, "downwardAPI"), "items"):
            _default_field_ref(item)
        if (token := _existing(projection, "serviceAccountToken")) is not None:
            _set_default(token, "expirationSeconds", DEFAULT_SERVICE_ACCOUNT_TOKEN_SECONDS)
    _default_legacy_volume_sources(volume)
    claim_template = _existing(_existing(volume, "ephemeral"), "volumeClaimTemplate")
    if (claim_spec := _existing(claim_template, "spec")) is not None:
        _set_default(claim_spec, "volumeMode", "Filesystem")
        claim_resources = _existing(claim_spec, "resources") or {}
        _canonical_resource_list(claim_resources.get("limits"))
        _canonical_resource_list(claim_resources.get("requests"))


_LEGACY_VOLUME_DEFAULTS = {
    "iscsi": {"iscsiInterface": "default"},
    "rbd": {"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"},
    "azureDisk": {"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False, "kind": "Shared"},
    "scaleIO": {"storageMode": "ThinProvisioned", "fsType": "xfs"},
}


def _default_legacy_volume_sources(volume: Obj) -> None:
    for source_name, fields in _LEGACY_VOLUME_DEFAULTS.items():
        if (source := _existing(volume, source_name)) is not None:
            for key, value in fields.items():
                if source.get(key) is None:
                    source[key] = value


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and everything nested in it: the defaulting shared by Pods and pod templates."""
    _set_default(spec, "dnsPolicy", "ClusterFirst")
    _set_default(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    _set_default(spec, "schedulerName", DEFAULT_SCHEDULER_NAME)
    for volume in _items(spec, "volumes"):
        _default_volume(volume)
    for list_name in _CONTAINER_LISTS:
        for container in _items(spec, list_name):
            _default_container(container)
    _canonical_resource_list(spec.get("overhead"))
    pod_resources = _existing(spec, "resources")
    if pod_resources is not None:
        _canonical_resource_list(pod_resources.get("limits"))
        _canonical_resource_list(pod_resources.get("requests"))


def default_pod_template(template: Any) -> None:
    """Default a PodTemplateSpec wherever it appears; templates get no Pod-only defaults."""
    if isinstance(template, dict):
        default_pod_spec(_child(template, "spec"))


# --- pods ------------------------------------------------------------------------------------------------------

def _requests_from_limits(container: Obj) -> None:
    resources = _existing(container, "resources")
    limits = _existing(resources, "limits")
    if resources is None or limits is None:
        return
    requests = _child(resources, "requests")
    for name, value in limits.items():
        requests.setdefault(name, value)


def _is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def _container_amount(container: Obj, which: str, name: str) -> Quantity | None:
    amounts = _existing(_existing(container, "resources"), which) or {}
    return _quantity(amounts.get(name))


def _sum(quantities: list[Quantity]) -> Quantity:
    """Quantity.Add over a list: the first operand's format is kept, so 1Gi + 1Gi prints as 2Gi."""
    total = Quantity(Fraction(0), quantities[0].format if quantities else "DecimalSI")
    for quantity in quantities:
        total = Quantity(total.value + quantity.value, total.format)
    return total


def _aggregate_containers(spec: Obj, which: str) -> dict[str, Quantity]:
    """The effective pod total of container ``requests``/``limits``: regular containers and sidecars run
    together; each other init container runs alone next to the sidecars started before it."""
    names = sorted({name for lst in ("containers", "initContainers") for c in _items(spec, lst)
                    for name in (_existing(_existing(c, "resources"), which) or {})})
    totals: dict[str, Quantity] = {}
    for name in names:
        sidecars: list[Quantity] = []
        init_peak: Quantity | None = None
        for container in _items(spec, "initContainers"):
            amount = _container_amount(container, which, name)
            if amount is None:
                continue
            if _is_sidecar(container):
                sidecars.append(amount)
            else:
                alone = _sum([amount, *sidecars])
                init_peak = alone if init_peak is None or alone > init_peak else init_peak
        running = _sum([*(q for c in _items(spec, "containers") if (q := _container_amount(c, which, name))),
                        *sidecars])
        totals[name] = init_peak if init_peak is not None and init_peak > running else running
    return totals


def _is_pod_level_resource(name: str) -> bool:
    return name in _QOS_RESOURCES or name.startswith("hugepages-")


def _overcommit_allowed(name: str) -> bool:
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith("hugepages-")


def _all_containers_limit(spec: Obj, name: str) -> bool:
    return all(_container_amount(c, "limits", name) is not None
               for lst in ("containers", "initContainers") for c in _items(spec, lst))


def _default_pod_level_resources(spec: Obj) -> None:
    """defaultHugePagePodLimits, defaultPodRequests and defaultPodLimits (pod-level resources, on by default)."""
    resources = _existing(spec, "resources")
    if resources is None:
        return
    limits = _existing(resources, "limits") or {}
    requests = _existing(resources, "requests") or {}
    if limits or requests:
        for name, amount in _aggregate_containers(spec, "limits").items():
            if name.startswith("hugepages-") and name not in requests and name not in limits:
                limits[name] = format_quantity(amount)
        if limits:
            resources["limits"] = limits
    if limits:
        for name, amount in _aggregate_containers(spec, "requests").items():
            if name not in requests and _is_pod_level_resource(name) and _overcommit_allowed(name):
                requests[name] = format_quantity(amount)
        for name, value in limits.items():
            if name not in requests and _is_pod_level_resource(name):
                requests[name] = value
        if requests:
            resources["requests"] = requests
    elif requests:
        derived = {name: format_quantity(amount) for name, amount in _aggregate_containers(spec, "limits").items()
                   if _is_pod_level_resource(name) and _overcommit_allowed(name) and _all_containers_limit(spec, name)}
        if derived:
            resources["limits"] = derived


def _requirements_qos(resources: Any) -> str:
    """requirementsQOS: one set of requests/limits judged on cpu and memory."""
    requests = _existing(resources, "requests") or {}
    limits = _existing(resources, "limits") or {}
    if not requests and not limits:
        return "BestEffort"
    classes = set()
    for name in _QOS_RESOURCES:
        request = _quantity(requests.get(name))
        limit = _quantity(limits.get(name))
        request_value = request.value if request is not None else Fraction(0)
        limit_value = limit.value if limit is not None else Fraction(0)
        if request_value != limit_value:
            return "Burstable"
        classes.add("BestEffort" if request_value == 0 else "Guaranteed")
    return "Burstable" if len(classes) > 1 else classes.pop()


def qos_class(pod: Obj) -> str:
    """ComputePodQOS: pod-level resources decide when set; otherwise every (init) container must agree —
    all Guaranteed (cpu and memory requests equal to limits), all BestEffort, or the pod is Burstable."""
    spec = _existing(pod, "spec") or {}
    if _existing(spec, "resources") is not None:
        return _requirements_qos(spec["resources"])
    pod_class = ""
    for list_name in ("initContainers", "containers"):
        for container in _items(spec, list_name):
            container_class = _requirements_qos(_existing(container, "resources"))
            if container_class == "Burstable" or (pod_class and pod_class != container_class):
                return "Burstable"
            pod_class = container_class
    return pod_class or "BestEffort"


def _sync_ip_lists(status: Obj, single: str, plural: str) -> None:
    """The v1 conversion keeps ``podIP``/``podIPs`` (and ``hostIP``/``hostIPs``) in step."""
    listed = status.get(plural)
    if not listed and status.get(single):
        status[plural] = [{"ip": status[single]}]
    elif isinstance(listed, list) and listed and isinstance(listed[0], dict) and listed[0].get("ip"):
        status[single] = listed[0]["ip"]


def _default_pod(pod: Obj) -> None:
    spec = _child(pod, "spec")
    for list_name in ("containers", "initContainers"):
        for container in _items(spec, list_name):
            _requests_from_limits(container)
    _default_pod_level_resources(spec)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for list_name in ("containers", "initContainers"):
            for container in _items(spec, list_name):
                for port in _items(container, "ports"):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    default_pod_spec(spec)
    _default_pod_status(pod, spec)


def _default_pod_status(pod: Obj, spec: Obj) -> None:
    """What the Pod strategy records on create: phase Pending, the QoS class, and the SchedulingGated
    condition while scheduling gates remain."""
    status = _child(pod, "status")
    _set_default(status, "phase", "Pending")
    _set_default(status, "qosClass", qos_class(pod))
    _sync_ip_lists(status, "podIP", "podIPs")
    _sync_ip_lists(status, "hostIP", "hostIPs")
    if spec.get("schedulingGates"):
        conditions = status.setdefault("conditions", [])
        if isinstance(conditions, list) and not any(
                isinstance(c, dict) and c.get("type") == "PodScheduled" for c in conditions):
            # podutil.UpdatePodCondition stamps a new condition's transition time.
            conditions.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                               "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "reason": "SchedulingGated",
                               "message": "Scheduling is blocked due to non-empty scheduling gates"})


# --- workloads ---------------------------------------------------------------------------------------------------

def _default_deployment(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _child(spec, "strategy")
    _set_default(strategy, "type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        for key in ("maxUnavailable", "maxSurge"):
            if rolling.get(key) is None:
                rolling[key] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    default_pod_template(_child(spec, "template"))


def _default_replica_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_pod_template(_child(spec, "template"))


def _default_replication_controller(obj: Obj) -> None:
    spec = _child(obj, "spec")
    template = _existing(spec, "template")  # a pointer in Go: an absent template stays absent
    labels = (_existing(template, "metadata") or {}).get("labels")
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        metadata = _child(obj, "metadata")
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_pod_template(template)


def _default_daemon_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    strategy = _child(spec, "updateStrategy")
    _set_default(strategy, "type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_pod_template(_child(spec, "template"))


def _default_job(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    template = _child(spec, "template")
    template_labels = (_existing(template, "metadata") or {}).get("labels")
    metadata = _child(obj, "metadata")
    if isinstance(template_labels, dict) and not metadata.get("labels"):
        # Go shares the map here, so the labels default_job_selector adds to the template show up on the Job
        # too; the same dict object keeps that behaviour until the object is serialised.
        metadata["labels"] = template_labels
    _set_default(spec, "completionMode", "NonIndexed")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    failure_policy = _existing(spec, "podFailurePolicy")
    for rule in _items(failure_policy, "rules"):
        for pattern in _items(rule, "onPodConditions"):
            _set_default(pattern, "status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if failure_policy is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    default_pod_template(template)


def default_job_selector(obj: Obj) -> None:
    """The Job strategy's generated selector, once the uid is assigned: unless ``spec.manualSelector`` is true,
    label the template with the job's name and uid (legacy and ``batch.kubernetes.io/`` keys, keeping labels
    the user set) and select on ``batch.kubernetes.io/controller-uid``."""
    spec = _child(obj, "spec")
    if spec.get("manualSelector") is True:
        return
    metadata = _existing(obj, "metadata") or {}
    name, uid = str(metadata.get("name") or ""), str(metadata.get("uid") or "")
    template_metadata = _child(_child(spec, "template"), "metadata")
    labels = _child(template_metadata, "labels")
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, name)
    for key in JOB_CONTROLLER_UID_LABELS:
        labels.setdefault(key, uid)
    selector = _child(spec, "selector")
    _child(selector, "matchLabels").setdefault(JOB_SELECTOR_LABEL, uid)


# --- services, endpoints -------------------------------------------------------------------------------------

def externally_accessible(service: Obj) -> bool:
    """service.ExternallyAccessible: LoadBalancer, NodePort, or ClusterIP with external IPs."""
    spec = _existing(service, "spec") or {}
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def _default_service(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _set_default(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = (_existing(spec, "sessionAffinityConfig") or {}).get("clientIP")
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}
    _set_default(spec, "type", "ClusterIP")
    for port in _items(spec, "ports"):
        _set_default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if externally_accessible(obj):
        _set_default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    status = _child(obj, "status")
    load_balancer = _child(status, "loadBalancer")  # a struct in Go: always "{}" at least
    if spec["type"] == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        for ingress in _items(load_balancer, "ingress"):
            if ingress.get("ip") and ingress.get("ipMode") is None:
                ingress["ipMode"] = "VIP"


def _default_endpoints(obj: Obj) -> None:
    for subset in _items(obj, "subsets"):
        for port in _items(subset, "ports"):
            _set_default(port, "protocol", "TCP")


def _default_endpoint_slice(obj: Obj) -> None:
    for port in _items(obj, "ports"):
        if port.get("name") is None:
            port["name"] = ""
        _set_default(port, "protocol", "TCP")


# --- cluster-scoped and config kinds ---------------------------------------------------------------------------

def _default_namespace(obj: Obj) -> None:
    metadata = _child(obj, "metadata")
    name = metadata.get("name")
    if name:  # a generateName namespace is labelled once it has its name
        _child(metadata, "labels")[NAMESPACE_NAME_LABEL] = name
    spec = _child(obj, "spec")
    if spec.get("finalizers") is None:
        spec["finalizers"] = ["kubernetes"]
    _set_default(_child(obj, "status"), "phase", "Active")


def _default_node(obj: Obj) -> None:
    spec = _child(obj, "spec")
    cidrs = spec.get("podCIDRs")
    if not cidrs and spec.get("podCIDR"):
        spec["podCIDRs"] = [spec["podCIDR"]]
    elif isinstance(cidrs, list) and cidrs:
        spec["podCIDR"] = cidrs[0]
    status = _existing(obj, "status")
    if status is None:
        return
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])
    _canonical_resource_list(status.get("capacity"))
    _canonical_resource_list(status.get("allocatable"))


def _default_secret(obj: Obj) -> None:
    _set_default(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _child(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": _default_pod,
    "Deployment": _default_deployment,
    "ReplicaSet": _default_replica_set,
    "ReplicationController": _default_replication_controller,
    "DaemonSet": _default_daemon_set,
    "Job": _default_job,
    "Service": _default_service,
    "Endpoints": _default_endpoints,
    "EndpointSlice": _default_endpoint_slice,
    "Namespace": _default_namespace,
    "Node": _default_node,
    "Secret": _default_secret,
    # ConfigMap, ServiceAccount, Event, Lease, Binding and CertificateSigningRequest (v1) have no defaults.
}


def apply_defaults(resource: Resource, obj: Obj) -> None:
    """Fill in ``obj`` (a JSON object of ``resource``'s kind) in place with Kubernetes' defaults."""
    defaulter = _DEFAULTERS.get(resource.kind)
    if defaulter is not None:
        defaulter(obj)
