"""The playbooks and roles: ansible-lint clean (profile in .ansible-lint), site.yml and reset.yml parse against a
rendered workspace, every task is named, every file a role places exists, and plays keep the names that map
them to phases."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner import render
from provisioner import spec as spec_module
from provisioner.plan import PHASES, phase_of_play
from provisioner.providers import HostAccess

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
TEMPLATES = REPO / "templates"
ROLES = PLAYBOOKS / "roles"
# ansible-lint loads every role and playbook; it takes 10-20 s.
LINT_TIMEOUT_SECONDS = 300
# Module arguments naming a file the module reads on the operator's side (unless remote_src is set).
TEMPLATE_MODULES = {"ansible.builtin.template", "ansible.legacy.template", "template"}
FILE_MODULES = {"ansible.builtin.copy", "copy", "ansible.builtin.script", "script", "ansible.builtin.unarchive",
                "unarchive"}
TEMPLATES_DIR_SRC = re.compile(r"^\{\{\s*templates_dir\s*\}\}/(?P<name>[^{}]+)$")


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name  # the venv's own, also when PATH does not name the venv
    return str(beside) if beside.is_file() else shutil.which(name)


def test_ansible_lint_is_clean_offline() -> None:
    lint = _tool("ansible-lint")
    if lint is None:
        pytest.skip("ansible-lint is not installed (pip install -e '.[test]' installs it)")
    result = subprocess.run([lint, "--offline", "--nocolor", "playbooks/"], cwd=REPO, capture_output=True,
                            text=True, timeout=LINT_TIMEOUT_SECONDS)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output, output


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace as `provision create` renders it, for the example cluster."""
    tmp = tmp_path_factory.mktemp("workspace")
    cluster = spec_module.load(REPO / "examples" / "cluster.yaml")
    key = tmp / "ssh" / "id_ed25519"
    accesses = [HostAccess(m.name, m.address, "root", 22, key, key.parent / "known_hosts", True)
                for m in cluster.machines]
    sources = render.Sources(bundle_dir=tmp / "bundles" / "0123456789abcdef", pki_dir=tmp / "pki",
                             templates_dir=TEMPLATES, playbooks_dir=PLAYBOOKS)
    return render.write_workspace(tmp / "workspace", cluster, accesses, "0123456789abcdef", sources,
                                  python_version="3.11", arch="x86_64")


@pytest.mark.parametrize("playbook", ["site.yml", "reset.yml"])
def test_playbook_syntax_checks_against_the_rendered_inventory(workspace: Path, playbook: str) -> None:
    ansible_playbook = _tool("ansible-playbook")
    assert ansible_playbook is not None, "ansible-core is a dependency of the tool"
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(workspace / ".tmp"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True"}
    result = subprocess.run(
        [ansible_playbook, "--syntax-check", "-i", str(workspace / "inventory" / "hosts.yml"),
         "-e", f"@{workspace / 'env' / 'extravars'}", str(workspace / "project" / playbook)],
        cwd=workspace / "project", capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


# --- structure ---------------------------------------------------------------------------------------------------


def _role_task_files() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROLES.glob("*/tasks/*.yml")) + sorted(ROLES.glob("*/handlers/*.yml")):
        yield path.relative_to(ROLES).parts[0], path


def _tasks(items: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Every task, looking into blocks (block, rescue, always)."""
    for item in items or []:
        if any(key in item for key in ("block", "rescue", "always")):
            for key in ("block", "rescue", "always"):
                yield from _tasks(item.get(key))
        else:
            yield item


def _role_tasks() -> list[tuple[str, Path, dict[str, Any]]]:
    found = [(role, path, task) for role, path in _role_task_files()
             for task in _tasks(yaml.safe_load(path.read_text()))]
    assert found, f"no role tasks under {ROLES}"
    return found


def test_every_role_task_and_handler_is_named() -> None:
    unnamed = [f"{path.relative_to(REPO)}: {sorted(task)}" for _role, path, task in _role_tasks()
               if not str(task.get("name") or "").strip()]
    assert unnamed == []


def test_every_file_a_role_places_exists() -> None:
    """Templates come from templates/ (the rendered `templates_dir`) or the role's templates/; copied files
    from the role's files/. Sources that name a variable (the bundle, the PKI) are the tool's to provide."""
    missing, checked = [], 0
    for role, path, task in _role_tasks():
        for module in TEMPLATE_MODULES | FILE_MODULES:
            args = task.get(module)
            if not isinstance(args, dict) or "src" not in args or args.get("remote_src") is True:
                continue
            src = str(args["src"])
            match = TEMPLATES_DIR_SRC.match(src)
            if match:
                candidates = [TEMPLATES / match["name"]]
            elif "{{" in src:
                continue
            else:
                folder = "templates" if module in TEMPLATE_MODULES else "files"
                candidates = [ROLES / role / folder / src]
            checked += 1
            if not any(c.exists() for c in candidates):
                missing.append(f"{path.relative_to(REPO)}: {task['name']}: {src}")
    assert missing == []
    assert checked >= 5, "the role sources were not recognised"


def test_plays_are_named_after_the_phases_site_yml_tags_them_with() -> None:
    """create (its progress and changed counts) and plan (changes per phase) map plays to phases by the
    prefix of the play's name, and select them by site.yml's tags."""
    site = yaml.safe_load((PLAYBOOKS / "site.yml").read_text())
    imported = {entry["import_playbook"]: entry.get("tags") for entry in site}
    for phase in (p for p in PHASES if p.playbook):
        assert imported.get(phase.playbook) == [phase.name], f"site.yml must import {phase.playbook} tagged " \
                                                              f"[{phase.name}]"
        plays = yaml.safe_load((PLAYBOOKS / phase.playbook).read_text())
        assert [phase_of_play(play["name"]) for play in plays] == [phase.name] * len(plays)
        assert all(play["hosts"] == phase.hosts for play in plays), phase.playbook
    assert set(imported) == {p.playbook for p in PHASES if p.playbook}
