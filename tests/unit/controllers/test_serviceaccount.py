"""The ServiceAccount controller gives every active namespace a `default` account, and brings it back."""

from __future__ import annotations

from provisioner.services.client import ApiClient
from provisioner.services.controllers.serviceaccount import ServiceAccountController
from tests.unit.controllers.conftest import eventually, get_or_none, idle, resource, running

NAMESPACES = resource("namespaces")
SERVICE_ACCOUNTS = resource("serviceaccounts")


async def test_every_namespace_gets_a_default_account_that_comes_back(client: ApiClient) -> None:
    async with running(client, ServiceAccountController):
        for system in ("default", "kube-system", "kube-public", "kube-node-lease"):
            await eventually(lambda ns=system: get_or_none(client, SERVICE_ACCOUNTS, "default", ns),
                             f"default ServiceAccount in {system}")
        await client.create(NAMESPACES, {"metadata": {"name": "team-a"}})
        first = await eventually(lambda: get_or_none(client, SERVICE_ACCOUNTS, "default", "team-a"),
                                 "default ServiceAccount in a new namespace")

        await client.delete(SERVICE_ACCOUNTS, "default", "team-a")
        again = await eventually(
            lambda: _account_other_than(client, "team-a", first["metadata"]["uid"]), "the deleted account back")
        assert again["metadata"]["name"] == "default"


async def test_a_terminating_namespace_gets_no_account(client: ApiClient) -> None:
    # Its `kubernetes` finalizer keeps it Terminating: no namespace controller runs here.
    await client.create(NAMESPACES, {"metadata": {"name": "leaving"}})
    await client.delete(NAMESPACES, "leaving")
    async with running(client, ServiceAccountController) as (controller,):
        await client.create(NAMESPACES, {"metadata": {"name": "staying"}})
        await eventually(lambda: get_or_none(client, SERVICE_ACCOUNTS, "default", "staying"),
                         "default ServiceAccount in the active namespace")
        await idle(controller.loop)
        assert await get_or_none(client, SERVICE_ACCOUNTS, "default", "leaving") is None
        assert (await client.get(NAMESPACES, "leaving"))["status"]["phase"] == "Terminating"


async def _account_other_than(client: ApiClient, namespace: str, uid: str) -> dict | None:
    account = await get_or_none(client, SERVICE_ACCOUNTS, "default", namespace)
    return account if account and account["metadata"]["uid"] != uid else None
