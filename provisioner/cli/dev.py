"""`provision dev up|down|status`: a local control plane for development (logic in provisioner.dev)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from provisioner import dev as devcluster
from provisioner.cli.commands import Group, arg

group = Group("dev", "run a local development control plane as processes on this machine")

# Exit code of `dev status` when a component is down or not ready (the LSB code for "program is not running").
NOT_RUNNING_EXIT_CODE = 3


def port_number(text: str) -> int:
    """argparse type: 0 (pick a free port) or 1-65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected 0-65535, got {port}")
    return port


def directory(text: str) -> Path:
    """argparse type: a non-empty path (an empty one would silently mean the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory path, got an empty string")
    return Path(text)


DIR = arg(
    "--dir", type=directory, required=True, metavar="DIR", help="directory holding the dev cluster's files"
)
PORT = arg(
    "--port", type=port_number, default=0, metavar="N",
    help="apiserver port on 127.0.0.1 (default 0: keep the previous one if free, else any free port)",
)  # fmt: skip


def node_count(text: str) -> int:
    """argparse type: 0 or more simulated nodes."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of nodes, got {text!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {count}")
    return count


SIMULATED_NODES = arg(
    "--simulated-nodes", type=node_count, default=0, metavar="N",
    help="also run N simulated nodes (simnode-0 …, like kwok); list names in DIR/stopped-nodes to silence them",
)  # fmt: skip


@group.command(
    "up", "start the dev cluster (idempotent) and write DIR/admin.kubeconfig", DIR, PORT, SIMULATED_NODES
)  # fmt: skip
def up(args: argparse.Namespace) -> int:
    cluster = devcluster.up(args.dir, port=args.port, simulated_nodes=args.simulated_nodes)
    if cluster.already_running:
        print(f"dev cluster in {cluster.dir} is already running at {cluster.server_url}")
    else:
        pids = ", ".join(f"{c.name} pid {c.pid}" for c in cluster.components if c.pid is not None)
        print(f"dev cluster is up at {cluster.server_url} ({pids})")
    print(f"admin kubeconfig: {cluster.kubeconfig}")
    print(f"export KUBECONFIG={shlex.quote(str(cluster.kubeconfig))}")
    return 0


@group.command("down", "stop the dev cluster's processes (by recorded PID)", DIR)
def down(args: argparse.Namespace) -> int:
    result = devcluster.down(args.dir)
    if all(c.outcome == "not running" for c in result.components):
        print(f"dev cluster in {result.dir} is not running; nothing to stop")
        return 0
    for component in result.components:
        print(f"{component.name}: {component.outcome}" + (f" (pid {component.pid})" if component.pid else ""))
    return 0


@group.command(
    "status", "show whether each component runs and answers its health check", DIR,
    epilog=f"exit status: 0 when every component is ready, {NOT_RUNNING_EXIT_CODE} otherwise",
)  # fmt: skip
def status(args: argparse.Namespace) -> int:
    cluster = devcluster.status(args.dir)
    print(f"dev cluster in {cluster.dir}: {'ready' if cluster.ready else 'not ready'} ({cluster.server_url})")
    for c in cluster.components:
        state = f"up (pid {c.pid})" if c.running else "down"
        print(f"  {c.name}: {state}, {c.health}; log {c.log}")
    return 0 if cluster.ready else NOT_RUNNING_EXIT_CODE
