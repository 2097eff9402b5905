"""InterPodAffinity with the examples of the Kubernetes documentation ("Assigning Pods to Nodes": the security=S1/S2
zone example and the web-store/redis-cache co-location), symmetry of existing pods' anti-affinity, namespaces and
namespaceSelector, the self-affinity rule for the first pod of a group, and scoring."""

from __future__ import annotations

import pytest

from provisioner.services.scheduler.algorithm import FitError
from provisioner.services.scheduler.framework import Code

from .builders import HOSTNAME, ZONE, Cluster, anti_affinity, make_node, make_pod

AFFINITY_RULES = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_RULES = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"


def zone_nodes() -> list[dict]:
    return [make_node("v1", labels={ZONE: "V"}), make_node("v2", labels={ZONE: "V"}),
            make_node("w1", labels={ZONE: "W"}), make_node("x1", labels={ZONE: "X"})]


def test_the_documentation_zone_example() -> None:
    """Required affinity to zones with security=S1 pods; preferred anti-affinity to zones with security=S2."""
    cluster = Cluster(zone_nodes(), [
        make_pod("s1-in-v", node="v1", labels={"security": "S1"}),
        make_pod("s1-in-w", node="w1", labels={"security": "S1"}),
        make_pod("s2-in-v", node="v2", labels={"security": "S2"}),
    ])
    affinity = {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchExpressions": [{"key": "security", "operator": "In", "values": ["S1"]}]},
            "topologyKey": ZONE}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchExpressions": [{"key": "security", "operator": "In", "values": ["S2"]}]},
            "topologyKey": ZONE}}]},
    }
    pod = make_pod("with-pod-affinity", affinity=affinity)
    assert cluster.feasible("InterPodAffinity", pod) == ["v1", "v2", "w1"]  # zone X has no S1 pod
    status = cluster.filter("InterPodAffinity", pod, "x1")
    assert status is not None and status.reasons == (AFFINITY_RULES,)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert cluster.scores("InterPodAffinity", pod, ["v1", "v2", "w1"]) == {"v1": 0, "v2": 0, "w1": 100}
    assert cluster.schedule(pod) == "w1"


def test_web_store_and_redis_cache_are_co_located_one_pair_per_node() -> None:
    """The documentation's three-node example: redis-cache replicas avoid each other; web-store replicas avoid
    each other and want a redis-cache on the same node."""
    cluster = Cluster([make_node(f"node-{i}") for i in range(1, 4)])
    redis_affinity = anti_affinity({"app": "store"})
    web_affinity = {**anti_affinity({"app": "web-store"}), "podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["store"]}]}, "topologyKey": HOSTNAME}]}}
    placed: dict[str, list[str]] = {}
    for i in range(3):
        node = cluster.schedule(make_pod(f"redis-cache-{i}", labels={"app": "store"}, affinity=redis_affinity))
        placed.setdefault(node, []).append("redis")
    assert sorted(placed) == ["node-1", "node-2", "node-3"]
    for i in range(3):
        node = cluster.schedule(make_pod(f"web-server-{i}", labels={"app": "web-store"}, affinity=web_affinity))
        placed[node].append("web")
    assert all(sorted(kinds) == ["redis", "web"] for kinds in placed.values())
    with pytest.raises(FitError) as caught:
        cluster.schedule(make_pod("web-server-3", labels={"app": "web-store"}, affinity=web_affinity))
    assert str(caught.value) == (
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")


def test_existing_pods_anti_affinity_keeps_newcomers_away() -> None:
    cluster = Cluster([make_node("a"), make_node("b")],
                      [make_pod("loner", node="a", labels={"app": "loner"}, affinity=anti_affinity({"app": "noisy"}))])
    noisy = make_pod("noisy", labels={"app": "noisy"})
    assert cluster.feasible("InterPodAffinity", noisy) == ["b"]
    status = cluster.filter("InterPodAffinity", noisy, "a")
    assert status is not None and status.reasons == (EXISTING_ANTI_AFFINITY,)
    assert status.code == Code.UNSCHEDULABLE
    assert cluster.feasible("InterPodAffinity", make_pod("quiet", labels={"app": "quiet"})) == ["a", "b"]


def test_anti_affinity_by_zone_spans_every_node_of_the_zone() -> None:
    cluster = Cluster(zone_nodes(), [make_pod("db-0", node="v1", labels={"app": "db"})])
    pod = make_pod("db-1", labels={"app": "db"}, affinity=anti_affinity({"app": "db"}, ZONE))
    assert cluster.feasible("InterPodAffinity", pod) == ["w1", "x1"]
    status = cluster.filter("InterPodAffinity", pod, "v2")
    assert status is not None and status.reasons == (ANTI_AFFINITY_RULES,)


def test_terms_look_at_their_namespaces_only() -> None:
    cluster = Cluster(
        [make_node("a"), make_node("b"), make_node("c")],
        [make_pod("db", namespace="prod", node="a", labels={"app": "db"}),
         make_pod("db", namespace="dev", node="b", labels={"app": "db"})],
        namespaces={"default": {}, "prod": {"env": "prod"}, "dev": {"env": "dev"}})
    same_namespace = make_pod("p", affinity=anti_affinity({"app": "db"}))  # default namespace: no db there
    assert cluster.feasible("InterPodAffinity", same_namespace) == ["a", "b", "c"]
    named = make_pod("p", affinity=anti_affinity({"app": "db"}, namespaces=["prod"]))
    assert cluster.feasible("InterPodAffinity", named) == ["b", "c"]
    by_selector = make_pod("p", affinity=anti_affinity({"app": "db"}, namespaceSelector={"matchLabels": {"env": "dev"}}))
    assert cluster.feasible("InterPodAffinity", by_selector) == ["a", "c"]
    everywhere = make_pod("p", affinity=anti_affinity({"app": "db"}, namespaceSelector={}))
    assert cluster.feasible("InterPodAffinity", everywhere) == ["c"]


def test_existing_terms_with_a_namespace_selector_match_by_the_newcomers_namespace_labels() -> None:
    cluster = Cluster([make_node("a"), make_node("b")],
                      [make_pod("guard", node="a", affinity=anti_affinity(
                          {"app": "web"}, namespaceSelector={"matchLabels": {"team": "red"}}))],
                      namespaces={"default": {}, "red": {"team": "red"}, "blue": {"team": "blue"}})
    assert cluster.feasible("InterPodAffinity", make_pod("w", namespace="red", labels={"app": "web"})) == ["b"]
    assert cluster.feasible("InterPodAffinity", make_pod("w", namespace="blue", labels={"app": "web"})) == ["a", "b"]


def test_the_first_pod_of_a_self_affine_group_may_go_anywhere() -> None:
    cluster = Cluster(zone_nodes())
    together = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": ZONE}]}}
    first = make_pod("cache-0", labels={"app": "cache"}, affinity=together)
    assert cluster.feasible("InterPodAffinity", first) == ["v1", "v2", "w1", "x1"]
    placed = cluster.schedule(first)
    zone = cluster.node(placed).labels[ZONE]
    second = make_pod("cache-1", labels={"app": "cache"}, affinity=together)
    assert {cluster.node(n).labels[ZONE] for n in cluster.feasible("InterPodAffinity", second)} == {zone}
    # A pod whose affinity selects labels it does not carry has nothing to start from.
    stranger = make_pod("stranger", affinity=together)
    other = Cluster(zone_nodes())
    assert other.feasible("InterPodAffinity", stranger) == []


def test_preferred_affinity_and_existing_pods_terms_score() -> None:
    cluster = Cluster(
        [make_node("a"), make_node("b"), make_node("c")],
        [make_pod("cache", node="a", labels={"app": "cache"}),
         # an existing pod that would like app=web next to it (weight 10) and one that requires it (weight 1)
         make_pod("fan", node="b", labels={"app": "fan"}, affinity={"podAffinity": {
             "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "podAffinityTerm": {
                 "labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": HOSTNAME}}]}}),
         make_pod("needy", node="c", labels={"app": "needy"}, affinity={"podAffinity": {
             "requiredDuringSchedulingIgnoredDuringExecution": [{
                 "labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": HOSTNAME}]}})])
    web = make_pod("web", labels={"app": "web"}, affinity={"podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": HOSTNAME}}]}})
    # raw: a = 5 (its own preference), b = 10 (fan's preference), c = 1 (needy's hard affinity)
    assert cluster.scores("InterPodAffinity", web) == {"a": 44, "b": 100, "c": 0}
    plain = make_pod("plain", labels={"app": "other"})
    assert cluster.scores("InterPodAffinity", plain) == {}  # nothing relates to it: skipped
