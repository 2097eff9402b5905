"""The runtime adapter drives the real crun: busybox containers (Debian's busybox-static) record their exit codes
and output, join a pod netns by path, get their limits in the cgroup crun creates, die by SIGKILL after the grace
period when they ignore SIGTERM, and are re-adopted by a new runtime object after their creator went away.

Runs on the host, as root. Every container, netns and cgroup a test creates is removed by its exact name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.services.kubelet.runtime import crun
from provisioner.services.kubelet.runtime.crun import CrunRuntime
from provisioner.services.kubelet.runtime.oci_spec import ContainerConfig, build_spec
from provisioner.services.kubelet.runtime.protocol import (
    RUNNING,
    STOPPED,
    ContainerNotFound,
    RuntimeCommandError,
    RuntimeNotFound,
    stop_container,
)

pytestmark = pytest.mark.integration

needs_root_and_crun = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("crun") is None or shutil.which("apt-get") is None,
    reason="needs root, crun and apt-get (for busybox-static)")

WAIT_LIMIT = 20.0  # a hang guard, not a performance bar
UNIFIED = Path("/sys/fs/cgroup/unified")
LOOP_FOREVER = "while :; do sleep 0.2; done"


def cgroup_mounts() -> list[Path]:
    with open("/proc/mounts") as mounts:
        return [Path(fields[1]) for fields in map(str.split, mounts) if fields[2] in ("cgroup", "cgroup2")]


def remove_cgroup_tree(name: str) -> None:
    """Remove the cgroup ``/<name>`` and everything below it, in every hierarchy."""
    for mount in cgroup_mounts():
        top = mount / name
        if top.is_dir():
            for directory, _, _ in os.walk(top, topdown=False):
                os.rmdir(directory)


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox root filesystem: /bin/busybox and a symlink per applet."""
    download = tmp_path_factory.mktemp("busybox-deb")
    download.chmod(0o755)  # apt-get downloads as _apt when it can
    subprocess.run(["apt-get", "download", "-q", "busybox-static"], cwd=download, check=True, capture_output=True,
                   timeout=120)
    extracted = tmp_path_factory.mktemp("busybox-extracted")
    (deb,) = download.glob("busybox-static_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(extracted)], check=True, timeout=60)
    root = tmp_path_factory.mktemp("rootfs")
    for directory in ("bin", "proc", "dev", "sys", "etc", "tmp"):
        (root / directory).mkdir()
    shutil.copy2(extracted / "bin" / "busybox", root / "bin" / "busybox")
    applets = subprocess.run([str(root / "bin" / "busybox"), "--list"], check=True, capture_output=True, text=True)
    for applet in applets.stdout.split():
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    return root


@pytest.fixture(scope="module")
def cgroup_parent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(the cgroup parent of this module's containers, the crun to run). On a hybrid host whose cgroup2 root has
    controllers (crun refuses those), the crun to run is a wrapper that shows crun an empty cgroup2 subtree."""
    name = f"provtest-crun-{uuid.uuid4().hex[:8]}"
    binary = shutil.which("crun") or "crun"
    try:
        unified_controllers = UNIFIED / "cgroup.controllers"
        if unified_controllers.is_file() and unified_controllers.read_text().strip():
            (UNIFIED / name).mkdir()
            wrapper = tmp_path_factory.mktemp("crun-wrapper") / "crun"
            wrapper.write_text(
                "#!/bin/sh\n"
                "exec unshare --mount --propagation private "
                f"sh -c 'mount --bind \"$0\" {UNIFIED} && exec {binary} \"$@\"' {UNIFIED / name} \"$@\"\n")
            wrapper.chmod(0o755)
            binary = str(wrapper)
        yield f"/{name}", binary
    finally:
        remove_cgroup_tree(name)


@pytest.fixture
def runtime(tmp_path: Path, cgroup_parent: tuple[str, str]) -> Iterator[CrunRuntime]:
    """A runtime on a root of this test's own; whatever containers are left under it are deleted afterwards."""
    adapter = CrunRuntime(tmp_path / "runtime-root", binary=cgroup_parent[1])
    try:
        yield adapter
    finally:
        left = {state.id for state in adapter.list()}
        if adapter.shims_dir.is_dir():
            left |= {path.name for path in adapter.shims_dir.iterdir()}
        for container_id in sorted(left):
            try:
                adapter.delete(container_id, force=True)
            except ContainerNotFound:
                pass


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"provtest-crun-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


class Pod:
    """Bundles and log files for the containers of a test."""

    def __init__(self, directory: Path, rootfs: Path, cgroup_parent: str) -> None:
        self.directory = directory
        self.rootfs = rootfs
        self.cgroup_parent = cgroup_parent
        self.uid = uuid.uuid4().hex[:8]

    def cgroups_path(self, container_id: str) -> str:
        return f"{self.cgroup_parent}/pod{self.uid}/{container_id}"

    def bundle(self, container_id: str, script: str, **config: object) -> Path:
        bundle = self.directory / container_id
        bundle.mkdir()
        spec = build_spec(ContainerConfig(
            rootfs=str(self.rootfs), hostname="pod-" + self.uid, cgroups_path=self.cgroups_path(container_id),
            command=("sh", "-c", script), read_only_rootfs=True, **config))  # type: ignore[arg-type]
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle

    def logs(self, container_id: str) -> tuple[Path, Path]:
        return self.directory / f"{container_id}.out", self.directory / f"{container_id}.err"

    def run(self, runtime: CrunRuntime, container_id: str, script: str, **config: object) -> None:
        runtime.create(container_id, self.bundle(container_id, script, **config), *self.logs(container_id))
        runtime.start(container_id)


@pytest.fixture
def pod(tmp_path: Path, rootfs: Path, cgroup_parent: tuple[str, str]) -> Pod:
    directory = tmp_path / "pod"
    directory.mkdir()
    return Pod(directory, rootfs, cgroup_parent[0])


@needs_root_and_crun
def test_exit_code_and_output_are_recorded(runtime: CrunRuntime, pod: Pod) -> None:
    bundle = pod.bundle("exits", "echo hello; echo oops >&2; exit 3")
    runtime.create("exits", bundle, *pod.logs("exits"))
    assert runtime.state("exits").status == "created"
    runtime.start("exits")
    assert runtime.wait_exit("exits", WAIT_LIMIT) == 3
    stdout, stderr = pod.logs("exits")
    assert (stdout.read_text(), stderr.read_text()) == ("hello\n", "oops\n")
    state = runtime.state("exits")
    assert (state.status, state.exit_code, state.pid) == (STOPPED, 3, 0)
    assert state.finished_at is not None and state.finished_at.endswith("Z")


@needs_root_and_crun
def test_a_container_in_the_pod_netns_sees_only_lo(runtime: CrunRuntime, pod: Pod, netns: str) -> None:
    pod.run(runtime, "netns", "ls /sys/class/net", network_namespace_path=f"/run/netns/{netns}")
    assert runtime.wait_exit("netns", WAIT_LIMIT) == 0
    assert pod.logs("netns")[0].read_text().split() == ["lo"]


@needs_root_and_crun
def test_limits_are_set_in_the_cgroup_crun_creates(runtime: CrunRuntime, pod: Pod) -> None:
    pod.run(runtime, "limits", LOOP_FOREVER, memory_limit_bytes=64 << 20, cpu_limit_millis=250, pids_limit=64)
    path = pod.cgroups_path("limits").lstrip("/")
    memory_v1 = Path("/sys/fs/cgroup/memory") / path
    if memory_v1.is_dir():
        assert (memory_v1 / "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
        assert (Path("/sys/fs/cgroup/cpu") / path / "cpu.cfs_quota_us").read_text().strip() == "25000"
        assert (Path("/sys/fs/cgroup/pids") / path / "pids.max").read_text().strip() == "64"
        membership = f"memory:/{path}"
    else:
        unified = Path("/sys/fs/cgroup") / path
        assert (unified / "memory.max").read_text().strip() == str(64 << 20)
        assert (unified / "cpu.max").read_text().split() == ["25000", "100000"]
        membership = f":/{path}"
    pid = runtime.state("limits").pid
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    assert membership in {line.split(":", 1)[1] for line in lines}  # lines are "<hierarchy id>:<membership>"
    assert stop_container(runtime, "limits", grace_seconds=0.2) == 137  # sh as PID 1 ignores SIGTERM
    runtime.delete("limits")
    assert not memory_v1.exists()


@needs_root_and_crun
def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(runtime: CrunRuntime, pod: Pod) -> None:
    pod.run(runtime, "stubborn", f"trap '' TERM; echo ready; {LOOP_FOREVER}")
    wait_for_output(pod.logs("stubborn")[0], "ready")
    started = time.monotonic()
    assert stop_container(runtime, "stubborn", grace_seconds=1) == 137
    assert 1.0 <= time.monotonic() - started < WAIT_LIMIT


@needs_root_and_crun
def test_a_process_obeying_sigterm_reports_its_own_exit_code(runtime: CrunRuntime, pod: Pod) -> None:
    pod.run(runtime, "polite", f"trap 'exit 5' TERM; echo ready; {LOOP_FOREVER}")
    wait_for_output(pod.logs("polite")[0], "ready")
    assert stop_container(runtime, "polite", grace_seconds=WAIT_LIMIT) == 5


@needs_root_and_crun
def test_delete_removes_the_container(runtime: CrunRuntime, pod: Pod) -> None:
    pod.run(runtime, "done", "true")
    pod.run(runtime, "alive", LOOP_FOREVER)
    assert runtime.wait_exit("done", WAIT_LIMIT) == 0
    assert {state.id: state.status for state in runtime.list()} == {"done": STOPPED, "alive": RUNNING}
    with pytest.raises(RuntimeCommandError):
        runtime.delete("alive")  # running, not forced
    runtime.delete("done")
    runtime.delete("alive", force=True)
    assert runtime.list() == []
    with pytest.raises(ContainerNotFound):
        runtime.state("done")
    assert list(runtime.shims_dir.iterdir()) == []


@needs_root_and_crun
def test_a_failed_create_reports_crun_s_error_and_leaves_nothing(runtime: CrunRuntime, pod: Pod) -> None:
    bundle = pod.bundle("broken", "true")
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["/bin/no-such-program"]
    (bundle / "config.json").write_text(json.dumps(spec))
    with pytest.raises(RuntimeCommandError, match="no-such-program|executable"):
        runtime.create("broken", bundle, *pod.logs("broken"))
    assert runtime.list() == []
    assert not (runtime.shims_dir / "broken").exists()


@needs_root_and_crun
def test_a_new_runtime_object_readopts_containers_of_a_process_that_went_away(
        runtime: CrunRuntime, pod: Pod) -> None:
    """Another process creates and starts the container, with its own stdout a pipe, then exits: it must not wait
    for the container (the container holds no inherited pipe), and the shim keeps recording for the next one."""
    bundle = pod.bundle("adopted", f"trap 'exit 7' TERM; {LOOP_FOREVER}")
    stdout, stderr = pod.logs("adopted")
    creator = (
        "import sys; from pathlib import Path; from provisioner.services.kubelet.runtime.crun import CrunRuntime\n"
        f"runtime = CrunRuntime({str(runtime.root)!r}, binary={runtime.binary!r})\n"
        f"runtime.create('adopted', Path({str(bundle)!r}), Path({str(stdout)!r}), Path({str(stderr)!r}))\n"
        "runtime.start('adopted')\n"
        "print('started')\n"
    )
    result = subprocess.run([sys.executable, "-c", creator], capture_output=True, text=True, timeout=WAIT_LIMIT)
    assert (result.returncode, result.stdout) == (0, "started\n"), result.stderr

    adopter = CrunRuntime(runtime.root, binary=runtime.binary)
    state = adopter.state("adopted")
    assert state.status == RUNNING and state.pid > 0
    assert stop_container(adopter, "adopted", grace_seconds=WAIT_LIMIT) == 7
    assert adopter.state("adopted").exit_code == 7
    adopter.delete("adopted")


def test_runtime_selection_prefers_the_asked_one_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def which(installed: set[str]):
        return lambda name: f"/usr/bin/{name}" if name in installed else None

    monkeypatch.setattr(crun.shutil, "which", which({"crun", "runc"}))
    assert (crun.find_runtime("crun"), crun.find_runtime("runc")) == ("/usr/bin/crun", "/usr/bin/runc")
    monkeypatch.setattr(crun.shutil, "which", which({"runc"}))
    assert crun.find_runtime("crun") == "/usr/bin/runc"
    monkeypatch.setattr(crun.shutil, "which", which(set()))
    with pytest.raises(RuntimeNotFound, match="neither crun nor runc"):
        crun.find_runtime()
    with pytest.raises(ValueError, match="unknown OCI runtime"):
        crun.find_runtime("docker")


def wait_for_output(path: Path, text: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not (path.exists() and text in path.read_text()):
        assert time.monotonic() < deadline, f"{path} never showed {text!r}"
        time.sleep(0.02)
