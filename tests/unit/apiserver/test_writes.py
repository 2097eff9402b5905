"""Writes over HTTP: dryRun persists nothing, server-side apply with YAML bodies, patch option errors, warnings,
and Service cluster IP / node port allocation through the object's life."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.apiserver.wire import Api

APPLY = "application/apply-patch+yaml"


@pytest.fixture(scope="module")
def api(apiserver: LocalApiserver) -> Api:
    return Api(apiserver)


@pytest.fixture
def ns(api: Api) -> str:
    name = f"write-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def revision(apiserver: LocalApiserver) -> int:
    return apiserver.run(apiserver.backend.current_revision())


def ip_allocations(apiserver: LocalApiserver) -> dict[str, str]:
    allocations = apiserver.run(apiserver.backend.list("/registry/ranges/serviceips/"))
    return {kv.key.rsplit("/", 1)[1]: kv.value.decode() for kv in allocations.items}


def port_allocations(apiserver: LocalApiserver) -> set[int]:
    allocations = apiserver.run(apiserver.backend.list("/registry/ranges/servicenodeports/"))
    return {int(kv.key.rsplit("/", 1)[1]) for kv in allocations.items}


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}], **spec}}


# ------------------------------------------------------------------------------------------------ dry run
def test_dry_run_persists_nothing(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    before = revision(apiserver)
    code, dry = api.post(f"{path}?dryRun=All", {"metadata": {"name": "dry"}, "data": {"k": "v"}})
    assert code == 201 and dry["metadata"]["name"] == "dry" and dry["metadata"]["uid"]
    assert "resourceVersion" not in dry["metadata"]
    assert api.get(f"{path}/dry")[0] == 404 and revision(apiserver) == before

    real = api.ok("POST", path, {"metadata": {"name": "real"}, "data": {"k": "v"}})
    before = revision(apiserver)
    code, updated = api.put(f"{path}/real?dryRun=All", {**real, "data": {"k": "put"}})
    assert code == 200 and updated["data"] == {"k": "put"}
    code, patched = api.patch(f"{path}/real?dryRun=All", {"data": {"k": "patched"}})
    assert code == 200 and patched["data"] == {"k": "patched"}
    code, applied = api.call("PATCH", f"{path}/real?dryRun=All&fieldManager=test&force=true",
                             b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: real\ndata:\n  k: applied\n", APPLY)
    assert code == 200 and applied["data"] == {"k": "applied"}
    code, deleted = api.delete(f"{path}/real?dryRun=All")
    assert code == 200 and deleted["status"] == "Success"
    code, deleted = api.delete(f"{path}/real", {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]})
    assert code == 200 and deleted["status"] == "Success"  # kubectl delete --dry-run=server puts it in the body
    stored = api.ok("GET", f"{path}/real")
    assert stored["data"] == {"k": "v"} and stored["metadata"]["resourceVersion"] == real["metadata"]["resourceVersion"]
    assert revision(apiserver) == before


def test_dry_run_of_a_service_allocates_nothing(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    ips, ports = ip_allocations(apiserver), port_allocations(apiserver)
    code, dry = api.post(f"/api/v1/namespaces/{ns}/services?dryRun=All", service("dry", type="NodePort"))
    assert code == 201 and dry["spec"]["clusterIP"] and dry["spec"]["ports"][0]["nodePort"]
    assert ip_allocations(apiserver) == ips and port_allocations(apiserver) == ports
    assert api.get(f"/api/v1/namespaces/{ns}/services/dry")[0] == 404


def test_dry_run_delete_of_a_service_keeps_its_allocations(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    created = api.ok("POST", f"/api/v1/namespaces/{ns}/services", service("kept", type="NodePort"))
    assert api.delete(f"/api/v1/namespaces/{ns}/services/kept?dryRun=All")[0] == 200
    assert created["spec"]["clusterIP"] in ip_allocations(apiserver)
    assert created["spec"]["ports"][0]["nodePort"] in port_allocations(apiserver)


@pytest.mark.parametrize("value", ["Some", "all"])
def test_dry_run_values_other_than_all_are_invalid(api: Api, ns: str, value: str) -> None:
    code, status = api.post(f"/api/v1/namespaces/{ns}/configmaps?dryRun={value}", {"metadata": {"name": "x"}})
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == (f'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                 f'[]string{{"{value}"}}: supported values: "All"')
    code, status = api.delete(f"/api/v1/namespaces/{ns}/configmaps/x", {"dryRun": [value]})
    assert code == 422 and status["details"]["kind"] == "DeleteOptions"


def test_write_option_errors(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    code, status = api.post(f"{path}?fieldManager={'m' * 129}", {"metadata": {"name": "x"}})
    assert code == 422
    assert status["message"] == ('CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: must have at '
                                 "most 128 bytes")
    code, status = api.post(f"{path}?fieldValidation=Loud", {"metadata": {"name": "x"}})
    assert code == 422
    assert status["message"] == ('CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
                                 '"Loud": supported values: "Ignore", "Strict", "Warn"')
    code, status = api.put(f"{path}/x?dryRun=Nope", {"metadata": {"name": "x"}})
    assert code == 422 and status["details"] == {
        "group": "meta.k8s.io", "kind": "UpdateOptions",
        "causes": [{"reason": "FieldValueNotSupported", "field": "dryRun",
                    "message": 'Unsupported value: []string{"Nope"}: supported values: "All"'}]}
    assert api.get(f"{path}/x")[0] == 404


# ------------------------------------------------------------------------------------------------ apply
DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: registry.local/web:1  # a YAML comment, not JSON
"""


def test_server_side_apply_with_yaml_creates_then_updates(api: Api, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web?fieldManager=ci"
    code, created = api.call("PATCH", path, DEPLOYMENT_YAML.format(replicas=2).encode(), APPLY)
    assert code == 201, created
    assert created["spec"]["replicas"] == 2 and created["metadata"]["generation"] == 1
    managers = {(m["manager"], m["operation"]) for m in created["metadata"]["managedFields"]}
    assert ("ci", "Apply") in managers
    code, updated = api.call("PATCH", path, DEPLOYMENT_YAML.format(replicas=5).encode(), APPLY)
    assert code == 200 and updated["spec"]["replicas"] == 5 and updated["metadata"]["generation"] == 2
    code, same = api.call("PATCH", path, DEPLOYMENT_YAML.format(replicas=5).encode(), APPLY)
    assert code == 200 and same["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]


def test_apply_conflicts_with_another_manager_unless_forced(api: Api, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web"
    api.call("PATCH", f"{path}?fieldManager=ci", DEPLOYMENT_YAML.format(replicas=2).encode(), APPLY)
    code, status = api.call("PATCH", f"{path}?fieldManager=other", DEPLOYMENT_YAML.format(replicas=3).encode(),
                            APPLY)
    assert code == 409 and status["reason"] == "Conflict"
    assert {"reason": "FieldManagerConflict", "message": 'conflict with "ci"', "field": ".spec.replicas"} in \
        status["details"]["causes"]
    code, forced = api.call("PATCH", f"{path}?fieldManager=other&force=true",
                            DEPLOYMENT_YAML.format(replicas=3).encode(), APPLY)
    assert code == 200 and forced["spec"]["replicas"] == 3


def test_apply_without_a_field_manager_is_invalid(api: Api, ns: str) -> None:
    code, status = api.call("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web",
                            DEPLOYMENT_YAML.format(replicas=1).encode(), APPLY)
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
                                 "for apply patch")
    assert api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")[0] == 404


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/strategic-merge-patch+json",
                                          "application/json-patch+json"])
def test_force_on_a_non_apply_patch_is_invalid(api: Api, ns: str, content_type: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "f"}})
    body = [] if content_type == "application/json-patch+json" else {}
    for force in ("true", "false"):
        code, status = api.call("PATCH", f"/api/v1/namespaces/{ns}/configmaps/f?force={force}", body, content_type)
        assert code == 422 and status["reason"] == "Invalid"
        assert status["message"] == ('PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified '
                                     "for non-apply patch")
    code, status = api.call("PATCH", f"/api/v1/namespaces/{ns}/configmaps/f?force=maybe", body, content_type)
    assert code == 400 and status["reason"] == "BadRequest"


def test_field_validation_warn_sends_warning_headers(api: Api, ns: str) -> None:
    code, headers, created = api.call_with_headers(
        "POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Warn",
        {"metadata": {"name": "w"}, "data": {"k": "v"}, "colour": "red", "size": 3})
    assert code == 201 and "colour" not in created
    assert headers.get_all("Warning") == ['299 - "unknown field \\"colour\\""', '299 - "unknown field \\"size\\""']
    assert api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/w").keys() == created.keys()  # unknown: not stored
    code, headers, _ = api.call_with_headers("PATCH", f"/api/v1/namespaces/{ns}/configmaps/w?fieldValidation=Warn",
                                             {"spec": {"x": 1}}, "application/merge-patch+json")
    assert code == 200 and 'unknown field \\"spec\\"' in headers.get("Warning", "")
    code, headers, _ = api.call_with_headers("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Ignore",
                                             {"metadata": {"name": "i"}, "colour": "red"})
    assert code == 201 and "Warning" not in headers
    code, status = api.post(f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict",
                            {"metadata": {"name": "s"}, "colour": "red"})
    assert code == 400 and status["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                                                 'decoding error: unknown field "colour"')


# ------------------------------------------------------------------------------------------------ services
def test_a_taken_cluster_ip_is_invalid(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    first = api.ok("POST", f"/api/v1/namespaces/{ns}/services", service("first"))
    ip = first["spec"]["clusterIP"]
    assert first["spec"]["clusterIPs"] == [ip] and ip_allocations(apiserver)[ip]
    code, status = api.post(f"/api/v1/namespaces/{ns}/services", service("second", clusterIP=ip))
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == (f'Service "second" is invalid: spec.clusterIPs: Invalid value: []string{{"{ip}"}}: '
                                 f"failed to allocate IP {ip}: provided IP is already allocated")
    assert status["details"]["causes"][0]["field"] == "spec.clusterIPs"
    assert api.get(f"/api/v1/namespaces/{ns}/services/second")[0] == 404
    code, status = api.post(f"/api/v1/namespaces/{ns}/services", service("third", clusterIP="192.168.1.1"))
    assert code == 422
    assert status["message"].endswith("failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in "
                                      "the valid range. The range of valid IPs is 10.96.0.0/12")


def test_a_taken_node_port_is_invalid(api: Api, ns: str) -> None:
    first = api.ok("POST", f"/api/v1/namespaces/{ns}/services", service("np1", type="NodePort"))
    port = first["spec"]["ports"][0]["nodePort"]
    taken = service("np2", type="NodePort")
    taken["spec"]["ports"][0]["nodePort"] = port
    code, status = api.post(f"/api/v1/namespaces/{ns}/services", taken)
    assert code == 422
    assert status["message"] == (f'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: {port}: '
                                 "provided port is already allocated")


def test_a_node_port_is_released_when_the_service_becomes_cluster_ip(api: Api, apiserver: LocalApiserver,
                                                                      ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/services"
    created = api.ok("POST", path, service("np", type="NodePort"))
    port = created["spec"]["ports"][0]["nodePort"]
    assert port in port_allocations(apiserver)
    changed = api.ok("PATCH", f"{path}/np", {"spec": {"type": "ClusterIP"}}, "application/merge-patch+json")
    assert changed["spec"]["type"] == "ClusterIP" and "nodePort" not in changed["spec"]["ports"][0]
    assert changed["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert port not in port_allocations(apiserver)
    reuse = service("reuse", type="NodePort")
    reuse["spec"]["ports"][0]["nodePort"] = port
    assert api.post(path, reuse)[1]["spec"]["ports"][0]["nodePort"] == port


def test_deleting_a_service_releases_its_ip_and_port(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/services"
    created = api.ok("POST", path, service("gone", type="NodePort"))
    ip, port = created["spec"]["clusterIP"], created["spec"]["ports"][0]["nodePort"]
    assert api.delete(f"{path}/gone")[0] == 200
    assert ip not in ip_allocations(apiserver) and port not in port_allocations(apiserver)
    again = service("again", type="NodePort", clusterIP=ip)
    again["spec"]["ports"][0]["nodePort"] = port
    recreated = api.ok("POST", path, again)
    assert recreated["spec"]["clusterIP"] == ip and recreated["spec"]["ports"][0]["nodePort"] == port


def test_an_update_without_a_cluster_ip_keeps_the_allocated_one(api: Api, apiserver: LocalApiserver,
                                                                ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/services"
    created = api.ok("POST", path, service("keep"))
    body = {**created, "spec": {k: v for k, v in created["spec"].items() if k not in ("clusterIP", "clusterIPs")}}
    body["spec"]["ports"] = [{"port": 81, "targetPort": 8081}]
    code, updated = api.put(f"{path}/keep", body)
    assert code == 200, updated
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert updated["spec"]["clusterIPs"] == [created["spec"]["clusterIP"]]
    assert updated["spec"]["ports"][0]["port"] == 81
    assert ip_allocations(apiserver)[created["spec"]["clusterIP"]]
    body = {**updated, "spec": {**updated["spec"], "clusterIP": "10.96.0.77", "clusterIPs": ["10.96.0.77"]}}
    code, status = api.put(f"{path}/keep", body)
    assert code == 422 and status["reason"] == "Invalid"
    assert "10.96.0.77" not in ip_allocations(apiserver)


def test_external_name_and_headless_services_get_no_ip(api: Api, apiserver: LocalApiserver, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/services"
    before = ip_allocations(apiserver)
    external = api.ok("POST", path, {"metadata": {"name": "ext"},
                                     "spec": {"type": "ExternalName", "externalName": "db.example.com"}})
    assert "clusterIP" not in external["spec"] and "clusterIPs" not in external["spec"]
    headless = api.ok("POST", path, service("headless", clusterIP="None"))
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["clusterIPs"] == ["None"]
    assert ip_allocations(apiserver) == before
    assert api.delete(f"{path}/headless")[0] == 200 and api.delete(f"{path}/ext")[0] == 200
    assert ip_allocations(apiserver) == before


# ------------------------------------------------------------------------------------------------ quantities
@pytest.mark.parametrize(("amount", "error"), [
    ("1e9999999", "unable to parse quantity's suffix"),
    ("1e4294967297", "unable to parse quantity's suffix"),
    ("1" * 5000, "unable to parse numeric part of quantity"),
])
def test_quantities_out_of_range_are_refused_quickly(api: Api, ns: str, amount: str, error: str) -> None:
    started = time.perf_counter()
    code, status = api.post(f"/api/v1/namespaces/{ns}/pods", {
        "metadata": {"name": "huge"},
        "spec": {"containers": [{"name": "c", "image": "registry.local/c:1",
                                 "resources": {"limits": {"cpu": amount}}}],
                 "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}]}})
    assert code == 400 and status["message"] == f'Pod in version "v1" cannot be handled as a Pod: {error}'
    assert time.perf_counter() - started < 1


def test_long_but_valid_quantities_are_canonicalised(api: Api, ns: str) -> None:
    code, created = api.post(f"/api/v1/namespaces/{ns}/pods?dryRun=All", {
        "metadata": {"name": "long"},
        "spec": {"containers": [{"name": "c", "image": "registry.local/c:1",
                                 "resources": {"requests": {"cpu": "0." + "0" * 5000 + "1"},
                                               "limits": {"cpu": "1." + "0" * 5000 + "1",
                                                          "memory": "1" + "0" * 5000 + "e-4990"}}}]}})
    assert code == 201, created
    resources = created["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "1m", "memory": "10e9"}, "limits": {"cpu": "1001m", "memory": "10e9"}}
