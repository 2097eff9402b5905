"""The processes a dev cluster runs, as data: one Component entry per service, started in list order."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from provisioner.dev.layout import DevPaths

LOOPBACK = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/12"
SERVICE_NODE_PORT_RANGE = "30000-32767"


@dataclass(frozen=True)
class LaunchContext:
    """What a component's command line may refer to."""

    paths: DevPaths
    port: int  # the apiserver's secure port

    @property
    def server_url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class Component:
    name: str
    command: Callable[[LaunchContext], list[str]]
    # An https URL answering 200 once the component is ready, verified against the cluster CA; None: no check.
    health_url: Callable[[LaunchContext], str | None]


def apiserver_command(ctx: LaunchContext) -> list[str]:
    p = ctx.paths
    return [
        sys.executable, "-m", "provisioner.services.apiserver.main",
        "--bind-address", LOOPBACK,
        "--secure-port", str(ctx.port),
        "--tls-cert-file", str(p.apiserver_cert),
        "--tls-private-key-file", str(p.apiserver_key),
        "--client-ca-file", str(p.ca_cert),
        "--storage-url", f"sqlite://{p.apiserver_db}",  # absolute path → sqlite:///abs/state.db (storage.open_backend)
        "--service-cluster-ip-range", SERVICE_CLUSTER_IP_RANGE,
        "--service-node-port-range", SERVICE_NODE_PORT_RANGE,
        "--kubelet-client-certificate", str(p.kubelet_client_cert),
        "--kubelet-client-key", str(p.kubelet_client_key),
        "--kubelet-certificate-authority", str(p.ca_cert),
    ]  # fmt: skip


def apiserver_readyz(ctx: LaunchContext) -> str:
    return f"{ctx.server_url}/readyz"


APISERVER = Component("apiserver", apiserver_command, apiserver_readyz)

DEFAULT_COMPONENTS: tuple[Component, ...] = (APISERVER,)
