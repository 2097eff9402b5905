"""Data-driven spec cases: tests/data/spec/valid/X.yaml must load and dump as X.expected.yaml; invalid/X.yaml must
fail with exactly the problems in X.expected.txt (``line: path: message``, the file name left out).

UPDATE_GOLDEN=1 rewrites the expected files from what the code does now; review the diff before keeping it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provisioner.spec import Problem, SpecError, dump, load, parse

DATA = Path(__file__).parents[2] / "data" / "spec"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _cases(kind: str) -> list[Path]:
    return sorted(path for path in (DATA / kind).glob("*.yaml") if not path.name.endswith(".expected.yaml"))


def _check_golden(expected_file: Path, actual: str) -> None:
    if UPDATE:
        expected_file.write_text(actual)
    assert expected_file.exists(), f"{expected_file} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert actual == expected_file.read_text()


@pytest.mark.parametrize("case", _cases("valid"), ids=lambda path: path.stem)
def test_valid_spec_dumps_as_expected(case: Path) -> None:
    cluster = load(case)
    text = dump(cluster)
    _check_golden(case.with_suffix(".expected.yaml"), text)
    assert parse(text) == cluster, "the dump reads back as the same cluster"


def _problem_line(problem: Problem) -> str:
    parts = [str(problem.line)] + ([problem.path] if problem.path else []) + [problem.message]
    return ": ".join(parts)


@pytest.mark.parametrize("case", _cases("invalid"), ids=lambda path: path.stem)
def test_invalid_spec_reports_every_problem(case: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load(case)
    assert all(problem.file == str(case) for problem in raised.value.problems)
    _check_golden(case.with_suffix(".expected.txt"), "".join(_problem_line(p) + "\n" for p in raised.value.problems))
