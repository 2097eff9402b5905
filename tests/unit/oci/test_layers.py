"""Layer application: whiteouts and opaque directories hide lower content, extraction refuses to write outside
the tree, and a root filesystem is the layers copied in order."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from provisioner.services.oci import layers
from provisioner.services.oci.errors import LayerError
from provisioner.services.oci.layers import apply_layer_tar, rootfs, unpack_layer
from tests.unit.oci.images import Entry, chardev, directory, file, hardlink, layer_tar, symlink


def write_layer(path: Path, entries: list[Entry], compress: bool = True) -> Path:
    path.write_bytes(layer_tar(entries, compress))
    return path


def tree(root: Path) -> dict[str, str]:
    """Every entry under root: file contents, "->target" for symlinks, "/" for directories."""
    found = {}
    for directory_path, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            path = Path(directory_path, name)
            relative = str(path.relative_to(root))
            if path.is_symlink():
                found[relative] = "->" + os.readlink(path)
            elif path.is_dir():
                found[relative] = "/"
            else:
                found[relative] = path.read_text()
    return found


@pytest.fixture
def base(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    lower = write_layer(
        tmp_path / "lower.tar",
        [
            directory("etc"),
            file("etc/keep", b"k"),
            file("etc/gone", b"g"),
            directory("var"),
            directory("var/cache"),
            file("var/cache/a", b"a"),
            directory("var/cache/sub"),
            file("var/cache/sub/b", b"b"),
            file("var/other", b"o"),
        ],
    )
    apply_layer_tar(lower, root)
    return root


@pytest.mark.parametrize("compress", [True, False])
def test_whiteout_removes_a_lower_file_and_the_marker_does_not_appear(
    tmp_path: Path, base: Path, compress: bool
) -> None:
    upper = write_layer(
        tmp_path / "upper.tar", [directory("etc"), file("etc/.wh.gone"), file("etc/new", b"n")], compress
    )
    apply_layer_tar(upper, base)
    assert tree(base)["etc/keep"] == "k"
    assert tree(base)["etc/new"] == "n"
    assert "etc/gone" not in tree(base)
    assert not any(".wh." in name for name in tree(base))


def test_whiteout_of_a_directory_removes_it_whole(tmp_path: Path, base: Path) -> None:
    apply_layer_tar(write_layer(tmp_path / "upper.tar", [file("var/.wh.cache")]), base)
    assert "var/cache" not in tree(base)
    assert tree(base)["var/other"] == "o"


def test_opaque_directory_hides_lower_content_but_keeps_its_own(tmp_path: Path, base: Path) -> None:
    upper = write_layer(
        tmp_path / "upper.tar",
        [
            directory("var/cache"),
            file("var/cache/fresh", b"f"),
            file("var/cache/.wh..wh..opq"),
        ],
    )
    apply_layer_tar(upper, base)
    found = tree(base)
    assert {name for name in found if name.startswith("var/cache/")} == {"var/cache/fresh"}
    assert found["var/other"] == "o"


def test_a_directory_replaces_a_lower_symlink_instead_of_writing_through_it(
    tmp_path: Path, base: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    apply_layer_tar(write_layer(tmp_path / "l2.tar", [symlink("lib", str(outside))]), base)
    apply_layer_tar(write_layer(tmp_path / "l3.tar", [directory("lib"), file("lib/x", b"x")]), base)
    assert tree(base)["lib/x"] == "x"
    assert not (base / "lib").is_symlink()
    assert list(outside.iterdir()) == []


def test_layers_keep_whiteout_markers_and_rootfs_applies_them_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "l1", tmp_path / "l2"
    unpack_layer(write_layer(tmp_path / "1.tar", [file("a", b"1"), file("b", b"1")]), first)
    unpack_layer(write_layer(tmp_path / "2.tar", [file(".wh.a"), file("b", b"2")]), second)
    assert (second / ".wh.a").is_file()
    rootfs([first, second], tmp_path / "rootfs")
    assert tree(tmp_path / "rootfs") == {"b": "2"}


def test_modes_symlinks_and_hard_links_survive(tmp_path: Path) -> None:
    layer = write_layer(
        tmp_path / "l.tar",
        [
            directory("bin"),
            file("bin/busybox", b"bb", mode=0o4755),
            hardlink("bin/sh", "bin/busybox"),
            symlink("bin/ls", "/bin/busybox"),
        ],
    )
    unpacked = tmp_path / "layer"
    unpack_layer(layer, unpacked)
    root = tmp_path / "rootfs"
    rootfs([unpacked], root)
    assert stat.S_IMODE(os.stat(root / "bin/busybox").st_mode) == 0o4755
    assert os.stat(root / "bin/sh").st_ino == os.stat(root / "bin/busybox").st_ino
    assert os.stat(root / "bin/sh").st_ino != os.stat(unpacked / "bin/busybox").st_ino  # copied, not shared
    assert os.readlink(root / "bin/ls") == "/bin/busybox"
    assert os.stat(root / "bin/busybox").st_mtime == 1_000_000


@pytest.mark.parametrize(
    "entries",
    [
        [file("../escape", b"x")],
        [file("a/../../escape", b"x")],
        [directory("a"), hardlink("a/link", "../../etc/passwd")],
    ],
    ids=["dotdot", "nested-dotdot", "hardlink-escape"],
)
def test_entries_escaping_the_tree_are_refused(tmp_path: Path, entries: list[Entry]) -> None:
    with pytest.raises(LayerError, match="escapes the layer"):
        unpack_layer(write_layer(tmp_path / "evil.tar", entries), tmp_path / "out")
    assert not (tmp_path / "escape").exists()


def test_absolute_names_stay_inside(tmp_path: Path) -> None:
    unpack_layer(write_layer(tmp_path / "l.tar", [file("/etc/hostname", b"h")]), tmp_path / "out")
    assert tree(tmp_path / "out") == {"etc": "/", "etc/hostname": "h"}


@pytest.mark.parametrize("target", ["/", "../.."])
def test_writing_through_a_symlink_is_refused(tmp_path: Path, target: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    entries = [symlink("link", str(victim) if target == "/" else target), file("link/planted", b"x")]
    with pytest.raises(LayerError, match="passes through the symlink"):
        unpack_layer(write_layer(tmp_path / "evil.tar", entries), tmp_path / "out")
    assert list(victim.iterdir()) == []


def test_device_nodes_are_skipped_without_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers.os, "geteuid", lambda: 1000)
    unpack_layer(
        write_layer(tmp_path / "l.tar", [directory("dev"), chardev("dev/null"), file("f", b"f")]),
        tmp_path / "out",
    )
    assert tree(tmp_path / "out") == {"dev": "/", "f": "f"}


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")
def test_device_nodes_are_made_as_root(tmp_path: Path) -> None:
    unpack_layer(write_layer(tmp_path / "l.tar", [chardev("null")]), tmp_path / "out")
    info = os.lstat(tmp_path / "out/null")
    assert stat.S_ISCHR(info.st_mode) and os.major(info.st_rdev) == 1 and os.minor(info.st_rdev) == 3


def test_a_truncated_tar_is_a_layer_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar"
    broken.write_bytes(layer_tar([file("a", b"x" * 5000)], compress=False)[:1000])
    with pytest.raises(LayerError, match="cannot extract"):
        unpack_layer(broken, tmp_path / "out")


def test_zstd_layers_are_refused_clearly(tmp_path: Path) -> None:
    zstd = tmp_path / "layer.tar.zst"
    zstd.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(64))
    with pytest.raises(LayerError, match="zstd-compressed layers are not supported"):
        unpack_layer(zstd, tmp_path / "out")
