"""Everything one command needs about one cluster: spec, state directory, provider, runner, bundle, workspace."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from provisioner import render
from provisioner.bundle import Bundle, Target, bundles_dir, ensure_bundle
from provisioner.bundle.debs import DebRepo, ensure_deb_repo
from provisioner.errors import ProvisionError
from provisioner.lifecycle import cluster_api
from provisioner.lifecycle.state import ClusterState
from provisioner.pki import generate_bootstrap_token
from provisioner.plan import Phase
from provisioner.providers import HostAccess, Provider, provider_for
from provisioner.providers.machines.image import default_cache_dir
from provisioner.resources import playbooks_dir, templates_dir
from provisioner.runner import Runner
from provisioner.spec import Cluster


class Progress(Protocol):
    def phase_started(self, phase: Phase) -> None: ...
    def phase_detail(self, text: str) -> None: ...
    def phase_done(self, phase: Phase, elapsed: float, changed: int | None, note: str) -> None: ...
    def message(self, text: str) -> None: ...


class SilentProgress:
    def phase_started(self, phase: Phase) -> None: ...
    def phase_detail(self, text: str) -> None: ...
    def phase_done(self, phase: Phase, elapsed: float, changed: int | None, note: str) -> None: ...
    def message(self, text: str) -> None: ...


class PhaseFailed(ProvisionError):
    """A phase that did not complete: which one, on which hosts, and the output that says why."""

    def __init__(self, phase: str, message: str, log_path: Path | None = None) -> None:
        self.phase = phase
        self.log_path = log_path
        super().__init__(f"phase {phase} failed: {message}")


@dataclass
class Context:
    cluster: Cluster
    state: ClusterState
    runner: Runner
    progress: Progress = field(default_factory=SilentProgress)
    cache_dir: Path = field(default_factory=default_cache_dir)
    provider_factory: Callable[..., Provider] = provider_for
    bundle_builder: Callable[..., Bundle] = ensure_bundle
    _provider: Provider | None = None
    _bundle: Bundle | None = None
    _debs: DebRepo | None = None
    accesses: list[HostAccess] | None = None
    join_token_id: str | None = None

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            self._provider = self.provider_factory(self.cluster, self.state.machines_dir, self.state.ssh_key,
                                                   self.cache_dir, log=self.progress.phase_detail)
        return self._provider

    def bundle(self) -> Bundle:
        if self._bundle is None:
            self._bundle = self.bundle_builder(self.cache_dir, log=self.progress.phase_detail)
        return self._bundle

    def host_accesses(self) -> list[HostAccess]:
        if self.accesses is None:
            self.accesses = self.provider.accesses(self.cluster.machines)
        return self.accesses

    def deb_repo(self) -> DebRepo | None:
        """Hosts the tool did not build may lack Debian packages the nodes need; local machines have them all
        in their image."""
        if self.cluster.provider.type == "machines":
            return None
        if self._debs is None:
            self._debs = ensure_deb_repo(self.cache_dir, log=self.progress.phase_detail)
        return self._debs

    def release(self) -> str:
        """The release the hosts run: the bundle installed by this command, else the one recorded by the last
        bundle phase (so `--only join` after a source change still names what the hosts have)."""
        if self._bundle is not None:
            return self._bundle.key
        recorded = self.state.installed_release()
        if recorded is None:
            raise ProvisionError(f"cluster {self.cluster.name}: no release is installed on the hosts yet; "
                                 "run the bundle phase first")
        return recorded

    def render(self, with_release: bool = True) -> Path:
        release = self.release() if with_release else None
        target = Target()
        bundles = bundles_dir(self.cache_dir)
        sources = render.Sources(
            bundle_dir=bundles / release if release else bundles,
            pki_dir=self.state.pki_dir, templates_dir=templates_dir(), playbooks_dir=playbooks_dir(),
            debs=self.deb_repo())
        return render.write_workspace(
            self.state.workspace, self.cluster, self.host_accesses(), release, sources,
            python_version=target.python_version, arch=target.arch)

    def join_token_vars(self) -> dict[str, str]:
        """A bootstrap token for this run; the join play stores it as its Secret, forget_join_token() deletes
        it. Only kubelets without credentials use it, within its TTL (spec.bootstrapToken.ttl)."""
        token = generate_bootstrap_token()
        expires = dt.datetime.now(dt.UTC) + self.cluster.bootstrap_token.ttl
        self.join_token_id = token.id
        return {"bootstrap_token": str(token),
                "bootstrap_token_expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def forget_join_token(self) -> None:
        token_id, self.join_token_id = self.join_token_id, None
        if token_id and self.state.admin_kubeconfig.exists():
            with contextlib.suppress(ProvisionError):  # an unreachable apiserver: the token expires by itself
                cluster_api.delete_join_token(self.state.admin_kubeconfig, f"bootstrap-token-{token_id}")
