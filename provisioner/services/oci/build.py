"""Images built from a directory tree without a daemon: one gzip layer, a config and an OCI manifest, written
as an OCI image layout and pushed with the registry client. Builds are deterministic: entries sorted, owned by
root, mtime 0, gzip header without name or time, so the same tree gives the same digests."""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from provisioner.services.oci.errors import ImageError
from provisioner.services.oci.media import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    Platform,
    digest_hex,
    sha256_digest,
)
from provisioner.services.oci.reference import ImageReference
from provisioner.services.oci.registry import RegistryClient

_GZIP_LEVEL = 6
_JSON_OPTIONS = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class ContainerConfig:
    """The config fields an image sets for its containers (Docker's names in the image config)."""

    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    env: Sequence[str] = ()
    working_dir: str = ""
    user: str = ""
    exposed_ports: Sequence[str] = ()  # "80/tcp", or "80" for TCP


@dataclass(frozen=True)
class BuiltImage:
    layout: Path  # an OCI image layout directory holding the blobs
    manifest: bytes
    manifest_digest: str
    config: Descriptor
    layer: Descriptor
    diff_id: str  # the digest of the uncompressed layer tar

    def blob_path(self, digest: str) -> Path:
        return self.layout / "blobs" / "sha256" / digest_hex(digest)


def build_image(
    tree: Path,
    config: ContainerConfig,
    layout: Path,
    platform: Platform | None = None,
    tag: str | None = None,
) -> BuiltImage:
    """Build an image whose single layer is `tree` (the container sees it as /) into the OCI layout `layout`
    (created if needed; its index names this image, with `tag` as org.opencontainers.image.ref.name)."""
    if not tree.is_dir():
        raise ImageError(f"cannot build an image from {tree}: not a directory")
    platform = platform or Platform.host()
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    layer, diff_id = _write_layer(tree, blobs)
    config_blob = orjson.dumps(_config_document(config, platform, diff_id), option=_JSON_OPTIONS)
    config_descriptor = Descriptor(OCI_CONFIG, _write_blob(blobs, config_blob), len(config_blob))
    manifest = orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_descriptor.to_json(),
            "layers": [layer.to_json()],
        },
        option=_JSON_OPTIONS,
    )
    manifest_digest = _write_blob(blobs, manifest)
    entry = {
        **Descriptor(OCI_MANIFEST, manifest_digest, len(manifest)).to_json(),
        "platform": _platform_json(platform),
    }
    if tag is not None:
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "oci-layout").write_bytes(orjson.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_bytes(
        orjson.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [entry],
            },
            option=_JSON_OPTIONS,
        )
    )
    return BuiltImage(layout, manifest, manifest_digest, config_descriptor, layer, diff_id)


async def push_image(client: RegistryClient, image: BuiltImage, reference: ImageReference) -> str:
    """Upload the blobs the registry lacks, then the manifest; returns the manifest digest."""
    for blob in (image.layer, image.config):
        if not await client.blob_exists(reference, blob.digest):
            await client.push_blob(reference, blob.digest, image.blob_path(blob.digest))
    return await client.push_manifest(reference, OCI_MANIFEST, image.manifest)


def _config_document(config: ContainerConfig, platform: Platform, diff_id: str) -> dict[str, object]:
    container = {
        "Entrypoint": list(config.entrypoint) or None,
        "Cmd": list(config.cmd) or None,
        "Env": list(config.env) or None,
        "WorkingDir": config.working_dir or None,
        "User": config.user or None,
        "ExposedPorts": {port if "/" in port else f"{port}/tcp": {} for port in config.exposed_ports} or None,
    }
    return {
        **_platform_json(platform),
        "config": {key: value for key, value in container.items() if value is not None},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }


def _platform_json(platform: Platform) -> dict[str, str]:
    document = {"os": platform.os, "architecture": platform.architecture}
    if platform.variant:
        document["variant"] = platform.variant
    return document


class _HashingWriter:
    """A write-only stream that hashes and counts what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        return self._out.write(data)


def _write_layer(tree: Path, blobs: Path) -> tuple[Descriptor, str]:
    partial = blobs / f".layer.{uuid.uuid4().hex}.partial"
    try:
        with open(partial, "wb") as out:
            compressed = _HashingWriter(out)
            with gzip.GzipFile(
                filename="", fileobj=compressed, mode="wb", compresslevel=_GZIP_LEVEL, mtime=0
            ) as gz:
                uncompressed = _HashingWriter(gz)
                with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as archive:
                    _add_tree(archive, tree)
        digest = "sha256:" + compressed.hasher.hexdigest()
        os.replace(partial, blobs / digest_hex(digest))
    finally:
        partial.unlink(missing_ok=True)
    return Descriptor(OCI_LAYER_GZIP, digest, compressed.size), "sha256:" + uncompressed.hasher.hexdigest()


def _add_tree(archive: tarfile.TarFile, tree: Path) -> None:
    # Sorted depth-first walk: parents before children, the same order for the same tree.
    for directory, subdirectories, files in os.walk(tree):
        subdirectories.sort()
        relative_dir = os.path.relpath(directory, tree)
        for name in sorted(subdirectories + files):
            path = os.path.join(directory, name)
            arcname = name if relative_dir == "." else f"{relative_dir}/{name}"
            info = archive.gettarinfo(path, arcname=arcname)
            if info is None:  # sockets cannot be archived
                continue
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isreg():
                with open(path, "rb") as content:
                    archive.addfile(info, content)
            else:
                archive.addfile(info)


def _write_blob(blobs: Path, content: bytes) -> str:
    digest = sha256_digest(content)
    (blobs / digest_hex(digest)).write_bytes(content)
    return digest
