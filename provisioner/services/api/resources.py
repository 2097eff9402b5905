"""The catalog of API resources the cluster serves: one entry per resource, read by discovery, routing and clients."""

from __future__ import annotations

from dataclasses import dataclass

READ_WRITE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    group: str  # group/version of the subresource's own kind (autoscaling/v1 Scale, policy/v1 Eviction)
    version: str
    verbs: tuple[str, ...] = SUBRESOURCE_VERBS


@dataclass(frozen=True)
class Resource:
    group: str  # "" for core
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = READ_WRITE_VERBS
    # Field selectors this resource supports besides metadata.name / metadata.namespace.
    field_selectors: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified_name(self) -> str:
        """``deployments.apps`` / ``pods``: how Status messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None


def _status(r_kind: str, group: str, version: str = "v1") -> Subresource:
    return Subresource("status", r_kind, group, version)


def _scale() -> Subresource:
    return Subresource("scale", "Scale", "autoscaling", "v1")


_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",), (),
             (_status("Namespace", ""), Subresource("finalize", "Namespace", "", "v1", ("update",))),
             ("create", "delete", "get", "list", "patch", "update", "watch"), ("status.phase",)),
    Resource("", "v1", "Node", "nodes", False, ("no",), (), (_status("Node", ""),), READ_WRITE_VERBS,
             ("spec.unschedulable",)),
    Resource("", "v1", "Pod", "pods", True, ("po",), ("all",),
             (_status("Pod", ""),
              Subresource("binding", "Binding", "", "v1", ("create",)),
              Subresource("eviction", "Eviction", "policy", "v1", ("create",)),
              Subresource("log", "Pod", "", "v1", ("get",)),
              Subresource("exec", "PodExecOptions", "", "v1", ("create", "get"))),
             READ_WRITE_VERBS,
             ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "status.phase", "status.podIP", "status.nominatedNodeName")),
    Resource("", "v1", "Binding", "bindings", True, (), (), (), ("create",)),
    Resource("", "v1", "Service", "services", True, ("svc",), ("all",), (_status("Service", ""),),
             ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    Resource("", "v1", "Event", "events", True, ("ev",), (), (), READ_WRITE_VERBS, _EVENT_FIELDS),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", True, (), (), (), READ_WRITE_VERBS, ("type",)),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    Resource("", "v1", "ReplicationController", "replicationcontrollers", True, ("rc",), ("all",),
             (_status("ReplicationController", ""), _scale()), READ_WRITE_VERBS, ("status.replicas",)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("all",),
             (_status("Deployment", "apps"), _scale())),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("all",),
             (_status("ReplicaSet", "apps"), _scale()), READ_WRITE_VERBS, ("status.replicas",)),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("all",), (_status("DaemonSet", "apps"),)),
    Resource("batch", "v1", "Job", "jobs", True, (), ("all",), (_status("Job", "batch"),), READ_WRITE_VERBS,
             ("status.successful",)),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, (), (), (), READ_WRITE_VERBS,
             ("addressType",)),
    Resource("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False,
             ("csr",), (),
             (_status("CertificateSigningRequest", "certificates.k8s.io"),
              Subresource("approval", "CertificateSigningRequest", "certificates.k8s.io", "v1")),
             READ_WRITE_VERBS, ("spec.signerName",)),
)

_BY_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.group, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PLURAL.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> Resource | None:
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return _BY_KIND.get((group, kind))


def group_versions() -> list[tuple[str, str]]:
    """(group, version) pairs in discovery order: core first, then groups in catalog order."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen

