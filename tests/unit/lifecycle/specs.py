"""Cluster specs written for lifecycle tests."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).parents[3] / "examples" / "cluster.yaml"


def write_spec(directory: Path, name: str = "local", *, subnet: str = "10.77.0.0/24",
               pod_cidr: str = "10.244.0.0/16", service_cidr: str = "10.96.0.0/12", workers: int = 2,
               cert_validity: str = "8760h", ca_validity: str = "87600h") -> Path:
    """A machines-provider cluster: one control plane and `workers` workers."""
    path = directory / f"{name}.yaml"
    path.write_text(f"""\
apiVersion: provision.dev/v1alpha1
kind: Cluster
metadata:
  name: {name}
spec:
  provider:
    type: machines
    machines:
      subnet: {subnet}
  network:
    podCIDR: {pod_cidr}
    serviceCIDR: {service_cidr}
  nodeGroups:
    - name: workers
      count: {workers}
      labels: {{tier: web}}
  pki:
    caValidity: {ca_validity}
    certValidity: {cert_validity}
""")
    return path


def write_ssh_spec(directory: Path, name: str = "site", *, pod_cidr: str = "10.244.0.0/16",
                   service_cidr: str = "10.96.0.0/12") -> Path:
    """An ssh-provider cluster of two existing hosts, reached as a non-root user on port 2222."""
    key = directory / "id_ed25519"
    key.write_text("not a real key\n")
    path = directory / f"{name}.yaml"
    path.write_text(f"""\
apiVersion: provision.dev/v1alpha1
kind: Cluster
metadata:
  name: {name}
spec:
  provider:
    type: ssh
    ssh: {{user: deploy, privateKey: {key}, port: 2222}}
  network: {{podCIDR: {pod_cidr}, serviceCIDR: {service_cidr}}}
  controlPlane:
    hosts: [{{name: cp1, address: 192.0.2.10}}]
  nodeGroups:
    - name: workers
      hosts: [{{name: worker1, address: 192.0.2.11}}]
""")
    return path
