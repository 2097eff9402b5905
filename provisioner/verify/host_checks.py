"""Host checks of `provision verify`: a pytest module that provisioner.verify.hosts runs in a pytest process
of its own, against the hosts of the rendered Ansible inventory through testinfra's ansible backend.

Each check is one test case per host, with the id "<host>" or "<host>:<item>" (report.py reads them back).
What is checked is what the playbooks install (playbooks/roles/*). The project's own test run does not collect
this module (its testpaths are tests/).
"""

from __future__ import annotations

import os
import shlex
from concurrent.futures import ThreadPoolExecutor

import pytest
import testinfra
from testinfra.host import Host
from testinfra.utils.ansible_runner import AnsibleRunner

from provisioner.verify import settings

OPT_DIR = "/opt/provision"
PKI_DIR = "/etc/provision/pki"
ETC_DIR = "/etc/provision"
DATA_DIR = "/var/lib/provision"
KUBELET_HEALTHZ = "http://127.0.0.1:10248/healthz"
PROXY_HEALTHZ = "http://127.0.0.1:10256/healthz"
KUBECTL = "/usr/local/bin/kubectl"

NODE_UNITS = ("provision-kubelet.service", "provision-proxy.service")
CONTROL_PLANE_UNITS = (
    "provision-apiserver.service",
    "provision-controller-manager.service",
    "provision-scheduler.service",
)
CONTROL_PLANE_KUBECONFIGS = ("admin", "scheduler", "controller-manager")
MAX_PARALLEL_CONNECTS = 32


def _setting(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise pytest.UsageError(f"{name} is not set: run these checks through `provision verify`") from None


INVENTORY = _setting(settings.INVENTORY)
RELEASE_DIR = f"{OPT_DIR}/releases/{_setting(settings.RELEASE)}"
APISERVER_PORT = int(_setting(settings.APISERVER_PORT))
SERVER_VERSION = _setting(settings.SERVER_VERSION)
STORE = _setting(settings.STORE)
KUBERNETES_SERVICE_IP = _setting(settings.KUBERNETES_SERVICE_IP)


def _group(name: str) -> list[str]:
    return AnsibleRunner.get_runner(INVENTORY).get_hosts(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Fixtures `node`, `control_plane`, `worker`: a host name; `unit`, `listener`, `kubeconfig`: a pair of a
    host name and what to check on it."""
    hosts = {"node": _group("nodes"), "control_plane": _group("control_plane"), "worker": _group("workers")}
    pairs = {
        "unit": [(h, u) for h in hosts["node"] for u in NODE_UNITS]
        + [(h, u) for h in hosts["control_plane"] for u in CONTROL_PLANE_UNITS],
        "listener": [(h, a) for h in hosts["control_plane"]
                     for a in (f"0.0.0.0:{APISERVER_PORT}", "127.0.0.1:10257", "127.0.0.1:10259")],
        "kubeconfig": [(h, k) for h in hosts["control_plane"] for k in CONTROL_PLANE_KUBECONFIGS],
    }
    for fixture, names in hosts.items():
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, names, ids=names)
    for fixture, values in pairs.items():
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, values, ids=[f"{host}:{item}" for host, item in values])


_connections: dict[str, Host | str] = {}  # host name -> the host, or why it cannot be reached


def connect(name: str) -> Host:
    """The host; an unreachable host fails each of its checks at once, saying why."""
    if not _connections:
        # Every host's first SSH connection (the control master, kept for the later checks) at once: a
        # handshake each, or the connect timeout of an unreachable host, in parallel instead of one by one.
        names = _group("all")
        with ThreadPoolExecutor(max_workers=min(len(names), MAX_PARALLEL_CONNECTS)) as pool:
            _connections.update(zip(names, pool.map(_first_connection, names), strict=True))
    connection = _connections[name]
    if isinstance(connection, str):
        pytest.fail(connection, pytrace=False)
    return connection


def _first_connection(name: str) -> Host | str:
    host = testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)
    try:
        host.run("true")
    except RuntimeError as e:  # testinfra's ssh backend: ssh itself failed (exit 255)
        stderr = getattr(e.args[0] if e.args else None, "stderr", "").strip()
        return f"unreachable over SSH: {stderr.splitlines()[-1] if stderr else e}"
    return host


def _file_is(host: Host, path: str, mode: int, owner: str = "root") -> None:
    # One command where testinfra's File asks three (exists, mode, user): each is an SSH round trip.
    found = host.run(f"stat -Lc '%a %U' {shlex.quote(path)}")
    assert found.rc == 0, f"{path} is missing"
    assert found.stdout.split() == [f"{mode:o}", owner], \
        f"{path} is {found.stdout.strip()}, expected {mode:o} {owner}"


# --- every node (and the control planes' own units) ---------------------------------------------------------

def test_current_release(node: str) -> None:
    current = connect(node).file(f"{OPT_DIR}/current")
    assert current.is_symlink, f"{OPT_DIR}/current is not a symlink"
    assert current.linked_to == RELEASE_DIR, \
        f"{OPT_DIR}/current points at {current.linked_to}, not {RELEASE_DIR}"


def test_release_imports_provisioner(node: str) -> None:
    result = connect(node).run(f"{RELEASE_DIR}/venv/bin/python -c 'import provisioner'")
    assert result.rc == 0, f"the release's python cannot import provisioner: {_last_line(result.stderr)}"


def test_ca_certificate(node: str) -> None:
    _file_is(connect(node), f"{PKI_DIR}/ca.crt", 0o644)


def test_unit_enabled_and_running(unit: tuple[str, str]) -> None:
    name, unit_name = unit
    quoted = shlex.quote(unit_name)
    states = connect(name).run(f"systemctl is-enabled {quoted}; systemctl is-active {quoted}").stdout.split()
    assert states == ["enabled", "active"], f"{unit_name} is {' and '.join(states) or 'unknown to systemd'}"


def test_kubelet_healthz(node: str) -> None:
    _healthz_ok(node, KUBELET_HEALTHZ)


def test_proxy_healthz(node: str) -> None:
    _healthz_ok(node, PROXY_HEALTHZ)


def test_kubernetes_service_reachable_through_kube_proxy(node: str) -> None:
    """The `kubernetes` Service's ClusterIP answers from every node: kube-proxy's DNAT to the apiserver works."""
    url = f"https://{KUBERNETES_SERVICE_IP}/readyz"
    result = connect(node).run(f"curl -fsS --max-time 5 --cacert {PKI_DIR}/ca.crt {url}")
    assert result.rc == 0 and result.stdout.strip() == "ok", \
        f"{url} answered: {_last_line(result.stdout + result.stderr)}"


def _healthz_ok(node: str, url: str) -> None:
    result = connect(node).run(f"curl -fsS --max-time 5 {url}")
    assert result.rc == 0 and result.stdout.strip() == "ok", f"{url} answered: {_last_line(result.stdout + result.stderr)}"


def test_kubelet_kubeconfig_private(node: str) -> None:
    _file_is(connect(node), f"{ETC_DIR}/kubelet/kubeconfig", 0o600)


def test_bootstrap_kubeconfig_removed(node: str) -> None:
    path = f"{ETC_DIR}/kubelet/bootstrap.kubeconfig"
    assert not connect(node).file(path).exists, f"{path} (with the join token) is still there"


def test_kubelet_client_certificate(node: str) -> None:
    _file_is(connect(node), f"{DATA_DIR}/kubelet/pki/kubelet-client-current.pem", 0o600)


# --- control planes -----------------------------------------------------------------------------------------

def test_listening(listener: tuple[str, str]) -> None:
    name, address = listener
    assert connect(name).socket(f"tcp://{address}").is_listening, f"nothing listens on {address}"


def test_private_keys(control_plane: str) -> None:
    host = connect(control_plane)
    listing = host.run(f"stat -c '%n %a %U' {PKI_DIR}/*.key")
    assert listing.rc == 0, f"cannot list the keys in {PKI_DIR}: {_last_line(listing.stderr)}"
    keys = dict(line.split(" ", 1) for line in listing.stdout.splitlines())
    assert f"{PKI_DIR}/ca.key" in keys, f"{PKI_DIR}/ca.key is missing"
    wrong = [f"{path} is {mode_owner}" for path, mode_owner in sorted(keys.items())
             if mode_owner != "600 root"]
    assert not wrong, "; ".join(wrong) + " (expected 0600 root)"


def test_kubeconfig_private(kubeconfig: tuple[str, str]) -> None:
    name, kubeconfig_name = kubeconfig
    _file_is(connect(name), f"{ETC_DIR}/{kubeconfig_name}.kubeconfig", 0o600)


def test_kubectl_server_version(control_plane: str) -> None:
    # No --kubeconfig: root's kubectl finds the admin kubeconfig at /root/.kube/config.
    result = connect(control_plane).run(f"{KUBECTL} version")
    server = next((line for line in result.stdout.splitlines() if line.startswith("Server Version:")), None)
    assert result.rc == 0 and server is not None, f"kubectl version failed: {_last_line(result.stderr)}"
    assert server.split(":", 1)[1].strip() == SERVER_VERSION, f"{server}, expected {SERVER_VERSION}"


def test_apiserver_database(control_plane: str) -> None:
    if STORE != "sqlite":
        pytest.skip(f"the store is {STORE}")
    host = connect(control_plane)
    _file_is(host, f"{DATA_DIR}/apiserver", 0o700)
    database = f"{DATA_DIR}/apiserver/state.db"
    assert host.file(database).is_file, f"{database} is missing"


# --- workers ------------------------------------------------------------------------------------------------

def test_no_apiserver(worker: str) -> None:
    unit = "provision-apiserver.service"
    load_state = connect(worker).run(f"systemctl show --property=LoadState --value {unit}")
    assert load_state.stdout.strip() == "not-found", f"a worker has the {unit} unit"


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"
