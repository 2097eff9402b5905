"""Atomic file writes with exact permissions: keys never exist on disk with a mode looser than 0600."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from provisioner.errors import PKIError

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
PRIVATE_DIR_MODE = 0o700


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` via a temp file in the same directory and rename it into place.

    mkstemp creates the temp file 0600 whatever the umask, and fchmod sets the final mode before any byte is
    written, so a reader sees either the old file or the complete new one, never a partial or looser one.
    """
    path = Path(path)
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise PKIError(f"{path}: cannot write: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as temp_file:
            os.fchmod(temp_file.fileno(), mode)
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise PKIError(f"{path}: cannot write: {e.strerror}") from None
    _fsync_directory(path.parent)


def write_private_file(path: Path, data: bytes) -> None:
    """Keys, kubeconfigs with credentials, tokens: owner read/write only."""
    write_atomic(path, data, PRIVATE_MODE)


def write_public_file(path: Path, data: bytes) -> None:
    """Certificates and other non-secret files."""
    write_atomic(path, data, PUBLIC_MODE)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing; a directory holding keys is 0700."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PKIError(f"{path}: exists and is not a directory")
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except OSError as e:
        raise PKIError(f"{path}: cannot create directory: {e.strerror}") from None
    return path


def read_bytes(path: Path, what: str) -> bytes:
    """Read a whole file; the error names what the file was supposed to be."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise PKIError(f"{path}: {what} not found") from None
    except OSError as e:
        raise PKIError(f"{path}: cannot read {what}: {e.strerror}") from None


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse O_RDONLY fsync on directories, which is harmless.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
