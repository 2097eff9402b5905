"""Cluster + machines → an ansible-runner private_data_dir. Inventory and variables are data (dicts dumped as
YAML), never text templates; Jinja2 is used only by the roles, for files placed on hosts.

    workspace/inventory/hosts.yml   groups control_plane, workers, nodes (= both); per-host address, labels, taints
    workspace/env/extravars         cluster-wide settings and where the bundle, PKI and templates are
    workspace/env/settings          ansible-runner's settings (Ansible's come from provisioner.runner)
    workspace/project -> playbooks/ the static playbooks and roles of the checkout
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from provisioner.bundle.debs import DebRepo
from provisioner.pki import write_public_file
from provisioner.providers.base import HostAccess
from provisioner.providers.machines.provider import BUNDLES_MOUNT
from provisioner.providers.sshkeys import ssh_options
from provisioner.services.api.nodes import kubelet_may_set_label
from provisioner.spec import Cluster, Machine

HOST_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class Sources:
    """Operator-side paths the roles copy from."""

    bundle_dir: Path
    pki_dir: Path
    templates_dir: Path
    playbooks_dir: Path
    debs: DebRepo | None = None  # for hosts the tool did not build: the Debian packages they may lack


def inventory(cluster: Cluster, accesses: Sequence[HostAccess]) -> dict[str, Any]:
    by_name = {a.name: a for a in accesses}
    missing = [m.name for m in cluster.machines if m.name not in by_name]
    if missing:
        raise ValueError(f"no access to {', '.join(missing)}")
    first = accesses[0]
    return {"all": {
        "vars": {
            "ansible_user": first.user,
            "ansible_python_interpreter": HOST_PYTHON,
            "ansible_ssh_common_args": " ".join(ssh_options(first.private_key, first.known_hosts, first.pinned)),
        },
        "children": {
            "control_plane": {"hosts": {m.name: _host_vars(m, by_name[m.name]) for m in cluster.control_planes}},
            "workers": {"hosts": {m.name: _host_vars(m, by_name[m.name]) for m in cluster.workers}},
            "nodes": {"children": {"control_plane": {}, "workers": {}}},
        },
    }}


def _host_vars(machine: Machine, access: HostAccess) -> dict[str, Any]:
    return {
        "ansible_host": str(access.address),
        "ansible_port": access.port,
        "node_ip": str(machine.address),
        "node_role": machine.role,
        "node_group": machine.group,
        # The kubelet registers the labels NodeRestriction lets it set; the rest (node-role.kubernetes.io/…)
        # the tool applies as the admin once the Node exists, as kubeadm's mark-control-plane phase does.
        "node_labels": {k: v for k, v in sorted(machine.labels.items()) if kubelet_may_set_label(k)},
        "node_taints": [str(t) for t in machine.taints],
    }


def extravars(cluster: Cluster, release: str | None, sources: Sources, python_version: str,
              arch: str) -> dict[str, Any]:
    """`release` (the bundle key) is None before the bundle phase has built one."""
    network = cluster.network
    first = cluster.control_planes[0]
    return {
        "cluster_name": cluster.name,
        **({"provision_release": release} if release else {}),
        "provision_python_version": python_version,
        "bundle_arch": arch,
        "bundle_dir": str(sources.bundle_dir),
        "pki_source_dir": str(sources.pki_dir),
        "templates_dir": str(sources.templates_dir),
        "apiserver_address": str(first.address),
        "apiserver_port": network.apiserver_port,
        "pod_cidr": str(network.pod_cidr),
        "service_cidr": str(network.service_cidr),
        "node_cidr_mask_size": network.node_cidr_mask_size,
        "node_port_range": network.node_port_range,
        "cluster_domain": network.cluster_domain,
        "dns_ip": str(network.dns_ip),
        "kubernetes_service_ip": str(cluster.kubernetes_service_ip),
        "store": cluster.control_plane.store,
        # Local machines see the operator's bundle cache here (read-only bind); other hosts get it copied.
        **({"bundle_host_dir": BUNDLES_MOUNT} if cluster.provider.type == "machines" else {}),
        **({"debs_dir": str(sources.debs.directory), "node_packages": list(sources.debs.packages)}
           if sources.debs else {}),
    }


# ansible-runner's own settings: check for cancel/timeout every second (its default is 5 s).
RUNNER_SETTINGS = {"pexpect_timeout": 1}


def write_workspace(workspace: Path, cluster: Cluster, accesses: Sequence[HostAccess], release: str | None,
                    sources: Sources, python_version: str, arch: str) -> Path:
    for sub in ("inventory", "env"):
        (workspace / sub).mkdir(parents=True, exist_ok=True)
    write_public_file(workspace / "inventory" / "hosts.yml", _yaml(inventory(cluster, accesses)))
    write_public_file(workspace / "env" / "extravars", _yaml(extravars(cluster, release, sources, python_version, arch)))
    write_public_file(workspace / "env" / "settings", _yaml(RUNNER_SETTINGS))
    project = workspace / "project"
    if project.is_symlink() and Path(os.readlink(project)) != sources.playbooks_dir:
        project.unlink()
    if not project.is_symlink():
        project.symlink_to(sources.playbooks_dir, target_is_directory=True)
    return workspace


def _yaml(data: dict[str, Any]) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).encode()
