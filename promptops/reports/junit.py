"""JUnit XML: one testcase per case × model (× side for drift), so CI test views list failures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from promptops.drift import CaseSide, DriftReport
from promptops.reports import ReportData
from promptops.results import AssertionOutcome, CaseVerdict, RunSummary

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    """XML 1.0 cannot carry most control characters; model output sometimes has them."""
    return _INVALID_XML.sub("\ufffd", str(text))


def _reasons(outcomes: list[AssertionOutcome]) -> str:
    return "; ".join(f"{o.type}: {o.reason}" for o in outcomes)


def _verdict_case(parent: ET.Element, classname: str, name: str, verdict: CaseVerdict) -> str:
    case = ET.SubElement(parent, "testcase", classname=_clean(classname), name=_clean(name), time="0")
    if verdict.status == "failed":
        failure = ET.SubElement(
            case, "failure", message=_clean(_reasons(verdict.failed_assertions)[:1000]), type="assertion"
        )
        failure.text = _clean(
            f"{_reasons(verdict.failed_assertions)}\n\npass rate {verdict.passed_samples}/"
            f"{verdict.samples - verdict.errored_samples}, needs {verdict.threshold:.0%}\n\n"
            f"output:\n{verdict.output_excerpt or ''}"
        )
    elif verdict.status == "error" and verdict.error is not None:
        error = ET.SubElement(
            case, "error", message=_clean(verdict.error.message[:1000]), type=verdict.error.type
        )
        error.text = _clean(verdict.error.message)
    return verdict.status


def _run_suites(root: ET.Element, summary: RunSummary) -> tuple[int, int, int]:
    totals = [0, 0, 0]
    groups: dict[tuple[str, str], list[CaseVerdict]] = {}
    for verdict in summary.cases:
        groups.setdefault((verdict.suite, verdict.model), []).append(verdict)
    for (suite, model), verdicts in groups.items():
        element = ET.SubElement(root, "testsuite", name=_clean(f"{suite} [{model}]"))
        statuses = [_verdict_case(element, suite, f"{v.case} [{model}]", v) for v in verdicts]
        counts = (len(statuses), statuses.count("failed"), statuses.count("error"))
        element.set("tests", str(counts[0]))
        element.set("failures", str(counts[1]))
        element.set("errors", str(counts[2]))
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return totals[0], totals[1], totals[2]


def _side_case(parent: ET.Element, classname: str, name: str, side: CaseSide, note: str) -> str:
    case = ET.SubElement(parent, "testcase", classname=_clean(classname), name=_clean(name), time="0")
    if side.verdict == "failed":
        failure = ET.SubElement(
            case,
            "failure",
            message=_clean(f"{note}{_reasons(side.failed_assertions)}"[:1000]),
            type="assertion",
        )
        failure.text = _clean(
            f"{note}{_reasons(side.failed_assertions)}\n\noutput:\n{side.output_excerpt or ''}"
        )
    elif side.verdict == "error" and side.error is not None:
        error = ET.SubElement(case, "error", message=_clean(side.error.message[:1000]), type=side.error.type)
        error.text = _clean(side.error.message)
    return side.verdict


def _drift_suites(root: ET.Element, drift: DriftReport) -> tuple[int, int, int]:
    totals = [0, 0, 0]
    for label, pick in (("baseline", drift.baseline_label), ("candidate", drift.candidate_label)):
        by_suite: dict[str, list[str]] = {}
        element_of: dict[str, ET.Element] = {}
        for case in drift.cases:
            side = case.baseline if label == "baseline" else case.candidate
            if side is None:
                continue
            if case.suite not in element_of:
                element_of[case.suite] = ET.SubElement(
                    root, "testsuite", name=_clean(f"{case.suite} ({label}: {pick})")
                )
            note = "regression: " if label == "candidate" and case.status == "regression" else ""
            status = _side_case(
                element_of[case.suite], f"{case.suite}.{label}", f"{case.case} [{side.model}]", side, note
            )
            by_suite.setdefault(case.suite, []).append(status)
        for suite, statuses in by_suite.items():
            counts = (len(statuses), statuses.count("failed"), statuses.count("error"))
            element_of[suite].set("tests", str(counts[0]))
            element_of[suite].set("failures", str(counts[1]))
            element_of[suite].set("errors", str(counts[2]))
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return totals[0], totals[1], totals[2]


def _suite_drops(root: ET.Element, drift: DriftReport) -> tuple[int, int, int]:
    """A testcase per suite and model pair for the pooled suite-level test."""
    element = ET.SubElement(root, "testsuite", name="suite-level drift")
    failures = 0
    for suite in drift.suites:
        if suite.baseline is None or suite.candidate is None:
            continue
        name = f"{suite.suite} [{suite.baseline.model} -> {suite.candidate.model}]"
        case = ET.SubElement(element, "testcase", classname="suite-drift", name=_clean(name), time="0")
        if suite.significant_drop:
            failures += 1
            message = (
                f"pooled pass rate dropped {suite.baseline_sample_pass_rate or 0:.0%} -> "
                f"{suite.candidate_sample_pass_rate or 0:.0%} (p = {suite.p_value or 0:.4f})"
            )
            ET.SubElement(case, "failure", message=_clean(message), type="suite-regression").text = message
    tests = len(element)
    element.set("tests", str(tests))
    element.set("failures", str(failures))
    element.set("errors", "0")
    return tests, failures, 0


def render_junit(data: ReportData) -> str:
    """JUnit XML of the run (or of both sides of a drift)."""
    root = ET.Element("testsuites", name="promptops")
    if data.drift is not None:
        tests, failures, errors = _drift_suites(root, data.drift)
        extra = _suite_drops(root, data.drift)
        tests, failures = tests + extra[0], failures + extra[1]
    elif data.summary is not None:
        tests, failures, errors = _run_suites(root, data.summary)
        root.set("time", f"{data.summary.duration_s:.3f}")
    else:
        tests = failures = errors = 0
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
