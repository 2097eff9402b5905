"""Per-machine cgroups on fake /proc/self/cgroup and /sys/fs/cgroup trees (temp directories)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provisioner.errors import ProviderError
from provisioner.providers.machines import cgroups
from provisioner.providers.machines.cgroups import Hierarchy

HYBRID = """\
12:cpuset:/
11:cpu,cpuacct:/user.slice
10:memory:/user.slice
9:net_cls,net_prio:/
8:rdma:/
1:name=systemd:/user.slice/session-1.scope
0::/user.slice/session-1.scope
"""


def _hierarchy(root: Path, name: str, current: str = "/") -> Path:
    mount = root / name
    group = mount / current.lstrip("/")
    group.mkdir(parents=True, exist_ok=True)
    (mount / "cgroup.procs").write_text("")
    return mount


@pytest.fixture
def hybrid(tmp_path: Path) -> tuple[Path, Path]:
    """cgroup v1 controllers (cpu,cpuacct co-mounted; net_cls,net_prio only linked under one name; rdma not
    mounted), name=systemd and the unified hierarchy at unified/, as on the testbed."""
    root = tmp_path / "sys-fs-cgroup"
    cpuset = _hierarchy(root, "cpuset")
    (cpuset / "cpuset.cpus").write_text("0-1\n")
    (cpuset / "cpuset.mems").write_text("0\n")
    _hierarchy(root, "cpu,cpuacct", "/user.slice")
    (root / "cpu").symlink_to("cpu,cpuacct")
    _hierarchy(root, "memory", "/user.slice")
    _hierarchy(root, "net_cls", "/")
    _hierarchy(root, "systemd", "/user.slice/session-1.scope")
    _hierarchy(root, "unified", "/user.slice/session-1.scope")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(HYBRID)
    return proc, root


def test_hybrid_hierarchies(hybrid: tuple[Path, Path]) -> None:
    proc, root = hybrid
    assert cgroups.hierarchies(proc, root) == [
        Hierarchy(root / "cpuset", "/", True),
        Hierarchy(root / "cpu,cpuacct", "/user.slice", False),
        Hierarchy(root / "memory", "/user.slice", False),
        Hierarchy(root / "net_cls", "/", False),  # found under one of its controllers' names
        Hierarchy(root / "systemd", "/user.slice/session-1.scope", False),
        Hierarchy(root / "unified", "/user.slice/session-1.scope", False),
    ]


def test_pure_v2_hierarchy(tmp_path: Path) -> None:
    root = tmp_path / "sys-fs-cgroup"
    _hierarchy(root, ".", "/init.scope")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("0::/init.scope\n")
    assert cgroups.hierarchies(proc, root) == [Hierarchy(root, "/init.scope", False)]


@pytest.fixture
def fake_host(hybrid: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    proc, root = hybrid
    real = cgroups.hierarchies
    monkeypatch.setattr(cgroups, "hierarchies", lambda: real(proc, root))
    return root


def test_machine_groups_are_made_under_the_current_group_in_every_hierarchy(fake_host: Path) -> None:
    root = fake_host
    made = cgroups.create_machine_groups("provision-m1")
    assert made == [root / "cpuset/provision-m1", root / "cpu,cpuacct/user.slice/provision-m1",
                    root / "memory/user.slice/provision-m1", root / "net_cls/provision-m1",
                    root / "systemd/user.slice/session-1.scope/provision-m1",
                    root / "unified/user.slice/session-1.scope/provision-m1"]
    assert all(group.is_dir() for group in made)
    # A v1 cpuset group takes no tasks until it has cpus and mems: copied from its parent.
    assert (made[0] / "cpuset.cpus").read_text() == "0-1\n"
    assert (made[0] / "cpuset.mems").read_text() == "0\n"
    assert not (made[1] / "cpuset.cpus").exists()
    assert cgroups.create_machine_groups("provision-m1") == made, "making them again is no error"


def test_a_group_that_cannot_be_made_is_an_error(fake_host: Path) -> None:
    (fake_host / "memory" / "user.slice").rename(fake_host / "memory" / "gone")
    with pytest.raises(ProviderError, match=r"cgroup .*memory/user.slice/provision-m1: cannot create"):
        cgroups.create_machine_groups("provision-m1")


def test_groups_are_removed_deepest_first(tmp_path: Path) -> None:
    group = tmp_path / "systemd" / "provision-m1"
    for nested in ("init.scope", "system.slice/ssh.service", "system.slice/provision-kubelet.service",
                   "kubepods/burstable/pod1/ctr"):
        (group / nested).mkdir(parents=True)
    other = tmp_path / "unified" / "provision-m1"
    other.mkdir(parents=True)
    cgroups.remove_groups([group, other, tmp_path / "never-made"])
    assert not group.exists() and not other.exists()
    assert (tmp_path / "systemd").is_dir(), "only the machine's groups go"


def test_a_group_that_cannot_be_removed_is_an_error(tmp_path: Path) -> None:
    group = tmp_path / "provision-m1"
    (group / "payload").mkdir(parents=True)
    (group / "payload" / "busy").write_text("")  # rmdir fails as for a group with processes
    with pytest.raises(ProviderError, match="payload: cannot remove"):
        cgroups.remove_groups([group])


def test_processes_in_groups_at_any_depth(tmp_path: Path) -> None:
    group = tmp_path / "provision-m1"
    (group / "payload" / "system.slice").mkdir(parents=True)
    (group / "cgroup.procs").write_text("")
    (group / "payload" / "cgroup.procs").write_text("101\n102\n")
    (group / "payload" / "system.slice" / "cgroup.procs").write_text("103\n")
    assert cgroups.processes_in([group, tmp_path / "gone"]) == {101, 102, 103}


def test_join_groups_writes_the_callers_pid(tmp_path: Path) -> None:
    groups = [tmp_path / "a", tmp_path / "b"]
    for group in groups:
        group.mkdir()
        (group / "cgroup.procs").write_text("")
    cgroups.join_groups(groups)
    assert [(g / "cgroup.procs").read_text() for g in groups] == [str(os.getpid())] * 2
