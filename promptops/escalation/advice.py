"""Escalation of a run or a drift report: diagnose every failing case, then match the rules.

Everything comes from the data handed in: the run's metadata (the suite's prompt text, parameters
and golden count), its sample results (failing answers, the rendered messages, what each failing
assertion expected) or the drift report (both sides' verdicts and the prompt diff), and the
failure history of past runs through the run store. Nothing is re-read from the working tree, so
``test``, ``drift``, ``compare``, ``escalate`` and the pull-request comment give one diagnosis.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field

from promptops.config import Constraints, Project
from promptops.escalation.evidence import Attribution, CaseDiagnosis, CaseFacts, Evidence, FailedCheck
from promptops.escalation.gaps import classify_case
from promptops.escalation.rules import Escalation, GroupContext, escalate_groups, is_external, load_rules
from promptops.results import RunMeta, RunSummary, SampleResult, SampleRow, SuitePlan, failure_history
from promptops.strict import StrictModel

if TYPE_CHECKING:
    from promptops.drift import CaseDrift, DriftReport
    from promptops.results import SavedRun

SCHEMA_VERSION = 2
_MAX_OUTPUTS = 8
_OUTPUT_CHARS = 4000
# cases whose answers and prompt are kept for diagnosis; past this, a case is judged from what its
# verdict holds (the failing assertions and an excerpt), so memory stays bounded on huge runs
MAX_GATHERED_CASES = 5000
_PROMPT_CHARS = 60_000


class GroupFacts(StrictModel):
    """What the rules knew about a prompt on a model, kept so a saved report is judged the same again."""

    prompt: str
    model: str
    model_id: str
    few_shot: bool | None = None
    structured_output: bool | None = None
    n_golden: int = 0
    prompt_tokens: float | None = None


class EscalationReport(StrictModel):
    """The diagnosis of every failing case and the suggestions it leads to."""

    version: int = SCHEMA_VERSION
    source: str
    """Run id or drift report the escalation was computed from."""
    cases: list[CaseDiagnosis]
    escalations: list[Escalation]
    groups: list[GroupFacts] = Field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return any(e.blocking for e in self.escalations)

    def introduced(self) -> list[CaseDiagnosis]:
        """Cases a drift's change introduced (a prompt or model change), or every case of a plain run."""
        return [c for c in self.cases if c.attribution is None or c.attribution.cause != "already-failing"]

    def already_failing(self) -> list[CaseDiagnosis]:
        return [
            c for c in self.cases if c.attribution is not None and c.attribution.cause == "already-failing"
        ]


# --- gathering the facts of failing cases -----------------------------------------------------


@dataclass
class _Gathered:
    outputs: Counter[str] = field(default_factory=Counter)
    checks: dict[str, FailedCheck] = field(default_factory=dict)
    messages: list[dict[str, str]] | None = None
    reference: str | None = None


def _check_of(outcome: Any) -> FailedCheck:
    return FailedCheck(
        type=outcome.type,
        reason=outcome.reason,
        expected=outcome.expected,
        options=dict(outcome.options),
        gap=outcome.gap,
    )


def _check_key(outcome: Any) -> str:
    return f"{outcome.type}:{json.dumps(outcome.expected, sort_keys=True, default=str)}"


def gather(
    results: Iterable[SampleResult | SampleRow], wanted: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], _Gathered]:
    """Failing answers, failing assertions and the rendered prompt of the ``wanted`` cases, in one pass."""
    found: dict[tuple[str, str, str], _Gathered] = {}
    for result in results:
        key = (result.suite, result.case, result.model)
        if key not in wanted or result.passed is not False or result.output is None:
            continue
        entry = found.get(key)
        if entry is None:
            if len(found) >= MAX_GATHERED_CASES:
                continue
            entry = found[key] = _Gathered()
        text = result.output[:_OUTPUT_CHARS]
        if text in entry.outputs or len(entry.outputs) < _MAX_OUTPUTS:
            entry.outputs[text] += 1
        for outcome in result.assertions:
            if not outcome.passed:
                entry.checks.setdefault(_check_key(outcome), _check_of(outcome))
        if entry.messages is None and result.messages is not None:
            entry.messages = [
                {**m, "content": str(m.get("content", ""))[:_PROMPT_CHARS]} for m in result.messages
            ]
        entry.reference = entry.reference or result.reference
    return found


def _excerpt(gathered: dict[tuple[str, str, str], _Gathered], excerpt: str | None) -> str | None:
    """The verdict's excerpt stands in for a case's answers, unless gathering stopped at its cap: past
    it, cases are judged by their assertion type, so a huge failing run is escalated in seconds."""
    return None if len(gathered) >= MAX_GATHERED_CASES else excerpt


def _facts(
    base: dict[str, Any], gathered: _Gathered | None, fallback_checks: list[Any], excerpt: str | None
) -> CaseFacts:
    if gathered is not None and gathered.outputs:
        outputs = gathered.outputs.most_common()
        checks = list(gathered.checks.values())
    else:
        outputs = [(excerpt, max(1, base["samples"] - base["passed_samples"]))] if excerpt is not None else []
        checks = []
    if not checks:
        checks = [_check_of(o) for o in fallback_checks]
    return CaseFacts(
        **base,
        checks=checks,
        outputs=outputs,
        messages=gathered.messages if gathered else None,
        reference=gathered.reference if gathered else None,
    )


# --- the prompt and model groups ----------------------------------------------------------------

_FEW_SHOT = re.compile(r"(?im)^\s*(example\b|input:|output:|q:|a:|ticket:.*\n\s*(?:label|answer):)")


def prompt_shape(plan: SuitePlan | None) -> tuple[bool | None, bool | None]:
    """(few_shot, structured_output) of the prompt as it ran, None when the run did not keep it."""
    if plan is None or plan.prompt_source is None:
        return None, None
    text = plan.prompt_source
    few_shot = bool(re.search(r"""\{%-?\s*role\s+["']assistant""", text)) or len(_FEW_SHOT.findall(text)) >= 2
    structured = any(key in plan.params for key in ("response_format", "json_schema", "grammar"))
    return few_shot, structured


def _api_base(project: Project | None, alias: str) -> str | None:
    if project is None:
        return None
    entry = project.config.models.get(alias)
    return entry.api_base if entry is not None and not isinstance(entry, str) else None


@dataclass
class _Group:
    model_id: str
    suites: set[str] = field(default_factory=set)
    total_cases: int = 0
    latency_p95_ms: float | None = None
    cost_per_1k: float | None = None
    prompt_tokens: float | None = None
    n_golden: int = 0
    plan: SuitePlan | None = None
    baseline: str | None = None
    known: GroupFacts | None = None
    """The facts a saved report kept, used when the run behind it is not at hand."""


def _report(
    source: str,
    project: Project | None,
    groups: dict[tuple[str, str], _Group],
    cases: list[CaseDiagnosis],
) -> EscalationReport:
    constraints = project.config.constraints if project else Constraints()
    history = failure_history(project.runs_dir) if project is not None else {}
    contexts: dict[tuple[str, str], GroupContext] = {}
    for (prompt, model), info in groups.items():
        few_shot, structured = prompt_shape(info.plan)
        if info.known is not None and info.plan is None:
            few_shot, structured = info.known.few_shot, info.known.structured_output
            info.n_golden = info.n_golden or info.known.n_golden
            info.prompt_tokens = (
                info.prompt_tokens if info.prompt_tokens is not None else info.known.prompt_tokens
            )
        contexts[(prompt, model)] = GroupContext(
            prompt=prompt,
            model=model,
            model_id=info.model_id,
            suites=sorted(info.suites),
            total_cases=info.total_cases,
            latency_p95_ms=info.latency_p95_ms,
            cost_per_1k=info.cost_per_1k,
            prompt_tokens=info.prompt_tokens,
            few_shot=few_shot,
            structured_output=structured,
            external_model=is_external(info.model_id, _api_base(project, model)),
            n_golden=info.n_golden,
            baseline=info.baseline,
        )
    for case in cases:
        ctx = contexts.get((case.prompt, case.model))
        if ctx is None:
            continue
        ctx.cases.append(case)
        fingerprints = set(history.get((case.suite, case.case, case.model), set()))
        if case.prompt_fingerprint:
            fingerprints.add(case.prompt_fingerprint)
        ctx.persists[(case.suite, case.case)] = max(1, len(fingerprints))
    escalations = escalate_groups(list(contexts.values()), load_rules(project), constraints)
    return EscalationReport(
        source=source,
        cases=[c for c in cases if c.gaps or c.attribution],
        escalations=escalations,
        groups=[
            GroupFacts(
                prompt=c.prompt,
                model=c.model,
                model_id=c.model_id,
                few_shot=c.few_shot,
                structured_output=c.structured_output,
                n_golden=c.n_golden,
                prompt_tokens=c.prompt_tokens,
            )
            for c in contexts.values()
        ],
    )


# --- a test run ---------------------------------------------------------------------------------


def escalate_run(
    project: Project | None,
    meta: RunMeta,
    summary: RunSummary,
    results: Iterable[SampleResult] = (),
    probes: dict[tuple[str, str, str], list[Evidence]] | None = None,
) -> EscalationReport:
    """Escalation for a test run: every failing case of every prompt and model.

    ``probes`` holds the measured outcomes of counterfactual probes per (suite, case, model alias).
    """
    plans = {s.name: s for s in meta.suites}
    failing = [c for c in summary.cases if c.status == "failed"]
    gathered = gather(results, {(c.suite, c.case, c.model) for c in failing})
    groups: dict[tuple[str, str], _Group] = {}
    model_ids: dict[tuple[str, str], str] = {}
    for group in summary.groups:
        plan = plans.get(group.suite)
        prompt = plan.prompt if plan else group.suite
        model_ids[(group.suite, group.model)] = group.model_id
        info = groups.setdefault((prompt, group.model), _Group(group.model_id, plan=plan))
        info.suites.add(group.suite)
        info.total_cases += group.cases
        info.n_golden += plan.golden_cases if plan else 0
        info.latency_p95_ms = max(filter(None, [info.latency_p95_ms, group.latency_p95_ms]), default=None)
        if group.cost_usd is not None and group.samples:
            info.cost_per_1k = group.cost_usd / group.samples * 1000
        if group.samples:
            info.prompt_tokens = group.prompt_tokens / group.samples
    cases = []
    for verdict in failing:
        plan = plans.get(verdict.suite)
        key = (verdict.suite, verdict.case, verdict.model)
        base = {
            "suite": verdict.suite,
            "case": verdict.case,
            "prompt": plan.prompt if plan else verdict.suite,
            "model": verdict.model,
            "model_id": model_ids.get((verdict.suite, verdict.model), verdict.model),
            "status": "failed",
            "samples": verdict.samples,
            "passed_samples": verdict.passed_samples,
            "errored_samples": verdict.errored_samples,
            "hint": verdict.gap,
            "prompt_fingerprint": plan.prompt_fingerprint if plan else None,
        }
        facts = _facts(
            base, gathered.get(key), verdict.failed_assertions, _excerpt(gathered, verdict.output_excerpt)
        )
        facts.probes = list((probes or {}).get(key, []))
        cases.append(classify_case(facts))
    return _report(meta.run_id, project, groups, cases)


# --- a drift report -----------------------------------------------------------------------------


def _attribution(case: CaseDrift, report: DriftReport) -> Attribution | None:
    """What introduced the candidate's failure: the prompt change, the model change, or nothing new."""
    base, cand = case.baseline, case.candidate
    assert cand is not None
    if base is None:
        return Attribution(cause="new-case", text="a case new on the candidate side")
    if case.already_failing:
        return Attribution(
            cause="already-failing",
            text=f"already failing on the baseline ({base.model_id}, prompt {base.prompt_version})",
        )
    if base.verdict != "passed":
        return None  # the baseline errored: nothing to compare with
    noise = (
        f" (within sampling noise: p = {case.p_value:.2f})"
        if case.status == "flaky" and case.p_value is not None
        else ""
    )
    suite = next(
        (
            s
            for s in report.suites
            if s.suite == case.suite and s.candidate and s.candidate.model == cand.model
        ),
        None,
    )
    prompt_changed = bool(
        suite
        and suite.baseline
        and suite.candidate
        and suite.baseline.prompt_fingerprint != suite.candidate.prompt_fingerprint
    )
    change = (
        next((p for p in report.prompts if p.prompt == suite.candidate.prompt), None)
        if suite and suite.candidate
        else None
    )
    same_model = base.model_id == cand.model_id
    passed = f"the baseline passed: {base.output_excerpt!r}" if base.output_excerpt else "the baseline passed"
    if same_model and prompt_changed:
        versions = (
            f"{suite.baseline.prompt_version} → {suite.candidate.prompt_version}"
            if suite and suite.baseline and suite.candidate
            else ""
        )
        return Attribution(
            cause="prompt-change",
            text=f"the prompt changed ({versions}) and the same model {cand.model_id} now fails{noise}; "
            f"{passed}",
            baseline_output=base.output_excerpt,
            prompt_diff=change.diff if change else None,
        )
    if same_model and case.status == "flaky":
        return None  # same model, same prompt, a flip within noise: nothing was shown to change
    if same_model:
        return Attribution(
            cause="model-update",
            text=f"same model id {cand.model_id} and prompt, different behaviour{noise}: the provider "
            "changed "
            f"the model; {passed}",
            baseline_output=base.output_excerpt,
        )
    also = " (the prompt changed too)" if prompt_changed else ""
    return Attribution(
        cause="model-change",
        text=f"{base.model_id} passed and {cand.model_id} fails{also}{noise}: the candidate lost it; "
        f"{passed}",
        baseline_output=base.output_excerpt,
        prompt_diff=change.diff if change and prompt_changed else None,
    )


_LOST = {
    "knowledge": "a fact",
    "behavior": "the format or instructions",
    "skill": "the task itself (a label, field or value)",
    "reliability": "consistency across samples",
}


def _say_what_was_lost(case: CaseDiagnosis) -> CaseDiagnosis:
    """A model change lost something the baseline had: name it from the case's gap."""
    attribution = case.attribution
    if attribution is None or attribution.cause not in ("model-change", "model-update") or case.gap is None:
        return case
    lost = attribution.model_copy(update={"text": f"lost {_LOST[case.gap]}: {attribution.text}"})
    return case.model_copy(update={"attribution": lost})


def escalate_drift(
    project: Project | None,
    report: DriftReport,
    candidate: SavedRun | None = None,
    stored: EscalationReport | None = None,
) -> EscalationReport:
    """Escalation for a drift report: the candidate side's failing cases, each with what introduced it.

    The candidate run's results (when given) supply the failing answers and the rendered prompt;
    ``stored`` is the escalation a JSON report already holds, whose case diagnoses are kept as they
    were, so re-reading a report gives the diagnosis it was written with.
    """
    plans = {s.name: s for s in candidate.meta.suites} if candidate is not None else {}
    known = {(g.prompt, g.model): g for g in stored.groups} if stored else {}
    groups: dict[tuple[str, str], _Group] = {}
    for suite in report.suites:
        totals = suite.candidate
        if totals is None:
            continue
        info = groups.setdefault(
            (totals.prompt, totals.model),
            _Group(
                totals.model_id, plan=plans.get(suite.suite), known=known.get((totals.prompt, totals.model))
            ),
        )
        info.suites.add(suite.suite)
        info.total_cases += totals.cases
        info.latency_p95_ms = totals.latency_p95_ms
        info.cost_per_1k = totals.cost_per_1k_calls_usd
        plan = plans.get(suite.suite)
        info.n_golden += plan.golden_cases if plan else 0
        if suite.baseline is not None:
            changed = suite.baseline.prompt_fingerprint != totals.prompt_fingerprint
            info.baseline = (
                f"{suite.baseline.prompt}@{suite.baseline.prompt_version}"
                if changed and suite.baseline.model_id == totals.model_id
                else suite.baseline.model_id
            )
    prompts = {(s.suite, s.candidate.model): s.candidate for s in report.suites if s.candidate}
    failing = [c for c in report.cases if c.candidate is not None and c.candidate.verdict == "failed"]
    wanted = {(c.suite, c.case, c.candidate.model) for c in failing if c.candidate}
    reused = {(c.suite, c.case, c.model): c for c in stored.cases} if stored else {}
    # lean rows: the candidate of a large drift holds a million results, read here a second time
    gathered = gather(candidate.rows(), wanted) if candidate is not None and not reused else {}
    cases = []
    for case in failing:
        side = case.candidate
        assert side is not None
        key = (case.suite, case.case, side.model)
        if key in reused:
            cases.append(reused[key])
            continue
        totals = prompts.get((case.suite, side.model))
        base = {
            "suite": case.suite,
            "case": case.case,
            "prompt": totals.prompt if totals else case.suite,
            "model": side.model,
            "model_id": side.model_id,
            "status": case.status,
            "samples": side.samples,
            "passed_samples": side.passed_samples,
            "errored_samples": side.errored_samples,
            "hint": case.gap,
            "prompt_fingerprint": totals.prompt_fingerprint if totals else None,
        }
        facts = _facts(
            base, gathered.get(key), side.failed_assertions, _excerpt(gathered, side.output_excerpt)
        )
        facts.attribution = _attribution(case, report)
        cases.append(_say_what_was_lost(classify_case(facts)))
    return _report(f"{report.baseline_run}..{report.candidate_run}", project, groups, cases)
