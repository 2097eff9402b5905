"""The node's image store: verified blobs, unpacked layers and an index of pulled references, with the
kubelet's pull policies, deduplicated concurrent pulls and garbage collection.

Layout under the root:
  blobs/sha256/<hex>      manifests, configs and layer tars, each verified against its digest on arrival
  layers/sha256/<hex>/    the layer tar of that digest unpacked, whiteout markers kept (see layers.py)
  images.json             reference → manifest digest, config digest, layer digests, size, platform, last used
"""

from __future__ import annotations

import asyncio
import enum
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from provisioner.services.oci.errors import ImageError, ImageNotPresent, RegistryError
from provisioner.services.oci.layers import unpack_layer
from provisioner.services.oci.media import LAYER_TYPES, Descriptor, Platform, digest_hex, sha256_digest
from provisioner.services.oci.reference import DEFAULT_TAG, ImageReference, parse_reference
from provisioner.services.oci.registry import RegistryClient


class PullPolicy(enum.StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


def default_pull_policy(reference: ImageReference) -> PullPolicy:
    """Kubernetes' default: Always for `:latest` (and untagged) images, IfNotPresent otherwise."""
    return (
        PullPolicy.ALWAYS
        if reference.digest is None and reference.tag == DEFAULT_TAG
        else PullPolicy.IF_NOT_PRESENT
    )


@dataclass(frozen=True)
class ImageConfig:
    """What the runtime needs from an image's config to start a container."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    working_dir: str
    user: str
    exposed_ports: tuple[str, ...]

    @classmethod
    def from_json(cls, raw: bytes) -> ImageConfig:
        document = orjson.loads(raw)
        config = (document.get("config") if isinstance(document, dict) else None) or {}
        return cls(
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            env=tuple(config.get("Env") or ()),
            working_dir=config.get("WorkingDir") or "",
            user=config.get("User") or "",
            exposed_ports=tuple(sorted(config.get("ExposedPorts") or {})),
        )


@dataclass(frozen=True)
class Image:
    reference: str  # normalized, as pulled
    manifest_digest: str
    config_digest: str  # the image ID
    config: ImageConfig
    layer_digests: tuple[str, ...]
    layer_dirs: tuple[Path, ...]  # lowest first, ready for layers.rootfs
    size: int  # bytes of config and layers as the registry serves them
    platform: Platform
    last_used: float


@dataclass(frozen=True)
class GarbageCollection:
    removed_images: tuple[str, ...]
    removed_blobs: int
    removed_layers: int
    freed_bytes: int


class ImageStore:
    def __init__(self, root: Path, registry: RegistryClient, parallel_downloads: int = 3) -> None:
        self.root = root
        self._registry = registry
        self._blobs = root / "blobs" / "sha256"
        self._layers = root / "layers" / "sha256"
        self._index = root / "images.json"
        for directory in (self._blobs, self._layers):
            directory.mkdir(parents=True, exist_ok=True)
        self._records: dict[str, dict[str, Any]] = self._load()
        self._downloads = asyncio.Semaphore(parallel_downloads)
        self._in_flight: dict[tuple[str, str], asyncio.Future[Image]] = {}
        # Pulls share the store; a garbage collection has it alone (so it never deletes what a pull found).
        self._turns = asyncio.Condition()
        self._active_pulls = 0
        self._collecting = False

    # --- queries -------------------------------------------------------------------------------------------

    def get(self, reference: str | ImageReference, platform: Platform | None = None) -> Image | None:
        """The image if it is present and complete for `platform` (the host's by default)."""
        key = str(_as_reference(reference))
        record = self._records.get(key)
        if record is None or not (platform or Platform.host()).matches(Platform.parse(record["platform"])):
            return None
        complete = (self._blobs / digest_hex(record["config_digest"])).is_file() and all(
            (self._layers / digest_hex(digest)).is_dir() for digest in record["layers"]
        )
        return self._image(key, record) if complete else None

    def images(self) -> list[Image]:
        return [self._image(key, record) for key, record in sorted(self._records.items())]

    # --- pull ----------------------------------------------------------------------------------------------

    async def pull(
        self,
        reference: str | ImageReference,
        platform: Platform | None = None,
        policy: PullPolicy = PullPolicy.IF_NOT_PRESENT,
    ) -> Image:
        """The image, pulled if the policy says so; concurrent pulls of one image share one download."""
        parsed = _as_reference(reference)
        platform = platform or Platform.host()
        key = str(parsed)
        if policy is not PullPolicy.ALWAYS:
            present = self.get(parsed, platform)
            if present is not None:
                return self._touch(key)
            if policy is PullPolicy.NEVER:
                raise ImageNotPresent(f"image {key} is not present and the pull policy is Never")
        flight = (key, str(platform))
        pulling = self._in_flight.get(flight)
        if pulling is None:
            pulling = asyncio.ensure_future(self._pull(parsed, platform))
            self._in_flight[flight] = pulling
            pulling.add_done_callback(lambda done: self._pull_finished(flight, done))
        # shield: one waiter giving up (a pod deleted mid-pull) must not cancel the pull the others wait for.
        return await asyncio.shield(pulling)

    def _pull_finished(self, flight: tuple[str, str], done: asyncio.Future[Image]) -> None:
        self._in_flight.pop(flight, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a pull nobody waits for any more is not logged as unhandled

    async def _pull(self, reference: ImageReference, platform: Platform) -> Image:
        async with self._pull_turn():
            manifest = await self._registry.get_manifest(reference, platform)
            for layer in manifest.layers:
                if layer.media_type not in LAYER_TYPES:
                    raise RegistryError(f"pull {reference}: unsupported layer type {layer.media_type!r}")
            await asyncio.to_thread(self._write_blob, manifest.digest, manifest.raw)
            await self._fetch(reference, manifest.config)
            await asyncio.gather(*(self._fetch_and_unpack(reference, layer) for layer in manifest.layers))
            key = str(reference)
            self._records[key] = {
                "manifest_digest": manifest.digest,
                "config_digest": manifest.config.digest,
                "layers": [layer.digest for layer in manifest.layers],
                "size": manifest.config.size + sum(layer.size for layer in manifest.layers),
                "platform": str(platform),
                "last_used": time.time(),
            }
            self._save()
            return self._image(key, self._records[key])

    async def _fetch(self, reference: ImageReference, blob: Descriptor) -> Path:
        path = self._blobs / digest_hex(blob.digest)
        if not path.is_file():
            async with self._downloads:
                await self._registry.fetch_blob(reference, blob, path)
        return path

    async def _fetch_and_unpack(self, reference: ImageReference, layer: Descriptor) -> None:
        tar_path = await self._fetch(reference, layer)
        unpacked = self._layers / digest_hex(layer.digest)
        if unpacked.is_dir():
            return
        partial = unpacked.with_name(f".{unpacked.name}.{uuid.uuid4().hex}.partial")
        try:
            await asyncio.to_thread(unpack_layer, tar_path, partial)
            try:
                partial.rename(unpacked)
            except OSError:
                if not unpacked.is_dir():  # not a concurrent pull of another image that shares the layer
                    raise
        finally:
            if partial.exists():
                await asyncio.to_thread(shutil.rmtree, partial)

    def _write_blob(self, digest: str, content: bytes) -> None:
        if sha256_digest(content) != digest:
            raise ImageError(f"blob {digest}: content does not match its digest")
        _write_atomic(self._blobs / digest_hex(digest), content)

    # --- garbage collection --------------------------------------------------------------------------------

    async def garbage_collect(
        self, in_use: Iterable[str], bytes_to_free: int | None = None
    ) -> GarbageCollection:
        """Forget images not in `in_use` (references, manifest or config digests), least recently used first,
        until their sizes add up to `bytes_to_free` (all of them when None); then delete the blobs and layers
        no remaining image refers to."""
        keep = {item if item.startswith("sha256:") else str(parse_reference(item)) for item in in_use}
        async with self._collect_turn():
            unused = [
                (record["last_used"], key)
                for key, record in self._records.items()
                if not keep & {key, record["manifest_digest"], record["config_digest"]}
            ]
            removed: list[str] = []
            planned = 0
            for _, key in sorted(unused):
                if bytes_to_free is not None and planned >= bytes_to_free:
                    break
                planned += self._records.pop(key)["size"]
                removed.append(key)
            if removed:
                self._save()
            referenced = set()
            for record in self._records.values():
                referenced.update((record["manifest_digest"], record["config_digest"], *record["layers"]))
            referenced_hex = {digest_hex(digest) for digest in referenced}
            blobs, layers, freed = await asyncio.to_thread(self._delete_unreferenced, referenced_hex)
        return GarbageCollection(tuple(removed), blobs, layers, freed)

    def _delete_unreferenced(self, referenced_hex: set[str]) -> tuple[int, int, int]:
        blobs = layers = freed = 0
        for entry in os.scandir(self._blobs):
            if entry.name not in referenced_hex:  # also partial downloads of pulls that died
                freed += entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.path)
                blobs += 1
        for entry in os.scandir(self._layers):
            if entry.name not in referenced_hex:
                freed += _tree_size(Path(entry.path))
                shutil.rmtree(entry.path)
                layers += 1
        return blobs, layers, freed

    @asynccontextmanager
    async def _pull_turn(self) -> AsyncIterator[None]:
        async with self._turns:
            await self._turns.wait_for(lambda: not self._collecting)
            self._active_pulls += 1
        try:
            yield
        finally:
            async with self._turns:
                self._active_pulls -= 1
                self._turns.notify_all()

    @asynccontextmanager
    async def _collect_turn(self) -> AsyncIterator[None]:
        async with self._turns:
            await self._turns.wait_for(lambda: not self._collecting and self._active_pulls == 0)
            self._collecting = True
        try:
            yield
        finally:
            async with self._turns:
                self._collecting = False
                self._turns.notify_all()

    # --- records -------------------------------------------------------------------------------------------

    def _image(self, key: str, record: dict[str, Any]) -> Image:
        config_path = self._blobs / digest_hex(record["config_digest"])
        try:
            config = ImageConfig.from_json(config_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            raise ImageError(f"image {key}: cannot read its config {config_path}: {e}") from None
        return Image(
            reference=key,
            manifest_digest=record["manifest_digest"],
            config_digest=record["config_digest"],
            config=config,
            layer_digests=tuple(record["layers"]),
            layer_dirs=tuple(self._layers / digest_hex(digest) for digest in record["layers"]),
            size=record["size"],
            platform=Platform.parse(record["platform"]),
            last_used=record["last_used"],
        )

    def _touch(self, key: str) -> Image:
        self._records[key]["last_used"] = time.time()
        self._save()
        return self._image(key, self._records[key])

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            document = orjson.loads(self._index.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as e:
            raise ImageError(f"{self._index}: cannot read the image index: {e}") from None
        images = document.get("images") if isinstance(document, dict) else None
        if not isinstance(images, dict):
            raise ImageError(f"{self._index}: not an image index (no images object)")
        return images

    def _save(self) -> None:
        _write_atomic(self._index, orjson.dumps({"images": self._records}, option=orjson.OPT_INDENT_2))


def _as_reference(reference: str | ImageReference) -> ImageReference:
    return reference if isinstance(reference, ImageReference) else parse_reference(reference)


def _write_atomic(path: Path, content: bytes) -> None:
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        partial.write_bytes(content)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _tree_size(root: Path) -> int:
    total = 0
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            total += os.lstat(os.path.join(directory, name)).st_size
    return total
