"""pods/log and pods/exec: the apiserver forwards them to the kubelet of the pod's node over TLS, authenticating
with its kubelet client certificate (the kubelet trusts only the apiserver for these)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import aiohttp
from aiohttp import web

from provisioner.services.api.status import ApiError, bad_request

DEFAULT_KUBELET_PORT = 10250
_LOG_PARAMS = ("follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes")
_EXEC_PARAMS = ("command", "stdin", "stdout", "stderr", "tty")
_WS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                 "channel.k8s.io")


def choose_container(pod: dict[str, Any], requested: str) -> str:
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    init = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
    name = pod["metadata"]["name"]
    if requested:
        if requested not in containers and requested not in init:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in containers:
        return default
    if len(containers) == 1:
        return containers[0]
    raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]")


def kubelet_address(node: dict[str, Any]) -> tuple[str, int]:
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addresses.get("InternalIP") or addresses.get("Hostname") or addresses.get("ExternalIP")
    if not host:
        raise ApiError(503, f"node {node['metadata']['name']} has no address to reach its kubelet",
                       "ServiceUnavailable")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return host, int(port)


class KubeletProxy:
    def __init__(self, ssl_context: ssl.SSLContext | None, node_lookup: Any) -> None:
        """``node_lookup(name)`` returns the Node object (raising a 404 ApiError if there is none)."""
        self._ssl = ssl_context
        self._node_lookup = node_lookup

    async def forward(self, request: web.Request, pod: dict[str, Any], subresource: str) -> web.StreamResponse:
        if subresource not in ("log", "exec"):
            raise ApiError(405, f"pods/{subresource} is not supported by this server", "MethodNotAllowed")
        node_name = (pod.get("spec") or {}).get("nodeName")
        meta = pod["metadata"]
        if not node_name:
            raise bad_request(f"pod {meta['name']} does not have a host assigned")
        if self._ssl is None:
            raise ApiError(503, "the apiserver has no kubelet client certificate configured", "ServiceUnavailable")
        container = choose_container(pod, request.query.get("container", ""))
        host, port = kubelet_address(await self._node_lookup(node_name))
        if subresource == "log":
            _check_container_started(pod, container)
            url = f"https://{host}:{port}/containerLogs/{meta['namespace']}/{meta['name']}/{container}"
            params = [(k, v) for k in _LOG_PARAMS for v in request.query.getall(k, [])]
            return await self._stream_logs(request, url, params)
        url = f"https://{host}:{port}/exec/{meta['namespace']}/{meta['name']}/{container}"
        params = [(k, v) for k in _EXEC_PARAMS for v in request.query.getall(k, [])]
        return await self._websocket(request, url, params)

    async def _stream_logs(self, request: web.Request, url: str, params: list[tuple[str, str]]) -> web.StreamResponse:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                upstream = await session.get(url, params=params, ssl=self._ssl)
            except aiohttp.ClientError as err:
                raise ApiError(502, f"error dialing the kubelet: {err}", "InternalError") from None
            async with upstream:
                if upstream.status != 200:
                    text = (await upstream.text())[:2000]
                    raise ApiError(upstream.status if 400 <= upstream.status < 500 else 502, text.strip())
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                response.enable_chunked_encoding()
                await response.prepare(request)
                with contextlib.suppress(ConnectionResetError):
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                return response

    async def _websocket(self, request: web.Request, url: str, params: list[tuple[str, str]]) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise bad_request("Upgrade request required: exec needs a websocket connection (v5.channel.k8s.io)")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        protocols = [p for p in offered if p in _WS_PROTOCOLS] or list(_WS_PROTOCOLS)
        async with aiohttp.ClientSession() as session:
            try:
                upstream = await session.ws_connect(url.replace("https://", "wss://"), params=params,
                                                    protocols=protocols, ssl=self._ssl, autoping=True)
            except aiohttp.WSServerHandshakeError as err:
                raise ApiError(err.status if 400 <= err.status < 500 else 502,
                               f"error upgrading the connection to the kubelet: {err.message}") from None
            except aiohttp.ClientError as err:
                raise ApiError(502, f"error dialing the kubelet: {err}", "InternalError") from None
            downstream = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else ())
            await downstream.prepare(request)
            await _pump_both_ways(downstream, upstream)
            return downstream


async def _pump_both_ways(downstream: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async def pump(source: Any, sink: Any) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            else:
                break
        await sink.close()

    tasks = [asyncio.create_task(pump(downstream, upstream)), asyncio.create_task(pump(upstream, downstream))]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    # The kubelet ending the session (exit status sent) ends it for the client, and the other way round.
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
            await task
    await upstream.close()
    await downstream.close()


def _check_container_started(pod: dict[str, Any], container: str) -> None:
    statuses = (pod.get("status") or {}).get("containerStatuses", []) + \
        (pod.get("status") or {}).get("initContainerStatuses", [])
    for status in statuses:
        if status.get("name") != container:
            continue
        state = status.get("state") or {}
        if "waiting" in state and not status.get("lastState", {}).get("terminated"):
            reason = state["waiting"].get("reason", "ContainerCreating")
            raise bad_request(f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: '
                              f"{reason}")
        return
    raise bad_request(f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: '
                      "ContainerCreating")
