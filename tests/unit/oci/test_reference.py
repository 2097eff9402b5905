"""Image references are normalized as Docker and containerd do it, and bad ones are refused with a reason."""

from __future__ import annotations

import pytest

from provisioner.services.oci.errors import InvalidReference
from provisioner.services.oci.reference import parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", None),
        ("library/redis:7", "docker.io", "library/redis", "7", None),
        ("bitnami/redis:7.2.4-debian-12", "docker.io", "bitnami/redis", "7.2.4-debian-12", None),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
        ("index.docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("registry.local:5000/web:1", "registry.local:5000", "web", "1", None),
        ("localhost/web", "localhost", "web", "latest", None),
        ("localhost:5000/team/web", "localhost:5000", "team/web", "latest", None),
        ("10.0.0.1:5000/web:v1", "10.0.0.1:5000", "web", "v1", None),
        ("[::1]:5000/web:1", "[::1]:5000", "web", "1", None),
        (f"host.example/ns/name@{DIGEST}", "host.example", "ns/name", None, DIGEST),
        (f"web:1@{DIGEST}", "docker.io", "library/web", "1", DIGEST),
        ("my_team/my-app__x.y:T_1", "docker.io", "my_team/my-app__x.y", "T_1", None),
        ("Registry.Example/app", "Registry.Example", "app", "latest", None),
    ],
)
def test_valid_references_are_normalized(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    reference = parse_reference(text)
    assert (reference.registry, reference.repository, reference.tag, reference.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert parse_reference(str(reference)) == reference


def test_api_host_and_manifest_reference() -> None:
    assert parse_reference("busybox").api_host == "registry-1.docker.io"
    assert parse_reference("registry.local:5000/web:1").api_host == "registry.local:5000"
    assert parse_reference(f"web:1@{DIGEST}").manifest_reference == DIGEST
    assert str(parse_reference("busybox")) == "docker.io/library/busybox:latest"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (" busybox", "whitespace"),
        ("Busybox", "must be lowercase"),
        ("library/Redis:7", "must be lowercase"),
        ("web:", "invalid tag"),
        ("web:-x", "invalid tag"),
        ("web:" + "x" * 129, "invalid tag"),
        ("web@sha256:abc", "digest"),
        ("web@md5:" + "a" * 32, "digest"),
        ("registry.local:5000/", "not a valid name component"),
        ("a//b", "not a valid name component"),
        ("web-/x", "not a valid name component"),
        ("-host.example/web", "invalid registry"),
        ("host.example:port/web", "invalid registry"),
        ("a/" + "b" * 260, "longer than 255"),
    ],
)
def test_invalid_references_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidReference, match=reason):
        parse_reference(text)
