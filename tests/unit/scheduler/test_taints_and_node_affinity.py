"""TaintToleration and NodeSelector/NodeAffinity, with the cases of the Kubernetes documentation
("Taints and Tolerations", "Assigning Pods to Nodes")."""

from __future__ import annotations

import pytest

from provisioner.services.scheduler.framework import Code, CycleState, PreFilterResult
from provisioner.services.scheduler.podinfo import PodInfo

from .builders import Cluster, make_node, make_pod

UNTOLERATED = "node(s) had untolerated taint(s)"


def taint(key: str, value: str, effect: str) -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


# ------------------------------------------------------------------------------------------------ taints
@pytest.fixture
def tainted() -> Cluster:
    """`kubectl taint nodes node1 key1=value1:NoSchedule` and friends."""
    return Cluster([
        make_node("no-schedule", taints=[taint("key1", "value1", "NoSchedule")]),
        make_node("prefer-no-schedule", taints=[taint("key1", "value1", "PreferNoSchedule")]),
        make_node("no-execute", taints=[taint("key1", "value1", "NoExecute")]),
        make_node("clean"),
    ])


def test_no_schedule_and_no_execute_keep_intolerant_pods_off(tainted: Cluster) -> None:
    assert tainted.feasible("TaintToleration", make_pod("p")) == ["clean", "prefer-no-schedule"]
    status = tainted.filter("TaintToleration", make_pod("p"), "no-execute")
    assert status is not None and status.reasons == (UNTOLERATED,)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize(("toleration", "feasible"), [
    # The documentation's two equivalent tolerations of key1=value1:NoSchedule.
    ({"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoSchedule"},
     ["clean", "no-schedule", "prefer-no-schedule"]),
    ({"key": "key1", "operator": "Exists", "effect": "NoSchedule"}, ["clean", "no-schedule", "prefer-no-schedule"]),
    # A wrong value tolerates nothing; an empty effect matches every effect of key1=value1.
    ({"key": "key1", "operator": "Equal", "value": "other", "effect": "NoSchedule"}, ["clean", "prefer-no-schedule"]),
    ({"key": "key1", "operator": "Equal", "value": "value1"},
     ["clean", "no-execute", "no-schedule", "prefer-no-schedule"]),
    # An empty key with Exists tolerates everything.
    ({"operator": "Exists"}, ["clean", "no-execute", "no-schedule", "prefer-no-schedule"]),
    # NoExecute tolerated for 3600 s: the pod may be scheduled there (eviction after the hour is not ours).
    ({"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoExecute", "tolerationSeconds": 3600},
     ["clean", "no-execute", "prefer-no-schedule"]),
])
def test_tolerations(tainted: Cluster, toleration: dict, feasible: list[str]) -> None:
    assert tainted.feasible("TaintToleration", make_pod("p", tolerations=[toleration])) == feasible


def test_toleration_seconds_are_kept() -> None:
    info = PodInfo(make_pod("p", tolerations=[{"key": "k", "operator": "Exists", "effect": "NoExecute",
                                               "tolerationSeconds": 300}]))
    assert info.tolerations[0].toleration_seconds == 300


def test_prefer_no_schedule_only_lowers_the_score(tainted: Cluster) -> None:
    scores = tainted.scores("TaintToleration", make_pod("p"), ["prefer-no-schedule", "clean"])
    assert scores == {"prefer-no-schedule": 0, "clean": 100}
    tolerant = make_pod("p", tolerations=[{"key": "key1", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert tainted.scores("TaintToleration", tolerant, ["prefer-no-schedule", "clean"]) == {
        "prefer-no-schedule": 100, "clean": 100}


def test_prefer_no_schedule_scores_count_untolerated_taints() -> None:
    cluster = Cluster([
        make_node("two", taints=[taint("a", "", "PreferNoSchedule"), taint("b", "", "PreferNoSchedule")]),
        make_node("one", taints=[taint("a", "", "PreferNoSchedule")]),
        make_node("none"),
    ])
    assert cluster.scores("TaintToleration", make_pod("p")) == {"two": 0, "one": 50, "none": 100}


def test_a_cordoned_tainted_node_reports_only_the_first_failing_filter() -> None:
    cluster = Cluster([make_node("n", unschedulable=True, taints=[taint("k", "v", "NoSchedule")])])
    with pytest.raises(Exception) as caught:
        cluster.schedule(make_pod("p"))
    assert "1 node(s) were unschedulable." in str(caught.value)
    assert UNTOLERATED not in str(caught.value)


# --------------------------------------------------------------------------------------- node affinity
@pytest.fixture
def labelled() -> Cluster:
    return Cluster([
        make_node("linux-a", labels={"kubernetes.io/os": "linux", "another-node-label-key": "another-node-label-value",
                                     "disktype": "ssd", "cores": "8"}),
        make_node("linux-b", labels={"kubernetes.io/os": "linux", "disktype": "hdd", "cores": "2"}),
        make_node("windows", labels={"kubernetes.io/os": "windows", "cores": "16"}),
    ])


def required(*expressions: dict, fields: list[dict] | None = None) -> dict:
    term: dict = {}
    if expressions:
        term["matchExpressions"] = list(expressions)
    if fields:
        term["matchFields"] = fields
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def test_node_selector(labelled: Cluster) -> None:
    assert labelled.feasible("NodeAffinity", make_pod("p", node_selector={"disktype": "ssd"})) == ["linux-a"]
    status = labelled.filter("NodeAffinity", make_pod("p", node_selector={"disktype": "ssd"}), "windows")
    assert status is not None and status.reasons == ("node(s) didn't match Pod's node affinity/selector",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize(("expression", "feasible"), [
    ({"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}, ["linux-a", "linux-b"]),
    ({"key": "kubernetes.io/os", "operator": "NotIn", "values": ["linux"]}, ["windows"]),
    ({"key": "disktype", "operator": "Exists"}, ["linux-a", "linux-b"]),
    ({"key": "disktype", "operator": "DoesNotExist"}, ["windows"]),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, ["linux-a", "windows"]),
    ({"key": "cores", "operator": "Lt", "values": ["4"]}, ["linux-b"]),
    ({"key": "cores", "operator": "Gt", "values": ["many"]}, []),
])
def test_required_node_affinity_operators(labelled: Cluster, expression: dict, feasible: list[str]) -> None:
    assert labelled.feasible("NodeAffinity", make_pod("p", affinity=required(expression))) == feasible


def test_terms_are_ored_and_expressions_anded(labelled: Cluster) -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                              {"key": "disktype", "operator": "In", "values": ["hdd"]}]},
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]},
    ]}}}
    assert labelled.feasible("NodeAffinity", make_pod("p", affinity=affinity)) == ["linux-b", "windows"]
    # nodeSelector and affinity must both hold
    pod = make_pod("p", affinity=affinity, node_selector={"cores": "16"})
    assert labelled.feasible("NodeAffinity", pod) == ["windows"]


def test_match_fields_on_the_node_name_narrow_the_nodes_before_filtering(labelled: Cluster) -> None:
    pod = PodInfo(make_pod("ds", affinity=required(fields=[{"key": "metadata.name", "operator": "In",
                                                            "values": ["linux-b"]}])))
    result = labelled.plugin("NodeAffinity").pre_filter(CycleState(), pod, labelled.cache.node_list())
    assert result == PreFilterResult(frozenset({"linux-b"}))
    assert labelled.feasible("NodeAffinity", pod.pod) == ["linux-b"]
    assert labelled.schedule(pod.pod) == "linux-b"


def test_a_pod_for_a_missing_node_says_which_plugin_excluded_the_others(labelled: Cluster) -> None:
    pod = make_pod("ds", affinity=required(fields=[{"key": "metadata.name", "operator": "In", "values": ["gone"]}]))
    with pytest.raises(Exception) as caught:
        labelled.schedule(pod)
    assert str(caught.value).startswith(
        "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity].")


def test_empty_terms_match_nothing(labelled: Cluster) -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}
    assert labelled.feasible("NodeAffinity", make_pod("p", affinity=affinity)) == []


def test_preferred_node_affinity_scores_by_weight(labelled: Cluster) -> None:
    # The documentation's example: required linux, preferred another-node-label-key (weight 1) — here with a
    # second preference (weight 50) to show the normalization.
    affinity = required({"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]})
    affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = [
        {"weight": 1, "preference": {"matchExpressions": [
            {"key": "another-node-label-key", "operator": "In", "values": ["another-node-label-value"]}]}},
        {"weight": 50, "preference": {"matchExpressions": [{"key": "disktype", "operator": "In", "values": ["hdd"]}]}},
    ]
    pod = make_pod("p", affinity=affinity)
    assert labelled.feasible("NodeAffinity", pod) == ["linux-a", "linux-b"]
    assert labelled.scores("NodeAffinity", pod, ["linux-a", "linux-b"]) == {"linux-a": 2, "linux-b": 100}
    assert labelled.schedule(pod) == "linux-b"
