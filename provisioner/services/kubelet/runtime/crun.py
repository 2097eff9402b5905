"""crun, the OCI runtime the kubelet drives. For now, only what the Node reports: the runtime's version."""

from __future__ import annotations

import shutil
import subprocess

UNKNOWN_RUNTIME = "unknown://"


def parse_version(output: str) -> str:
    """The first line of ``crun --version`` (``crun version 1.8.1``) → ``crun://1.8.1``."""
    words = output.splitlines()[0].split() if output.strip() else []
    if len(words) == 3 and words[:2] == ["crun", "version"]:
        return f"crun://{words[2]}"
    return UNKNOWN_RUNTIME


def runtime_version(binary: str = "crun") -> str:
    """``crun://<version>`` as Node.status.nodeInfo.containerRuntimeVersion, or ``unknown://`` without crun."""
    path = shutil.which(binary)
    if path is None:
        return UNKNOWN_RUNTIME
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN_RUNTIME
    return parse_version(result.stdout)
