"""The cluster verbs: create, plan, get clusters, status, kubeconfig, verify, delete (logic in
provisioner.lifecycle)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from provisioner.cli.commands import Command, Group, arg
from provisioner.cli.progress import TerminalProgress
from provisioner.errors import ProvisionError
from provisioner.lifecycle import create as create_module
from provisioner.lifecycle import delete as delete_module
from provisioner.lifecycle import inspect
from provisioner.lifecycle import planning as planning_module
from provisioner.lifecycle.state import default_state_root
from provisioner.plan import PHASE_NAMES
from provisioner.runner import AnsibleRunner

NOT_HEALTHY_EXIT_CODE = 3


def phase_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PHASE_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown phase {', '.join(unknown) or repr(text)}; "
                                         f"phases are: {', '.join(PHASE_NAMES)}")
    return names


STATE_DIR = arg("--state-dir", type=Path, default=None, metavar="DIR",
                help="where cluster state lives (default: $PROVISION_STATE_DIR or ~/.local/state/provision)")
SPEC = arg("spec", type=Path, metavar="SPEC", help="the cluster spec (cluster.yaml)")
NAME = arg("name", metavar="NAME", help="the cluster's name (metadata.name of its spec)")


def _root(args: argparse.Namespace) -> Path:
    return args.state_dir or default_state_root()


def run_create(args: argparse.Namespace) -> int:
    progress = TerminalProgress()
    try:
        result = create_module.create(args.spec, state_root=_root(args), runner=AnsibleRunner(), progress=progress,
                                      only=args.only or (), skip=args.skip or (), retain=args.retain)
    except ProvisionError:
        progress.failed()
        raise
    print(f"cluster {result.cluster.name}: {len(result.cluster.machines)} machines, {result.changed} changed "
          f"tasks, {result.elapsed:.1f}s")
    print(f"kubeconfig: {result.state.admin_kubeconfig}")
    print(f"  export KUBECONFIG={result.state.admin_kubeconfig}; kubectl get nodes")
    return 0


PLAN_CHANGES_EXIT_CODE = 2  # with --detailed-exitcode, as `terraform plan -detailed-exitcode`
PLAN_PROBLEMS_EXIT_CODE = 1


def run_plan(args: argparse.Namespace) -> int:
    console = TerminalProgress().console
    with contextlib.ExitStack() as stack:
        status = stack.enter_context(console.status("planning")) if console.is_terminal else None

        def detail(text: str) -> None:
            if status is not None:
                status.update(f"planning: {text}")

        report = planning_module.plan(args.spec, state_root=_root(args), runner=AnsibleRunner(),
                                      only=args.only or (), skip=args.skip or (), on_detail=detail)
    marks = {(True, False): "~", (False, True): "!", (True, True): "!", (False, False): " "}
    print(f"plan for cluster {report.cluster.name} ({args.spec}); nothing was changed")
    for phase in report.phases:
        print(f"{phase.phase.name}: {phase.phase.summary}")
        for entry in phase.entries:
            print(f"  {marks[entry.change, entry.problem]} {entry.target:<24} {entry.action}")
    if report.playbook is not None:
        print(f"check-mode log (with diffs): {report.playbook.log_path}")
    changed = [p.phase.name for p in report.phases if p.changes]
    if report.problems:
        print(f"{len(report.problems)} problem(s) (!): create would fail or the plan could not tell")
    if changed:
        print(f"would change (~): {', '.join(changed)}")
    else:
        print("no changes: the cluster matches its spec")
    if not args.detailed_exitcode:
        return 0
    if report.problems:
        return PLAN_PROBLEMS_EXIT_CODE
    return PLAN_CHANGES_EXIT_CODE if report.changes else 0


def run_delete(args: argparse.Namespace) -> int:
    delete_module.delete(args.name, state_root=_root(args), runner=AnsibleRunner(), progress=TerminalProgress())
    print(f"cluster {args.name} deleted")
    return 0


def run_get_clusters(args: argparse.Namespace) -> int:
    rows = inspect.list_clusters(_root(args))
    print(f"{'NAME':<20} {'PROVIDER':<9} {'CONTROL-PLANES':>14} {'WORKERS':>7}  {'CREATED':<25} APPLIED")
    for row in rows:
        print(f"{row.name:<20} {row.provider:<9} {row.control_planes:>14} {row.workers:>7}  {row.created:<25} "
              f"{row.applied}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    report = inspect.status(args.name, state_root=_root(args), runner=AnsibleRunner())
    print(f"cluster {report.name}: {'healthy' if report.healthy else 'NOT healthy'}")
    print(f"apiserver: {report.apiserver}")
    nodes = {n.name: n for n in report.nodes}
    print(f"{'MACHINE':<28} {'ADDRESS':<15} {'MACHINE-STATE':<13} {'NODE':<10} ROLES")
    for machine in report.machines:
        node = nodes.get(machine.name)
        node_state = "-" if node is None else ("Ready" if node.ready else f"NotReady ({node.reason})")
        roles = ",".join(node.roles) if node else "-"
        print(f"{machine.name:<28} {str(machine.address):<15} {machine.state:<13} {node_state:<10} {roles}")
    for component in report.components:
        print(f"{component.name}: {'healthy' if component.healthy else 'NOT healthy'} ({component.detail})")
    return 0 if report.healthy else NOT_HEALTHY_EXIT_CODE


def run_kubeconfig(args: argparse.Namespace) -> int:
    path = inspect.admin_kubeconfig(args.name, state_root=_root(args))
    if args.path:
        print(path)
    else:
        sys.stdout.write(path.read_text())
    return 0


def run_verify(args: argparse.Namespace) -> int:
    report = inspect.verify(args.name, state_root=_root(args), runner=AnsibleRunner())
    for failure in report.failures:
        print(f"FAILED {failure}")
    print(report.summary)
    print(f"junit: {report.junit_path}")
    return 0 if report.passed else 1


PHASE_OPTIONS = (
    arg("--only", type=phase_list, metavar="PHASES", help=f"run only these phases ({','.join(PHASE_NAMES)})"),
    arg("--skip", type=phase_list, metavar="PHASES", help="run all phases but these"),
)

get = Group("get", "list things")
get.commands.append(Command("clusters", "list the clusters in the state directory", run_get_clusters,
                            (STATE_DIR,)))

COMMANDS = (
    Command("create", "create a cluster from its spec, or converge an existing one on it", run_create,
            (SPEC, STATE_DIR, *PHASE_OPTIONS,
             arg("--retain", action="store_true",
                 help="keep the machines of a new cluster when create fails (for debugging)"))),
    Command("plan", "show what create would do in each phase on each host, changing nothing", run_plan,
            (SPEC, STATE_DIR, *PHASE_OPTIONS,
             arg("--detailed-exitcode", action="store_true",
                 help="exit 0 when nothing would change, 2 when something would, 1 on problems"))),
    Command("status", "machines, nodes and component health of a cluster", run_status, (NAME, STATE_DIR)),
    Command("kubeconfig", "print the admin kubeconfig of a cluster (for the real kubectl)", run_kubeconfig,
            (NAME, STATE_DIR, arg("--path", action="store_true", help="print the file's path instead"))),
    Command("verify", "check the cluster's hosts (testinfra) and the cluster; writes JUnit XML", run_verify,
            (NAME, STATE_DIR)),
    Command("delete", "delete a cluster: its machines, what it put on hosts, and its state", run_delete,
            (NAME, STATE_DIR)),
)
