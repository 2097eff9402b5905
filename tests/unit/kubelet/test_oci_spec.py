"""A container's OCI spec: Kubernetes' command/args and env rules, users, capabilities with add/drop/ALL, mounts,
namespaces joined by path, and the kubelet's cgroup v1 arithmetic."""

from __future__ import annotations

import json

import pytest

from provisioner.services.kubelet.runtime import oci_spec
from provisioner.services.kubelet.runtime.oci_spec import ContainerConfig, ImageConfig, Mount, SpecError

IMAGE = ImageConfig(entrypoint=("/docker-entrypoint.sh",), cmd=("nginx", "-g", "daemon off;"),
                    env=("PATH=/usr/bin:/bin", "NGINX_VERSION=1.25", "EMPTY="), working_dir="/srv", user="101:102")


def config(**changes: object) -> ContainerConfig:
    fields: dict[str, object] = {"rootfs": "/var/lib/c/rootfs", "hostname": "web-0", "cgroups_path": "/kubepods/pod1/c1",
                                 "image": IMAGE}
    return ContainerConfig(**(fields | changes))  # type: ignore[arg-type]


def by_destination(spec: dict) -> dict[str, dict]:
    return {mount["destination"]: mount for mount in spec["mounts"]}


@pytest.mark.parametrize(("entrypoint", "cmd", "command", "args", "expected"), [
    # neither: the image's Entrypoint + Cmd
    (("ep",), ("cmd", "1"), (), (), ["ep", "cmd", "1"]),
    # command alone replaces the Entrypoint and drops the Cmd
    (("ep",), ("cmd", "1"), ("sh", "-c", "x"), (), ["sh", "-c", "x"]),
    # args alone replace the Cmd, the Entrypoint stays
    (("ep",), ("cmd", "1"), (), ("a", "b"), ["ep", "a", "b"]),
    # both: the image's are ignored
    (("ep",), ("cmd", "1"), ("run",), ("a",), ["run", "a"]),
    # an image without an Entrypoint runs its Cmd, or the args instead
    ((), ("cmd",), (), (), ["cmd"]),
    ((), ("cmd",), (), ("a",), ["a"]),
    # an image without a Cmd
    (("ep",), (), (), (), ["ep"]),
    # Docker's ENTRYPOINT [""] clears the Entrypoint
    (("",), ("cmd",), (), (), ["cmd"]),
])
def test_command_and_args_follow_kubernetes(entrypoint: tuple[str, ...], cmd: tuple[str, ...],
                                           command: tuple[str, ...], args: tuple[str, ...],
                                           expected: list[str]) -> None:
    image = ImageConfig(entrypoint=entrypoint, cmd=cmd)
    assert oci_spec.build_spec(config(image=image, command=command, args=args))["process"]["args"] == expected


@pytest.mark.parametrize(("entrypoint", "cmd"), [((), ()), (("",), ())])
def test_no_command_anywhere_is_an_error(entrypoint: tuple[str, ...], cmd: tuple[str, ...]) -> None:
    with pytest.raises(SpecError, match="no command specified"):
        oci_spec.build_spec(config(image=ImageConfig(entrypoint=entrypoint, cmd=cmd)))


def test_container_env_overrides_the_images_in_place_and_appends_new_names() -> None:
    env = oci_spec.build_spec(config(env=(("NGINX_VERSION", "1.27"), ("MODE", "a=b"))))["process"]["env"]
    assert env == ["PATH=/usr/bin:/bin", "NGINX_VERSION=1.27", "EMPTY=", "MODE=a=b"]


def test_path_defaults_when_neither_image_nor_container_sets_it() -> None:
    env = oci_spec.build_spec(config(image=ImageConfig(cmd=("x",))))["process"]["env"]
    assert env == [f"PATH={oci_spec.DEFAULT_PATH}"]


@pytest.mark.parametrize(("image_dir", "container_dir", "expected"), [
    ("/srv", "", "/srv"), ("/srv", "/work", "/work"), ("", "", "/"),
])
def test_working_dir(image_dir: str, container_dir: str, expected: str) -> None:
    image = ImageConfig(cmd=("x",), working_dir=image_dir)
    assert oci_spec.build_spec(config(image=image, working_dir=container_dir))["process"]["cwd"] == expected


@pytest.mark.parametrize(("image_user", "run_as_user", "run_as_group", "groups", "expected"), [
    ("", None, None, (), {"uid": 0, "gid": 0}),
    ("1000", None, None, (), {"uid": 1000, "gid": 0}),
    ("101:102", None, None, (), {"uid": 101, "gid": 102}),
    ("101:102", 2000, None, (), {"uid": 2000, "gid": 0}),  # the image's group goes with the image's user
    ("101:102", None, 3000, (), {"uid": 101, "gid": 3000}),
    ("", 2000, 3000, (4000, 5000), {"uid": 2000, "gid": 3000, "additionalGids": [4000, 5000]}),
    ("nginx", 101, None, (), {"uid": 101, "gid": 0}),  # a name is fine when runAsUser replaces it
])
def test_user(image_user: str, run_as_user: int | None, run_as_group: int | None, groups: tuple[int, ...],
              expected: dict) -> None:
    spec = oci_spec.build_spec(config(image=ImageConfig(cmd=("x",), user=image_user), run_as_user=run_as_user,
                                      run_as_group=run_as_group, supplemental_groups=groups))
    assert spec["process"]["user"] == expected


@pytest.mark.parametrize("image_user", ["nginx", "101:www-data"])
def test_user_names_cannot_be_resolved(image_user: str) -> None:
    with pytest.raises(SpecError, match="not numeric"):
        oci_spec.build_spec(config(image=ImageConfig(cmd=("x",), user=image_user)))


DEFAULTS = sorted(oci_spec.DEFAULT_CAPABILITIES)


@pytest.mark.parametrize(("add", "drop", "expected"), [
    ((), (), DEFAULTS),
    (("NET_ADMIN",), (), sorted([*DEFAULTS, "CAP_NET_ADMIN"])),
    (("cap_sys_time",), ("KILL",), sorted({*DEFAULTS, "CAP_SYS_TIME"} - {"CAP_KILL"})),
    ((), ("ALL",), []),
    ((), ("all",), []),
    (("NET_BIND_SERVICE",), ("ALL",), ["CAP_NET_BIND_SERVICE"]),  # drop ALL first, then the named add
    (("ALL",), (), sorted(oci_spec.ALL_CAPABILITIES)),
    (("ALL",), ("SYS_ADMIN",), sorted(set(oci_spec.ALL_CAPABILITIES) - {"CAP_SYS_ADMIN"})),
    (("ALL",), ("ALL",), []),
    (("NET_ADMIN",), ("NET_ADMIN",), DEFAULTS),  # a named drop beats the same named add
    (("CHOWN",), (), DEFAULTS),  # adding one already granted changes nothing
])
def test_capabilities_add_drop_and_all(add: tuple[str, ...], drop: tuple[str, ...], expected: list[str]) -> None:
    capabilities = oci_spec.build_spec(config(capabilities_add=add, capabilities_drop=drop))["process"]["capabilities"]
    assert sorted(capabilities["bounding"]) == expected
    assert capabilities["effective"] == capabilities["permitted"] == capabilities["bounding"]
    assert "inheritable" not in capabilities and "ambient" not in capabilities


def test_default_capabilities_are_dockers_fourteen() -> None:
    assert len(oci_spec.DEFAULT_CAPABILITIES) == 14
    assert oci_spec.DEFAULT_CAPABILITIES <= set(oci_spec.ALL_CAPABILITIES)
    assert {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE"}.isdisjoint(oci_spec.DEFAULT_CAPABILITIES)


def test_unknown_capability_is_an_error() -> None:
    with pytest.raises(SpecError, match="unknown capability 'FLY'"):
        oci_spec.build_spec(config(capabilities_add=("FLY",)))


@pytest.mark.parametrize(("allow", "no_new_privileges"), [(True, False), (False, True)])
def test_no_new_privileges_follows_allow_privilege_escalation(allow: bool, no_new_privileges: bool) -> None:
    spec = oci_spec.build_spec(config(allow_privilege_escalation=allow))
    assert spec["process"]["noNewPrivileges"] is no_new_privileges


def test_root_hostname_and_process_basics() -> None:
    spec = oci_spec.build_spec(config(read_only_rootfs=True, oom_score_adj=-997))
    assert spec["ociVersion"] == "1.0.2"
    assert spec["root"] == {"path": "/var/lib/c/rootfs", "readonly": True}
    assert spec["hostname"] == "web-0"
    assert spec["process"]["terminal"] is False
    assert spec["process"]["oomScoreAdj"] == -997
    assert spec["linux"]["cgroupsPath"] == "/kubepods/pod1/c1"
    assert spec["linux"]["maskedPaths"][:3] == ["/proc/acpi", "/proc/asound", "/proc/kcore"]
    assert "/proc/sys" in spec["linux"]["readonlyPaths"] and "/proc/keys" in spec["linux"]["maskedPaths"]
    json.dumps(spec)  # it is config.json


def test_default_mounts() -> None:
    mounts = by_destination(oci_spec.build_spec(config()))
    assert list(mounts) == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert mounts["/proc"]["type"] == "proc"
    assert mounts["/dev/pts"]["type"] == "devpts" and "newinstance" in mounts["/dev/pts"]["options"]
    assert mounts["/dev/shm"]["type"] == "tmpfs"
    assert mounts["/dev/mqueue"]["type"] == "mqueue"
    assert mounts["/sys"]["type"] == "sysfs" and "ro" in mounts["/sys"]["options"]
    assert mounts["/sys/fs/cgroup"]["type"] == "cgroup" and "ro" in mounts["/sys/fs/cgroup"]["options"]


@pytest.mark.parametrize("read_only_rootfs", [False, True])
def test_pod_files_and_volumes_are_bind_mounted(read_only_rootfs: bool) -> None:
    spec = oci_spec.build_spec(config(
        read_only_rootfs=read_only_rootfs,
        hosts_file="/pods/p/etc-hosts", resolv_conf_file="/pods/p/resolv.conf", hostname_file="/pods/p/hostname",
        termination_log_file="/pods/p/c/termination-log",
        mounts=(Mount("/pods/p/volumes/data", "/data/"), Mount("/pods/p/volumes/cfg", "/etc/cfg", read_only=True)),
    ))
    mounts = by_destination(spec)
    access = "ro" if read_only_rootfs else "rw"
    expected = {
        "/etc/hosts": ("/pods/p/etc-hosts", "rw"),
        "/etc/hostname": ("/pods/p/hostname", access),
        "/etc/resolv.conf": ("/pods/p/resolv.conf", access),
        "/dev/termination-log": ("/pods/p/c/termination-log", "rw"),
        "/data": ("/pods/p/volumes/data", "rw"),
        "/etc/cfg": ("/pods/p/volumes/cfg", "ro"),
    }
    for destination, (source, mode) in expected.items():
        assert mounts[destination] == {"destination": destination, "type": "bind", "source": source,
                                       "options": ["rbind", "rprivate", mode]}
    # binds come after the defaults they may cover (/dev/termination-log sits on /dev's tmpfs)
    assert list(mounts).index("/dev") < list(mounts).index("/dev/termination-log")


def test_a_volume_replaces_the_default_mount_at_its_destination() -> None:
    mounts = oci_spec.build_spec(config(mounts=(Mount("/pods/p/shm", "/dev/shm"),)))["mounts"]
    assert [(m["type"], m["source"]) for m in mounts if m["destination"] == "/dev/shm"] == [("bind", "/pods/p/shm")]


def test_a_volume_on_dev_replaces_every_default_under_dev() -> None:
    mounts = by_destination(oci_spec.build_spec(config(mounts=(Mount("/host/dev", "/dev"),))))
    assert [d for d in mounts if d.startswith("/dev")] == ["/dev"]
    assert mounts["/dev"]["type"] == "bind"


def test_termination_message_path_is_the_containers() -> None:
    mounts = by_destination(oci_spec.build_spec(config(termination_log_file="/pods/p/c/tl",
                                                       termination_message_path="/tmp/done")))
    assert mounts["/tmp/done"]["source"] == "/pods/p/c/tl"


def test_namespaces_new_except_the_pod_network_joined_by_path() -> None:
    spec = oci_spec.build_spec(config(network_namespace_path="/run/netns/pod1"))
    assert spec["linux"]["namespaces"] == [
        {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "network", "path": "/run/netns/pod1"},
    ]


def test_host_network_means_no_network_namespace() -> None:
    types = [ns["type"] for ns in oci_spec.build_spec(config())["linux"]["namespaces"]]
    assert "network" not in types


def test_shared_ipc_and_uts_namespaces_are_joined_and_the_hostname_left_alone() -> None:
    spec = oci_spec.build_spec(config(network_namespace_path="/run/netns/p", ipc_namespace_path="/proc/42/ns/ipc",
                                      uts_namespace_path="/proc/42/ns/uts"))
    assert {"type": "ipc", "path": "/proc/42/ns/ipc"} in spec["linux"]["namespaces"]
    assert {"type": "uts", "path": "/proc/42/ns/uts"} in spec["linux"]["namespaces"]
    assert "hostname" not in spec  # a runtime refuses to set it in a UTS namespace it joins


@pytest.mark.parametrize(("request_millis", "shares"), [
    (0, 2), (1, 2), (2, 2), (100, 102), (250, 256), (1000, 1024), (1500, 1536), (500_000, 262_144),
])
def test_cpu_shares_from_requests(request_millis: int, shares: int) -> None:
    assert oci_spec.cpu_shares(request_millis) == shares


@pytest.mark.parametrize(("limit_millis", "quota"), [(1, 1000), (10, 1000), (250, 25_000), (1000, 100_000),
                                                     (2500, 250_000)])
def test_cpu_quota_from_limits(limit_millis: int, quota: int) -> None:
    assert oci_spec.cpu_quota(limit_millis) == quota


def test_resources() -> None:
    spec = oci_spec.build_spec(config(cpu_request_millis=250, cpu_limit_millis=500, memory_limit_bytes=128 << 20,
                                      pids_limit=1024))
    assert spec["linux"]["resources"] == {
        "devices": [{"allow": False, "access": "rwm"}],
        "cpu": {"shares": 256, "quota": 50_000, "period": 100_000},
        "memory": {"limit": 134_217_728},
        "pids": {"limit": 1024},
    }


def test_best_effort_resources_have_minimal_shares_and_no_limits() -> None:
    assert oci_spec.build_spec(config())["linux"]["resources"] == {
        "devices": [{"allow": False, "access": "rwm"}], "cpu": {"shares": 2},
    }


def test_annotations_are_copied() -> None:
    assert oci_spec.build_spec(config(annotations={"io.kubernetes.pod.name": "web-0"}))["annotations"] == {
        "io.kubernetes.pod.name": "web-0"}
    assert "annotations" not in oci_spec.build_spec(config())
