"""Mutating admission on create, as kube-apiserver's built-in plugins do it."""

from __future__ import annotations

from typing import Any

from provisioner.services.apiserver.context import User

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300


def record_csr_requester(csr: dict[str, Any], user: User) -> None:
    """Who asked is recorded by the server, never taken from the body: the CSR approver trusts it."""
    spec = csr.setdefault("spec", {})
    spec["username"] = user.name
    spec["groups"] = list(user.groups)
    if user.uid:
        spec["uid"] = user.uid
    else:
        spec.pop("uid", None)
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra.items()}
    else:
        spec.pop("extra", None)


def add_default_toleration_seconds(pod: dict[str, Any]) -> None:
    """DefaultTolerationSeconds: a pod stays DEFAULT_TOLERATION_SECONDS on a node that went not-ready or unreachable
    before the taint eviction removes it — unless it already says how long it tolerates those taints."""
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = []
    for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        if not any(_tolerates_no_execute(t, key) for t in tolerations if isinstance(t, dict)):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
    spec["tolerations"] = tolerations


def _tolerates_no_execute(toleration: dict[str, Any], key: str) -> bool:
    if toleration.get("effect") not in ("NoExecute", "", None):
        return False
    if toleration.get("operator") == "Exists" and not toleration.get("key"):
        return True  # tolerates everything
    return toleration.get("key") == key


def admit_create(kind: str, obj: dict[str, Any], user: User) -> None:
    if kind == "CertificateSigningRequest":
        record_csr_requester(obj, user)
    elif kind == "Pod":
        add_default_toleration_seconds(obj)
