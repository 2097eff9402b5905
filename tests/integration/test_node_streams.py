"""`kubectl logs` and `kubectl exec` go through the apiserver to the kubelet of the pod's node, authenticated with
the apiserver's kubelet client certificate. A stand-in kubelet (TLS, client certificates required) answers here;
the real kubelet comes with the workloads issue."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from provisioner import dev
from provisioner.pki import CertificateAuthority, SubjectAltNames, Usage
from tests.integration.harness import Kubectl

pytestmark = pytest.mark.integration

LOG_LINES = ["first line", "second line", "third line"]


@dataclass
class FakeKubelet:
    port: int
    client_names: list[str] = field(default_factory=list)  # CNs of the certificates that called us
    exec_commands: list[list[str]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peer_name(request: web.Request) -> str:
    cert = request.transport.get_extra_info("peercert") if request.transport else None
    return next((v for rdn in (cert or {}).get("subject", ()) for k, v in rdn if k == "commonName"), "")


def _kubelet_app(kubelet: FakeKubelet) -> web.Application:
    async def logs(request: web.Request) -> web.StreamResponse:
        kubelet.client_names.append(_peer_name(request))
        lines = LOG_LINES[-int(request.query["tailLines"]):] if "tailLines" in request.query else LOG_LINES
        return web.Response(text="".join(f"{line}\n" for line in lines))

    async def exec_(request: web.Request) -> web.StreamResponse:
        kubelet.client_names.append(_peer_name(request))
        command = request.query.getall("command", [])
        kubelet.exec_commands.append(command)
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
        await ws.prepare(request)
        if command[:1] == ["false"]:
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": "command terminated with non-zero exit code: exit status 3",
                      "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
        else:
            await ws.send_bytes(b"\x01" + (" ".join(command[1:]) + "\n").encode())
            status = {"metadata": {}, "status": "Success"}
        await ws.send_bytes(b"\x03" + json.dumps(status).encode())
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", logs)
    app.router.add_get("/exec/{namespace}/{pod}/{container}", exec_)
    return app


@pytest.fixture(scope="module")
def fake_kubelet(dev_cluster: dev.DevCluster) -> Iterator[FakeKubelet]:
    paths = dev.DevPaths(dev_cluster.dir)
    ca = CertificateAuthority.load(paths.ca_cert, paths.ca_key)
    serving = ca.issue("fake-kubelet", usages=(Usage.SERVER,),
                       sans=SubjectAltNames(ip_addresses=(ipaddress.ip_address("127.0.0.1"),)))
    cert_file, key_file = paths.pki / "fake-kubelet.crt", paths.pki / "fake-kubelet.key"
    serving.save(cert_file, key_file)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(paths.ca_cert))
    context.load_cert_chain(cert_file, key_file)
    context.verify_mode = ssl.CERT_REQUIRED  # only the apiserver, by its certificate

    kubelet = FakeKubelet(_free_port())
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(_kubelet_app(kubelet))

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", kubelet.port, ssl_context=context).start()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield kubelet
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def running_pod(kubectl: Kubectl, fake_kubelet: FakeKubelet) -> str:
    # Unschedulable: the test binds its pod itself, and no other pod should land on a node without a kubelet.
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "stream-node"}, "spec": {"unschedulable": True},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": fake_kubelet.port}}}}
    kubectl.run("apply", "-f", "-", stdin=json.dumps(node))
    kubectl.run("run", "streamer", "--image=registry.local/http:1", "-n", "default")
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "streamer"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "stream-node"}}
    kubectl.run("create", "-f", "-", "--raw", "/api/v1/namespaces/default/pods/streamer/binding",
                stdin=json.dumps(binding))
    running = {"status": {"phase": "Running", "containerStatuses": [
        {"name": "streamer", "ready": True, "restartCount": 0, "image": "registry.local/http:1", "imageID": "",
         "state": {"running": {"startedAt": "2026-11-22T00:00:00Z"}}}]}}
    kubectl.run("patch", "pod", "streamer", "-n", "default", "--subresource=status", "--type=merge", "-p",
                json.dumps(running))
    return "streamer"


def test_logs_are_proxied_to_the_kubelet(kubectl: Kubectl, fake_kubelet: FakeKubelet, running_pod: str) -> None:
    out = kubectl.run("logs", running_pod, "-n", "default").stdout
    assert out.splitlines() == LOG_LINES
    assert kubectl.run("logs", running_pod, "-n", "default", "--tail=1").stdout == "third line\n"
    assert set(fake_kubelet.client_names) == {"kube-apiserver-kubelet-client"}


def test_exec_streams_output_and_exit_code(kubectl: Kubectl, fake_kubelet: FakeKubelet, running_pod: str) -> None:
    out = kubectl.run("exec", running_pod, "-n", "default", "--", "echo", "hello", "world")
    assert out.stdout == "hello world\n"
    failed = kubectl.run("exec", running_pod, "-n", "default", "--", "false", check=False)
    assert failed.returncode == 3
    assert ["echo", "hello", "world"] in fake_kubelet.exec_commands


def test_logs_of_an_unscheduled_pod_is_a_clear_error(kubectl: Kubectl) -> None:
    kubectl.run("run", "nowhere", "--image=registry.local/http:1", "-n", "default")
    out = kubectl.run("logs", "nowhere", "-n", "default", check=False)
    assert out.returncode == 1
    assert "does not have a host assigned" in out.stderr or "waiting to start" in out.stderr
