"""``provision-proxy``: kube-proxy in iptables mode for this node (see proxier.py and rules.py).

Exit status: 0 after SIGTERM/SIGINT (the rules stay in place, as with kube-proxy); 1 for an unusable
kubeconfig or a taken healthz address; 2 for bad flags. ``GET /healthz`` answers 200 once a sync succeeded
and while the latest one did, 503 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import socket
import sys
from collections.abc import Sequence

from provisioner.services.api.version import GIT_VERSION
from provisioner.services.client import (
    ApiClient,
    ClientConfig,
    ConfigError,
    HealthzBindError,
    InformerFactory,
    serve_healthz,
)
from provisioner.services.client.process import bind_address, duration, until_signalled
from provisioner.services.proxy.iptables import IptablesRestore
from provisioner.services.proxy.proxier import Proxier
from provisioner.services.proxy.rules import MATCH_ALL

log = logging.getLogger("proxy")

HEALTHZ_BIND_ADDRESS = "127.0.0.1:10256"


def ipv4_cidr(text: str) -> str:
    if not text:
        return ""
    try:
        return str(ipaddress.IPv4Network(text, strict=False))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def nodeport_addresses(text: str) -> tuple[str, ...]:
    """Comma-separated IPv4 addresses, or ``0.0.0.0/0`` for every local address (other CIDRs: not
    supported)."""
    result = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item == MATCH_ALL:
            result.append(item)
            continue
        try:
            result.append(str(ipaddress.IPv4Address(item)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: expected an IPv4 address or {MATCH_ALL}") from None
    return tuple(result)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="provision-proxy",
                                description="Program this node's iptables for Services "
                                            "(kube-proxy, iptables mode).")
    p.add_argument("--kubeconfig", required=True, metavar="PATH", help="credentials of system:kube-proxy")
    p.add_argument("--hostname-override", default=None, metavar="NAME",
                   help="this node's name (default: this host's name, lower case)")
    p.add_argument("--cluster-cidr", type=ipv4_cidr, default="", metavar="CIDR",
                   help="pod addresses; traffic to cluster IPs from elsewhere is masqueraded (default: the "
                        "Node's podCIDR)")
    p.add_argument("--nodeport-addresses", type=nodeport_addresses, default=(), metavar="IP,…",
                   help=f"addresses NodePorts answer on, or {MATCH_ALL} for all but loopback "
                        "(default: the Node's InternalIP)")
    p.add_argument("--min-sync-period", type=duration, default=1.0, metavar="DURATION",
                   help="least time between two syncs (default 1s)")
    p.add_argument("--sync-period", type=duration, default=30.0, metavar="DURATION",
                   help="the rules are restored at least this often, changed or not (default 30s)")
    p.add_argument("--healthz-bind-address", type=bind_address, default=HEALTHZ_BIND_ADDRESS,
                   metavar="HOST:PORT",
                   help="serve GET /healthz over plain HTTP here; empty disables it (default %(default)s)")
    p.add_argument("-v", "--v", type=int, default=0, dest="verbosity", help="log verbosity (4+: debug)")
    return p


async def serve(args: argparse.Namespace, config: ClientConfig) -> None:
    async with ApiClient(config, user_agent=f"provision-proxy/{GIT_VERSION}") as client:
        informers = InformerFactory(client)
        proxier = Proxier(informers, args.hostname_override, IptablesRestore(),
                          cluster_cidr=args.cluster_cidr, nodeport_addresses=args.nodeport_addresses,
                          min_sync_period=args.min_sync_period, sync_period=args.sync_period)
        async with serve_healthz(args.healthz_bind_address, lambda: proxier.problem):
            informers.start()
            try:
                await proxier.run()
            finally:
                await informers.stop()


async def run(args: argparse.Namespace, config: ClientConfig) -> int:
    try:
        if await until_signalled(serve(args, config)):
            log.info("stopped")
            return 0
    except HealthzBindError as err:
        log.error("%s", err)
    return 1


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.hostname_override = (args.hostname_override or socket.gethostname()).strip().lower()
    logging.basicConfig(level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = ClientConfig.from_kubeconfig(args.kubeconfig)
    except ConfigError as err:
        log.error("%s", err)
        sys.exit(1)
    log.info("provision-proxy %s for node %s", GIT_VERSION, args.hostname_override)
    sys.exit(asyncio.run(run(args, config)))


if __name__ == "__main__":
    main()
