"""Authorization: who may do what.

- ``system:masters`` may do everything; so may the scheduler and controller-manager identities, which act on every
  object of the cluster.
- Nodes (``system:node:NAME`` in ``system:nodes``) are restricted like Kubernetes' Node authorizer and
  NodeRestriction admission: their own Node and Lease, pods bound to them, events, CSRs, and reads of what a kubelet
  and its network need.
- Bootstrap tokens (``system:bootstrappers``) may only create and read CertificateSigningRequests.
- Everyone else is refused with 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from provisioner.services.api.status import ApiError, forbidden
from provisioner.services.apiserver.context import User
from provisioner.services.apiserver.paths import Target

MASTERS = "system:masters"
NODES = "system:nodes"
NODE_PREFIX = "system:node:"
BOOTSTRAPPERS = "system:bootstrappers"
CONTROL_PLANE_USERS = frozenset({"system:kube-scheduler", "system:kube-controller-manager"})

READ = frozenset({"get", "list", "watch"})
# What any kubelet (and the node's proxy and DNS) may read cluster-wide.
_NODE_READABLE = frozenset({"nodes", "services", "endpoints", "endpointslices", "namespaces", "pods",
                            "configmaps", "secrets", "serviceaccounts", "leases", "certificatesigningrequests"})

Fetch = Callable[[], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Attributes:
    verb: str
    target: Target

    @property
    def resource(self) -> str:
        return self.target.resource.plural


async def authorize(user: User, attrs: Attributes, fetch: Fetch) -> None:
    """Raises 403 unless ``user`` may perform ``attrs``; ``fetch`` loads the addressed object when a rule needs it."""
    if user.in_group(MASTERS) or user.name in CONTROL_PLANE_USERS:
        return
    if user.in_group(NODES) and user.name.startswith(NODE_PREFIX):
        if await _node_allowed(user.name[len(NODE_PREFIX):], attrs, fetch):
            return
    elif user.in_group(BOOTSTRAPPERS):
        if attrs.resource == "certificatesigningrequests" and not attrs.target.subresource and \
                attrs.verb in ("create", "get", "list", "watch"):
            return
    raise _forbidden(user, attrs)


def _forbidden(user: User, attrs: Attributes) -> ApiError:
    target = attrs.target
    return forbidden(user.name, attrs.verb, target.resource.plural, target.resource.group, target.namespace,
                     target.name, target.subresource)


async def _node_allowed(node: str, attrs: Attributes, fetch: Fetch) -> bool:
    target, verb, resource = attrs.target, attrs.verb, attrs.resource
    if verb in READ and resource in _NODE_READABLE and target.subresource in ("", "status"):
        return True
    if resource == "nodes":
        return target.name == node and verb in ("create", "update", "patch") or \
            (verb == "create" and not target.name)
    if resource == "leases":
        return target.namespace == "kube-node-lease" and (target.name == node or (verb == "create" and not target.name))
    if resource == "events":
        return verb in ("create", "update", "patch")
    if resource == "certificatesigningrequests":
        return verb == "create" and not target.subresource
    if resource == "pods" and target.name and verb in ("update", "patch", "delete") and \
            target.subresource in ("", "status"):
        pod = await fetch()
        return pod is not None and (pod.get("spec") or {}).get("nodeName") == node
    return False


def node_may_create_object(node: str, resource: str, obj: dict[str, Any]) -> bool:
    """NodeRestriction on creates: a node may register only itself and create only its own Lease."""
    meta = obj.get("metadata")
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    if resource in ("nodes", "leases"):
        return name == node
    return True
