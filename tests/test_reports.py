"""Markdown, JUnit and the GitHub comment upsert on planted runs, against a fake GitHub API."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fake_github import FakeGitHub

from promptops.reports import ReportData
from promptops.reports.markdown import MARKER, render_markdown
from promptops.results import (
    AssertionOutcome,
    CaseVerdict,
    GroupSummary,
    RunMeta,
    RunSummary,
    SuitePlan,
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


# --- GitHub ------------------------------------------------------------------------------------


@pytest.fixture
def github_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeGitHub() as api:
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": 7}}))
        monkeypatch.setenv("GITHUB_API_URL", api.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_test_token")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
        yield api


def test_comment_is_created_then_updated_never_duplicated(
    make_project, run_cli, fake_server, github_env
) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    github_env.state.add(7, "an unrelated human comment")
    run_cli("test")
    first = run_cli("github", "comment", "latest")
    assert first.exit_code == 0, first.output
    assert "created comment" in first.output
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    run_cli("test", "--no-cache")
    second = run_cli("github", "comment", "latest")
    assert "updated comment" in second.output
    ours = [c for c in github_env.state.on_issue(7) if MARKER in c["body"]]
    assert len(ours) == 1 and len(github_env.state.on_issue(7)) == 2
    assert "✅ promptops test: 2 passed" in ours[0]["body"]
    assert set(github_env.state.tokens) == {"Bearer ghs_test_token"}


def test_comment_found_beyond_the_first_page(make_project, run_cli, fake_server, github_env) -> None:
    make_project()
    for i in range(120):
        github_env.state.add(7, f"chatter {i}")
    github_env.state.add(7, MARKER + "\nold report")
    run_cli("test")
    assert "updated comment" in run_cli("github", "comment", "latest").output
    assert len([c for c in github_env.state.on_issue(7) if MARKER in c["body"]]) == 1


def test_annotations_and_step_summary(make_project, run_cli, fake_server, github_env, tmp_path) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    run_cli("test")
    result = run_cli("github", "comment", "latest", "--summary", "--no-comment")
    assert (
        "::error file=suites/triage.yaml,line=9,title=promptops triage%3A%3Acrash [fake]::"
        "equals: expected 'bug'" in (result.output)
    )
    summary = (tmp_path / "summary.md").read_text()
    assert "promptops test: 1 passed, 1 failed" in summary and MARKER not in summary
    assert not github_env.state.requests  # --no-comment: no API call


def test_fork_read_only_token_is_a_clear_error(make_project, run_cli, fake_server, github_env) -> None:
    make_project()
    run_cli("test")
    github_env.state.refuse_writes = 403
    result = run_cli("github", "comment", "latest")
    assert result.exit_code == 3
    assert "answered 403" in result.output and "forks get a read-only token" in result.output


def test_comment_outside_a_pull_request(make_project, run_cli, monkeypatch, github_env) -> None:
    make_project()
    run_cli("test")
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    result = run_cli("github", "comment", "latest")
    assert result.exit_code == 2 and "not a pull-request run" in result.output
    monkeypatch.delenv("GITHUB_TOKEN")
    assert "no GITHUB_TOKEN" in run_cli("github", "comment", "latest", "--pr", "7").output
