"""The image store: pull policies, one download for concurrent pulls of an image, unpacked layers ready for a
root filesystem, and garbage collection of what no image in use needs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from provisioner.registry.fake import FakeRegistry
from provisioner.services.oci.errors import DigestMismatch, ImageNotPresent, RegistryError
from provisioner.services.oci.layers import rootfs
from provisioner.services.oci.media import Platform
from provisioner.services.oci.reference import parse_reference
from provisioner.services.oci.store import ImageStore, PullPolicy, default_pull_policy
from tests.unit.oci.images import digest_of, directory, file, layer_tar, publish

HOST = Platform("linux", "amd64")
BASE = layer_tar([directory("etc"), file("etc/os-release", b"base"), file("etc/old", b"old")])
APP = layer_tar(
    [directory("etc"), file("etc/.wh.old"), directory("app"), file("app/run", b"run", mode=0o755)]
)


def manifest_gets(fake: FakeRegistry, repository: str) -> int:
    return sum(
        1
        for method, path, _ in fake.requests
        if method == "GET" and path.startswith(f"/v2/{repository}/manifests/")
    )


async def test_pull_unpacks_layers_and_reads_the_config(
    fake: FakeRegistry, store: ImageStore, tmp_path: Path
) -> None:
    publish(
        fake,
        "app",
        "1",
        [BASE, APP],
        {
            "Entrypoint": ["/app/run"],
            "Cmd": ["--serve"],
            "Env": ["A=1"],
            "WorkingDir": "/app",
            "User": "65534",
        },
    )
    image = await store.pull(f"{fake.address}/app:1", HOST)
    assert image.reference == f"{fake.address}/app:1"
    assert image.layer_digests == (digest_of(BASE), digest_of(APP))
    assert (image.config.entrypoint, image.config.cmd, image.config.env) == (
        ("/app/run",),
        ("--serve",),
        ("A=1",),
    )
    assert (image.config.working_dir, image.config.user) == ("/app", "65534")
    assert image.size == sum(len(blob) for blob in fake.blobs.values())
    rootfs(image.layer_dirs, tmp_path / "rootfs")
    assert sorted(os.listdir(tmp_path / "rootfs/etc")) == ["os-release"]
    assert (tmp_path / "rootfs/app/run").read_bytes() == b"run"
    assert (store.root / "blobs/sha256" / image.config_digest.removeprefix("sha256:")).is_file()


async def test_if_not_present_uses_the_local_image_and_always_asks_the_registry(
    fake: FakeRegistry, store: ImageStore
) -> None:
    publish(fake, "app", "1", [BASE])
    first = await store.pull(f"{fake.address}/app:1", HOST, PullPolicy.IF_NOT_PRESENT)
    again = await store.pull(f"{fake.address}/app:1", HOST, PullPolicy.IF_NOT_PRESENT)
    assert manifest_gets(fake, "app") == 1
    assert again.manifest_digest == first.manifest_digest and again.last_used >= first.last_used
    blob_gets = sum(1 for method, path, _ in fake.requests if "/blobs/" in path and method == "GET")
    await store.pull(f"{fake.address}/app:1", HOST, PullPolicy.ALWAYS)
    assert manifest_gets(fake, "app") == 2
    assert sum(1 for method, path, _ in fake.requests if "/blobs/" in path and method == "GET") == blob_gets


async def test_never_uses_only_local_images(fake: FakeRegistry, store: ImageStore) -> None:
    publish(fake, "app", "1", [BASE])
    with pytest.raises(
        ImageNotPresent, match=rf"image {fake.address}/app:1 is not present and the pull policy is Never"
    ):
        await store.pull(f"{fake.address}/app:1", HOST, PullPolicy.NEVER)
    assert fake.requests == []
    await store.pull(f"{fake.address}/app:1", HOST)
    assert (await store.pull(f"{fake.address}/app:1", HOST, PullPolicy.NEVER)).layer_digests == (
        digest_of(BASE),
    )


def test_default_pull_policy_follows_kubernetes() -> None:
    assert default_pull_policy(parse_reference("busybox")) is PullPolicy.ALWAYS
    assert default_pull_policy(parse_reference("busybox:1.36")) is PullPolicy.IF_NOT_PRESENT
    assert default_pull_policy(parse_reference("busybox@sha256:" + "a" * 64)) is PullPolicy.IF_NOT_PRESENT


async def test_the_index_survives_a_new_store(fake: FakeRegistry, store: ImageStore) -> None:
    publish(fake, "app", "1", [BASE])
    pulled = await store.pull(f"{fake.address}/app:1", HOST)
    reopened = ImageStore(store.root, None)  # type: ignore[arg-type] - a store that never reaches a registry
    assert reopened.get(f"{fake.address}/app:1", HOST) == pulled
    assert reopened.get(f"{fake.address}/app:1", Platform("linux", "arm64")) is None


async def test_concurrent_pulls_of_one_image_share_one_download(
    fake: FakeRegistry, store: ImageStore
) -> None:
    publish(fake, "app", "1", [BASE, APP])
    images = await asyncio.gather(*(store.pull(f"{fake.address}/app:1", HOST) for _ in range(5)))
    assert len({image.manifest_digest for image in images}) == 1
    assert manifest_gets(fake, "app") == 1
    assert sum(1 for method, path, _ in fake.requests if "/blobs/" in path) == 3  # config and two layers


async def test_a_corrupt_layer_fails_the_pull_and_leaves_no_image(
    fake: FakeRegistry, store: ImageStore
) -> None:
    publish(fake, "app", "1", [BASE])
    fake.corrupted_blobs[digest_of(BASE)] = bytes(len(BASE))
    with pytest.raises(DigestMismatch):
        await store.pull(f"{fake.address}/app:1", HOST)
    assert store.images() == []
    assert not (store.root / "blobs/sha256" / digest_of(BASE).removeprefix("sha256:")).exists()


async def test_a_missing_image_is_a_registry_error_with_status(fake: FakeRegistry, store: ImageStore) -> None:
    with pytest.raises(RegistryError, match=rf"pull {fake.address}/nope:1: manifest unknown \(404\)"):
        await store.pull(f"{fake.address}/nope:1", HOST)


async def test_garbage_collection_keeps_images_in_use_and_shared_layers(
    fake: FakeRegistry, store: ImageStore
) -> None:
    publish(fake, "base", "1", [BASE])
    publish(fake, "app", "1", [BASE, APP])
    publish(fake, "other", "1", [layer_tar([file("other")])])
    base = await store.pull(f"{fake.address}/base:1", HOST)
    app = await store.pull(f"{fake.address}/app:1", HOST)
    await store.pull(f"{fake.address}/other:1", HOST)
    result = await store.garbage_collect([f"{fake.address}/base:1", app.config_digest])
    assert result.removed_images == (f"{fake.address}/other:1",)
    assert result.removed_layers == 1 and result.removed_blobs == 3 and result.freed_bytes > 0
    assert [image.reference for image in store.images()] == [
        f"{fake.address}/app:1",
        f"{fake.address}/base:1",
    ]
    assert all(directory.is_dir() for directory in base.layer_dirs + app.layer_dirs)
    with pytest.raises(ImageNotPresent):
        await store.pull(f"{fake.address}/other:1", HOST, PullPolicy.NEVER)


async def test_garbage_collection_frees_least_recently_used_first(
    fake: FakeRegistry, store: ImageStore
) -> None:
    for name in ("a", "b", "c"):
        publish(fake, name, "1", [layer_tar([file(name, name.encode() * 100)])])
    for name in ("b", "a", "c"):
        await store.pull(f"{fake.address}/{name}:1", HOST)
    await store.pull(f"{fake.address}/b:1", HOST)  # used again: now the most recent
    result = await store.garbage_collect([], bytes_to_free=1)
    assert result.removed_images == (f"{fake.address}/a:1",)
    result = await store.garbage_collect([], bytes_to_free=1)
    assert result.removed_images == (f"{fake.address}/c:1",)
    assert [image.reference for image in store.images()] == [f"{fake.address}/b:1"]
