"""``provision-controller-manager``: kube-controller-manager's flags around ControllerManager (manager.py).

Exit status: 0 after SIGTERM/SIGINT (controllers stopped, Lease released); 1 when leadership is lost or a
controller fails (systemd restarts the process, which then stands for election again) or the healthz address is
taken; 2 for bad flags. ``GET /healthz`` (plain HTTP on --healthz-bind-address) answers ok while the process runs,
leader or standby.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Mapping

from provisioner.services.client import (
    ApiClient,
    ClientConfig,
    ConfigError,
    HealthzBindError,
    LeaseTiming,
    serve_healthz,
)
from provisioner.services.client.process import bind_address, boolean, duration
from provisioner.services.controllers import registry
from provisioner.services.controllers.base import Controller, ControllerOptions
from provisioner.services.controllers.manager import (
    ControllerLoadError,
    ControllerManager,
    ControllerSelectionError,
    LeaderElection,
    Outcome,
    load_controllers,
    runnable,
    select_controllers,
)

log = logging.getLogger("controller-manager")

JITTER_FACTOR = 1.2
# kube-controller-manager's secure port, served as plain HTTP (see client/healthz.py)
HEALTHZ_BIND_ADDRESS = "127.0.0.1:10257"


def build_parser() -> argparse.ArgumentParser:
    d = ControllerOptions()
    t = LeaseTiming()
    p = argparse.ArgumentParser(prog="provision-controller-manager",
                                description="Run the cluster's controllers (kube-controller-manager).")
    p.add_argument("--kubeconfig", required=True, help="credentials of system:kube-controller-manager")
    p.add_argument("--controllers", default="*", metavar="LIST",
                   help="'*' enables all, 'foo' enables foo, '-foo' disables foo; known: "
                        + ", ".join(registry.CONTROLLERS))
    p.add_argument("--leader-elect", type=boolean, default=True, nargs="?", const=True, metavar="BOOL",
                   help="run only while holding Lease kube-system/kube-controller-manager (default true)")
    p.add_argument("--leader-elect-lease-duration", type=duration, default=t.lease_duration, metavar="DURATION")
    p.add_argument("--leader-elect-renew-deadline", type=duration, default=t.renew_deadline, metavar="DURATION")
    p.add_argument("--leader-elect-retry-period", type=duration, default=t.retry_period, metavar="DURATION")
    p.add_argument("--concurrent-syncs", type=int, default=d.workers, metavar="N",
                   help="reconcile workers per controller")
    p.add_argument("--node-monitor-period", type=duration, default=d.node_monitor_period, metavar="DURATION")
    p.add_argument("--node-monitor-grace-period", type=duration, default=d.node_monitor_grace_period,
                   metavar="DURATION", help="silence after which a node is marked Unknown (default 50s)")
    p.add_argument("--node-startup-grace-period", type=duration, default=d.node_startup_grace_period,
                   metavar="DURATION")
    p.add_argument("--node-eviction-rate", type=float, default=d.node_eviction_rate, metavar="NODES/S")
    p.add_argument("--cluster-cidr", default=d.cluster_cidr, metavar="CIDR")
    p.add_argument("--node-cidr-mask-size", type=int, default=d.node_cidr_mask_size, metavar="BITS")
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=d.terminated_pod_gc_threshold, metavar="N")
    p.add_argument("--cluster-signing-cert-file", default="", metavar="PATH")
    p.add_argument("--cluster-signing-key-file", default="", metavar="PATH")
    p.add_argument("--cluster-signing-duration", type=duration, default=d.cluster_signing_duration,
                   metavar="DURATION")
    p.add_argument("--healthz-bind-address", type=bind_address, default=HEALTHZ_BIND_ADDRESS, metavar="HOST:PORT",
                   help="serve GET /healthz over plain HTTP here; port 0 picks a free port, empty disables it "
                        "(default %(default)s)")
    p.add_argument("-v", "--v", type=int, default=0, dest="verbosity", help="log verbosity (4+: debug)")
    return p


def options_from(args: argparse.Namespace) -> ControllerOptions:
    return ControllerOptions(
        workers=args.concurrent_syncs,
        node_monitor_period=args.node_monitor_period,
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_startup_grace_period=args.node_startup_grace_period,
        node_eviction_rate=args.node_eviction_rate,
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
        terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
        cluster_signing_cert_file=args.cluster_signing_cert_file,
        cluster_signing_key_file=args.cluster_signing_key_file,
        cluster_signing_duration=args.cluster_signing_duration,
    )


def election_timing_problem(args: argparse.Namespace) -> str:
    """client-go's rule: lease duration > renew deadline > retry period × 1.2 (its jitter factor)."""
    if not args.leader_elect:
        return ""
    lease, renew, retry = (args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
                           args.leader_elect_retry_period)
    if not lease > renew:
        return f"--leader-elect-lease-duration ({lease:g}s) must be greater than --leader-elect-renew-deadline " \
               f"({renew:g}s)"
    if not renew > retry * JITTER_FACTOR > 0:
        return f"--leader-elect-renew-deadline ({renew:g}s) must be greater than --leader-elect-retry-period " \
               f"({retry:g}s) × {JITTER_FACTOR:g}"
    return ""


def election_from(args: argparse.Namespace) -> LeaderElection:
    timing = LeaseTiming(args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
                         args.leader_elect_retry_period)
    return LeaderElection(enabled=args.leader_elect, timing=timing)


async def serve(args: argparse.Namespace, config: ClientConfig,
                manager_classes: Mapping[str, type[Controller]]) -> Outcome:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with ApiClient(config, user_agent="provision-controller-manager") as client, \
            serve_healthz(args.healthz_bind_address):
        manager = ControllerManager(client, manager_classes, options_from(args))
        return await manager.serve(election_from(args), stop)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    problem = election_timing_problem(args)
    if problem:
        parser.error(problem)
    try:
        names = runnable(select_controllers(args.controllers), options_from(args))
    except ControllerSelectionError as err:
        parser.error(str(err))
    try:
        classes = load_controllers(names)
        config = ClientConfig.from_kubeconfig(args.kubeconfig)
    except (ControllerLoadError, ConfigError) as err:
        log.error("%s", err)
        sys.exit(1)
    try:
        outcome = asyncio.run(serve(args, config, classes))
    except HealthzBindError as err:
        log.error("%s", err)
        sys.exit(1)
    sys.exit(0 if outcome is Outcome.STOPPED else 1)


if __name__ == "__main__":
    main()
