"""The machines' base image: a Debian root filesystem built once with debootstrap and cached by its recipe.

Machines boot from it through an overlay (their own upper directory), so the image itself is never written
after it is built. The cache key covers everything that shapes the image; a changed recipe builds a new image
beside the old one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provisioner.errors import ProviderError

# What every node needs (systemd, sshd, Python for Ansible and the services) and what pods will need (crun,
# iptables, conntrack). Kept in the image so that a warm create installs nothing from the network.
NODE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-venv", "iproute2", "sudo",
    "crun", "iptables", "conntrack", "curl", "procps", "iputils-ping", "ca-certificates",
)
# Timers that would wake apt or fs maintenance inside every machine; a test machine has no use for them.
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer",
                "systemd-timesyncd.service")
RECIPE_VERSION = 1  # bump when the customisation below changes


@dataclass(frozen=True)
class ImageRecipe:
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    extra_packages: tuple[str, ...] = ()
    packages: tuple[str, ...] = field(default=NODE_PACKAGES)

    @property
    def key(self) -> str:
        text = json.dumps([RECIPE_VERSION, self.suite, self.mirror, sorted(self.packages + self.extra_packages)])
        return f"debian-{self.suite}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def default_cache_dir() -> Path:
    return Path(os.environ.get("PROVISION_CACHE_DIR", "/var/cache/provision"))


def ensure_image(recipe: ImageRecipe, cache_dir: Path, log: Callable[[str], None] = lambda _: None) -> Path:
    """The root filesystem for `recipe`, built if missing. Concurrent callers wait for one build."""
    images = cache_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rootfs = images / recipe.key
    if (rootfs / ".provision-image").exists():
        return rootfs
    with open(images / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (rootfs / ".provision-image").exists():
            return rootfs
        _build(recipe, rootfs, log)
    return rootfs


def _build(recipe: ImageRecipe, rootfs: Path, log: Callable[[str], None]) -> None:
    if shutil.which("debootstrap") is None:
        raise ProviderError("building the machine image needs debootstrap: apt-get install debootstrap")
    partial = rootfs.with_name(rootfs.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    build_log = rootfs.with_name(rootfs.name + ".log")
    packages = ",".join(sorted(set(recipe.packages + recipe.extra_packages)))
    log(f"building the machine image {recipe.key} (debootstrap {recipe.suite}, about a minute; log {build_log})")
    started = time.monotonic()
    _run(["debootstrap", "--variant=minbase", f"--include={packages}", recipe.suite, str(partial),
          recipe.mirror], build_log)
    _customise(partial)
    (partial / ".provision-image").write_text(json.dumps({
        "key": rootfs.name, "suite": recipe.suite, "packages": packages.split(","),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.monotonic() - started, 1)}) + "\n")
    partial.rename(rootfs)


def _customise(rootfs: Path) -> None:
    # Every machine gets its own host key before it boots (the tool pins it); the image's shared keys go.
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (rootfs / "etc/ssh/sshd_config.d/provision.conf").write_text(
        "# Written by provision: the host key is made per machine; no DNS and no passwords on a test network.\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\nUseDNS no\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\n")
    for unit in MASKED_UNITS:
        link = rootfs / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    # Each machine writes its own machine-id into its upper dir; an empty one here means "not set".
    (rootfs / "etc/machine-id").write_text("")
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)


def _run(argv: Sequence[str], log_path: Path) -> None:
    with open(log_path, "wb") as log:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise ProviderError(f"`{argv[0]}` failed (exit {result.returncode}); log {log_path}:\n" + "\n".join(tail))
