"""The Debian part of the offline bundle: the packages nodes need, with everything they depend on, as a local
apt repository (a directory of .debs with its Packages index) that hosts install from with no network.

Local machines are built from an image that already has these packages, so only hosts the tool did not build
(ssh, vagrant) use it — and only for packages they lack; apt resolves against what they have installed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import ProvisionError

# What the node services and the playbooks use on a host (the machines image has these; see image.py).
NODE_DEBIAN_PACKAGES = ("python3", "python3-venv", "curl", "tar", "iproute2", "ca-certificates", "crun",
                        "iptables", "conntrack")
# apt-cache's recursion: only what is needed to install, not what is suggested or merely conflicts.
_DEPENDS_FLAGS = ("--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
                  "--no-replaces", "--no-enhances")


class DebRepoError(ProvisionError):
    """The Debian packages for hosts cannot be fetched or indexed."""


@dataclass(frozen=True)
class DebRepo:
    directory: Path
    packages: tuple[str, ...]  # what hosts install from it (their dependencies are in the directory too)


def ensure_deb_repo(cache_dir: Path, packages: Sequence[str] = NODE_DEBIAN_PACKAGES,
                    log: Callable[[str], None] = lambda _: None) -> DebRepo:
    """Fetch the packages and their dependency closure with this host's apt (a Debian 12 operator host, whose
    package lists match the nodes'), index them, and cache the result by the list of packages."""
    key = hashlib.sha256(json.dumps(sorted(packages)).encode()).hexdigest()[:12]
    directory = cache_dir / "debs" / key
    repo = DebRepo(directory, tuple(packages))
    if (directory / "Packages").exists():
        return repo
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / "Packages").exists():
            log(f"fetching {len(packages)} Debian packages and their dependencies for hosts")
            _fetch(repo)
    return repo


def dependency_closure(packages: Sequence[str]) -> list[str]:
    output = _run(["apt-cache", "depends", *_DEPENDS_FLAGS, *packages], "resolve package dependencies")
    # Lines naming packages start in column 0; indented lines are relations, <name> marks virtual packages.
    return sorted({line.strip() for line in output.splitlines() if line[:1].isalnum()})


def _fetch(repo: DebRepo) -> None:
    partial = repo.directory.with_name(repo.directory.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    names = dependency_closure(repo.packages)
    _run(["apt-get", "download", *names], "download the packages", cwd=partial)
    (partial / "Packages").write_text(packages_index(sorted(partial.glob("*.deb"))))
    partial.rename(repo.directory)


def packages_index(debs: Sequence[Path]) -> str:
    """An apt `Packages` file for debs in one flat directory (what dpkg-scanpackages writes, without needing
    dpkg-dev): each package's control fields plus Filename, Size and SHA256."""
    stanzas = []
    for deb in debs:
        control = _run(["dpkg-deb", "--field", str(deb)], f"read {deb.name}").rstrip("\n")
        digest = hashlib.sha256(deb.read_bytes()).hexdigest()
        stanzas.append(f"{control}\nFilename: ./{deb.name}\nSize: {deb.stat().st_size}\nSHA256: {digest}\n")
    return "\n".join(stanzas)


def _run(argv: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=600)
    except FileNotFoundError:
        raise DebRepoError(f"cannot {what}: `{argv[0]}` is missing (hosts not built by the tool need a Debian "
                           "operator host with apt to bundle their packages)") from None
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise DebRepoError(f"cannot {what}: `{' '.join(argv[:3])} …` failed:\n{tail}")
    return result.stdout
