"""An apiserver on loopback over plain HTTP with a memory store, running in a thread of the test process, for
fast tests of HTTP semantics with real clients (bearer-token authentication; TLS is covered by integration tests)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from provisioner.services.apiserver.app import build_app
from provisioner.services.apiserver.main import Config, build_state
from provisioner.services.storage.memory import MemoryBackend

ADMIN_TOKEN = "admin-token-for-tests"
NODE_TOKEN = "node-token-for-tests"
NOBODY_TOKEN = "nobody-token-for-tests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalApiserver:
    url: str
    backend: MemoryBackend
    loop: asyncio.AbstractEventLoop
    tokens: dict[str, str] = field(default_factory=dict)

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the server's loop (e.g. to compact its store) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def headers(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def start_local_apiserver(tmp_path: Path, *, bookmark_interval: float = 60.0,
                          watch_queue_size: int = 1000) -> tuple[LocalApiserver, Any]:
    token_file = tmp_path / "tokens.csv"
    token_file.write_text(f'{ADMIN_TOKEN},admin,1,"system:masters"\n'
                          f'{NODE_TOKEN},system:node:node-1,2,"system:nodes"\n'
                          f"{NOBODY_TOKEN},nobody,3\n")
    port = _free_port()
    config = Config(bind_address="127.0.0.1", secure_port=port, tls_cert_file="", tls_private_key_file="",
                    client_ca_file="", storage_url="memory://", token_auth_file=str(token_file),
                    watch_bookmark_interval=bookmark_interval)
    backend = MemoryBackend(compact_interval=None, watch_queue_size=watch_queue_size)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def setup() -> None:
        await backend.start()
        state = await build_state(config, backend)
        runner = web.AppRunner(build_app(state), handler_cancellation=True, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runner_box.append(runner)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(setup())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="apiserver", daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the local apiserver did not start")
    server = LocalApiserver(f"http://127.0.0.1:{port}", backend, loop,
                            {"admin": ADMIN_TOKEN, "node": NODE_TOKEN, "nobody": NOBODY_TOKEN})

    def stop() -> None:
        async def teardown() -> None:
            await runner_box[0].cleanup()
            await backend.close()

        asyncio.run_coroutine_threadsafe(teardown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()

    return server, stop


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiserver]:
    server, stop = start_local_apiserver(tmp_path_factory.mktemp("apiserver"), bookmark_interval=0.5)
    try:
        yield server
    finally:
        stop()


@pytest.fixture(scope="module")
def api_client(apiserver: LocalApiserver):
    from kubernetes import client

    configuration = client.Configuration(host=apiserver.url)
    configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture(scope="module")
def module_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiserver]:
    """One apiserver per test module, for tests that talk to it through our own client library."""
    server, stop = start_local_apiserver(tmp_path_factory.mktemp("module-apiserver"))
    try:
        yield server
    finally:
        stop()


@pytest.fixture
async def admin_client(module_apiserver: LocalApiserver):
    from provisioner.services.client import ApiClient, ClientConfig

    async with ApiClient(ClientConfig(server=module_apiserver.url, token=module_apiserver.tokens["admin"])) as api:
        yield api
