"""The errors of the image library; every one carries a message meant for the user."""


class ImageError(Exception):
    """Base of every error of this library."""


class InvalidReference(ImageError):
    """An image reference that cannot be parsed."""


class RegistryError(ImageError):
    """A registry that refused a request, answered nonsense or could not be reached. `status` is the HTTP
    status, None when there was no answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DigestMismatch(ImageError):
    """Content whose sha256 digest or size differs from what its descriptor promised."""


class ImageNotPresent(ImageError):
    """An image that is not in the local store while the pull policy forbids pulling it (the kubelet's
    ErrImageNeverPull)."""


class LayerError(ImageError):
    """A layer tar that cannot be applied safely (paths leaving the tree, writes through symlinks)."""
