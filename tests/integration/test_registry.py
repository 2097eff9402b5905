"""The real Debian docker-registry, started by `provisioner.registry.start` with our own config: an image
built from a tree is pushed, pulled into a fresh store and unpacked unchanged; a missing tag is a clear 404;
stop leaves no process behind."""

from __future__ import annotations

import filecmp
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner import processes, registry
from provisioner.services.oci.build import ContainerConfig, build_image, push_image
from provisioner.services.oci.errors import RegistryError
from provisioner.services.oci.layers import rootfs
from provisioner.services.oci.media import Platform
from provisioner.services.oci.reference import parse_reference
from provisioner.services.oci.registry import RegistryClient
from provisioner.services.oci.store import ImageStore, PullPolicy

MISSING_REGISTRY = (
    f"{registry.REGISTRY_BINARY} missing: install the Debian package docker-registry (scripts/bootstrap.sh)"
)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not registry.REGISTRY_BINARY.is_file(), reason=MISSING_REGISTRY),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def local_registry(tmp_path: Path) -> Iterator[registry.RegistryProcess]:
    started = registry.start(tmp_path / "registry", "127.0.0.1", free_port())
    try:
        yield started
    finally:
        started.stop()


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin/serve").write_bytes(b"#!/bin/sh\necho which host served me\n")
    (root / "bin/serve").chmod(0o755)
    (root / "bin/sh").symlink_to("serve")
    (root / "www").mkdir()
    (root / "www/index.html").write_bytes(os.urandom(300_000))  # more than one read chunk
    return root


async def test_build_push_pull_against_the_real_registry(
    local_registry: registry.RegistryProcess, tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tree")
    platform = Platform("linux", "amd64")
    image = build_image(
        tree,
        ContainerConfig(entrypoint=["/bin/serve"], exposed_ports=["8080"]),
        tmp_path / "layout",
        platform,
    )
    async with RegistryClient(insecure_registries=[local_registry.host]) as client:
        await client.ping(local_registry.host)
        reference = parse_reference(f"{local_registry.host}/examples/serve:1")
        assert await push_image(client, image, reference) == image.manifest_digest
        store = ImageStore(tmp_path / "store", client)
        pulled = await store.pull(reference, platform, PullPolicy.ALWAYS)
        missing = parse_reference(f"{local_registry.host}/examples/serve:nope")
        with pytest.raises(RegistryError, match=rf"^pull {missing}: manifest unknown \(404\)$"):
            await store.pull(missing, platform)
    assert pulled.manifest_digest == image.manifest_digest
    assert pulled.config.entrypoint == ("/bin/serve",) and pulled.config.exposed_ports == ("8080/tcp",)
    rootfs(pulled.layer_dirs, tmp_path / "rootfs")
    comparison = filecmp.dircmp(tree, tmp_path / "rootfs")
    assert not (comparison.left_only or comparison.right_only or comparison.diff_files)
    for name in ("bin/serve", "www/index.html"):
        assert (tmp_path / "rootfs" / name).read_bytes() == (tree / name).read_bytes()
    assert os.readlink(tmp_path / "rootfs/bin/sh") == "serve"


def test_the_registry_uses_our_config_and_stops_by_pid(tmp_path: Path) -> None:
    port = free_port()
    started = registry.start(tmp_path / "registry", "127.0.0.1", port)
    config = (tmp_path / "registry" / registry.CONFIG_FILE).read_text()
    assert f"addr: 127.0.0.1:{port}" in config and "htpasswd" not in config
    assert started.is_running()
    assert started.stop() == "stopped"
    assert processes.identity_of(started.identity.pid) is None
    assert not started.is_running()


def test_a_taken_port_is_refused_before_launching(
    local_registry: registry.RegistryProcess, tmp_path: Path
) -> None:
    with pytest.raises(
        registry.RegistryError, match=f"127.0.0.1:{local_registry.port}: Address already in use"
    ):
        registry.start(tmp_path / "second", "127.0.0.1", local_registry.port)
    assert not (tmp_path / "second" / registry.LOG_FILE).exists()


def test_a_registry_that_dies_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(
        registry.RegistryError, match=r"exited (at once \(code 1\)|with code 1 before it was ready)"
    ):
        registry.start(tmp_path / "registry", "127.0.0.1", free_port(), binary=Path("/bin/false"))
