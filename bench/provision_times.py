"""How long `provision create` takes, per phase and in total, for 3 and 10 local machines (warm machine image and
bundle: both are built first and not counted), then a no-op re-run and the delete. Needs root.

    .venv/bin/python bench/provision_times.py [--sizes 3,10] [--runs 1]

Aims (docs/anchors.md): 3 machines ≤ 30 s, 10 machines ≤ 60 s, no-op re-run ≤ 10 s with 0 changed tasks.
The clusters use their own state directory, names and networks; a developer's own clusters are not touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from provisioner.bundle import ensure_bundle  # noqa: E402
from provisioner.lifecycle import create, delete  # noqa: E402
from provisioner.providers.machines.image import ImageRecipe, default_cache_dir, ensure_image  # noqa: E402
from provisioner.runner import AnsibleRunner  # noqa: E402

SPECS = {3: REPO / "examples" / "cluster.yaml", 10: REPO / "examples" / "cluster-10.yaml"}
NETWORKS = {3: ("10.67.0.0/24", "10.217.0.0/16", "10.117.0.0/16"),
            10: ("10.68.0.0/24", "10.218.0.0/16", "10.118.0.0/16")}


def bench_spec(size: int, directory: Path) -> Path:
    spec = yaml.safe_load(SPECS[size].read_text())
    subnet, pods, services = NETWORKS[size]
    spec["metadata"]["name"] = f"bench-{size}"
    spec["spec"]["provider"]["machines"]["subnet"] = subnet
    spec["spec"]["network"].update({"podCIDR": pods, "serviceCIDR": services})
    path = directory / f"bench-{size}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def one_run(size: int, directory: Path) -> dict[str, float]:
    spec = bench_spec(size, directory)
    state_root = directory / "state"
    runner = AnsibleRunner()
    started = time.monotonic()
    try:
        first = create.create(spec, state_root=state_root, runner=runner)
        figures = {"create": time.monotonic() - started}
        figures.update({f"  {p.name}": p.elapsed for p in first.phases})
        started = time.monotonic()
        again = create.create(spec, state_root=state_root, runner=runner)
        figures["no-op re-run"] = time.monotonic() - started
        figures["no-op changed tasks"] = float(again.changed)
    finally:
        started = time.monotonic()
        delete.delete(f"bench-{size}", state_root=state_root, runner=runner)
        figures["delete"] = time.monotonic() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,10")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (local machines)")
    cache = default_cache_dir()
    started = time.monotonic()
    ensure_image(ImageRecipe(), cache)
    ensure_bundle(cache)
    print(f"warm-up (image and bundle, not counted): {time.monotonic() - started:.1f}s")
    for size in (int(s) for s in args.sizes.split(",")):
        runs = []
        for _ in range(args.runs):
            # Removed only after a successful delete: the state directory is what delete works from.
            directory = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
            runs.append(one_run(size, directory))
            shutil.rmtree(directory)
        print(f"\n{size} machines ({args.runs} run{'s' if args.runs > 1 else ''}; median):")
        for key in runs[0]:
            value = statistics.median(r[key] for r in runs)
            unit = "" if key.endswith("tasks") else "s"
            print(f"  {key:<22} {value:7.1f}{unit}")


if __name__ == "__main__":
    main()
