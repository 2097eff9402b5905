"""Mutating admission on create: default toleration seconds for pods (DefaultTolerationSeconds)."""

from __future__ import annotations

from provisioner.services.apiserver.admission import add_default_toleration_seconds


def _pod(tolerations: list[dict] | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "i"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"spec": spec}


def test_pods_tolerate_not_ready_and_unreachable_for_300_seconds() -> None:
    pod = _pod()
    add_default_toleration_seconds(pod)
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]


def test_a_pod_that_says_how_long_it_tolerates_keeps_its_own() -> None:
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 5}
    pod = _pod([own])
    add_default_toleration_seconds(pod)
    keys = [(t["key"], t.get("tolerationSeconds")) for t in pod["spec"]["tolerations"]]
    assert keys == [("node.kubernetes.io/unreachable", 5), ("node.kubernetes.io/not-ready", 300)]


def test_tolerate_everything_needs_no_defaults() -> None:
    pod = _pod([{"operator": "Exists"}])
    add_default_toleration_seconds(pod)
    assert pod["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_a_no_schedule_toleration_does_not_count() -> None:
    pod = _pod([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}])
    add_default_toleration_seconds(pod)
    assert len(pod["spec"]["tolerations"]) == 3
