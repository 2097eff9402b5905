"""``provision-scheduler``: the scheduler as a service.

    provision-scheduler --kubeconfig /etc/provision/scheduler.kubeconfig

With leader election (the default) several replicas may run; the one holding the Lease kube-system/kube-scheduler
schedules, the others keep their caches warm and take over within the lease duration. Losing the lease ends the
process with status 1 (as kube-scheduler does) so the service manager restarts it clean. SIGTERM or SIGINT stops
it, letting in-flight bindings finish and giving the lease up at once. ``GET /healthz`` (plain HTTP on
--healthz-bind-address) answers ok while the process runs, leader or standby.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Sequence

from provisioner.services.api.status import ApiError
from provisioner.services.client import (
    ApiClient,
    ClientConfig,
    ConfigError,
    HealthzBindError,
    LeaderElector,
    LeaseTiming,
    serve_healthz,
)
from provisioner.services.client.process import bind_address, boolean, duration
from provisioner.services.scheduler.plugins import DEFAULT_SCHEDULER_NAME
from provisioner.services.scheduler.scheduler import Scheduler, SchedulerOptions

log = logging.getLogger("scheduler")

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-scheduler"
HEALTHZ_BIND_ADDRESS = "127.0.0.1:10259"  # kube-scheduler's secure port, served as plain HTTP (see client/healthz.py)
EXIT_LOST_LEADERSHIP = 1

_VERBOSITY = {0: logging.WARNING, 1: logging.INFO, 2: logging.INFO, 3: logging.DEBUG}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="provision-scheduler", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True, help="how to reach the apiserver")
    parser.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER_NAME,
                        help="schedule pods whose spec.schedulerName is this (default: %(default)s)")
    parser.add_argument("--leader-elect", type=boolean, default=True, metavar="BOOL",
                        help="elect a leader among replicas through a Lease (default: true)")
    parser.add_argument("--leader-elect-lease-duration", type=duration, default=15.0, metavar="SECONDS")
    parser.add_argument("--leader-elect-renew-deadline", type=duration, default=10.0, metavar="SECONDS")
    parser.add_argument("--leader-elect-retry-period", type=duration, default=2.0, metavar="SECONDS")
    parser.add_argument("--leader-elect-resource-namespace", default=LEASE_NAMESPACE)
    parser.add_argument("--leader-elect-resource-name", default=LEASE_NAME)
    parser.add_argument("--percentage-of-nodes-to-score", type=int, default=0, metavar="PERCENT",
                        help="stop filtering after this share of nodes fit; 0 = adaptive (default)")
    parser.add_argument("--parallel-bindings", type=int, default=32, metavar="N",
                        help="binding requests in flight at once (default: %(default)s)")
    parser.add_argument("--healthz-bind-address", type=bind_address, default=HEALTHZ_BIND_ADDRESS,
                        metavar="HOST:PORT", help="serve GET /healthz over plain HTTP here; port 0 picks a free "
                                                  "port, empty disables it (default: %(default)s)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=None, metavar="LEVEL",
                        help="klog-style verbosity: 0 warnings, 2 info, 4+ debug")
    parser.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    if not 0 <= args.percentage_of_nodes_to_score <= 100:
        parser.error("--percentage-of-nodes-to-score must be between 0 and 100")
    if args.parallel_bindings < 1:
        parser.error("--parallel-bindings must be at least 1")
    if args.leader_elect and not (args.leader_elect_lease_duration > args.leader_elect_renew_deadline
                                  > args.leader_elect_retry_period > 0):
        parser.error("leader election needs lease-duration > renew-deadline > retry-period > 0")
    return args


def log_level(args: argparse.Namespace) -> int:
    if args.log_level:
        return getattr(logging, args.log_level.upper())
    if args.verbosity is None:
        return logging.INFO
    return _VERBOSITY.get(min(args.verbosity, 3), logging.DEBUG)


def options_from(args: argparse.Namespace) -> SchedulerOptions:
    return SchedulerOptions(scheduler_name=args.scheduler_name,
                            percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
                            parallel_bindings=args.parallel_bindings)


async def serve(args: argparse.Namespace, config: ClientConfig, stop: asyncio.Event) -> int:
    """Run until ``stop`` is set (0) or leadership is lost (1)."""
    async with ApiClient(config, user_agent=f"provision-scheduler/{args.scheduler_name}") as client, \
            serve_healthz(args.healthz_bind_address):
        scheduler = Scheduler(client, options_from(args))
        scheduler.start_informers()
        elector = None
        if args.leader_elect:
            identity = f"{socket.gethostname()}_{uuid.uuid4()}"
            timing = LeaseTiming(args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
                                 args.leader_elect_retry_period)
            elector = LeaderElector(client, args.leader_elect_resource_namespace, args.leader_elect_resource_name,
                                    identity, timing)
            work = asyncio.create_task(_lead(elector, scheduler, timing), name="leader-election")
        else:
            work = asyncio.create_task(scheduler.run(), name="scheduler")
        stopping = asyncio.create_task(stop.wait(), name="stop")
        try:
            await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost = work.done() and not stopping.done()
            stopping.cancel()
            work.cancel()
            results = await asyncio.gather(work, return_exceptions=True)
            await scheduler.stop()
            if elector is not None:
                await elector.release()
        if lost:
            error = results[0]
            if isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError):
                log.error("scheduler stopped: %s: %s", error.__class__.__name__, error)
            else:
                log.error("leader election lost; exiting")
            return EXIT_LOST_LEADERSHIP
        log.info("stopped")
        return 0


async def _lead(elector: LeaderElector, scheduler: Scheduler, timing: LeaseTiming) -> None:
    """Wait for the Lease (retrying through apiserver errors), schedule while holding it, return when lost."""
    while True:
        try:
            await elector.run(scheduler.run)
            return
        except ApiError as err:
            if elector.is_leader:
                raise
            log.warning("leader election: %s; retrying", err.message)
            await asyncio.sleep(timing.retry_period)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=log_level(args), stream=sys.stderr,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    try:
        config = ClientConfig.from_kubeconfig(args.kubeconfig)
    except ConfigError as err:
        print(f"provision-scheduler: {err}", file=sys.stderr)
        return 2

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        return await serve(args, config, stop)

    log.info("provision-scheduler %s (pid %d)", args.scheduler_name, os.getpid())
    try:
        return asyncio.run(run())
    except HealthzBindError as err:
        log.error("%s", err)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
