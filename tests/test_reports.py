"""Markdown and JUnit reports on planted runs, and several formats from one run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from test_drift import meta, sample

from promptops.reports import ReportData
from promptops.reports.markdown import MARKER, render_markdown
from promptops.results import (
    AssertionOutcome,
    CaseVerdict,
    GroupSummary,
    RunMeta,
    RunSummary,
    SuitePlan,
    summarize,
)

ANSWERS = {"charged twice": "refund", "crashes": "question"}


def planted(cases: int = 3, failing: int = 1, reason: str = "expected 'bug', got 'question'") -> ReportData:
    verdicts = []
    for i in range(cases):
        bad = i < failing
        verdicts.append(
            CaseVerdict(
                suite="triage",
                case=f"case-{i}",
                model="default",
                line=4 + 3 * i,
                status="failed" if bad else "passed",
                samples=1,
                passed_samples=0 if bad else 1,
                errored_samples=0,
                pass_rate=0.0 if bad else 1.0,
                threshold=1.0,
                gap="skill" if bad else None,
                failed_assertions=[AssertionOutcome(type="equals", passed=False, score=0.0, reason=reason)]
                if bad
                else [],
                output_excerpt="question <b>bold</b> | pipe" if bad else None,
            )
        )
    summary = RunSummary(
        run_id="r1",
        status="failed" if failing else "passed",
        exit_code=1 if failing else 0,
        started_at="2026-11-21T00:00:00+00:00",
        finished_at="2026-11-21T00:00:01+00:00",
        duration_s=1.0,
        planned_calls=cases,
        completed_calls=cases,
        groups=[
            GroupSummary(
                suite="triage",
                model="default",
                model_id="local/x",
                cases=cases,
                passed=cases - failing,
                failed=failing,
                errors=0,
                pass_rate=(cases - failing) / cases,
                samples=cases,
                latency_p95_ms=120.0,
            )
        ],
        cases=verdicts,
    )
    meta = RunMeta(
        run_id="r1",
        started_at="2026-11-21T00:00:00+00:00",
        promptops_version="0.1.0",
        project_root="/p",
        suites=[
            SuitePlan(
                name="triage",
                file="suites/triage.yaml",
                prompt="support/triage",
                prompt_version="1.0.0",
                prompt_fingerprint="abc",
                models=["default"],
                cases=cases,
            )
        ],
    )
    return ReportData(summary=summary, meta=meta)


def test_markdown_for_a_failing_run() -> None:
    text = render_markdown(planted())
    assert text.startswith(MARKER)
    assert "## ❌ promptops test: 2 passed, 1 failed, 0 errors" in text
    assert "| triage | default | 3 | 2 | 1 | 0 | 67% | 120 |" in text
    assert "**triage::case-0** [default] · `suites/triage.yaml:4`" in text
    assert "- `equals`: expected 'bug', got 'question'" in text
    assert "<details><summary><b>All cases (3)</b></summary>" in text


def test_markdown_stays_under_the_comment_limit() -> None:
    data = planted(cases=3000, failing=3000, reason="x" * 200)
    text = render_markdown(data, max_chars=60_000)
    assert len(text) < 65_536
    assert "**Report truncated** to fit a comment" in text
    assert "failures: 2806 of 3000; all cases: all 3000 not shown" in text
    data.artifact_hint = "the promptops-report artifact"
    assert "Full report: the promptops-report artifact." in render_markdown(data)


def test_junit_has_one_testcase_per_case_and_model() -> None:
    xml = ET.fromstring(render_junit_text(planted()))
    assert xml.get("tests") == "3" and xml.get("failures") == "1"
    cases = xml.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["case-0 [default]", "case-1 [default]", "case-2 [default]"]
    failure = cases[0].find("failure")
    assert failure is not None and "expected 'bug', got 'question'" in failure.get("message", "")


def render_junit_text(data: ReportData) -> str:
    from promptops.reports.junit import render_junit

    return render_junit(data)


def test_junit_survives_control_characters() -> None:
    data = planted()
    assert data.summary is not None
    data.summary.cases[0].output_excerpt = "bad \x00\x1b chars"
    ET.fromstring(render_junit_text(data))  # parses: control characters were replaced


def test_several_formats_in_one_run(make_project, run_cli, fake_server, tmp_path: Path) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    result = run_cli("test", "--format", "json,markdown,junit", "-o", str(tmp_path / "report"))
    assert result.exit_code == 1
    assert "FAILED" in result.output  # the text report still prints
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "failed"
    assert (tmp_path / "report.md").read_text().startswith(MARKER)
    ET.fromstring((tmp_path / "report.xml").read_text())
    bad = run_cli("test", "--format", "json,pdf", "-o", str(tmp_path / "x"))
    assert bad.exit_code == 2 and "unknown report format 'pdf'" in bad.output
    assert run_cli("test", "--format", "json,markdown").exit_code == 2  # several formats need -o


def test_report_command_renders_a_saved_run(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    run_cli("test")
    markdown = run_cli("report", "latest", "--format", "markdown")
    assert markdown.exit_code == 1 and markdown.stdout.startswith(MARKER)
    assert "Escalations" in markdown.stdout
    junit = run_cli("report", "latest", "--format", "junit")
    assert ET.fromstring(junit.stdout).get("failures") == "1"
    assert run_cli("report", "nope").exit_code == 2


def test_junit_of_a_run_is_written_a_suite_at_a_time_as_the_whole_tree_would_be() -> None:
    from promptops.reports.junit import junit_chunks

    results = [
        sample(f"case-{i:02d}", i % 3 != 0, "bug\x01", suite=f"suite-{i % 2}", model=f"m{i % 3}")
        for i in range(30)
    ]
    results.append(sample("slow", None, error="Timeout", suite="suite-0", model="m0"))
    data = ReportData(summary=summarize(meta("r1"), results))
    chunks = list(junit_chunks(data))
    assert len(chunks) == 2 + 6  # the opening, one per suite and model, the closing
    text = "".join(chunks)
    root = ET.fromstring(text)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("31", "10", "1")
    assert [s.get("name") for s in root.iter("testsuite")] == [
        f"suite-{s} [m{m}]" for s in (0, 1) for m in (0, 1, 2)
    ]
    assert sum(int(s.get("tests") or 0) for s in root.iter("testsuite")) == 31
    # laid out exactly as indenting the whole tree at once would
    ET.indent(root)
    assert text == '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def test_drift_json_report_is_the_drift_report_between_kind_and_escalation() -> None:
    from promptops.drift import compare_results
    from promptops.escalation import escalate_drift
    from promptops.reports import render_json

    base = [sample(f"c{i}", True, "refund \u00e9", gap="skill") for i in range(12)]
    cand = [sample(f"c{i}", i % 4 != 0, 'bug "x"\n1e-05') for i in range(12)]
    drift = compare_results(meta("a"), base, meta("b"), cand)
    escalation = escalate_drift(None, drift, None)
    for given in (None, escalation):
        report = json.loads(render_json(ReportData(drift=drift, escalation=given)))
        assert list(report)[0] == "kind" and report.pop("kind") == "drift"
        expected_escalation = given.model_dump(mode="json") if given is not None else None
        assert list(report)[-1] == "escalation" and report.pop("escalation") == expected_escalation
        assert report == drift.model_dump(mode="json")
