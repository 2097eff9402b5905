"""Images built from a tree are deterministic, and survive build → push → pull → root filesystem unchanged."""

from __future__ import annotations

import filecmp
import os
import tarfile
from pathlib import Path

import orjson

from provisioner.registry.fake import FakeRegistry
from provisioner.services.oci.build import ContainerConfig, build_image, push_image
from provisioner.services.oci.layers import rootfs
from provisioner.services.oci.media import Platform
from provisioner.services.oci.reference import parse_reference
from provisioner.services.oci.registry import RegistryClient
from provisioner.services.oci.store import ImageStore

HOST = Platform("linux", "amd64")
CONFIG = ContainerConfig(
    entrypoint=["/bin/httpd"],
    cmd=["-f", "-p", "80"],
    env=["PATH=/bin"],
    working_dir="/www",
    exposed_ports=["80"],
)


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "www").mkdir()
    (root / "bin/httpd").write_bytes(b"#!/bin/sh\necho served\n")
    (root / "bin/httpd").chmod(0o755)
    os.link(root / "bin/httpd", root / "bin/httpd-again")
    (root / "bin/sh").symlink_to("/bin/httpd")
    (root / "www/index.html").write_text("hello from the tree\n")
    (root / "www/empty").mkdir()
    return root


def test_the_same_tree_gives_the_same_digests(tmp_path: Path) -> None:
    first_tree, second_tree = make_tree(tmp_path / "one"), make_tree(tmp_path / "two")
    os.utime(second_tree / "www/index.html", (12345, 12345))
    first = build_image(first_tree, CONFIG, tmp_path / "layout-one", HOST)
    second = build_image(second_tree, CONFIG, tmp_path / "layout-two", HOST)
    assert (first.manifest_digest, first.layer, first.diff_id) == (
        second.manifest_digest,
        second.layer,
        second.diff_id,
    )
    (second_tree / "www/index.html").write_text("changed\n")
    assert build_image(second_tree, CONFIG, tmp_path / "layout-three", HOST).layer != first.layer


def test_the_layer_is_sorted_and_owned_by_root_at_time_zero(tmp_path: Path) -> None:
    image = build_image(make_tree(tmp_path / "tree"), CONFIG, tmp_path / "layout", HOST, tag="1")
    with tarfile.open(image.blob_path(image.layer.digest)) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == [
        "bin",
        "www",
        "bin/httpd",
        "bin/httpd-again",
        "bin/sh",
        "www/empty",
        "www/index.html",
    ]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 0)}
    assert members[3].islnk() and members[3].linkname == "bin/httpd"
    index = orjson.loads((tmp_path / "layout/index.json").read_bytes())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "1"}
    config = orjson.loads(image.blob_path(image.config.digest).read_bytes())
    assert config["config"] == {
        "Entrypoint": ["/bin/httpd"],
        "Cmd": ["-f", "-p", "80"],
        "Env": ["PATH=/bin"],
        "WorkingDir": "/www",
        "ExposedPorts": {"80/tcp": {}},
    }
    assert config["rootfs"] == {"type": "layers", "diff_ids": [image.diff_id]}


async def test_build_push_pull_round_trip(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    image = build_image(tree, CONFIG, tmp_path / "layout", HOST)
    async with (
        FakeRegistry(token_auth=True) as fake,
        RegistryClient(insecure_registries=[fake.address]) as client,
    ):
        reference = parse_reference(f"{fake.address}/examples/httpd:1")
        assert await push_image(client, image, reference) == image.manifest_digest
        uploads = sum(1 for method, _, _ in fake.requests if method == "POST")
        await push_image(
            client, image, reference
        )  # again: the registry has the blobs, only the manifest moves
        assert sum(1 for method, _, _ in fake.requests if method == "POST") == uploads == 2
        pulled = await ImageStore(tmp_path / "store", client).pull(reference, HOST)
    assert pulled.manifest_digest == image.manifest_digest
    assert pulled.config.exposed_ports == ("80/tcp",)
    rootfs(pulled.layer_dirs, tmp_path / "rootfs")
    comparison = filecmp.dircmp(tree, tmp_path / "rootfs")
    assert_same_trees(comparison)
    assert os.readlink(tmp_path / "rootfs/bin/sh") == "/bin/httpd"
    assert (
        os.stat(tmp_path / "rootfs/bin/httpd-again").st_ino == os.stat(tmp_path / "rootfs/bin/httpd").st_ino
    )


def assert_same_trees(comparison: filecmp.dircmp[str]) -> None:
    assert not (
        comparison.left_only or comparison.right_only or comparison.diff_files or comparison.funny_files
    )
    for sub in comparison.subdirs.values():
        assert_same_trees(sub)
