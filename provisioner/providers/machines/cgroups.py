"""A cgroup subtree of its own for each machine, made before systemd-nspawn starts (testbed.md, host step 2).

Without it every machine's nspawn puts its payload in the same `/payload` and `/supervisor` groups, one
machine's systemd sees another's processes, and OCI runtimes inside create cgroups at host level. The launcher
process joins the new groups (in every hierarchy) between fork and exec, so nspawn starts inside them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import ProviderError

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Hierarchy:
    mount: Path  # where the hierarchy is mounted
    current: str  # this process's group in it, e.g. "/" or "/user.slice/session-1.scope"
    is_cpuset: bool


def hierarchies(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = CGROUP_ROOT) -> list[Hierarchy]:
    """Every mounted hierarchy this process belongs to: cgroup v1 controllers, name=systemd, and the unified
    (v2) hierarchy — mounted at /sys/fs/cgroup/unified in hybrid mode, at /sys/fs/cgroup itself in pure v2."""
    found = []
    for line in proc_cgroup.read_text().splitlines():
        _, controllers, current = line.split(":", 2)
        if controllers == "":
            mount = root / "unified" if (root / "unified").is_dir() else root
        else:
            names = controllers.split(",")
            mount = root / controllers.removeprefix("name=")
            if not mount.is_dir():  # co-mounted controllers may be linked under each name
                mount = next((root / n for n in names if (root / n).is_dir()), mount)
        if (mount / "cgroup.procs").exists():
            found.append(Hierarchy(mount, current, "cpuset" in controllers.split(",")))
    return found


def create_machine_groups(name: str) -> list[Path]:
    """Make `<current group>/<name>` in every hierarchy; returns their paths (record them for removal)."""
    made = []
    for h in hierarchies():
        parent = h.mount / h.current.lstrip("/")
        group = parent / name
        try:
            group.mkdir(exist_ok=True)
            if h.is_cpuset:  # a v1 cpuset group takes no tasks until it has cpus and mems
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    (group / knob).write_text((parent / knob).read_text())
        except OSError as e:
            raise ProviderError(f"cgroup {group}: cannot create: {e.strerror}") from None
        made.append(group)
    return made


def join_groups(groups: list[Path]) -> None:
    """Move the calling process into `groups` (runs in the child between fork and exec: no exceptions that
    matter beyond failing the launch, and nothing that allocates locks)."""
    pid = str(os.getpid()).encode()
    for group in groups:
        fd = os.open(group / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def remove_groups(groups: list[Path]) -> None:
    """Remove the groups and everything nested in them, deepest first. Groups still holding processes are an
    error (stop the machine first); missing groups are fine."""
    for group in groups:
        if not group.is_dir():
            continue
        for directory in sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            _rmdir(directory)
        _rmdir(group)


def processes_in(groups: list[Path]) -> set[int]:
    """PIDs still inside the groups (any depth)."""
    pids: set[int] = set()
    for group in groups:
        if not group.is_dir():
            continue
        for procs in group.rglob("cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
    return pids


def _rmdir(directory: Path) -> None:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return
    except OSError as e:
        raise ProviderError(f"cgroup {directory}: cannot remove: {e.strerror}") from None
