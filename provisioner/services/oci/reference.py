"""Image references parsed and normalized the way Docker and containerd do it: `busybox` is
`docker.io/library/busybox:latest`, `registry.local:5000/web:1` names a registry because its first component
holds a dot or a port, `name@sha256:<hex>` pins content."""

from __future__ import annotations

import re
from dataclasses import dataclass

from provisioner.services.oci.errors import InvalidReference

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
# Docker Hub's API does not live at the name users write.
_API_HOSTS = {"docker.io": "registry-1.docker.io"}
_LEGACY_DOCKER_HUB = {"index.docker.io", "registry-1.docker.io"}

# The grammar of github.com/distribution/reference.
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_HOST_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class ImageReference:
    registry: str  # host[:port] as written, "docker.io" for Docker Hub
    repository: str  # "library/busybox"
    tag: str | None  # None only when a digest pins the image
    digest: str | None  # "sha256:<hex>"

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host[:port] serving the registry API."""
        return _API_HOSTS.get(self.registry, self.registry)

    @property
    def manifest_reference(self) -> str:
        """What goes after /manifests/: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> ImageReference:
        return ImageReference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> ImageReference:
    """Parse and normalize `text`; InvalidReference says what is wrong with it."""
    if not text or text != text.strip():
        raise InvalidReference(f"invalid image reference {text!r}: empty or surrounded by whitespace")
    remainder, digest = text, None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InvalidReference(
                f"invalid image reference {text!r}: digest {digest!r} is not sha256:<64 lowercase hex digits>"
            )
    tag = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"invalid image reference {text!r}: invalid tag {tag!r}")
    registry, path = _split_registry(remainder)
    if not _REGISTRY.fullmatch(registry):
        raise InvalidReference(f"invalid image reference {text!r}: invalid registry {registry!r}")
    if registry in _LEGACY_DOCKER_HUB:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            problem = (
                "must be lowercase" if component.lower() != component else "is not a valid name component"
            )
            raise InvalidReference(f"invalid image reference {text!r}: {component!r} {problem}")
    if len(f"{registry}/{path}") > _MAX_NAME_LENGTH:
        raise InvalidReference(f"invalid image reference {text!r}: name longer than {_MAX_NAME_LENGTH}")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry, path, tag, digest)


def _split_registry(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    # Like Docker: the first component names a registry if it has a dot, a port or an uppercase letter (never
    # valid in a repository), or is localhost.
    is_host = "." in first or ":" in first or first == "localhost" or first.lower() != first
    if slash and is_host:
        return first, rest
    return DEFAULT_REGISTRY, name
