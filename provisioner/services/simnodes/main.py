"""``provision-simnodes``: N simulated nodes in one process (flags only; the work is in SimulatedNodes).

Stop a node's heartbeats from outside with ``--stopped-nodes-file`` (see control.py). SIGTERM/SIGINT stop the
process; the Nodes stay registered (and turn NotReady), as when kubelets stop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, ClientConfig, ConfigError, run_all
from provisioner.services.client.process import until_signalled
from provisioner.services.simnodes.control import follow_control_file
from provisioner.services.simnodes.objects import EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION, NodeTemplate
from provisioner.services.simnodes.simulator import SimulatedNodes, Timing

log = logging.getLogger("simnodes")


EPILOG = f"""\
pods bound to a simulated node become Running at once and run until deleted, unless annotated:
  {RUN_SECONDS_ANNOTATION}: "N"  containers exit after N seconds (so Jobs complete)
  {EXIT_CODE_ANNOTATION}: "C"    with exit code C (default 0); the pod's restartPolicy
                                           decides: restart, or the pod ends Succeeded / Failed
stopping nodes: list their names in --stopped-nodes-file, one per line; they stop renewing Leases,
posting status and handling pods until the name is removed again.
"""


def labels(text: str) -> dict[str, str]:
    """argparse type: ``key=value,key2=value2``."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
        result[key] = value
    return result


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="provision-simnodes",
                                description="Register simulated nodes and play their kubelets (like kwok).",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kubeconfig", required=True, help="credentials that may write Nodes, Leases and pods")
    p.add_argument("--count", type=int, default=1, help="number of nodes (default 1)")
    p.add_argument("--prefix", default="simnode", help="node names are PREFIX-0 … PREFIX-(count-1)")
    p.add_argument("--first-index", type=int, default=0, help="index of the first node (several processes)")
    p.add_argument("--cpu", default="32", help="cpu capacity per node (default 32)")
    p.add_argument("--memory", default="256Gi", help="memory capacity per node (default 256Gi)")
    p.add_argument("--pods", type=int, default=110, help="pod capacity per node (default 110)")
    p.add_argument("--node-labels", type=labels, default={}, metavar="K=V,…", help="extra labels on every node")
    p.add_argument("--lease-duration-seconds", type=int, default=40, metavar="SECONDS",
                   help="leaseDurationSeconds written in each Lease (kubelet: 40)")
    p.add_argument("--lease-renew-interval", type=positive_float, default=10.0, metavar="SECONDS",
                   help="how often each node renews its Lease (kubelet: 10); keep it well under the "
                        "controller-manager's --node-monitor-grace-period")
    p.add_argument("--status-interval", type=positive_float, default=300.0, metavar="SECONDS",
                   help="how often each node posts its Ready status (kubelet: 5 min; health is the Lease)")
    p.add_argument("--termination-seconds", type=float, default=0.5, metavar="SECONDS",
                   help="simulated container shutdown before a deleted pod is removed")
    p.add_argument("--stopped-nodes-file", type=Path, default=None, metavar="PATH",
                   help="file listing nodes whose heartbeats are stopped, one per line; re-read on change")
    p.add_argument("-v", "--v", type=int, default=0, dest="verbosity", help="log verbosity (4+: debug)")
    return p


def simulator_from(args: argparse.Namespace, client: ApiClient) -> SimulatedNodes:
    template = NodeTemplate(cpu=args.cpu, memory=args.memory, pods=args.pods, labels=args.node_labels)
    timing = Timing(lease_duration_seconds=args.lease_duration_seconds,
                    lease_renew_interval=args.lease_renew_interval, status_interval=args.status_interval,
                    termination_seconds=args.termination_seconds)
    return SimulatedNodes(client, args.count, args.prefix, template=template, timing=timing,
                          first_index=args.first_index)


async def serve(args: argparse.Namespace, config: ClientConfig) -> None:
    async with ApiClient(config, user_agent="provision-simnodes") as client:
        nodes = simulator_from(args, client)
        work = [nodes.run()]
        if args.stopped_nodes_file is not None:
            work.append(follow_control_file(nodes, args.stopped_nodes_file))
        if await until_signalled(run_all(*work)):
            log.info("stopped (%d nodes, %d pods started)", len(nodes.names), nodes.counters.pods_started)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = ClientConfig.from_kubeconfig(args.kubeconfig)
        asyncio.run(serve(args, config))
    except (ConfigError, ValueError) as err:
        log.error("%s", err)
        sys.exit(1)
    except ApiError as err:  # e.g. 403: these credentials may not register nodes
        log.error("apiserver refused: %s", err.message)
        sys.exit(1)


if __name__ == "__main__":
    main()
