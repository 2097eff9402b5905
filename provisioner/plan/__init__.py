"""Phases as data: what `provision create` does, in order, and which playbook and hosts each one covers.

`--only`/`--skip` select phases by name; `provision plan` walks the same list to say what each phase would do on
each host before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from provisioner.errors import ProvisionError


@dataclass(frozen=True)
class Phase:
    name: str
    summary: str
    playbook: str | None  # None: the tool does this phase itself (no Ansible)
    hosts: str  # inventory group the playbook targets ("all", "control_plane", "nodes") or "operator"


PHASES: tuple[Phase, ...] = (
    Phase("preflight", "check this host, the spec against other clusters, and the provider", None, "operator"),
    Phase("machines", "create or start the machines, then check and prepare each host", "prepare.yml", "all"),
    Phase("bundle", "build the offline bundle and install it on every host", "bundle.yml", "all"),
    Phase("pki", "issue certificates and place them with the kubeconfigs", "pki.yml", "all"),
    Phase("control_plane", "start apiserver, controller-manager and scheduler; wait until healthy",
          "control_plane.yml", "control_plane"),
    Phase("join", "mint a bootstrap token, start kubelets (TLS bootstrap), wait for nodes Ready", "join.yml",
          "nodes"),
    Phase("verify", "check hosts (testinfra) and the cluster (nodes Ready, components healthy)", None, "all"),
)
PHASE_NAMES = tuple(p.name for p in PHASES)
# The one playbook every run uses: it imports each phase's playbook tagged with the phase's name.
SITE_PLAYBOOK = "site.yml"


def phase_of_play(play: str) -> str:
    """The phase a play of site.yml belongs to: plays are named "<phase>: …"."""
    return play.split(":", 1)[0]


class PhaseSelectionError(ProvisionError):
    exit_code = 2


def select(only: Sequence[str] = (), skip: Sequence[str] = ()) -> tuple[Phase, ...]:
    """The phases to run, in their fixed order. Unknown names are an error naming the valid ones."""
    unknown = [n for n in (*only, *skip) if n not in PHASE_NAMES]
    if unknown:
        raise PhaseSelectionError(f"unknown phase {', '.join(unknown)}; phases are: {', '.join(PHASE_NAMES)}")
    if only and skip:
        raise PhaseSelectionError("give --only or --skip, not both")
    chosen = [p for p in PHASES if (not only or p.name in only) and p.name not in skip]
    if not chosen:
        raise PhaseSelectionError("no phase left to run")
    return tuple(chosen)
