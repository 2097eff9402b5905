"""provisioner.dev and `provision dev …`: up → ready → status → down, with a stand-in apiserver written here.

The stand-in is a small TLS server answering /readyz (and /whoami with the client certificate's subject), so
these tests exercise process launch, readiness, PID bookkeeping and shutdown without the real apiserver.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from provisioner import dev
from provisioner.cli.main import main
from provisioner.dev import cluster as cluster_module
from provisioner.dev.components import APISERVER, Component, LaunchContext, apiserver_readyz
from provisioner.errors import DevClusterError
from provisioner.processes import identity_of

STAND_IN = textwrap.dedent(
    """
    import argparse, http.server, os, signal, ssl, sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--secure-port", type=int, required=True)
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-private-key-file", required=True)
    parser.add_argument("--client-ca-file", required=True)
    parser.add_argument("--mode", default="ok", choices=["ok", "exit", "never-ready", "ignore-term"])
    args = parser.parse_args()
    print(f"stand-in pid {os.getpid()} mode {args.mode}", flush=True)
    if args.mode == "exit":
        print("boom: cannot open storage", file=sys.stderr, flush=True)
        sys.exit(3)
    if args.mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    dying = []

    def start_dying(signum, frame):
        # Like a process that was just killed but is still tearing down: alive, no longer serving, soon gone.
        import threading
        dying.append(True)
        threading.Timer(1.0, lambda: os._exit(9)).start()

    signal.signal(signal.SIGUSR1, start_dying)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/readyz":
                status, body = (503, "storage not ready") if args.mode == "never-ready" or dying else (200, "ok")
            elif self.path == "/whoami":
                cert = self.connection.getpeercert() or {}
                subject = [value for rdn in cert.get("subject", ()) for _, value in rdn]
                status, body = 200, " ".join(subject) or "anonymous"
            else:
                status, body = 404, "not found"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, fmt, *a):
            print(fmt % a, flush=True)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(args.client_ca_file)
    server = http.server.HTTPServer(("127.0.0.1", args.secure_port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
    """
)


@pytest.fixture
def stand_in_script(tmp_path: Path) -> Path:
    script = tmp_path / "stand_in_apiserver.py"
    script.write_text(STAND_IN)
    return script


def stand_in(script: Path, mode: str = "ok") -> Component:
    def command(ctx: LaunchContext) -> list[str]:
        p = ctx.paths
        return [
            sys.executable, str(script), "--secure-port", str(ctx.port),
            "--tls-cert-file", str(p.apiserver_cert), "--tls-private-key-file", str(p.apiserver_key),
            "--client-ca-file", str(p.ca_cert), "--mode", mode,
        ]  # fmt: skip

    return Component("apiserver", command, apiserver_readyz)


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Iterator[Path]:
    """A dev cluster directory; whatever a test leaves running is stopped and checked gone afterwards."""
    directory = tmp_path / "devcluster"
    yield directory
    pids = recorded_pids(directory)
    if (directory / "dev.json").exists():
        dev.down(directory, stop_timeout=1.0)
    for pid in pids:
        assert identity_of(pid) is None, f"pid {pid} still running after the test"


def recorded_pids(directory: Path) -> list[int]:
    try:
        state = json.loads((directory / "dev.json").read_text())
    except FileNotFoundError:
        return []
    return [c["pid"] for c in state["components"] if c["pid"] is not None]


def pid_from_log(log: Path) -> int:
    match = re.findall(r"stand-in pid (\d+)", log.read_text())
    assert match, log.read_text()
    return int(match[-1])


# --- up / status / down ---------------------------------------------------------------------------------------


def test_up_status_down(cluster_dir: Path, stand_in_script: Path) -> None:
    cluster = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    assert cluster.ready and not cluster.already_running
    assert cluster.server_url == f"https://127.0.0.1:{cluster.port}"
    (apiserver,) = cluster.components
    assert apiserver.running and apiserver.pid is not None
    cmdline = Path(f"/proc/{apiserver.pid}/cmdline").read_bytes().split(b"\0")
    assert str(stand_in_script).encode() in cmdline
    assert os.getsid(apiserver.pid) == apiserver.pid  # its own session: terminal signals do not reach it
    assert recorded_pids(cluster_dir) == [apiserver.pid]
    assert apiserver.log == cluster_dir.absolute() / "logs" / "apiserver.log"

    state = dev.status(cluster_dir)
    assert state.ready
    assert "readyz: ok" in state.components[0].health

    result = dev.down(cluster_dir)
    assert [(c.name, c.pid, c.outcome) for c in result.components] == [
        ("apiserver", apiserver.pid, "stopped")
    ]
    assert identity_of(apiserver.pid) is None
    assert recorded_pids(cluster_dir) == []
    after = dev.status(cluster_dir)
    assert not after.ready and not after.components[0].running


def test_up_writes_pki_and_a_working_admin_kubeconfig(cluster_dir: Path, stand_in_script: Path) -> None:
    cluster = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    pki_dir = cluster_dir / "pki"
    for key in ("ca.key", "apiserver.key", "admin.key"):
        assert (pki_dir / key).stat().st_mode & 0o777 == 0o600, key
    assert cluster.kubeconfig == cluster_dir.absolute() / "admin.kubeconfig"
    assert cluster.kubeconfig.stat().st_mode & 0o777 == 0o600
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{cluster.port}"
    assert config["current-context"] == "kubernetes-admin@provision-dev"
    # The embedded CA and client certificate authenticate us as the admin, checked by the stand-in's TLS.
    assert whoami(cluster.kubeconfig, cluster.port, tmp=cluster_dir) == "system:masters kubernetes-admin"


def whoami(kubeconfig_path: Path, port: int, tmp: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl:
        result = subprocess.run(
            [kubectl, "--kubeconfig", kubeconfig_path, "get", "--raw", "/whoami"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()
    config = yaml.safe_load(kubeconfig_path.read_text())
    user = config["users"][0]["user"]
    (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
    (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    context = ssl.create_default_context(cadata=ca)
    context.load_cert_chain(tmp / "c.crt", tmp / "c.key")
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    connection.request("GET", "/whoami")
    return connection.getresponse().read().decode()


def test_up_is_idempotent_while_running(cluster_dir: Path, stand_in_script: Path) -> None:
    first = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    second = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    assert second.already_running
    assert second.port == first.port
    assert [c.pid for c in second.components] == [c.pid for c in first.components]
    log = (cluster_dir / "logs" / "apiserver.log").read_text()
    assert log.count("stand-in pid") == 1  # nothing else was started
    with pytest.raises(DevClusterError, match=rf"running on port {first.port}; run `provision dev down"):
        dev.up(cluster_dir, port=free_port(), components=[stand_in(stand_in_script)])


def test_up_right_after_a_kill_waits_for_the_dying_process_and_restarts_it(cluster_dir: Path,
                                                                          stand_in_script: Path) -> None:
    first = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    first_pid = first.components[0].pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGUSR1)
    time.sleep(0.1)  # it now runs but answers /readyz with 503, then exits
    second = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    assert second.ready and not second.already_running
    assert second.components[0].pid != first_pid


def test_rerun_reuses_port_and_pki(cluster_dir: Path, stand_in_script: Path) -> None:
    first = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    ca_before = (cluster_dir / "pki" / "ca.crt").read_bytes()
    admin_before = (cluster_dir / "pki" / "admin.crt").read_bytes()
    dev.down(cluster_dir)
    second = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    assert second.ready and not second.already_running
    assert second.port == first.port
    assert (cluster_dir / "pki" / "ca.crt").read_bytes() == ca_before
    assert (cluster_dir / "pki" / "admin.crt").read_bytes() == admin_before
    assert second.components[0].pid != first.components[0].pid


def test_explicit_port_is_used_and_a_busy_port_is_refused(cluster_dir: Path, stand_in_script: Path) -> None:
    port = free_port()
    cluster = dev.up(cluster_dir, port=port, components=[stand_in(stand_in_script)])
    assert cluster.port == port and cluster.ready
    dev.down(cluster_dir)
    with socket.create_server(("127.0.0.1", 0)) as busy:
        busy_port = busy.getsockname()[1]
        with pytest.raises(
            DevClusterError, match=rf"--port {busy_port}: 127\.0\.0\.1:{busy_port} is already in use"
        ):
            dev.up(cluster_dir, port=busy_port, components=[stand_in(stand_in_script)])


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


# --- failures -------------------------------------------------------------------------------------------------


def test_component_exiting_at_once_is_reported_with_its_log_tail(
    cluster_dir: Path, stand_in_script: Path
) -> None:
    with pytest.raises(DevClusterError) as info:
        dev.up(cluster_dir, components=[stand_in(stand_in_script, mode="exit")])
    message = str(info.value)
    log = cluster_dir.absolute() / "logs" / "apiserver.log"
    assert message.startswith("apiserver exited with code 3 before it was ready")
    assert str(log) in message
    assert "boom: cannot open storage" in message
    assert recorded_pids(cluster_dir) == []


def test_never_ready_times_out_and_stops_what_it_started(cluster_dir: Path, stand_in_script: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DevClusterError) as info:
        dev.up(cluster_dir, components=[stand_in(stand_in_script, mode="never-ready")], ready_timeout=1.5)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith("apiserver not ready after 1.5s")
    assert "HTTP 503: storage not ready" in message
    assert "apiserver.log" in message and "GET /readyz" in message  # the stand-in's access log, from the tail
    pid = pid_from_log(cluster_dir / "logs" / "apiserver.log")
    assert identity_of(pid) is None
    assert recorded_pids(cluster_dir) == []


def test_down_kills_a_process_that_ignores_sigterm(cluster_dir: Path, stand_in_script: Path) -> None:
    cluster = dev.up(cluster_dir, components=[stand_in(stand_in_script, mode="ignore-term")])
    pid = cluster.components[0].pid
    result = dev.down(cluster_dir, stop_timeout=0.5)
    assert result.components[0].outcome == "killed"
    assert identity_of(pid) is None


def test_down_never_signals_a_pid_that_is_no_longer_ours(cluster_dir: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        identity = identity_of(stranger.pid)
        assert identity is not None
        cluster_dir.mkdir()
        record = {
            "name": "apiserver", "argv": ["x"], "log": "x.log", "health_url": None,
            "pid": stranger.pid, "start_ticks": identity.start_ticks + 1, "boot_id": identity.boot_id,
        }  # fmt: skip
        (cluster_dir / "dev.json").write_text(
            json.dumps({"version": 1, "port": 6443, "components": [record]})
        )
        result = dev.down(cluster_dir, stop_timeout=0.5)
        assert "belongs to another process" in result.components[0].outcome
        assert not result.stopped_any
        assert stranger.poll() is None  # still alive: never signalled
        assert recorded_pids(cluster_dir) == []
    finally:
        stranger.kill()
        stranger.wait()


def test_down_on_a_stopped_cluster_is_a_no_op(cluster_dir: Path, stand_in_script: Path) -> None:
    cluster_dir.mkdir()
    assert dev.down(cluster_dir).components == ()
    dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    assert dev.down(cluster_dir).stopped_any
    again = dev.down(cluster_dir)
    assert not again.stopped_any
    assert [c.outcome for c in again.components] == ["not running"]


def test_half_a_ca_is_refused_rather_than_replaced(cluster_dir: Path, stand_in_script: Path) -> None:
    (cluster_dir / "pki").mkdir(parents=True)
    (cluster_dir / "pki" / "ca.crt").write_text("placeholder")
    with pytest.raises(DevClusterError, match=r"pki/ca\.key: missing while its pair exists"):
        dev.up(cluster_dir, components=[stand_in(stand_in_script)])


def test_a_corrupt_state_file_is_named(tmp_path: Path) -> None:
    cluster_dir = tmp_path
    (cluster_dir / "dev.json").write_text('{"version": 1,\n "port": ')
    with pytest.raises(DevClusterError, match=r"dev\.json: invalid JSON at line 2"):
        dev.status(cluster_dir)
    (cluster_dir / "dev.json").write_text('{"version": 1, "port": 6443, "components": [{"name": 5}]}')
    with pytest.raises(
        DevClusterError, match=r"dev\.json: components\[0\]\.name: missing or of the wrong type"
    ):
        dev.down(cluster_dir)


def test_the_apiserver_component_runs_the_real_apiserver(tmp_path: Path) -> None:
    ctx = LaunchContext(dev.DevPaths(tmp_path), 6443)
    assert dev.DEFAULT_COMPONENTS[0] is APISERVER  # first: everything else talks to it
    pki_dir = tmp_path / "pki"
    assert APISERVER.command(ctx) == [
        sys.executable, "-m", "provisioner.services.apiserver.main",
        "--bind-address", "127.0.0.1", "--secure-port", "6443",
        "--tls-cert-file", str(pki_dir / "apiserver.crt"), "--tls-private-key-file", str(pki_dir / "apiserver.key"),
        "--client-ca-file", str(pki_dir / "ca.crt"),
        "--storage-url", f"sqlite://{tmp_path}/apiserver/state.db",
        "--service-cluster-ip-range", "10.96.0.0/12", "--service-node-port-range", "30000-32767",
        "--kubelet-client-certificate", str(pki_dir / "apiserver-kubelet-client.crt"),
        "--kubelet-client-key", str(pki_dir / "apiserver-kubelet-client.key"),
        "--kubelet-certificate-authority", str(pki_dir / "ca.crt"),
    ]  # fmt: skip
    assert APISERVER.health_url(ctx) == "https://127.0.0.1:6443/readyz"


# --- CLI ------------------------------------------------------------------------------------------------------


def test_cli_up_status_down(
    cluster_dir: Path,
    stand_in_script: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cluster_module, "DEFAULT_COMPONENTS", (stand_in(stand_in_script),))
    assert main(["dev", "up", "--dir", str(cluster_dir)]) == 0
    out = capsys.readouterr().out
    kubeconfig = cluster_dir.absolute() / "admin.kubeconfig"
    assert f"admin kubeconfig: {kubeconfig}" in out
    assert f"export KUBECONFIG={kubeconfig}" in out.splitlines()

    assert main(["dev", "up", "--dir", str(cluster_dir)]) == 0
    assert "already running" in capsys.readouterr().out

    assert main(["dev", "status", "--dir", str(cluster_dir)]) == 0
    assert re.search(
        r"apiserver: up \(pid \d+\), https://127\.0\.0\.1:\d+/readyz: ok", capsys.readouterr().out
    )

    assert main(["dev", "down", "--dir", str(cluster_dir)]) == 0
    assert re.search(r"apiserver: stopped \(pid \d+\)", capsys.readouterr().out)

    assert main(["dev", "status", "--dir", str(cluster_dir)]) == 3
    assert "apiserver: down" in capsys.readouterr().out
    assert main(["dev", "down", "--dir", str(cluster_dir)]) == 0
    assert "is not running; nothing to stop" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dev", "up"], "the following arguments are required: --dir"),
        (
            ["dev", "up", "--dir", "x", "--port", "http"],
            "argument --port: expected a port number, got 'http'",
        ),
        (["dev", "up", "--dir", "x", "--port", "70000"], "argument --port: expected 0-65535, got 70000"),
        (["dev", "restart", "--dir", "x"], "invalid choice: 'restart'"),
        (["dev"], "the following arguments are required: COMMAND"),
        (["dev", "status", "--dir", ""], "argument --dir: expected a directory path, got an empty string"),
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["up", "down", "status"])
def test_cli_dir_that_is_a_file(tmp_path: Path, verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert main(["dev", verb, "--dir", str(not_a_dir)]) == 1
    assert capsys.readouterr().err == f"error: --dir {not_a_dir}: not a directory\n"


def test_cli_status_and_down_of_a_missing_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["dev", "down", "--dir", str(missing)]) == 1
    assert capsys.readouterr().err == f"error: --dir {missing}: no such directory\n"
    missing.mkdir()
    assert main(["dev", "status", "--dir", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: no dev cluster in {missing} (dev.json not found)")
    assert err.count("\n") == 1


def test_console_script_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "provisioner.cli.main", "dev", "up", "--dir", str(not_a_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"error: --dir {not_a_dir}: not a directory\n"
    assert result.stdout == ""


# --- control loops and simulated nodes (issue 3) --------------------------------------------------------------


def test_dev_up_runs_the_scheduler_and_controller_manager_by_default(tmp_path: Path) -> None:
    ctx = LaunchContext(dev.DevPaths(tmp_path), 6443)
    assert [c.name for c in dev.DEFAULT_COMPONENTS] == ["apiserver", "scheduler", "controller-manager"]
    assert dev.SCHEDULER.command(ctx) == [
        sys.executable, "-m", "provisioner.services.scheduler.main",
        "--kubeconfig", str(tmp_path / "scheduler.kubeconfig"), "--healthz-bind-address=127.0.0.1:0",
    ]  # fmt: skip
    assert dev.CONTROLLER_MANAGER.command(ctx) == [
        sys.executable, "-m", "provisioner.services.controllers.main",
        "--kubeconfig", str(tmp_path / "controller-manager.kubeconfig"),
        "--cluster-signing-cert-file", str(tmp_path / "pki" / "ca.crt"),
        "--cluster-signing-key-file", str(tmp_path / "pki" / "ca.key"),
        "--cluster-cidr", "10.244.0.0/16", "--healthz-bind-address=127.0.0.1:0",
    ]  # fmt: skip
    shortened = dev.controller_manager(["--node-monitor-grace-period=5s"]).command(ctx)
    assert shortened[-1] == "--node-monitor-grace-period=5s"
    assert dev.simulated_nodes(3).command(ctx) == [
        sys.executable, "-m", "provisioner.services.simnodes.main",
        "--kubeconfig", str(tmp_path / "simnodes.kubeconfig"), "--count", "3",
        "--stopped-nodes-file", str(tmp_path / "stopped-nodes"),
    ]  # fmt: skip
    for component in (dev.SCHEDULER, dev.CONTROLLER_MANAGER, dev.simulated_nodes(1)):
        assert component.health_url(ctx) is None


@pytest.mark.parametrize(
    ("component", "identity"),
    [
        ("scheduler", "system:kube-scheduler"),
        ("controller-manager", "system:kube-controller-manager"),
        ("simnodes", "system:masters provision:simulated-nodes"),
    ],
)
def test_up_writes_a_kubeconfig_per_control_loop(
    cluster_dir: Path, stand_in_script: Path, component: str, identity: str
) -> None:
    cluster = dev.up(cluster_dir, components=[stand_in(stand_in_script)])
    kubeconfig_path = cluster_dir.absolute() / f"{component}.kubeconfig"
    assert kubeconfig_path.stat().st_mode & 0o777 == 0o600
    assert (cluster_dir / "pki" / f"{component}.key").stat().st_mode & 0o777 == 0o600
    assert whoami(kubeconfig_path, cluster.port, tmp=cluster_dir) == identity


SLEEPER = "import sys, time; print('sleeper', *sys.argv[1:], flush=True); time.sleep(600)"


def sleeper(name: str) -> Callable[[int, Sequence[str]], Component]:
    def component(count: int, extra_args: Sequence[str] = ()) -> Component:
        return Component(name, lambda ctx: [sys.executable, "-c", SLEEPER, "--count", str(count)],
                         lambda ctx: None)

    return component


def assert_logged(log: Path, line: str) -> None:
    """The process may still be starting when up returns (no health check): wait for its line."""
    deadline = time.monotonic() + 30
    while line not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_simulated_nodes_add_a_process_and_a_different_count_is_refused(
    cluster_dir: Path, stand_in_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_module, "simulated_nodes_component", sleeper("simnodes"))
    cluster = dev.up(cluster_dir, components=[stand_in(stand_in_script)], simulated_nodes=3)
    assert [(c.name, c.running, c.ready) for c in cluster.components] == [
        ("apiserver", True, True), ("simnodes", True, True)]
    assert_logged(cluster_dir / "logs" / "simnodes.log", "sleeper --count 3")
    again = dev.up(cluster_dir, components=[stand_in(stand_in_script)], simulated_nodes=3)
    assert again.already_running
    with pytest.raises(DevClusterError, match=r"simnodes is running in .* with other arguments; run `provision"):
        dev.up(cluster_dir, components=[stand_in(stand_in_script)], simulated_nodes=5)
    result = dev.down(cluster_dir)
    assert [(c.name, c.outcome) for c in result.components] == [("simnodes", "stopped"), ("apiserver", "stopped")]


def test_cli_up_passes_simulated_nodes(
    cluster_dir: Path, stand_in_script: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cluster_module, "DEFAULT_COMPONENTS", (stand_in(stand_in_script),))
    monkeypatch.setattr(cluster_module, "simulated_nodes_component", sleeper("simnodes"))
    assert main(["dev", "up", "--dir", str(cluster_dir), "--simulated-nodes", "2"]) == 0
    assert re.search(r"simnodes pid \d+", capsys.readouterr().out)
    assert_logged(cluster_dir / "logs" / "simnodes.log", "sleeper --count 2")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dev", "up", "--dir", "x", "--simulated-nodes", "-1"], "argument --simulated-nodes: expected 0 or more"),
        (["dev", "up", "--dir", "x", "--simulated-nodes", "many"], "expected a number of nodes, got 'many'"),
    ],
)
def test_cli_simulated_nodes_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_library_refuses_a_negative_node_count(cluster_dir: Path) -> None:
    with pytest.raises(DevClusterError, match=r"--simulated-nodes -2: expected 0 or more"):
        dev.up(cluster_dir, simulated_nodes=-2)


def test_a_component_without_health_check_that_dies_at_start_fails_up(
    cluster_dir: Path, stand_in_script: Path
) -> None:
    dying = Component(
        "controller-manager",
        lambda ctx: [sys.executable, "-c", "import sys, time; time.sleep(0.3); "
                     "print('cannot load controller(s): job', flush=True); sys.exit(4)"],
        lambda ctx: None,
    )  # fmt: skip
    with pytest.raises(DevClusterError) as info:
        dev.up(cluster_dir, components=[stand_in(stand_in_script), dying])
    message = str(info.value)
    assert message.startswith("controller-manager exited with code 4 right after it started")
    assert "cannot load controller(s): job" in message
    assert recorded_pids(cluster_dir) == []  # the apiserver started before it was stopped again
