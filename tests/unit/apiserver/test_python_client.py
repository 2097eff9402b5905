"""The official `kubernetes` Python client against our apiserver: typed CRUD, watches, 410, discovery, apply."""

from __future__ import annotations

import threading
import uuid

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException

from tests.unit.apiserver.conftest import LocalApiserver


@pytest.fixture
def namespace(api_client) -> str:
    name = f"py-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api_client).create_namespace({"metadata": {"name": name}})
    return name


def test_typed_crud_round_trip(api_client, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"app": "demo"}), data={"mode": "fast"}))
    assert created.metadata.uid and created.metadata.resource_version
    read = core.read_namespaced_config_map("settings", namespace)
    assert read.data == {"mode": "fast"}

    read.data["mode"] = "safe"
    replaced = core.replace_namespaced_config_map("settings", namespace, read)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    stale = read  # still carries the old resourceVersion
    stale.data["mode"] = "stale"
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("settings", namespace, stale)
    assert conflict.value.status == 409

    patched = core.patch_namespaced_config_map("settings", namespace, {"data": {"extra": "1"}})
    assert patched.data == {"mode": "safe", "extra": "1"}
    listed = core.list_namespaced_config_map(namespace, label_selector="app=demo")
    assert [c.metadata.name for c in listed.items] == ["settings"]

    core.delete_namespaced_config_map("settings", namespace)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("settings", namespace)
    assert missing.value.status == 404


def test_deployment_scale_subresource(api_client, namespace: str) -> None:
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "registry.local/web:1"}]}}}})
    scale = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4 and scale.status.selector == "app=web"
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 4


def test_watch_stream_sees_existing_then_changes(api_client, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "first"}})
    events: list[tuple[str, str]] = []
    watcher = watch.Watch()

    def consume() -> None:
        for event in watcher.stream(core.list_namespaced_config_map, namespace, timeout_seconds=10):
            events.append((event["type"], event["object"].metadata.name))
            if len(events) == 3:
                watcher.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    while not events:  # the synthetic ADDED for "first" proves the watch is open
        thread.join(0.05)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "second"}})
    core.delete_namespaced_config_map("first", namespace)
    thread.join(15)
    assert events == [("ADDED", "first"), ("ADDED", "second"), ("DELETED", "first")]


def test_watch_from_compacted_revision_raises_410(api_client, apiserver: LocalApiserver, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    first = core.create_namespaced_config_map(namespace, {"metadata": {"name": "old"}})
    for index in range(3):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"later-{index}"}})
    current = apiserver.run(apiserver.backend.current_revision())
    apiserver.run(apiserver.backend.compact(current))
    with pytest.raises(ApiException) as expired:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, namespace,
                                      resource_version=first.metadata.resource_version, timeout_seconds=5):
            pass
    assert expired.value.status == 410


def test_dynamic_client_discovery_and_server_side_apply(api_client, namespace: str) -> None:
    dyn = dynamic.DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and deployments.name == "deployments"
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert {"status", "binding", "eviction", "log", "exec"} <= set(pods.subresources)
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa", "namespace": namespace},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "ssa"}},
                     "template": {"metadata": {"labels": {"app": "ssa"}},
                                  "spec": {"containers": [{"name": "c", "image": "registry.local/ssa:1"}]}}}}
    applied = dyn.server_side_apply(deployments, body=body, field_manager="python-test")
    assert applied.spec.replicas == 2
    managers = [m.manager for m in applied.metadata.managedFields]
    assert "python-test" in managers
    body["spec"]["replicas"] = 3
    reapplied = dyn.server_side_apply(deployments, body=body, field_manager="python-test")
    assert reapplied.spec.replicas == 3
