"""The scheduling cycle: the FailedScheduling message (kube-scheduler's FitError wording and ordering), how many
nodes are filtered (percentageOfNodesToScore, round-robin start), assumed pods, tie-breaking, nominated nodes."""

from __future__ import annotations

import random

import pytest

from provisioner.services.scheduler.algorithm import (
    Diagnosis,
    FitError,
    SchedulingError,
    num_feasible_nodes_to_find,
    reasons_summary,
)
from provisioner.services.scheduler.framework import unresolvable, unschedulable
from provisioner.services.scheduler.podinfo import PodInfo

from .builders import Cluster, make_node, make_pod


# ------------------------------------------------------------------------------------------- the message
def test_the_issue_example_message() -> None:
    cluster = Cluster([make_node("cordoned", unschedulable=True), make_node("a", cpu="1"), make_node("b", cpu="1")])
    with pytest.raises(FitError) as caught:
        cluster.schedule(make_pod("p", cpu="2"))
    assert str(caught.value) == (
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.")
    assert caught.value.diagnosis.unschedulable_plugins == {"NodeUnschedulable", "NodeResourcesFit"}


def test_reasons_are_counted_and_sorted_as_strings() -> None:
    statuses = {f"n{i}": unschedulable("NodeResourcesFit", "Insufficient cpu") for i in range(10)}
    statuses |= {f"t{i}": unresolvable("TaintToleration", "node(s) had untolerated taint(s)") for i in range(2)}
    statuses["both"] = unschedulable("NodeResourcesFit", "Insufficient cpu", "Insufficient memory")
    # "11 Insufficient cpu" sorts before "2 node(s)…" because the counts are compared as text, as in Go.
    assert reasons_summary(13, statuses, None) == (
        "0/13 nodes are available: 1 Insufficient memory, 11 Insufficient cpu, 2 node(s) had untolerated taint(s).")


def test_nodes_without_a_status_take_the_absent_status() -> None:
    statuses = {"a": unschedulable("NodeResourcesFit", "Insufficient cpu")}
    absent = unresolvable("DefaultPreemption", "Preemption is not helpful for scheduling")
    assert reasons_summary(3, statuses, absent) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 Preemption is not helpful for scheduling.")


def test_a_pre_filter_rejection_is_the_whole_message() -> None:
    error = FitError(PodInfo(make_pod("p")), 5, Diagnosis(pre_filter_msg="pod affinity terms conflict"))
    assert str(error) == "0/5 nodes are available: pod affinity terms conflict."
    conflicting = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]},
                         {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}
    cluster = Cluster([make_node("a"), make_node("b")])
    with pytest.raises(FitError) as caught:
        cluster.schedule(make_pod("p", affinity=conflicting))
    assert str(caught.value) == ("0/2 nodes are available: pod affinity terms conflict. preemption: 0/2 nodes are "
                                 "available: 2 Preemption is not helpful for scheduling.")


def test_preemption_policy_never_says_so() -> None:
    cluster = Cluster([make_node("a", cpu="1")])
    with pytest.raises(FitError) as caught:
        cluster.schedule(make_pod("p", cpu="2", preemptionPolicy="Never"))
    assert str(caught.value) == ("0/1 nodes are available: 1 Insufficient cpu. "
                                 "preemption: not eligible due to preemptionPolicy=Never.")


def test_no_nodes_is_an_error_not_a_misfit() -> None:
    with pytest.raises(SchedulingError, match="no nodes available to schedule pods"):
        Cluster().schedule(make_pod("p"))


# ---------------------------------------------------------------------------------- how many nodes to check
@pytest.mark.parametrize(("nodes", "percentage", "expected"), [
    (50, 0, 50), (99, 0, 99), (100, 0, 100), (500, 0, 230), (1000, 0, 420), (5000, 0, 500), (6000, 0, 300),
    (10000, 0, 500), (5000, 30, 1500), (150, 10, 100), (500, 100, 500),
])
def test_num_feasible_nodes_to_find(nodes: int, percentage: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == expected


def test_filtering_stops_after_enough_feasible_nodes_and_resumes_where_it_stopped() -> None:
    cluster = Cluster([make_node(f"n{i:03}") for i in range(500)])
    first = cluster.algorithm.schedule(PodInfo(make_pod("p1")))
    assert first.evaluated_nodes == 230 and first.feasible_nodes == 230
    assert cluster.algorithm.next_start_index == 230
    cluster.algorithm.schedule(PodInfo(make_pod("p2")))
    assert cluster.algorithm.next_start_index == 460
    cluster.algorithm.schedule(PodInfo(make_pod("p3")))
    assert cluster.algorithm.next_start_index == 190  # wrapped around


def test_infeasible_nodes_are_skipped_until_enough_fit() -> None:
    nodes = [make_node(f"n{i:03}", unschedulable=i % 2 == 0) for i in range(400)]
    cluster = Cluster(nodes)
    result = cluster.algorithm.schedule(PodInfo(make_pod("p")))
    wanted = num_feasible_nodes_to_find(0, 400)
    assert result.feasible_nodes == wanted and result.evaluated_nodes == 2 * wanted


def test_consecutive_decisions_see_the_pods_assumed_before() -> None:
    cluster = Cluster([make_node("a", cpu="1"), make_node("b", cpu="1")])
    placed = [cluster.schedule(make_pod(f"p{i}", cpu="600m")) for i in range(2)]
    assert sorted(placed) == ["a", "b"]
    with pytest.raises(FitError, match="2 Insufficient cpu"):
        cluster.schedule(make_pod("p2", cpu="600m"))


def test_ties_are_broken_at_random_over_all_best_nodes() -> None:
    chosen = set()
    cluster = Cluster([make_node(n) for n in "abcd"])
    cluster.algorithm.rng = random.Random(1)
    for i in range(40):
        chosen.add(cluster.algorithm.schedule(PodInfo(make_pod(f"p{i}"))).node_name)
    assert chosen == {"a", "b", "c", "d"}


def test_the_nominated_node_is_tried_first() -> None:
    cluster = Cluster([make_node(n) for n in "abc"])
    pod = make_pod("p")
    pod["status"]["nominatedNodeName"] = "c"
    result = cluster.algorithm.schedule(PodInfo(pod))
    assert (result.node_name, result.evaluated_nodes) == ("c", 1)


def test_nominated_pods_hold_their_room_against_lower_or_equal_priority() -> None:
    cluster = Cluster([make_node("a", cpu="2")])
    nominated = PodInfo(make_pod("important", cpu="1500m", priority=100))
    cluster.nominator.update(nominated, "a")
    with pytest.raises(FitError, match="1 Insufficient cpu"):
        cluster.schedule(make_pod("ordinary", cpu="1", priority=0))
    assert cluster.schedule(make_pod("vip", cpu="1", priority=1000)) == "a"
