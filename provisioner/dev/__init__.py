"""A development control plane as local processes under one directory (`provision dev …`)."""

from provisioner.dev.cluster import (
    READY_TIMEOUT_SECONDS,
    STOP_TIMEOUT_SECONDS,
    ComponentStatus,
    DevCluster,
    DownResult,
    StoppedComponent,
    down,
    status,
    up,
)
from provisioner.dev.components import (
    APISERVER,
    CONTROLLER_MANAGER,
    DEFAULT_COMPONENTS,
    SCHEDULER,
    Component,
    LaunchContext,
    controller_manager,
    simulated_nodes,
)
from provisioner.dev.layout import DevPaths

__all__ = [
    "APISERVER",
    "CONTROLLER_MANAGER",
    "DEFAULT_COMPONENTS",
    "READY_TIMEOUT_SECONDS",
    "SCHEDULER",
    "STOP_TIMEOUT_SECONDS",
    "Component",
    "ComponentStatus",
    "DevCluster",
    "DevPaths",
    "DownResult",
    "LaunchContext",
    "StoppedComponent",
    "controller_manager",
    "down",
    "simulated_nodes",
    "status",
    "up",
]
