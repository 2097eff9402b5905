"""What simulated nodes cost: registration time and steady-state CPU/RSS for N nodes (default 500 and 5000).

For each N: a fresh dev cluster of the apiserver and one simnodes process (`provision dev up` with only those, so
scheduler and controllers add no load), then

- registration: from starting simnodes until all N Nodes are Ready in a LIST (and simnodes' own figure);
- steady state over --steady-seconds, after the first lease period: CPU of simnodes and of the apiserver (percent
  of one core), their RSS, and the age of the stalest Lease at the end (must stay under the 40 s lease duration,
  else the node lifecycle controller would call healthy nodes Unknown).

Kubelet defaults: Lease renewed every 10 s, status every 5 min — so N nodes send N/10 Lease PUTs a second.
Run from the repository root: .venv/bin/python bench/simnodes_scale.py [--nodes 500 5000] [--steady-seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from devbench import cpu_seconds_of, machine_lines, memory_of, raise_open_files_limit

from provisioner import dev
from provisioner.services.api import resources
from provisioner.services.client import ApiClient, ClientConfig

NODES = resources.lookup("", "v1", "nodes")
LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")
LEASE_DURATION = 40.0
REGISTRATION_LIMIT = 900.0  # a hang guard


def pid_of(directory: Path, name: str) -> int:
    component = next(c for c in dev.status(directory).components if c.name == name)
    if component.pid is None:
        raise SystemExit(f"{name} is not running; see {component.log}")
    return component.pid


async def ready_nodes(client: ApiClient) -> int:
    items, _ = await client.list_all(NODES, label_selector="simnodes.provision.dev/simulated=true", page_size=1000)
    return sum(any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
               for n in items)


async def stalest_lease_age(client: ApiClient) -> float:
    items, _ = await client.list_all(LEASES, "kube-node-lease", page_size=1000)
    now = datetime.now(UTC)
    ages = [(now - datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))).total_seconds()
            for lease in items]
    return max(ages) if ages else float("nan")


def simnodes_own_figure(directory: Path) -> str:
    match = re.search(r"registered (\d+) simulated nodes in ([\d.]+)s", (directory / "logs" / "simnodes.log")
                      .read_text())
    return f"{match.group(2)} s" if match else "n/a"


async def measure(count: int, steady_seconds: float) -> None:
    directory = Path(tempfile.mkdtemp(prefix=f"simnodes-{count}-"))
    try:
        dev.up(directory, components=(dev.APISERVER,))
        started = time.monotonic()
        cluster = dev.up(directory, components=(dev.APISERVER,), simulated_nodes=count)
        async with ApiClient(ClientConfig.from_kubeconfig(cluster.kubeconfig)) as client:
            while (ready := await ready_nodes(client)) < count:
                if time.monotonic() - started > REGISTRATION_LIMIT:
                    raise SystemExit(f"only {ready}/{count} nodes Ready after {REGISTRATION_LIMIT:.0f}s")
                await asyncio.sleep(0.5)
            registration = time.monotonic() - started
            await asyncio.sleep(LEASE_DURATION / 4)  # one lease period: every node has renewed once
            sim_pid, api_pid = pid_of(directory, "simnodes"), pid_of(directory, "apiserver")
            sim_cpu, api_cpu, t0 = cpu_seconds_of(sim_pid), cpu_seconds_of(api_pid), time.monotonic()
            await asyncio.sleep(steady_seconds)
            elapsed = time.monotonic() - t0
            sim_share = (cpu_seconds_of(sim_pid) - sim_cpu) / elapsed * 100
            api_share = (cpu_seconds_of(api_pid) - api_cpu) / elapsed * 100
            stalest = await stalest_lease_age(client)
        sim_mem, api_mem = memory_of(sim_pid), memory_of(api_pid)
        print(f"{count:>6} nodes | registered+Ready {registration:6.1f} s (simnodes' own: "
              f"{simnodes_own_figure(directory)}) | steady CPU simnodes {sim_share:5.1f} %  apiserver "
              f"{api_share:5.1f} % | RSS simnodes {sim_mem.rss_mib:5.0f} MiB  apiserver {api_mem.rss_mib:5.0f} MiB"
              f" | stalest lease {stalest:4.1f} s", flush=True)
    finally:
        dev.down(directory)
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--steady-seconds", type=float, default=30.0)
    args = parser.parse_args()
    raise_open_files_limit()
    for line in machine_lines():
        print(line)
    print(f"steady state measured over {args.steady_seconds:.0f} s; CPU in percent of one core")
    for count in args.nodes:
        asyncio.run(measure(count, args.steady_seconds))


if __name__ == "__main__":
    main()
