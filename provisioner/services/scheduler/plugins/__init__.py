"""The in-tree plugins and the default profile, in kube-scheduler's order and with its score weights."""

from __future__ import annotations

from provisioner.services.scheduler.cache import SchedulerCache
from provisioner.services.scheduler.framework import Profile, Weighted
from provisioner.services.scheduler.plugins.defaultpreemption import DefaultPreemption
from provisioner.services.scheduler.plugins.imagelocality import ImageLocality
from provisioner.services.scheduler.plugins.interpodaffinity import InterPodAffinity
from provisioner.services.scheduler.plugins.nodeaffinity import NodeAffinity
from provisioner.services.scheduler.plugins.nodename import NodeName
from provisioner.services.scheduler.plugins.nodeports import NodePorts
from provisioner.services.scheduler.plugins.noderesources import BalancedAllocation, Fit
from provisioner.services.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from provisioner.services.scheduler.plugins.podtopologyspread import PodTopologySpread
from provisioner.services.scheduler.plugins.tainttoleration import TaintToleration

DEFAULT_SCHEDULER_NAME = "default-scheduler"


def default_profile(cache: SchedulerCache, scheduler_name: str = DEFAULT_SCHEDULER_NAME,
                    percentage_of_nodes_to_score: int = 0) -> Profile:
    """kube-scheduler's default plugins (volume plugins aside): filter order decides which reason a node that
    fails several checks reports; weights are TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
    InterPodAffinity 2, NodeResourcesFit 1, BalancedAllocation 1, ImageLocality 1."""
    return Profile(
        scheduler_name,
        [
            Weighted(NodeUnschedulable(), 0),
            Weighted(NodeName(), 0),
            Weighted(TaintToleration(), 3),
            Weighted(NodeAffinity(), 2),
            Weighted(NodePorts(), 0),
            Weighted(Fit(), 1),
            Weighted(PodTopologySpread(cache), 2),
            Weighted(InterPodAffinity(cache), 2),
            Weighted(DefaultPreemption(), 0),
            Weighted(BalancedAllocation(), 1),
            Weighted(ImageLocality(cache), 1),
        ],
        percentage_of_nodes_to_score,
    )


__all__ = [
    "DEFAULT_SCHEDULER_NAME",
    "BalancedAllocation",
    "DefaultPreemption",
    "Fit",
    "ImageLocality",
    "InterPodAffinity",
    "NodeAffinity",
    "NodeName",
    "NodePorts",
    "NodeUnschedulable",
    "PodTopologySpread",
    "TaintToleration",
    "default_profile",
]
