"""The cluster verbs on the command line: errors the user can cause, printed without a traceback and with the
right exit code, and nothing made on the way. Nothing here reaches machines, Ansible or an apiserver."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.cli.main import main
from provisioner.lifecycle.state import ClusterState
from provisioner.spec import dump, load

EXAMPLE = Path(__file__).parents[3] / "examples" / "cluster.yaml"
PHASES = "preflight, machines, bundle, pki, control_plane, join, verify"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Never the operator's real state, whatever a test forgets to pass.
    monkeypatch.setenv("PROVISION_STATE_DIR", str(tmp_path / "default-state"))
    monkeypatch.setenv("PROVISION_CACHE_DIR", str(tmp_path / "default-cache"))
    return tmp_path / "state"


def _existing_cluster(state_dir: Path) -> ClusterState:
    """A cluster whose create reached no further than writing its spec."""
    state = ClusterState(state_dir, "local")
    state.save_spec(dump(load(EXAMPLE)))
    return state


def test_create_with_an_invalid_spec_prints_every_problem(state_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("apiVersion: provision.dev/v1alpha1\nkind: Cluster\nmetadata: {name: Bad_Name}\n"
                    "spec:\n  network: {podCIDR: nonsense}\n  nodeGroups: [{name: w, count: -1}]\n")
    assert main(["create", str(spec), "--state-dir", str(state_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"error: {spec}:3: metadata.name: ")
    assert [line.split(": ")[1] for line in lines[1:]] == ["spec.network.podCIDR", "spec.nodeGroups[0].count"]
    assert all(str(spec) in line for line in lines)
    assert "Traceback" not in err
    assert not state_dir.exists()
    assert not (tmp_path / "default-state").exists()


def test_create_with_a_missing_spec(state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", str(tmp_path / "nope.yaml"), "--state-dir", str(state_dir)]) == 2
    assert "nope.yaml: cannot read the file" in capsys.readouterr().err
    assert not state_dir.exists()


@pytest.mark.parametrize("option", ["--only", "--skip"])
def test_an_unknown_phase_is_a_usage_error_naming_the_phases(option: str, state_dir: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["create", str(EXAMPLE), "--state-dir", str(state_dir), option, "pki,bogus"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert f"unknown phase bogus; phases are: {PHASES}" in err
    assert not state_dir.exists()


def test_only_and_skip_together_are_refused(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", str(EXAMPLE), "--state-dir", str(state_dir), "--only", "pki", "--skip", "join"]) == 2
    assert capsys.readouterr().err == "error: give --only or --skip, not both\n"
    assert not state_dir.exists()


def test_delete_of_an_unknown_cluster(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["delete", "nosuch", "--state-dir", str(state_dir)]) == 1
    assert capsys.readouterr().err == f"error: no cluster named 'nosuch' in {state_dir} (no clusters)\n"
    _existing_cluster(state_dir)
    assert main(["delete", "nosuch", "--state-dir", str(state_dir)]) == 1
    assert capsys.readouterr().err == f"error: no cluster named 'nosuch' in {state_dir} (clusters: local)\n"


def test_get_clusters_on_an_empty_state_dir_prints_the_header(state_dir: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "clusters", "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [f"{'NAME':<20} {'PROVIDER':<9} {'CONTROL-PLANES':>14} {'WORKERS':>7}  "
                                f"{'CREATED':<25} APPLIED"]
    assert not state_dir.exists(), "listing creates nothing"


def test_get_clusters_lists_each_cluster(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _existing_cluster(state_dir)
    assert main(["get", "clusters", "--state-dir", str(state_dir)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 1
    assert rows[0].split(None, 5) == ["local", "machines", "1", "2", "-", "never (create did not finish)"]


def test_get_clusters_reads_the_state_dir_from_the_environment(state_dir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _existing_cluster(tmp_path / "default-state")
    assert main(["get", "clusters"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("local ")


def test_kubeconfig_of_an_unknown_cluster(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kubeconfig", "nosuch", "--state-dir", str(state_dir)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"error: no cluster named 'nosuch' in {state_dir} (no clusters)\n"


def test_kubeconfig_before_the_pki_phase(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _existing_cluster(state_dir)
    assert main(["kubeconfig", "local", "--state-dir", str(state_dir)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("error: cluster local: no admin kubeconfig yet; run `provision create` to the pki phase\n")


def test_kubeconfig_prints_the_file_or_its_path(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _existing_cluster(state_dir)
    state.admin_kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    assert main(["kubeconfig", "local", "--state-dir", str(state_dir)]) == 0
    assert capsys.readouterr().out == "apiVersion: v1\nkind: Config\n"
    assert main(["kubeconfig", "local", "--path", "--state-dir", str(state_dir)]) == 0
    assert capsys.readouterr().out == f"{state.admin_kubeconfig}\n"
