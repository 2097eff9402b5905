"""Media types, content descriptors, digests and platforms shared by the registry client, the store and the
builder (OCI image spec and Docker image manifest v2 schema 2)."""

from __future__ import annotations

import hashlib
import platform as host_platform
from dataclasses import dataclass
from typing import Any

from provisioner.services.oci.errors import ImageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
LAYER_TYPES = (OCI_LAYER_TAR, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER_GZIP)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    """The hex part of a sha256 digest; anything else is refused (it would become a file name)."""
    algorithm, _, hex_part = digest.partition(":")
    if algorithm != "sha256" or len(hex_part) != 64 or any(c not in "0123456789abcdef" for c in hex_part):
        raise ImageError(f"unsupported or malformed digest {digest!r} (only sha256 is supported)")
    return hex_part


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> Descriptor:
        try:
            media_type, digest, size = data["mediaType"], data["digest"], data["size"]
        except (KeyError, TypeError):
            raise ImageError(f"{where}: descriptor without mediaType, digest or size") from None
        if not isinstance(size, int) or size < 0:
            raise ImageError(f"{where}: descriptor {digest} has a bad size {size!r}")
        digest_hex(digest)
        platform = Platform.from_json(data["platform"]) if isinstance(data.get("platform"), dict) else None
        return cls(media_type, digest, size, platform)

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


_MACHINE_TO_PLATFORM = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}
# Index entries often omit the variant that is the only one in use.
_DEFAULT_VARIANTS = {"arm64": "v8"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def host(cls) -> Platform:
        machine = host_platform.machine()
        architecture, variant = _MACHINE_TO_PLATFORM.get(machine, (machine, None))
        return cls("linux", architecture, variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """ "linux/amd64" or "linux/arm/v7"."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ImageError(f"invalid platform {text!r}: expected os/architecture[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Platform:
        return cls(str(data.get("os", "")), str(data.get("architecture", "")), data.get("variant") or None)

    def matches(self, other: Platform) -> bool:
        """Whether an image for `other` runs here: same os and architecture, and the same variant when both
        (after defaults) name one."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        wanted = self.variant or _DEFAULT_VARIANTS.get(self.architecture)
        offered = other.variant or _DEFAULT_VARIANTS.get(other.architecture)
        return wanted is None or offered is None or wanted == offered

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


def select_platform(manifests: list[Descriptor], wanted: Platform, where: str) -> Descriptor:
    """The index entry for `wanted`: an exact variant match first, then an entry without a variant."""
    candidates = [d for d in manifests if d.platform is not None and wanted.matches(d.platform)]
    exact = [d for d in candidates if d.platform is not None and d.platform.variant == wanted.variant]
    if exact or candidates:
        return (exact or candidates)[0]
    offered = sorted({str(d.platform) for d in manifests if d.platform is not None}) or ["none"]
    raise ImageError(f"{where}: no manifest for platform {wanted} (the index offers {', '.join(offered)})")
