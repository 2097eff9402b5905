"""Layer tars and images made by hand for the tests: exact control over entries (whiteouts, escapes, devices)
that a directory tree cannot express."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass

import orjson

from provisioner.registry.fake import FakeRegistry
from provisioner.services.oci.media import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST


@dataclass(frozen=True)
class Entry:
    name: str
    kind: bytes = tarfile.REGTYPE
    content: bytes = b""
    linkname: str = ""
    mode: int = 0o644


def file(name: str, content: bytes = b"", mode: int = 0o644) -> Entry:
    return Entry(name, tarfile.REGTYPE, content, mode=mode)


def directory(name: str, mode: int = 0o755) -> Entry:
    return Entry(name, tarfile.DIRTYPE, mode=mode)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, tarfile.LNKTYPE, linkname=target)


def chardev(name: str) -> Entry:
    return Entry(name, tarfile.CHRTYPE, mode=0o666)


def layer_tar(entries: list[Entry], compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type, info.mode, info.linkname, info.mtime = (
                entry.kind,
                entry.mode,
                entry.linkname,
                1_000_000,
            )
            if entry.kind == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 3
            info.size = len(entry.content) if entry.kind == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(entry.content) if entry.kind == tarfile.REGTYPE else None)
    return gzip.compress(buffer.getvalue(), mtime=0) if compress else buffer.getvalue()


def digest_of(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def descriptor(media_type: str, content: bytes, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest_of(content), "size": len(content), **extra}


def publish(
    fake: FakeRegistry,
    repository: str,
    tag: str,
    layers: list[bytes],
    config: dict[str, object] | None = None,
) -> str:
    """Put an image with these (gzip) layers into the fake registry; returns the manifest digest."""
    # The layer digests stand in for the diff_ids: different images must have different configs.
    rootfs = {"type": "layers", "diff_ids": [digest_of(layer) for layer in layers]}
    config_blob = orjson.dumps(
        {"architecture": "amd64", "os": "linux", "config": config or {}, "rootfs": rootfs}
    )
    fake.put_blob(config_blob)
    for layer in layers:
        fake.put_blob(layer)
    manifest = orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config_blob),
            "layers": [descriptor(OCI_LAYER_GZIP, layer) for layer in layers],
        }
    )
    return fake.put_manifest(repository, tag, OCI_MANIFEST, manifest)


def publish_index(fake: FakeRegistry, repository: str, tag: str, platforms: dict[str, list[bytes]]) -> str:
    """An index with one single-layer image per platform ("linux/arm/v7" → layers)."""
    entries = []
    for text, layers in platforms.items():
        os_name, architecture, *variant = text.split("/")
        digest = publish(fake, repository, f"{tag}-{text.replace('/', '-')}", layers)
        raw = fake.manifests[(repository, digest)][1]
        platform = {
            "os": os_name,
            "architecture": architecture,
            **({"variant": variant[0]} if variant else {}),
        }
        entries.append(descriptor(OCI_MANIFEST, raw, platform=platform))
    index = orjson.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    return fake.put_manifest(repository, tag, OCI_INDEX, index)
