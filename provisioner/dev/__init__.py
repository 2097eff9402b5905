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
from provisioner.dev.components import APISERVER, DEFAULT_COMPONENTS, Component, LaunchContext
from provisioner.dev.layout import DevPaths

__all__ = [
    "APISERVER",
    "DEFAULT_COMPONENTS",
    "READY_TIMEOUT_SECONDS",
    "STOP_TIMEOUT_SECONDS",
    "Component",
    "ComponentStatus",
    "DevCluster",
    "DevPaths",
    "DownResult",
    "LaunchContext",
    "StoppedComponent",
    "down",
    "status",
    "up",
]
