"""PodTopologySpread: maxSkew filtering by zone and by node, missing topology labels, minDomains, node inclusion
policies, matchLabelKeys, and ScheduleAnyway scoring — the examples of "Pod Topology Spread Constraints"."""

from __future__ import annotations

from provisioner.services.scheduler.framework import Code

from .builders import HOSTNAME, ZONE, Cluster, make_node, make_pod

CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"


def constraint(key: str = ZONE, max_skew: int = 1, when: str = "DoNotSchedule", **extra: object) -> dict:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"foo": "bar"}}, **extra}


def documentation_cluster(*extra_nodes: dict) -> Cluster:
    """Four nodes in two zones with three foo=bar pods: two in zoneA, one in zoneB (the documentation's figure)."""
    nodes = [make_node("node1", labels={ZONE: "zoneA"}), make_node("node2", labels={ZONE: "zoneA"}),
             make_node("node3", labels={ZONE: "zoneB"}), make_node("node4", labels={ZONE: "zoneB"}), *extra_nodes]
    pods = [make_pod("p1", node="node1", labels={"foo": "bar"}), make_pod("p2", node="node2", labels={"foo": "bar"}),
            make_pod("p3", node="node3", labels={"foo": "bar"})]
    return Cluster(nodes, pods)


def test_max_skew_by_zone_sends_the_pod_to_the_emptier_zone() -> None:
    cluster = documentation_cluster()
    pod = make_pod("mypod", labels={"foo": "bar"}, spread=[constraint()])
    assert cluster.feasible("PodTopologySpread", pod) == ["node3", "node4"]
    status = cluster.filter("PodTopologySpread", pod, "node1")
    assert status is not None and status.reasons == (CONSTRAINTS,) and status.code == Code.UNSCHEDULABLE
    # maxSkew 2 tolerates 3 vs 1
    loose = make_pod("mypod", labels={"foo": "bar"}, spread=[constraint(max_skew=2)])
    assert cluster.feasible("PodTopologySpread", loose) == ["node1", "node2", "node3", "node4"]


def test_two_constraints_zone_and_node_together() -> None:
    cluster = documentation_cluster()
    pod = make_pod("mypod", labels={"foo": "bar"}, spread=[constraint(), constraint(HOSTNAME)])
    assert cluster.feasible("PodTopologySpread", pod) == ["node4"]


def test_nodes_without_the_topology_key_are_out_unresolvably() -> None:
    cluster = documentation_cluster(make_node("unlabelled"))
    pod = make_pod("mypod", labels={"foo": "bar"}, spread=[constraint()])
    status = cluster.filter("PodTopologySpread", pod, "unlabelled")
    assert status is not None and status.reasons == (MISSING_LABEL,)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_pods_that_do_not_match_their_own_selector_do_not_add_to_the_skew() -> None:
    cluster = documentation_cluster()
    other = make_pod("other", labels={"foo": "baz"}, spread=[constraint()])
    assert cluster.feasible("PodTopologySpread", other) == ["node1", "node2", "node3", "node4"]


def test_min_domains_counts_missing_domains_as_empty() -> None:
    cluster = Cluster([make_node("a1", labels={ZONE: "A"}), make_node("b1", labels={ZONE: "B"})],
                      [make_pod("p1", node="a1", labels={"foo": "bar"}), make_pod("p2", node="b1", labels={"foo": "bar"})])
    pod = make_pod("p", labels={"foo": "bar"}, spread=[constraint()])
    assert cluster.feasible("PodTopologySpread", pod) == ["a1", "b1"]
    # Three zones wanted, two exist: the global minimum is 0, so 1 + 1 − 0 > 1 everywhere.
    wants_three = make_pod("p", labels={"foo": "bar"}, spread=[constraint(minDomains=3)])
    assert cluster.feasible("PodTopologySpread", wants_three) == []


def test_node_affinity_policy_decides_which_domains_count() -> None:
    """zoneC has no matching pod but the pod may not go there (nodeSelector): honoured by default, so zoneC's 0 is
    not the minimum; with nodeAffinityPolicy Ignore it is."""
    cluster = Cluster([make_node("a", labels={ZONE: "A", "ok": "yes"}), make_node("b", labels={ZONE: "B", "ok": "yes"}),
                       make_node("c", labels={ZONE: "C"})],
                      [make_pod("p1", node="a", labels={"foo": "bar"}), make_pod("p2", node="a", labels={"foo": "bar"}),
                       make_pod("p3", node="b", labels={"foo": "bar"})])
    honour = make_pod("p", labels={"foo": "bar"}, node_selector={"ok": "yes"}, spread=[constraint()])
    assert cluster.feasible("PodTopologySpread", honour) == ["b", "c"]
    ignore = make_pod("p", labels={"foo": "bar"}, node_selector={"ok": "yes"},
                      spread=[constraint(nodeAffinityPolicy="Ignore")])
    assert cluster.feasible("PodTopologySpread", ignore) == ["c"]


def test_node_taints_policy_honour_leaves_out_untolerated_domains() -> None:
    taint = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
    cluster = Cluster([make_node("a", labels={ZONE: "A"}), make_node("b", labels={ZONE: "B"}),
                       make_node("c", labels={ZONE: "C"}, taints=taint)],
                      [make_pod("p1", node="a", labels={"foo": "bar"}), make_pod("p2", node="b", labels={"foo": "bar"})])
    ignore = make_pod("p", labels={"foo": "bar"}, spread=[constraint()])
    assert cluster.feasible("PodTopologySpread", ignore) == ["c"]  # the tainted zone's 0 is the minimum
    honour = make_pod("p", labels={"foo": "bar"}, spread=[constraint(nodeTaintsPolicy="Honor")])
    assert cluster.feasible("PodTopologySpread", honour) == ["a", "b", "c"]


def test_match_label_keys_spread_each_revision_separately() -> None:
    cluster = Cluster([make_node("a", labels={ZONE: "A"}), make_node("b", labels={ZONE: "B"})],
                      [make_pod("old1", node="a", labels={"foo": "bar", "pod-template-hash": "v1"}),
                       make_pod("old2", node="a", labels={"foo": "bar", "pod-template-hash": "v1"})])
    spread = [constraint(matchLabelKeys=["pod-template-hash"])]
    new_revision = make_pod("new", labels={"foo": "bar", "pod-template-hash": "v2"}, spread=spread)
    assert cluster.feasible("PodTopologySpread", new_revision) == ["a", "b"]
    old_revision = make_pod("old3", labels={"foo": "bar", "pod-template-hash": "v1"}, spread=spread)
    assert cluster.feasible("PodTopologySpread", old_revision) == ["b"]


def test_terminating_pods_do_not_count() -> None:
    leaving = make_pod("leaving", node="a", labels={"foo": "bar"})
    leaving["metadata"]["deletionTimestamp"] = "2026-11-22T10:00:00Z"
    cluster = Cluster([make_node("a", labels={ZONE: "A"}), make_node("b", labels={ZONE: "B"})],
                      [leaving, make_pod("staying", node="b", labels={"foo": "bar"})])
    pod = make_pod("p", labels={"foo": "bar"}, spread=[constraint()])
    # A counts 0 (its pod is leaving), B counts 1: only A keeps the skew within 1.
    assert cluster.feasible("PodTopologySpread", pod) == ["a"]


def test_schedule_anyway_scores_emptier_domains_higher() -> None:
    cluster = documentation_cluster()
    pod = make_pod("p", labels={"foo": "bar"}, spread=[constraint(when="ScheduleAnyway")])
    assert cluster.feasible("PodTopologySpread", pod) == ["node1", "node2", "node3", "node4"]
    # zone counts: A = 2, B = 1; weight log(2 + 2); raw A = round(2 × 1.386) = 3, B = round(1.386) = 1
    assert cluster.scores("PodTopologySpread", pod) == {"node1": 33, "node2": 33, "node3": 100, "node4": 100}
    assert cluster.schedule(pod) in ("node3", "node4")


def test_spreading_three_replicas_over_three_zones() -> None:
    cluster = Cluster([make_node(f"{zone}{i}", labels={ZONE: zone}) for zone in "abc" for i in range(2)])
    zones = []
    for i in range(6):
        pod = make_pod(f"web-{i}", labels={"foo": "bar"}, spread=[constraint()])
        zones.append(cluster.node(cluster.schedule(pod)).labels[ZONE])
    assert sorted(zones) == ["a", "a", "b", "b", "c", "c"]
