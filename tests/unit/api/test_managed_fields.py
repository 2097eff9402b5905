"""Server-side apply and managedFields: the kubectl workflows of the wire contract, as data.

Expected FieldsV1 documents and messages are the ones kube-apiserver produces for the same requests
(structured-merge-diff's serialization, the apiserver's conflict wording).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.services.api import managed_fields as mf
from provisioner.services.api.status import ApiError

T0 = "2026-07-01T10:00:00Z"
T1 = "2026-07-01T10:05:00Z"
T2 = "2026-07-01T10:10:00Z"
T3 = "2026-07-01T10:15:00Z"
DEPLOY = {"kind": "Deployment", "api_version": "apps/v1"}


def deployment(replicas: int | None = 2, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    """The manifest kubectl sends: a Deployment with one nginx container."""
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": image}]}}},
    }
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    obj["spec"].update(spec)
    return obj


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the registry adds before the object is persisted."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid="0b5c6c3e-0000-4000-8000-000000000001", resourceVersion="7", generation=1,
                           creationTimestamp="2026-07-01T09:00:00Z")
    return obj


def ssa(live: dict[str, Any] | None, config: dict[str, Any], manager: str = "kubectl", *, now: str = T0,
        force: bool = False, kind: str = "Deployment", api_version: str = "apps/v1") -> dict[str, Any]:
    result = mf.apply(live, config, kind=kind, api_version=api_version, manager=manager, force=force, now=now,
                      ignore_status=True)
    return stored(result) if live is None else result


def update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, *, now: str = T1,
           subresource: str = "", kind: str = "Deployment") -> dict[str, Any]:
    new = copy.deepcopy(new)
    mf.record_update(old, new, kind=kind, api_version="apps/v1" if kind == "Deployment" else "v1",
                     manager=manager, now=now, subresource=subresource, ignore_status=True)
    return new


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def fields_of(obj: dict[str, Any], manager: str, operation: str = "Apply") -> mf.FieldSet:
    return mf.fields_v1_to_field_set(entries(obj)[(manager, operation)]["fieldsV1"])


def path(*parts: Any) -> mf.Path:
    return mf.make_path(*parts)


def conflict_of(excinfo: pytest.ExceptionInfo[ApiError]) -> dict[str, Any]:
    return excinfo.value.to_status()


NGINX = {"name": "nginx"}
REPLICAS = path("spec", "replicas")
IMAGE = path("spec", "template", "spec", "containers", NGINX, "image")


# ------------------------------------------------------------------------------------------------------------
# FieldsV1 encoding
# ------------------------------------------------------------------------------------------------------------

def test_contract_example_encodes_like_kubernetes() -> None:
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app3"},
              "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}}
    fields_v1 = mf.field_set_to_fields_v1(mf.field_set_of(config, kind="Deployment"))
    assert json.dumps(fields_v1) == json.dumps({
        "f:apiVersion": {}, "f:kind": {}, "f:metadata": {"f:name": {}},
        "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}}}}}},
    })


def test_multi_key_items_sort_key_names_and_order_numerically() -> None:
    container = {"name": "web", "ports": [{"protocol": "UDP", "containerPort": 443},
                                          {"containerPort": 80}, {"containerPort": 8080, "protocol": "TCP"}]}
    config = {"spec": {"containers": [container]}}
    ports = mf.field_set_to_fields_v1(mf.field_set_of(config, kind="Pod"))["f:spec"]["f:containers"][
        'k:{"name":"web"}']["f:ports"]
    # Keys sorted by name inside k:, items by value (80 < 443 < 8080 numerically); protocol defaults to TCP.
    assert list(ports) == ['k:{"containerPort":80,"protocol":"TCP"}', 'k:{"containerPort":443,"protocol":"UDP"}',
                           'k:{"containerPort":8080,"protocol":"TCP"}']
    assert ports['k:{"containerPort":80,"protocol":"TCP"}'] == {".": {}, "f:containerPort": {}}
    assert ports['k:{"containerPort":443,"protocol":"UDP"}'] == {".": {}, "f:containerPort": {}, "f:protocol": {}}


def test_sets_atomic_lists_and_atomic_maps() -> None:
    config = {"metadata": {"finalizers": ["b.example.com/x", "a.example.com/y"]},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {
                  "nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "k"}],
                  "containers": [{"name": "c", "args": ["-v"], "env": [{"name": "A", "value": "1"}]}]}}}}
    fields_v1 = mf.field_set_to_fields_v1(mf.field_set_of(config, kind="Deployment"))
    assert fields_v1["f:metadata"] == {"f:finalizers": {'v:"a.example.com/y"': {}, 'v:"b.example.com/x"': {}}}
    assert fields_v1["f:spec"]["f:selector"] == {}  # LabelSelector is atomic
    pod_spec = fields_v1["f:spec"]["f:template"]["f:spec"]
    assert pod_spec["f:nodeSelector"] == {} and pod_spec["f:tolerations"] == {}
    assert pod_spec["f:containers"]['k:{"name":"c"}'] == {
        ".": {}, "f:args": {}, "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}}, "f:name": {}}


def test_null_and_empty_maps_are_leaves_empty_keyed_lists_own_nothing() -> None:
    config = {"spec": {"replicas": None, "strategy": {}, "template": {"spec": {"containers": []}}}}
    assert mf.field_set_to_fields_v1(mf.field_set_of(config, kind="Deployment")) == {
        "f:spec": {"f:replicas": {}, "f:strategy": {}}}


def test_path_strings_match_conflict_fields() -> None:
    assert mf.path_to_string(IMAGE) == '.spec.template.spec.containers[name="nginx"].image'
    port = path("spec", "containers", {"protocol": "TCP", "containerPort": 80})
    assert mf.path_to_string(port) == '.spec.containers[containerPort=80,protocol="TCP"]'
    assert mf.path_to_string(path("metadata", "finalizers") + (mf.value_element("a"),)) == '.metadata.finalizers[="a"]'
    assert mf.path_to_string(path("spec", 0, "x")) == ".spec[0].x"


def test_fields_v1_decoding() -> None:
    fs = mf.fields_v1_to_field_set({
        "f:spec": {".": {}, "f:a": {}, "f:b": None, "x:future": {"f:ignored": {}}},
        'k:{"name":"x"}': {}, 'v:80': {}, "i:2": {"f:c": {}},
    })
    assert fs.has(path("spec")) and fs.has(path("spec", "a")) and fs.has(path("spec", "b"))
    assert fs.has((mf.key_element({"name": "x"}),)) and fs.has((mf.value_element(80),))
    assert fs.has(path(2, "c")) and not fs.has(path(2))
    assert sum(1 for _ in fs.paths()) == 6
    for bad in ([], {"f:a": "x"}, {"q": {}}, {"nocolon": {}}, {'k:["x"]': {}}, {"i:x": {}}, {"v:{": {}}):
        with pytest.raises(ValueError):
            mf.fields_v1_to_field_set(bad)


def test_go_formatting_helpers() -> None:
    assert mf.go_json({"b": "<&>", "a": 1.0}) == '{"a":1,"b":"\\u003c\\u0026\\u003e"}'
    assert mf.go_quote('a"b\\\n\x07é') == '"a\\"b\\\\\\n\\aé"'
    assert mf.element_to_string(mf.value_element(0.5)) == "[=0.5]"
    assert mf.element_to_string(mf.value_element(1234567.5)) == "[=1.2345675e+06]"
    assert mf.element_to_string(mf.value_element(True)) == "[=true]"
    assert mf.value_element(True) != mf.value_element(1) and mf.value_element(1.0) == mf.value_element(1)


path_elements = st.one_of(
    st.builds(mf.field_element, st.text(min_size=1, max_size=6)),
    st.builds(mf.key_element, st.dictionaries(st.sampled_from(["name", "port", "protocol"]),
                                              st.one_of(st.integers(-5, 5000), st.text(max_size=4)),
                                              min_size=1)),
    st.builds(mf.value_element, st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none())),
    st.builds(mf.index_element, st.integers(0, 20)),
)


@given(st.lists(st.lists(path_elements, min_size=1, max_size=4).map(tuple), max_size=12))
def test_fields_v1_round_trip(paths: list[mf.Path]) -> None:
    fs = mf.FieldSet.of(paths)
    doc = mf.field_set_to_fields_v1(fs)
    assert mf.fields_v1_to_field_set(json.loads(json.dumps(doc))) == fs
    assert set(fs.paths()) == set(paths)


# ------------------------------------------------------------------------------------------------------------
# apply --server-side: create, re-apply, change, drop
# ------------------------------------------------------------------------------------------------------------

def test_server_side_apply_create() -> None:
    config = deployment()
    config["status"] = {"replicas": 9}
    obj = mf.apply(None, config, manager="kubectl", force=False, now=T0, ignore_status=True, **DEPLOY)
    assert "status" not in obj
    assert obj["spec"] == deployment()["spec"]
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {
            "f:replicas": {}, "f:selector": {},
            "f:template": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {
                'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}}}}}}},
    }]


def test_reapply_unchanged_keeps_object_and_managed_fields() -> None:
    first = ssa(None, deployment())
    again = ssa(first, deployment(), now=T1)
    assert again == first  # the timestamp only moves when the object changes


def test_reapply_with_a_change_updates_value_and_time() -> None:
    first = ssa(None, deployment(replicas=2))
    second = ssa(first, deployment(replicas=3), now=T1)
    assert second["spec"]["replicas"] == 3
    assert entries(second)[("kubectl", "Apply")]["time"] == T1
    assert fields_of(second, "kubectl") == fields_of(first, "kubectl")
    assert second["metadata"]["uid"] == first["metadata"]["uid"]


def test_dropping_a_field_removes_it() -> None:
    first = ssa(None, deployment(replicas=2, minReadySeconds=5))
    second = ssa(first, deployment(replicas=2), now=T1)
    assert "minReadySeconds" not in second["spec"]
    assert not fields_of(second, "kubectl").has(path("spec", "minReadySeconds"))


def test_dropping_a_container_and_a_port() -> None:
    two = deployment()
    two["spec"]["template"]["spec"]["containers"] = [
        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}, {"containerPort": 443}]},
        {"name": "sidecar", "image": "envoy"}]
    first = ssa(None, two)
    one = copy.deepcopy(two)
    one["spec"]["template"]["spec"]["containers"] = [{"name": "nginx", "image": "nginx",
                                                      "ports": [{"containerPort": 443}]}]
    second = ssa(first, one, now=T1)
    assert second["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 443}]}]


def test_dropping_keeps_fields_the_server_defaulted() -> None:
    """Unowned fields (defaults) survive pruning of their siblings; a dropped struct goes whole."""
    first = ssa(None, deployment(strategy={"rollingUpdate": {"maxSurge": 2}}))
    first["spec"]["revisionHistoryLimit"] = 10  # defaulted by the registry, owned by nobody
    first["spec"]["strategy"]["type"] = "RollingUpdate"
    first["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"
    second = ssa(first, deployment(image="nginx:1.26"), now=T1)
    assert "strategy" not in second["spec"]
    assert second["spec"]["revisionHistoryLimit"] == 10
    assert second["spec"]["template"]["spec"]["containers"][0] == {
        "name": "nginx", "image": "nginx:1.26", "terminationMessagePath": "/dev/termination-log"}


def test_a_field_another_manager_took_over_is_not_pruned() -> None:
    first = ssa(None, deployment(replicas=2))
    scaled = copy.deepcopy(first)
    scaled["spec"]["replicas"] = 5
    scaled = update(first, scaled, "kube-controller-manager", subresource="scale")
    assert not fields_of(scaled, "kubectl").has(REPLICAS)
    scale_entry = entries(scaled)[("kube-controller-manager", "Update")]
    assert scale_entry["subresource"] == "scale" and scale_entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    reapplied = ssa(scaled, deployment(replicas=None), now=T2)
    assert reapplied["spec"]["replicas"] == 5


# ------------------------------------------------------------------------------------------------------------
# Conflicts
# ------------------------------------------------------------------------------------------------------------

def csa_created(manifest: dict[str, Any], last_applied: dict[str, Any] | None = None) -> dict[str, Any]:
    """``kubectl apply`` (client side) of ``manifest``: POST with the last-applied annotation."""
    body = copy.deepcopy(manifest)
    annotation = mf.go_json(last_applied if last_applied is not None else manifest) + "\n"
    body["metadata"]["annotations"] = {mf.LAST_APPLIED_ANNOTATION: annotation}
    return update(None, stored(body), "kubectl-client-side-apply", now=T0)


def test_conflict_with_client_side_apply_update() -> None:
    live = csa_created(deployment(replicas=5), last_applied=deployment(replicas=2))  # stale annotation
    with pytest.raises(ApiError) as excinfo:
        ssa(live, deployment(replicas=3), now=T1)
    assert conflict_of(excinfo) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 409, "reason": "Conflict",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
                   ".spec.replicas",
        "details": {"causes": [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]},
    }


def test_conflicts_are_not_excused_for_other_appliers() -> None:
    live = csa_created(deployment(replicas=2))
    with pytest.raises(ApiError) as excinfo:
        ssa(live, deployment(replicas=3), manager="helm", now=T1)
    assert excinfo.value.code == 409


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = ssa(None, deployment(replicas=2))
    live = ssa(live, deployment(replicas=2), manager="argocd", now=T1)  # co-owns everything
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 4
    edited = update(live, edited, "kubectl-edit", now=T2)
    config = deployment(replicas=7, image="nginx:2")
    with pytest.raises(ApiError) as excinfo:
        ssa(edited, config, manager="ci", now=T3)
    status = conflict_of(excinfo)
    assert status["message"] == (
        'Apply failed with 3 conflicts: conflicts with "argocd":\n'
        '- .spec.template.spec.containers[name="nginx"].image\n'
        'conflicts with "kubectl":\n'
        '- .spec.template.spec.containers[name="nginx"].image\n'
        'conflicts with "kubectl-edit" using apps/v1:\n'
        "- .spec.replicas")
    assert [c["field"] for c in status["details"]["causes"]] == [
        '.spec.template.spec.containers[name="nginx"].image'] * 2 + [".spec.replicas"]


def test_force_moves_ownership_to_the_applier() -> None:
    live = csa_created(deployment(replicas=5), last_applied=deployment(replicas=2))
    forced = ssa(live, deployment(replicas=3), now=T1, force=True)
    assert forced["spec"]["replicas"] == 3
    assert fields_of(forced, "kubectl").has(REPLICAS)
    assert not fields_of(forced, "kubectl-client-side-apply", "Update").has(REPLICAS)
    assert fields_of(forced, "kubectl-client-side-apply", "Update").has(IMAGE)


def test_two_appliers_share_a_field() -> None:
    live = ssa(None, deployment(replicas=2), manager="team-a")
    shared = ssa(live, deployment(replicas=2), manager="team-b", now=T1)
    assert fields_of(shared, "team-a").has(REPLICAS) and fields_of(shared, "team-b").has(REPLICAS)
    assert "time" not in entries(shared)[("team-b", "Apply")]  # nothing changed: Kubernetes sets no time
    with pytest.raises(ApiError) as excinfo:
        ssa(shared, deployment(replicas=4), manager="team-b", now=T2)
    assert conflict_of(excinfo)["message"] == (
        'Apply failed with 1 conflict: conflict with "team-a": .spec.replicas')
    dropped = ssa(shared, deployment(replicas=None), manager="team-b", now=T2)
    assert dropped["spec"]["replicas"] == 2  # still owned by team-a
    assert not fields_of(dropped, "team-b").has(REPLICAS)


def test_update_takes_ownership_silently_and_empty_entries_go() -> None:
    live = ssa(None, deployment(replicas=None, image="nginx:1.25"), manager="team-a")
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    edited = update(live, edited, "kubectl-set")
    assert fields_of(edited, "kubectl-set", "Update") == mf.FieldSet.of([IMAGE])
    assert not fields_of(edited, "team-a").has(IMAGE)
    again = copy.deepcopy(edited)
    again["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    again = update(edited, again, "kubectl-edit", now=T2)
    assert ("kubectl-set", "Update") not in entries(again)


# ------------------------------------------------------------------------------------------------------------
# List merging
# ------------------------------------------------------------------------------------------------------------

def test_containers_merge_by_name_and_ports_by_port_and_protocol() -> None:
    base = deployment()
    base["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "app:1", "ports": [{"containerPort": 53, "protocol": "TCP"}]},
        {"name": "nginx", "image": "nginx:1.25"}]
    live = ssa(None, base, manager="team-a")
    other = deployment(replicas=None)
    other["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53}],
         "env": [{"name": "MODE", "value": "dns"}]}]
    merged = ssa(live, other, manager="team-b", now=T1)
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "app:1", "env": [{"name": "MODE", "value": "dns"}],
         "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53, "protocol": "TCP"}]},
        {"name": "nginx", "image": "nginx:1.25"}]
    owned = fields_of(merged, "team-b")
    app_ports = path("spec", "template", "spec", "containers", {"name": "app"}, "ports")
    assert owned.has(app_ports + path({"containerPort": 53, "protocol": "TCP"}))  # protocol defaults to TCP
    assert owned.has(app_ports + path({"containerPort": 53, "protocol": "UDP"}))
    assert not owned.has(path("spec", "template", "spec", "containers", NGINX))


def test_list_order_follows_the_applier_and_keeps_others_in_place() -> None:
    def with_containers(*names: str) -> dict[str, Any]:
        config = deployment(replicas=None)
        config["spec"]["template"]["spec"]["containers"] = [{"name": n, "image": n} for n in names]
        return config

    live = ssa(None, with_containers("a", "b", "c"), manager="team-a")
    merged = ssa(live, with_containers("c", "x", "a"), manager="team-b", now=T1)
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["b", "c", "x", "a"]


def test_sets_union_and_atomic_lists_replace() -> None:
    base = deployment()
    base["metadata"]["finalizers"] = ["a.example.com/x"]
    base["spec"]["template"]["spec"]["containers"][0]["args"] = ["--one", "--two"]
    live = ssa(None, base, manager="team-a")
    other = deployment(replicas=None)
    other["metadata"]["finalizers"] = ["b.example.com/y"]
    other["spec"]["template"]["spec"]["containers"][0]["args"] = ["--three"]
    with pytest.raises(ApiError):
        ssa(live, other, manager="team-b", now=T1)  # args is atomic: changing it conflicts as one field
    merged = ssa(live, other, manager="team-b", now=T1, force=True)
    assert merged["metadata"]["finalizers"] == ["a.example.com/x", "b.example.com/y"]
    assert merged["spec"]["template"]["spec"]["containers"][0]["args"] == ["--three"]


# ------------------------------------------------------------------------------------------------------------
# kubectl's client-side apply annotation and the CSA -> SSA migration
# ------------------------------------------------------------------------------------------------------------

def test_server_side_apply_over_client_side_apply_then_last_applied_patch() -> None:
    live = csa_created(deployment(replicas=2))
    applied = ssa(live, deployment(replicas=3, image="nginx:1.26"), now=T1)  # excused by the annotation
    assert applied["spec"]["replicas"] == 3
    annotation = applied["metadata"]["annotations"][mf.LAST_APPLIED_ANNOTATION]
    assert annotation == mf.go_json(deployment(replicas=3, image="nginx:1.26")) + "\n"
    assert not fields_of(applied, "kubectl-client-side-apply", "Update").has(REPLICAS)

    # kubectl then applies the annotation alone under its own manager.
    just_annotation = {"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web", "namespace": "default",
                                    "annotations": {mf.LAST_APPLIED_ANNOTATION: annotation}}}
    after = ssa(applied, just_annotation, manager="kubectl-last-applied", now=T2)
    assert {k: v for k, v in after.items() if k != "metadata"} == {
        k: v for k, v in applied.items() if k != "metadata"}
    assert entries(after)[("kubectl-last-applied", "Apply")] == {
        "manager": "kubectl-last-applied", "operation": "Apply", "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:annotations": {f"f:{mf.LAST_APPLIED_ANNOTATION}": {}}}}}
    assert [e["manager"] for e in after["metadata"]["managedFields"]] == [
        "kubectl-last-applied", "kubectl", "kubectl-client-side-apply"]


def test_last_applied_annotation_is_only_synced_when_present() -> None:
    live = ssa(None, deployment())
    assert "annotations" not in ssa(live, deployment(replicas=4), now=T1)["metadata"]


def test_migration_patch_replaces_managed_fields() -> None:
    live = csa_created(deployment(replicas=2))
    csa_entry = entries(live)[("kubectl-client-side-apply", "Update")]
    migrated = [{**csa_entry, "manager": "kubectl", "operation": "Apply", "time": "2026-07-01T12:00:00+02:00"}]
    patched = copy.deepcopy(live)
    patched["metadata"]["managedFields"] = migrated
    mf.validate_managed_fields(migrated, kind="Deployment", api_version="apps/v1", name="web")
    result = update(live, patched, "kubectl", now=T2)
    assert result["metadata"]["managedFields"] == [{**migrated[0], "time": T0}]
    assert ssa(result, deployment(replicas=2), now=T3)["spec"]["replicas"] == 2  # no conflict any more


def test_empty_managed_fields_reset_tracking() -> None:
    live = ssa(None, deployment())
    reset = copy.deepcopy(live)
    reset["metadata"]["managedFields"] = []
    reset = update(live, reset, "kubectl-edit")
    assert "managedFields" not in reset["metadata"]
    edited = copy.deepcopy(reset)
    edited["spec"]["replicas"] = 9
    edited = update(reset, edited, "kubectl-edit", now=T2)
    assert "managedFields" not in edited["metadata"]  # untracked until the next apply
    # The first apply finds the untracked fields owned by "before-first-apply" (Update, time of the apply).
    with pytest.raises(ApiError) as excinfo:
        ssa(edited, deployment(replicas=None, image="nginx:1.27"), manager="team-a", now=T3)
    assert conflict_of(excinfo)["message"] == ('Apply failed with 1 conflict: conflict with "before-first-apply" '
                                               'using apps/v1: .spec.template.spec.containers[name="nginx"].image')
    applied = ssa(edited, deployment(replicas=None), manager="team-a", now=T3)
    first = entries(applied)[("before-first-apply", "Update")]
    assert first["time"] == T3
    assert mf.fields_v1_to_field_set(first["fieldsV1"]).has(REPLICAS)
    assert mf.fields_v1_to_field_set(first["fieldsV1"]).has(IMAGE) and fields_of(applied, "team-a").has(IMAGE)


def test_undecodable_request_managed_fields_keep_the_live_ones() -> None:
    live = ssa(None, deployment())
    sent = copy.deepcopy(live)
    sent["metadata"]["managedFields"] = [{"manager": "x", "operation": "Merge", "apiVersion": "apps/v1",
                                          "fieldsType": "FieldsV1", "fieldsV1": {}}]
    mf.validate_managed_fields(sent["metadata"]["managedFields"], kind="Deployment", api_version="apps/v1",
                               name="web")  # not an error: kube-apiserver ignores such a list
    result = update(live, sent, "kubectl-edit")
    assert result["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_subresource_writes_ignore_request_managed_fields() -> None:
    live = ssa(None, deployment(replicas=2))
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 3
    scaled["metadata"]["managedFields"] = []
    scaled = update(live, scaled, "kubectl-scale", subresource="scale")
    assert [(e["manager"], e.get("subresource")) for e in scaled["metadata"]["managedFields"]] == [
        ("kubectl", None), ("kubectl-scale", "scale")]


# ------------------------------------------------------------------------------------------------------------
# Non-apply writes
# ------------------------------------------------------------------------------------------------------------

def test_kubectl_create_records_every_set_field_like_kubernetes() -> None:
    """A defaulted Deployment from ``kubectl create``: non-pointer structs get no ``.``, new maps and items do."""
    created = stored(deployment(replicas=1))
    created["metadata"]["labels"] = {"app": "web"}
    created["spec"].update(progressDeadlineSeconds=600, revisionHistoryLimit=10,
                           strategy={"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    pod = created["spec"]["template"]["spec"]
    pod.update(dnsPolicy="ClusterFirst", restartPolicy="Always", securityContext={})
    pod["containers"][0].update(imagePullPolicy="IfNotPresent", resources={},
                                ports=[{"containerPort": 80, "protocol": "TCP"}])
    created["status"] = {}
    recorded = update(None, created, "kubectl-create", now=T0)
    (entry,) = recorded["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-create" and entry["operation"] == "Update" and entry["time"] == T0
    assert json.dumps(entry["fieldsV1"]) == json.dumps({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
            "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
            "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:containers": {'k:{"name":"nginx"}': {
                        ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                        "f:ports": {".": {}, 'k:{"containerPort":80,"protocol":"TCP"}': {
                            ".": {}, "f:containerPort": {}, "f:protocol": {}}},
                        "f:resources": {}}},
                    "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:securityContext": {}}}}})


def test_created_custom_resources_own_their_spec_map_itself() -> None:
    """Go's zero value of a built-in kind already has ``spec``; an unstructured custom resource has nothing,
    so Kubernetes records ``.`` for its spec (and never for metadata, which is not tracked)."""
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w", "uid": "u", "labels": {"a": "b"}}, "spec": {"size": 3}}
    recorded = update(None, widget, "kubectl-create", kind="Widget")
    assert recorded["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {".": {}, "f:size": {}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u"},
           "spec": {"containers": [{"name": "c", "image": "i"}]}}
    recorded = update(None, pod, "kubectl-run", kind="Pod")
    assert recorded["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}}}}}


def test_granular_maps_are_owned_key_by_key() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}}
    live = ssa(None, config, kind="ConfigMap", api_version="v1")
    edited = copy.deepcopy(live)
    edited["data"]["b"] = "3"
    edited = update(live, edited, "kubectl-edit", kind="ConfigMap")
    reapplied = ssa(edited, {**config, "data": {}}, kind="ConfigMap", api_version="v1", now=T2)
    assert reapplied["data"] == {"b": "3"}  # "a" was only the applier's; "b" now belongs to kubectl-edit


def test_update_without_changes_records_nothing() -> None:
    live = update(None, stored(deployment()), "kubectl-create", now=T0)
    same = update(live, copy.deepcopy(live), "kubectl-edit", now=T1)
    assert same["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_removing_a_field_takes_it_from_its_owner() -> None:
    live = ssa(None, deployment(minReadySeconds=3))
    edited = copy.deepcopy(live)
    del edited["spec"]["minReadySeconds"]
    edited = update(live, edited, "kubectl-edit")
    assert not fields_of(edited, "kubectl").has(path("spec", "minReadySeconds"))
    assert ("kubectl-edit", "Update") not in entries(edited)


def test_update_managers_are_capped_into_ancient_changes() -> None:
    obj = update(None, stored(deployment()), "creator", now="2026-07-01T00:00:00Z")
    for i in range(11):
        edited = copy.deepcopy(obj)
        edited["metadata"].setdefault("labels", {})[f"l{i}"] = "x"
        obj = update(obj, edited, f"editor-{i:02d}", now=f"2026-07-01T00:{i + 1:02d}:00Z")
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and managers[0] == "ancient-changes"
    assert managers[1:] == [f"editor-{i:02d}" for i in range(2, 11)]
    ancient = mf.fields_v1_to_field_set(obj["metadata"]["managedFields"][0]["fieldsV1"])
    assert ancient.has(IMAGE) and ancient.has(path("metadata", "labels", "l0")) and ancient.has(
        path("metadata", "labels", "l1"))
    assert obj["metadata"]["managedFields"][0]["time"] == "2026-07-01T00:02:00Z"


def test_server_owned_metadata_is_never_tracked() -> None:
    created = stored(deployment())
    created["metadata"]["deletionTimestamp"] = "2026-07-01T11:00:00Z"
    recorded = update(None, created, "kubectl-create")
    owned = fields_of(recorded, "kubectl-create", "Update")
    for name in ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "deletionTimestamp", "managedFields"):
        assert not owned.has(path("metadata", name))
    assert not owned.has(path("apiVersion")) and not owned.has(path("kind"))


def test_manager_defaults() -> None:
    assert mf.default_manager("kubectl/v1.37.1 (linux/amd64) kubernetes/0000000") == "kubectl"
    assert mf.default_manager("OpenAPI-Generator/37.0.2/python") == "OpenAPI-Generator"
    assert mf.default_manager("\x00we\tird/1") == "weird"
    assert mf.default_manager("é" * 100) == "é" * 64  # 128 bytes
    assert mf.default_manager("") == ""
    recorded = update(None, stored(deployment()), "")
    assert recorded["metadata"]["managedFields"][0]["manager"] == "unknown"


# ------------------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("config", "message"), [
    (["not", "an", "object"], "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
                              "unmarshal array into Go value of type map[string]interface {}"),
    ({**deployment(), "apiVersion": "apps/v1beta2"}, "invalid object type: apps/v1beta2, Kind=Deployment"),
    ({"kind": "Deployment"}, "invalid object type: /, Kind=Deployment"),
    ({**deployment(), "spec": ["a"]}, "failed to create typed patch object (default/web; apps/v1, "
                                      "Kind=Deployment): .spec: expected map, got array"),
    ({**deployment(), "metadata": {"name": "web", "managedFields": []}}, "metadata.managedFields must be nil"),
    ({**deployment(), "metadata": {"name": "web", "labels": {"a": 1}}},
     "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .metadata.labels.a: expected string, "
     "got number"),
])
def test_malformed_configurations_are_bad_requests(config: Any, message: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        mf.apply(None, config, manager="kubectl", force=False, now=T0, **DEPLOY)
    assert (excinfo.value.code, excinfo.value.reason, excinfo.value.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(("containers", "detail"), [
    ([{"image": "x"}], '.spec.template.spec.containers: element 0: associative list with keys has an element '
                       'that omits key field "name" (and doesn\'t have default value)'),
    ([{"name": "a"}, {"name": "a"}], '.spec.template.spec.containers: duplicate entries for key [name="a"]'),
    (["x"], ".spec.template.spec.containers: element 0: associative list with keys may not have non-map "
            "elements"),
    ({"name": "a"}, ".spec.template.spec.containers: expected list, got object"),
])
def test_schema_violations_in_lists(containers: Any, detail: str) -> None:
    config = deployment()
    config["spec"]["template"]["spec"]["containers"] = containers
    with pytest.raises(ApiError) as excinfo:
        mf.apply(None, config, manager="kubectl", force=False, now=T0, **DEPLOY)
    assert excinfo.value.code == 400
    assert excinfo.value.message.endswith("Kind=Deployment): " + detail)


def test_type_change_against_the_live_object_is_rejected() -> None:
    live = ssa(None, deployment(strategy={"type": "Recreate"}))
    with pytest.raises(ApiError) as excinfo:
        ssa(live, deployment(strategy="Recreate"), now=T1)
    assert excinfo.value.message.endswith(".spec.strategy: expected map, got string")


def test_apply_needs_a_field_manager() -> None:
    with pytest.raises(ApiError) as excinfo:
        mf.apply(None, deployment(), manager="", force=False, now=T0, **DEPLOY)
    assert excinfo.value.code == 422
    assert excinfo.value.message == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                     "is required for apply patch")


@pytest.mark.parametrize(("entries_value", "code", "text"), [
    ("nope", 400, 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string '
                  "into Go struct field ObjectMeta.metadata.managedFields of type []v1.ManagedFieldsEntry"),
    ([{"manager": 5}], 400, "json: cannot unmarshal number into Go struct field "
                            "ManagedFieldsEntry.metadata.managedFields.manager of type string"),
    ([{"operation": "Apply", "time": "yesterday"}], 400, 'cannot parse "yesterday" as RFC 3339'),
    ([{"manager": "m" * 129, "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1"}], 422,
     "metadata.managedFields[0].manager: Too long: may not be more than 128 bytes"),
    ([{"manager": "a\x07", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1"}], 422,
     'metadata.managedFields[0].manager: Invalid value: "a\\a": invalid character U+0007 (at position 1)'),
])
def test_managed_fields_validation(entries_value: Any, code: int, text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        mf.validate_managed_fields(entries_value, kind="Deployment", api_version="apps/v1", name="web")
    assert excinfo.value.code == code
    assert text in excinfo.value.message


def test_reset_values() -> None:
    assert mf.is_reset([]) and mf.is_reset([{}]) and mf.is_reset([None]) and mf.is_reset([{"manager": ""}])
    assert not mf.is_reset(None) and not mf.is_reset([{"fieldsV1": {}}]) and not mf.is_reset([{}, {}])


# ------------------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------------------

names = st.sampled_from(["a", "b", "c", "d"])
ports = st.lists(st.tuples(st.sampled_from([80, 443, 53]), st.sampled_from([None, "TCP", "UDP"])), max_size=3)


# Keyed lists are never empty here: an empty keyed list owns nothing (structured-merge-diff treats it as "no
# opinion"), so a configuration with one is not reproduced exactly by apply-after-apply.
@st.composite
def containers(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for name in draw(st.lists(names, unique=True, min_size=1, max_size=3)):
        container: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            container["image"] = draw(st.sampled_from(["nginx", "envoy", "redis"]))
        seen, port_list = set(), []
        for number, protocol in draw(ports):
            if (number, protocol or "TCP") in seen:
                continue
            seen.add((number, protocol or "TCP"))
            port_list.append({"containerPort": number} | ({"protocol": protocol} if protocol else {}))
        if port_list:
            container["ports"] = port_list
        if draw(st.booleans()):
            container["args"] = draw(st.lists(st.sampled_from(["-v", "-q", "--x"]), max_size=3))
        if draw(st.booleans()):
            container["env"] = [{"name": n, "value": draw(st.sampled_from(["1", "2"]))}
                                for n in draw(st.lists(names, unique=True, min_size=1, max_size=2))]
        out.append(container)
    return out


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    config = deployment(replicas=draw(st.one_of(st.none(), st.integers(0, 5))))
    config["spec"]["template"]["spec"]["containers"] = draw(containers())
    labels = draw(st.dictionaries(names, st.sampled_from(["x", "y"]), max_size=2))
    if labels:
        config["metadata"]["labels"] = labels
    if draw(st.booleans()):
        config["metadata"]["finalizers"] = draw(st.lists(st.sampled_from(["f/1", "f/2", "f/3"]), unique=True,
                                                         min_size=1))
    if draw(st.booleans()):
        config["spec"]["strategy"] = draw(st.sampled_from([{}, {"type": "Recreate"},
                                                           {"rollingUpdate": {"maxSurge": 1}}]))
    return config


def without_times(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for entry in obj["metadata"].get("managedFields", []):
        entry.pop("time", None)
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_applying_twice_is_idempotent(config: dict[str, Any]) -> None:
    first = ssa(None, config)
    assert ssa(first, config, now=T1) == first


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), configs())
def test_a_sole_applier_ends_up_with_exactly_its_last_configuration(c1: dict[str, Any],
                                                                   c2: dict[str, Any]) -> None:
    """Everything the applier no longer specifies is pruned, so the history does not matter."""
    via_c1 = ssa(ssa(None, c1), c2, now=T1)
    direct = ssa(None, c2, now=T1)
    assert without_times(via_c1) == without_times(direct)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), configs(), st.booleans())
def test_apply_and_record_update_never_mutate_their_inputs(c1: dict[str, Any], c2: dict[str, Any],
                                                          force: bool) -> None:
    live = ssa(None, c1, manager="team-a")
    live_before, c2_before = copy.deepcopy(live), copy.deepcopy(c2)
    try:
        result = ssa(live, c2, manager="team-b", now=T1, force=force)
    except ApiError as exc:
        assert exc.code == 409 and not force
        result = None
    assert live == live_before and c2 == c2_before
    if result is not None:
        result_before = copy.deepcopy(result)
        update(live, result, "kubectl-edit", now=T2)
        assert live == live_before and result == result_before


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_a_sole_appliers_entry_is_its_configurations_field_set(config: dict[str, Any]) -> None:
    obj = ssa(None, config)
    expected = mf.field_set_of(config, kind="Deployment").difference(mf.FieldSet.of([
        path("apiVersion"), path("kind"), path("metadata"), path("metadata", "name"),
        path("metadata", "namespace")]))
    assert fields_of(obj, "kubectl") == expected
