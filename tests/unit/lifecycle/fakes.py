"""Fakes for driving provisioner.lifecycle without machines, Ansible or an apiserver, all writing to one journal
so tests can check what happened in which order."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioner.bundle import Bundle
from provisioner.lifecycle import create as create_module
from provisioner.lifecycle.context import Context
from provisioner.plan import Phase
from provisioner.providers import HostAccess, MachineStatus
from provisioner.runner import FakeRunner, PlaybookResult, TaskEvent
from provisioner.spec import Cluster, Machine

PHASE_TASK = "a task"  # each played phase runs one task, named "<phase>/a task"


class FakeProvider:
    """A Provider that makes nothing: every machine 'exists' once ensured and is reached at its spec address."""

    def __init__(self, cluster: Cluster, machines_dir: Path, ssh_key: Path, cache_dir: Path,
                 journal: list[str], log: Callable[[str], None]) -> None:
        self.kind = cluster.provider.type
        self.cluster = cluster
        self.ssh_key = ssh_key
        self.journal = journal
        self.fail_ensure: Exception | None = None

    def preflight(self) -> None:
        self.journal.append("provider.preflight")

    def ensure(self, machines: Sequence[Machine]) -> list[HostAccess]:
        self.journal.append("provider.ensure " + ",".join(m.name for m in machines))
        if self.fail_ensure is not None:
            raise self.fail_ensure
        return self.accesses(machines)

    def accesses(self, machines: Sequence[Machine]) -> list[HostAccess]:
        return [HostAccess(m.name, m.address, "root", 22, self.ssh_key, self.ssh_key.parent / "known_hosts", True)
                for m in machines]

    def status(self, machines: Sequence[Machine]) -> list[MachineStatus]:
        return [MachineStatus(m.name, m.address, "running") for m in machines]

    def delete(self, machines: Sequence[Machine]) -> None:
        self.journal.append("provider.delete " + ",".join(m.name for m in machines))


class PlayingRunner(FakeRunner):
    """FakeRunner whose run of site.yml plays one play per selected phase tag, named the way the phase
    playbooks name theirs ("join: …"), each with one task "<phase>/a task" — as ansible-playbook plays site.yml
    (import_playbook per phase, --tags). Failures scripted with `fail` at a task "<phase>/…" fail in that
    phase's play. `changed[host]` tasks of a host report changed, the first ones first."""

    def __init__(self, journal: list[str]) -> None:
        super().__init__()
        self.journal = journal
        self.changed: dict[str, int] = {}
        self.seen_pki: list[bool] = []

    def run(self, workspace: Path, playbook: str, *, tags: Sequence[str] = (),
            on_event: Callable[[TaskEvent], None] | None = None, **kwargs: Any) -> PlaybookResult:
        self.journal.append(f"run {playbook} {','.join(tags)}".rstrip())
        # The tool-side pki phase has made the certificates the pki play copies, before the run starts.
        self.seen_pki.append((workspace.parent / "pki" / "ca.crt").exists())
        self.script(playbook, tasks=[f"{tag}/{PHASE_TASK}" for tag in tags], changed=self.changed)
        emit = on_event or (lambda _event: None)
        current: list[str] = []

        def relay(event: TaskEvent) -> None:
            if event.kind == "play_start":
                return  # FakeRunner's one play named after the playbook: replaced by one per phase
            if event.kind == "task_start":
                phase = event.task.split("/", 1)[0]
                if current != [phase]:
                    current[:] = [phase]
                    emit(TaskEvent("play_start", None, "", f"{phase}: the {phase} play"))
            emit(event)

        return super().run(workspace, playbook, tags=tags, on_event=relay, **kwargs)


class RecordingProgress:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.done: list[tuple[str, int | None, str]] = []
        self.messages: list[str] = []

    def phase_started(self, phase: Phase) -> None:
        self.started.append(phase.name)

    def phase_detail(self, text: str) -> None: ...

    def phase_done(self, phase: Phase, elapsed: float, changed: int | None, note: str) -> None:
        self.done.append((phase.name, changed, note))

    def message(self, text: str) -> None:
        self.messages.append(text)


@dataclass
class Env:
    """A state root, a cache dir, and the fakes a create/delete is wired to."""

    root: Path
    cache: Path
    journal: list[str] = field(default_factory=list)
    providers: list[FakeProvider] = field(default_factory=list)
    bundle_key: str = "release0000000001"
    bundle_builds: int = 0
    deb_repos: int = 0
    node_labels: list[dict[str, dict[str, str]]] = field(default_factory=list)
    registered: list[list[str]] = field(default_factory=list)
    provider_setup: Callable[[FakeProvider], None] = lambda _provider: None

    def __post_init__(self) -> None:
        self.runner = PlayingRunner(self.journal)
        self.progress = RecordingProgress()

    def provider_factory(self, cluster: Cluster, machines_dir: Path, ssh_key: Path, cache_dir: Path,
                         log: Callable[[str], None] = lambda _: None) -> FakeProvider:
        assert cache_dir == self.cache, "the tool's cache must never be the real one in tests"
        provider = FakeProvider(cluster, machines_dir, ssh_key, cache_dir, self.journal, log)
        self.provider_setup(provider)
        self.providers.append(provider)
        return provider

    def build_bundle(self, cache_dir: Path, log: Callable[[str], None] = lambda _: None) -> Bundle:
        self.journal.append("bundle " + self.bundle_key)
        self.bundle_builds += 1
        directory = cache_dir / "bundles" / self.bundle_key
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ".complete").write_text("")
        return Bundle(self.bundle_key, directory, directory / "site-packages.tar", directory / "kubectl",
                      "3.11", "x86_64")

    def context(self, **kwargs: Any) -> Context:
        return Context(provider_factory=self.provider_factory, bundle_builder=self.build_bundle, **kwargs)

    @property
    def context_factory(self) -> Callable[..., Context]:
        return functools.partial(Context, provider_factory=self.provider_factory, bundle_builder=self.build_bundle)

    def create(self, spec: Path, **kwargs: Any) -> create_module.CreateResult:
        kwargs.setdefault("progress", self.progress)
        return create_module.create(spec, state_root=self.root, runner=self.runner, cache_dir=self.cache,
                                    context_factory=self.context_factory, **kwargs)
