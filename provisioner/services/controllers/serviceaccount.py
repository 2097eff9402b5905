"""ServiceAccount controller: every active namespace has a ``default`` ServiceAccount, re-created if deleted
(Kubernetes' ServiceAccountsController). Namespaces being terminated are left alone: they may not get new content."""

from __future__ import annotations

import logging

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.serviceaccount")

NAMESPACES = resources.lookup("", "v1", "namespaces")
SERVICE_ACCOUNTS = resources.lookup("", "v1", "serviceaccounts")
DEFAULT_ACCOUNTS = ("default",)


def _namespace_of(account: Obj) -> list[str]:
    return [account["metadata"]["namespace"]]


class ServiceAccountController:
    name = "serviceaccount"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.accounts = ctx.informers.informer(SERVICE_ACCOUNTS)
        # Keys are namespace names: a namespace appearing or one of its accounts changing both mean "check it".
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.namespaces, self.accounts])
        self.loop.enqueue_all(self.namespaces)
        self.loop.enqueue_all(self.accounts, key_of=_namespace_of)

    async def run(self) -> None:
        await self.loop.run()

    async def reconcile(self, namespace: str) -> None:
        ns = self.namespaces.store.get(namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp") or \
                (ns.get("status") or {}).get("phase", "Active") != "Active":
            return
        for name in DEFAULT_ACCOUNTS:
            if self.accounts.store.get(f"{namespace}/{name}") is None:
                await self._create(namespace, name)

    async def _create(self, namespace: str, name: str) -> None:
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
        try:
            await self.client.create(SERVICE_ACCOUNTS, account, namespace)
        except ApiError as err:
            # Already there (our cache lags) or the namespace started terminating meanwhile: nothing to do.
            if err.reason in ("AlreadyExists", "NotFound") or err.code == 403:
                return
            raise
        log.info("created ServiceAccount %s/%s", namespace, name)
