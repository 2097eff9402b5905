"""``provision-kubelet``: the kubelet's node side — TLS bootstrap, Node registration, status and Lease heartbeats,
and ``GET /healthz`` (200 once the Node is registered, 503 before).

Exit status: 0 after SIGTERM/SIGINT; 1 when it cannot go on (refused bootstrap credentials, a denied certificate
request, a Node the apiserver will not accept, an unusable kubeconfig, a taken healthz port); 2 for bad flags.
An apiserver that is down or overloaded is waited for, never a reason to exit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from provisioner.services.api.status import ApiError
from provisioner.services.api.version import GIT_VERSION
from provisioner.services.client import (
    ApiClient,
    ClientConfig,
    ConfigError,
    HealthzBindError,
    run_all,
    serve_healthz,
)
from provisioner.services.client.process import until_signalled
from provisioner.services.kubelet import options, sysinfo
from provisioner.services.kubelet.bootstrap import BootstrapError, ensure_client_credentials
from provisioner.services.kubelet.lease import NodeLease
from provisioner.services.kubelet.node_status import NodeSettings, NodeStatusReporter
from provisioner.services.kubelet.runtime import crun

log = logging.getLogger("kubelet")

NOT_REGISTERED = "node not registered yet"


async def serve(args: argparse.Namespace) -> None:
    """Bootstrap, register, then post status and renew the Lease until cancelled."""
    node_ip = args.node_ip or sysinfo.node_ip()
    args.root_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    machine = sysinfo.read_machine(args.root_dir, crun.runtime_version())
    settings = NodeSettings(args.hostname_override, node_ip, args.node_labels, args.register_with_taints)
    user_agent = f"provision-kubelet/{GIT_VERSION} (linux/{machine.architecture})"
    registered = asyncio.Event()
    healthz = (args.healthz_bind_address, args.healthz_port) if args.healthz_port else None
    async with serve_healthz(healthz, lambda: "" if registered.is_set() else NOT_REGISTERED):
        await ensure_client_credentials(args.kubeconfig, args.bootstrap_kubeconfig, args.cert_dir, settings.name,
                                        user_agent)
        config = ClientConfig.from_kubeconfig(args.kubeconfig)
        async with ApiClient(config, user_agent=user_agent) as client:
            reporter = NodeStatusReporter(client, settings, machine, args.node_status_update_frequency, registered)
            await reporter.register()
            lease = NodeLease(client, settings.name, args.node_lease_duration_seconds, lambda: reporter.uid)
            await run_all(reporter.run(), lease.run())


async def run(args: argparse.Namespace) -> int:
    try:
        if await until_signalled(serve(args)):
            log.info("stopped")
            return 0
    except (BootstrapError, ConfigError, HealthzBindError, sysinfo.NodeIPError) as err:
        log.error("%s", err)
    except ApiError as err:  # e.g. 403: these credentials may not register this node
        log.error("apiserver refused: %s %s", err.code, err.message)
    return 1


def main(argv: Sequence[str] | None = None) -> None:
    args = options.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    log.info("provision-kubelet %s for node %s", GIT_VERSION, args.hostname_override)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
