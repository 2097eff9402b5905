"""provision-proxy's flags."""

from __future__ import annotations

import pytest

from provisioner.services.proxy.main import build_parser


def test_defaults() -> None:
    args = build_parser().parse_args(["--kubeconfig", "/etc/kube-proxy.conf"])
    assert (args.cluster_cidr, args.nodeport_addresses) == ("", ())
    assert (args.min_sync_period, args.sync_period) == (1.0, 30.0)
    assert args.healthz_bind_address == ("127.0.0.1", 10256)


def test_values_are_normalised() -> None:
    args = build_parser().parse_args(["--kubeconfig", "k", "--cluster-cidr", "10.244.7.9/16",
                                      "--nodeport-addresses", "192.168.50.11, 0.0.0.0/0",
                                      "--min-sync-period", "500ms", "--healthz-bind-address", ""])
    assert args.cluster_cidr == "10.244.0.0/16"
    assert args.nodeport_addresses == ("192.168.50.11", "0.0.0.0/0")
    assert args.min_sync_period == 0.5 and args.healthz_bind_address is None


@pytest.mark.parametrize("flag", [["--nodeport-addresses", "192.168.0.0/16"], ["--cluster-cidr", "fd00::/64"],
                                  ["--min-sync-period", "soon"]])
def test_bad_values_exit_with_status_2(flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--kubeconfig", "k", *flag])
    assert exit_info.value.code == 2
    assert flag[0] in capsys.readouterr().err
