"""The HTML report: self-contained, escaped, complete, and working in a real (headless) browser."""

from __future__ import annotations

import html
import json
import os
import random
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from promptops.drift import DriftReport, compare_results, compare_runs
from promptops.escalation import EscalationReport, escalate_drift, escalate_run
from promptops.reports import ReportData, render_report
from promptops.reports.html import CONTENT_SECURITY_POLICY, MAX_TABLE_ROWS, render_html
from promptops.results import (
    AssertionOutcome,
    ErrorInfo,
    RunMeta,
    RunSummary,
    RunWriter,
    SampleResult,
    SavedRun,
    summarize,
)

SCRIPT = "<script>alert(1)</script>"
CHROMIUM = Path("/usr/bin/chromium")

# --- planted runs -------------------------------------------------------------------------------


def meta(run_id: str, models: dict[str, str] | None = None, planned: int = 0) -> RunMeta:
    return RunMeta(
        run_id=run_id,
        started_at="2025-03-01T10:15:00+00:00",
        promptops_version="0.1.0",
        project_root=".",
        models=models or {},
        planned_calls=planned,
    )


def sample(
    suite: str,
    case: str,
    model: str,
    index: int,
    output: str | None,
    passed: bool | None,
    *,
    assertion: str = "equals",
    reason: str = "expected 'refund', got 'bug'",
    line: int | None = None,
    latency_ms: float = 120.0,
    error: str | None = None,
    gap: str | None = None,
) -> SampleResult:
    """One sample; ``error`` makes it a failed call without output."""
    prompt = "support/triage" if suite == "triage" else "extract/order"
    common: dict[str, Any] = dict(
        suite=suite,
        case=case,
        model=model,
        model_id=f"local/{model}",
        sample=index,
        prompt=prompt,
        prompt_version="1.2.0",
        prompt_fingerprint=("a" if model == "smollm" else "b") * 16,
        line=line,
        gap=gap,
    )
    if error is not None:
        return SampleResult(
            **common, error=ErrorInfo(type=error, message=f"{error} after 4 attempts", status_code=503)
        )
    outcome = AssertionOutcome(
        type=assertion, passed=bool(passed), score=float(bool(passed)), reason="ok" if passed else reason
    )
    return SampleResult(
        **common,
        output=output,
        passed=passed,
        score=float(bool(passed)),
        assertions=[outcome],
        latency_ms=latency_ms,
        prompt_tokens=40,
        completion_tokens=8,
        cost_usd=0.0,
    )


def side(model: str, rng: random.Random, slow: float) -> list[SampleResult]:
    """Five samples per case of two suites; the candidate (``gemma``) regresses, fixes and drifts."""
    candidate = model == "gemma"
    out: list[SampleResult] = []

    def case(suite: str, name: str, line: int, passes: int, output: str, failing: str, **kw: Any) -> None:
        kw.setdefault("reason", f"expected {output!r}, got {failing!r}")
        for i in range(5):
            ok = i < passes
            out.append(
                sample(
                    suite,
                    name,
                    model,
                    i,
                    output if ok else failing,
                    ok,
                    line=line,
                    latency_ms=rng.lognormvariate(0, 0.35) * slow,
                    **kw,
                )
            )

    case("triage", "refund-basic", 8, 5 if not candidate else 0, "refund", "bug", gap="skill")
    case("triage", "crash-report", 14, 5, "bug", "question")
    case("triage", "angry-refund", 20, 0 if not candidate else 5, "refund", "question")
    case("triage", "mixed-intent", 26, 5 if not candidate else 4, "refund", "question")
    case(
        "triage",
        "escaped-output",
        32,
        5 if not candidate else 0,
        "question",
        f'I cannot help. {SCRIPT} <b>bold</b> & "quotes"',
        assertion="one-of",
        reason=f"output {SCRIPT!r} is not one of refund, bug, question",
    )
    case(
        "triage",
        "capital",
        38,
        5 if not candidate else 0,
        "Paris is the capital of France.",
        "The capital of France is Lyon.",
        assertion="icontains",
        reason="'Paris' not found in output",
    )
    base_json = '{"order_id": 1042, "items": [{"sku": "A-1", "qty": 2}], "currency": "EUR"}'
    cand_json = '{"order_id": "1042", "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}'
    case("extract", "order-json", 5, 5, cand_json if candidate else base_json, "{}", assertion="is-json")
    base_text = "Dear customer,\nthank you for your order.\nIt ships on Monday.\nKind regards"
    cand_text = "Hi!\nThanks a lot for ordering with us.\nYour parcel leaves the warehouse Tuesday.\nCheers"
    case("extract", "confirmation-mail", 11, 5, cand_text if candidate else base_text, "")
    if candidate:
        for i in range(5):
            out.append(
                sample("extract", "timeout-case", model, i, None, None, line=17, error="ServiceUnavailable")
            )
        case("extract", "new-case", 23, 5, "ok", "bad")
    else:
        case("extract", "timeout-case", 17, 5, "ok", "bad")
        case("extract", "dropped-case", 29, 5, "ok", "bad")
    return out


def planted_drift() -> tuple[DriftReport, list[SampleResult]]:
    """A model upgrade (smollm → gemma) with every drift status, and the candidate's results."""
    rng = random.Random(7)
    base = side("smollm", rng, 180.0)
    cand = side("gemma", rng, 420.0)
    report = compare_results(
        meta("20250301-101500-aaaaaa", {"smollm": "local/smollm"}),
        base,
        meta("20250301-102000-bbbbbb", {"gemma": "local/gemma"}),
        cand,
    )
    return report, cand


def planted_run() -> tuple[RunSummary, RunMeta, list[SampleResult]]:
    """The candidate side as a plain test run."""
    results = side("gemma", random.Random(3), 420.0)
    run_meta = meta("20250301-102000-bbbbbb", {"gemma": "local/gemma"}, planned=len(results))
    return summarize(run_meta, results, duration_s=12.5), run_meta, results


def drift_data(with_escalation: bool = True) -> ReportData:
    report, cand = planted_drift()
    escalation = escalate_drift(None, report) if with_escalation else None
    return ReportData(drift=report, escalation=escalation)


LONG_OUTPUT = "x" * 400 + "\n" + "an answer that runs on " * 40
LONG_REASON = "expected " + "y" * 200 + " but the output was something else entirely"


def _stretched(item: Any) -> dict[str, Any]:
    """Long names, a long unbroken output and a long reason, for a case or one side of it."""
    update: dict[str, Any] = {"output_excerpt": LONG_OUTPUT}
    if item.failed_assertions:
        update["failed_assertions"] = [
            AssertionOutcome(type="json-schema", passed=False, score=0.0, reason=LONG_REASON)
        ]
    return update


def stretched_pages() -> dict[str, ReportData]:
    """The planted drift and run with what widens a table: long suite, case and model names and outputs."""
    report, _ = planted_drift()
    cases = []
    for case in report.cases:
        update: dict[str, Any] = {
            "suite": "customer-support-triage-regressions",
            "case": f"{case.case}-with-an-identifier-that-goes-on-and-on",
            "baseline_model": case.baseline_model and "openai/gpt-4o-2024-08-06-with-a-long-alias",
            "candidate_model": case.candidate_model and "anthropic/claude-3-5-sonnet-20241022",
        }
        for name in ("baseline", "candidate"):
            side_ = getattr(case, name)
            if side_ is not None:
                update[name] = side_.model_copy(update=_stretched(side_))
        cases.append(case.model_copy(update=update))
    run_summary, run_meta, results = planted_run()
    verdicts = [
        verdict.model_copy(
            update={
                "suite": "customer-support-triage-regressions",
                "case": f"{verdict.case}-with-an-identifier-that-goes-on-and-on",
                "model": "openai/gpt-4o-2024-08-06-with-a-long-alias",
                **_stretched(verdict),
            }
        )
        for verdict in run_summary.cases
    ]
    return {
        "drift": ReportData(drift=report),
        "stretched drift": ReportData(drift=report.model_copy(update={"cases": cases})),
        "test run": ReportData(summary=run_summary, meta=run_meta, results=results),
        "stretched test run": ReportData(summary=run_summary.model_copy(update={"cases": verdicts})),
    }


# --- HTML checks --------------------------------------------------------------------------------


class _Elements(HTMLParser):
    """Start tags with their attributes, and the text of script elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    return parser


def assert_self_contained(page: str) -> None:
    elements = parse(page)
    names = [tag for tag, _ in elements.tags]
    assert "link" not in names and "iframe" not in names and "img" not in names and "object" not in names
    assert names.count("script") == 1, "one inline script, no other"
    for tag, attrs in elements.tags:
        assert "src" not in attrs, f"<{tag}> loads {attrs['src']}"
        href = attrs.get("href")
        assert href is None or href.startswith("#"), f"<{tag}> links to {href}"
        assert not any(name.startswith("on") for name in attrs), f"<{tag}> has an inline event handler"
    assert "url(" not in page
    assert "@import" not in page
    assert not re.search(r"https?://", page), "the planted data holds no URL, so the page must hold none"


# --- unit tests ---------------------------------------------------------------------------------


def test_drift_report_is_self_contained_and_strict() -> None:
    page = render_html(drift_data())
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy is not None and policy.group(1) == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"].startswith("'sha256-") and directives["style-src"].startswith("'sha256-")
    assert "http" not in CONTENT_SECURITY_POLICY


def test_outputs_and_reasons_are_escaped() -> None:
    page = render_html(drift_data())
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&amp; &quot;quotes&quot;" in page
    # the reason quotes the output too, through repr
    assert "output &#x27;I cannot help." in page or "&#x27;&lt;script&gt;" in page
    run_summary, run_meta, results = planted_run()
    test_page = render_html(ReportData(summary=run_summary, meta=run_meta, results=results))
    assert SCRIPT not in test_page and "&lt;script&gt;alert(1)&lt;/script&gt;" in test_page


def test_escaping_covers_names_and_labels() -> None:
    report, _ = planted_drift()
    hostile = report.model_copy(update={"baseline_label": SCRIPT, "candidate_label": '"><img src=x>'})
    page = render_html(ReportData(drift=hostile))
    assert SCRIPT not in page and "<img" not in page
    assert_self_contained(page)


def test_drift_page_shows_statuses_rates_diffs_and_escalations() -> None:
    data = drift_data()
    page = render_html(data)
    assert data.drift is not None and data.escalation is not None
    assert "Regressed" in page and "smollm → gemma" in page
    for run_id in ("20250301-101500-aaaaaa", "20250301-102000-bbbbbb"):
        assert run_id in page
    assert "2025-03-01 10:20 UTC" in page, "the date comes from the candidate's run id"
    for suite in ("triage", "extract"):
        assert suite in page
    statuses = re.findall(r'<tr data-status="([a-z]+)"', page)
    assert len(statuses) == len(data.drift.cases)
    assert set(statuses) == {
        "regression",
        "fix",
        "changed",
        "unchanged",
        "flaky",
        "error",
        "added",
        "removed",
    }
    assert statuses[0] == "regression", "problems come first"
    # rates and the p-value of the refund-basic regression (5/5 → 0/5: Fisher one-sided = 1/252)
    assert '100% <span class="sub">5/5</span> → 0% <span class="sub">0/5</span>' in page
    assert f"{1 / 252:.3g}" in page
    # JSON diff of order-json: a type change, an added item and a removed key
    assert "$.order_id" in page and "$.items[1]" in page and "$.currency" in page
    # unified text diff of confirmation-mail
    assert '<span class="add">+Hi!</span>' in page and '<span class="del">-Dear customer,</span>' in page
    # side-by-side panels for drifted cases, linked from the table
    drifted = data.drift.with_status("regression", "fix", "changed", "flaky", "error")
    assert page.count('<div class="sides">') == len(drifted)
    assert 'href="#case-' in page
    # escalation: gap → technique, rationale, next steps
    assert 'id="escalations"' in page
    for item in data.escalation.escalations:
        assert item.technique in page
        assert html.escape(item.rationale) in page
        for step in item.next_steps:
            assert html.escape(step) in page
    assert data.escalation.escalations, "the planted regressions lead to at least one suggestion"


def test_drift_page_has_svg_charts() -> None:
    page = render_html(drift_data())
    assert page.count("<svg") == 2
    assert 'aria-label="Pass rate per suite: baseline and candidate"' in page
    assert 'aria-label="Latency p50 and p95 per suite: baseline and candidate"' in page
    assert 'class="f-base"' in page and 'class="f-cand"' in page
    assert re.search(r'class="d-bad">−\d+ pts</text>', page), "the triage suite's drop is shown in red"


def test_drift_with_candidate_results_draws_a_histogram() -> None:
    report, cand = planted_drift()
    page = render_html(ReportData(drift=report, results=cand))
    assert 'aria-label="Latency distribution per model"' in page
    assert page.count('class="f-hist"') >= 3


def test_test_run_page() -> None:
    run_summary, run_meta, results = planted_run()
    escalation = escalate_run(None, run_meta, run_summary, results)
    page = render_html(ReportData(summary=run_summary, meta=run_meta, results=results, escalation=escalation))
    assert_self_contained(page)
    assert "Failed" in page and "Test run" in page and "20250301-102000-bbbbbb" in page
    assert "2025-03-01 10:15 UTC" in page and "gemma (local/gemma)" in page
    rows = re.findall(r'<tr data-status="([a-z]+)"', page)
    assert len(rows) == len(run_summary.cases)
    assert rows[0] == "failed" and set(rows) == {"passed", "failed", "error"}
    assert 'aria-label="Pass rate per suite and model"' in page
    assert 'aria-label="Latency distribution per model"' in page
    assert "ServiceUnavailable (503)" in page
    assert "&#x27;Paris&#x27; not found in output" in page
    assert 'id="outputs"' not in page, "a test run has no baseline to compare with"
    assert 'id="escalations"' in page


def test_summary_only_and_without_escalation() -> None:
    run_summary, _, _ = planted_run()
    page = render_html(ReportData(summary=run_summary))
    assert_self_contained(page)
    assert "No sample results given" in page
    assert 'id="escalations"' not in page
    # one chart (no histogram without sample results): per suite, a bar for each of passed, failed
    # and errored cases, as wide as its share of the plot, and the pass rate beside it
    charts = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(charts) == 1 and 'aria-label="Pass rate per suite and model"' in charts[0]
    bars = re.findall(r'<rect [^>]*width="([\d.]+)"[^>]*><title>([^<]*)</title></rect>', charts[0])
    expected = [
        (f"{group.suite} · {group.model}: {count} {word}", count / group.cases)
        for group in run_summary.groups
        for count, word in ((group.passed, "passed"), (group.failed, "failed"), (group.errors, "errors"))
        if count
    ]
    assert [html.unescape(tip) for _, tip in bars] == [tip for tip, _ in expected]
    plot_width = float(bars[0][0]) / expected[0][1]
    for (width, _), (_, share) in zip(bars, expected, strict=True):
        assert float(width) == pytest.approx(plot_width * share, abs=0.06)
    for group in run_summary.groups:
        assert f'class="value">{group.pass_rate:.0%}</text>' in charts[0]
        assert f">{group.passed}/{group.passed + group.failed} cases" in charts[0]


def test_drift_with_candidate_summary_shows_both_verdicts() -> None:
    report, cand = planted_drift()
    run_summary, run_meta, _ = planted_run()
    page = render_html(ReportData(drift=report, summary=run_summary, meta=run_meta))
    assert "Regressed" in page and "candidate tests" in page and "failed:" in page


def test_empty_inputs_render() -> None:
    empty_run = summarize(meta("20250301-000000-cccccc"), [])
    nothing = EscalationReport(source="x", cases=[], escalations=[])
    for data in (
        ReportData(),
        ReportData(summary=empty_run, results=[]),
        ReportData(summary=empty_run, escalation=nothing),
    ):
        page = render_html(data)
        assert_self_contained(page)
        assert page.rstrip().endswith("</html>")
    assert "No cases ran." in render_html(ReportData(summary=empty_run))
    assert "nothing to escalate" in render_html(ReportData(summary=empty_run, escalation=nothing))
    assert "This report holds no run." in render_html(ReportData())


def test_table_is_capped() -> None:
    results = [sample("big", f"case-{i:05d}", "m", 0, "bug", i % 3 != 0) for i in range(MAX_TABLE_ROWS + 25)]
    run_summary = summarize(meta("20250301-000000-dddddd", planned=len(results)), results)
    page = render_html(ReportData(summary=run_summary))
    assert len(re.findall(r'<tr data-status="', page)) == MAX_TABLE_ROWS
    assert f"Showing the first {MAX_TABLE_ROWS:,} of {MAX_TABLE_ROWS + 25:,} cases" in page
    # failures are never the ones cut
    assert page.count('<tr data-status="failed"') == sum(1 for r in results if not r.passed)


def test_render_report_html_from_saved_runs(tmp_path: Path) -> None:
    """The documented entry point, on run folders as the runner writes them."""
    rng = random.Random(11)
    runs = []
    sides = (("20250301-101500-aaaaaa", "smollm", 180.0), ("20250301-102000-bbbbbb", "gemma", 420.0))
    for run_id, model, slow in sides:
        results = side(model, rng, slow)
        run_meta = meta(run_id, {model: f"local/{model}"}, planned=len(results))
        writer = RunWriter(tmp_path / run_id, run_meta)
        for result in results:
            writer.append(result)
        writer.finish(summarize(run_meta, results))
        runs.append(SavedRun(tmp_path / run_id, run_meta))
    report = compare_runs(runs[0], runs[1])
    candidate = runs[1]
    data = ReportData(
        drift=report,
        summary=candidate.summary(),
        meta=candidate.meta,
        results=list(candidate.results()),
        escalation=escalate_drift(None, report),
    )
    page = render_report(data, "html")
    assert_self_contained(page)
    assert page.count('<tr data-status="') == len(report.cases)
    assert json.loads(render_report(data, "json"))["status"] == "regressed"


# --- headless browser ---------------------------------------------------------------------------


def _browser_missing() -> str | None:
    """Why the browser test cannot run here, or None. Playwright's own browser download is not used."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install playwright)"
    return None


BROWSER_MISSING = _browser_missing()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, shared by the browser tests of this module."""
    if BROWSER_MISSING is not None:
        pytest.skip(BROWSER_MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.browser
def test_page_in_headless_chromium(chromium: Any, tmp_path: Path) -> None:
    data = drift_data()
    assert data.drift is not None
    path = tmp_path / "report.html"
    path.write_text(render_html(data), encoding="utf-8")
    url = path.as_uri()
    requests: list[str] = []
    problems: list[str] = []
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    page.on("request", lambda request: requests.append(request.url))
    # a CSP violation (a blocked style or script) or a script error is logged to the console
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    page.wait_for_load_state("load")

    assert page.locator(".verdict").inner_text().strip() == "Regressed"
    rows = page.locator("#case-table tbody tr[data-status]")
    assert rows.count() == len(data.drift.cases)
    total = len(data.drift.cases)
    assert page.locator("#shown").inner_text() == f"{total} of {total} shown"
    assert page.locator("svg.chart").count() == 2
    # the hashed stylesheet applied: badges are pills, not plain inline text
    badge = page.locator("#case-table .badge").first
    radius = badge.evaluate("e => getComputedStyle(e).borderRadius")
    assert radius.endswith("px") and float(radius[:-2]) > 100
    # the escaped output is text on the page, and no script ran from it
    assert page.get_by_text(SCRIPT).count() > 0
    assert page.evaluate("() => document.querySelectorAll('script').length") == 1

    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    visible = page.locator("#case-table tbody tr[data-status]:visible")
    page.fill("#case-filter", "confirmation")
    assert visible.count() == 1
    assert page.locator("#shown").inner_text() == f"1 of {total} shown"
    # every word must match, anywhere in the row: suite, case, status, reason or output
    page.fill("#case-filter", "TRIAGE  'Paris'")
    assert visible.count() == 1 and "capital" in visible.first.inner_text()

    page.fill("#case-filter", "")
    page.select_option("#status-filter", "regression")
    assert visible.count() == data.drift.counts.regressions
    page.fill("#case-filter", "no-such-case")
    assert visible.count() == 0 and page.locator("#no-match").is_visible()

    # a header chip filters the table to its status
    page.fill("#case-filter", "")
    page.locator('a.chip[data-filter="fix"]').click()
    assert page.locator("#status-filter").input_value() == "fix"
    assert visible.count() == data.drift.counts.fixes

    # a case link opens its side-by-side panel
    page.select_option("#status-filter", "changed")
    page.locator("#case-table tr:visible a[href^='#case-']").first.click()
    assert page.locator("details.case:target").evaluate("d => d.open")
    page.click("#expand-all")
    assert page.locator("details.case:not([open])").count() == 0

    page.select_option("#status-filter", "")
    page.screenshot(path=str(tmp_path / "report-expanded.png"), full_page=True)

    assert requests and all(url_ == url or url_.startswith(url + "#") for url_ in requests), requests
    assert not problems, problems
    target = os.environ.get("PROMPTOPS_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for name in ("report.png", "report-expanded.png"):
            shutil.copy(tmp_path / name, Path(target) / name)


# Where the case table and its card's content box are, and any cell whose content spills out of it.
_TABLE_FIT = """() => {
  const table = document.querySelector('#case-table'), card = document.querySelector('#cases');
  const style = getComputedStyle(card), box = card.getBoundingClientRect();
  const cells = [...table.querySelectorAll('th, td, pre')];
  return {
    cardLeft: box.left + parseFloat(style.borderLeftWidth) + parseFloat(style.paddingLeft),
    cardRight: box.right - parseFloat(style.borderRightWidth) - parseFloat(style.paddingRight),
    tableLeft: table.getBoundingClientRect().left,
    tableRight: table.getBoundingClientRect().right,
    lastColumnRight: Math.max(...[...table.querySelectorAll('tr > :last-child')]
      .map(cell => cell.getBoundingClientRect().right)),
    hiddenByScroll: table.parentElement.scrollWidth - table.parentElement.clientWidth,
    spilling: cells.filter(cell => cell.scrollWidth > cell.clientWidth + 1)
      .map(cell => cell.outerHTML.slice(0, 120)),
  };
}"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1400])
def test_case_table_fits_its_card(chromium: Any, tmp_path: Path, width: int) -> None:
    """At laptop and desktop widths every column, the output included, shows without scrolling sideways."""
    page = chromium.new_page(viewport={"width": width, "height": 900})
    try:
        for name, data in stretched_pages().items():
            path = tmp_path / f"{name.replace(' ', '-')}.html"
            path.write_text(render_html(data), encoding="utf-8")
            page.goto(path.as_uri())
            fit = page.evaluate(_TABLE_FIT)
            assert fit["cardLeft"] - 0.5 <= fit["tableLeft"], (name, fit)
            assert fit["tableRight"] <= fit["cardRight"] + 0.5, (name, fit)
            assert fit["lastColumnRight"] <= fit["cardRight"] + 0.5, (name, fit)
            assert fit["hiddenByScroll"] == 0, (name, fit)
            assert fit["spilling"] == [], (name, fit)
    finally:
        page.close()
