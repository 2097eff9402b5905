"""Reading a spec file's YAML while keeping where each value came from.

PyYAML's composer gives nodes with marks; walking them once maps every field path to the line it is on, and
catches duplicate keys, which a plain ``safe_load`` silently resolves to the last one.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from provisioner.errors import Problem, SpecError

Loc = tuple[Hashable, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Finding:
    """A problem at a field path, before it is given the file's name and a line."""

    loc: Loc
    message: str


@dataclass(frozen=True)
class Document:
    data: Any
    lines: dict[Loc, int]
    duplicates: tuple[Finding, ...]

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of its nearest ancestor that is in the file (a missing field's mapping)."""
        for end in range(len(loc), -1, -1):
            if (line := self.lines.get(loc[:end])) is not None:
                return line
        return None


def render_path(loc: Loc) -> str:
    """``("spec", "nodeGroups", 1, "labels", "a/b")`` → ``spec.nodeGroups[1].labels[a/b]``."""
    path = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            path += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{part}]"
    return path


def read_document(text: str, filename: str) -> Document:
    """The YAML data of ``text``, its line index and duplicate keys; SpecError (with the line) if it is not YAML."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        duplicates: list[Finding] = []
        if node is not None:
            # Indexed before construction, which rewrites merged mappings in place.
            lines[()] = node.start_mark.line + 1
            _index(loader, node, (), lines, duplicates, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        raise SpecError([_syntax_problem(error, filename)]) from None
    except yaml.YAMLError as error:
        raise SpecError([Problem(filename, None, "", f"invalid YAML: {error}")]) from None
    finally:
        loader.dispose()
    return Document(data, lines, tuple(duplicates))


def _syntax_problem(error: yaml.MarkedYAMLError, filename: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = f"invalid YAML: {error.problem or error.context}"
    if error.context and error.problem and error.context_mark is not None:
        message += f" ({error.context} at line {error.context_mark.line + 1})"
    return Problem(filename, mark.line + 1 if mark is not None else None, "", message)


def _index(loader: yaml.SafeLoader, node: Node, loc: Loc, lines: dict[Loc, int], duplicates: list[Finding],
           visited: set[int]) -> None:
    """Record the line of every path under ``node``. A node is walked once, which keeps nested aliases from
    costing exponential time: what an alias (``*name``) or a merge (``<<: *name``) brings in is reported at the
    key that holds it, or for a list item that is an alias, at its anchor (composed nodes keep no alias marks)."""
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, MappingNode):
        first_lines: dict[Hashable, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # construction reports it, with its line
            line = key_node.start_mark.line + 1
            if key in first_lines:
                duplicates.append(Finding(loc + (key,), f"duplicate key {key!r} (first at line {first_lines[key]})"))
            first_lines.setdefault(key, line)
            lines[loc + (key,)] = line
            _index(loader, value_node, loc + (key,), lines, duplicates, visited)
    elif isinstance(node, SequenceNode):
        for position, item in enumerate(node.value):
            lines[loc + (position,)] = item.start_mark.line + 1
            _index(loader, item, loc + (position,), lines, duplicates, visited)
