"""A verb is one handler function plus one `Command` entry; groups (`provision dev …`) collect verbs.

Handlers only turn parsed arguments into one library call and print the result; they return the exit code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Arg:
    """One `add_argument` call, kept as data so options can be shared between verbs."""

    flags: tuple[str, ...]
    options: dict[str, Any]

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.flags, **self.options)


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Handler
    args: Sequence[Arg] = ()
    epilog: str | None = None

    def add_to(self, subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser(self.name, help=self.help, description=self.help, epilog=self.epilog)
        for argument in self.args:
            argument.add_to(parser)
        parser.set_defaults(handler=self.run)


@dataclass
class Group:
    name: str
    help: str
    commands: list[Command] = field(default_factory=list)

    def command(
        self, name: str, help: str, *args: Arg, epilog: str | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator registering a handler as `provision <group> <name>`."""

        def register(run: Handler) -> Handler:
            self.commands.append(Command(name, help, run, args, epilog))
            return run

        return register

    def add_to(self, subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser(self.name, help=self.help, description=self.help)
        verbs = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
        for command in self.commands:
            command.add_to(verbs)
