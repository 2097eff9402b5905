"""Lists over HTTP: limit/continue pagination over a consistent snapshot, list resourceVersions, expired and
invalid continue tokens, field selectors of pods and events, and server-side Table output."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.apiserver.wire import TABLE, Api


@pytest.fixture(scope="module")
def api(apiserver: LocalApiserver) -> Api:
    return Api(apiserver)


@pytest.fixture
def ns(api: Api) -> str:
    name = f"list-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def make_configmaps(api: Api, ns: str, count: int, labels: Any = None) -> list[dict[str, Any]]:
    return [api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps",
                   {"metadata": {"name": f"cm-{index:03d}", "labels": labels(index) if labels else {}}})
            for index in range(count)]


def all_pages(api: Api, path: str, limit: int, between_pages: Any = None) -> list[dict[str, Any]]:
    """Every page of a paginated list; ``between_pages`` runs after each page but the last."""
    pages = []
    separator = "&" if "?" in path else "?"
    page = api.ok("GET", f"{path}{separator}limit={limit}")
    pages.append(page)
    while page["metadata"].get("continue"):
        if between_pages:
            between_pages()
        page = api.ok("GET", f"{path}{separator}limit={limit}&continue={quote(page['metadata']['continue'])}")
        pages.append(page)
    return pages


# ------------------------------------------------------------------------------------------------ pagination
def test_pages_cover_a_consistent_snapshot(api: Api, ns: str) -> None:
    made = make_configmaps(api, ns, 25)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    counter = iter(range(100))

    def create_more() -> None:  # objects created between pages never show up in the paginated list
        api.ok("POST", path, {"metadata": {"name": f"late-{next(counter)}"}})

    pages = all_pages(api, path, 10, create_more)
    assert [len(p["items"]) for p in pages] == [10, 10, 5]
    listed = [item["metadata"]["name"] for page in pages for item in page["items"]]
    assert listed == [m["metadata"]["name"] for m in made]
    assert len({p["metadata"]["resourceVersion"] for p in pages}) == 1
    assert int(pages[0]["metadata"]["resourceVersion"]) == max(int(m["metadata"]["resourceVersion"]) for m in made)
    assert "continue" not in pages[-1]["metadata"]
    assert len(api.ok("GET", path)["items"]) == 27  # the later objects are there for a new list


def test_pages_with_a_label_selector_are_full_pages_of_matches(api: Api, ns: str) -> None:
    make_configmaps(api, ns, 30, lambda i: {"parity": "even" if i % 2 == 0 else "odd"})
    pages = all_pages(api, f"/api/v1/namespaces/{ns}/configmaps?labelSelector=parity%3Deven", 4)
    assert [len(p["items"]) for p in pages] == [4, 4, 4, 3]
    listed = [item["metadata"]["name"] for page in pages for item in page["items"]]
    assert listed == [f"cm-{i:03d}" for i in range(0, 30, 2)]


def test_a_limit_larger_than_the_list_has_no_continue(api: Api, ns: str) -> None:
    make_configmaps(api, ns, 3)
    page = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=3")
    assert len(page["items"]) == 3 and "continue" not in page["metadata"]


def test_pagination_across_namespaces(api: Api, ns: str) -> None:
    make_configmaps(api, ns, 6, lambda i: {"marker": ns})
    pages = all_pages(api, f"/api/v1/configmaps?labelSelector=marker%3D{ns}", 5)
    assert [len(p["items"]) for p in pages] == [5, 1]
    assert {item["metadata"]["namespace"] for page in pages for item in page["items"]} == {ns}


def test_a_continue_token_from_a_compacted_revision_is_expired(api: Api, apiserver: LocalApiserver,
                                                               ns: str) -> None:
    made = make_configmaps(api, ns, 5)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.ok("GET", f"{path}?limit=2")
    api.ok("DELETE", f"{path}/{made[3]['metadata']['name']}")  # the old snapshot differs from the present
    apiserver.run(apiserver.backend.compact(apiserver.run(apiserver.backend.current_revision())))
    code, status = api.get(f"{path}?limit=2&continue={quote(first['metadata']['continue'])}")
    assert code == 410 and status["reason"] == "Expired"
    assert status["message"].startswith("The provided continue parameter is too old to display a consistent list "
                                        "result. You can start a new list without the continue parameter")
    # Kubernetes offers a token that continues at the present revision (an inconsistent, but complete, list).
    rest = api.ok("GET", f"{path}?limit=10&continue={quote(status['metadata']['continue'])}")
    assert [i["metadata"]["name"] for i in rest["items"]] == ["cm-002", "cm-004"]


def raw_token(data: dict[str, Any]) -> str:
    """A continue token as Kubernetes encodes them: unpadded base64url JSON."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("token", "why"), [
    ("garbage", ""),
    (raw_token({"v": "meta.k8s.io/v1"}) + "==", "illegal base64 data at input byte"),
    (raw_token({"v": "meta.k8s.io/v1", "start": "x"}), "incorrect encoded start resourceVersion"),
    (raw_token({"v": "meta.k8s.io/v1", "rv": 5}), "encoded start key empty"),
    (raw_token({"v": "nope", "rv": 1, "start": "x"}), "server does not recognize this encoded version"),
    (raw_token({"v": "meta.k8s.io/v1", "rv": 1, "start": "../../secrets"}), "../../secrets"),
    (raw_token({"v": "meta.k8s.io/v1", "rv": 1, "start": "/a/./b"}), "/a/./b"),
])
def test_an_invalid_continue_token_is_a_bad_request(api: Api, token: str, why: str) -> None:
    code, status = api.get(f"/api/v1/namespaces/default/configmaps?limit=1&continue={token}")
    assert code == 400 and status["reason"] == "BadRequest"
    assert status["message"].startswith(f"invalid continue token: continue key is not valid: {why}")


def test_a_continue_token_resumes_after_its_start_key(api: Api, ns: str) -> None:
    made = make_configmaps(api, ns, 4)
    token = raw_token({"v": "meta.k8s.io/v1", "rv": int(made[-1]["metadata"]["resourceVersion"]),
                       "start": "cm-001\u0000"})
    page = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=10&continue={token}")
    assert [i["metadata"]["name"] for i in page["items"]] == ["cm-002", "cm-003"]
    code, status = api.get(f"/api/v1/namespaces/{ns}/configmaps?limit=10&continue={token}&resourceVersion=5")
    assert code == 400 and status["message"] == "specifying resource version is not allowed when using continue"


# ------------------------------------------------------------------------------------------------ versions
def test_list_resource_versions(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.ok("POST", path, {"metadata": {"name": "first"}})
    before = api.ok("GET", path)["metadata"]["resourceVersion"]
    assert before == first["metadata"]["resourceVersion"]
    api.ok("POST", path, {"metadata": {"name": "second"}})
    current = api.ok("GET", path)
    assert int(current["metadata"]["resourceVersion"]) > int(before)
    assert len(current["items"]) == 2

    snapshot = api.ok("GET", f"{path}?resourceVersion={before}&resourceVersionMatch=Exact")
    assert [i["metadata"]["name"] for i in snapshot["items"]] == ["first"]
    assert snapshot["metadata"]["resourceVersion"] == before
    assert len(api.ok("GET", f"{path}?resourceVersion=0")["items"]) == 2
    assert len(api.ok("GET", f"{path}?resourceVersion={before}&resourceVersionMatch=NotOlderThan")["items"]) == 2

    apiserver.run(apiserver.backend.compact(int(current["metadata"]["resourceVersion"])))
    code, status = api.get(f"{path}?resourceVersion={before}&resourceVersionMatch=Exact")
    assert code == 410 and status["reason"] == "Expired"


@pytest.mark.parametrize("query", ["resourceVersionMatch=Exact", "resourceVersion=0&resourceVersionMatch=Exact",
                                   "resourceVersion=1&resourceVersionMatch=Newest"])
def test_bad_resource_version_matches_are_invalid(api: Api, query: str) -> None:
    code, status = api.get(f"/api/v1/namespaces/default/configmaps?{query}")
    assert code == 422 and status["reason"] == "Invalid"
    assert status["details"]["kind"] == "ListOptions" and status["details"]["group"] == "meta.k8s.io"
    assert status["details"]["causes"][0]["field"] == "resourceVersionMatch"


# ------------------------------------------------------------------------------------------------ fields
def test_pod_field_selectors(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    containers = [{"name": "c", "image": "registry.local/c:1"}]
    for name, node in (("on-1", "node-1"), ("on-2", "node-2"), ("nowhere", "")):
        api.ok("POST", path, {"metadata": {"name": name}, "spec": {"containers": containers,
                                                                   **({"nodeName": node} if node else {})}})
    api.ok("PATCH", f"{path}/on-1/status", {"status": {"phase": "Running"}}, "application/merge-patch+json")

    def listed(selector: str) -> list[str]:
        return [i["metadata"]["name"] for i in api.ok("GET", f"{path}?fieldSelector={quote(selector)}")["items"]]

    assert listed("spec.nodeName=node-1") == ["on-1"]
    assert listed("spec.nodeName=") == ["nowhere"]
    assert listed("spec.nodeName!=") == ["on-1", "on-2"]
    assert listed("status.phase!=Running") == ["nowhere", "on-2"]
    assert listed("status.phase=Running,spec.nodeName=node-1") == ["on-1"]
    assert listed("status.phase!=Running,status.phase!=Pending") == []
    assert listed("metadata.name=on-2") == ["on-2"]
    assert listed(f"metadata.namespace={ns}") == ["nowhere", "on-1", "on-2"]
    cluster_wide = api.ok("GET", f"/api/v1/pods?fieldSelector={quote('spec.nodeName=node-2')}")["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in cluster_wide] == [(ns, "on-2")]
    code, status = api.get(f"{path}?fieldSelector=spec.colour%3Dred")
    assert code == 400 and status["message"] == "field label not supported: spec.colour"


def test_event_field_selectors(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/events"
    for name, kind, target, uid, reason, event_type in (
            ("e1", "Pod", "web-1", "uid-1", "Scheduled", "Normal"),
            ("e2", "Pod", "web-2", "uid-2", "BackOff", "Warning"),
            ("e3", "Node", "node-1", "uid-3", "Scheduled", "Normal")):
        api.ok("POST", path, {"metadata": {"name": name}, "reason": reason, "type": event_type,
                              "message": "m", "source": {"component": "scheduler"},
                              "involvedObject": {"kind": kind, "name": target, "namespace": ns, "uid": uid,
                                                 "apiVersion": "v1"}})

    def listed(selector: str) -> list[str]:
        return [i["metadata"]["name"] for i in api.ok("GET", f"{path}?fieldSelector={quote(selector)}")["items"]]

    assert listed("involvedObject.name=web-1") == ["e1"]
    assert listed("involvedObject.kind=Pod") == ["e1", "e2"]
    assert listed("involvedObject.uid=uid-3") == ["e3"]
    assert listed(f"involvedObject.namespace={ns},involvedObject.kind!=Pod") == ["e3"]
    assert listed("involvedObject.name=web-2,involvedObject.kind=Pod,involvedObject.uid=uid-2") == ["e2"]
    assert listed("reason=Scheduled") == ["e1", "e3"]
    assert listed("type=Warning") == ["e2"]
    assert listed("source=scheduler") == ["e1", "e2", "e3"]


# ------------------------------------------------------------------------------------------------ tables
def test_table_lists_honour_include_object(api: Api, ns: str) -> None:
    make_configmaps(api, ns, 2, lambda i: {"n": str(i)})
    path = f"/api/v1/namespaces/{ns}/configmaps"
    code, headers, table = api.call_with_headers("GET", path, headers={"Accept": TABLE})
    assert code == 200 and headers["Content-Type"] == TABLE
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]][:1] == ["Name"]
    assert table["metadata"]["resourceVersion"]
    assert [r["cells"][0] for r in table["rows"]] == ["cm-000", "cm-001"]
    partial = table["rows"][0]["object"]  # Metadata is the default
    assert (partial["kind"], partial["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
    assert partial["metadata"]["labels"] == {"n": "0"} and partial["metadata"]["namespace"] == ns

    table = api.ok("GET", f"{path}?includeObject=None", None) if False else \
        api.get(f"{path}?includeObject=None", {"Accept": TABLE})[1]
    assert all("object" not in row or row["object"] is None for row in table["rows"])
    table = api.get(f"{path}?includeObject=Object", {"Accept": TABLE})[1]
    assert table["rows"][1]["object"]["kind"] == "ConfigMap"
    assert table["rows"][1]["object"]["metadata"]["name"] == "cm-001"
    code, status = api.get(f"{path}?includeObject=Everything", {"Accept": TABLE})
    assert code == 400 and status["reason"] == "BadRequest"


def test_table_pages_and_single_objects(api: Api, ns: str) -> None:
    make_configmaps(api, ns, 3)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    page = api.get(f"{path}?limit=2", {"Accept": TABLE})[1]
    assert len(page["rows"]) == 2 and page["metadata"]["continue"]
    rest = api.get(f"{path}?limit=2&continue={quote(page['metadata']['continue'])}", {"Accept": TABLE})[1]
    assert [r["cells"][0] for r in rest["rows"]] == ["cm-002"]
    one = api.get(f"{path}/cm-001?includeObject=Object", {"Accept": TABLE})[1]
    assert one["kind"] == "Table" and len(one["rows"]) == 1
    assert one["rows"][0]["object"]["kind"] == "ConfigMap"
    pods = api.get(f"/api/v1/namespaces/{ns}/pods", {"Accept": TABLE})[1]
    assert [c["name"] for c in pods["columnDefinitions"]] == ["Name", "Ready", "Status", "Restarts", "Age", "IP",
                                                              "Node", "Nominated Node", "Readiness Gates"]
    assert pods["rows"] == []
