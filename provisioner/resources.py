"""Files of the source checkout the tool works with besides its Python code: playbooks and host templates."""

from __future__ import annotations

from pathlib import Path

import provisioner
from provisioner.errors import ProvisionError


def project_root() -> Path:
    root = Path(provisioner.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise ProvisionError(f"{root}: no pyproject.toml; provision runs from a source checkout "
                             "(its playbooks, templates and the node bundle are built from it)")
    return root


def playbooks_dir() -> Path:
    return project_root() / "playbooks"


def templates_dir() -> Path:
    return project_root() / "templates"
