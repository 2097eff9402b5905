"""Shared pieces of the apiserver benchmarks: a throw-away dev cluster, an HTTPS client, percentiles, /proc.

Not a benchmark itself; ``apiserver_load.py`` and ``kill_cycles.py`` import it (run them from the repository
root as ``.venv/bin/python bench/NAME.py``, which puts bench/ on sys.path).

To measure one commit while the work tree keeps changing, run from an exported copy of the package; the
apiserver inherits PYTHONPATH, and the "code" line of the output names where `provisioner` came from:

    git archive HEAD provisioner | tar -x -C /tmp/snap && PYTHONPATH=/tmp/snap .venv/bin/python bench/NAME.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

import provisioner
from provisioner import dev
from provisioner.services.client.config import ClientConfig

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# No answer (or, on a watch, no event) for this long ends the request: a hung server cannot hang a benchmark.
REQUEST_TIMEOUT_SECONDS = 120.0

# What `kubectl run NAME --image=nginx:1.27` POSTs, as kubectl 1.37 -v=8 shows it against a dev cluster.
KUBECTL_RUN_POD: dict[str, Any] = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {"name": "", "labels": {"run": ""}},
    "spec": {
        "containers": [{"name": "", "image": "nginx:1.27", "resources": {}}],
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
    },
    "status": {},
}
KUBECTL_RUN_QUERY = "fieldManager=kubectl-run"
KUBECTL_USER_AGENT = "kubectl/v1.37.1 (linux/amd64) kubernetes/f78e722"


@dataclass(frozen=True)
class Cluster:
    """A running dev cluster: where it lives and how to reach it."""

    directory: Path
    server: str
    ssl_context: ssl.SSLContext

    def apiserver_pid(self) -> int:
        return apiserver_pid(self.directory)

    def session(self, connections: int) -> aiohttp.ClientSession:
        """A client session holding at most ``connections`` TLS connections (client certificate: admin)."""
        connector = aiohttp.TCPConnector(ssl=self.ssl_context, limit=connections, limit_per_host=connections)
        return aiohttp.ClientSession(
            base_url=self.server,
            connector=connector,
            headers={"User-Agent": KUBECTL_USER_AGENT, "Accept": "application/json, */*"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=REQUEST_TIMEOUT_SECONDS),
        )


@contextlib.contextmanager
def temporary_cluster(prefix: str) -> Iterator[Cluster]:
    """``dev.up`` in a new temporary directory; on exit ``dev.down`` and the directory is removed."""
    raise_open_files_limit()  # inherited by the apiserver: 1000 watchers need more than 1024 descriptors
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield start(directory)
    finally:
        with contextlib.suppress(Exception):
            dev.down(directory)
        shutil.rmtree(directory, ignore_errors=True)


def start(directory: Path) -> Cluster:
    """``dev.up`` of the apiserver alone (a scheduler or controllers would add load of their own): starts it
    if it is not running (again, after a kill); the port may change, so use the result."""
    started = dev.up(directory, components=(dev.APISERVER,))
    if not started.ready:
        details = "; ".join(f"{c.name}: {c.health}" for c in started.components)
        raise SystemExit(f"{directory}: dev.up returned a cluster that is not ready ({details})")
    return Cluster(directory, started.server_url, client_ssl_context(started.kubeconfig))


def client_ssl_context(kubeconfig: Path) -> ssl.SSLContext:
    """TLS verified against the kubeconfig's CA, authenticating with its client certificate."""
    context = ClientConfig.from_kubeconfig(kubeconfig).ssl_context()
    if context is None:
        raise SystemExit(f"{kubeconfig}: the server is not https")
    return context


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def apiserver_pid(directory: Path) -> int:
    state = json.loads((directory / "dev.json").read_text())
    pid = next(c["pid"] for c in state["components"] if c["name"] == "apiserver")
    if not isinstance(pid, int):
        raise SystemExit(f"{directory}/dev.json: the apiserver is not running")
    return pid


async def sigkill(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL `pid` and wait until it has exited (its pidfd turns readable once it is a zombie).

    Waiting matters: a process still tearing down (state R) counts as running, and `dev.up` would then
    report the cluster as already up instead of restarting it."""
    loop = asyncio.get_running_loop()
    pidfd = os.pidfd_open(pid)
    exited: asyncio.Future[None] = loop.create_future()
    loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        await asyncio.wait_for(exited, timeout)
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


# ------------------------------------------------------------------------------------------------- /proc
@dataclass(frozen=True)
class Memory:
    rss_mib: float
    peak_rss_mib: float  # VmHWM: the high-water mark since the process started


def memory_of(pid: int) -> Memory:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB → MiB
    return Memory(fields["VmRSS"], fields["VmHWM"])


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_lines() -> list[str]:
    return [
        f"machine : {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {cpu_model()}",
        f"python  : {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"aiohttp : {aiohttp.__version__}; kernel {platform.release()}",
        f"load    : {load_average()} (1/5/15 min; other work on these cores makes every figure noisier)",
        f"code    : {code_version()}",
    ]


def code_version() -> str:
    """Where the measured code comes from: the commit, and whether the work tree differs from it."""
    root = Path(provisioner.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return f"provisioner from {root} (not a git work tree)"
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "provisioner"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git work tree)"
    return f"{commit}" + (f" + {len(changed)} changed files under provisioner/" if changed else " (clean)")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# ------------------------------------------------------------------------------------------------- statistics
def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN for none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(seconds: Sequence[float], points: Sequence[float] = (0.5, 0.9, 0.99)) -> str:
    """"p50 1.2 ms  p90 … max …" for a list of latencies in seconds."""
    ordered = sorted(seconds)
    parts = [f"p{round(p * 100)} {format_ms(percentile(ordered, p))}" for p in points]
    parts.append(f"max {format_ms(ordered[-1] if ordered else math.nan)}")
    return "  ".join(parts)


def format_ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "    n/a"
    return f"{seconds * 1000:7.1f} ms"
