"""SSH key pairs, known_hosts pins and ssh options made by the tool."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from provisioner.errors import ProviderError
from provisioner.providers import sshkeys


def test_a_key_pair_in_openssh_formats() -> None:
    pair = sshkeys.new_ed25519_key_pair("root@m1")
    assert pair.private_openssh.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    key = serialization.load_ssh_private_key(pair.private_openssh, password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    key_type, data, comment = pair.public_openssh.split(" ")
    assert (key_type, comment) == ("ssh-ed25519", "root@m1")
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert public.decode() == f"{key_type} {data}"
    assert sshkeys.new_ed25519_key_pair("x").public_openssh != sshkeys.new_ed25519_key_pair("x").public_openssh


def test_the_client_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "ssh" / "id_ed25519"
    public = sshkeys.ensure_client_key(path, "provision@local")
    assert public.startswith("ssh-ed25519 ") and public.endswith(" provision@local")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "ssh" / "id_ed25519.pub").read_text() == public + "\n"
    private = path.read_bytes()
    assert sshkeys.ensure_client_key(path, "provision@local") == public
    assert path.read_bytes() == private


def test_known_hosts_lines_are_address_type_key_in_address_order(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    a, b = sshkeys.new_ed25519_key_pair("root@a"), sshkeys.new_ed25519_key_pair("root@b")
    sshkeys.write_known_hosts(path, {IPv4Address("10.77.0.10"): b.public_openssh,
                                     IPv4Address("10.77.0.9"): a.public_openssh})
    assert path.read_text() == (f"10.77.0.9 {' '.join(a.public_openssh.split()[:2])}\n"
                                f"10.77.0.10 {' '.join(b.public_openssh.split()[:2])}\n")


def _options(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split("=", 1) for i, flag in enumerate(argv) if flag == "-o")


def test_ssh_argv_pins_host_keys_for_machines_the_tool_built() -> None:
    argv = sshkeys.ssh_argv("root", IPv4Address("10.77.0.10"), 22, Path("/s/id"), Path("/s/known_hosts"), True)
    assert argv[:3] == ["ssh", "-p", "22"] and argv[-1] == "root@10.77.0.10"
    assert _options(argv) == {"IdentityFile": "/s/id", "IdentitiesOnly": "yes", "BatchMode": "yes",
                              "ConnectTimeout": "10", "UserKnownHostsFile": "/s/known_hosts",
                              "StrictHostKeyChecking": "yes", "LogLevel": "ERROR"}


def test_ssh_argv_trusts_existing_hosts_on_first_use() -> None:
    argv = sshkeys.ssh_argv("deploy", IPv4Address("192.0.2.10"), 2222, Path("/k"), Path("/kh"), False)
    assert argv[:3] == ["ssh", "-p", "2222"] and argv[-1] == "deploy@192.0.2.10"
    assert _options(argv)["StrictHostKeyChecking"] == "accept-new"
    assert sshkeys.ssh_options(Path("/k"), Path("/kh"), False) == argv[3:-1]


def test_waiting_stops_when_the_machine_died() -> None:
    with pytest.raises(ProviderError, match="m1: the machine stopped while booting"):
        sshkeys.wait_for_ssh("m1", ["ssh"], IPv4Address("127.0.0.1"), 1, timeout=5, alive=lambda: False)


def test_waiting_gives_up_after_the_timeout() -> None:
    with pytest.raises(ProviderError, match=r"m1 \(127.0.0.1:1\): SSH did not answer within 0s"):
        sshkeys.wait_for_ssh("m1", ["ssh"], IPv4Address("127.0.0.1"), 1, timeout=0)
