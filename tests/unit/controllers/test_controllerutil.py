"""The workload controllers' shared helpers: the template hash, int-or-percent rounding, pod state, the ranking
of pods for deletion, expectations, slow-start batches, taints, and adoption/release against the apiserver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from provisioner.services.api.selectors import label_selector_from_dict
from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, EventRecorder
from provisioner.services.controllers import controllerutil as cu
from tests.unit.controllers.conftest import events_for, resource

PODS = resource("pods")
REPLICA_SETS = resource("replicasets", "apps")
NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def stamp(seconds_ago: float) -> str:
    return cu.format_time(NOW - timedelta(seconds=seconds_ago))


def pod(name: str, *, node: str = "", phase: str = "Running", ready: bool = True, ready_for: float = 600,
        restarts: int = 0, age: float = 3600, cost: int | None = None) -> dict[str, Any]:
    annotations = {cu.POD_DELETION_COST_ANNOTATION: str(cost)} if cost is not None else {}
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": stamp(age),
                         "annotations": annotations},
            "spec": {"nodeName": node, "containers": [{"name": "c"}]},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": stamp(ready_for)}],
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


# --------------------------------------------------------------------------------------------------- hashing

def test_fnv32a_matches_the_published_vectors() -> None:
    assert cu.fnv32a(b"") == 0x811C9DC5
    assert cu.fnv32a(b"a") == 0xE40C292C
    assert cu.fnv32a(b"foobar") == 0xBF9CF968


def test_safe_encode_string_maps_digits_onto_consonants_and_digits() -> None:
    assert cu.safe_encode_string("0123456789") == "456789bcdf"


def test_template_hash_is_stable_and_ignores_empty_fields_and_key_order() -> None:
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {}}]}}
    reordered = {"spec": {"containers": [{"image": "nginx", "name": "web"}]},
                 "metadata": {"annotations": {}, "labels": {"app": "web"}, "creationTimestamp": None}}
    first = cu.compute_hash(template)
    assert first == cu.compute_hash(reordered)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(first) <= 10
    assert cu.compute_hash(template, 1) != first  # a collision count makes another name
    changed = {**template, "spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}
    assert cu.compute_hash(changed) != first


def test_templates_compare_equal_ignoring_the_hash_label() -> None:
    deployment_template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}}
    rs_template = {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
                   "spec": {"containers": [{"name": "web"}]}}
    assert cu.templates_equal_ignoring_hash(deployment_template, rs_template)
    other = {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
             "spec": {"containers": [{"name": "api"}]}}
    assert not cu.templates_equal_ignoring_hash(deployment_template, other)


@pytest.mark.parametrize(("value", "total", "round_up", "expected"), [
    ("25%", 10, True, 3), ("25%", 10, False, 2), ("25%", 4, True, 1), ("25%", 3, False, 0),
    (5, 10, True, 5), ("5", 10, False, 5), ("0%", 7, True, 0), ("100%", 7, False, 7), (None, 3, True, 0),
])
def test_int_or_percent_rounds_like_kubernetes(value: Any, total: int, round_up: bool, expected: int) -> None:
    assert cu.scaled_value(value, total, round_up) == expected


def test_int_or_percent_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        cu.scaled_value("a%", 10, True)
    with pytest.raises(ValueError):
        cu.scaled_value("many", 10, True)


# --------------------------------------------------------------------------------------------------- pods

def test_availability_needs_readiness_for_longer_than_min_ready_seconds() -> None:
    just_ready = pod("p", ready_for=5)
    assert cu.is_pod_available(just_ready, 0, NOW)
    assert not cu.is_pod_available(just_ready, 10, NOW)
    assert cu.is_pod_available(just_ready, 4, NOW)
    assert cu.seconds_until_available(just_ready, 10, NOW) == pytest.approx(5)
    assert not cu.is_pod_available(pod("q", ready=False), 0, NOW)


def test_active_and_terminating_pods() -> None:
    running, done = pod("a"), pod("b", phase="Succeeded")
    leaving = pod("c")
    leaving["metadata"]["deletionTimestamp"] = stamp(0)
    assert [p["metadata"]["name"] for p in cu.filter_active_pods([running, done, leaving])] == ["a"]
    assert cu.is_pod_terminating(leaving) and not cu.is_pod_terminating(done)


@pytest.mark.parametrize(("first", "second"), [
    (pod("unscheduled", node=""), pod("scheduled", node="n1")),
    (pod("pending", phase="Pending", node="n1"), pod("running", node="n1")),
    (pod("unready", ready=False, node="n1"), pod("ready", node="n1")),
    (pod("cheap", cost=-10, node="n1"), pod("dear", cost=10, node="n1")),
    (pod("recently-ready", ready_for=10, node="n1"), pod("long-ready", ready_for=100000, node="n1")),
    (pod("restarting", restarts=5, node="n1"), pod("steady", node="n1")),
    (pod("young", age=10, node="n1"), pod("old", age=100000, node="n1")),
])
def test_deletion_ranking_prefers_the_least_useful_pod(first: dict[str, Any], second: dict[str, Any]) -> None:
    for order in ([first, second], [second, first]):
        assert cu.pods_to_delete(order, [], 1, NOW) == [first]


def test_deletion_ranking_prefers_pods_doubled_up_on_a_node() -> None:
    crowded, alone = pod("crowded", node="n1"), pod("alone", node="n2")
    siblings = [pod("sibling-1", node="n1"), pod("sibling-2", node="n1"), crowded, alone]
    assert cu.pods_to_delete([alone, crowded], siblings, 1, NOW) == [crowded]


def test_deleting_all_pods_needs_no_ranking() -> None:
    pods = [pod("a"), pod("b")]
    assert cu.pods_to_delete(pods, [], 5, NOW) == pods


# --------------------------------------------------------------------------------------------------- expectations

def test_expectations_hold_a_sync_back_until_every_write_is_observed() -> None:
    expectations = cu.ControllerExpectations()
    assert expectations.satisfied("ns/a")  # nothing expected yet
    expectations.expect_creations("ns/a", 2)
    assert not expectations.satisfied("ns/a")
    expectations.creation_observed("ns/a")
    assert not expectations.satisfied("ns/a")
    expectations.creation_observed("ns/a")
    assert expectations.satisfied("ns/a")
    expectations.expect_creations("ns/a", 3)
    expectations.lower("ns/a", adds=3)  # creations that failed will never be observed
    assert expectations.satisfied("ns/a")


def test_uid_tracking_expectations_count_each_deleted_pod_once() -> None:
    expectations = cu.UIDTrackingExpectations()
    expectations.expect_deletions_of("ns/rs", ["ns/p1", "ns/p2"])
    expectations.deletion_of_observed("ns/rs", "ns/p1")  # deletionTimestamp set …
    expectations.deletion_of_observed("ns/rs", "ns/p1")  # … then the DELETE event: still one
    expectations.deletion_of_observed("ns/rs", "ns/other")  # not one we deleted
    assert not expectations.satisfied("ns/rs")
    expectations.deletion_of_observed("ns/rs", "ns/p2")
    assert expectations.satisfied("ns/rs")


async def test_slow_start_stops_after_the_first_failing_batch() -> None:
    calls = 0

    async def create() -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise ApiError(403, "exceeded quota")

    created, error = await cu.slow_start_batch(10, 1, create)
    assert calls == 7  # batches of 1, 2 and 4; the batch with the failure is the last
    assert created == 6 and isinstance(error, ApiError)
    calls = 0
    assert await cu.slow_start_batch(3, 1, lambda: _count_ok()) == (3, None)


async def _count_ok() -> None:
    return None


# --------------------------------------------------------------------------------------------------- taints

def test_tolerations_match_taints_like_kubernetes() -> None:
    taint = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    assert cu.toleration_tolerates({"key": "dedicated", "operator": "Equal", "value": "db"}, taint)
    assert cu.toleration_tolerates({"key": "dedicated", "value": "db", "effect": "NoSchedule"}, taint)
    assert cu.toleration_tolerates({"key": "dedicated", "operator": "Exists"}, taint)
    assert cu.toleration_tolerates({"operator": "Exists"}, taint)  # tolerates everything
    assert not cu.toleration_tolerates({"key": "dedicated", "value": "web"}, taint)
    assert not cu.toleration_tolerates({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, taint)
    taints = [taint, {"key": "soft", "effect": "PreferNoSchedule"}]
    assert cu.untolerated_taint(taints, [], ("NoSchedule", "NoExecute")) == taint
    assert cu.untolerated_taint(taints, [{"key": "dedicated", "operator": "Exists"}],
                                ("NoSchedule", "NoExecute")) is None


# --------------------------------------------------------------------------------------------------- API

async def _owner(client: ApiClient, name: str, selector: dict[str, str]) -> dict[str, Any]:
    return await client.create(REPLICA_SETS, {
        "metadata": {"name": name},
        "spec": {"replicas": 0, "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": selector}, "spec": {"containers": [{"name": "c",
                                                                                          "image": "x"}]}}}},
        "default")


async def _bare_pod(client: ApiClient, name: str, labels: dict[str, str],
                    owner_refs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if owner_refs:
        metadata["ownerReferences"] = owner_refs
    return await client.create(PODS, {"metadata": metadata, "spec": {"containers": [{"name": "c", "image": "x"}]}},
                               "default")


async def test_claiming_adopts_matching_orphans_releases_strays_and_leaves_others_alone(client: ApiClient) -> None:
    owner = await _owner(client, "owner", {"app": "web"})
    other = await _owner(client, "other", {"app": "web"})
    orphan = await _bare_pod(client, "orphan", {"app": "web"})
    stray = await _bare_pod(client, "stray", {"app": "api"},
                            [cu.controller_ref(owner, REPLICA_SETS)])  # ours, but no longer matching
    theirs = await _bare_pod(client, "theirs", {"app": "web"}, [cu.controller_ref(other, REPLICA_SETS)])
    unrelated = await _bare_pod(client, "unrelated", {"app": "db"})
    manager = cu.ControllerRefManager(client, PODS, owner, REPLICA_SETS,
                                      label_selector_from_dict(owner["spec"]["selector"]),
                                      can_adopt=cu.recheck_deletion_timestamp(client, REPLICA_SETS, owner),
                                      finalizers=["example.com/tracking"])
    claimed = await manager.claim([orphan, stray, theirs, unrelated])
    assert [p["metadata"]["name"] for p in claimed] == ["orphan"]

    adopted = await client.get(PODS, "orphan", "default")
    assert adopted["metadata"]["ownerReferences"] == [cu.controller_ref(owner, REPLICA_SETS)]
    assert adopted["metadata"]["finalizers"] == ["example.com/tracking"]
    released = await client.get(PODS, "stray", "default")
    assert not released["metadata"].get("ownerReferences")
    untouched = await client.get(PODS, "theirs", "default")
    assert untouched["metadata"]["ownerReferences"] == theirs["metadata"]["ownerReferences"]
    assert stray["metadata"]["uid"] == released["metadata"]["uid"]


async def test_an_owner_being_deleted_adopts_nothing(client: ApiClient) -> None:
    owner = await _owner(client, "leaving", {"app": "web"})
    orphan = await _bare_pod(client, "orphan", {"app": "web"})
    # Deleted since the cache showed it: the fresh read before adopting notices (an orphaning finalizer keeps
    # it around in the deleting state).
    await client.delete(REPLICA_SETS, "leaving", "default", propagation_policy="Orphan")
    manager = cu.ControllerRefManager(client, PODS, owner, REPLICA_SETS,
                                      label_selector_from_dict(owner["spec"]["selector"]),
                                      can_adopt=cu.recheck_deletion_timestamp(client, REPLICA_SETS, owner))
    with pytest.raises(ApiError, match="has just been deleted"):
        await manager.claim([orphan])
    assert not (await client.get(PODS, "orphan", "default"))["metadata"].get("ownerReferences")


async def test_pod_control_creates_from_the_template_and_records_events(client: ApiClient) -> None:
    owner = await _owner(client, "maker", {"app": "maker"})
    recorder = EventRecorder(client, "test")
    control = cu.PodControl(client, recorder)
    template = {"metadata": {"labels": {"app": "maker"}, "annotations": {"note": "x"}, "finalizers": ["f/x"]},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}
    created = await control.create_pod("default", template, owner, REPLICA_SETS)
    assert created["metadata"]["name"].startswith("maker-")
    assert created["metadata"]["labels"] == {"app": "maker"}
    assert created["metadata"]["annotations"] == {"note": "x"}
    assert created["metadata"]["finalizers"] == ["f/x"]
    assert created["metadata"]["ownerReferences"] == [cu.controller_ref(owner, REPLICA_SETS)]
    await client.patch(PODS, created["metadata"]["name"], {"metadata": {"finalizers": None}}, "default")
    await control.delete_pod("default", created["metadata"]["name"], owner, REPLICA_SETS)
    with pytest.raises(ApiError) as gone:
        await control.delete_pod("default", created["metadata"]["name"], owner, REPLICA_SETS)
    assert cu.is_not_found(gone.value)
    with pytest.raises(ApiError, match="no labels"):
        await control.create_pod("default", {"spec": template["spec"]}, owner, REPLICA_SETS)
    await recorder.flush()
    messages = {e["message"] for e in await events_for(client, "maker")}
    assert f"Created pod: {created['metadata']['name']}" in messages
    assert f"Deleted pod: {created['metadata']['name']}" in messages
