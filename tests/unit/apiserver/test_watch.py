"""Watch streams over HTTP: where a watch starts (a resourceVersion, "0"/unset, WatchList's initial events and
their end bookmark), bookmarks, timeouts, label and name filtering, Table-encoded events and 410 for compacted
history."""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import pytest

from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.apiserver.wire import TABLE, Api, WatchStream, names


@pytest.fixture(scope="module")
def api(apiserver: LocalApiserver) -> Api:
    return Api(apiserver)


@pytest.fixture
def ns(api: Api) -> str:
    name = f"watch-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def create(api: Api, ns: str, name: str, labels: dict[str, str] | None = None) -> dict:
    return api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps",
                  {"metadata": {"name": name, "labels": labels or {}}, "data": {"v": "1"}})


def rv(obj: dict) -> int:
    return int(obj["metadata"]["resourceVersion"])


# ------------------------------------------------------------------------------------------------ starting points
def test_a_watch_from_a_resource_version_sees_only_later_changes(api: Api, apiserver: LocalApiserver,
                                                                 ns: str) -> None:
    first = create(api, ns, "first")
    second = create(api, ns, "second")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    with WatchStream(apiserver, f"{path}?watch=true&resourceVersion={rv(first)}&timeoutSeconds=5") as watch:
        assert watch.status == 200 and watch.content_type == "application/json"
        added = watch.next()
        assert names([added]) == [("ADDED", "second")] and rv(added["object"]) == rv(second)
        api.ok("PATCH", f"{path}/first", {"data": {"v": "2"}}, "application/merge-patch+json")
        api.ok("DELETE", f"{path}/second")
        events = watch.take(2)
    assert names(events) == [("MODIFIED", "first"), ("DELETED", "second")]
    assert events[0]["object"]["data"] == {"v": "2"}
    assert rv(events[0]["object"]) < rv(events[1]["object"])


@pytest.mark.parametrize("start", ["", "&resourceVersion=0"])
def test_a_watch_from_zero_or_unset_starts_with_synthetic_adds(api: Api, apiserver: LocalApiserver, ns: str,
                                                               start: str) -> None:
    create(api, ns, "a")
    create(api, ns, "b")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    with WatchStream(apiserver, f"{path}?watch=true{start}&timeoutSeconds=5") as watch:
        assert names(watch.take(2)) == [("ADDED", "a"), ("ADDED", "b")]
        create(api, ns, "c")
        assert names([watch.next()]) == [("ADDED", "c")]


def test_watch_list_sends_initial_events_then_the_end_bookmark(api: Api, apiserver: LocalApiserver,
                                                              ns: str) -> None:
    create(api, ns, "a")
    last = create(api, ns, "b")
    path = (f"/api/v1/namespaces/{ns}/configmaps?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
            f"&sendInitialEvents=true&timeoutSeconds=5&watch=true")
    with WatchStream(apiserver, path) as watch:
        events = watch.take(3)
        assert names(events[:2]) == [("ADDED", "a"), ("ADDED", "b")]
        bookmark = events[2]
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"] == {"kind": "ConfigMap", "apiVersion": "v1",
                                      "metadata": {"resourceVersion": bookmark["object"]["metadata"]
                                                   ["resourceVersion"],
                                                   "annotations": {"k8s.io/initial-events-end": "true"}}}
        assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= rv(last)
        created = create(api, ns, "c")
        event = watch.next()
        while event["type"] == "BOOKMARK":  # periodic bookmarks may come first
            assert "annotations" not in event["object"]["metadata"]
            event = watch.next()
    assert names([event]) == [("ADDED", "c")] and rv(event["object"]) == rv(created)


def test_watch_list_of_one_named_object(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    create(api, ns, "web")
    create(api, ns, "web-2")
    path = (f"/api/v1/namespaces/{ns}/configmaps?allowWatchBookmarks=true&fieldSelector="
            f"{quote('metadata.name=web')}&resourceVersionMatch=NotOlderThan&sendInitialEvents=true"
            f"&timeoutSeconds=5&watch=true")
    with WatchStream(apiserver, path) as watch:
        events = watch.take(2)
        assert names(events) == [("ADDED", "web"), ("BOOKMARK", "")]
        api.ok("DELETE", f"/api/v1/namespaces/{ns}/configmaps/web-2")
        api.ok("DELETE", f"/api/v1/namespaces/{ns}/configmaps/web")
        event = watch.next()
        while event["type"] == "BOOKMARK":
            event = watch.next()
    assert names([event]) == [("DELETED", "web")]


@pytest.mark.parametrize("query", ["sendInitialEvents=true", "sendInitialEvents=true&resourceVersionMatch=Exact",
                                   "sendInitialEvents=false"])
def test_send_initial_events_needs_not_older_than(api: Api, query: str) -> None:
    code, status = api.get(f"/api/v1/namespaces/default/configmaps?watch=true&{query}&timeoutSeconds=1")
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"].startswith('ListOptions.meta.k8s.io "" is invalid: ')
    assert "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to " \
           "NotOlderThan" in status["message"]
    assert status["details"]["causes"][0] == {
        "reason": "FieldValueForbidden", "field": "resourceVersionMatch",
        "message": "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"}


def test_resource_version_match_on_a_plain_watch_is_invalid(api: Api) -> None:
    code, status = api.get("/api/v1/namespaces/default/configmaps?watch=true&resourceVersionMatch=NotOlderThan"
                           "&resourceVersion=1&timeoutSeconds=1")
    assert code == 422
    assert status["message"] == ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                                 "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")


# ------------------------------------------------------------------------------------------------ bookmarks, timeout
def test_bookmarks_come_periodically_only_when_asked_for(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    last = create(api, ns, "x")
    path = f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv(last)}&timeoutSeconds=1"
    with WatchStream(apiserver, path + "&allowWatchBookmarks=true") as watch:
        events = watch.until_end()
    assert len(events) >= 1 and {e["type"] for e in events} == {"BOOKMARK"}
    for event in events:
        assert event["object"]["kind"] == "ConfigMap" and event["object"]["apiVersion"] == "v1"
        assert int(event["object"]["metadata"]["resourceVersion"]) >= rv(last)
    with WatchStream(apiserver, path) as watch:
        assert watch.until_end() == []


def test_timeout_seconds_ends_the_stream(apiserver: LocalApiserver, ns: str) -> None:
    started = time.monotonic()
    with WatchStream(apiserver, f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1") as watch:
        assert watch.until_end() == []
    assert 0.9 <= time.monotonic() - started < 3


# ------------------------------------------------------------------------------------------------ filtering
def test_a_label_filtered_watch_sees_objects_enter_and_leave(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    create(api, ns, "m", {"tier": "web"})
    create(api, ns, "other", {"tier": "db"})
    with WatchStream(apiserver, f"{path}?watch=true&labelSelector=tier%3Dweb&timeoutSeconds=5") as watch:
        assert names([watch.next()]) == [("ADDED", "m")]
        left = api.ok("PATCH", f"{path}/m", {"metadata": {"labels": {"tier": "db"}}}, "application/merge-patch+json")
        api.ok("PATCH", f"{path}/other", {"data": {"v": "2"}}, "application/merge-patch+json")  # never matched
        api.ok("PATCH", f"{path}/other", {"metadata": {"labels": {"tier": "web"}}}, "application/merge-patch+json")
        api.ok("PATCH", f"{path}/other", {"data": {"v": "3"}}, "application/merge-patch+json")
        events = watch.take(3)
    assert names(events) == [("DELETED", "m"), ("ADDED", "other"), ("MODIFIED", "other")]
    # DELETED carries the last state that matched, at the revision where it stopped matching.
    assert events[0]["object"]["metadata"]["labels"] == {"tier": "web"}
    assert rv(events[0]["object"]) == rv(left)
    assert events[2]["object"]["data"] == {"v": "3"}


def test_a_name_pinned_watch_ignores_longer_names(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    with WatchStream(apiserver, f"{path}?watch=true&fieldSelector=metadata.name%3Dweb&timeoutSeconds=5") as watch:
        create(api, ns, "web-2")
        create(api, ns, "webby")
        create(api, ns, "web")
        assert names([watch.next()]) == [("ADDED", "web")]
        api.ok("DELETE", f"{path}/web-2")
        api.ok("DELETE", f"{path}/web")
        assert names([watch.next()]) == [("DELETED", "web")]


def test_a_cluster_wide_watch_sees_every_namespace(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    with WatchStream(apiserver, f"/api/v1/configmaps?watch=true&labelSelector=w%3D{ns}&timeoutSeconds=5") as watch:
        create(api, ns, "here", {"w": ns})
        event = watch.next()
    assert names([event]) == [("ADDED", "here")] and event["object"]["metadata"]["namespace"] == ns


# ------------------------------------------------------------------------------------------------ tables, errors
def test_table_watch_events_carry_column_definitions_once(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    create(api, ns, "t1")
    path = f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=5&includeObject=Object"
    with WatchStream(apiserver, path, headers={"Accept": TABLE}) as watch:
        assert watch.content_type == TABLE
        first = watch.next()
        create(api, ns, "t2")
        second = watch.next()
    for event, name in ((first, "t1"), (second, "t2")):
        assert event["type"] == "ADDED" and event["object"]["kind"] == "Table"
        assert [row["cells"][0] for row in event["object"]["rows"]] == [name]
        assert event["object"]["rows"][0]["object"]["kind"] == "ConfigMap"
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert second["object"]["columnDefinitions"] is None


def test_a_watch_from_compacted_history_gets_a_410_error_event(api: Api, apiserver: LocalApiserver,
                                                               ns: str) -> None:
    old = create(api, ns, "old")
    latest = create(api, ns, "new")
    apiserver.run(apiserver.backend.compact(rv(latest)))
    path = f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv(old)}&timeoutSeconds=5"
    with WatchStream(apiserver, path) as watch:
        assert watch.status == 200
        events = watch.until_end()
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["status"], status["code"], status["reason"]) == ("Status", "Failure", 410,
                                                                                   "Expired")
    assert status["message"] == f"too old resource version: {rv(old)} ({rv(latest)})"
