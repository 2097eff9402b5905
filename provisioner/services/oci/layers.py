"""Layer tars unpacked safely, and applied in order with whiteouts to make a container's root filesystem.

An unpacked layer directory keeps the layer's whiteout markers as the empty files the tar carries
(`.wh.<name>` deletes <name> of the layers below, `.wh..wh..opq` hides everything below in its directory);
`apply_layer_dir` interprets them. Extraction never follows a symlink: every parent is checked to be a real
directory, entries whose path leaves the tree are refused, and absolute symlink targets are stored verbatim
(they are resolved inside the container, never here). Ownership and device nodes need root; without it they
are skipped."""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from provisioner.services.oci.errors import LayerError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def unpack_layer(tar_path: Path, destination: Path) -> None:
    """Extract a layer tar (plain or gzip) into the new directory `destination`, whiteout markers kept."""
    destination.mkdir(parents=True)
    with _open_layer(tar_path) as stream:
        try:
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                _extract(archive, destination, str(tar_path))
        except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as e:
            raise LayerError(f"layer {tar_path.name}: cannot extract: {e}") from None


def apply_layer_tar(tar_path: Path, root: Path) -> None:
    """Apply a layer tar onto an existing tree, whiteouts deleting what lies below."""
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{root.name}.layer-") as staging:
        unpacked = Path(staging) / "layer"
        unpack_layer(tar_path, unpacked)
        apply_layer_dir(unpacked, root)


def apply_layer_dir(layer: Path, root: Path) -> None:
    """Copy an unpacked layer onto `root`: opaque markers empty their directory of lower content, `.wh.<name>`
    removes <name>, directories merge, anything else replaces what was there. Hard links within the layer stay
    hard links."""
    root.mkdir(parents=True, exist_ok=True)
    _apply_directory(layer, root, {})
    _copy_metadata(os.lstat(layer), root)


def rootfs(layer_dirs: Iterable[Path], destination: Path) -> None:
    """Materialize a container root filesystem by copying the image's unpacked layers, lowest first."""
    destination.mkdir(parents=True, exist_ok=True)
    for layer in layer_dirs:
        apply_layer_dir(layer, destination)


# --- extraction ---------------------------------------------------------------------------------------------


def _open_layer(tar_path: Path) -> IO[bytes]:
    raw = open(tar_path, "rb")  # noqa: SIM115 - returned to the caller's with-block
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic == _ZSTD_MAGIC:
        raw.close()
        raise LayerError(f"layer {tar_path.name}: zstd-compressed layers are not supported")
    return raw


def _extract(archive: tarfile.TarFile, root: Path, layer: str) -> None:
    as_root = os.geteuid() == 0
    directories: list[tuple[Path, tarfile.TarInfo]] = []
    for member in archive:
        relative = _member_path(member.name, layer)
        if relative is None:  # the layer's root itself: "./"
            continue
        target = root / relative
        _ensure_real_parents(root, relative, layer)
        if member.isdir():
            if not (target.is_dir() and not target.is_symlink()):
                _remove(target)
                target.mkdir()
            directories.append((target, member))
            continue
        _remove(target)
        if member.isreg():
            source = archive.extractfile(member)
            assert source is not None  # a regular member always has data
            with open(target, "xb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            linked = _member_path(member.linkname, layer)
            if linked is None:
                raise LayerError(f"layer {layer}: hard link {member.name} points at the layer root")
            _ensure_real_parents(root, linked, layer)
            if not os.path.lexists(root / linked):
                raise LayerError(f"layer {layer}: hard link {member.name} to missing {member.linkname}")
            os.link(root / linked, target, follow_symlinks=False)
            continue  # the link shares the metadata of its target
        elif member.isfifo():
            os.mkfifo(target)
        elif member.ischr() or member.isblk():
            if not _make_device(target, member, as_root):
                continue
        else:
            continue  # sparse or unknown types: nothing a root filesystem needs
        _apply_member_metadata(target, member, as_root)
    # Directories last and deepest first: their mode may forbid writing and their mtime changes with content.
    for target, member in reversed(directories):
        _apply_member_metadata(target, member, as_root)


def _member_path(name: str, layer: str) -> str | None:
    """The normalized path of a tar member inside the tree, None for the root; paths leaving it are refused.
    Leading slashes are dropped as Docker does (layers are relative to the container's root)."""
    normalized = posixpath.normpath(name.lstrip("/") or ".")
    if normalized == ".." or normalized.startswith("../"):
        raise LayerError(f"layer {layer}: entry {name!r} escapes the layer")
    return None if normalized == "." else normalized


def _ensure_real_parents(root: Path, relative: str, layer: str) -> None:
    """Create the missing parents of `relative` and refuse any that is a symlink or not a directory: writing
    through a symlink could land outside the tree."""
    current = root
    for component in relative.split("/")[:-1]:
        current = current / component
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            current.mkdir(mode=0o755)
            continue
        if stat.S_ISLNK(mode):
            raise LayerError(f"layer {layer}: entry {relative!r} passes through the symlink {component!r}")
        if not stat.S_ISDIR(mode):
            raise LayerError(
                f"layer {layer}: entry {relative!r} passes through the non-directory {component!r}"
            )


def _make_device(target: Path, member: tarfile.TarInfo, as_root: bool) -> bool:
    if not as_root:
        return False
    kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
    try:
        os.mknod(target, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
    except PermissionError:
        return False  # root in a user namespace or without CAP_MKNOD
    return True


def _apply_member_metadata(target: Path, member: tarfile.TarInfo, as_root: bool) -> None:
    if as_root:
        os.lchown(target, member.uid, member.gid)
    if not member.issym():
        os.chmod(target, member.mode & 0o7777)
    os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)


# --- application --------------------------------------------------------------------------------------------


def _apply_directory(source: Path, target: Path, copied_inodes: dict[tuple[int, int], Path]) -> None:
    entries = sorted(os.scandir(source), key=lambda entry: entry.name)
    names = {entry.name for entry in entries}
    if OPAQUE_MARKER in names:
        for lower in os.scandir(target):
            _remove(Path(lower.path))
    for entry in entries:
        if entry.name.startswith(WHITEOUT_PREFIX) and entry.name != OPAQUE_MARKER:
            hidden = entry.name[len(WHITEOUT_PREFIX) :]
            # ".wh..wh.*" other than the opaque marker is aufs bookkeeping, not a whiteout.
            if hidden and not hidden.startswith(WHITEOUT_PREFIX) and hidden not in (".", ".."):
                _remove(target / hidden)
    for entry in entries:
        if entry.name.startswith(WHITEOUT_PREFIX):
            continue
        destination = target / entry.name
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if not (destination.is_dir() and not destination.is_symlink()):
                _remove(destination)
                destination.mkdir()
            _apply_directory(Path(entry.path), destination, copied_inodes)
        else:
            _remove(destination)
            if not _copy_entry(Path(entry.path), info, destination, copied_inodes):
                continue
        _copy_metadata(info, destination)


def _copy_entry(
    source: Path, info: os.stat_result, destination: Path, copied_inodes: dict[tuple[int, int], Path]
) -> bool:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(source), destination)
    elif stat.S_ISREG(mode):
        inode = (info.st_dev, info.st_ino)
        if info.st_nlink > 1 and inode in copied_inodes and os.path.lexists(copied_inodes[inode]):
            os.link(copied_inodes[inode], destination, follow_symlinks=False)
            return True
        shutil.copyfile(source, destination, follow_symlinks=False)
        if info.st_nlink > 1:
            copied_inodes[inode] = destination
    elif stat.S_ISFIFO(mode):
        os.mkfifo(destination)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        if os.geteuid() != 0:
            return False
        try:
            os.mknod(destination, mode, info.st_rdev)
        except PermissionError:
            return False
    else:
        return False  # sockets: never part of an image
    return True


def _copy_metadata(info: os.stat_result, destination: Path) -> None:
    if os.geteuid() == 0:
        os.lchown(destination, info.st_uid, info.st_gid)
    if not stat.S_ISLNK(info.st_mode):
        os.chmod(destination, stat.S_IMODE(info.st_mode))
    os.utime(destination, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def _remove(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()
