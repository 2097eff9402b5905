"""``provision-kubelet`` flags: upstream spellings and defaults, values checked while parsing, and a bad value ends
the process with status 2 and a message naming its flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.services.kubelet import options
from provisioner.services.kubelet.main import main


def parse(*argv: str, hostname: str = "Worker-1") -> object:
    return options.parse_args(["--kubeconfig", "kubelet.kubeconfig", *argv], hostname=hostname)


def test_defaults_are_the_upstream_kubelets() -> None:
    args = parse()
    assert args.hostname_override == "worker-1"  # the host name, lower-cased
    assert args.kubeconfig == Path("kubelet.kubeconfig").absolute()
    assert args.bootstrap_kubeconfig is None and args.node_ip is None
    assert args.cert_dir == Path("/var/lib/provision/kubelet/pki")
    assert args.root_dir == Path("/var/lib/provision/kubelet")
    assert (args.node_status_update_frequency, args.node_lease_duration_seconds) == (10.0, 40)
    assert (args.healthz_bind_address, args.healthz_port) == ("127.0.0.1", 10248)
    assert (args.node_labels, args.register_with_taints) == ({}, [])


def test_every_flag_in_upstream_spelling() -> None:
    args = parse(
        "--bootstrap-kubeconfig", "bootstrap.kubeconfig", "--cert-dir", "pki", "--root-dir", "state",
        "--hostname-override", "Node-A.example", "--node-ip", "10.0.0.7",
        "--node-labels", "team=infra, node.kubernetes.io/pool=blue,empty=",
        "--register-with-taints", "dedicated=db:NoSchedule,example.com/drain:NoExecute",
        "--node-status-update-frequency", "1m30s", "--node-lease-duration-seconds", "4",
        "--healthz-bind-address", "::1", "--healthz-port", "0", "-v", "4",
    )  # fmt: skip
    assert args.hostname_override == "node-a.example"
    assert args.bootstrap_kubeconfig == Path("bootstrap.kubeconfig").absolute()
    assert args.cert_dir == Path("pki").absolute() and args.root_dir == Path("state").absolute()
    assert args.node_ip == "10.0.0.7"
    assert args.node_labels == {"team": "infra", "node.kubernetes.io/pool": "blue", "empty": ""}
    assert args.register_with_taints == [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                                         {"key": "example.com/drain", "effect": "NoExecute"}]
    assert (args.node_status_update_frequency, args.node_lease_duration_seconds) == (90.0, 4)
    assert (args.healthz_bind_address, args.healthz_port, args.verbosity) == ("::1", 0, 4)
    assert parse("--node-status-update-frequency", "2").node_status_update_frequency == 2.0  # plain seconds


@pytest.mark.parametrize(("argv", "message"), [
    (["--node-labels", "team"], "argument --node-labels: expected key=value, got 'team'"),
    (["--node-labels", "bad key=x"], "argument --node-labels: key 'bad key'"),
    (["--node-labels", "team=-x-"], "argument --node-labels: value '-x-'"),
    (["--node-labels", "node-role.kubernetes.io/control-plane="], "a kubelet may not set"),
    (["--register-with-taints", "dedicated=db"], "argument --register-with-taints: 'dedicated=db': expected"),
    (["--register-with-taints", "dedicated=db:Sometimes"], "effect 'Sometimes' is not one of NoSchedule"),
    (["--register-with-taints", "a:NoSchedule,a=b:NoSchedule"], "a second taint with key 'a'"),
    (["--node-status-update-frequency", "soon"], "argument --node-status-update-frequency: invalid duration"),
    (["--node-status-update-frequency", "0s"], "must be positive"),
    (["--node-lease-duration-seconds", "0"], "argument --node-lease-duration-seconds: must be positive"),
    (["--node-ip", "10.0.0.300"], "argument --node-ip: '10.0.0.300' is not an IP address"),
    (["--healthz-bind-address", "localhost"], "argument --healthz-bind-address: 'localhost' is not an IP"),
    (["--healthz-port", "70000"], "argument --healthz-port: expected a port 0-65535"),
    (["--hostname-override", "under_score"], "argument --hostname-override: 'under_score' is not a valid node"),
])
def test_bad_values_name_their_flag_and_exit_2(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--kubeconfig", "k", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_host_name_that_is_no_node_name_asks_for_hostname_override(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(hostname="my_laptop")
    assert exited.value.code == 2
    assert "argument --hostname-override: this host's name cannot be the node name" in capsys.readouterr().err


def test_kubeconfig_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "--kubeconfig" in capsys.readouterr().err
