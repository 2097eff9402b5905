"""The OCI runtime spec (``config.json``, runtime-spec 1.0.2) of one container, built the way containerd's CRI
plugin builds it for the kubelet: Docker's default capabilities, mounts, masked and read-only paths; Kubernetes'
command/args rules; the pod's network namespace joined by path; cgroup v1 resources as the kubelet computes them.

Pure: no file is read, nothing runs. What needs the node (the pod netns, the pod cgroup parent, ``$(VAR)``
expansion, /etc/hosts contents) is decided by the caller and handed in through :class:`ContainerConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OCI_VERSION = "1.0.2"

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Every capability of Linux up to 6.x, in kernel number order ("add: [ALL]" grants these).
ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

# Docker's and containerd's default set.
DEFAULT_CAPABILITIES = frozenset({
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
})

MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/scsi",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

CPU_PERIOD_US = 100_000
# The kubelet's bounds (pkg/kubelet/cm): cgroup v1 cpu.shares range and the smallest quota it writes.
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262_144
MIN_CPU_QUOTA_US = 1_000


class SpecError(ValueError):
    """A container configuration that cannot become an OCI spec (no command, a user name, an unknown
    capability); the message is meant for the pod's events."""


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image's config (``config`` of the OCI image config) a container inherits."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # "NAME=value"
    working_dir: str = ""
    user: str = ""  # "uid" or "uid:gid"; names cannot be resolved without the rootfs


@dataclass(frozen=True)
class Mount:
    """A bind mount of a host path (a volume) into the container."""

    source: str
    destination: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerConfig:
    """One container of a pod as the kubelet resolved it: command/args already ``$(VAR)``-expanded, env values
    already resolved, host paths already prepared."""

    rootfs: str
    hostname: str
    cgroups_path: str  # e.g. "/kubepods/burstable/pod<uid>/<container id>"
    image: ImageConfig = ImageConfig()
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: tuple[int, ...] = ()
    read_only_rootfs: bool = False
    allow_privilege_escalation: bool = True
    capabilities_add: tuple[str, ...] = ()
    capabilities_drop: tuple[str, ...] = ()
    # None: the host's network namespace (hostNetwork); otherwise the pod's, e.g. /run/netns/<pod>.
    network_namespace_path: str | None = None
    # None: a namespace of the container's own; a path: the pod's shared one.
    ipc_namespace_path: str | None = None
    uts_namespace_path: str | None = None
    mounts: tuple[Mount, ...] = ()
    hosts_file: str | None = None
    resolv_conf_file: str | None = None
    hostname_file: str | None = None
    termination_log_file: str | None = None
    termination_message_path: str = "/dev/termination-log"
    cpu_request_millis: int = 0
    cpu_limit_millis: int = 0
    memory_limit_bytes: int = 0
    pids_limit: int = 0
    oom_score_adj: int = 0
    annotations: dict[str, str] = field(default_factory=dict)


def process_args(config: ContainerConfig) -> list[str]:
    """Kubernetes' rules: ``command`` replaces the image's Entrypoint and, when given alone, drops its Cmd too;
    ``args`` replaces the Cmd. An empty list counts as not given, as in the kubelet."""
    entrypoint = list(config.image.entrypoint)
    if entrypoint == [""]:  # Docker's ENTRYPOINT [""] clears an inherited entrypoint
        entrypoint = []
    if config.command:
        args = [*config.command, *config.args]
    else:
        args = [*entrypoint, *(config.args or config.image.cmd)]
    if not args:
        raise SpecError("no command specified: neither the container nor its image gives one")
    return args


def process_env(config: ContainerConfig) -> list[str]:
    """The image's environment, overridden by the container's (same name → the container's value, in place)."""
    merged: dict[str, str] = {}
    for entry in config.image.env:
        name, _, value = entry.partition("=")
        merged[name] = value
    for name, value in config.env:
        merged[name] = value
    merged.setdefault("PATH", DEFAULT_PATH)
    return [f"{name}={value}" for name, value in merged.items()]


def _numeric_id(text: str, what: str, image_user: str) -> int:
    if not text.isdigit():
        raise SpecError(f"image user {image_user!r}: {what} {text!r} is not numeric; set runAsUser/runAsGroup")
    return int(text)


def process_user(config: ContainerConfig) -> dict[str, Any]:
    """runAsUser/runAsGroup win over the image's ``User``; without either, root. A group comes from the image
    only along with its user."""
    uid, gid = 0, 0
    if config.image.user and config.run_as_user is None:
        user, _, group = config.image.user.partition(":")
        uid = _numeric_id(user, "user", config.image.user)
        if group:
            gid = _numeric_id(group, "group", config.image.user)
    if config.run_as_user is not None:
        uid = config.run_as_user
    if config.run_as_group is not None:
        gid = config.run_as_group
    user_spec: dict[str, Any] = {"uid": uid, "gid": gid}
    if config.supplemental_groups:
        user_spec["additionalGids"] = list(config.supplemental_groups)
    return user_spec


def _capability_name(name: str) -> str:
    full = name.upper() if name.upper().startswith("CAP_") else f"CAP_{name.upper()}"
    if full not in ALL_CAPABILITIES:
        raise SpecError(f"unknown capability {name!r}")
    return full


def capabilities(add: tuple[str, ...], drop: tuple[str, ...]) -> list[str]:
    """The default set with securityContext.capabilities applied as containerd does: ``ALL`` in add, then ``ALL``
    in drop, then each named add, then each named drop (so dropping wins over adding the same one)."""
    granted = set(DEFAULT_CAPABILITIES)
    if any(name.upper() == "ALL" for name in add):
        granted = set(ALL_CAPABILITIES)
    if any(name.upper() == "ALL" for name in drop):
        granted = set()
    granted |= {_capability_name(name) for name in add if name.upper() != "ALL"}
    granted -= {_capability_name(name) for name in drop if name.upper() != "ALL"}
    return [name for name in ALL_CAPABILITIES if name in granted]


def _bind(source: str, destination: str, read_only: bool) -> dict[str, Any]:
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["rbind", "rprivate", "ro" if read_only else "rw"]}


DEFAULT_MOUNTS: tuple[dict[str, Any], ...] = (
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
)


def _normalized(path: str) -> str:
    return "/" + "/".join(part for part in path.split("/") if part)


def mounts(config: ContainerConfig) -> list[dict[str, Any]]:
    """Default mounts, minus those a caller mount replaces (same destination, or anything under a caller's
    /dev), then the pod's files, then the volumes."""
    binds: list[dict[str, Any]] = []
    for source, destination, read_only in (
        (config.hosts_file, "/etc/hosts", False),  # the kubelet owns it and may rewrite it
        (config.hostname_file, "/etc/hostname", config.read_only_rootfs),
        (config.resolv_conf_file, "/etc/resolv.conf", config.read_only_rootfs),
        (config.termination_log_file, config.termination_message_path, False),
    ):
        if source is not None:
            binds.append(_bind(source, destination, read_only))
    binds += [_bind(mount.source, _normalized(mount.destination), mount.read_only) for mount in config.mounts]
    taken = {bind["destination"] for bind in binds}
    defaults = [
        dict(mount) for mount in DEFAULT_MOUNTS
        if mount["destination"] not in taken and not ("/dev" in taken and mount["destination"].startswith("/dev/"))
    ]
    return defaults + binds


def namespaces(config: ContainerConfig) -> list[dict[str, str]]:
    spec: list[dict[str, str]] = [{"type": "pid"}, {"type": "mount"}]
    for kind, path in (("ipc", config.ipc_namespace_path), ("uts", config.uts_namespace_path),
                       ("network", config.network_namespace_path)):
        if path is not None:
            spec.append({"type": kind, "path": path})
        elif kind != "network":  # no network entry means the host's (hostNetwork)
            spec.append({"type": kind})
    return spec


def cpu_shares(request_millis: int) -> int:
    """The kubelet's MilliCPUToShares: a request of none gets the minimum."""
    return min(max(request_millis * 1024 // 1000, MIN_CPU_SHARES), MAX_CPU_SHARES)


def cpu_quota(limit_millis: int, period_us: int = CPU_PERIOD_US) -> int:
    """The kubelet's MilliCPUToQuota; only called with a limit."""
    return max(limit_millis * period_us // 1000, MIN_CPU_QUOTA_US)


def resources(config: ContainerConfig) -> dict[str, Any]:
    cpu: dict[str, int] = {"shares": cpu_shares(config.cpu_request_millis)}
    if config.cpu_limit_millis > 0:
        cpu |= {"quota": cpu_quota(config.cpu_limit_millis), "period": CPU_PERIOD_US}
    spec: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}], "cpu": cpu}
    if config.memory_limit_bytes > 0:
        spec["memory"] = {"limit": config.memory_limit_bytes}
    if config.pids_limit > 0:
        spec["pids"] = {"limit": config.pids_limit}
    return spec


def build_spec(config: ContainerConfig) -> dict[str, Any]:
    """The config.json of the container's bundle."""
    granted = capabilities(config.capabilities_add, config.capabilities_drop)
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": process_user(config),
            "args": process_args(config),
            "env": process_env(config),
            "cwd": config.working_dir or config.image.working_dir or "/",
            "capabilities": {"bounding": granted, "effective": granted, "permitted": granted},
            "noNewPrivileges": not config.allow_privilege_escalation,
            "oomScoreAdj": config.oom_score_adj,
        },
        "root": {"path": config.rootfs, "readonly": config.read_only_rootfs},
        "mounts": mounts(config),
        "linux": {
            "namespaces": namespaces(config),
            "resources": resources(config),
            "cgroupsPath": config.cgroups_path,
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
    if config.uts_namespace_path is None:  # a runtime refuses a hostname for a UTS namespace it does not own
        spec["hostname"] = config.hostname
    if config.annotations:
        spec["annotations"] = dict(config.annotations)
    return spec
