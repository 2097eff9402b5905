from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from provisioner.registry.fake import FakeRegistry
from provisioner.services.oci.registry import RegistryClient
from provisioner.services.oci.store import ImageStore


@pytest.fixture
async def fake() -> AsyncIterator[FakeRegistry]:
    async with FakeRegistry() as registry:
        yield registry


@pytest.fixture
async def client(fake: FakeRegistry) -> AsyncIterator[RegistryClient]:
    async with RegistryClient(insecure_registries=[fake.address]) as registry_client:
        yield registry_client


@pytest.fixture
def store(tmp_path: Path, client: RegistryClient) -> ImageStore:
    return ImageStore(tmp_path / "store", client)
