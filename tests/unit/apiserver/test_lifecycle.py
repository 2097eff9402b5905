"""Object lifecycle over HTTP: graceful pod deletion, finalizers, propagation policies, preconditions, the Status a
delete returns, deletecollection, namespace termination and generated names."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.apiserver.wire import Api, WatchStream


@pytest.fixture(scope="module")
def api(apiserver: LocalApiserver) -> Api:
    return Api(apiserver)


@pytest.fixture
def ns(api: Api) -> str:
    name = f"life-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "registry.local/c:1"}], **spec}}


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"k": "v"}}


def bind(api: Api, ns: str, name: str, node: str = "node-1") -> tuple[int, Any]:
    return api.post(f"/api/v1/namespaces/{ns}/pods/{name}/binding",
                    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                     "target": {"apiVersion": "v1", "kind": "Node", "name": node}})


# ------------------------------------------------------------------------------------------------ pods
def test_an_unscheduled_pod_is_deleted_at_once_and_the_pod_is_returned(api: Api, ns: str) -> None:
    created = api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("idle"))
    code, deleted = api.delete(f"/api/v1/namespaces/{ns}/pods/idle")
    assert code == 200
    assert deleted["kind"] == "Pod" and deleted["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(deleted["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert api.get(f"/api/v1/namespaces/{ns}/pods/idle")[0] == 404


def test_a_bound_pod_gets_a_grace_period_then_force_deletion_removes_it(api: Api, ns: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("busy"))
    code, status = bind(api, ns, "busy")
    assert (code, status["status"]) == (201, "Success")

    code, marked = api.delete(f"/api/v1/namespaces/{ns}/pods/busy")
    assert code == 200
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30 == marked["spec"]["terminationGracePeriodSeconds"]
    code, still = api.get(f"/api/v1/namespaces/{ns}/pods/busy")
    assert code == 200 and still["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]

    code, again = api.delete(f"/api/v1/namespaces/{ns}/pods/busy?gracePeriodSeconds=30")
    assert code == 200 and again["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]

    code, gone = api.delete(f"/api/v1/namespaces/{ns}/pods/busy", {"gracePeriodSeconds": 0})
    assert code == 200 and gone["metadata"]["name"] == "busy"
    assert api.get(f"/api/v1/namespaces/{ns}/pods/busy")[0] == 404


def test_binding_sets_the_node_and_the_pod_scheduled_condition(api: Api, ns: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("placed"))
    unschedulable = {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                "message": "0/1 nodes are available"}]}}
    api.ok("PATCH", f"/api/v1/namespaces/{ns}/pods/placed/status", unschedulable,
           content_type="application/merge-patch+json")
    assert bind(api, ns, "placed")[0] == 201
    bound = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/placed")
    assert bound["spec"]["nodeName"] == "node-1"
    scheduled = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [(c["status"], c.get("reason")) for c in scheduled] == [("True", None)]


def test_binding_twice_is_a_conflict(api: Api, ns: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("once"))
    assert bind(api, ns, "once")[0] == 201
    code, status = bind(api, ns, "once", "node-2")
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == 'Operation cannot be fulfilled on pods/binding "once": pod once is already ' \
                                'assigned to node "node-1"'
    assert api.ok("GET", f"/api/v1/namespaces/{ns}/pods/once")["spec"]["nodeName"] == "node-1"


@pytest.mark.parametrize("binding", [{"target": {"name": 5}}, {"target": {"name": "n"}, "metadata": True}])
def test_a_malformed_binding_is_a_bad_request(api: Api, ns: str, binding: dict[str, Any]) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("unbound"))
    code, status = api.post(f"/api/v1/namespaces/{ns}/pods/unbound/binding", binding)
    assert code == 400 and status["reason"] == "BadRequest"
    assert "nodeName" not in api.ok("GET", f"/api/v1/namespaces/{ns}/pods/unbound")["spec"]


def test_eviction_returns_201_and_deletes_the_pod(api: Api, ns: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("evicted"))
    code, status = api.post(f"/api/v1/namespaces/{ns}/pods/evicted/eviction",
                            {"apiVersion": "policy/v1", "kind": "Eviction",
                             "metadata": {"name": "evicted", "namespace": ns}})
    assert code == 201
    assert (status["kind"], status["status"], status["code"]) == ("Status", "Success", 201)
    assert api.get(f"/api/v1/namespaces/{ns}/pods/evicted")[0] == 404
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("dry"))
    code, _ = api.post(f"/api/v1/namespaces/{ns}/pods/dry/eviction",
                       {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "dry"},
                        "deleteOptions": {"dryRun": ["All"]}})  # kubectl drain --dry-run=server
    assert code == 201 and api.get(f"/api/v1/namespaces/{ns}/pods/dry")[0] == 200
    code, status = api.post(f"/api/v1/namespaces/{ns}/pods/dry/eviction", {"metadata": True})
    assert code == 400 and status["reason"] == "BadRequest"
    code, missing = api.post(f"/api/v1/namespaces/{ns}/pods/evicted/eviction",
                             {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "evicted"}})
    assert code == 404 and missing["reason"] == "NotFound"


# ------------------------------------------------------------------------------------------------ finalizers
def test_finalizers_keep_an_object_until_the_last_one_is_removed(api: Api, apiserver: LocalApiserver,
                                                                 ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.ok("POST", path, configmap("held", finalizers=["example.com/a", "example.com/b"]))
    code, marked = api.delete(f"{path}/held")
    assert code == 200 and marked["kind"] == "ConfigMap"
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 0
    assert api.ok("GET", f"{path}/held")["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]

    code, forbidden = api.patch(f"{path}/held", {"metadata": {"finalizers": ["example.com/a", "example.com/b",
                                                                             "example.com/c"]}})
    assert code == 422 and forbidden["reason"] == "Invalid"
    assert "no new finalizers can be added if the object is being deleted" in forbidden["message"]

    rv = marked["metadata"]["resourceVersion"]
    with WatchStream(apiserver, f"{path}?watch=true&resourceVersion={rv}&timeoutSeconds=2") as watch:
        api.ok("PATCH", f"{path}/held", {"metadata": {"finalizers": ["example.com/b"]}},
               "application/merge-patch+json")
        assert api.get(f"{path}/held")[0] == 200
        api.ok("PATCH", f"{path}/held", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
        assert api.get(f"{path}/held")[0] == 404
        events = watch.take(2)
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert events[1]["object"]["metadata"]["uid"] == created["metadata"]["uid"]


@pytest.mark.parametrize(("policy", "finalizer"), [("Orphan", "orphan"), ("Foreground", "foregroundDeletion")])
def test_propagation_policies_add_their_finalizer(api: Api, ns: str, policy: str, finalizer: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.ok("POST", path, {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "registry.local/c:1"}]}}}})
    code, marked = api.delete(f"{path}/web", {"kind": "DeleteOptions", "apiVersion": "v1",
                                              "propagationPolicy": policy})
    assert code == 200
    assert marked["metadata"]["finalizers"] == [finalizer] and marked["metadata"]["deletionTimestamp"]
    stored = api.ok("GET", f"{path}/web")
    assert stored["metadata"]["finalizers"] == [finalizer]
    # The garbage collector's part: it removes the finalizer once dependents are handled, and the object goes.
    api.ok("PATCH", f"{path}/web", [{"op": "remove", "path": "/metadata/finalizers"}],
           "application/json-patch+json")
    assert api.get(f"{path}/web")[0] == 404


def test_propagation_policy_in_the_query_is_honoured(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.ok("POST", path, configmap("orphaned"))
    code, marked = api.delete(f"{path}/orphaned?propagationPolicy=Orphan")
    assert code == 200 and marked["metadata"]["finalizers"] == ["orphan"]
    code, status = api.delete(f"{path}/orphaned?propagationPolicy=Sideways")
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == ('DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                                 '"Sideways": supported values: "Foreground", "Background", "Orphan", "nil"')


# ------------------------------------------------------------------------------------------------ preconditions
def test_delete_preconditions_conflict(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.ok("POST", path, configmap("guarded"))
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]

    code, status = api.delete(f"{path}/guarded", {"preconditions": {"uid": "not-the-uid"}})
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == (f'Operation cannot be fulfilled on configmaps "guarded": Precondition failed: '
                                 f"UID in precondition: not-the-uid, UID in object meta: {uid}")
    assert status["details"] == {"name": "guarded", "kind": "configmaps"}

    code, status = api.delete(f"{path}/guarded", {"preconditions": {"resourceVersion": "1"}})
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == (f'Operation cannot be fulfilled on configmaps "guarded": Precondition failed: '
                                 f"ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv}")
    assert api.get(f"{path}/guarded")[0] == 200

    code, status = api.delete(f"{path}/guarded", {"preconditions": {"uid": uid, "resourceVersion": rv}})
    assert code == 200 and status["status"] == "Success"


# ------------------------------------------------------------------------------------------------ delete results
def test_deleting_a_non_pod_returns_a_success_status_with_details(api: Api, ns: str) -> None:
    created = api.ok("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "metadata": {"name": "gone"},
        "spec": {"selector": {"matchLabels": {"app": "gone"}},
                 "template": {"metadata": {"labels": {"app": "gone"}},
                              "spec": {"containers": [{"name": "c", "image": "registry.local/c:1"}]}}}})
    code, status = api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/gone",
                              {"propagationPolicy": "Background"})
    assert code == 200
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": "gone", "group": "apps", "kind": "deployments",
                                  "uid": created["metadata"]["uid"]}}
    code, missing = api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/gone")
    assert code == 404 and missing["message"] == 'deployments.apps "gone" not found'

    cm = api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("core"))
    code, status = api.delete(f"/api/v1/namespaces/{ns}/configmaps/core")
    assert code == 200
    assert status["details"] == {"name": "core", "kind": "configmaps", "uid": cm["metadata"]["uid"]}


def test_deletecollection_deletes_only_what_the_selector_matches(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        api.ok("POST", path, configmap(name, labels={"tier": tier}))
    code, deleted = api.delete(f"{path}?labelSelector=tier%3Dweb")
    assert code == 200 and deleted["kind"] == "ConfigMapList"
    assert sorted(item["metadata"]["name"] for item in deleted["items"]) == ["a", "b"]
    remaining = api.ok("GET", path)["items"]
    assert [item["metadata"]["name"] for item in remaining] == ["c"]
    assert api.delete(f"{path}?dryRun=All")[0] == 200
    assert len(api.ok("GET", path)["items"]) == 1


# ------------------------------------------------------------------------------------------------ namespaces
@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_protected_namespaces_cannot_be_deleted(api: Api, name: str) -> None:
    code, status = api.delete(f"/api/v1/namespaces/{name}")
    assert code == 403 and status["reason"] == "Forbidden"
    assert status["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    assert "deletionTimestamp" not in api.ok("GET", f"/api/v1/namespaces/{name}")["metadata"]


def test_a_deleted_namespace_is_terminating_and_refuses_new_content(api: Api, ns: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("before"))
    code, marked = api.delete(f"/api/v1/namespaces/{ns}")
    assert code == 200
    assert marked["status"]["phase"] == "Terminating" and marked["metadata"]["deletionTimestamp"]
    assert marked["spec"]["finalizers"] == ["kubernetes"]
    assert api.ok("GET", f"/api/v1/namespaces/{ns}")["status"]["phase"] == "Terminating"

    code, status = api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("after"))
    assert code == 403 and status["reason"] == "Forbidden"
    assert status["message"] == (f'configmaps "after" is forbidden: unable to create new content in namespace '
                                 f"{ns} because it is being terminated")
    assert status["details"]["causes"] == [{"reason": "NamespaceTerminating",
                                            "message": f"namespace {ns} is being terminated",
                                            "field": "metadata.namespace"}]
    code, status = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", {"metadata": {"name": "d"}})
    assert code == 403 and status["message"].startswith('deployments.apps "d" is forbidden: unable to create')
    # What is already there can still be read, changed and deleted (the namespace controller empties it).
    assert api.patch(f"/api/v1/namespaces/{ns}/configmaps/before", {"data": {"k": "w"}})[0] == 200
    assert api.delete(f"/api/v1/namespaces/{ns}/configmaps/before")[0] == 200


def test_finalizing_a_terminating_namespace_removes_it(api: Api, ns: str) -> None:
    api.ok("DELETE", f"/api/v1/namespaces/{ns}")
    current = api.ok("GET", f"/api/v1/namespaces/{ns}")
    current["spec"]["finalizers"] = []
    code, _ = api.put(f"/api/v1/namespaces/{ns}/finalize", current)
    assert code == 200
    assert api.get(f"/api/v1/namespaces/{ns}")[0] == 404


# ------------------------------------------------------------------------------------------------ names
def test_generate_name_creates_unique_names(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = [api.ok("POST", path, {"metadata": {"generateName": "job-"}}) for _ in range(20)]
    generated = {c["metadata"]["name"] for c in created}
    assert len(generated) == 20
    assert all(name.startswith("job-") and len(name) == len("job-") + 5 for name in generated)
    assert all(c["metadata"]["generateName"] == "job-" for c in created)
    code, status = api.post(path, {"metadata": {}})
    assert code == 422 and status["details"]["causes"][0]["field"] == "metadata.name"
