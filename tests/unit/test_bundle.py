"""The offline bundle: what it holds for the node services, for which platform, and when it is rebuilt."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

from provisioner import bundle as bundle_module
from provisioner.bundle import (
    NODE_REQUIREMENTS,
    PROJECT,
    BundleError,
    Target,
    pinned_requirements,
    source_digest,
)
from provisioner.resources import project_root

SERVICES = project_root() / "provisioner" / "services"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level import name → the service files importing it, leaving out the standard library and ours."""
    found: dict[str, set[str]] = {}
    for path in sorted(SERVICES.rglob("*.py")):
        for name in _top_level_imports(path):
            if name in sys.stdlib_module_names or name == PROJECT:
                continue
            found.setdefault(name, set()).add(str(path.relative_to(project_root())))
    return found


def test_the_services_are_found() -> None:
    assert len(list(SERVICES.rglob("*.py"))) > 20
    assert "aiohttp" in _third_party_imports()


def test_every_third_party_import_of_the_services_is_in_the_bundle() -> None:
    distributions = importlib.metadata.packages_distributions()
    bundled = {_normalized(n) for n in NODE_REQUIREMENTS}
    missing = []
    for name, files in sorted(_third_party_imports().items()):
        owners = distributions.get(name)
        if not owners:
            missing.append(f"{name} (imported by {', '.join(sorted(files))}) is not installed at all")
        elif not any(_normalized(d) in bundled for d in owners):
            missing.append(f"{name} from {'/'.join(sorted(set(owners)))} (imported by {', '.join(sorted(files))})")
    assert not missing, "add to provisioner.bundle.NODE_REQUIREMENTS:\n" + "\n".join(missing)


def test_every_bundled_requirement_is_imported_by_a_service() -> None:
    distributions = importlib.metadata.packages_distributions()
    imported = {_normalized(d) for name in _third_party_imports() for d in distributions.get(name, [])}
    unused = [n for n in NODE_REQUIREMENTS if _normalized(n) not in imported]
    assert not unused, f"bundled but no service imports them: {unused}"


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_pip_flags_select_binary_wheels_for_the_hosts(arch: str) -> None:
    flags = Target(python_version="3.11", glibc_minor=36, arch=arch).pip_flags()
    assert flags[:7] == ["--only-binary", ":all:", "--implementation", "cp", "--python-version", "3.11",
                         "--platform"]
    platforms = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--platform"]
    assert [f"manylinux_2_{minor}_{arch}" for minor in range(17, 37)] == platforms[:20]
    assert platforms[20:] == [f"manylinux2014_{arch}", f"manylinux1_{arch}"]
    assert f"manylinux_2_37_{arch}" not in platforms, "no wheel may need a glibc newer than Debian 12's"
    assert all(p.endswith(arch) for p in platforms)


def test_the_default_target_is_debian_12() -> None:
    target = Target()
    assert (target.python_version, target.glibc_minor) == ("3.11", 36)


def _tree(root: Path) -> Path:
    (root / PROJECT / "services").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / PROJECT / "__init__.py").write_text("")
    (root / PROJECT / "services" / "kubelet.py").write_text("print('kubelet')\n")
    (root / "README.md").write_text("readme\n")
    (root / PROJECT / "notes.txt").write_text("notes\n")
    return root


def test_source_digest_follows_python_files_only(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    before = source_digest(root)
    assert source_digest(root) == before, "the digest is stable"

    (root / "README.md").write_text("changed\n")
    (root / PROJECT / "notes.txt").write_text("changed\n")
    (root / "elsewhere.py").write_text("x = 1\n")  # outside the package
    assert source_digest(root) == before

    (root / PROJECT / "services" / "kubelet.py").write_text("print('kubelet 2')\n")
    changed = source_digest(root)
    assert changed != before

    (root / PROJECT / "services" / "proxy.py").write_text("")
    added = source_digest(root)
    assert added != changed

    (root / PROJECT / "services" / "proxy.py").rename(root / PROJECT / "services" / "dns.py")
    assert source_digest(root) != added, "a renamed module is another tree"

    (root / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    assert source_digest(root) != added


def test_pinned_requirements_pin_the_installed_versions() -> None:
    assert pinned_requirements(["PyYAML", "orjson"]) == [
        f"PyYAML=={importlib.metadata.version('PyYAML')}", f"orjson=={importlib.metadata.version('orjson')}"]
    assert [p.split("==")[0] for p in pinned_requirements()] == list(NODE_REQUIREMENTS)


def test_pinning_a_missing_requirement_says_which() -> None:
    with pytest.raises(BundleError, match="no-such-dist-for-provision is not installed in the tool's environment"):
        pinned_requirements(["PyYAML", "no-such-dist-for-provision"])


def test_a_built_bundle_is_reused_and_a_new_target_builds_another(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []

    def fake_build(bundle, root, pins, target, wheelhouse) -> None:
        builds.append((bundle.key, target.arch))
        bundle.directory.mkdir(parents=True)
        (bundle.directory / ".complete").write_text("")

    monkeypatch.setattr(bundle_module, "_build", fake_build)
    logged: list[str] = []
    first = bundle_module.ensure_bundle(tmp_path, Target(arch="x86_64"), log=logged.append)
    again = bundle_module.ensure_bundle(tmp_path, Target(arch="x86_64"), log=logged.append)
    other = bundle_module.ensure_bundle(tmp_path, Target(arch="aarch64"))
    assert first == again
    assert re.fullmatch(r"[0-9a-f]{16}", first.key)
    assert first.directory == tmp_path / "bundles" / first.key
    assert (first.site_packages, first.kubectl) == (first.directory / "site-packages.tar",
                                                   first.directory / "kubectl")
    assert other.key != first.key
    assert builds == [(first.key, "x86_64"), (other.key, "aarch64")]
    assert logged == [f"building the offline bundle {first.key}"]
