"""Check results, the one JUnit XML file that holds them (the host checks' pytest suite, then the cluster
checks' suite), and the report `provision verify` hands back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

CLUSTER = "cluster"  # the target of checks made through the cluster's API rather than on one host
HOSTS = "hosts"  # the target of failures of the host-check run as a whole (collection, pytest itself)
SUMMARY_NAMES_SHOWN = 5
WHY_MAX_CHARS = 300
# A host check's test case: "test_<check>[<host>]" or "test_<check>[<host>:<item>]" (host_checks.py's ids).
_HOST_CASE = re.compile(r"test_(?P<check>\w+)\[(?P<host>[^:\]]+)(?::(?P<item>[^\]]+))?\]")
# pytest's JUnit messages wrap the check's own words: in a fixture's failure, and in the exception's name.
_FIXTURE_FAILURE = re.compile(r'failed on (?:setup|teardown) with "(?P<message>.*)"', re.DOTALL)
_EXCEPTION_PREFIXES = ("Failed: ", "AssertionError: ")


@dataclass(frozen=True)
class CheckResult:
    target: str  # a host name, CLUSTER or HOSTS
    check: str  # what was checked, e.g. "unit enabled and running provision-kubelet.service"
    passed: bool
    why: str = ""  # for a failed check: what was found instead
    seconds: float = 0.0

    @property
    def line(self) -> str:
        return f"{self.target}: {self.check}: {self.why}"


@dataclass(frozen=True)
class VerifyReport:
    results: tuple[CheckResult, ...]
    junit_path: Path
    elapsed: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[str]:
        return [r.line for r in self.results if not r.passed]

    @property
    def summary(self) -> str:
        total = len(self.results)
        failed = [r for r in self.results if not r.passed]
        if not total:
            return "no checks ran"
        if not failed:
            return f"{total} checks passed"
        names = ", ".join(f"{r.target}: {r.check}" for r in failed[:SUMMARY_NAMES_SHOWN])
        more = f" and {len(failed) - SUMMARY_NAMES_SHOWN} more" if len(failed) > SUMMARY_NAMES_SHOWN else ""
        return f"{len(failed)} of {total} checks failed: {names}{more}"


def read_junit(path: Path) -> list[CheckResult]:
    """The results of every test case in the file; skipped cases (checks that do not apply) are left out."""
    results = []
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        target, check = _case_names(case.get("classname") or "", case.get("name") or "")
        why = "" if problem is None else _why(problem)
        results.append(CheckResult(target, check, problem is None, why, float(case.get("time") or 0)))
    return results


def append_suite(path: Path, name: str, results: Sequence[CheckResult]) -> None:
    """Adds a <testsuite> of `results` to the JUnit file at `path` (made anew if missing or unreadable)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        root = ET.Element("testsuites")
    root.append(_suite(name, results))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _suite(name: str, results: Iterable[CheckResult]) -> ET.Element:
    results = list(results)
    suite = ET.Element("testsuite", {
        "name": name, "tests": str(len(results)), "failures": str(sum(not r.passed for r in results)),
        "errors": "0", "skipped": "0", "time": f"{sum(r.seconds for r in results):.3f}",
    })
    for result in results:
        case = ET.SubElement(suite, "testcase", {"classname": result.target, "name": result.check,
                                                 "time": f"{result.seconds:.3f}"})
        if not result.passed:
            ET.SubElement(case, "failure", {"message": result.why}).text = result.why
    return suite


def _case_names(classname: str, name: str) -> tuple[str, str]:
    host_case = _HOST_CASE.fullmatch(name)
    if host_case is None:
        # A case of the cluster suite, or one pytest made for a failure of its own (a collection error).
        return CLUSTER if classname == CLUSTER else HOSTS, name
    check = host_case["check"].replace("_", " ")
    return host_case["host"], f"{check} {host_case['item']}" if host_case["item"] else check


def _why(problem: ET.Element) -> str:
    message = (problem.get("message") or problem.text or "").strip()
    fixture_failure = _FIXTURE_FAILURE.fullmatch(message)
    if fixture_failure:
        message = fixture_failure["message"]
    for prefix in _EXCEPTION_PREFIXES:
        message = message.removeprefix(prefix)
    return (message.splitlines() or [problem.tag])[0][:WHY_MAX_CHARS]
