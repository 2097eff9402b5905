"""Bad input never yields a 5xx: every error is a Status with the right code and reason. Authentication and
authorization refusals too."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.apiserver.wire import request, status_of

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "registry.local/c:1"}]}}


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code", "reason"),
    [
        ("POST", "/api/v1/namespaces/default/pods", b"{not json", "application/json", 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/default/pods", b"[1, 2]", "application/json", 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/default/pods", b"a: [", "application/yaml", 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/default/pods", json.dumps(POD).encode(), "application/vnd.kubernetes.protobuf",
         415, "UnsupportedMediaType"),
        ("POST", "/api/v1/namespaces/default/pods", json.dumps({**POD, "metadata": {"name": "p", "namespace": "x"}})
         .encode(), "application/json", 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict",
         json.dumps({**POD, "spec": {**POD["spec"], "colour": "red"}}).encode(), "application/json", 400,
         "BadRequest"),
        ("POST", "/api/v1/namespaces/nowhere/pods", json.dumps(POD).encode(), "application/json", 404, "NotFound"),
        ("GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(b", None, "", 400, "BadRequest"),
        ("GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.colour%3Dred", None, "", 400, "BadRequest"),
        ("GET", "/api/v1/namespaces/default/pods?limit=-1", None, "", 400, "BadRequest"),
        ("GET", "/api/v1/namespaces/default/pods?continue=garbage", None, "", 400, "BadRequest"),
        ("GET", "/api/v1/namespaces/default/pods/missing", None, "", 404, "NotFound"),
        ("GET", "/api/v1/widgets", None, "", 404, "NotFound"),
        ("GET", "/apis/nope/v1", None, "", 404, "NotFound"),
        ("PATCH", "/api/v1/namespaces/default/pods/missing", b"{}", "text/plain", 415, "UnsupportedMediaType"),
        ("PUT", "/api/v1/namespaces/default/pods", b"{}", "application/json", 405, "MethodNotAllowed"),
    ],
)
def test_bad_requests_get_status_errors(apiserver: LocalApiserver, method: str, path: str, body: bytes | None,
                                        content_type: str, code: int, reason: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    got, _, data = request(apiserver, method, path, body, headers)
    assert got == code, data
    assert status_of(data)["reason"] == reason


def test_body_over_3_mib_is_413(apiserver: LocalApiserver) -> None:
    big = json.dumps({**POD, "metadata": {"name": "big", "annotations": {"x": "y" * (3 * 1024 * 1024)}}}).encode()
    code, _, data = request(apiserver, "POST", "/api/v1/namespaces/default/configmaps", big,
                            {"Content-Type": "application/json"})
    assert code == 413 and status_of(data)["reason"] == "RequestEntityTooLarge"


def test_unknown_field_with_warn_is_a_warning_header(apiserver: LocalApiserver) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "warned"}, "colour": "red"}
    code, headers, _ = request(apiserver, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn",
                               json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert code == 201
    assert headers.get("Warning") == '299 - "unknown field \\"colour\\""'


def test_anonymous_gets_401_except_health(apiserver: LocalApiserver) -> None:
    code, _, data = request(apiserver, "GET", "/api/v1/namespaces", who=None)
    assert code == 401 and status_of(data)["reason"] == "Unauthorized"
    for path in ("/healthz", "/livez", "/readyz"):
        assert request(apiserver, "GET", path, who=None)[0] == 200
    bad_token = request(apiserver, "GET", "/api", headers={"Authorization": "Bearer wrong"}, who=None)
    assert bad_token[0] == 401


def test_authorization_refuses_strangers_and_limits_nodes(apiserver: LocalApiserver) -> None:
    code, _, data = request(apiserver, "GET", "/api/v1/namespaces/default/secrets", who="nobody")
    assert code == 403
    status = status_of(data)
    assert status["reason"] == "Forbidden"
    assert status["message"] == ('secrets is forbidden: User "nobody" cannot list resource "secrets" in API group '
                                 '"" in the namespace "default"')
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    assert request(apiserver, "POST", "/api/v1/nodes", json.dumps(node).encode(),
                   {"Content-Type": "application/json"}, who="node")[0] == 201
    other = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}}
    assert request(apiserver, "POST", "/api/v1/nodes", json.dumps(other).encode(),
                   {"Content-Type": "application/json"}, who="node")[0] == 403
    assert request(apiserver, "DELETE", "/api/v1/nodes/node-1", who="node")[0] == 403
    assert request(apiserver, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1", who="node")[0] == 200
    assert request(apiserver, "POST", "/api/v1/namespaces/default/configmaps",
                   json.dumps({"metadata": {"name": "x"}}).encode(), {"Content-Type": "application/json"},
                   who="node")[0] == 403


_PATHS = st.sampled_from([
    "/api", "/apis", "/api/v1", "/apis/apps/v1", "/api/v1/namespaces", "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/pods/p", "/api/v1/namespaces/default/pods/p/status",
    "/api/v1/namespaces/default/pods/p/binding", "/api/v1/namespaces/default/pods/p/eviction",
    "/apis/apps/v1/namespaces/default/deployments", "/apis/apps/v1/namespaces/default/deployments/d/scale",
    "/api/v1/nodes/n", "/api/v1/namespaces/default/services", "/api/v1/namespaces/default/services/s",
    "/apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval", "/openapi/v3", "/version",
])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["metadata", "name", "spec", "status", "kind", "apiVersion", "replicas", "ports",
                         "containers", "labels", "selector", "type", "x"]) | st.text(max_size=8), children,
        max_size=5),
    max_leaves=20,
)
_QUERY_KEYS = st.sampled_from(["watch", "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
                               "dryRun", "fieldManager", "fieldValidation", "force", "timeoutSeconds",
                               "gracePeriodSeconds", "propagationPolicy", "includeObject", "sendInitialEvents"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=_PATHS, body=_JSON,
       query=st.dictionaries(_QUERY_KEYS, st.text(max_size=12), max_size=3),
       content_type=st.sampled_from(["application/json", "application/merge-patch+json",
                                     "application/strategic-merge-patch+json", "application/json-patch+json",
                                     "application/apply-patch+yaml", "application/yaml", "text/plain"]))
def test_random_requests_never_fail_with_5xx(apiserver: LocalApiserver, method: str, path: str, body: object,
                                            query: dict[str, str], content_type: str) -> None:
    if query.get("watch"):
        query["timeoutSeconds"] = "1"
    qs = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    code, headers, data = request(apiserver, method, path + ("?" + qs if qs else ""),
                                  json.dumps(body).encode() if method != "GET" else None,
                                  {"Content-Type": content_type})
    assert code < 500, data
    if code >= 400:
        status_of(data)


# Existing objects behind every write path, so malformed bodies reach the subresource handlers themselves.
_SEEDED_PATHS = st.sampled_from([
    "/api/v1/namespaces/default/pods/seed", "/api/v1/namespaces/default/pods/seed/status",
    "/api/v1/namespaces/default/pods/seed/binding", "/api/v1/namespaces/default/pods/seed/eviction",
    "/apis/apps/v1/namespaces/default/deployments/seed/scale", "/apis/apps/v1/namespaces/default/deployments/seed",
    "/api/v1/namespaces/default/replicationcontrollers/seed/scale", "/api/v1/namespaces/default/services/seed",
    "/apis/certificates.k8s.io/v1/certificatesigningrequests/seed/status",
    "/apis/certificates.k8s.io/v1/certificatesigningrequests/seed/approval",
    "/api/v1/namespaces/seed/finalize", "/api/v1/nodes/seed/status",
])
_FIELD_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2) | \
    st.dictionaries(st.sampled_from(["name", "replicas", "conditions", "certificate", "type", "ports", "uid",
                                     "resourceVersion", "dryRun", "finalizers"]),
                    st.none() | st.booleans() | st.integers() | st.text(max_size=5), max_size=3)
_OBJECT_BODIES = st.fixed_dictionaries({}, optional={
    key: _FIELD_VALUES for key in ("metadata", "spec", "status", "target", "deleteOptions", "preconditions",
                                   "gracePeriodSeconds", "propagationPolicy", "dryRun")})


@pytest.fixture(scope="module")
def seeded(apiserver: LocalApiserver) -> LocalApiserver:
    containers = [{"name": "c", "image": "registry.local/c:1"}]
    template = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": containers}}
    for path, body in (
            ("/api/v1/namespaces/default/pods", {"spec": {"containers": containers}}),
            ("/apis/apps/v1/namespaces/default/deployments",
             {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": template}}),
            ("/api/v1/namespaces/default/replicationcontrollers", {"spec": {"selector": {"a": "b"}, "template": template}}),
            ("/api/v1/namespaces/default/services", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
            ("/apis/certificates.k8s.io/v1/certificatesigningrequests", {"spec": {
                "request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUFBPQotLS0tLUVORCBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K",
                "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}}),
            ("/api/v1/namespaces", {}), ("/api/v1/nodes", {})):
        request(apiserver, "POST", path, json.dumps({"metadata": {"name": "seed"}, **body}).encode(),
                {"Content-Type": "application/json"})
    return apiserver


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]), path=_SEEDED_PATHS, body=_OBJECT_BODIES,
       query=st.sampled_from(["", "dryRun=All", "fieldValidation=Strict", "fieldValidation=Ignore"]),
       content_type=st.sampled_from(["application/merge-patch+json", "application/strategic-merge-patch+json"]))
def test_malformed_bodies_on_existing_objects_never_fail_with_5xx(seeded: LocalApiserver, method: str, path: str,
                                                                 body: dict, query: str, content_type: str) -> None:
    if path.endswith("/finalize") and method == "DELETE":
        return  # not a route; and deleting the seeded namespace would end the game early
    code, _, data = request(seeded, method, path + ("?" + query if query else "") if method != "DELETE" else path,
                            json.dumps(body).encode(),
                            {"Content-Type": content_type if method == "PATCH" else "application/json"})
    assert code < 500, (data, body)
    if code >= 400:
        status_of(data)
