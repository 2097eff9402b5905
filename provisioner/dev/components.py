"""The processes a dev cluster runs, as data: one Component entry per service, started in list order."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from provisioner.dev.layout import DevPaths

LOOPBACK = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/12"
SERVICE_NODE_PORT_RANGE = "30000-32767"
CLUSTER_CIDR = "10.244.0.0/16"  # pod addresses; node-ipam gives each node a /24 of it
# The control loops' plain-HTTP /healthz on a free port (each logs it): several dev clusters, and a second
# controller-manager in tests, share this host, so the fixed upstream ports would clash.
HEALTHZ_ANY_PORT = f"--healthz-bind-address={LOOPBACK}:0"
# Client identities of the control loops: their certificate and kubeconfig files are named after them.
SCHEDULER_NAME = "scheduler"
CONTROLLER_MANAGER_NAME = "controller-manager"
SIMNODES_NAME = "simnodes"


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


def no_health_check(ctx: LaunchContext) -> None:
    """The control loops' health endpoints are on ports only their logs name (and plain HTTP, where the probe
    speaks TLS): `dev status` reports them as running or not."""
    return None


APISERVER = Component("apiserver", apiserver_command, apiserver_readyz)


def scheduler_command(ctx: LaunchContext) -> list[str]:
    return [sys.executable, "-m", "provisioner.services.scheduler.main",
            "--kubeconfig", str(ctx.paths.kubeconfig(SCHEDULER_NAME)), HEALTHZ_ANY_PORT]


SCHEDULER = Component(SCHEDULER_NAME, scheduler_command, no_health_check)


def controller_manager(extra_args: Sequence[str] = ()) -> Component:
    """The controller-manager, signing CSRs with the dev CA; ``extra_args`` e.g. shorten node timeouts."""

    def command(ctx: LaunchContext) -> list[str]:
        p = ctx.paths
        return [
            sys.executable, "-m", "provisioner.services.controllers.main",
            "--kubeconfig", str(p.kubeconfig(CONTROLLER_MANAGER_NAME)),
            "--cluster-signing-cert-file", str(p.ca_cert),
            "--cluster-signing-key-file", str(p.ca_key),
            "--cluster-cidr", CLUSTER_CIDR,
            HEALTHZ_ANY_PORT,
            *extra_args,
        ]  # fmt: skip

    return Component(CONTROLLER_MANAGER_NAME, command, no_health_check)


CONTROLLER_MANAGER = controller_manager()


def simulated_nodes(count: int, extra_args: Sequence[str] = ()) -> Component:
    """``count`` simulated nodes (simnode-0 …) in one process; DIR/stopped-nodes silences chosen ones."""

    def command(ctx: LaunchContext) -> list[str]:
        p = ctx.paths
        return [
            sys.executable, "-m", "provisioner.services.simnodes.main",
            "--kubeconfig", str(p.kubeconfig(SIMNODES_NAME)),
            "--count", str(count),
            "--stopped-nodes-file", str(p.stopped_nodes_file),
            *extra_args,
        ]  # fmt: skip

    return Component(SIMNODES_NAME, command, no_health_check)


# What `provision dev up` runs: the apiserver first (the others wait for nothing but need it to be useful).
DEFAULT_COMPONENTS: tuple[Component, ...] = (APISERVER, SCHEDULER, CONTROLLER_MANAGER)
