"""Per-node plugins on in-memory nodes and pods: NodeUnschedulable, NodeName, NodePorts, NodeResourcesFit (and the
pod request arithmetic it relies on), LeastAllocated, BalancedAllocation, ImageLocality."""

from __future__ import annotations

import pytest

from provisioner.services.api import podresources
from provisioner.services.scheduler.framework import Code
from provisioner.services.scheduler.nodeinfo import normalized_image_name
from provisioner.services.scheduler.plugins.imagelocality import MB, image_score

from .builders import Cluster, make_node, make_pod

GI = 1024**3


# ------------------------------------------------------------------------------------------ pod requests
def test_requests_take_the_larger_of_init_peak_and_running_containers() -> None:
    pod = make_pod("p", cpu="500m", memory="1Gi", init_containers=[
        {"name": "migrate", "image": "x", "resources": {"requests": {"cpu": "2", "memory": "64Mi"}}}])
    assert podresources.pod_requests(pod) == {"cpu": 2000, "memory": GI}


def test_sidecars_run_with_the_containers_and_with_later_init_containers() -> None:
    pod = make_pod("p", cpu="1", init_containers=[
        {"name": "proxy", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}},
        {"name": "setup", "image": "x", "resources": {"requests": {"cpu": "1200m"}}}])
    # running: 1 + 0.3 sidecar = 1.3; init peak: setup 1.2 next to the sidecar 0.3 = 1.5
    assert podresources.pod_requests(pod)["cpu"] == 1500


def test_overhead_is_added_and_pod_level_requests_replace_container_totals() -> None:
    pod = make_pod("p", cpu="1", memory="1Gi", overhead={"cpu": "250m", "memory": "120Mi"})
    assert podresources.pod_requests(pod) == {"cpu": 1250, "memory": GI + 120 * 1024**2}
    pod["spec"]["resources"] = {"requests": {"cpu": "3"}}
    assert podresources.pod_requests(pod)["cpu"] == 3250


def test_non_zero_requests_fill_in_defaults_per_container() -> None:
    pod = make_pod("p", memory="1Gi")
    assert podresources.pod_requests(pod) == {"memory": GI}
    assert podresources.pod_requests(pod, non_missing=True) == {"cpu": 100, "memory": GI}
    assert podresources.pod_requests(make_pod("q"), non_missing=True) == {"cpu": 100, "memory": 200 * 1024**2}


# ------------------------------------------------------------------------------------------------- fit
def test_fit_reports_every_insufficient_resource_in_kubernetes_order() -> None:
    cluster = Cluster([make_node("small", cpu="1", memory="1Gi", pods=1)],
                      [make_pod("running", node="small", cpu="500m", memory="512Mi")])
    status = cluster.filter("NodeResourcesFit", make_pod("p", cpu="600m", memory="600Mi"), "small")
    assert status is not None and status.code == Code.UNSCHEDULABLE
    assert status.reasons == ("Too many pods", "Insufficient cpu", "Insufficient memory")


def test_fit_counts_extended_resources_and_ephemeral_storage() -> None:
    node = make_node("gpu", extra={"example.com/gpu": "2", "ephemeral-storage": "10Gi"})
    cluster = Cluster([node], [make_pod("a", node="gpu", requests={"example.com/gpu": "1"})])
    assert cluster.filter("NodeResourcesFit", make_pod("p", requests={"example.com/gpu": "1"}), "gpu") is None
    status = cluster.filter("NodeResourcesFit", make_pod("p", requests={"example.com/gpu": "2",
                                                                     "ephemeral-storage": "20Gi"}), "gpu")
    assert status is not None
    assert status.reasons == ("Insufficient ephemeral-storage", "Insufficient example.com/gpu")


def test_fit_uses_the_init_container_rule() -> None:
    cluster = Cluster([make_node("n", cpu="2")])
    small_running_big_init = make_pod("p", cpu="100m", init_containers=[
        {"name": "init", "image": "x", "resources": {"requests": {"cpu": "3"}}}])
    status = cluster.filter("NodeResourcesFit", small_running_big_init, "n")
    assert status is not None and status.reasons == ("Insufficient cpu",)


def test_assumed_pods_count_against_the_node() -> None:
    cluster = Cluster([make_node("n", cpu="1")])
    first = make_pod("first", cpu="600m")
    assert cluster.schedule(first) == "n"
    assert cluster.filter("NodeResourcesFit", make_pod("second", cpu="600m"), "n") is not None
    cluster.cache.forget(first["metadata"]["uid"])  # the binding failed: the room is free again
    assert cluster.filter("NodeResourcesFit", make_pod("second", cpu="600m"), "n") is None


def test_least_allocated_prefers_the_emptier_node() -> None:
    cluster = Cluster([make_node("busy", cpu="4", memory="8Gi"), make_node("idle", cpu="4", memory="8Gi")],
                      [make_pod("x", node="busy", cpu="3", memory="6Gi")])
    scores = cluster.scores("NodeResourcesFit", make_pod("p", cpu="1", memory="2Gi"))
    # idle: (4-1)/4 → 75 cpu, (8-2)/8 → 75 memory; busy: 0 and 0
    assert scores == {"busy": 0, "idle": 75}


def test_balanced_allocation_prefers_even_use_of_cpu_and_memory() -> None:
    cluster = Cluster([make_node("cpu-heavy"), make_node("even")],
                      [make_pod("x", node="cpu-heavy", cpu="3", memory="1Gi"), make_pod("y", node="even", cpu="1", memory="2Gi")])
    scores = cluster.scores("NodeResourcesBalancedAllocation", make_pod("p", cpu="1", memory="2Gi"))
    # cpu-heavy: 4/4 vs 3/8 → std 0.3125 → 68; even: 2/4 vs 4/8 → 100
    assert scores == {"cpu-heavy": 68, "even": 100}
    assert cluster.scores("NodeResourcesBalancedAllocation", make_pod("besteffort")) == {}


# ------------------------------------------------------------------------------------------- the others
def test_cordoned_nodes_take_only_pods_tolerating_the_unschedulable_taint() -> None:
    cluster = Cluster([make_node("cordoned", unschedulable=True), make_node("open")])
    assert cluster.feasible("NodeUnschedulable", make_pod("p")) == ["open"]
    status = cluster.filter("NodeUnschedulable", make_pod("p"), "cordoned")
    assert status is not None and status.reasons == ("node(s) were unschedulable",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    daemon = make_pod("ds", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                          "effect": "NoSchedule"}])
    assert cluster.feasible("NodeUnschedulable", daemon) == ["cordoned", "open"]


def test_node_name() -> None:
    cluster = Cluster([make_node("a"), make_node("b")])
    assert cluster.feasible("NodeName", make_pod("p")) == ["a", "b"]
    pinned = make_pod("p")
    pinned["spec"]["nodeName"] = "b"
    assert cluster.feasible("NodeName", pinned) == ["b"]
    status = cluster.filter("NodeName", pinned, "a")
    assert status is not None and status.reasons == ("node(s) didn't match the requested node name",)


def test_host_ports_conflict_by_protocol_port_and_address() -> None:
    cluster = Cluster([make_node("a"), make_node("b")], [make_pod("web", node="a", host_ports=[8080])])
    assert cluster.feasible("NodePorts", make_pod("p", host_ports=[8080])) == ["b"]
    assert cluster.feasible("NodePorts", make_pod("p", host_ports=[9090])) == ["a", "b"]
    udp = make_pod("p")
    udp["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": 8080, "protocol": "UDP"}]
    assert cluster.feasible("NodePorts", udp) == ["a", "b"]
    specific = make_pod("p")
    specific["spec"]["containers"][0]["ports"] = [{"containerPort": 1, "hostPort": 8080, "hostIP": "10.0.0.1"}]
    assert cluster.feasible("NodePorts", specific) == ["b"]  # 0.0.0.0:8080 on a covers every address
    status = cluster.filter("NodePorts", make_pod("p", host_ports=[8080]), "a")
    assert status is not None and status.reasons == ("node(s) didn't have free ports for the requested pod ports",)


@pytest.mark.parametrize(("name", "normalized"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest"),
    ("registry.local:5000/app", "registry.local:5000/app:latest"),
    ("localhost/app:v1", "localhost/app:v1"),
    ("nginx@sha256:abc", "nginx@sha256:abc"),
])
def test_image_names_are_normalized(name: str, normalized: str) -> None:
    assert normalized_image_name(name) == normalized


def test_image_locality_prefers_nodes_holding_big_images_scaled_by_spread() -> None:
    big = [{"names": ["docker.io/library/app:v1"], "sizeBytes": 500 * MB}]
    cluster = Cluster([make_node("has", images=big), make_node("lacks"), make_node("other")])
    scores = cluster.scores("ImageLocality", make_pod("p", image="app:v1"))
    # 500 MB on 1 of 3 nodes → 166 MB scaled; (166 − 23) / (1000 − 23) of 100
    assert scores == {"has": image_score(500 * MB // 3, 1), "lacks": 0, "other": 0}
    assert scores["has"] == 14
    assert cluster.scores("ImageLocality", make_pod("p", image="absent:v1")) == {}
