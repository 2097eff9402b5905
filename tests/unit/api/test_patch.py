"""JSON patch, JSON merge patch and strategic merge patch, against the patches kubectl and the Python client send."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from provisioner.services.api.patch import (
    MAX_JSON_PATCH_OPERATIONS,
    NOT_APPLICABLE_MESSAGE,
    json_equal,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from provisioner.services.api.status import ApiError


def canonical(value: Any) -> str:
    """Exact JSON identity: 1, 1.0 and true differ, key order does not."""
    return json.dumps(value, sort_keys=True)


def api_error(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


def deployment(**template_spec: Any) -> dict[str, Any]:
    """A stored apps/v1 Deployment the way the apiserver keeps it (defaults filled in)."""
    spec = {
        "containers": [{
            "name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
        }],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "securityContext": {}, "schedulerName": "default-scheduler",
    }
    spec.update(template_spec)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "0b6f1b2e", "resourceVersion": "41",
                     "generation": 1, "labels": {"app": "web"},
                     "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        },
        "status": {"observedGeneration": 1, "replicas": 2},
    }


def pod_spec(result: dict[str, Any]) -> dict[str, Any]:
    return result["spec"]["template"]["spec"]


def container_names(result: dict[str, Any]) -> list[str]:
    return [container["name"] for container in pod_spec(result)["containers"]]


def containers(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "image": f"{name}:1"} for name in names]


# --- the contract's recorded patches --------------------------------------------------------------------------

LAST_APPLIED = json.dumps({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"image": "nginx:1.26", "name": "nginx"}]}}},
}) + "\n"

# kubectl apply -f app.yaml on a changed Deployment (client-side apply)
CLIENT_SIDE_APPLY_PATCH = {
    "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": LAST_APPLIED}},
    "spec": {"replicas": 3, "template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                                                   "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}},
}
# kubectl set image deployment/web nginx=nginx:1.26
SET_IMAGE_PATCH = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                                                  "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}}
# kubectl rollout restart deployment web
ROLLOUT_RESTART_PATCH = {"spec": {"template": {"metadata": {"annotations": {
    "kubectl.kubernetes.io/restartedAt": "2026-07-14T09:30:00Z"}}}}}
# kubectl cordon / uncordon node-1
CORDON_PATCH = {"spec": {"unschedulable": True}}
UNCORDON_PATCH = {"spec": {"unschedulable": None}}


def test_client_side_apply_of_a_changed_deployment() -> None:
    stored = deployment()
    result = strategic_merge_patch(stored, CLIENT_SIDE_APPLY_PATCH, "Deployment")
    expected = copy.deepcopy(stored)
    expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = LAST_APPLIED
    expected["spec"]["replicas"] = 3
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert result == expected


def test_set_image_changes_only_the_image() -> None:
    stored = deployment()
    result = strategic_merge_patch(stored, SET_IMAGE_PATCH, "Deployment")
    expected = copy.deepcopy(stored)
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert result == expected


def test_set_image_of_one_container_keeps_the_others_in_place() -> None:
    stored = deployment(containers=containers("init", "nginx", "sidecar"))
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "init"}, {"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}}
    result = strategic_merge_patch(stored, patch, "Deployment")
    assert pod_spec(result)["containers"] == [
        {"name": "init", "image": "init:1"}, {"name": "nginx", "image": "nginx:1.26"},
        {"name": "sidecar", "image": "sidecar:1"}]


def test_rollout_restart_adds_the_template_annotation() -> None:
    stored = deployment()
    result = strategic_merge_patch(stored, ROLLOUT_RESTART_PATCH, "Deployment")
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-07-14T09:30:00Z"}}
    again = strategic_merge_patch(result, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-07-14T10:00:00Z"}}}}}, "Deployment")
    assert again["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "2026-07-14T10:00:00Z"}
    assert again["spec"]["template"]["spec"] == stored["spec"]["template"]["spec"]


def node() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/os": "linux"}},
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def test_cordon_and_uncordon() -> None:
    cordoned = strategic_merge_patch(node(), CORDON_PATCH, "Node")
    assert cordoned["spec"] == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "unschedulable": True}
    uncordoned = strategic_merge_patch(cordoned, UNCORDON_PATCH, "Node")
    assert uncordoned == node()
    assert strategic_merge_patch(node(), UNCORDON_PATCH, "Node") == node()  # deleting a missing field is fine


@pytest.mark.parametrize("apply_patch", [
    merge_patch,  # kubectl label/annotate send application/merge-patch+json
    lambda doc, patch: strategic_merge_patch(doc, patch, "Pod"),  # the Python client sends dicts as SMP
])
def test_label_and_annotate_patches(apply_patch) -> None:
    pod = {"kind": "Pod", "metadata": {"name": "nginx1", "labels": {"run": "nginx1", "env": "dev"},
                                       "annotations": {"a": "1"}}, "spec": {"containers": containers("nginx1")}}
    labelled = apply_patch(pod, {"metadata": {"labels": {"tier": "web"}}})
    assert labelled["metadata"]["labels"] == {"run": "nginx1", "env": "dev", "tier": "web"}
    overwritten = apply_patch(labelled, {"metadata": {"labels": {"env": "prod"}}})  # --overwrite
    assert overwritten["metadata"]["labels"] == {"run": "nginx1", "env": "prod", "tier": "web"}
    removed = apply_patch(overwritten, {"metadata": {"labels": {"env": None}}})  # kubectl label pod env-
    assert removed["metadata"]["labels"] == {"run": "nginx1", "tier": "web"}
    annotated = apply_patch(removed, {"metadata": {"annotations": {"b": "2", "a": None}}})
    assert annotated["metadata"]["annotations"] == {"b": "2"}
    assert annotated["spec"] == pod["spec"]


def test_scale_subresource_patches() -> None:
    scale = {"kind": "Scale", "apiVersion": "autoscaling/v1",
             "metadata": {"name": "web", "namespace": "default", "resourceVersion": "41"},
             "spec": {"replicas": 2}, "status": {"replicas": 2, "selector": "app=web"}}
    by_kubectl = merge_patch(scale, {"spec": {"replicas": 3}})  # kubectl scale: merge patch
    by_python = strategic_merge_patch(scale, {"spec": {"replicas": 3}}, "Scale")  # Python client: SMP
    assert by_kubectl == by_python == {**scale, "spec": {"replicas": 3}}


def test_python_client_dict_patches_of_deployments() -> None:
    stored = deployment()
    scaled = strategic_merge_patch(stored, {"spec": {"replicas": 5}}, "Deployment")
    assert scaled["spec"]["replicas"] == 5 and scaled["spec"]["template"] == stored["spec"]["template"]
    # patching a container by name, without $setElementOrder
    image = strategic_merge_patch(stored, {"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "image": "nginx:1.27"}]}}}}, "Deployment")
    assert pod_spec(image)["containers"] == [{**pod_spec(stored)["containers"][0], "image": "nginx:1.27"}]
    # a new container: merged in, and without $setElementOrder it comes first, as on a real cluster
    added = strategic_merge_patch(stored, {"spec": {"template": {"spec": {"containers": [
        {"name": "log-tailer", "image": "busybox"}]}}}}, "Deployment")
    assert container_names(added) == ["log-tailer", "nginx"]
    assert pod_spec(added)["containers"][1] == pod_spec(stored)["containers"][0]


def test_python_client_dict_patch_of_a_pod_merges_env_and_ports() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{
        "name": "app", "image": "app:1",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}
    patch = {"spec": {"containers": [{"name": "app",
                                      "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                                      "ports": [{"containerPort": 80, "name": "http"}],
                                      "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]}}
    result = strategic_merge_patch(pod, patch, "Pod")
    container = result["spec"]["containers"][0]
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"}]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]


# --- strategic merge patch: directives ------------------------------------------------------------------------

def test_delete_directive_removes_a_list_item_by_merge_key() -> None:
    stored = deployment(containers=containers("a", "b", "c"))
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "c"}],
                                            "containers": [{"$patch": "delete", "name": "b"}]}}}}
    assert container_names(strategic_merge_patch(stored, patch, "Deployment")) == ["a", "c"]


def test_delete_directive_removes_every_duplicate() -> None:
    pod = {"spec": {"containers": [{"name": "a", "x": 1}, {"name": "b"}, {"name": "a", "x": 2}]}}
    result = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}, "Pod")
    assert result["spec"]["containers"] == [{"name": "b"}]


def test_delete_directive_needs_the_merge_key() -> None:
    error = api_error(strategic_merge_patch, {"spec": {"containers": containers("a")}},
                      {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}, "Pod")
    assert (error.code, error.message) == (400, "map: map[$patch:delete image:x] does not contain declared merge "
                                                "key: name")


def test_replace_directive_in_a_list_replaces_it() -> None:
    stored = deployment(containers=containers("a", "b"))
    replacement = [{"$patch": "replace"}, {"name": "c", "image": "c:2"}]
    patch = {"spec": {"template": {"spec": {"containers": replacement}}}}
    assert pod_spec(strategic_merge_patch(stored, patch, "Deployment"))["containers"] == [
        {"name": "c", "image": "c:2"}]
    only_marker = {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}]}}}}
    emptied = strategic_merge_patch(stored, only_marker, "Deployment")
    assert pod_spec(emptied)["containers"] == []


def test_replace_directive_in_a_map_replaces_it() -> None:
    stored = deployment()
    patch = {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}}
    assert strategic_merge_patch(stored, patch, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    whole = strategic_merge_patch({"a": 1, "b": {"c": 2}}, {"$patch": "replace", "d": 3}, "ConfigMap")
    assert whole == {"d": 3}


def test_delete_directive_in_a_map_empties_it() -> None:
    stored = deployment()
    result = strategic_merge_patch(stored, {"metadata": {"labels": {"$patch": "delete"}}}, "Deployment")
    assert result["metadata"]["labels"] == {}
    assert strategic_merge_patch({"a": 1}, {"$patch": "delete"}, "ConfigMap") == {}


def test_merge_directive_is_the_default_spelled_out() -> None:
    stored = deployment()
    result = strategic_merge_patch(stored, {"metadata": {"labels": {"$patch": "merge", "x": "y"}}}, "Deployment")
    assert result["metadata"]["labels"] == {"app": "web", "x": "y"}
    items = {"spec": {"template": {"spec": {"containers": [{"$patch": "merge", "name": "nginx", "image": "n:2"}]}}}}
    assert pod_spec(strategic_merge_patch(stored, items, "Deployment"))["containers"][0]["image"] == "n:2"


def test_retain_keys_switches_the_deployment_strategy() -> None:
    stored = deployment()
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(stored, patch, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    back = {"spec": {"strategy": {"$retainKeys": ["rollingUpdate", "type"], "type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": 1}}}}
    switched = strategic_merge_patch({"spec": {"strategy": {"type": "Recreate"}}}, back, "Deployment")
    assert switched["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}


def test_retain_keys_on_volume_items_switch_the_volume_source() -> None:
    pod = {"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]}}
    patch = {"spec": {"$setElementOrder/volumes": [{"name": "data"}, {"name": "cfg"}],
                      "volumes": [{"$retainKeys": ["hostPath", "name"], "name": "data",
                                   "hostPath": {"path": "/srv"}}]}}
    assert strategic_merge_patch(pod, patch, "Pod")["spec"]["volumes"] == [
        {"name": "data", "hostPath": {"path": "/srv"}}, {"name": "cfg", "configMap": {"name": "c"}}]


@pytest.mark.parametrize("strategy", [
    {"$retainKeys": "type", "type": "Recreate"},  # not a list
    {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {}},  # sets a field it does not retain
])
def test_bad_retain_keys_are_bad_requests(strategy: dict[str, Any]) -> None:
    error = api_error(strategic_merge_patch, deployment(), {"spec": {"strategy": strategy}}, "Deployment")
    assert (error.code, error.message) == (400, "invalid patch format of retainKeys")


def test_finalizers_merge_as_a_set() -> None:
    obj = {"metadata": {"finalizers": ["a", "b"]}}
    added = strategic_merge_patch(obj, {"metadata": {"finalizers": ["b", "c"]}}, "ConfigMap")
    assert added["metadata"]["finalizers"] == ["a", "b", "c"]
    ordered = strategic_merge_patch(obj, {"metadata": {"$setElementOrder/finalizers": ["a", "b", "c"],
                                                       "finalizers": ["c"]}}, "ConfigMap")
    assert ordered["metadata"]["finalizers"] == ["a", "b", "c"]
    # without an order a new item goes first, as apimachinery orders it
    assert strategic_merge_patch(obj, {"metadata": {"finalizers": ["c"]}}, "Pod")["metadata"]["finalizers"] == \
        ["c", "a", "b"]


def test_delete_from_primitive_list() -> None:
    obj = {"metadata": {"finalizers": ["a", "b", "a", "c"]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "x"]}}
    assert strategic_merge_patch(obj, patch, "Namespace")["metadata"]["finalizers"] == ["b", "c"]
    both = {"metadata": {"$setElementOrder/finalizers": ["b", "d"], "$deleteFromPrimitiveList/finalizers": ["a", "c"],
                         "finalizers": ["d"]}}
    assert strategic_merge_patch(obj, both, "Namespace")["metadata"]["finalizers"] == ["b", "d"]
    assert strategic_merge_patch({"metadata": {}}, patch, "Namespace") == {"metadata": {}}


def test_pod_cidrs_merge_as_a_set_on_nodes() -> None:
    result = strategic_merge_patch(node(), {"spec": {"podCIDRs": ["fd00::/64"]}}, "Node")
    assert sorted(result["spec"]["podCIDRs"]) == ["10.244.1.0/24", "fd00::/64"]


@pytest.mark.parametrize("patch", [
    {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": [{"a": 1}]}},
    {"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}},
])
def test_bad_primitive_list_deletions(patch: dict[str, Any]) -> None:
    error = api_error(strategic_merge_patch, {"metadata": {"finalizers": ["a"]}}, patch, "Pod")
    assert (error.code, error.message) == (400, "invalid patch format of primitive list")


def test_set_element_order_alone_reorders_the_stored_list() -> None:
    pod = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}}
    patch = {"spec": {"containers": [{"name": "a", "$setElementOrder/env": [{"name": "Y"}, {"name": "X"}]}]}}
    assert strategic_merge_patch(pod, patch, "Pod")["spec"]["containers"][0]["env"] == [
        {"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]


def test_set_element_order_puts_new_and_stored_items_in_order() -> None:
    stored = deployment(containers=containers("a", "b"))
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "d"}, {"name": "a"}, {"name": "b"}, {"name": "c"}],
        "containers": [{"name": "d", "image": "d:1"}, {"name": "c", "image": "c:1"}]}}}}
    assert container_names(strategic_merge_patch(stored, patch, "Deployment")) == ["d", "a", "b", "c"]


def test_set_element_order_may_name_items_that_are_not_there() -> None:
    pod = {"spec": {"containers": containers("a", "c")}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
                      "containers": [{"name": "c", "image": "c:2"}]}}
    assert strategic_merge_patch(pod, patch, "Pod")["spec"]["containers"] == [
        {"name": "c", "image": "c:2"}, {"name": "a", "image": "a:1"}]


def test_set_element_order_for_a_list_the_object_lacks() -> None:
    pod = {"spec": {}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "x"}, {"name": "a"}],
                      "containers": [{"name": "b", "image": "b:1", "$setElementOrder/env": [{"name": "E"}],
                                      "env": [{"name": "E", "value": "1"}]},
                                     {"name": "a", "image": "a:1"}]}}
    assert strategic_merge_patch(pod, patch, "Pod")["spec"]["containers"] == [
        {"name": "b", "image": "b:1", "env": [{"name": "E", "value": "1"}]}, {"name": "a", "image": "a:1"}]


@pytest.mark.parametrize(("patch", "message"), [
    ({"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
      "containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}]},
     "the order in patch list:\n[map[image:x name:b] map[image:y name:a]]\n doesn't match $setElementOrder list:\n"
     "[map[name:a] map[name:b]]"),
    ({"$setElementOrder/containers": "a"}, "invalid patch format of setElementOrder list"),
    ({"$setElementOrder": [{"name": "a"}]}, "invalid patch format of setElementOrder list"),
    ({"$setElementOrder/containers": [{"image": "a"}]},
     "map: map[image:a] does not contain declared merge key: name"),
])
def test_bad_set_element_orders(patch: dict[str, Any], message: str) -> None:
    error = api_error(strategic_merge_patch, {"spec": {"containers": containers("a", "b")}}, {"spec": patch}, "Pod")
    assert (error.code, error.message) == (400, message)


PATCH_ORDER_CASES = [
    # stored merge keys, patch items, result: patched items in patch order, a stored item first only if it was
    # before the patched one it meets in the stored list
    (["a", "b", "c"], ["c", "a", "b"], ["c", "a", "b"]),
    (["a", "b", "c"], ["c", "a"], ["b", "c", "a"]),
    (["a", "b"], ["c"], ["c", "a", "b"]),
    (["a", "b"], ["b", "c"], ["a", "b", "c"]),
    (["a", "b", "c"], ["b"], ["a", "b", "c"]),
    ([], ["b", "a"], ["b", "a"]),
]


@pytest.mark.parametrize(("stored", "patched", "expected"), PATCH_ORDER_CASES)
def test_merged_list_order_follows_apimachinery(stored: list[str], patched: list[str], expected: list[str]) -> None:
    pod = {"spec": {"containers": containers(*stored)}}
    result = strategic_merge_patch(pod, {"spec": {"containers": [{"name": n, "x": 1} for n in patched]}}, "Pod")
    assert [c["name"] for c in result["spec"]["containers"]] == expected
    assert all(c["x"] == 1 for c in result["spec"]["containers"] if c["name"] in patched)


def test_merge_keys_from_the_schema() -> None:
    service = {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
                        "selector": {"app": "web"}}}
    patched = strategic_merge_patch(service, {"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}, "Service")
    assert patched["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}]
    owned = {"metadata": {"ownerReferences": [{"uid": "u1", "name": "rs-1"}]}}
    added = strategic_merge_patch(owned, {"metadata": {"ownerReferences": [{"uid": "u2", "name": "rs-2"}]}}, "Pod")
    assert sorted(ref["uid"] for ref in added["metadata"]["ownerReferences"]) == ["u1", "u2"]
    status = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled"}]}}
    ready = strategic_merge_patch(status, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "Pod")
    assert ready["status"]["conditions"] == [{"type": "Ready", "status": "True"}, {"type": "PodScheduled"}]


def test_lists_without_a_strategy_are_replaced() -> None:
    pod = {"spec": {"tolerations": [{"key": "a"}], "containers": [{"name": "c", "args": ["x", "y"]}]}}
    patch = {"spec": {"tolerations": [{"key": "b"}], "containers": [{"name": "c", "args": ["z"]}]}}
    result = strategic_merge_patch(pod, patch, "Pod")
    assert result["spec"]["tolerations"] == [{"key": "b"}]
    assert result["spec"]["containers"][0]["args"] == ["z"]
    data = strategic_merge_patch({"data": {"list": [1, 2]}}, {"data": {"list": [3]}}, "ConfigMap")
    assert data == {"data": {"list": [3]}}


def test_null_deletes_and_new_fields_lose_nulls_and_directives() -> None:
    stored = deployment()
    patch = {"spec": {"paused": True, "minReadySeconds": None,
                      "template": {"spec": {"affinity": {"nodeAffinity": None, "podAffinity": {"x": 1}}}},
                      "newThing": {"$patch": "delete"},
                      "other": {"a": None, "b": [{"c": None, "$setElementOrder/x": []}]}}}
    result = strategic_merge_patch(stored, patch, "Deployment")
    assert result["spec"]["paused"] is True
    assert pod_spec(result)["affinity"] == {"podAffinity": {"x": 1}}
    assert "newThing" not in result["spec"]
    assert result["spec"]["other"] == {"b": [{}]}


def test_a_patch_value_of_another_type_replaces() -> None:
    assert strategic_merge_patch({"a": {"b": 1}}, {"a": [1]}, "ConfigMap") == {"a": [1]}
    assert strategic_merge_patch({"a": [1]}, {"a": {"b": 1, "c": None}}, "ConfigMap") == {"a": {"b": 1}}
    assert strategic_merge_patch({"a": "x"}, {"a": 2}, "ConfigMap") == {"a": 2}


@pytest.mark.parametrize(("doc", "patch", "code", "message"), [
    ({}, [1], 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ({}, "x", 400, "json: cannot unmarshal string into Go value of type map[string]interface {}"),
    ({}, {"$foo": 1}, 400, "unknown strategic merge patch directive '$foo' in <root>"),
    ({"spec": {}}, {"spec": {"x": {"$retain": 1}}}, 400, "unknown strategic merge patch directive '$retain'"),
    ({"metadata": {"labels": {}}}, {"metadata": {"labels": {"$patch": "remove"}}}, 400,
     "unknown patch type: remove in map: map[$patch:remove]"),
    ({"spec": {"containers": containers("a")}}, {"spec": {"containers": [{"image": "nginx"}]}}, 400,
     "map: map[image:nginx] does not contain declared merge key: name"),
    ({"spec": {"containers": containers("a")}}, {"spec": {"containers": ["a"]}}, 400,
     "list element types are not identical: [map[image:a:1 name:a] a]"),
    ({"spec": {"containers": []}}, {"spec": {"containers": ["a"]}}, 400,
     "spec.containers: expected a map, but received a string"),
    ({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": [{"a": 1}]}}, 400,
     "list element types are not identical: [a map[a:1]]"),
    ({"metadata": {"finalizers": []}}, {"metadata": {"finalizers": [{"a": 1}]}}, 400,
     "cannot merge lists without merge key for metadata.finalizers"),
    ({"metadata": {"finalizers": []}}, {"metadata": {"finalizers": [["a"]]}}, 422, NOT_APPLICABLE_MESSAGE),
])
def test_bad_strategic_merge_patches(doc: dict, patch: Any, code: int, message: str) -> None:
    error = api_error(strategic_merge_patch, doc, patch, "Pod")
    assert (error.code, error.message) == (code, message)


def test_list_of_lists_keeps_the_reason_as_a_cause() -> None:
    error = api_error(strategic_merge_patch, {"metadata": {"finalizers": []}},
                      {"metadata": {"finalizers": [["a"]]}}, "Pod")
    assert error.reason == "Invalid"
    assert error.to_status()["details"] == {"causes": [{"message": "lists of lists are not supported"}]}


def test_null_patch_changes_nothing() -> None:
    assert strategic_merge_patch(deployment(), None, "Deployment") == deployment()
    assert merge_patch(deployment(), None) == deployment()


# --- JSON merge patch (RFC 7386 appendix A, wrapped in a field where the patch itself is not an object) -------

RFC7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC7386_EXAMPLES)
def test_rfc7386_examples(original: Any, patch: Any, result: Any) -> None:
    if isinstance(patch, dict):
        assert canonical(merge_patch(original, patch)) == canonical(result)
    assert canonical(merge_patch({"x": original}, {"x": patch})) == canonical({"x": result})


def test_rfc7386_null_patch_example_deletes_the_member() -> None:
    assert merge_patch({"x": {"a": "foo"}, "y": 1}, {"x": None}) == {"y": 1}


@pytest.mark.parametrize("patch", [[{"op": "add"}], "x", 1, True])
def test_merge_patch_must_be_an_object(patch: Any) -> None:
    error = api_error(merge_patch, {}, patch)
    assert error.code == 400 and error.message.startswith("error decoding patch: json: cannot unmarshal ")


# --- JSON patch (RFC 6902 appendix A) -------------------------------------------------------------------------

RFC6902_EXAMPLES = [
    ("A.1", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ("A.2", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ("A.5", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ("A.6", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7", {"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.10", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
     {"foo": "bar", "baz": "qux"}),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ("A.16", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
    ("copy", {"a": {"b": [1]}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": [1]}, "c": {"b": [1]}}),
    ("root replace", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("numbers compare by value", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
    ("escaped slash", {"a/b": 1}, [{"op": "replace", "path": "/a~1b", "value": 2}], {"a/b": 2}),
    ("append at length", {"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}], {"a": [1, 2]}),
]


@pytest.mark.parametrize(("name", "doc", "operations", "result"), RFC6902_EXAMPLES,
                         ids=[example[0] for example in RFC6902_EXAMPLES])
def test_rfc6902_examples(name: str, doc: Any, operations: list, result: Any) -> None:
    assert canonical(json_patch(doc, operations)) == canonical(result)


NOT_APPLICABLE = [
    ("A.9 failed test", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
     "testing value /baz failed: test failed"),
    ("A.12 missing parent", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}],
     'add operation does not apply: doc is missing path: "/baz/bat": missing value'),
    ("A.15 string is not number", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}],
     "testing value /~01 failed: test failed"),
    ("bool is not number", {"a": 1}, [{"op": "test", "path": "/a", "value": True}],
     "testing value /a failed: test failed"),
    ("unknown op", {}, [{"op": "merge", "path": "/a"}], "Unexpected kind: merge"),
    ("missing op", {}, [{"path": "/a"}], "Unexpected kind: unknown"),
    ("missing path", {}, [{"op": "add", "value": 1}], "add operation failed to decode path: missing path field"),
    ("missing value", {}, [{"op": "replace", "path": "/a"}], "replace operation failed: missing value field"),
    ("missing from", {"a": 1}, [{"op": "copy", "path": "/b"}],
     "copy operation failed to decode from: missing from field"),
    ("replace missing", {"a": 1}, [{"op": "replace", "path": "/b", "value": 1}],
     "replace operation does not apply: doc is missing key: /b: missing value"),
    ("remove missing", {"a": 1}, [{"op": "remove", "path": "/b"}],
     'remove operation does not apply: doc is missing path: "/b": missing value'),
    ("remove past the end", {"a": [1]}, [{"op": "remove", "path": "/a/1"}],
     'remove operation does not apply: doc is missing path: "/a/1": missing value'),
    ("index past the end", {"a": [1]}, [{"op": "add", "path": "/a/2", "value": 0}],
     "add operation does not apply: invalid index '2' in path: \"/a/2\""),
    ("leading zero", {"a": [1, 2]}, [{"op": "replace", "path": "/a/01", "value": 0}],
     "replace operation does not apply: doc is missing key: /a/01: missing value"),
    ("dash outside add", {"a": [1]}, [{"op": "remove", "path": "/a/-"}],
     'remove operation does not apply: doc is missing path: "/a/-": missing value'),
    ("bad pointer", {"a": 1}, [{"op": "remove", "path": "a"}], "invalid JSON pointer: 'a'"),
    ("bad escape", {"a": 1}, [{"op": "remove", "path": "/~2"}], "invalid JSON pointer: '/~2'"),
    ("move into itself", {"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/c"}],
     'move operation does not apply: "/a/c" is inside "/a"'),
    ("test missing", {}, [{"op": "test", "path": "/a", "value": None}],
     "test operation does not apply: is missing path: /a: missing value"),
    ("remove root", {}, [{"op": "remove", "path": ""}],
     "remove operation does not apply: the document root cannot be removed"),
]


@pytest.mark.parametrize(("name", "doc", "operations", "detail"), NOT_APPLICABLE, ids=[c[0] for c in NOT_APPLICABLE])
def test_json_patch_that_does_not_apply_is_a_generic_422(name: str, doc: Any, operations: list, detail: str) -> None:
    error = api_error(json_patch, doc, operations)
    assert (error.code, error.reason, error.message) == (422, "Invalid", NOT_APPLICABLE_MESSAGE)
    assert error.details == {"causes": [{"message": detail}]}


@pytest.mark.parametrize(("operations", "message"), [
    ({"op": "add", "path": "/a", "value": 1},
     "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"),
    (["add"], "error decoding patch: json: cannot unmarshal string into Go value of type handlers.jsonPatchOp"),
    ([{"op": "add", "path": 1, "value": 1}],
     "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string"),
    ([{"op": ["add"], "path": "/a"}],
     "error decoding patch: json: cannot unmarshal array into Go struct field jsonPatchOp.op of type string"),
])
def test_malformed_json_patch_is_a_bad_request(operations: Any, message: str) -> None:
    error = api_error(json_patch, {}, operations)
    assert (error.code, error.message) == (400, message)


def test_json_patch_operation_limit() -> None:
    operations = [{"op": "test", "path": "", "value": {}}] * MAX_JSON_PATCH_OPERATIONS
    assert json_patch({}, operations) == {}
    error = api_error(json_patch, {}, [*operations, {"op": "test", "path": "", "value": {}}])
    assert (error.code, error.reason) == (413, "RequestEntityTooLarge")
    assert error.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"


def test_json_patch_is_all_or_nothing() -> None:
    doc = {"a": 1}
    error = api_error(json_patch, doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/c"}])
    assert error.code == 422 and doc == {"a": 1}


def test_kubectl_rollout_undo_json_patch() -> None:
    stored = deployment()
    template = copy.deepcopy(stored["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "nginx:1.24"
    annotations = {"deployment.kubernetes.io/revision": "1", "kubernetes.io/change-cause": "initial"}
    result = json_patch(stored, [{"op": "replace", "path": "/spec/template", "value": template},
                                 {"op": "replace", "path": "/metadata/annotations", "value": annotations}])
    assert result["spec"]["template"] == template and result["metadata"]["annotations"] == annotations
    assert result["spec"]["replicas"] == stored["spec"]["replicas"]


def test_kubectl_managed_fields_migration_json_patch() -> None:
    stored = {**deployment(), "metadata": {**deployment()["metadata"], "managedFields": [{"manager": "old"}]}}
    operations = [{"op": "test", "path": "/metadata/resourceVersion", "value": "41"},
                  {"op": "replace", "path": "/metadata/managedFields", "value": [{"manager": "kubectl"}]}]
    assert json_patch(stored, operations)["metadata"]["managedFields"] == [{"manager": "kubectl"}]
    stale = [{**operations[0], "value": "40"}, operations[1]]
    error = api_error(json_patch, stored, stale)
    assert error.code == 422
    assert error.details["causes"][0]["message"] == "testing value /metadata/resourceVersion failed: test failed"


def test_json_equal() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(1, True) and not json_equal(0, False) and not json_equal("1", 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": None}) and not json_equal([1], [1, 1])
    assert json_equal(None, None) and not json_equal(None, {})


# --- properties -----------------------------------------------------------------------------------------------

_keys = st.sampled_from(["a", "b", "c", "name", "spec", "x.y"])
_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False, allow_infinity=False,
                                                                       width=32) | st.text(max_size=3)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
                     max_leaves=12)
_objects = st.dictionaries(_keys, _json, max_size=4)


def _no_null_members(value: Any) -> Any:
    """A target a merge patch can reach: objects hold no null members (null means delete)."""
    if isinstance(value, dict):
        return {k: _no_null_members(v) for k, v in value.items() if v is not None}
    return value


def merge_diff(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The RFC 7386 patch that turns ``source`` into ``target`` (written independently of merge_patch)."""
    diff: dict[str, Any] = {key: None for key in source if key not in target}
    for key, wanted in target.items():
        have = source.get(key)
        if isinstance(have, dict) and isinstance(wanted, dict):
            if inner := merge_diff(have, wanted):
                diff[key] = inner
        elif key not in source or canonical(have) != canonical(wanted):
            diff[key] = wanted
    return diff


@given(_objects, _objects.map(_no_null_members))
def test_merge_patch_of_the_diff_reaches_the_target(source: dict, target: dict) -> None:
    assert canonical(merge_patch(source, merge_diff(source, target))) == canonical(target)


_maps = st.recursive(_scalars, lambda inner: st.dictionaries(_keys, inner, max_size=3), max_leaves=10)
_map_objects = st.dictionaries(_keys, _maps, max_size=4)


@given(_map_objects, _map_objects, st.sampled_from(["ConfigMap", "Secret", "Lease", "MyCustomKind"]))
def test_strategic_merge_patch_of_maps_on_schemaless_kinds_is_merge_patch(doc: dict, patch: dict, kind: str) -> None:
    assert canonical(strategic_merge_patch(doc, patch, kind)) == canonical(merge_patch(doc, patch))


_directive_keys = st.sampled_from(["$patch", "$retainKeys", "$setElementOrder/containers", "$setElementOrder/env",
                                   "$deleteFromPrimitiveList/finalizers", "$setElementOrder/finalizers",
                                   "$deleteFromPrimitiveList/args", "$unknown"])
_directive_values = st.sampled_from(["delete", "replace", "merge", "other"]) | _json
_patch_keys = _keys | _directive_keys | st.sampled_from(["containers", "env", "finalizers", "ports", "args"])
_patch_json = st.recursive(
    _scalars | st.sampled_from(["delete", "replace"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_patch_keys, inner, max_size=4), max_leaves=16)
_shaped = st.fixed_dictionaries({}, optional={
    "metadata": st.fixed_dictionaries({}, optional={"finalizers": st.lists(st.text(max_size=2), max_size=3),
                                                    "labels": st.dictionaries(_keys, st.text(max_size=2))}),
    "spec": st.fixed_dictionaries({}, optional={
        "containers": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "c"])}, optional={
            "image": st.text(max_size=2), "env": st.lists(st.fixed_dictionaries(
                {"name": st.sampled_from(["X", "Y"])}, optional={"value": _scalars}), max_size=3),
            "args": st.lists(_scalars, max_size=2)}), max_size=3),
        "template": _json}),
})
_kinds = st.sampled_from(["Pod", "Deployment", "Node", "Service", "ConfigMap"])


def _sprinkle(patch: Any, directives: list[tuple[str, Any]]) -> Any:
    if isinstance(patch, dict):
        patch = {key: _sprinkle(value, directives) for key, value in patch.items()}
        for key, value in directives[:1]:
            patch[key] = value
        return patch
    if isinstance(patch, list):
        return [_sprinkle(item, directives[1:]) for item in patch]
    return patch


_smp_patches = st.builds(_sprinkle, st.dictionaries(_patch_keys, _patch_json, max_size=4) | _shaped,
                         st.lists(st.tuples(_directive_keys, _directive_values), max_size=3))


@settings(max_examples=300)
@given(_shaped | _objects, _smp_patches | _json, _kinds)
def test_strategic_merge_patch_raises_only_api_errors_and_never_mutates(doc: Any, patch: Any, kind: str) -> None:
    doc_before, patch_before = canonical(doc), canonical(patch)
    try:
        result = strategic_merge_patch(doc, patch, kind)
    except ApiError as error:
        assert error.code in (400, 422)
        result = None
    assert (canonical(doc), canonical(patch)) == (doc_before, patch_before)
    if result is not None:
        _scribble(result)
        assert (canonical(doc), canonical(patch)) == (doc_before, patch_before)
        assert not _has_directive(result) or _has_directive(doc)


def _scribble(value: Any) -> None:
    """Mutate every container of a result, to prove it shares nothing with the inputs."""
    if isinstance(value, dict):
        for item in value.values():
            _scribble(item)
        value["__scribbled__"] = True
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("__scribbled__")


def _has_directive(value: Any) -> bool:
    if isinstance(value, dict):
        return any(key.startswith("$") or _has_directive(item) for key, item in value.items())
    if isinstance(value, list):
        return any(map(_has_directive, value))
    return False


_pointers = st.lists(st.sampled_from(["a", "b", "0", "1", "-", "~0", "~1", "01", "x/y"]), max_size=3).map(
    lambda tokens: "".join("/" + token for token in tokens)) | st.sampled_from(["", "a", "/~2"])
_operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"])},
    optional={"path": _pointers | st.integers(), "from": _pointers, "value": _json})


@settings(max_examples=300)
@given(_json, st.lists(_operations, max_size=4) | _json)
def test_json_patch_raises_only_api_errors_and_never_mutates(doc: Any, operations: Any) -> None:
    doc_before, operations_before = canonical(doc), canonical(operations)
    try:
        result = json_patch(doc, operations)
    except ApiError as error:
        assert error.code in (400, 422)
        result = None
    assert (canonical(doc), canonical(operations)) == (doc_before, operations_before)
    _scribble(result)
    assert (canonical(doc), canonical(operations)) == (doc_before, operations_before)


@given(_json, _json)
def test_merge_patch_raises_only_api_errors_and_never_mutates(doc: Any, patch: Any) -> None:
    doc_before, patch_before = canonical(doc), canonical(patch)
    try:
        result = merge_patch(doc, patch)
    except ApiError as error:
        assert error.code == 400 and not isinstance(patch, dict | None)
        result = None
    _scribble(result)
    assert (canonical(doc), canonical(patch)) == (doc_before, patch_before)


@given(_objects, st.lists(st.sampled_from(["a", "b", "c", "name"]), min_size=1, max_size=3))
def test_json_patch_adding_a_new_member_then_removing_it_restores(doc: dict, tokens: list[str]) -> None:
    path = "".join("/" + token for token in tokens)
    assume(not isinstance(_member_at(doc, tokens[:-1]), dict) or tokens[-1] not in _member_at(doc, tokens[:-1]))
    parent_is_object = isinstance(_member_at(doc, tokens[:-1]), dict)
    try:
        added = json_patch(doc, [{"op": "add", "path": path, "value": {"new": True}}])
    except ApiError as error:
        assert error.code == 422 and not parent_is_object
        return
    assert parent_is_object
    assert json_patch(added, [{"op": "test", "path": path, "value": {"new": True}}]) == added
    assert canonical(json_patch(added, [{"op": "remove", "path": path}])) == canonical(doc)


def _member_at(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if not isinstance(doc, dict) or token not in doc:
            return None
        doc = doc[token]
    return doc
