"""A simulated pull request, run through the composite action's own step scripts against a fake GitHub API.

A scratch git repository gets a base commit on ``main`` and a branch that rewords the triage prompt without
bumping its version and adds a case (which the base prompt fails too: ``--base-ref`` runs the pull request's
suites with the prompts of both sides). The action's lint, test, comment and verdict steps run as bash with
the environment GitHub Actions gives them; the fake provider answers per ticket, and the reworded prompt
turns one passing answer into a wrong one. The comment, the annotations, the job summary and the JUnit
report are then checked against what a reviewer needs, and the comment's Markdown is rendered to HTML and
loaded in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FAKE_KEY_ENV, TONE_PARTIAL, config_text
from fake_github import FakeGitHub
from fake_openai import FakeOpenAIServer

from promptops.reports.markdown import MARKER

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / ".github/actions/promptops/action.yml").read_text())
CHROMIUM = Path("/usr/bin/chromium")
REPO = "acme/support"
ARTIFACT_URL = "https://github.com/acme/support/actions/runs/42/artifacts/4242"

BASE_PROMPT = """\
---
version: 1.0.0
description: Classify a support ticket into one label
params: {max_tokens: 16}
inputs:
  ticket: {required: true}
---
{% role "system" %}
Reply with exactly one word from: refund, bug, question.
{% include "_partials/tone.j2" %}
{% endrole %}
{% role "user" %}{{ ticket }}{% endrole %}
"""
# reworded, version not bumped: a lint error, and the model now files double charges as billing
HEAD_PROMPT = BASE_PROMPT.replace("Reply with exactly one word", "Answer with a single label, chosen")

BASE_SUITE = """\
prompt: support/triage
description: Triage labels
cases:
  - id: refund-basic
    vars: {ticket: "I was charged twice, please give my money back"}
    gap: skill
    assert:
      - {type: equals, value: refund}
  - id: crash
    vars: {ticket: "The app crashes when I open settings"}
    assert:
      - {type: equals, value: bug}
  - id: password
    vars: {ticket: "How do I change my password?"}
    assert:
      - {type: equals, value: question}
"""
HEAD_SUITE = (
    BASE_SUITE
    + """\
  - id: blank-screen
    vars: {ticket: "The screen stays blank after login"}
    assert:
      - {type: equals, value: bug}
"""
)


def triage_answers(messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
    """Right on refunds (unless reworded) and passwords, wrong on crashes and blank screens."""
    system = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    ticket = str(messages[-1].get("content", ""))
    if "charged twice" in ticket:
        return "billing" if "single label" in system else "refund"
    if "password" in ticket:
        return "question"
    return "question"  # crashes and blank screens: the wrong label on both sides


def _line_of(text: str, case_id: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if f"id: {case_id}" in line)


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


class ActionRunner:
    """Runs the composite action's ``run:`` steps as GitHub Actions would: env from expressions, bash."""

    def __init__(self, workdir: Path, env: dict[str, str], inputs: dict[str, str], extra: dict[str, str]):
        self.workdir = workdir
        self.env = env
        defaults = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
        self.context = {f"inputs.{k}": v for k, v in {**defaults, **inputs}.items()} | extra
        self.outputs: dict[str, dict[str, str]] = {}

    def _expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1).strip()
            if expression.startswith("steps."):
                _, step, _, name = expression.split(".", 3)
                return self.outputs.get(step, {}).get(name, "")
            if expression not in self.context:
                raise AssertionError(f"the test does not know the expression {expression!r}")
            return self.context[expression]

        return re.sub(r"\$\{\{(.+?)\}\}", value, text)

    def run(self, key: str) -> subprocess.CompletedProcess[str]:
        step = next(s for s in ACTION["runs"]["steps"] if key in (s.get("id"), s.get("name")))
        output = self.workdir / f".github-output-{key}"
        output.write_text("")
        env = {**self.env, "GITHUB_OUTPUT": str(output)}
        env.update({name: self._expand(str(value)) for name, value in (step.get("env") or {}).items()})
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        pairs = (line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        self.outputs[step.get("id") or key] = dict(pairs)
        return done


@pytest.fixture
def pull_request(tmp_path: Path, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch):
    """A scratch repository with a base commit on main and a pull-request branch checked out."""
    fake_server.state.default_answer = triage_answers
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(
        repo,
        {
            ".gitignore": ".promptops/\npromptops-report/\n.github-output-*\n",
            "promptops.yaml": config_text(fake_server.api_base),
            "prompts/support/triage.j2": BASE_PROMPT,
            "prompts/_partials/tone.j2": TONE_PARTIAL,
            "suites/triage.yaml": BASE_SUITE,
        },
    )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "triage prompt and suite")
    # what `actions/checkout` with fetch-depth: 0 leaves: the base branch as a remote-tracking ref
    _git(repo, "update-ref", "refs/remotes/origin/main", "main")
    _git(repo, "checkout", "-q", "-b", "reword-triage")
    _write(repo, {"prompts/support/triage.j2": HEAD_PROMPT, "suites/triage.yaml": HEAD_SUITE})
    _git(repo, "commit", "-q", "-am", "reword the triage instruction; a case for blank screens")
    head = _git(repo, "rev-parse", "HEAD")

    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "promptops").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m promptops "$@"\n')
    (shims / "promptops").chmod(0o755)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7, "head": {"sha": head}}}))
    summary = tmp_path / "step-summary.md"
    github = FakeGitHub().__enter__()
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        FAKE_KEY_ENV: "sk-test-not-a-real-key",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_SHA": "0" * 40,  # the merge commit of a pull-request run; links must use the head instead
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_JOB": "promptops",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
    }
    env.pop("CI", None)
    runner = ActionRunner(
        repo,
        env,
        {"base-ref": "main", "replay": "false"},
        {"github.token": "ghs_test_token", "github.event_name": "pull_request"},
    )
    runner.outputs["upload"] = {"artifact-url": ARTIFACT_URL}
    try:
        yield runner, github, head, summary
    finally:
        github.__exit__(None, None, None)


def _run_action(runner: ActionRunner) -> dict[str, subprocess.CompletedProcess[str]]:
    done = {}
    for key in ("lint", "test", "artifact", "Comment, annotations and job summary", "Verdict"):
        done[key] = runner.run(key)
    return done


def test_pull_request_gets_comment_annotations_summary_and_junit(pull_request) -> None:
    runner, github, head, summary = pull_request
    done = _run_action(runner)
    assert runner.outputs["lint"]["exit-code"] == "1", done["lint"].stdout + done["lint"].stderr
    assert runner.outputs["test"]["exit-code"] == "1", done["test"].stdout + done["test"].stderr
    comment_step = done["Comment, annotations and job summary"]
    assert comment_step.returncode == 0, comment_step.stderr
    assert "created comment" in comment_step.stderr
    assert done["Verdict"].returncode == 1
    assert runner.outputs["artifact"]["name"].startswith("promptops-report-promptops-")

    comments = github.state.on_issue(7)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert body.startswith(MARKER) and len(body) <= 65_536

    # the verdict line: what the change introduced, apart from what the base already failed
    verdict = body.splitlines()[1]
    assert verdict.startswith("## ❌ promptops: 1 introduced by this change, 2 already failing on the base")
    assert "lint: 1 error, 0 warnings" in verdict
    assert f"[HTML report]({ARTIFACT_URL})" in body

    # lint: the missing version bump is a section of the comment, linked to the prompt's version line
    blob = f"https://github.com/{REPO}/blob/{head}/"
    assert f"[`prompts/support/triage.j2:2`]({blob}prompts/support/triage.j2#L2)" in body
    assert "prompt text changed since origin/main but version is still 1.0.0" in body

    # prompt versions, and the diff collapsed
    assert "| support/triage | `1.0.0` | `1.0.0` ⚠️ not bumped |" in body
    diff_block = body[body.index("<details><summary>Diff of <code>support/triage</code>") :]
    diff_block = diff_block[: diff_block.index("</details>")]
    assert "-Reply with exactly one word from: refund, bug, question." in diff_block
    assert "+Answer with a single label, chosen from: refund, bug, question." in diff_block

    # introduced before already failing, which is collapsed; each case linked to its suite line at the head
    introduced = body.index("### Introduced by this change (1)")
    already = body.index("<details><summary><b>Already failing on the base (2)</b></summary>")
    assert introduced < already
    for case in ("refund-basic", "blank-screen", "crash"):
        line = _line_of(HEAD_SUITE, case)
        assert f"[`suites/triage.yaml:{line}`]({blob}suites/triage.yaml#L{line})" in body, case
    escalations = body.index("### Escalations")
    assert introduced < escalations < already
    introduced_text = body[introduced:escalations]
    assert "triage::refund-basic" in introduced_text and "expected 'refund', got 'billing'" in introduced_text
    assert "triage::crash" not in introduced_text and "triage::blank-screen" not in introduced_text

    # escalations: those about what the change introduced come first
    first = body[escalations:].split("\n- ", 1)[1]
    assert first.startswith("🆕 introduced by this change")

    # annotations on the prompt line and the suite lines
    annotations = [line for line in comment_step.stdout.splitlines() if line.startswith("::")]
    refund_line = _line_of(HEAD_SUITE, "refund-basic")
    assert any(
        a.startswith(f"::error file=suites/triage.yaml,line={refund_line},title=promptops regression")
        for a in annotations
    ), annotations
    lint_annotation = "::error file=prompts/support/triage.j2,line=2,title=promptops lint::"
    assert any(a.startswith(lint_annotation) for a in annotations)
    for case in ("crash", "blank-screen"):
        assert any(
            a.startswith(f"::warning file=suites/triage.yaml,line={_line_of(HEAD_SUITE, case)},")
            and "already failing" in a
            for a in annotations
        ), case

    # the job summary holds the same report
    assert summary.read_text(encoding="utf-8").strip() == body.replace(MARKER, "").strip()

    # JUnit: the candidate's four verdicts only, the baseline's in properties, real durations
    junit = ET.parse(runner.workdir / "promptops-report/report.xml").getroot()
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("4", "3", "0")
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert set(cases) == {f"{c} [fake]" for c in ("refund-basic", "crash", "password", "blank-screen")}
    props = {p.get("name"): p.get("value") for p in cases["refund-basic [fake]"].iter("property")}
    assert props["baseline.verdict"] == "passed" and props["drift.status"] == "regression"
    assert all(float(c.get("time") or 0) > 0 for c in cases.values())

    # a second push updates the one comment
    again = runner.run("Comment, annotations and job summary")
    assert "updated comment" in again.stderr
    assert len(github.state.on_issue(7)) == 1


def test_lint_errors_still_comment_when_the_test_step_writes_no_report(pull_request) -> None:
    runner, github, head, _ = pull_request
    (runner.workdir / "suites/broken.yaml").write_text("prompt: support/triage\ncases: [{id: x, vars: 3}]\n")
    done = _run_action(runner)
    assert runner.outputs["test"]["exit-code"] == "2"
    assert not (runner.workdir / "promptops-report/report.json").exists()
    assert done["Verdict"].returncode == 2
    body = github.state.on_issue(7)[0]["body"]
    assert body.splitlines()[1].startswith("## ❌ promptops: lint: ")
    assert "no test verdict" in body and "suites/broken.yaml" in body
    stdout = done["Comment, annotations and job summary"].stdout
    assert "::error file=suites/broken.yaml" in stdout


def _markdown_to_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    # GitHub's comment flavour: CommonMark, tables, and the raw <details> blocks
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>comment</title></head><body>'
        + renderer.render(markdown)
        + "</body></html>"
    )


def _browser_missing() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import markdown_it  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is missing (pip install -e '.[dev]')"
    return None


@pytest.mark.browser
@pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")
def test_comment_markdown_renders_in_headless_chromium(pull_request, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    runner, github, head, _ = pull_request
    _run_action(runner)
    body = github.state.on_issue(7)[0]["body"]
    page_file = tmp_path / "comment.html"
    page_file.write_text(_markdown_to_html(body), encoding="utf-8")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            assert page.locator("h2").first.inner_text().startswith("❌ promptops: 1 introduced")
            # tables render as tables (the prompt table and the suite totals), not as pipe-text
            assert page.locator("table").count() >= 2
            assert "| ---" not in page.locator("body").inner_text()
            headers = page.locator("table").first.locator("th").all_inner_texts()
            assert headers == ["prompt", "base", "this change", "file"]
            # collapsed sections: the diff and what the base already failed start closed
            summaries = page.locator("details > summary").all_inner_texts()
            assert any(s.startswith("Diff of support/triage") for s in summaries)
            assert "Already failing on the base (2)" in summaries
            assert not page.locator("details").first.evaluate("d => d.open")
            diff = page.locator("details").first.locator("pre code")
            assert not diff.is_visible()
            page.locator("details > summary").first.click()
            assert diff.is_visible() and "+Answer with a single label" in diff.inner_text()
            # the case and artifact links are real anchors to the head commit's suite lines
            hrefs = page.locator("a").evaluate_all("links => links.map(a => a.href)")
            blob = f"https://github.com/{REPO}/blob/{head}/suites/triage.yaml#L"
            assert {f"{blob}{_line_of(HEAD_SUITE, c)}" for c in ("refund-basic", "crash")} <= set(hrefs)
            assert ARTIFACT_URL in hrefs
            # no Markdown leaks through as literal syntax
            text = page.locator("body").inner_text()
            assert "**" not in text and "](" not in text and "```" not in text
        finally:
            browser.close()


def test_fenced_text_survives_backticks() -> None:
    from promptops.reports.markdown import _fence

    block = _fence("a ``` b", "diff")
    assert block.startswith("````diff\n") and block.endswith("\n````")
    assert textwrap.dedent(block).count("````") == 2
