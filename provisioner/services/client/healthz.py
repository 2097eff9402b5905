"""``GET /healthz`` over plain HTTP for the services that are clients of the apiserver (kubelet, scheduler,
controller-manager), so systemd, the tool's checks or ``curl`` can probe them without credentials.

Upstream serves the scheduler's (10259) and controller-manager's (10257) health over HTTPS with delegated
authentication; plain HTTP bound to loopback by default is a deliberate simplification here: the answer carries
nothing secret. The kubelet's healthz (10248) is plain HTTP on localhost upstream too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger("healthz")

HEALTHZ_PATH = "/healthz"


class HealthzBindError(Exception):
    """The address cannot be served (taken, or not an address of this host); the message names it."""


def parse_bind_address(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` or ``[IPv6]:PORT`` → (host, port); an empty string disables the endpoint (None).
    Port 0 binds a free port (it is logged)."""
    if not text:
        return None
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: {host!r} is not an IP address") from None
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"{text!r}: port must be 0-65535")
    return host, int(port_text)


class HealthzServer:
    """Answers 200 ``ok`` while ``problem()`` returns "", else 503 with what it returned."""

    def __init__(self, host: str, port: int, problem: Callable[[], str] = lambda: "") -> None:
        self.host = host
        self.port = port
        self.problem = problem
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; HealthzBindError if the address cannot be bound."""
        app = web.Application()
        app.router.add_get(HEALTHZ_PATH, self._healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as err:
            await runner.cleanup()
            raise HealthzBindError(f"cannot serve {HEALTHZ_PATH} on {self.url}: {err.strerror or err}") from None
        self._runner = runner
        self.port = runner.addresses[0][1]  # the port chosen for port 0
        log.info("serving %s on %s", HEALTHZ_PATH, self.url)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{HEALTHZ_PATH}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> HealthzServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _healthz(self, request: web.Request) -> web.Response:
        problem = self.problem()
        if problem:
            return web.Response(status=503, text=problem)
        return web.Response(text="ok")


def serve_healthz(bind: tuple[str, int] | None,
                  problem: Callable[[], str] = lambda: "") -> contextlib.AbstractAsyncContextManager[object]:
    """``async with serve_healthz(parse_bind_address(flag)):`` — a HealthzServer, or nothing when disabled."""
    return HealthzServer(*bind, problem) if bind else contextlib.nullcontext()
