"""The plain-HTTP /healthz the kubelet, scheduler and controller-manager serve, and its bind-address flag."""

from __future__ import annotations

import aiohttp
import pytest

from provisioner.services.client import HealthzBindError, HealthzServer, parse_bind_address, serve_healthz


@pytest.mark.parametrize(("text", "address"), [
    ("127.0.0.1:10259", ("127.0.0.1", 10259)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("[::1]:10257", ("::1", 10257)),
    ("", None),
])
def test_bind_addresses(text: str, address: tuple[str, int] | None) -> None:
    assert parse_bind_address(text) == address


@pytest.mark.parametrize(("text", "message"), [
    ("10259", "expected HOST:PORT"),
    ("localhost:10259", "is not an IP address"),
    ("127.0.0.1:http", "port must be 0-65535"),
    ("127.0.0.1:65536", "port must be 0-65535"),
])
def test_bad_bind_addresses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_bind_address(text)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_ok_while_healthy_503_with_the_reason_otherwise() -> None:
    problem = "node not registered yet"
    async with HealthzServer("127.0.0.1", 0, lambda: problem) as server:
        assert server.port != 0 and server.url == f"http://127.0.0.1:{server.port}/healthz"
        assert await get(server.url) == (503, "node not registered yet")
        problem = ""
        assert await get(server.url) == (200, "ok")


async def test_a_taken_port_is_a_clear_error() -> None:
    async with HealthzServer("127.0.0.1", 0) as first:
        with pytest.raises(HealthzBindError, match=f"cannot serve /healthz on http://127.0.0.1:{first.port}/healthz"):
            await HealthzServer("127.0.0.1", first.port).start()


async def test_an_empty_address_serves_nothing() -> None:
    async with serve_healthz(None) as server:
        assert server is None
