"""provisioner.spec: the Cluster a spec makes (machines, names, addresses, labels, taints, derived defaults), the
shipped specs, SpecError's form, and the duration and memory syntaxes. Bad-input cases are data: test_cases.py."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pydantic
import pytest

from provisioner.errors import ProvisionError
from provisioner.spec import API_VERSION, Machine, Problem, SpecError, Taint, dump, load, parse
from provisioner.spec.durations import format_duration, parse_duration
from provisioner.spec.fields import format_memory

ROOT = Path(__file__).parents[3]
SHIPPED = sorted([*ROOT.glob("examples/**/*.yaml"), *ROOT.glob("inventories/**/*.yaml")])

HEADER = f"apiVersion: {API_VERSION}\nkind: Cluster\nmetadata:\n  name: demo\n"


def spec(body: str = "") -> str:
    return HEADER + body


SSH = spec("""spec:
  provider:
    type: ssh
    ssh: {privateKey: keys/id_ed25519}
  controlPlane:
    hosts: [{name: cp, address: 192.0.2.10}]
  nodeGroups:
    - name: workers
      hosts: [{name: w1, address: 192.0.2.11}, {name: w2, address: 192.0.2.12}]
""")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_shipped_spec_loads_and_round_trips(path: Path) -> None:
    cluster = load(path)
    assert cluster.source == path.absolute()
    assert parse(dump(cluster)) == cluster


def test_shipped_specs_exist() -> None:
    names = {str(path.relative_to(ROOT)) for path in SHIPPED}
    assert {"examples/cluster.yaml", "examples/cluster-10.yaml", "inventories/local/cluster.yaml",
            "inventories/vagrant/cluster.yaml", "inventories/sample-ssh/cluster.yaml"} <= names


def test_ten_machine_example_expands_in_order() -> None:
    cluster = load(ROOT / "examples/cluster-10.yaml")
    assert cluster.name == "ten"
    assert [machine.name for machine in cluster.machines] == [
        "ten-cp-1", *(f"ten-workers-{i}" for i in range(1, 7)), "ten-storage-1", "ten-storage-2", "ten-storage-3"]
    assert [machine.address for machine in cluster.machines] == [IPv4Address(f"10.78.0.{10 + i}") for i in range(10)]
    assert cluster.subnet == IPv4Network("10.78.0.0/24")
    assert len(cluster.control_planes) == 1 and len(cluster.workers) == 9
    storage = cluster.workers[-1]
    assert storage.group == "storage" and storage.role == "worker"
    assert storage.labels == {"example.dev/disk": "ssd", "node-role.kubernetes.io/worker": ""}
    assert [str(taint) for taint in storage.taints] == ["example.dev/dedicated=storage:NoSchedule"]
    assert cluster.network.dns_ip == IPv4Address("10.100.0.10")
    assert cluster.kubernetes_service_ip == IPv4Address("10.100.0.1")


def test_control_planes_are_tainted_unless_schedulable() -> None:
    tainted = parse(spec()).control_planes[0]
    assert tainted == Machine(name="demo-cp-1", role="control-plane", group="control-plane",
                              address=IPv4Address("10.77.0.10"),
                              labels={"node-role.kubernetes.io/control-plane": ""},
                              taints=(Taint(key="node-role.kubernetes.io/control-plane", effect="NoSchedule"),),
                              cpus=2, memory_mib=2048)
    assert [str(taint) for taint in tainted.taints] == ["node-role.kubernetes.io/control-plane:NoSchedule"]
    schedulable = parse(spec("spec:\n  controlPlane: {schedulable: true, labels: {zone: a}}\n")).control_planes[0]
    assert schedulable.taints == ()
    assert schedulable.labels == {"zone": "a", "node-role.kubernetes.io/control-plane": ""}


def test_defaults_fill_a_spec_that_only_names_the_cluster() -> None:
    cluster = parse(spec())
    assert cluster.source is None
    assert cluster.provider.type == "machines"
    assert cluster.provider.machines is not None and cluster.provider.vagrant is None
    assert cluster.provider.machines.image.extra_packages == ()
    assert cluster.network.pod_cidr == IPv4Network("10.244.0.0/16")
    assert cluster.network.service_cidr == IPv4Network("10.96.0.0/12")
    assert cluster.network.dns_ip == IPv4Address("10.96.0.10")
    assert cluster.control_plane.count == 1 and cluster.control_plane.store == "sqlite"
    assert cluster.node_groups == ()
    assert cluster.pki.ca_validity == timedelta(hours=87600)
    assert cluster.pki.cert_validity == timedelta(hours=8760)
    assert cluster.bootstrap_token.ttl == timedelta(minutes=10)
    assert [machine.name for machine in cluster.machines] == ["demo-cp-1"]


def test_vagrant_machines_are_numbered_in_its_subnet() -> None:
    cluster = parse(spec("spec:\n  provider: {type: vagrant}\n  nodeGroups: [{name: w, count: 2, cpus: 1}]\n"))
    assert cluster.subnet == IPv4Network("192.168.121.0/24")
    assert cluster.provider.vagrant is not None and cluster.provider.machines is None
    assert [(machine.name, str(machine.address), machine.cpus) for machine in cluster.machines] == [
        ("demo-cp-1", "192.168.121.10", 2), ("demo-w-1", "192.168.121.11", 1), ("demo-w-2", "192.168.121.12", 1)]


def test_ssh_machines_are_the_listed_hosts(tmp_path: Path) -> None:
    path = tmp_path / "site" / "cluster.yaml"
    path.parent.mkdir()
    path.write_text(SSH)
    cluster = load(path)
    assert cluster.subnet is None
    assert [(machine.name, str(machine.address), machine.group) for machine in cluster.machines] == [
        ("cp", "192.0.2.10", "control-plane"), ("w1", "192.0.2.11", "workers"), ("w2", "192.0.2.12", "workers")]
    assert cluster.node_groups[0].count == 2, "the count follows the hosts"
    assert cluster.provider.ssh is not None
    assert cluster.provider.ssh.private_key == tmp_path / "site" / "keys" / "id_ed25519"
    assert (cluster.provider.ssh.user, cluster.provider.ssh.port) == ("root", 22)


def test_private_key_of_a_parsed_spec_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cluster = parse(SSH.replace("keys/id_ed25519", "../keys/./id_ed25519"))
    assert cluster.provider.ssh is not None
    assert cluster.provider.ssh.private_key == tmp_path.parent / "keys" / "id_ed25519"


def test_private_key_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    cluster = parse(SSH.replace("keys/id_ed25519", "~/.ssh/id_ed25519"))
    assert cluster.provider.ssh is not None
    assert cluster.provider.ssh.private_key == tmp_path / ".ssh" / "id_ed25519"


def test_dns_ip_defaults_to_the_tenth_address_of_the_service_cidr() -> None:
    cluster = parse(spec("spec:\n  network: {serviceCIDR: 172.30.0.0/16}\n"))
    assert cluster.network.dns_ip == IPv4Address("172.30.0.10")
    assert cluster.kubernetes_service_ip == IPv4Address("172.30.0.1")


def test_memory_is_whole_mebibytes() -> None:
    cluster = parse(spec("spec:\n  controlPlane: {memory: 2G}\n  nodeGroups: [{name: w, memory: 1.5Gi}]\n"))
    assert cluster.control_plane.memory_mib == 1907  # 2e9 bytes, rounded down
    assert cluster.machines[1].memory_mib == 1536
    assert format_memory(2048) == "2Gi" and format_memory(1536) == "1536Mi" and format_memory(1907) == "1907Mi"


def test_the_cluster_is_frozen() -> None:
    cluster = parse(spec("spec:\n  nodeGroups: [{name: w}]\n"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cluster.name = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        cluster.network.apiserver_port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cluster.machines[0].name = "other"  # type: ignore[misc]
    assert len({*cluster.machines}) == 2, "machines are hashable"


def test_spec_error_lists_every_problem_one_per_line() -> None:
    text = spec("spec:\n  controlPlane:\n    count: 0\n  pki: {certValidity: 5m}\n")
    with pytest.raises(SpecError) as raised:
        parse(text, "cluster.yaml")
    error = raised.value
    assert isinstance(error, ProvisionError)
    assert error.problems == [
        Problem("cluster.yaml", 7, "spec.controlPlane.count", "must be greater than or equal to 1; got the integer 0"),
        Problem("cluster.yaml", 8, "spec.pki.certValidity", "must be at least 1h; got 5m"),
    ]
    assert str(error) == ("cluster.yaml:7: spec.controlPlane.count: must be greater than or equal to 1; got the "
                          "integer 0\ncluster.yaml:8: spec.pki.certValidity: must be at least 1h; got 5m")


def test_problem_without_a_line_or_a_path() -> None:
    assert str(Problem("a.yaml", None, "", "cannot read")) == "a.yaml: cannot read"
    assert str(Problem("a.yaml", 3, "", "invalid YAML")) == "a.yaml:3: invalid YAML"
    assert str(Problem("a.yaml", None, "spec", "bad")) == "a.yaml: spec: bad"


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load(tmp_path / "missing.yaml")
    assert raised.value.problems == [Problem(str(tmp_path / "missing.yaml"), None, "",
                                             "cannot read the file: No such file or directory")]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="binary.yaml: not UTF-8 text"):
        load(binary)


def test_problems_are_sorted_by_line_with_file_names() -> None:
    text = spec("spec:\n  pki: {certValidity: bad}\n  controlPlane: {count: x}\n")
    with pytest.raises(SpecError) as raised:
        parse(text)
    assert [(problem.file, problem.line) for problem in raised.value.problems] == [("<string>", 6), ("<string>", 7)]


@pytest.mark.parametrize(("text", "duration"), [
    ("10m", timedelta(minutes=10)),
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("87600h", timedelta(hours=87600)),
    ("90s", timedelta(seconds=90)),
    ("1h1m1s", timedelta(seconds=3661)),
    ("0s", timedelta(0)),
])
def test_durations(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["", "10", "1d", "1.5h", "-1h", "1h 30m", "h", "10M"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(text)


def test_durations_print_as_they_read() -> None:
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(seconds=90)) == "1m30s"
    assert format_duration(timedelta(0)) == "0s"
    for seconds in (1, 59, 60, 3599, 3600, 86400 * 400 + 7):
        assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


def test_the_documented_full_spec_loads() -> None:
    text = (ROOT / "docs/cluster-spec.md").read_text()
    example = text.split("## A spec with every field\n\n```yaml\n", 1)[1].split("```", 1)[0]
    cluster = parse(example)
    assert cluster.name == "full"
    assert [machine.name for machine in cluster.machines] == ["full-cp-1", "full-web-1", "full-web-2", "full-web-3"]
