"""`provision`: parse the command line, call one library function, print. Errors the user can cause are
ProvisionError: printed as `error: …` on stderr with the error's exit code, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from provisioner.cli import clusters, dev
from provisioner.cli.commands import Command, Group
from provisioner.errors import ProvisionError

# Every top-level entry: a Group (`provision dev …`) or a Command (`provision create …`), one line each.
ENTRIES: tuple[Group | Command, ...] = (*clusters.COMMANDS, clusters.get, dev.group)

INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, as shells report it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provision", description="Provision and operate clusters of a readable Python Kubernetes."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for entry in ENTRIES:
        entry.add_to(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors: argparse prints them and exits 2
    try:
        return args.handler(args)
    except ProvisionError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
