"""ImageLocality: prefer nodes that already hold the pod's images, scaled by how widely each image is spread (an
image on every node says little about this one), between 23 MB and 1000 MB per container."""

from __future__ import annotations

from collections.abc import Sequence

from provisioner.services.scheduler.cache import SchedulerCache
from provisioner.services.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Status
from provisioner.services.scheduler.nodeinfo import NodeInfo, normalized_image_name
from provisioner.services.scheduler.podinfo import PodInfo

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def image_score(sum_scores: int, containers: int) -> int:
    """calculatePriority: the summed scaled image sizes clamped to [23 MB, 1000 MB × containers] → 0–100."""
    max_threshold = MAX_CONTAINER_THRESHOLD * max(containers, 1)
    clamped = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME

    def __init__(self, cache: SchedulerCache) -> None:
        self.cache = cache

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        images = tuple(normalized_image_name(image) for image in pod.images)
        if not any(self.cache.nodes_with_image(image) for image in images):
            return SKIP  # no node has any of them: every node would score 0
        state.write(NAME, images)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images: tuple[str, ...] = state.read(NAME)
        total_nodes = max(len(self.cache.node_list()), 1)
        scaled = 0
        for image in images:
            size = node.images.get(image)
            if size:
                scaled += int(size * self.cache.nodes_with_image(image) / total_nodes)
        return image_score(scaled, len(pod.images))
