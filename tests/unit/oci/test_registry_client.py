"""The registry client against the in-process fake: Bearer token auth, platform selection through an index,
verified blob downloads, pushes, and errors naming the reference and the HTTP status."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from provisioner.pki import CertificateAuthority, SubjectAltNames, Usage
from provisioner.registry.fake import FakeRegistry
from provisioner.services.oci.errors import DigestMismatch, ImageError, RegistryError
from provisioner.services.oci.media import Descriptor, Platform, select_platform
from provisioner.services.oci.reference import parse_reference
from provisioner.services.oci.registry import RegistryClient
from tests.unit.oci.images import digest_of, file, layer_tar, publish, publish_index

HOST = Platform("linux", "amd64")


def entry(platform: str) -> Descriptor:
    return Descriptor("m", digest_of(platform.encode()), 1, Platform.parse(platform))


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/arm/v7", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("linux/arm64/v8", "linux/arm64"),  # arm64 entries usually leave out the only variant, v8
        ("linux/arm64", "linux/arm64"),
    ],
)
def test_platform_selection(wanted: str, chosen: str) -> None:
    offered = [
        entry(p) for p in ("unknown/unknown", "linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64")
    ]
    assert select_platform(offered, Platform.parse(wanted), "pull x") == entry(chosen)


def test_platform_selection_prefers_the_exact_variant() -> None:
    offered = [entry("linux/arm64"), entry("linux/arm64/v8")]
    assert select_platform(offered, Platform.parse("linux/arm64/v8"), "pull x") == entry("linux/arm64/v8")


def test_no_platform_match_lists_what_is_offered() -> None:
    with pytest.raises(
        ImageError,
        match=r"no manifest for platform linux/s390x \(the index offers linux/amd64, windows/amd64\)",
    ):
        select_platform(
            [entry("linux/amd64"), entry("windows/amd64")], Platform.parse("linux/s390x"), "pull x"
        )


async def test_an_index_resolves_to_the_platforms_manifest(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    amd64_layer, arm_layer = layer_tar([file("amd64")]), layer_tar([file("arm")])
    publish_index(fake, "multi", "1", {"linux/amd64": [amd64_layer], "linux/arm/v7": [arm_layer]})
    reference = parse_reference(f"{fake.address}/multi:1")
    manifest = await client.get_manifest(reference, Platform.parse("linux/arm/v7"))
    assert [layer.digest for layer in manifest.layers] == [digest_of(arm_layer)]
    assert manifest.reference.digest == manifest.digest
    with pytest.raises(ImageError, match="no manifest for platform linux/ppc64le"):
        await client.get_manifest(reference, Platform.parse("linux/ppc64le"))


async def test_bearer_token_flow_with_credentials() -> None:
    async with (
        FakeRegistry(token_auth=True, credentials=("alice", "secret")) as fake,
        RegistryClient(
            insecure_registries=[fake.address], credentials={fake.address: ("alice", "secret")}
        ) as client,
    ):
        publish(fake, "team/app", "1", [layer_tar([file("a")])])
        reference = parse_reference(f"{fake.address}/team/app:1")
        await client.get_manifest(reference, HOST)
        await client.get_manifest(reference, HOST)  # the cached token serves the second pull
    assert [(method, path.split("?")[0], status) for method, path, status in fake.requests] == [
        ("GET", "/v2/team/app/manifests/1", 401),
        ("GET", "/token", 200),
        ("GET", "/v2/team/app/manifests/1", 200),
        ("GET", "/v2/team/app/manifests/1", 200),
    ]
    assert fake.token_requests == [[("service", "fake-registry"), ("scope", "repository:team/app:pull")]]


async def test_wrong_credentials_are_a_clear_error() -> None:
    async with (
        FakeRegistry(token_auth=True, credentials=("alice", "secret")) as fake,
        RegistryClient(
            insecure_registries=[fake.address], credentials={fake.address: ("alice", "wrong")}
        ) as client,
    ):
        reference = parse_reference(f"{fake.address}/app:1")
        with pytest.raises(
            RegistryError, match=rf"pull {reference}: token request to .* refused: bad credentials \(401\)"
        ):
            await client.get_manifest(reference, HOST)


async def test_a_missing_manifest_names_reference_and_status(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    with pytest.raises(
        RegistryError, match=rf"^pull {fake.address}/nope:1: manifest unknown \(404\)$"
    ) as caught:
        await client.get_manifest(parse_reference(f"{fake.address}/nope:1"), HOST)
    assert caught.value.status == 404


async def test_an_unreachable_registry_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    async with RegistryClient(insecure_registries=[address]) as client:
        with pytest.raises(RegistryError, match=f"pull {address}/app:1: cannot reach {address}"):
            await client.get_manifest(parse_reference(f"{address}/app:1"), HOST)


@pytest.mark.parametrize("served", [b"X" * 100, b"X" * 101], ids=["same-size", "larger"])
async def test_a_blob_that_does_not_match_its_digest_is_not_kept(
    fake: FakeRegistry, client: RegistryClient, tmp_path: Path, served: bytes
) -> None:
    content = b"Y" * 100
    digest = fake.put_blob(content)
    fake.corrupted_blobs[digest] = served
    destination = tmp_path / "blob"
    with pytest.raises(DigestMismatch, match=digest):
        await client.fetch_blob(
            parse_reference(f"{fake.address}/app:1"), Descriptor("x", digest, 100), destination
        )
    assert list(tmp_path.iterdir()) == []


async def test_a_manifest_pinned_by_digest_is_verified(fake: FakeRegistry, client: RegistryClient) -> None:
    pinned = digest_of(b"the real manifest")
    fake.manifests[("app", pinned)] = ("application/vnd.oci.image.manifest.v1+json", b"{}")
    with pytest.raises(DigestMismatch, match=f"manifest {pinned} has digest"):
        await client.get_manifest(parse_reference(f"{fake.address}/app@{pinned}"), HOST)


async def test_push_skips_blobs_the_registry_has(fake: FakeRegistry, client: RegistryClient) -> None:
    reference = parse_reference(f"{fake.address}/app:1")
    digest = digest_of(b"blob")
    assert not await client.blob_exists(reference, digest)
    await client.push_blob(reference, digest, b"blob")
    assert await client.blob_exists(reference, digest)
    assert fake.blobs[digest] == b"blob"
    with pytest.raises(RegistryError, match=r"provided digest did not match uploaded content \(400\)"):
        await client.push_blob(reference, digest_of(b"other"), b"blob")


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for 127.0.0.1 and a client context trusting only its CA."""
    authority = CertificateAuthority.generate("registry test CA")
    serving = authority.issue(
        "127.0.0.1", usages=[Usage.SERVER], sans=SubjectAltNames.of(ip_addresses=["127.0.0.1"])
    )
    serving.save(tmp_path / "tls.crt", tmp_path / "tls.key")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client = ssl.create_default_context(cadata=authority.cert_pem.decode())
    return server, client


async def test_https_with_the_registrys_ca(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    async with FakeRegistry(token_auth=True, ssl_context=server_context) as fake:
        publish(fake, "app", "1", [layer_tar([file("a")])])
        reference = parse_reference(f"{fake.address}/app:1")
        async with RegistryClient(ssl_context=client_context) as client:
            assert (await client.get_manifest(reference, HOST)).layers
        async with RegistryClient() as client:  # the system CAs do not know this registry
            with pytest.raises(
                RegistryError, match=f"cannot reach {fake.address}: .*certificate verify failed"
            ):
                await client.get_manifest(reference, HOST)
