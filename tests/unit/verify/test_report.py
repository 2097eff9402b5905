from __future__ import annotations

from pathlib import Path

from provisioner.verify.report import CheckResult, VerifyReport, append_suite, read_junit

# The shape pytest (junit_family xunit2) writes for host_checks.py: a pass, a failed assertion, a setup
# failure (an unreachable host), a check that does not apply (skipped), and a collection error.
PYTEST_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests">
<testsuite name="hosts" errors="2" failures="1" skipped="1" tests="5" time="1.2">
<testcase classname="host_checks" name="test_kubelet_healthz[t-cp-1]" time="0.020" />
<testcase classname="host_checks" name="test_unit_enabled_and_running[t-cp-1:provision-scheduler.service]"
 time="0.031"><failure message="AssertionError: provision-scheduler.service is not enabled&#10;assert False"
 >details</failure></testcase>
<testcase classname="host_checks" name="test_ca_certificate[t-w-1]" time="0.001"><error message=
"failed on setup with &quot;Failed: unreachable over SSH: ssh: connect to host 10.0.0.3: No route&quot;"
 >details</error></testcase>
<testcase classname="host_checks" name="test_apiserver_database[t-cp-1]" time="0"><skipped type="pytest.skip"
 message="the store is etcd">skip</skipped></testcase>
<testcase classname="" name="provisioner.verify.host_checks" time="0"><error message="collection failure"
 >ERROR: ansible-inventory failed&#10;more</error></testcase>
</testsuite></testsuites>"""


def test_pytest_cases_become_host_checks_with_the_words_of_their_failure(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(PYTEST_JUNIT)
    assert read_junit(junit) == [
        CheckResult("t-cp-1", "kubelet healthz", True, "", 0.02),
        CheckResult("t-cp-1", "unit enabled and running provision-scheduler.service", False,
                    "provision-scheduler.service is not enabled", 0.031),
        CheckResult("t-w-1", "ca certificate", False,
                    "unreachable over SSH: ssh: connect to host 10.0.0.3: No route", 0.001),
        CheckResult("hosts", "provisioner.verify.host_checks", False, "collection failure", 0.0),
    ]


def test_a_cluster_suite_appended_is_read_back(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(PYTEST_JUNIT)
    cluster = [CheckResult("cluster", "node t-cp-1 Ready", True),
               CheckResult("cluster", "apiserver ready", False, "[-]startup failed")]
    append_suite(junit, "cluster", cluster)
    assert read_junit(junit)[-2:] == cluster
    assert len(read_junit(junit)) == 6


def test_append_suite_makes_the_file_when_there_is_none(tmp_path):
    junit = tmp_path / "junit.xml"
    append_suite(junit, "cluster", [CheckResult("cluster", "apiserver reachable", False, "refused")])
    assert read_junit(junit) == [CheckResult("cluster", "apiserver reachable", False, "refused")]
    assert junit.read_text().startswith("<?xml")


def report(*results: CheckResult) -> VerifyReport:
    return VerifyReport(results, Path("junit.xml"))


def test_report_of_passed_checks():
    passed = report(CheckResult("n1", "a", True), CheckResult("cluster", "b", True))
    assert (passed.passed, passed.summary, passed.failures) == (True, "2 checks passed", [])


def test_report_names_failures_one_line_each():
    failed = report(CheckResult("n1", "kubelet healthz", False, "refused"), CheckResult("n1", "b", True),
                    CheckResult("cluster", "node n1 Ready", False, "not registered"))
    assert not failed.passed
    assert failed.summary == "2 of 3 checks failed: n1: kubelet healthz, cluster: node n1 Ready"
    assert failed.failures == ["n1: kubelet healthz: refused", "cluster: node n1 Ready: not registered"]


def test_report_summary_is_short_with_many_failures():
    failed = report(*(CheckResult(f"n{i}", "c", False, "x") for i in range(8)))
    assert failed.summary == "8 of 8 checks failed: n0: c, n1: c, n2: c, n3: c, n4: c and 3 more"


def test_no_checks_is_not_a_pass():
    assert (report().passed, report().summary) == (False, "no checks ran")
