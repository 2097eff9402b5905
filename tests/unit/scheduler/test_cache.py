"""The scheduler cache: assumed pods (counted at once, confirmed by the informer, forgotten on failure), nodes that
come and go with pods on them, the label index, affinity term counts, and which node changes matter."""

from __future__ import annotations

import copy

from provisioner.services.api.selectors import parse_label_selector
from provisioner.services.scheduler.cache import SchedulerCache, assigned_pod_change, node_change
from provisioner.services.scheduler.framework import ClusterEvent
from provisioner.services.scheduler.podinfo import PodInfo

from .builders import anti_affinity, make_node, make_pod


def test_assume_then_confirm_counts_the_pod_once() -> None:
    cache = SchedulerCache()
    cache.add_node(make_node("a"))
    pending = PodInfo(make_pod("p", cpu="1", uid="p"))
    cache.assume(pending, "a")
    assert cache.is_assumed("p") and cache.nodes["a"].req_cpu == 1000
    bound = make_pod("p", cpu="1", uid="p", node="a")
    cache.add_pod(PodInfo(bound))  # the informer saw the binding
    assert not cache.is_assumed("p") and cache.nodes["a"].req_cpu == 1000 and len(cache.nodes["a"].pods) == 1


def test_forget_releases_an_assumed_pod_but_not_a_confirmed_one() -> None:
    cache = SchedulerCache()
    cache.add_node(make_node("a"))
    cache.assume(PodInfo(make_pod("p", cpu="1", uid="p")), "a")
    cache.forget("p")
    assert cache.nodes["a"].req_cpu == 0 and not cache.pods
    cache.add_pod(PodInfo(make_pod("q", cpu="1", uid="q", node="a")))
    cache.forget("q")
    assert cache.nodes["a"].req_cpu == 1000


def test_a_confirmation_on_another_node_moves_the_pod() -> None:
    cache = SchedulerCache()
    for name in "ab":
        cache.add_node(make_node(name))
    cache.assume(PodInfo(make_pod("p", cpu="1", uid="p")), "a")
    cache.add_pod(PodInfo(make_pod("p", cpu="1", uid="p", node="b")))
    assert cache.nodes["a"].req_cpu == 0 and cache.nodes["b"].req_cpu == 1000


def test_pods_may_arrive_before_their_node_and_outlive_it() -> None:
    cache = SchedulerCache()
    cache.add_pod(PodInfo(make_pod("early", cpu="1", uid="early", node="late-node")))
    assert cache.node_list() == [] and cache.nodes["late-node"].req_cpu == 1000
    cache.add_node(make_node("late-node", cpu="2"))
    assert [n.name for n in cache.node_list()] == ["late-node"] and cache.nodes["late-node"].alloc_cpu == 2000
    cache.remove_node("late-node")
    assert cache.node_list() == [] and "late-node" in cache.nodes  # still holds a pod
    cache.remove_pod("early")
    assert "late-node" not in cache.nodes


def test_label_index_finds_pods_by_selector_and_namespace() -> None:
    cache = SchedulerCache()
    for name, namespace, labels in (("a", "x", {"app": "web", "tier": "1"}), ("b", "x", {"app": "db"}),
                                    ("c", "y", {"app": "web"}), ("d", "y", {})):
        cache.add_pod(PodInfo(make_pod(name, namespace=namespace, labels=labels, node="n", uid=name)))

    def names(selector: str, namespaces: tuple[str, ...] | None) -> list[str]:
        return sorted(p.name for p in cache.pods_matching(parse_label_selector(selector), namespaces))

    assert names("app=web", None) == ["a", "c"]
    assert names("app=web", ("x",)) == ["a"]
    assert names("app in (web,db),tier", None) == ["a"]
    assert names("app!=web", ("y",)) == ["d"]
    assert names("", ("x",)) == ["a", "b"]
    cache.remove_pod("a")
    assert names("app=web", None) == ["c"]


def test_affinity_terms_are_counted_per_domain_and_shared_between_replicas() -> None:
    cache = SchedulerCache()
    for name, zone in (("n0", "a"), ("n1", "b")):
        cache.add_node(make_node(name, labels={"zone": zone}))
    for i in range(3):
        cache.add_pod(PodInfo(make_pod(f"r{i}", labels={"app": "r"}, node=f"n{i % 2}", uid=f"r{i}",
                                       affinity=anti_affinity({"app": "r"}, "zone"))))
    (term, pairs), = list(cache.required_anti_affinity.items())
    assert dict(pairs) == {("zone", "a"): 2, ("zone", "b"): 1}
    relabelled = make_node("n1", labels={"zone": "a"})
    cache.add_node(relabelled)  # the node moved to zone a: its pods' terms are counted there now
    assert dict(next(iter(cache.required_anti_affinity.items()))[1]) == {("zone", "a"): 3}
    for i in range(3):
        cache.remove_pod(f"r{i}")
    assert not cache.required_anti_affinity


def test_match_counts_follow_pods_as_they_come_and_go() -> None:
    cache = SchedulerCache()
    for name, zone in (("n0", "a"), ("n1", "b")):
        cache.add_node(make_node(name, labels={"zone": zone}))
    cache.add_pod(PodInfo(make_pod("w0", labels={"app": "web"}, node="n0", uid="w0")))
    term = PodInfo(make_pod("x", affinity=anti_affinity({"app": "web"}, "zone"))).required_anti_affinity_terms[0]
    counts = cache.match_counts(term)
    assert dict(counts) == {("zone", "a"): 1}
    cache.assume(PodInfo(make_pod("w1", labels={"app": "web"}, uid="w1")), "n1")
    cache.add_pod(PodInfo(make_pod("other", labels={"app": "db"}, node="n1", uid="other")))
    assert dict(cache.match_counts(term)) == {("zone", "a"): 1, ("zone", "b"): 1}
    cache.forget("w1")
    cache.remove_pod("w0")
    assert dict(cache.match_counts(term)) == {}
    cache.add_node(make_node("n0", labels={"zone": "c"}))  # relabelling drops the views; they are rebuilt
    cache.add_pod(PodInfo(make_pod("w2", labels={"app": "web"}, node="n0", uid="w2")))
    assert dict(cache.match_counts(term)) == {("zone", "c"): 1}


def test_heartbeats_are_not_changes_but_labels_taints_and_capacity_are() -> None:
    node = make_node("a")
    node["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-11-22T10:00:00Z"
    beat = copy.deepcopy(node)
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-11-22T10:00:10Z"
    assert node_change(node, beat) == ClusterEvent(0)
    labelled = copy.deepcopy(node)
    labelled["metadata"]["labels"]["zone"] = "z"
    assert node_change(node, labelled) == ClusterEvent.NODE_LABEL
    cordoned = copy.deepcopy(node)
    cordoned["spec"]["unschedulable"] = True
    assert node_change(node, cordoned) == ClusterEvent.NODE_TAINT
    grown = copy.deepcopy(node)
    grown["status"]["allocatable"]["cpu"] = "8"
    assert node_change(node, grown) == ClusterEvent.NODE_ALLOCATABLE
    not_ready = copy.deepcopy(node)
    not_ready["status"]["conditions"][0]["status"] = "False"
    assert node_change(node, not_ready) == ClusterEvent.NODE_CONDITION


def test_assigned_pod_changes_that_matter() -> None:
    before = PodInfo(make_pod("p", node="a", labels={"app": "x"}, uid="p"))
    status_only = make_pod("p", node="a", labels={"app": "x"}, uid="p")
    status_only["status"]["phase"] = "Running"
    assert assigned_pod_change(before, PodInfo(status_only)) == ClusterEvent(0)
    relabelled = PodInfo(make_pod("p", node="a", labels={"app": "y"}, uid="p"))
    assert assigned_pod_change(before, relabelled) == ClusterEvent.ASSIGNED_POD_UPDATE
