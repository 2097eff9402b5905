"""``provision-apiserver``: flags, TLS, storage, bootstrap objects, and the serving loop."""

from __future__ import annotations

import argparse
import asyncio
import asyncio.sslproto
import contextlib
import ipaddress
import logging
import signal
import ssl
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.apiserver.allocator import ClusterIPAllocator, NodePortAllocator
from provisioner.services.apiserver.app import ServerState, build_app
from provisioner.services.apiserver.authn import Authenticator, load_token_file
from provisioner.services.apiserver.context import User, WriteOptions
from provisioner.services.apiserver.eventttl import expire_events_periodically
from provisioner.services.apiserver.metrics import Metrics
from provisioner.services.apiserver.paths import Target
from provisioner.services.apiserver.proxy import KubeletProxy
from provisioner.services.apiserver.registry import Registry
from provisioner.services.apiserver.services import ServiceAllocations
from provisioner.services.storage import open_backend
from provisioner.services.storage.backend import Backend

log = logging.getLogger("apiserver")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
APISERVER_USER = User("system:apiserver", ("system:masters", "system:authenticated"))


@dataclass(frozen=True)
class Config:
    bind_address: str
    secure_port: int
    tls_cert_file: str
    tls_private_key_file: str
    client_ca_file: str
    storage_url: str
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: str = "30000-32767"
    advertise_address: str = ""
    token_auth_file: str = ""
    kubelet_client_certificate: str = ""
    kubelet_client_key: str = ""
    kubelet_certificate_authority: str = ""
    watch_bookmark_interval: float = 60.0
    event_ttl: float = 3600.0

    @property
    def advertised(self) -> str:
        if self.advertise_address:
            return self.advertise_address
        return "127.0.0.1" if self.bind_address in ("0.0.0.0", "::", "") else self.bind_address


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(prog="provision-apiserver", description="The cluster's API server.")
    parser.add_argument("--bind-address", default="0.0.0.0")
    parser.add_argument("--secure-port", type=int, default=6443)
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-private-key-file", required=True)
    parser.add_argument("--client-ca-file", required=True)
    parser.add_argument("--storage-url", default="sqlite:///var/lib/provision/apiserver/state.db",
                        help="sqlite:///ABSOLUTE/PATH.db or memory://")
    parser.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    parser.add_argument("--service-node-port-range", default="30000-32767")
    parser.add_argument("--advertise-address", default="")
    parser.add_argument("--token-auth-file", default="")
    parser.add_argument("--kubelet-client-certificate", default="")
    parser.add_argument("--kubelet-client-key", default="")
    parser.add_argument("--kubelet-certificate-authority", default="")
    parser.add_argument("--watch-bookmark-interval", type=float, default=60.0,
                        help="seconds between BOOKMARK events on idle watches that asked for them")
    parser.add_argument("--event-ttl", type=float, default=3600.0,
                        help="seconds an Event is kept after it was last written (kube-apiserver: 1h)")
    args = parser.parse_args(argv)
    return Config(**{k: v for k, v in vars(args).items()})


# asyncio gives every TLS connection a 256 KiB read buffer; with a thousand watch connections that alone is
# ~250 MiB. 32 KiB still reads a full TLS record (16 KiB) at once. Measured: 1000 watchers 347 → ~115 MiB RSS.
TLS_READ_BUFFER = 32 * 1024


def limit_tls_read_buffer() -> None:
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER


def server_ssl_context(config: Config) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert_file, config.tls_private_key_file)
    context.load_verify_locations(config.client_ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL  # a certificate is one way to authenticate; tokens are another
    context.set_alpn_protocols(["http/1.1"])
    return context


def kubelet_ssl_context(config: Config) -> ssl.SSLContext | None:
    if not (config.kubelet_client_certificate and config.kubelet_client_key):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_cert_chain(config.kubelet_client_certificate, config.kubelet_client_key)
    if config.kubelet_certificate_authority:
        context.load_verify_locations(config.kubelet_certificate_authority)
        context.check_hostname = False  # kubelets are addressed by IP; the CA pins who may answer
    else:
        # Like kube-apiserver without --kubelet-certificate-authority: the kubelet's identity is not checked.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _resource(plural: str, group: str = "") -> Any:
    found = resources.lookup(group, "v1", plural)
    assert found is not None, plural
    return found


async def ensure_bootstrap_objects(registry: Registry, config: Config, first_ip: str) -> None:
    """System namespaces and the `kubernetes` Service with its endpoints, as kube-apiserver maintains them."""
    opts = WriteOptions(user=APISERVER_USER, field_manager="kube-apiserver")
    for name in SYSTEM_NAMESPACES:
        await _create_if_absent(registry, Target(_resource("namespaces"), ""), {"metadata": {"name": name}}, opts)
    service = {
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": first_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                   "targetPort": config.secure_port}],
                 "sessionAffinity": "None", "type": "ClusterIP"},
    }
    await _create_if_absent(registry, Target(_resource("services"), "default"), service, opts)
    address = config.advertised
    endpoints = {
        "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": address}],
                     "ports": [{"name": "https", "port": config.secure_port, "protocol": "TCP"}]}],
    }
    await _create_or_replace(registry, Target(_resource("endpoints"), "default", "kubernetes"), endpoints, opts)
    family = "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
    slice_ = {
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": family,
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": config.secure_port, "protocol": "TCP"}],
    }
    await _create_or_replace(registry, Target(_resource("endpointslices", "discovery.k8s.io"), "default",
                                              "kubernetes"), slice_, opts)


async def _create_if_absent(registry: Registry, target: Target, body: dict[str, Any], opts: WriteOptions) -> None:
    try:
        await registry.create(target, body, opts)
    except ApiError as err:
        if err.reason != "AlreadyExists":
            raise


async def _create_or_replace(registry: Registry, target: Target, body: dict[str, Any], opts: WriteOptions) -> None:
    collection = Target(target.resource, target.namespace)
    try:
        current = await registry.get(target)
    except ApiError:
        await _create_if_absent(registry, collection, body, opts)
        return
    desired = {**current, **{k: v for k, v in body.items() if k != "metadata"}}
    desired["metadata"] = {**current["metadata"], "labels": body["metadata"]["labels"]}
    if desired != current:
        await registry.update(target, desired, opts)


async def build_state(config: Config, backend: Backend) -> ServerState:
    cluster_ips = ClusterIPAllocator(backend, config.service_cluster_ip_range)
    node_ports = NodePortAllocator(backend, config.service_node_port_range)
    registry = Registry(backend, ServiceAllocations(cluster_ips, node_ports))
    tokens = load_token_file(config.token_auth_file) if config.token_auth_file else {}
    nodes = _resource("nodes")

    async def node_lookup(name: str) -> dict[str, Any]:
        return await registry.get(Target(nodes, "", name))

    state = ServerState(
        registry=registry,
        authenticator=Authenticator(backend, tokens),
        metrics=Metrics(),
        proxy=KubeletProxy(kubelet_ssl_context(config), node_lookup),
        server_address=f"{config.advertised}:{config.secure_port}",
        bookmark_interval=config.watch_bookmark_interval,
    )
    await ensure_bootstrap_objects(registry, config, cluster_ips.first_ip)
    services = await registry.list(Target(_resource("services"), ""))
    released = await registry.services.repair(services.items)
    if released:
        log.info("released %d service allocations whose Service no longer exists", released)
    state.ready = True
    return state


SHUTDOWN_GRACE_SECONDS = 2.0


async def serve(config: Config) -> None:
    backend = open_backend(config.storage_url)
    await backend.start()
    runner: web.AppRunner | None = None
    try:
        state = await build_state(config, backend)
        # Watches never finish by themselves: on SIGTERM in-flight requests get a moment, then every handler is
        # cancelled (clients re-list and re-watch), instead of aiohttp's 60 s wait on open watch connections.
        runner = web.AppRunner(build_app(state), handler_cancellation=True, access_log=None,
                               shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
        await runner.setup()
        site = web.TCPSite(runner, config.bind_address, config.secure_port, ssl_context=server_ssl_context(config),
                           reuse_address=True)
        await site.start()
        log.info("serving on https://%s:%d (storage %s)", config.bind_address, config.secure_port,
                 config.storage_url)
        sweeper = asyncio.create_task(expire_events_periodically(backend, config.event_ttl), name="event-ttl")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
        sweeper.cancel()
    finally:
        if runner is not None:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        await backend.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    config = parse_args(argv)
    limit_tls_read_buffer()
    try:
        asyncio.run(serve(config))
    except (OSError, ValueError, ssl.SSLError) as err:
        log.error("%s", err)
        sys.exit(1)


if __name__ == "__main__":
    main()
