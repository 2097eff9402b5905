"""The controller-manager: the enabled controllers of ``registry.CONTROLLERS``, over one API client and one set of
shared informers, run only while this process leads (Lease kube-system/kube-controller-manager), as
kube-controller-manager does.

- ``select_controllers("*,-job")`` turns the ``--controllers`` flag into names (Kubernetes' syntax and rules).
- ``load_controllers(names)`` imports their classes up front, so a missing module fails at start, naming it.
- ``ControllerManager.run()`` constructs the controllers (each with an event recorder under its Kubernetes
  component name), starts the informers and runs everything until cancelled; a controller that fails or returns
  ends the run (the process then exits non-zero and its supervisor restarts it).
- ``ControllerManager.serve(election, stop)`` adds leader election and shutdown: it returns STOPPED when ``stop``
  is set (the Lease is released for a fast hand-over), LOST when leadership was lost, FAILED when a controller
  failed. Like kube-controller-manager, a process that lost leadership does not try to lead again: it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, EventRecorder, InformerFactory, LeaderElector, LeaseTiming
from provisioner.services.controllers import registry
from provisioner.services.controllers.base import Controller, ControllerContext, ControllerOptions

log = logging.getLogger("controller-manager")

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"
RECORDER_FLUSH_SECONDS = 5.0

# The EventSource component each Kubernetes controller records events as (what `kubectl describe` shows in FROM).
EVENT_COMPONENTS: dict[str, str] = {
    "deployment": "deployment-controller",
    "replicaset": "replicaset-controller",
    "replicationcontroller": "replication-controller",
    "job": "job-controller",
    "daemonset": "daemonset-controller",
    "node-lifecycle": "node-controller",
    "node-ipam": "cidrAllocator",
    "endpoints": "endpoint-controller",
    "endpointslice": "endpoint-slice-controller",
    "serviceaccount": "serviceaccount-controller",
    "namespace": "namespace-controller",
    "garbage-collector": "garbage-collector-controller",
    "pod-gc": "pod-garbage-collector",
    "csr-approver": "csr-approving-controller",
    "csr-signer": "csr-signing-controller",
}
# Controllers that cannot work without some option; when it is missing they are skipped (with a log line) rather
# than failing the whole manager, as kube-controller-manager skips its CSR signer without signing files.
_NEEDS: dict[str, tuple[str, ...]] = {"csr-signer": ("cluster_signing_cert_file", "cluster_signing_key_file")}


class ControllerSelectionError(ValueError):
    """A ``--controllers`` value naming controllers that do not exist, or enabling none."""


class ControllerLoadError(RuntimeError):
    """An enabled controller whose module or class cannot be imported."""


class Outcome(enum.Enum):
    STOPPED = "stopped"  # asked to stop (SIGTERM): exit 0
    LOST = "lost"  # leadership lost: exit non-zero so the supervisor restarts a fresh candidate
    FAILED = "failed"  # a controller failed or returned: exit non-zero


def select_controllers(flag: str | Iterable[str], known: Iterable[str] = registry.CONTROLLERS) -> list[str]:
    """``--controllers`` → enabled names, in registry order. ``*`` enables all, ``foo`` enables foo, ``-foo``
    disables foo (a disable wins over ``*`` and over ``foo``, as in kube-controller-manager)."""
    items = [i.strip() for i in (flag.split(",") if isinstance(flag, str) else flag)]
    items = [i for i in items if i]
    order = list(known)
    unknown = sorted({i.removeprefix("-") for i in items if i != "*"} - set(order))
    if unknown:
        raise ControllerSelectionError(
            f"unknown controller(s) {', '.join(repr(u) for u in unknown)} in --controllers; "
            f"valid names: {', '.join(order)} (and '*' for all, '-NAME' to disable one)")
    disabled = {i[1:] for i in items if i.startswith("-")}
    enabled = set(order) if "*" in items else {i for i in items if not i.startswith("-")}
    selected = [name for name in order if name in enabled - disabled]
    if not selected:
        raise ControllerSelectionError(f"--controllers {','.join(items) or '(empty)'}: enables no controller")
    return selected


def load_controllers(names: Iterable[str]) -> dict[str, type[Controller]]:
    """Import every enabled controller's class; all failures are reported together."""
    loaded: dict[str, type[Controller]] = {}
    problems: list[str] = []
    for name in names:
        try:
            loaded[name] = registry.load(name)
        except (ImportError, AttributeError) as err:
            problems.append(f"{name} ({registry.CONTROLLERS[name]}): {err}")
    if problems:
        raise ControllerLoadError("cannot load controller(s): " + "; ".join(problems))
    return loaded


def runnable(names: Iterable[str], options: ControllerOptions) -> list[str]:
    """``names`` without the controllers whose required options are not set (logged)."""
    kept = []
    for name in names:
        missing = [o for o in _NEEDS.get(name, ()) if not getattr(options, o)]
        if missing:
            flags = ", ".join("--" + o.replace("_", "-") for o in missing)
            log.info("skipping controller %s: %s not set", name, flags)
            continue
        kept.append(name)
    return kept


def default_identity() -> str:
    """``hostname_uuid``, as kube-controller-manager names itself in the Lease."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class LeaderElection:
    enabled: bool = True
    timing: LeaseTiming = field(default_factory=LeaseTiming)
    namespace: str = LEASE_NAMESPACE
    name: str = LEASE_NAME
    identity: str = field(default_factory=default_identity)


class ControllerStopped(RuntimeError):
    """A controller's run() returned; controllers run until cancelled."""


class ControllerManager:
    def __init__(self, client: ApiClient, controllers: Mapping[str, type[Controller]],
                 options: ControllerOptions | None = None) -> None:
        self.client = client
        self.controllers = dict(controllers)
        self.options = options or ControllerOptions()
        self.failure: BaseException | None = None
        self.running: list[str] = []  # names of the controllers constructed by the current run

    async def run(self) -> None:
        """Construct and run every controller until cancelled (or one fails: raised, and kept in ``failure``)."""
        informers = InformerFactory(self.client)
        recorders: list[EventRecorder] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            instances = [(name, self._construct(name, cls, informers, recorders))
                         for name, cls in self.controllers.items()]
            self.running = [name for name, _ in instances]
            informers.start()
            log.info("started %d controllers: %s", len(instances), ", ".join(self.running))
            tasks += [asyncio.create_task(r.run(), name="event-recorder") for r in recorders]
            tasks += [asyncio.create_task(self._supervise(n, c), name=f"controller-{n}") for n, c in instances]
            await _first_failure(tasks)
        except asyncio.CancelledError:
            raise
        except BaseException as err:
            self.failure = err
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await informers.stop()
            await _flush(recorders)
            self.running = []

    def _construct(self, name: str, cls: type[Controller], informers: InformerFactory,
                   recorders: list[EventRecorder]) -> Controller:
        recorder = EventRecorder(self.client, EVENT_COMPONENTS.get(name, f"{name}-controller"))
        recorders.append(recorder)
        return cls(ControllerContext(self.client, informers, recorder, self.options))

    async def serve(self, election: LeaderElection, stop: asyncio.Event) -> Outcome:
        """Run while leading (or always, without leader election) until ``stop`` is set or leadership is lost."""
        elector = None
        if election.enabled:
            elector = LeaderElector(self.client, election.namespace, election.name, election.identity,
                                    election.timing)
            log.info("leader election on Lease %s/%s as %s", election.namespace, election.name,
                     election.identity)
            work = asyncio.create_task(self._lead_when_elected(elector, election.timing))
        else:
            work = asyncio.create_task(self.run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            if elector is not None:
                await elector.release()
            log.info("stopped: controllers ended%s", ", Lease released" if elector is not None else "")
            return Outcome.STOPPED
        stopping.cancel()
        await asyncio.gather(work, return_exceptions=True)
        if self.failure is not None:
            log.error("controller failed: %s: %s", type(self.failure).__name__, self.failure)
            return Outcome.FAILED
        log.error("leader election lost")
        return Outcome.LOST

    async def _lead_when_elected(self, elector: LeaderElector, timing: LeaseTiming) -> None:
        # Errors while trying to acquire (the apiserver restarting) are retried, as client-go's elector does;
        # once leading, the elector itself tolerates renewal errors until the renew deadline.
        while True:
            try:
                await elector.run(self.run)
                return
            except ApiError as err:
                log.warning("acquiring Lease %s/%s failed: %s; retrying", elector.namespace, elector.name,
                            err.message)
            await asyncio.sleep(timing.retry_period)

    @staticmethod
    async def _supervise(name: str, controller: Controller) -> None:
        await controller.run()
        raise ControllerStopped(f"controller {name} stopped on its own")


async def _first_failure(tasks: list[asyncio.Task[None]]) -> None:
    """Wait until cancelled or until one task ends; its exception (or ControllerStopped) is raised."""
    if not tasks:  # every enabled controller was skipped: idle while leading, as an empty manager would
        await asyncio.Event().wait()
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        error = task.exception()
        if error is not None:
            raise error
    raise ControllerStopped(f"{next(iter(done)).get_name()} ended")


async def _flush(recorders: list[EventRecorder]) -> None:
    with contextlib.suppress(TimeoutError, ApiError):
        await asyncio.wait_for(asyncio.gather(*(r.flush() for r in recorders)), RECORDER_FLUSH_SECONDS)
