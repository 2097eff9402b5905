"""``provision-kubelet`` joins a dev cluster the way a machine joins: TLS bootstrap with a bootstrap token (the
controller-manager approves and signs the CSR), Node registration, status and Lease heartbeats, /healthz; a
restart reuses its certificate; a bad token or an unreachable apiserver are told apart from success."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from cryptography import x509

from provisioner import dev
from provisioner.pki import BootstrapToken, generate_bootstrap_token, kubeconfig, write_kubeconfig
from tests.integration.harness import Kubectl

pytestmark = pytest.mark.integration

T = TypeVar("T")
KUBELET = Path(sys.executable).parent / "provision-kubelet"
NODE = "test-node-1"
NODE_IP = "10.11.12.13"
LABELS = "node.kubernetes.io/pool=integration,team=infra"
TAINTS = "dedicated=kubelet-test:NoSchedule,example.com/new:PreferNoSchedule"
WAIT_LIMIT = 60.0  # a hang guard, not a performance bar
STOP_LIMIT = 15.0


def wait_for(probe: Callable[[], T], what: str, limit: float = WAIT_LIMIT) -> T:
    deadline = time.monotonic() + limit
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what} (last seen: {result!r})")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz(port: int) -> tuple[int, str] | None:
    # http.client rather than urllib: urllib would send loopback requests to an http_proxy from the environment.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        return response.status, response.read().decode()
    except OSError:
        return None  # not listening (yet)
    finally:
        connection.close()


@dataclass
class Kubelet:
    process: subprocess.Popen[bytes]
    log: Path
    healthz_port: int

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Workdir:
    root: Path

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubelet.kubeconfig"

    @property
    def cert_dir(self) -> Path:
        return self.root / "pki"

    def start(self, bootstrap_kubeconfig: Path, *extra: str) -> Kubelet:
        port = free_port()
        argv = [str(KUBELET), "--kubeconfig", str(self.kubeconfig), "--bootstrap-kubeconfig",
                str(bootstrap_kubeconfig), "--cert-dir", str(self.cert_dir), "--root-dir", str(self.root / "state"),
                "--hostname-override", NODE, "--node-ip", NODE_IP, "--node-labels", LABELS,
                "--register-with-taints", TAINTS, "--node-status-update-frequency", "1s",
                "--node-lease-duration-seconds", "4", "--healthz-port", str(port), *extra]
        log = self.root / f"kubelet-{time.monotonic_ns()}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        return Kubelet(process, log, port)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dev.DevCluster]:
    """A dev cluster of its own: a Ready node here must not attract other tests' pods."""
    directory = tmp_path_factory.mktemp("kubelet-cluster")
    started = dev.up(directory)
    try:
        yield started
    finally:
        dev.down(directory)


@pytest.fixture(scope="module")
def kubectl(cluster: dev.DevCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


def mint_bootstrap_token(kubectl: Kubectl) -> BootstrapToken:
    """A bootstrap token Secret as ``kubeadm token create`` makes it."""
    token = generate_bootstrap_token()
    expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
              "metadata": {"name": f"bootstrap-token-{token.id}", "namespace": "kube-system"},
              "stringData": {"token-id": token.id, "token-secret": token.secret, "expiration": expiration,
                             "usage-bootstrap-authentication": "true",
                             "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"}}
    kubectl.run("apply", "-f", "-", stdin=json.dumps(secret))
    return token


def bootstrap_kubeconfig(cluster: dev.DevCluster, path: Path, token: str, server: str = "") -> Path:
    ca_pem = dev.DevPaths(cluster.dir).ca_cert.read_bytes()
    write_kubeconfig(path, kubeconfig("provision-dev", server or cluster.server_url, ca_pem, "kubelet-bootstrap",
                                      token=token))
    return path


@dataclass
class Joined:
    kubelet: Kubelet
    workdir: Workdir
    bootstrap: Path
    token: BootstrapToken


@pytest.fixture(scope="module")
def joined(cluster: dev.DevCluster, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Joined]:
    """A kubelet that bootstrapped with a fresh token and registered test-node-1."""
    root = tmp_path_factory.mktemp("kubelet")
    token = mint_bootstrap_token(kubectl)
    bootstrap = bootstrap_kubeconfig(cluster, root / "bootstrap.kubeconfig", str(token))
    workdir = Workdir(root)
    kubelet = workdir.start(bootstrap)
    joined = Joined(kubelet, workdir, bootstrap, token)
    try:
        wait_for(lambda: healthz(kubelet.healthz_port) == (200, "ok") or kubelet.process.poll() is not None,
                 "the kubelet to register")
        assert kubelet.process.poll() is None, kubelet.log_text()
        yield joined
    finally:
        joined.kubelet.stop()


def node(kubectl: Kubectl) -> dict[str, Any]:
    return kubectl.json("get", "node", NODE)


def our_csrs(kubectl: Kubectl, token: BootstrapToken) -> list[dict[str, Any]]:
    return [c for c in kubectl.json("get", "csr")["items"]
            if c["spec"]["username"] == f"system:bootstrap:{token.id}"]


def test_tls_bootstrap_gets_an_approved_certificate_for_the_node(cluster: dev.DevCluster, kubectl: Kubectl,
                                                                 joined: Joined) -> None:
    [csr] = our_csrs(kubectl, joined.token)
    assert csr["metadata"]["name"].startswith("node-csr-")
    assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert sorted(csr["spec"]["usages"]) == ["client auth", "digital signature"]
    assert {c["type"]: c["status"] for c in csr["status"]["conditions"]} == {"Approved": "True"}
    assert csr["status"]["certificate"]
    assert f"created CertificateSigningRequest {csr['metadata']['name']}" in joined.kubelet.log_text()

    kubeconfig_file = joined.workdir.kubeconfig
    assert stat.S_IMODE(kubeconfig_file.stat().st_mode) == 0o600
    current = joined.workdir.cert_dir / "kubelet-client-current.pem"
    user = yaml.safe_load(kubeconfig_file.read_text())["users"][0]["user"]
    assert user == {"client-certificate": str(current), "client-key": str(current)}
    assert current.is_symlink() and stat.S_IMODE(current.resolve().stat().st_mode) == 0o600
    certificate = x509.load_pem_x509_certificate(current.read_bytes())
    assert certificate.subject.rfc4514_string() == f"CN=system:node:{NODE},O=system:nodes"
    certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(
        dev.DevPaths(cluster.dir).ca_cert.read_bytes()))


def test_the_node_is_ready_with_its_labels_taints_addresses_and_facts(kubectl: Kubectl, joined: Joined) -> None:
    registered = node(kubectl)
    labels = registered["metadata"]["labels"]
    assert {k: labels[k] for k in ("node.kubernetes.io/pool", "team", "kubernetes.io/hostname",
                                   "kubernetes.io/os")} == {"node.kubernetes.io/pool": "integration",
                                                            "team": "infra", "kubernetes.io/hostname": NODE,
                                                            "kubernetes.io/os": "linux"}
    assert labels["kubernetes.io/arch"] == labels["beta.kubernetes.io/arch"] in ("amd64", "arm64")
    assert registered["spec"]["taints"] == [
        {"key": "dedicated", "value": "kubelet-test", "effect": "NoSchedule"},
        {"key": "example.com/new", "effect": "PreferNoSchedule"}]
    status = registered["status"]
    assert status["addresses"] == [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": NODE}]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("True", "KubeletReady")
    assert {conditions[t]["status"] for t in ("MemoryPressure", "DiskPressure", "PIDPressure")} == {"False"}
    assert status["capacity"]["cpu"] == str(os.cpu_count()) and status["capacity"]["pods"] == "110"
    assert status["capacity"]["memory"].endswith("Ki") and status["allocatable"] == status["capacity"]
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == kubectl.json("version")["serverVersion"]["gitVersion"]
    assert info["machineID"] == Path("/etc/machine-id").read_text().strip()
    assert info["bootID"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert (info["operatingSystem"], info["containerRuntimeVersion"].split("://")[0]) in (
        ("linux", "crun"), ("linux", "unknown"))
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}

    table = kubectl.run("get", "nodes").stdout.splitlines()
    assert any(line.split()[:2] == [NODE, "Ready"] for line in table), table


def test_the_lease_is_renewed(kubectl: Kubectl, joined: Joined) -> None:
    lease = kubectl.json("get", "lease", NODE, "-n", "kube-node-lease")
    assert (lease["spec"]["holderIdentity"], lease["spec"]["leaseDurationSeconds"]) == (NODE, 4)
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": NODE,
                                                     "uid": node(kubectl)["metadata"]["uid"]}]
    first = lease["spec"]["renewTime"]
    wait_for(lambda: kubectl.json("get", "lease", NODE, "-n", "kube-node-lease")["spec"]["renewTime"] > first,
             "the Lease to be renewed")
    first_heartbeat = {c["type"]: c for c in node(kubectl)["status"]["conditions"]}["Ready"]
    wait_for(lambda: {c["type"]: c for c in node(kubectl)["status"]["conditions"]}["Ready"]["lastHeartbeatTime"]
             > first_heartbeat["lastHeartbeatTime"], "a newer status heartbeat")
    ready = {c["type"]: c for c in node(kubectl)["status"]["conditions"]}["Ready"]
    assert ready["lastTransitionTime"] == first_heartbeat["lastTransitionTime"]  # still Ready: no transition


def test_healthz_is_ok_once_registered(joined: Joined) -> None:
    assert healthz(joined.kubelet.healthz_port) == (200, "ok")


def test_a_restart_reuses_the_certificate(kubectl: Kubectl, joined: Joined) -> None:
    csrs_before = our_csrs(kubectl, joined.token)
    assert joined.kubelet.stop() == 0, joined.kubelet.log_text()
    assert "stopped" in joined.kubelet.log_text()
    joined.kubelet = joined.workdir.start(joined.bootstrap)
    wait_for(lambda: healthz(joined.kubelet.healthz_port) == (200, "ok") or joined.kubelet.process.poll() is not None,
             "the restarted kubelet to register")
    assert joined.kubelet.process.poll() is None, joined.kubelet.log_text()
    log = joined.kubelet.log_text()
    assert f"using the client certificate of {joined.workdir.kubeconfig}" in log
    assert "CertificateSigningRequest" not in log
    assert our_csrs(kubectl, joined.token) == csrs_before
    assert {c["type"]: c for c in node(kubectl)["status"]["conditions"]}["Ready"]["status"] == "True"


def test_a_bad_bootstrap_token_fails_clearly(cluster: dev.DevCluster, tmp_path: Path) -> None:
    unknown = generate_bootstrap_token()  # no Secret holds it
    bootstrap = bootstrap_kubeconfig(cluster, tmp_path / "bootstrap.kubeconfig", str(unknown))
    kubelet = Workdir(tmp_path).start(bootstrap)
    try:
        exit_code = kubelet.process.wait(timeout=WAIT_LIMIT)
    finally:
        kubelet.stop()
    assert exit_code == 1
    assert "the apiserver refused the bootstrap credentials (401 Unauthorized)" in kubelet.log_text()
    assert not Workdir(tmp_path).kubeconfig.exists()


def test_an_unreachable_apiserver_is_waited_for(cluster: dev.DevCluster, tmp_path: Path) -> None:
    closed = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    bootstrap = bootstrap_kubeconfig(cluster, tmp_path / "bootstrap.kubeconfig", str(generate_bootstrap_token()),
                                     server=closed)
    kubelet = Workdir(tmp_path).start(bootstrap)
    try:
        wait_for(lambda: "apiserver unavailable" in kubelet.log_text() or kubelet.process.poll() is not None,
                 "a retried connection")
        assert kubelet.process.poll() is None, kubelet.log_text()
        answer = wait_for(lambda: healthz(kubelet.healthz_port), "/healthz to answer")
    finally:
        exit_code = kubelet.stop()
    assert answer == (503, "node not registered yet")
    assert exit_code == 0, kubelet.log_text()  # SIGTERM while waiting is a clean stop
