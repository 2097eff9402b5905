"""The systemd-nspawn command line: exactly the flags verified on the testbed (docs/testbed.md)."""

from __future__ import annotations

from pathlib import Path

from provisioner.providers.machines.nspawn import BootRequest, nspawn_argv


def test_nspawn_argv_has_the_verified_flags() -> None:
    request = BootRequest(
        name="local-cp-1", rootfs=Path("/cache/images/debian"), upper=Path("/state/m/local-cp-1/upper"),
        netns="provision-local-cp-1", cgroups=(Path("/sys/fs/cgroup/systemd/provision-local-cp-1"),),
        binds=((Path("/state/m/local-cp-1/data"), "/var/lib/provision", False),
               (Path("/cache/bundles"), "/var/cache/provision/bundles", True)),
        log_path=Path("/state/m/local-cp-1/console.log"))
    argv = nspawn_argv(request)
    assert argv[0] == "systemd-nspawn"
    assert argv[argv.index("-D") + 1] == "/cache/images/debian"
    assert argv[argv.index("-M") + 1] == "local-cp-1"
    flags = [a for a in argv[1:] if a.startswith("--")]
    assert sorted(flags) == sorted([
        "--quiet",
        "--overlay=/cache/images/debian:/state/m/local-cp-1/upper:/",
        "--boot",
        "--network-namespace-path=/run/netns/provision-local-cp-1",
        "--register=no",  # no system bus on the host
        "--keep-unit",
        "--capability=CAP_NET_ADMIN",  # bridges, veths, iptables inside
        "--system-call-filter=@keyring",  # OCI runtimes' session keyrings
        "--bind=/state/m/local-cp-1/data:/var/lib/provision",  # overlays inside need a real filesystem
        "--bind-ro=/cache/bundles:/var/cache/provision/bundles",
    ])
    assert len(argv) == 1 + len(flags) + 4  # systemd-nspawn, the flags, -D DIR, -M NAME
