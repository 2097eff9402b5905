"""What the workload controllers (ReplicaSet, ReplicationController, Deployment, Job, DaemonSet) share, after
Kubernetes' ``pkg/controller/controller_utils.go`` and ``controller_ref_manager.go``:

* controller ownerReferences, and adoption/release of objects by selector (``ControllerRefManager``);
* creating pods from a template (``generateName: <owner>-``, a controller ownerReference) and deleting them, with
  the events Kubernetes records (``PodControl``), in slow-start batches;
* "expectations", so a controller does not create or delete twice while its informer has not yet shown it the
  result of its own writes (``ControllerExpectations``, ``UIDTrackingExpectations``);
* pod state: active, terminating, ready, available (``minReadySeconds``), and the ranking of pods for deletion;
* the pod-template hash (FNV-32a, rendered with Kubernetes' SafeEncodeString alphabet) and int-or-percent values.

Everything here takes cached objects read-only; functions that return a changed object copy it first.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import math
import struct
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.selectors import LabelSelector
from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, EventRecorder
from provisioner.services.client.informer import Obj, Store

log = logging.getLogger("controllers.util")

PODS = resources.lookup("", "v1", "pods")

# Kubernetes' controller constants.
BURST_REPLICAS = 500  # most pods one sync creates or deletes (ReplicaSet's burstReplicas)
SLOW_START_INITIAL_BATCH_SIZE = 1
EXPECTATIONS_TIMEOUT = 300.0  # seconds after which unmet expectations are given up (ExpectationsTimeout)

# Informer index names (shared by every workload controller; the same function behind each name).
INDEX_BY_CONTROLLER_UID = "workloads/controller-uid"
INDEX_BY_NAMESPACE = "workloads/namespace"
INDEX_ORPHANS_BY_NAMESPACE = "workloads/orphans-by-namespace"

POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


# --------------------------------------------------------------------------------------------------- time

def now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 with second precision, as metav1.Time serialises."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------- metadata

def meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def uid_of(obj: Obj) -> str:
    return str(meta(obj).get("uid") or "")


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def key_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def is_being_deleted(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def with_kind(obj: Obj, resource: Resource) -> Obj:
    """``obj`` with kind/apiVersion set (events name them), without touching the cached object."""
    if obj.get("kind") == resource.kind and obj.get("apiVersion") == resource.api_version:
        return obj
    return {**obj, "kind": resource.kind, "apiVersion": resource.api_version}


def controller_ref(owner: Obj, owner_resource: Resource) -> dict[str, Any]:
    """metav1.NewControllerRef: the ownerReference a controller puts on what it creates."""
    return {"apiVersion": owner_resource.api_version, "kind": owner_resource.kind, "name": name_of(owner),
            "uid": uid_of(owner), "controller": True, "blockOwnerDeletion": True}


def group_of(api_version: str) -> str:
    """The API group of an ``apiVersion`` ("apps/v1" → "apps", "v1" → "")."""
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def refers_to(ref: Mapping[str, Any] | None, resource: Resource) -> bool:
    """Whether an ownerReference names an object of ``resource``'s kind and group (any version)."""
    return ref is not None and ref.get("kind") == resource.kind and \
        group_of(str(ref.get("apiVersion") or "")) == resource.group


def controller_of(obj: Obj) -> dict[str, Any] | None:
    """metav1.GetControllerOf: the ownerReference with ``controller: true``, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def controller_uid_index(obj: Obj) -> list[str]:
    ref = controller_of(obj)
    return [str(ref["uid"])] if ref and ref.get("uid") else []


def namespace_index(obj: Obj) -> list[str]:
    return [namespace_of(obj)]


def orphan_namespace_index(obj: Obj) -> list[str]:
    return [] if controller_of(obj) is not None else [namespace_of(obj)]


WORKLOAD_INDEXERS = {INDEX_BY_CONTROLLER_UID: controller_uid_index, INDEX_BY_NAMESPACE: namespace_index,
                     INDEX_ORPHANS_BY_NAMESPACE: orphan_namespace_index}


def claim_candidates(store: Store, owner: Obj) -> list[Obj]:
    """What a claim by ``owner`` can change: the objects it controls and the orphans of its namespace (objects
    other controllers control are never touched). Needs the WORKLOAD_INDEXERS on ``store``."""
    namespace = namespace_of(owner)
    own = [o for o in store.by_index(INDEX_BY_CONTROLLER_UID, uid_of(owner)) if namespace_of(o) == namespace]
    return own + store.by_index(INDEX_ORPHANS_BY_NAMESPACE, namespace)


def controlled_by(store: Store, owner: Obj) -> list[Obj]:
    namespace = namespace_of(owner)
    return [o for o in store.by_index(INDEX_BY_CONTROLLER_UID, uid_of(owner)) if namespace_of(o) == namespace]


def labels_of(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def creation_order(obj: Obj) -> tuple[str, str]:
    """Sort key of controller.*ByCreationTimestamp: older first, ties broken by name (RFC 3339 sorts as text)."""
    return (str(meta(obj).get("creationTimestamp") or ""), name_of(obj))


# --------------------------------------------------------------------------------------------------- pods

def pod_phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_pod_terminal(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """controller.IsPodActive: not finished and not being deleted."""
    return not is_pod_terminal(pod) and not is_being_deleted(pod)


def is_pod_terminating(pod: Obj) -> bool:
    """controller.IsPodTerminating: being deleted but not finished yet."""
    return not is_pod_terminal(pod) and is_being_deleted(pod)


def filter_active_pods(pods: Iterable[Obj]) -> list[Obj]:
    return [pod for pod in pods if is_pod_active(pod)]


def pod_condition(pod: Obj, condition_type: str) -> dict[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == condition_type:
            return condition
    return None


def is_pod_ready(pod: Obj) -> bool:
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def pod_ready_since(pod: Obj) -> datetime | None:
    """When the pod became ready (the Ready condition's lastTransitionTime), if it is ready."""
    condition = pod_condition(pod, "Ready")
    if condition is None or condition.get("status") != "True":
        return None
    return parse_time(condition.get("lastTransitionTime"))


def is_pod_available(pod: Obj, min_ready_seconds: int, at: datetime | None = None) -> bool:
    """podutil.IsPodAvailable: ready, and ready for longer than ``min_ready_seconds``."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_since(pod)
    return since is not None and (since.timestamp() + min_ready_seconds) < (at or now()).timestamp()


def seconds_until_available(pod: Obj, min_ready_seconds: int, at: datetime | None = None) -> float | None:
    """How long until a ready pod turns available (None: not ready or already available)."""
    since = pod_ready_since(pod)
    if since is None or not min_ready_seconds or is_pod_available(pod, min_ready_seconds, at):
        return None
    return max(0.0, since.timestamp() + min_ready_seconds - (at or now()).timestamp())


def max_container_restarts(pod: Obj) -> tuple[int, int]:
    """Highest restart count of regular containers, and of restartable init ("sidecar") containers."""
    status = pod.get("status") or {}
    regular = max((int(s.get("restartCount") or 0) for s in status.get("containerStatuses") or []), default=0)
    sidecar_names = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                     if c.get("restartPolicy") == "Always"}
    sidecar = max((int(s.get("restartCount") or 0) for s in status.get("initContainerStatuses") or []
                   if s.get("name") in sidecar_names), default=0)
    return regular, sidecar


def _deletion_cost(pod: Obj) -> int:
    raw = (meta(pod).get("annotations") or {}).get(POD_DELETION_COST_ANNOTATION)
    try:
        cost = int(raw) if raw is not None else 0
    except ValueError:
        return 0
    return cost if -(2**31) <= cost < 2**31 else 0


_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _log_rank(moment: datetime, at: datetime) -> int:
    """The pod's age in log2(nanoseconds) buckets: pods of a similar age compare equal (LogarithmicScaleDown)."""
    age_ns = (at - moment).total_seconds() * 1e9
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _compare_times_newer_first(t1: datetime | None, t2: datetime | None, uid1: str, uid2: str,
                               at: datetime) -> int:
    """-1 if the first should be deleted first: missing time first, then younger (by log bucket, then uid)."""
    if t1 == t2:
        return 0
    if t1 is None or t2 is None:
        return -1 if t1 is None else 1
    difference = _log_rank(t1, at) - _log_rank(t2, at)
    if difference == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if difference < 0 else 1


def _compare_for_deletion(a: tuple[Obj, int], b: tuple[Obj, int], at: datetime) -> int:
    """controller.ActivePodsWithRanks.Less, as a comparison: negative when ``a`` should be deleted first."""
    (pa, rank_a), (pb, rank_b) = a, b
    node_a, node_b = (pa.get("spec") or {}).get("nodeName") or "", (pb.get("spec") or {}).get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):  # 1. unscheduled before scheduled
        return -1 if not node_a else 1
    phase_a, phase_b = _PHASE_ORDINAL.get(pod_phase(pa), 0), _PHASE_ORDINAL.get(pod_phase(pb), 0)
    if phase_a != phase_b:  # 2. Pending < Unknown < Running
        return -1 if phase_a < phase_b else 1
    ready_a, ready_b = is_pod_ready(pa), is_pod_ready(pb)
    if ready_a != ready_b:  # 3. not ready before ready
        return -1 if not ready_a else 1
    cost_a, cost_b = _deletion_cost(pa), _deletion_cost(pb)
    if cost_a != cost_b:  # 4. lower pod-deletion-cost first
        return -1 if cost_a < cost_b else 1
    if rank_a != rank_b:  # 5. more sibling pods on the same node first ("doubled up")
        return -1 if rank_a > rank_b else 1
    if ready_a and ready_b:  # 6. ready for a shorter time first
        order = _compare_times_newer_first(pod_ready_since(pa), pod_ready_since(pb), uid_of(pa), uid_of(pb), at)
        if order:
            return order
    restarts_a, restarts_b = max_container_restarts(pa), max_container_restarts(pb)
    if restarts_a != restarts_b:  # 7. more restarts first (regular containers, then sidecars)
        return -1 if restarts_a > restarts_b else 1
    created_a = parse_time(meta(pa).get("creationTimestamp"))  # 8. newer first
    created_b = parse_time(meta(pb).get("creationTimestamp"))
    return _compare_times_newer_first(created_a, created_b, uid_of(pa), uid_of(pb), at)


def pods_to_delete(candidates: Sequence[Obj], related: Iterable[Obj], count: int,
                   at: datetime | None = None) -> list[Obj]:
    """The ``count`` pods of ``candidates`` to delete first (ReplicaSet's getPodsToDelete): ranked by
    ActivePodsWithRanks, where a pod's rank is how many active ``related`` pods share its node."""
    if count >= len(candidates):
        return list(candidates)
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0)) for pod in candidates]
    moment = at or now()
    ranked.sort(key=functools.cmp_to_key(lambda a, b: _compare_for_deletion(a, b, moment)))
    return [pod for pod, _ in ranked[:count]]


# --------------------------------------------------------------------------------------------------- taints

def toleration_tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated_taint(taints: Iterable[Mapping[str, Any]], tolerations: Iterable[Mapping[str, Any]],
                      effects: Iterable[str]) -> Mapping[str, Any] | None:
    """v1helper.FindMatchingUntoleratedTaint restricted to taints with one of ``effects``."""
    wanted = set(effects)
    tolerations = list(tolerations)
    for taint in taints:
        if taint.get("effect") not in wanted:
            continue
        if not any(toleration_tolerates(t, taint) for t in tolerations):
            return taint
    return None


# --------------------------------------------------------------------------------------------------- values

def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, ``"25%"`` of ``total`` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: invalid value {text!r}") from None
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    try:
        return int(text)
    except ValueError:
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage") from None


# --------------------------------------------------------------------------------------------------- hashing

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv32a(data: bytes, state: int = _FNV32_OFFSET) -> int:
    for byte in data:
        state = ((state ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return state


def safe_encode_string(text: str) -> str:
    """rand.SafeEncodeString: map every character onto consonants and digits (no vowels: no bad words)."""
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in text)


def _without_empty(value: Any) -> Any:
    """Drop null, empty maps and empty lists recursively: Go's deep hash and semantic equality cannot tell them
    from absent fields, so neither may we."""
    if isinstance(value, dict):
        cleaned = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def canonical_template(template: Any) -> Any:
    return _without_empty(copy.deepcopy(template) if template is not None else {})


def compute_hash(template: Any, collision_count: int | None = None) -> str:
    """controller.ComputeHash: FNV-32a of the pod template, then of ``collisionCount`` (8 little-endian bytes,
    the upper four zero, as Kubernetes writes them), rendered with SafeEncodeString. Kubernetes feeds a Go
    deep-print of the struct; we feed canonical JSON (sorted keys, empty values dropped), so the value differs
    from Kubernetes' but is stable for equal templates."""
    state = fnv32a(orjson.dumps(canonical_template(template), option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        state = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\x00" * 4, state)
    return safe_encode_string(str(state))


def templates_equal_ignoring_hash(first: Any, second: Any, hash_label: str = "pod-template-hash") -> bool:
    """deploymentutil.EqualIgnoreHash: semantic equality of two pod templates, ignoring ``hash_label``."""
    def strip(template: Any) -> Any:
        cleaned = canonical_template(template)
        if isinstance(cleaned, dict):
            labels = (cleaned.get("metadata") or {}).get("labels")
            if isinstance(labels, dict):
                labels.pop(hash_label, None)
        return _without_empty(cleaned)

    return bool(strip(first) == strip(second))


# --------------------------------------------------------------------------------------------------- expectations

@dataclass
class _Expectation:
    adds: int = 0
    deletes: int = 0
    stamp: float = field(default_factory=time.monotonic)

    def fulfilled(self) -> bool:
        return self.adds <= 0 and self.deletes <= 0

    def expired(self) -> bool:
        return time.monotonic() - self.stamp > EXPECTATIONS_TIMEOUT


class ControllerExpectations:
    """Kubernetes' ControllerExpectations: per controller key, how many creations and deletions it issued and
    has not yet seen in its informer. A controller syncs (creates/deletes) only when they are met, or expired."""

    def __init__(self) -> None:
        self._by_key: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        expectation = self._by_key.get(key)
        return expectation is None or expectation.fulfilled() or expectation.expired()

    def seconds_until_expiry(self, key: str) -> float | None:
        expectation = self._by_key.get(key)
        if expectation is None or expectation.fulfilled():
            return None
        return max(0.0, EXPECTATIONS_TIMEOUT - (time.monotonic() - expectation.stamp))

    def set(self, key: str, adds: int, deletes: int) -> None:
        self._by_key[key] = _Expectation(adds, deletes)

    def expect_creations(self, key: str, adds: int) -> None:
        self.set(key, adds, 0)

    def expect_deletions(self, key: str, deletes: int) -> None:
        self.set(key, 0, deletes)

    def lower(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        expectation = self._by_key.get(key)
        if expectation is not None:
            expectation.adds -= adds
            expectation.deletes -= deletes

    def creation_observed(self, key: str) -> None:
        self.lower(key, adds=1)

    def deletion_observed(self, key: str) -> None:
        self.lower(key, deletes=1)

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        expectation = self._by_key.get(key)
        return (expectation.adds, expectation.deletes) if expectation else (0, 0)


class UIDTrackingExpectations(ControllerExpectations):
    """Expectations that also remember which pods (``namespace/name``) a deletion was issued for, so a deletion
    is counted once however it is observed (deletionTimestamp set, then the DELETE event)."""

    def __init__(self) -> None:
        super().__init__()
        self._deleting: dict[str, set[str]] = {}

    def expect_deletions_of(self, key: str, pod_keys: Iterable[str]) -> None:
        pending = set(pod_keys)
        self._deleting[key] = pending
        self.set(key, 0, len(pending))

    def deletion_of_observed(self, key: str, pod_key: str) -> None:
        pending = self._deleting.get(key)
        if pending is not None and pod_key in pending:
            pending.discard(pod_key)
            self.deletion_observed(key)

    def delete(self, key: str) -> None:
        super().delete(key)
        self._deleting.pop(key, None)


# --------------------------------------------------------------------------------------------------- writes

async def slow_start_batch(count: int, initial_batch_size: int,
                           create_one: Callable[[], Awaitable[None]]) -> tuple[int, BaseException | None]:
    """Run ``create_one`` ``count`` times in batches of 1, 2, 4, … (each batch concurrently); stop after the
    first batch with a failure. Returns how many succeeded and the first error. Many pods that would all fail
    alike (quota, admission) then cost a handful of requests, not ``count``."""
    remaining, successes = count, 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(create_one() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if isinstance(error, asyncio.CancelledError):
                raise error
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def pod_from_template(template: Mapping[str, Any], owner_name: str, owner_ref: dict[str, Any] | None,
                      *, generate_name: str | None = None) -> Obj:
    """controller.GetPodFromTemplate: labels, annotations, finalizers and spec from the template; the name
    generated from ``<owner>-``; the controller's ownerReference."""
    template_meta = template.get("metadata") or {}
    metadata: dict[str, Any] = {"generateName": generate_name if generate_name is not None else f"{owner_name}-"}
    for field_name in ("labels", "annotations"):
        if template_meta.get(field_name):
            metadata[field_name] = dict(template_meta[field_name])
    if template_meta.get("finalizers"):
        metadata["finalizers"] = list(template_meta["finalizers"])
    if owner_ref is not None:
        metadata["ownerReferences"] = [dict(owner_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": copy.deepcopy(template.get("spec") or {})}


class PodControl:
    """Creates and deletes a controller's pods, recording the events Kubernetes' RealPodControl records."""

    def __init__(self, client: ApiClient, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create_pod(self, namespace: str, template: Mapping[str, Any], owner: Obj, owner_resource: Resource,
                         *, generate_name: str | None = None) -> Obj:
        pod = pod_from_template(template, name_of(owner), controller_ref(owner, owner_resource),
                                generate_name=generate_name)
        if not pod["metadata"].get("labels"):
            raise ApiError(422, "unable to create pods, no labels", "Invalid")
        event_owner = with_kind(owner, owner_resource)
        try:
            created = await self.client.create(PODS, pod, namespace)
        except ApiError as err:
            if not namespace_terminating(err):
                self.recorder.event(event_owner, "Warning", "FailedCreate", f"Error creating: {err.message}")
            raise
        self.recorder.event(event_owner, "Normal", "SuccessfulCreate", f"Created pod: {name_of(created)}")
        return created

    async def delete_pod(self, namespace: str, name: str, owner: Obj, owner_resource: Resource) -> None:
        """Delete a pod; a pod already gone raises the 404 (callers decide whether that matters)."""
        event_owner = with_kind(owner, owner_resource)
        try:
            await self.client.delete(PODS, name, namespace)
        except ApiError as err:
            if err.code != 404:
                self.recorder.event(event_owner, "Warning", "FailedDelete", f"Error deleting: {err.message}")
            raise
        self.recorder.event(event_owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    async def patch_pod(self, namespace: str, name: str, patch: Any, patch_type: str = "strategic") -> Obj:
        return await self.client.patch(PODS, name, patch, namespace, patch_type=patch_type)


def namespace_terminating(err: ApiError) -> bool:
    causes = (err.details or {}).get("causes") or []
    return any(isinstance(c, dict) and c.get("reason") == "NamespaceTerminating" for c in causes) or \
        "because it is being terminated" in err.message


def is_not_found(err: BaseException) -> bool:
    return isinstance(err, ApiError) and err.code == 404


# --------------------------------------------------------------------------------------------------- adoption

def recheck_deletion_timestamp(client: ApiClient, resource: Resource, owner: Obj) -> Callable[[], Awaitable[None]]:
    """controller.RecheckDeletionTimestamp: before adopting, read the owner fresh from the apiserver (not the
    cache) and refuse if it is gone, replaced (another uid) or being deleted."""
    async def check() -> None:
        fresh = await client.get(resource, name_of(owner), namespace_of(owner))
        if uid_of(fresh) != uid_of(owner):
            raise ApiError(409, f"original {namespace_of(owner)}/{name_of(owner)} is gone: got uid "
                                f"{uid_of(fresh)}, wanted {uid_of(owner)}", "Conflict")
        if is_being_deleted(fresh):
            raise ApiError(409, f"{namespace_of(owner)}/{name_of(owner)} has just been deleted at "
                                f"{meta(fresh)['deletionTimestamp']}", "Conflict")
    return check


class ControllerRefManager:
    """Kubernetes' BaseControllerRefManager.ClaimObject for one owner and one kind of child: keep the children
    we control that still match, release those that stopped matching, adopt matching orphans (adding the
    controller ownerReference, and ``finalizers`` if given)."""

    def __init__(self, client: ApiClient, child_resource: Resource, owner: Obj, owner_resource: Resource,
                 selector: LabelSelector, *, can_adopt: Callable[[], Awaitable[None]] | None = None,
                 finalizers: Sequence[str] = ()) -> None:
        self.client = client
        self.child_resource = child_resource
        self.owner = owner
        self.owner_resource = owner_resource
        self.selector = selector
        self.finalizers = list(finalizers)
        self._can_adopt = can_adopt
        self._adoption_checked: asyncio.Future[None] | None = None

    async def claim(self, children: Iterable[Obj], *filters: Callable[[Obj], bool]) -> list[Obj]:
        """The children this owner controls after adoption/release; errors are raised after trying them all
        (the caller requeues)."""
        claimed: list[Obj] = []
        errors: list[BaseException] = []
        owner_uid = uid_of(self.owner)
        for child in children:
            try:
                if await self._claim_one(child, owner_uid, filters):
                    claimed.append(child)
            except ApiError as err:
                errors.append(err)
        if errors:
            raise errors[0]
        return claimed

    def _matches(self, child: Obj, filters: Sequence[Callable[[Obj], bool]]) -> bool:
        return self.selector.matches(labels_of(child)) and all(f(child) for f in filters)

    async def _claim_one(self, child: Obj, owner_uid: str, filters: Sequence[Callable[[Obj], bool]]) -> bool:
        ref = controller_of(child)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                return False  # someone else's
            if self._matches(child, filters):
                return True
            if is_being_deleted(self.owner):
                return False
            await self._ignoring_gone(self.release(child))
            return False
        if is_being_deleted(self.owner) or not self._matches(child, filters) or is_being_deleted(child):
            return False
        if namespace_of(self.owner) and namespace_of(self.owner) != namespace_of(child):
            return False
        return await self._ignoring_gone(self.adopt(child))

    @staticmethod
    async def _ignoring_gone(write: Awaitable[None]) -> bool:
        try:
            await write
        except ApiError as err:
            if err.code == 404:
                return False
            raise
        return True

    async def _check_can_adopt(self) -> None:
        if self._can_adopt is None:
            return
        if self._adoption_checked is None:  # once per manager (sync.Once): one fresh read per sync at most
            self._adoption_checked = asyncio.ensure_future(self._can_adopt())
        await asyncio.shield(self._adoption_checked)

    async def adopt(self, child: Obj) -> None:
        try:
            await self._check_can_adopt()
        except ApiError as err:
            raise ApiError(err.code, f"can't adopt {self.child_resource.kind} {namespace_of(child)}/"
                                     f"{name_of(child)} ({uid_of(child)}): {err.message}", err.reason) from None
        patch: dict[str, Any] = {"metadata": {"ownerReferences": [controller_ref(self.owner, self.owner_resource)],
                                              "uid": uid_of(child)}}
        if self.finalizers:
            patch["metadata"]["finalizers"] = list(self.finalizers)
        await self.client.patch(self.child_resource, name_of(child), patch, namespace_of(child),
                                patch_type="strategic")
        log.info("%s %s adopted %s %s", self.owner_resource.kind, key_of(namespace_of(self.owner),
                 name_of(self.owner)), self.child_resource.kind, name_of(child))

    async def release(self, child: Obj) -> None:
        patch: dict[str, Any] = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid_of(self.owner)}],
                                              "uid": uid_of(child)}}
        if self.finalizers:
            patch["metadata"]["$deleteFromPrimitiveList/finalizers"] = list(self.finalizers)
        try:
            await self.client.patch(self.child_resource, name_of(child), patch, namespace_of(child),
                                    patch_type="strategic")
        except ApiError as err:
            if err.code == 422:  # gone and recreated, or no such reference any more: nothing to release
                return
            raise
        log.info("%s %s released %s %s", self.owner_resource.kind, key_of(namespace_of(self.owner),
                 name_of(self.owner)), self.child_resource.kind, name_of(child))


# --------------------------------------------------------------------------------------------------- status

class OwnWrites:
    """The resourceVersions of objects a controller's own writes replaced, per key. A sync that would start from
    one of them reads a cache that has not caught up with our write yet: it would only compute from stale state
    and fail with a conflict. The informer's event for the write queues the key again, so the sync can wait."""

    def __init__(self) -> None:
        self._replaced: dict[str, set[str]] = {}

    def record(self, key: str, before: Obj, after: Obj) -> None:
        old, new = meta(before).get("resourceVersion"), meta(after).get("resourceVersion")
        if old and new and old != new:  # an unchanged object keeps its version and brings no event
            self._replaced.setdefault(key, set()).add(str(old))

    def is_stale(self, key: str, cached: Obj) -> bool:
        replaced = self._replaced.get(key)
        if not replaced:
            return False
        if str(meta(cached).get("resourceVersion")) in replaced:
            return True
        del self._replaced[key]  # the cache moved past our writes
        return False

    def forget(self, key: str) -> None:
        self._replaced.pop(key, None)


async def write_status(client: ApiClient, resource: Resource, obj: Obj, status: dict[str, Any]) -> Obj:
    """PUT ``status`` on a copy of ``obj`` through /status; the cached resourceVersion makes a stale write fail
    with 409 (the caller requeues and recomputes)."""
    updated = {**obj, "metadata": dict(meta(obj)), "status": status}
    updated.setdefault("apiVersion", resource.api_version)
    updated.setdefault("kind", resource.kind)
    return await client.update(resource, updated, subresource="status")


def find_condition(conditions: Iterable[Mapping[str, Any]] | None, condition_type: str) -> dict[str, Any] | None:
    for condition in conditions or []:
        if condition.get("type") == condition_type:
            return dict(condition)
    return None
