"""The cluster PKI on the operator's machine: CA, apiserver serving certificate, control-plane client
certificates, the admin kubeconfig; load-or-create so that a re-run issues nothing."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioner.lifecycle.credentials import CLIENT_CERTS, ensure_cluster_pki, write_admin_kubeconfig
from provisioner.lifecycle.state import ClusterState
from provisioner.pki import CertificateAuthority
from provisioner.pki.ca import CLOCK_SKEW_ALLOWANCE
from provisioner.spec import Cluster, load
from tests.unit.lifecycle.specs import write_spec

SHOP = Path(__file__).parents[2] / "data" / "render" / "labels-taints" / "cluster.yaml"
LEAVES = ("apiserver", "admin", "apiserver-kubelet-client", "kube-scheduler", "kube-controller-manager")


def _cert(directory: Path, stem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / f"{stem}.crt").read_bytes())


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _lifetime(cert: x509.Certificate) -> dt.timedelta:
    return cert.not_valid_after_utc - cert.not_valid_before_utc


@pytest.fixture
def shop() -> Cluster:
    return load(SHOP)


def test_a_new_cluster_gets_a_ca_and_every_certificate(shop: Cluster, tmp_path: Path) -> None:
    state = ClusterState(tmp_path, shop.name)
    pki = ensure_cluster_pki(shop, state)
    assert pki.issued == LEAVES
    assert pki.directory == state.pki_dir
    assert pki.ca_cert == state.pki_dir / "ca.crt"
    expected = {"ca.crt", "ca.key", *(f"{s}.crt" for s in LEAVES), *(f"{s}.key" for s in LEAVES)}
    assert set(_files(state.pki_dir)) == expected
    assert state.pki_dir.stat().st_mode & 0o777 == 0o700
    for name in expected:
        mode = (state.pki_dir / name).stat().st_mode & 0o777
        assert mode == (0o600 if name.endswith(".key") else 0o644), name
    ca = CertificateAuthority.load(state.pki_dir / "ca.crt", state.pki_dir / "ca.key")
    assert ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "provision-shop-ca"
    for stem in LEAVES:
        assert ca.issued(_cert(state.pki_dir, stem)), stem


def test_the_apiserver_certificate_covers_every_name_clients_use(shop: Cluster, tmp_path: Path) -> None:
    pki = ensure_cluster_pki(shop, ClusterState(tmp_path, shop.name))
    cert = _cert(pki.directory, "apiserver")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = set(san.get_values_for_type(x509.IPAddress))
    dns = set(san.get_values_for_type(x509.DNSName))
    assert {ipaddress.ip_address("10.60.0.10"), ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("10.100.0.1")} <= ips  # control plane, loopback, the kubernetes Service
    assert {"shop-cp-1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.corp.example"} <= dns
    assert ipaddress.ip_address("10.60.0.11") not in ips, "workers do not serve the API"
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]


@pytest.mark.parametrize(("stem", "user", "groups"), [
    ("admin", "kubernetes-admin", ["system:masters"]),
    ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"]),
    ("kube-scheduler", "system:kube-scheduler", []),
    ("kube-controller-manager", "system:kube-controller-manager", []),
])
def test_client_certificates_name_their_user_and_groups(shop: Cluster, tmp_path: Path, stem: str, user: str,
                                                        groups: list[str]) -> None:
    assert stem in CLIENT_CERTS
    pki = ensure_cluster_pki(shop, ClusterState(tmp_path, shop.name))
    cert = _cert(pki.directory, stem)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [user]
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == groups
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_a_second_call_issues_nothing(shop: Cluster, tmp_path: Path) -> None:
    state = ClusterState(tmp_path, shop.name)
    ensure_cluster_pki(shop, state)
    before = _files(state.pki_dir)
    assert ensure_cluster_pki(shop, state).issued == ()
    assert _files(state.pki_dir) == before


def test_a_moved_control_plane_reissues_only_the_apiserver_certificate(tmp_path: Path) -> None:
    state = ClusterState(tmp_path / "state", "local")
    ensure_cluster_pki(load(write_spec(tmp_path, subnet="10.77.0.0/24")), state)
    before = _files(state.pki_dir)
    moved = load(write_spec(tmp_path, subnet="10.78.0.0/24"))
    assert ensure_cluster_pki(moved, state).issued == ("apiserver",)
    after = _files(state.pki_dir)
    assert {name for name in after if after[name] != before[name]} == {"apiserver.crt", "apiserver.key"}
    san = _cert(state.pki_dir, "apiserver").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.78.0.10") in san.get_values_for_type(x509.IPAddress)


def test_a_leaf_the_ca_did_not_issue_is_reissued(shop: Cluster, tmp_path: Path) -> None:
    state = ClusterState(tmp_path, shop.name)
    ensure_cluster_pki(shop, state)
    other = ClusterState(tmp_path / "other", shop.name)
    ensure_cluster_pki(shop, other)
    for suffix in ("crt", "key"):
        (state.pki_dir / f"kube-scheduler.{suffix}").write_bytes((other.pki_dir / f"kube-scheduler.{suffix}")
                                                                 .read_bytes())
    assert ensure_cluster_pki(shop, state).issued == ("kube-scheduler",)


def test_the_admin_kubeconfig_reaches_the_first_control_plane(shop: Cluster, tmp_path: Path) -> None:
    state = ClusterState(tmp_path, shop.name)
    pki = ensure_cluster_pki(shop, state)
    path = write_admin_kubeconfig(shop, state, pki)
    assert path == state.admin_kubeconfig
    assert path.stat().st_mode & 0o777 == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://10.60.0.10:8443"
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    assert ca == (state.pki_dir / "ca.crt").read_bytes()
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == (state.pki_dir / "admin.crt").read_bytes()
    assert base64.b64decode(user["client-key-data"]) == (state.pki_dir / "admin.key").read_bytes()
    assert config["current-context"] == "kubernetes-admin@shop"


def test_validity_follows_the_spec(tmp_path: Path) -> None:
    cluster = load(write_spec(tmp_path, cert_validity="2160h", ca_validity="43800h"))
    pki = ensure_cluster_pki(cluster, ClusterState(tmp_path / "state", cluster.name))
    second = dt.timedelta(seconds=1)
    assert abs(_lifetime(pki.ca.cert) - (dt.timedelta(hours=43800) + CLOCK_SKEW_ALLOWANCE)) <= second
    for stem in LEAVES:
        assert abs(_lifetime(_cert(pki.directory, stem)) - (dt.timedelta(hours=2160) + CLOCK_SKEW_ALLOWANCE)) \
            <= second, stem


def test_a_short_cert_validity_is_kept_on_a_rerun(tmp_path: Path) -> None:
    cluster = load(write_spec(tmp_path, cert_validity="240h"))
    state = ClusterState(tmp_path / "state", cluster.name)
    ensure_cluster_pki(cluster, state)
    assert ensure_cluster_pki(cluster, state).issued == ()


def test_a_short_ca_validity_is_kept_on_a_rerun(tmp_path: Path) -> None:
    cluster = load(write_spec(tmp_path, cert_validity="24h", ca_validity="240h"))
    state = ClusterState(tmp_path / "state", cluster.name)
    ensure_cluster_pki(cluster, state)
    assert ensure_cluster_pki(cluster, state).issued == ()
