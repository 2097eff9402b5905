"""`provision dev up/down/status`: a control plane as local processes under one directory.

up generates (or reuses) the PKI and admin kubeconfig, starts each component detached, records it in
dev.json and waits until it is ready; down stops recorded processes by PID after checking they are still
ours; status reports each component and its health probe.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from provisioner.dev.components import DEFAULT_COMPONENTS, LOOPBACK, Component, LaunchContext
from provisioner.dev.components import simulated_nodes as simulated_nodes_component
from provisioner.dev.credentials import ensure_pki, write_admin_kubeconfig, write_component_kubeconfigs
from provisioner.dev.health import probe
from provisioner.dev.layout import DevPaths
from provisioner.dev.state import ComponentRecord, DevState, load_state, save_state
from provisioner.errors import DevClusterError
from provisioner.processes import Launched, identity_of, is_running, launch_detached, log_tail, stop

READY_TIMEOUT_SECONDS = 30.0
# A component without a health check counts as started once it has stayed up this long: long enough for a bad
# flag, a missing module or an unreadable kubeconfig to end it (each takes well under a second here).
SETTLE_SECONDS = 1.5
STOP_TIMEOUT_SECONDS = 10.0
_READY_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    ready: bool
    health: str  # the probe's answer, or why there is none
    log: Path


@dataclass(frozen=True)
class DevCluster:
    dir: Path
    port: int
    server_url: str
    kubeconfig: Path
    components: tuple[ComponentStatus, ...]
    already_running: bool = False  # up found everything running and started nothing

    @property
    def ready(self) -> bool:
        return bool(self.components) and all(c.ready for c in self.components)


@dataclass(frozen=True)
class StoppedComponent:
    name: str
    pid: int | None
    outcome: str  # "stopped" (SIGTERM), "killed" (SIGKILL), or "not running …"


@dataclass(frozen=True)
class DownResult:
    dir: Path
    components: tuple[StoppedComponent, ...]

    @property
    def stopped_any(self) -> bool:
        return any(c.outcome in ("stopped", "killed") for c in self.components)


def up(
    directory: Path | str,
    port: int = 0,
    components: Sequence[Component] | None = None,
    ready_timeout: float = READY_TIMEOUT_SECONDS,
    simulated_nodes: int = 0,
) -> DevCluster:
    """Start the dev cluster in `directory` (created if missing); idempotent while it runs.

    port 0 picks a free loopback port, keeping the recorded one when it is free. `components` replaces the
    default list (apiserver, scheduler, controller-manager) — tests use it to run stand-ins or other flags.
    `simulated_nodes` > 0 adds a simnodes process registering that many nodes (simnode-0 …).
    """
    _check_port(port)
    _check_node_count(simulated_nodes)
    specs = tuple(DEFAULT_COMPONENTS if components is None else components)
    if simulated_nodes:
        specs += (simulated_nodes_component(simulated_nodes),)
    if not specs:
        raise DevClusterError("no components to start")
    paths = DevPaths.create(directory)
    state = load_state(paths.state_file)
    running = _settled_running_names(state, paths.ca_cert, ready_timeout)
    if state is not None and running:
        if port and port != state.port:
            raise DevClusterError(
                f"the dev cluster in {paths.root} is running on port {state.port}; "
                f"run `provision dev down --dir {paths.root}` before changing the port"
            )
        _check_same_commands(specs, running, state, LaunchContext(paths, state.port))
        if all(spec.name in running for spec in specs):
            return _snapshot(paths, state, already_running=True)
        chosen_port = state.port  # the running components are bound to it
    else:
        chosen_port = _choose_port(port, state.port if state else None)

    ca = ensure_pki(paths)
    ctx = LaunchContext(paths, chosen_port)
    write_admin_kubeconfig(ctx, ca)
    write_component_kubeconfigs(ctx, ca)
    state = state or DevState(chosen_port)
    state.port = chosen_port
    save_state(paths.state_file, state)
    _start_missing(specs, running, ctx, state, ready_timeout)
    return _snapshot(paths, state)


def down(directory: Path | str, stop_timeout: float = STOP_TIMEOUT_SECONDS) -> DownResult:
    """Stop every recorded component, last started first. Nothing recorded or running: a no-op."""
    paths = DevPaths.existing(directory)
    state = load_state(paths.state_file)
    if state is None:
        return DownResult(paths.root, ())
    results = [_stop_record(record, state, paths, stop_timeout) for record in reversed(state.components)]
    return DownResult(paths.root, tuple(results))


def status(directory: Path | str) -> DevCluster:
    paths = DevPaths.existing(directory)
    state = load_state(paths.state_file)
    if state is None:
        raise DevClusterError(
            f"no dev cluster in {paths.root} ({paths.state_file.name} not found); "
            f"start one with `provision dev up --dir {paths.root}`"
        )
    return _snapshot(paths, state)


def _start_missing(
    specs: Iterable[Component], running: set[str], ctx: LaunchContext, state: DevState, ready_timeout: float
) -> None:
    started: list[ComponentRecord] = []
    unchecked: list[tuple[ComponentRecord, Launched, float]] = []
    try:
        for spec in specs:
            if spec.name in running:
                continue
            record, launched = _launch(spec, ctx, state)
            started.append(record)
            _wait_until_ready(record, launched, ctx.paths.ca_cert, ready_timeout)
            if record.health_url is None:
                unchecked.append((record, launched, time.monotonic()))
        _wait_until_settled(unchecked)
    except BaseException:
        # Also on Ctrl-C: a failed up leaves nothing running that dev.json does not know about.
        for record in reversed(started):
            _stop_record(record, state, ctx.paths, stop_timeout=STOP_TIMEOUT_SECONDS)
        raise


def _launch(spec: Component, ctx: LaunchContext, state: DevState) -> tuple[ComponentRecord, Launched]:
    argv = spec.command(ctx)
    log = ctx.paths.log_file(spec.name)
    record = ComponentRecord(spec.name, argv, str(log), spec.health_url(ctx))
    launched = launch_detached(argv, log, cwd=ctx.paths.root)
    if launched.identity is not None:
        record.record_started(launched.identity)
    state.put(record)
    save_state(
        ctx.paths.state_file, state
    )  # recorded before waiting, so an interrupted up can still be downed
    return record, launched


def _wait_until_ready(record: ComponentRecord, launched: Launched, ca_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_answer = "no answer yet"
    while True:
        exit_code = launched.process.poll()
        if exit_code is not None:
            raise DevClusterError(
                f"{record.name} exited with code {exit_code} before it was ready; "
                f"last lines of {record.log}:\n{log_tail(Path(record.log))}"
            )
        if record.health_url is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DevClusterError(
                f"{record.name} not ready after {timeout:g}s (GET {record.health_url}: {last_answer}); "
                f"last lines of {record.log}:\n{log_tail(Path(record.log))}"
            )
        result = probe(record.health_url, ca_file, timeout=min(2.0, max(remaining, 0.1)))
        if result.ok:
            return
        last_answer = result.detail
        time.sleep(_READY_POLL_SECONDS)


def _wait_until_settled(unchecked: Iterable[tuple[ComponentRecord, Launched, float]]) -> None:
    """Components without a health check must still run SETTLE_SECONDS after their start (they settle in
    parallel, so this adds at most SETTLE_SECONDS to `up`)."""
    for record, launched, started_at in unchecked:
        while True:
            exit_code = launched.process.poll()
            if exit_code is not None:
                raise DevClusterError(
                    f"{record.name} exited with code {exit_code} right after it started; "
                    f"last lines of {record.log}:\n{log_tail(Path(record.log))}"
                )
            if time.monotonic() - started_at >= SETTLE_SECONDS:
                break
            time.sleep(_READY_POLL_SECONDS)


def _stop_record(
    record: ComponentRecord, state: DevState, paths: DevPaths, stop_timeout: float
) -> StoppedComponent:
    identity = record.identity()
    pid = record.pid
    if identity is None:
        outcome = "not running"
    elif not is_running(identity):
        reused = identity_of(identity.pid) is not None
        outcome = (
            "not running (its PID now belongs to another process, left alone)" if reused else "not running"
        )
    else:
        outcome = stop(identity, stop_timeout)
    record.record_stopped()
    save_state(paths.state_file, state)
    return StoppedComponent(record.name, pid, outcome)


def _snapshot(paths: DevPaths, state: DevState, already_running: bool = False) -> DevCluster:
    ctx = LaunchContext(paths, state.port)
    statuses = tuple(_component_status(record, paths.ca_cert) for record in state.components)
    return DevCluster(
        paths.root, state.port, ctx.server_url, paths.admin_kubeconfig, statuses, already_running
    )


def _component_status(record: ComponentRecord, ca_file: Path) -> ComponentStatus:
    identity = record.identity()
    running = identity is not None and is_running(identity)
    if not running:
        ready, health = False, "not running"
    elif record.health_url is None:
        ready, health = True, "running (no health check)"
    else:
        result = probe(record.health_url, ca_file)
        ready, health = result.ok, f"{record.health_url}: {result.detail}"
    return ComponentStatus(
        record.name, record.pid if running else None, running, ready, health, Path(record.log)
    )


def _settled_running_names(state: DevState | None, ca_file: Path, timeout: float) -> set[str]:
    """Running components, after waiting out any that run but do not answer their health check: such a process
    is either still starting or dying (just killed, still tearing down), and only time tells which."""
    deadline = time.monotonic() + timeout
    while True:
        running = _running_names(state)
        if state is None or time.monotonic() >= deadline:
            return running
        unsettled = [r for r in state.components
                     if r.name in running and r.health_url and not probe(r.health_url, ca_file).ok]
        if not unsettled:
            return running
        time.sleep(_READY_POLL_SECONDS)


def _running_names(state: DevState | None) -> set[str]:
    if state is None:
        return set()
    return {
        r.name for r in state.components if (identity := r.identity()) is not None and is_running(identity)
    }


def _check_same_commands(
    specs: Iterable[Component], running: set[str], state: DevState, ctx: LaunchContext
) -> None:
    """A running component asked for with other arguments (e.g. another node count) is not silently kept."""
    for spec in specs:
        record = state.component(spec.name)
        if spec.name in running and record is not None and record.argv != spec.command(ctx):
            raise DevClusterError(
                f"{spec.name} is running in {ctx.paths.root} with other arguments; "
                f"run `provision dev down --dir {ctx.paths.root}` first"
            )


def _check_node_count(count: int) -> None:
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise DevClusterError(f"--simulated-nodes {count!r}: expected 0 or more")


def _check_port(port: int) -> None:
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise DevClusterError(f"--port {port!r}: expected 0 (any free port) or 1-65535")


def _choose_port(requested: int, recorded: int | None) -> int:
    if requested:
        if not _port_is_free(requested):
            raise DevClusterError(f"--port {requested}: {LOOPBACK}:{requested} is already in use")
        return requested
    if recorded and _port_is_free(recorded):
        return recorded
    return _free_port()


def _port_is_free(port: int) -> bool:
    # SO_REUSEADDR as servers set it: a port left in TIME_WAIT by the previous run still counts as free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]
