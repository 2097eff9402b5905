"""DefaultPreemption: which pods are evicted (the fewest, lowest priority, reprieving the important ones), which
node is chosen, and when preemption is not attempted."""

from __future__ import annotations

import pytest

from provisioner.services.scheduler.algorithm import FitError
from provisioner.services.scheduler.framework import Code, CycleState
from provisioner.services.scheduler.plugins.defaultpreemption import pick_one_node
from provisioner.services.scheduler.podinfo import PodInfo

from .builders import Cluster, make_node, make_pod


def preempt(cluster: Cluster, pod: dict) -> FitError:
    with pytest.raises(FitError) as caught:
        cluster.schedule(pod)
    return caught.value


def test_the_fewest_lowest_priority_victims_are_chosen() -> None:
    cluster = Cluster([make_node("a", cpu="4")], [
        make_pod("low-1", node="a", cpu="1", priority=1, uid="low-1"),
        make_pod("low-2", node="a", cpu="1", priority=1, uid="low-2"),
        make_pod("mid", node="a", cpu="1", priority=5, uid="mid"),
        make_pod("peer", node="a", cpu="1", priority=10, uid="peer"),
    ])
    error = preempt(cluster, make_pod("vip", cpu="2", priority=10))
    result = error.post_filter_result
    assert result is not None and result.nominated_node_name == "a"
    # Two cpus are needed: the two priority-1 pods go, "mid" is reprieved, the equal-priority peer is never a victim.
    assert sorted(v.name for v in result.victims) == ["low-1", "low-2"]
    assert str(error) == "0/1 nodes are available: 1 Insufficient cpu."  # success adds no preemption message


def test_victims_are_reprieved_from_the_most_important_down() -> None:
    cluster = Cluster([make_node("a", cpu="3")], [
        make_pod("important", node="a", cpu="1", priority=5, uid="important"),
        make_pod("minor", node="a", cpu="2", priority=1, uid="minor"),
    ])
    result = preempt(cluster, make_pod("vip", cpu="2", priority=10)).post_filter_result
    assert result is not None and [v.name for v in result.victims] == ["minor"]


def test_the_node_whose_victims_matter_least_is_chosen() -> None:
    cluster = Cluster([make_node("a", cpu="2"), make_node("b", cpu="2"), make_node("c", cpu="2")], [
        make_pod("a-victim", node="a", cpu="2", priority=5),
        make_pod("b-victim", node="b", cpu="2", priority=1),
        make_pod("c-1", node="c", cpu="1", priority=1), make_pod("c-2", node="c", cpu="1", priority=1),
    ])
    result = preempt(cluster, make_pod("vip", cpu="2", priority=10)).post_filter_result
    # a's victim has priority 5 (worse); b and c tie on the highest priority, b loses less in sum.
    assert result is not None and result.nominated_node_name == "b"


def test_pick_one_node_prefers_victims_that_started_last() -> None:
    def victim(name: str, priority: int, started: str) -> PodInfo:
        pod = make_pod(name, priority=priority)
        pod["status"]["startTime"] = started
        return PodInfo(pod)

    candidates = {"old": [victim("o", 1, "2026-01-01T00:00:00Z")], "new": [victim("n", 1, "2026-06-01T00:00:00Z")]}
    assert pick_one_node(candidates) == "new"
    candidates["fewer"] = [victim("f", 0, "2020-01-01T00:00:00Z")]
    assert pick_one_node(candidates) == "fewer"  # a lower highest priority beats start times


def test_no_victims_when_nothing_has_lower_priority() -> None:
    cluster = Cluster([make_node("a", cpu="1")], [make_pod("peer", node="a", cpu="1", priority=10)])
    error = preempt(cluster, make_pod("vip", cpu="1", priority=10))
    assert error.post_filter_result is not None and not error.post_filter_result.nominated_node_name
    assert str(error).endswith("preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def test_when_evicting_everything_would_not_help_the_filter_reason_is_reported() -> None:
    cluster = Cluster([make_node("a", cpu="1")], [make_pod("low", node="a", cpu="500m", priority=0)])
    error = preempt(cluster, make_pod("huge", cpu="2", priority=10))
    assert str(error) == ("0/1 nodes are available: 1 Insufficient cpu. "
                          "preemption: 0/1 nodes are available: 1 Insufficient cpu.")


def test_a_pod_waiting_for_its_victims_does_not_preempt_again() -> None:
    victim = make_pod("victim", node="a", cpu="1", priority=0)
    victim["metadata"]["deletionTimestamp"] = "2026-11-22T10:00:00Z"
    victim["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]
    cluster = Cluster([make_node("a", cpu="1")], [victim])
    vip = make_pod("vip", cpu="1", priority=10)
    vip["status"]["nominatedNodeName"] = "a"
    error = preempt(cluster, vip)
    assert str(error).endswith("preemption: not eligible due to a terminating pod on the nominated node.")
    assert error.post_filter_result is None  # the nomination stays


def test_what_if_checks_do_not_touch_the_cache() -> None:
    cluster = Cluster([make_node("a", cpu="2")], [make_pod("low", node="a", cpu="2", priority=0)])
    plugin = cluster.plugin("DefaultPreemption")
    vip = PodInfo(make_pod("vip", cpu="2", priority=10))
    state = CycleState()
    cluster.algorithm.run_pre_filter(state, vip, cluster.cache.node_list())
    victims, status = plugin.select_victims_on_node(state, vip, cluster.node("a"))
    assert status is None and [v.name for v in victims] == ["low"]
    assert cluster.node("a").req_cpu == 2000 and len(cluster.node("a").pods) == 1
    unresolvable = plugin.select_victims_on_node(state, PodInfo(make_pod("zero", priority=0)), cluster.node("a"))
    assert unresolvable[1] is not None and unresolvable[1].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_preemption_respects_anti_affinity_of_the_remaining_pods() -> None:
    guard = make_pod("guard", node="a", cpu="100m", priority=100, labels={"app": "guard"},
                     affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                         "labelSelector": {"matchLabels": {"app": "vip"}}, "topologyKey": "kubernetes.io/hostname"}]}})
    cluster = Cluster([make_node("a", cpu="2"), make_node("b", cpu="2")],
                      [guard, make_pod("low-a", node="a", cpu="1900m", priority=0),
                       make_pod("low-b", node="b", cpu="2", priority=0)])
    result = preempt(cluster, make_pod("vip", cpu="1", priority=10, labels={"app": "vip"})).post_filter_result
    # a holds a pod that will not have app=vip next to it, and evicting low-a does not change that.
    assert result is not None and result.nominated_node_name == "b"
    assert [v.name for v in result.victims] == ["low-b"]
