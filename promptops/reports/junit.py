"""JUnit XML: one testcase per case × model, so CI test views list failures.

For a drift (``test --base-ref``, ``compare``, ``drift``) the testcases are the candidate's verdicts: what
the change under review does. The baseline's verdict is a property of each testcase, not a testcase of
its own, so a failure already on the base is not counted twice.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TYPE_CHECKING

from promptops.reports import ReportData
from promptops.results import AssertionOutcome, CaseVerdict, RunSummary

if TYPE_CHECKING:
    # drift (with numpy) loads only for a report that shows one
    from promptops.drift import CaseDrift, DriftReport

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    """XML 1.0 cannot carry most control characters; model output sometimes has them."""
    return _INVALID_XML.sub("\ufffd", str(text))


def _reasons(outcomes: list[AssertionOutcome]) -> str:
    return "; ".join(f"{o.type}: {o.reason}" for o in outcomes)


def _seconds(duration_ms: float | None) -> str:
    return f"{(duration_ms or 0) / 1000:.3f}"


def _verdict_case(parent: ET.Element, classname: str, name: str, verdict: CaseVerdict) -> str:
    case = ET.SubElement(
        parent, "testcase", classname=_clean(classname), name=_clean(name), time=_seconds(verdict.duration_ms)
    )
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


def _set_counts(element: ET.Element, statuses: list[str], seconds: float) -> tuple[int, int, int]:
    counts = (len(statuses), statuses.count("failed"), statuses.count("error"))
    element.set("tests", str(counts[0]))
    element.set("failures", str(counts[1]))
    element.set("errors", str(counts[2]))
    element.set("time", f"{seconds:.3f}")
    return counts


def _run_suite_elements(summary: RunSummary) -> Iterator[ET.Element]:
    """One ``testsuite`` per suite and model, built one at a time: verdicts come grouped (report order),
    so a huge run never holds more than one suite's elements."""
    for (suite, model), group in itertools.groupby(summary.cases, key=lambda v: (v.suite, v.model)):
        verdicts = list(group)
        element = ET.Element("testsuite", name=_clean(f"{suite} [{model}]"))
        statuses = [_verdict_case(element, suite, f"{v.case} [{model}]", v) for v in verdicts]
        seconds = sum(v.duration_ms or 0 for v in verdicts) / 1000
        _set_counts(element, statuses, seconds)
        yield element


def _run_chunks(summary: RunSummary) -> Iterator[str]:
    """A test run's JUnit XML in pieces, as ``ET.indent`` lays out the whole tree."""
    counts = summary.status_counts()
    root = ET.Element("testsuites", name="promptops", time=f"{summary.duration_s:.3f}")
    root.set("tests", str(counts.total()))
    root.set("failures", str(counts["failed"]))
    root.set("errors", str(counts["error"]))
    if not summary.cases:
        yield _XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"
        return
    ET.SubElement(root, "here")
    opening, closing = ET.tostring(root, encoding="unicode").split("<here />")
    yield _XML_DECLARATION + opening
    for element in _run_suite_elements(summary):
        ET.indent(element, level=1)
        yield "\n  " + ET.tostring(element, encoding="unicode")
    yield "\n" + closing + "\n"


def _baseline_properties(case: ET.Element, drift: CaseDrift, label: str) -> None:
    """The baseline's verdict as properties: CI test views count the candidate's verdicts only."""
    properties = ET.SubElement(case, "properties")
    values = {"drift.status": drift.status, "baseline": label}
    side = drift.baseline
    if side is not None:
        values |= {
            "baseline.model": side.model,
            "baseline.prompt_version": side.prompt_version,
            "baseline.verdict": side.verdict,
            "baseline.pass_rate": "" if side.pass_rate is None else f"{side.pass_rate:.3f}",
        }
    else:
        values["baseline.verdict"] = "absent (new case)"
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=_clean(value))


def _candidate_case(parent: ET.Element, drift: CaseDrift, label: str) -> str:
    side = drift.candidate
    assert side is not None
    case = ET.SubElement(
        parent,
        "testcase",
        classname=_clean(drift.suite),
        name=_clean(f"{drift.case} [{side.model}]"),
        time=_seconds(side.duration_ms),
    )
    _baseline_properties(case, drift, label)
    if drift.introduced:
        note = "regression: " if drift.status == "regression" else "new case fails: "
    elif drift.already_failing:
        note = "already failing on the base: "
    else:
        note = ""
    if side.verdict == "failed":
        failure = ET.SubElement(
            case,
            "failure",
            message=_clean(f"{note}{_reasons(side.failed_assertions)}"[:1000]),
            type="regression" if drift.introduced else "assertion",
        )
        failure.text = _clean(
            f"{note}{_reasons(side.failed_assertions)}\n\noutput:\n{side.output_excerpt or ''}"
        )
    elif side.verdict == "error" and side.error is not None:
        error = ET.SubElement(case, "error", message=_clean(side.error.message[:1000]), type=side.error.type)
        error.text = _clean(side.error.message)
    return side.verdict


def _drift_suites(root: ET.Element, drift: DriftReport) -> tuple[int, int, int]:
    """One testcase per candidate case; the baseline's verdict rides along as properties."""
    totals = [0, 0, 0]
    by_suite: dict[str, list[CaseDrift]] = {}
    for case in drift.cases:
        if case.candidate is not None:
            by_suite.setdefault(case.suite, []).append(case)
    for suite, cases in by_suite.items():
        element = ET.SubElement(root, "testsuite", name=_clean(f"{suite} ({drift.candidate_label})"))
        properties = ET.SubElement(element, "properties")
        ET.SubElement(properties, "property", name="baseline", value=_clean(drift.baseline_label))
        ET.SubElement(properties, "property", name="baseline_run", value=_clean(drift.baseline_run))
        ET.SubElement(properties, "property", name="candidate_run", value=_clean(drift.candidate_run))
        ET.SubElement(properties, "property", name="significance", value=_clean(drift.rule()))
        statuses = [_candidate_case(element, c, drift.baseline_label) for c in cases]
        seconds = sum((c.candidate.duration_ms or 0) if c.candidate else 0 for c in cases) / 1000
        counts = _set_counts(element, statuses, seconds)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return totals[0], totals[1], totals[2]


def _suite_drops(root: ET.Element, drift: DriftReport) -> tuple[int, int, int]:
    """A failing testcase per suite whose pooled pass rate dropped significantly (the gate fails on it)."""
    dropped = [s for s in drift.suites if s.significant_drop and s.baseline and s.candidate]
    if not dropped:
        return 0, 0, 0
    element = ET.SubElement(root, "testsuite", name="suite-level drift")
    for suite in dropped:
        assert suite.baseline is not None and suite.candidate is not None
        name = f"{suite.suite} [{suite.baseline.model} -> {suite.candidate.model}]"
        case = ET.SubElement(element, "testcase", classname="suite-drift", name=_clean(name), time="0.000")
        message = (
            f"pooled pass rate dropped {suite.baseline_sample_pass_rate or 0:.0%} -> "
            f"{suite.candidate_sample_pass_rate or 0:.0%} (p = {suite.p_value or 0:.4f}, "
            f"adjusted {suite.p_value_adjusted or 0:.4f})"
        )
        ET.SubElement(case, "failure", message=_clean(message), type="suite-regression").text = message
    _set_counts(element, ["failed"] * len(dropped), 0.0)
    return len(dropped), len(dropped), 0


_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def render_junit(data: ReportData) -> str:
    """JUnit XML of the run; for a drift, of the candidate's verdicts (the baseline's in properties)."""
    return "".join(junit_chunks(data))


def junit_chunks(data: ReportData) -> Iterator[str]:
    """``render_junit`` in pieces: a test run is written a suite at a time."""
    if data.drift is None and data.summary is not None:
        yield from _run_chunks(data.summary)
        return
    root = ET.Element("testsuites", name="promptops")
    if data.drift is not None:
        tests, failures, errors = _drift_suites(root, data.drift)
        extra = _suite_drops(root, data.drift)
        tests, failures = tests + extra[0], failures + extra[1]
        if data.summary is not None:
            root.set("time", f"{data.summary.duration_s:.3f}")
    else:
        tests = failures = errors = 0
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    yield _XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"
