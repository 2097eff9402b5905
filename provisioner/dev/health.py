"""Health probes over TLS, verified with the cluster CA; health endpoints need no client certificate."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str  # "ok", "HTTP 503: …", "connection refused", …


def probe(url: str, ca_file: Path, timeout: float = 2.0) -> ProbeResult:
    """GET `url`; ok only on HTTP 200 from a server whose certificate the CA vouches for."""
    parts = urlsplit(url)
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as e:
        return ProbeResult(False, f"cannot load CA {ca_file}: {e}")
    # http.client rather than urllib: urllib would route loopback requests through an https_proxy from the env.
    connection = http.client.HTTPSConnection(
        parts.hostname or "", parts.port or 443, context=context, timeout=timeout
    )
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        body = response.read(200).decode(errors="replace").strip()
    except ssl.SSLCertVerificationError as e:
        return ProbeResult(False, f"TLS verification failed: {e.verify_message}")
    except ConnectionRefusedError:
        return ProbeResult(False, "connection refused")
    except (OSError, http.client.HTTPException) as e:
        return ProbeResult(False, f"{type(e).__name__}: {e}")
    finally:
        connection.close()
    if response.status == 200:
        return ProbeResult(True, "ok")
    return ProbeResult(False, f"HTTP {response.status}: {body[:100]}")
