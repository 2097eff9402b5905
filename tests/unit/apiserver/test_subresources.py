"""Subresources over HTTP: pods/status only changes status, the main resource never does, and the scale
subresource of deployments, replicasets and replicationcontrollers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.apiserver.wire import Api


@pytest.fixture(scope="module")
def api(apiserver: LocalApiserver) -> Api:
    return Api(apiserver)


@pytest.fixture
def ns(api: Api) -> str:
    name = f"sub-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


CONTAINERS = [{"name": "c", "image": "registry.local/c:1"}]


def make_pod(api: Api, ns: str, name: str) -> dict[str, Any]:
    return api.ok("POST", f"/api/v1/namespaces/{ns}/pods",
                  {"metadata": {"name": name, "labels": {"app": "a"}}, "spec": {"containers": CONTAINERS}})


# ------------------------------------------------------------------------------------------------ status
def test_status_put_changes_only_status(api: Api, ns: str) -> None:
    created = make_pod(api, ns, "p")
    body = {**created, "metadata": {**created["metadata"], "labels": {"app": "changed"}},
            "spec": {**created["spec"], "activeDeadlineSeconds": 5},
            "status": {"phase": "Running", "podIP": "10.244.0.9"}}
    code, updated = api.put(f"/api/v1/namespaces/{ns}/pods/p/status", body)
    assert code == 200, updated
    assert updated["status"]["phase"] == "Running" and updated["status"]["podIP"] == "10.244.0.9"
    stored = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/p")
    assert stored["status"]["podIP"] == "10.244.0.9"
    assert stored["metadata"]["labels"] == {"app": "a"}
    assert "activeDeadlineSeconds" not in stored["spec"]
    assert stored["metadata"]["generation"] == created["metadata"]["generation"]


def test_status_patch_changes_only_status(api: Api, ns: str) -> None:
    make_pod(api, ns, "q")
    code, patched = api.patch(f"/api/v1/namespaces/{ns}/pods/q/status",
                              {"metadata": {"labels": {"app": "changed"}}, "spec": {"activeDeadlineSeconds": 5},
                               "status": {"phase": "Running"}},
                              "application/strategic-merge-patch+json")
    assert code == 200, patched
    stored = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/q")
    assert stored["status"]["phase"] == "Running"
    assert stored["metadata"]["labels"] == {"app": "a"} and "activeDeadlineSeconds" not in stored["spec"]


def test_main_resource_writes_cannot_change_status(api: Api, ns: str) -> None:
    created = make_pod(api, ns, "r")
    assert created["status"]["phase"] == "Pending"
    body = {**created, "metadata": {**created["metadata"], "labels": {"app": "b"}}, "status": {"phase": "Failed"}}
    code, updated = api.put(f"/api/v1/namespaces/{ns}/pods/r", body)
    assert code == 200 and updated["status"]["phase"] == "Pending" and updated["metadata"]["labels"] == {"app": "b"}
    code, patched = api.patch(f"/api/v1/namespaces/{ns}/pods/r", {"status": {"phase": "Failed"}})
    assert code == 200 and patched["status"]["phase"] == "Pending"
    assert api.ok("GET", f"/api/v1/namespaces/{ns}/pods/r")["status"]["phase"] == "Pending"


def test_a_create_cannot_set_status(api: Api, ns: str) -> None:
    created = api.ok("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", {**deployment("fake"),
                                                                        "status": {"readyReplicas": 7}})
    assert "readyReplicas" not in created.get("status", {})


# ------------------------------------------------------------------------------------------------ scale
def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": CONTAINERS}}}}


def replication_controller(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "replicas": 1, "selector": {"app": name, "tier": "web"},
        "template": {"metadata": {"labels": {"app": name, "tier": "web"}}, "spec": {"containers": CONTAINERS}}}}


SCALABLE = [
    ("/apis/apps/v1/namespaces/{ns}/deployments", deployment, "app={name}"),
    ("/apis/apps/v1/namespaces/{ns}/replicasets", deployment, "app={name}"),
    ("/api/v1/namespaces/{ns}/replicationcontrollers", replication_controller, "app={name},tier=web"),
]


@pytest.mark.parametrize(("collection", "make", "selector"), SCALABLE)
def test_scale_get_put_and_patch(api: Api, ns: str, collection: str, make: Any, selector: str) -> None:
    path = collection.format(ns=ns)
    created = api.ok("POST", path, make("s"))
    code, scale = api.get(f"{path}/s/scale")
    assert code == 200
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["metadata"]["name"] == "s" and scale["metadata"]["uid"] == created["metadata"]["uid"]
    assert scale["spec"] == {"replicas": 1}
    assert scale["status"]["selector"] == selector.format(name="s")

    scale["spec"]["replicas"] = 3
    code, put = api.put(f"{path}/s/scale", scale)
    assert code == 200 and put["spec"]["replicas"] == 3
    assert api.ok("GET", f"{path}/s")["spec"]["replicas"] == 3

    code, stale = api.put(f"{path}/s/scale", scale)  # the resourceVersion it carries is gone
    assert code == 409 and stale["reason"] == "Conflict"

    code, patched = api.patch(f"{path}/s/scale", {"spec": {"replicas": 5}})
    assert code == 200 and patched["spec"]["replicas"] == 5
    code, patched = api.patch(f"{path}/s/scale", [{"op": "replace", "path": "/spec/replicas", "value": 0}],
                              "application/json-patch+json")
    assert code == 200 and patched["spec"]["replicas"] == 0
    stored = api.ok("GET", f"{path}/s")
    assert stored["spec"]["replicas"] == 0 and stored["metadata"]["generation"] == 4

    code, invalid = api.patch(f"{path}/s/scale", {"spec": {"replicas": -1}})
    assert code == 422 and invalid["reason"] == "Invalid"
    assert invalid["details"]["causes"][0]["field"] == "spec.replicas"


def test_scale_of_a_missing_object_is_not_found(api: Api, ns: str) -> None:
    code, status = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/none/scale")
    assert code == 404 and status["message"] == 'deployments.apps "none" not found'


def test_a_deployment_status_write_may_set_annotations_but_not_labels(apiserver: LocalApiserver) -> None:
    api = Api(apiserver)
    body = {"metadata": {"name": "annotated", "labels": {"app": "a"}}, "spec": {
        "selector": {"matchLabels": {"app": "a"}},
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    code, created = api.post("/apis/apps/v1/namespaces/default/deployments", body)
    assert code == 201, created
    created["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    created["metadata"]["labels"] = {"app": "changed"}
    created["status"] = {"observedGeneration": 1}
    code, written = api.put("/apis/apps/v1/namespaces/default/deployments/annotated/status", created)
    assert code == 200, written
    assert written["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert written["metadata"]["labels"] == {"app": "a"}
    assert written["status"]["observedGeneration"] == 1
