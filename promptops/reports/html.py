"""The HTML report: one self-contained page for a test run, a drift comparison, or both.

The page must open from a CI artifact, a mail attachment or an air-gapped
machine, so everything is inline: the stylesheet ``templates/report.css``, a few
lines of vanilla JavaScript ``templates/report.js`` (table filters), and charts
drawn as SVG (``charts.py`` lays them out). Nothing is fetched: a strict
Content-Security-Policy forbids every source except the page's own style and
script, pinned by their SHA-256 hashes, so even markup that slipped through
escaping could not run a script or load a resource.

The markup lives in Jinja templates under ``templates/`` with autoescaping on:
every value that comes from a run (model outputs, case ids, reasons, labels)
is escaped, as outputs are arbitrary model text and may well contain
``<script>``. This module only chooses, orders and caps what the page shows.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from promptops import __version__
from promptops.assertions import GAPS
from promptops.reports import ReportData
from promptops.reports.charts import (
    Chart,
    NoChart,
    drift_latency_chart,
    drift_pass_rate_chart,
    latency_histogram,
    pass_rate_chart,
)
from promptops.reports.formatting import delta_tone, ms, pct, pts, usd
from promptops.results import GroupSummary, RunSummary

if TYPE_CHECKING:
    # drift (with numpy) and escalation load only for a report that shows them
    from promptops.drift import CaseDrift, CaseSide, DriftReport, SuiteDrift
    from promptops.escalation import EscalationReport

__all__ = ["CONTENT_SECURITY_POLICY", "render_html"]

MAX_TABLE_ROWS = 5000
"""Case table rows; beyond this the page is slow to filter and heavy to open (the JSON report has all)."""
MAX_DETAILS = 200
"""Side-by-side output comparisons shown for drifted cases."""
MAX_ESCALATIONS = 100
MAX_EVIDENCE = 12

# one colour family per status, so a status reads the same in badges, bars and chips
_TONE = {
    "passed": "ok",
    "fix": "ok",
    "failed": "bad",
    "regression": "bad",
    "error": "warn",
    "flaky": "warn",
    "changed": "info",
    "unchanged": "muted",
    "added": "muted",
    "removed": "muted",
}
# order in which a reviewer needs them: what broke first
_TEST_ORDER = ("failed", "error", "passed")
_DRIFT_ORDER = ("regression", "error", "flaky", "fix", "changed", "added", "removed", "unchanged")
_DETAIL_STATUSES = ("regression", "fix", "changed", "flaky", "error")
# a p-value answers "is this flip more than noise?"; for a case whose verdict held it only adds clutter
_FLIPS = ("regression", "fix", "flaky")
_DRIFT_VERDICTS = {
    "regressed": ("Regressed", "bad"),
    "ok": ("No regressions", "ok"),
    "error": ("Incomplete", "warn"),
}
_TEST_VERDICTS = {"passed": ("Passed", "ok"), "failed": ("Failed", "bad"), "error": ("Error", "warn")}
_CONFIDENCE_TONE = {"high": "ok", "medium": "info", "low": "muted"}
_TECHNIQUES = {
    "prompt-engineering": "prompt engineering",
    "rag": "RAG",
    "fine-tuning": "fine-tuning",
    "reliability-hardening": "reliability hardening",
    "model-change": "model change",
    "routing-caching": "routing and caching",
    "self-hosting": "self-hosting",
}
_DRIFT_COLUMNS = (
    "suite",
    "case",
    "model",
    "drift",
    "baseline → candidate",
    "p-value",
    "why it fails",
    "output (candidate)",
)
_TEST_COLUMNS = (
    "suite",
    "case",
    "model",
    "status",
    "pass rate",
    "failed assertions",
    "output (first failure)",
)
_NUMERIC_COLUMNS = ("pass rate", "p-value", "baseline → candidate")


# --- the page's own style and script ------------------------------------------------------------

_TEMPLATES = files("promptops.reports").joinpath("templates")
_CSS = _TEMPLATES.joinpath("report.css").read_text(encoding="utf-8").strip()
_JS = _TEMPLATES.joinpath("report.js").read_text(encoding="utf-8").strip()


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Only the page's own style and script, by hash: no network, no other script, no form posts, no frames.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_sha256(_CSS)}; script-src {_sha256(_JS)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)


# --- what the templates are given ---------------------------------------------------------------


@dataclass(frozen=True)
class _Chip:
    count: int
    word: str
    status: str
    """Status the chip filters the case table by."""

    @property
    def tone(self) -> str:
        return _TONE.get(self.status, "muted") if self.count else "none"


@dataclass(frozen=True)
class _Header:
    word: str
    tone: str
    kind: str
    title: str
    chips: list[_Chip]
    facts: list[tuple[str, str]]


@dataclass(frozen=True)
class _Overview:
    rate_chart: Chart | NoChart
    latency_title: str
    latency: Chart | NoChart
    groups: Sequence[GroupSummary] | None
    """The totals table of a test run; a drift report's table lists its suites instead."""


@dataclass(frozen=True)
class _CaseTable:
    drift: bool
    columns: Sequence[str]
    rows: list[Any]
    """``CaseVerdict`` rows of a test run, or ``(CaseDrift, anchor)`` pairs of a drift report."""
    options: list[tuple[str, int]]
    """Statuses present, in the order a reviewer needs them, with their counts."""
    total: int


@dataclass(frozen=True)
class _Detail:
    case: CaseDrift
    anchor: str
    open: bool
    facts: str


@dataclass(frozen=True)
class _Outputs:
    details: list[_Detail]
    drifted: int
    """Drifted cases in all, shown or not."""


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _when(iso: str | None) -> str | None:
    """An ISO timestamp as ``2025-03-01 10:15 UTC`` (the page is read across time zones)."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    offset = moment.utcoffset()
    zone = "" if offset is None else "UTC" if not offset else moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {zone}".rstrip()


_RUN_ID_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-")


def _run_id_date(run_id: str) -> str | None:
    """The start time encoded in a generated run id, for drift reports that carry no timestamps."""
    match = _RUN_ID_DATE.match(run_id)
    if not match:
        return None
    year, month, day, hour, minute = match.groups()
    return f"{year}-{month}-{day} {hour}:{minute} UTC"


def _drift_chips(report: DriftReport) -> list[_Chip]:
    counts = report.counts
    chips = [
        _Chip(counts.regressions, _plural(counts.regressions, "regression", "regressions"), "regression"),
        _Chip(counts.fixes, _plural(counts.fixes, "fix", "fixes"), "fix"),
        _Chip(counts.changed, "changed", "changed"),
        _Chip(counts.flaky, "flaky", "flaky"),
        _Chip(counts.errors, _plural(counts.errors, "error", "errors"), "error"),
        _Chip(counts.unchanged, "unchanged", "unchanged"),
    ]
    chips += [
        c
        for c in (_Chip(counts.added, "added", "added"), _Chip(counts.removed, "removed", "removed"))
        if c.count
    ]
    return chips


def _test_chips(summary: RunSummary) -> list[_Chip]:
    tally = summary.status_counts()
    return [
        _Chip(tally["passed"], "passed", "passed"),
        _Chip(tally["failed"], "failed", "failed"),
        _Chip(tally["error"], _plural(tally["error"], "error", "errors"), "error"),
    ]


def _header(data: ReportData) -> _Header:
    drift, summary, meta = data.drift, data.summary, data.meta
    facts: list[tuple[str, str | None]] = []
    chips: list[_Chip] = []
    if drift is not None:
        word, tone = _DRIFT_VERDICTS[drift.status]
        kind = "Drift report"
        title = f"{drift.baseline_label} → {drift.candidate_label}"
        chips = _drift_chips(drift)
        date = _when(summary.started_at) if summary else _when(meta.started_at) if meta else None
        facts += [
            ("baseline run", drift.baseline_run),
            ("candidate run", drift.candidate_run),
            ("date", date or _run_id_date(drift.candidate_run)),
            ("significance", drift.rule()),
        ]
        if summary is not None:
            candidate_word, _ = _TEST_VERDICTS[summary.status]
            passed = summary.status_counts()["passed"]
            facts.append(
                ("candidate tests", f"{candidate_word.lower()}: {passed} of {len(summary.cases)} passed")
            )
    elif summary is not None:
        word, tone = _TEST_VERDICTS[summary.status]
        kind = "Test run"
        title = summary.run_id
        chips = _test_chips(summary)
        calls = f"{summary.completed_calls:,}"
        if summary.completed_calls < summary.planned_calls:
            calls += f" of {summary.planned_calls:,} planned"
        facts += [
            ("date", _when(summary.started_at)),
            ("duration", f"{summary.duration_s:,.1f} s"),
            ("calls", calls),
        ]
    else:
        word, tone, kind, title = "Empty", "muted", "Report", "nothing to report"
    if meta is not None:
        # with a drift, the metadata is the candidate run's
        models = ", ".join(
            f"{alias} ({model_id})" if alias != model_id else alias for alias, model_id in meta.models.items()
        )
        facts.append(("candidate models" if drift else "models", models or None))
        facts.append(("git commit", meta.git_commit[:12] if meta.git_commit else None))
    return _Header(word, tone, kind, title, chips, [(k, v) for k, v in facts if v])


def _group_latency_note(groups: Sequence[GroupSummary]) -> NoChart:
    """Without sample results there is no distribution to draw; the totals table has p50 and p95."""
    if any(g.latency_p50_ms is not None for g in groups):
        return NoChart("No sample results given; p50 and p95 per suite are in the table below.")
    return NoChart("No latency recorded.")


def _overview(data: ReportData) -> _Overview | None:
    if data.drift is not None:
        suites = data.drift.suites
        if data.results:
            return _Overview(
                drift_pass_rate_chart(suites),
                "Latency (candidate calls)",
                latency_histogram(data.results),
                None,
            )
        return _Overview(
            drift_pass_rate_chart(suites), "Latency p50 / p95", drift_latency_chart(suites), None
        )
    if data.summary is not None:
        groups = data.summary.groups
        latency = latency_histogram(data.results) if data.results else _group_latency_note(groups)
        return _Overview(pass_rate_chart(groups), "Latency distribution", latency, groups)
    return None


def _case_table(data: ReportData, anchors: dict[int, str]) -> _CaseTable | None:
    if data.drift is not None:
        order = {s: i for i, s in enumerate(_DRIFT_ORDER)}
        indexed = sorted(enumerate(data.drift.cases), key=lambda item: order.get(item[1].status, 99))
        statuses: list[str] = [c.status for c in data.drift.cases]
        rows: list[Any] = [(case, anchors.get(index)) for index, case in indexed[:MAX_TABLE_ROWS]]
        columns: Sequence[str] = _DRIFT_COLUMNS
        status_order: Sequence[str] = _DRIFT_ORDER
    elif data.summary is not None:
        order = {s: i for i, s in enumerate(_TEST_ORDER)}
        # failures first; a huge run's passing cases are unpacked only as far as the table shows them
        not_passed = data.summary.failures
        passing = (c for c in data.summary.cases if c.status == "passed")
        shown = sorted(not_passed, key=lambda c: order.get(c.status, 99))[:MAX_TABLE_ROWS]
        rows = shown + list(itertools.islice(passing, MAX_TABLE_ROWS - len(shown)))
        statuses = list(data.summary.status_counts().elements())
        columns, status_order = _TEST_COLUMNS, _TEST_ORDER
    else:
        return None
    tally = Counter(statuses)
    options = [(s, tally[s]) for s in status_order if tally[s]]
    return _CaseTable(data.drift is not None, columns, rows, options, len(statuses))


def _detail_facts(case: CaseDrift) -> str:
    facts = [_models(case)]
    if case.status in _FLIPS:
        facts.append(pts(case.delta))
        facts.append(f"p = {case.p_value:.3g}" if case.p_value is not None else "one sample per side")
    if case.gap:
        facts.append(f"gap hint: {case.gap}")
    return " · ".join(facts)


def _outputs(drift: DriftReport) -> tuple[_Outputs | None, dict[int, str]]:
    """Side-by-side outputs of the drifted cases, and the anchor of each case that has one."""
    order = {s: i for i, s in enumerate(_DETAIL_STATUSES)}
    chosen = sorted(
        ((i, c) for i, c in enumerate(drift.cases) if c.status in order),
        key=lambda item: order[item[1].status],
    )
    if not chosen:
        return None, {}
    anchors = {index: f"case-{index}" for index, _ in chosen[:MAX_DETAILS]}
    # regressions are what a reviewer opens first; the rest stay folded to keep the page scannable
    details = [
        _Detail(case, anchors[i], case.status == "regression", _detail_facts(case))
        for i, case in chosen[:MAX_DETAILS]
    ]
    return _Outputs(details, len(chosen)), anchors


def _gap_counts(report: EscalationReport) -> dict[str, int]:
    """Failing cases per gap, in the order gaps are listed everywhere."""
    counts = Counter(gap for case in report.cases for gap in case.gaps)
    return {gap: counts[gap] for gap in GAPS if counts[gap]}


def _title(data: ReportData) -> str:
    if data.drift is not None:
        word = _DRIFT_VERDICTS[data.drift.status][0]
        return f"{word} · {data.drift.baseline_label} → {data.drift.candidate_label} · promptops"
    if data.summary is not None:
        return f"{_TEST_VERDICTS[data.summary.status][0]} · {data.summary.run_id} · promptops"
    return "promptops report"


def _footer(data: ReportData) -> str:
    footer = f"Generated by promptops {__version__}"
    if data.meta is not None and data.meta.promptops_version != __version__:
        footer += f" from a run recorded by promptops {data.meta.promptops_version}"
    return footer + " · self-contained: this page loads nothing from the network."


# --- helpers the templates call -----------------------------------------------------------------


def _failing_side(case: CaseDrift) -> CaseSide | None:
    """The side whose failures or errors explain the case: the baseline for a fix, else the candidate."""
    if case.status == "error" and case.baseline is not None and case.baseline.verdict == "error":
        return case.baseline
    if case.status == "fix" or case.candidate is None:
        return case.baseline
    return case.candidate


def _models(case: CaseDrift) -> str:
    """The case's model, or ``baseline → candidate`` when the sides ran different models."""
    if case.baseline_model == case.candidate_model:
        return case.baseline_model or "—"
    return f"{case.baseline_model or '—'} → {case.candidate_model or '—'}"


def _prompt_versions(suite: SuiteDrift) -> str:
    """``support/triage@1.0.0 → support/triage@1.1.0``, or one of them when both sides ran the same."""
    sides = (suite.baseline, suite.candidate)
    return " → ".join(dict.fromkeys(f"{s.prompt}@{s.prompt_version}" for s in sides if s))


def _one_liners(case: CaseDrift) -> bool:
    """Both outputs are short single lines: side by side they are their own diff."""
    texts = [side.output_excerpt for side in (case.baseline, case.candidate) if side is not None]
    return len(texts) == 2 and all(t is not None and "\n" not in t and len(t) <= 80 for t in texts)


def _diff_line_class(line: str) -> str:
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return "ctx"


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _escape(value: Any) -> Markup:
    """Every ``{{ }}`` value as escaped text, spelled as ``html.escape`` spells it; None is empty.

    Autoescaping alone would escape it too, but spell a quote ``&#39;`` where reports written
    before the templates said ``&#x27;``; escaping here keeps every value spelled as it was, so a
    page diffs cleanly against an older one. Markup (a macro's output) passes through as it is.
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("promptops.reports", "templates"),
        autoescape=True,
        finalize=_escape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pct=pct,
        ms=ms,
        usd=usd,
        pts=pts,
        delta_tone=delta_tone,
        tone=lambda status: _TONE.get(status, "muted"),
        spec=format,
        json_text=_json_text,
        diff_class=_diff_line_class,
    )
    env.globals.update(
        failing_side=_failing_side,
        models_of=_models,
        prompt_versions=_prompt_versions,
        one_liners=_one_liners,
        plural=_plural,
        FLIPS=_FLIPS,
        TECHNIQUES=_TECHNIQUES,
        CONFIDENCE_TONE=_CONFIDENCE_TONE,
        NUMERIC_COLUMNS=_NUMERIC_COLUMNS,
        MAX_TABLE_ROWS=MAX_TABLE_ROWS,
        MAX_DETAILS=MAX_DETAILS,
        MAX_ESCALATIONS=MAX_ESCALATIONS,
        MAX_EVIDENCE=MAX_EVIDENCE,
    )
    return env


_ENV = _environment()


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML page.

    Args:
        data: A test run (``summary``, optionally its ``meta`` and sample ``results``), a drift
            report (``drift``, optionally the candidate's ``summary`` and ``results``), or both,
            each with an optional ``escalation``.

    Returns:
        The page: a verdict header, pass rate and latency charts (inline SVG), a filterable
        case table, baseline and candidate outputs side by side with their diff for drifted
        cases, and the escalations. It loads nothing from the network.
    """
    outputs, anchors = _outputs(data.drift) if data.drift is not None else (None, {})
    escalation: EscalationReport | None = data.escalation
    return _ENV.get_template("report.html.j2").render(
        title=_title(data),
        policy=Markup(CONTENT_SECURITY_POLICY),
        css=Markup(_CSS),
        js=Markup(_JS),
        header=_header(data),
        overview=_overview(data),
        drift=data.drift,
        table=_case_table(data, anchors),
        outputs=outputs,
        escalation=escalation,
        gaps=_gap_counts(escalation) if escalation else {},
        holds_nothing=data.summary is None and data.drift is None and data.escalation is None,
        footer=_footer(data),
    )
