"""Counterfactual probes: re-run a failing case with one thing changed and measure what it fixes.

A heuristic reads a failing answer; a probe tests a remedy before anyone builds it. Each probe is a
small run of the failing case on the same model, through the same executor (cache, recordings,
retries, the case's own assertions), that changes exactly one thing:

- ``oracle-context``: the reference facts (the case's ``reference``, else what its failing
  assertions look for) as a retrieved passage. Pass: a knowledge gap that retrieval fixes. Fail:
  retrieval will not help. Skipped where the expected value is the whole answer (a label).
- ``format-repair``: an explicit format instruction and one correct output of another, passing case
  of the suite (or its golden). Pass: a behavior gap; the patched prompt is shown as a diff.
- ``few-shot``: passing cases of the suite as worked examples. Pass: prompt engineering teaches the
  skill; fail, after retrieval failed too: the skill is not teachable in context.
- ``sampling``: k samples at temperature 0 and at the suite's temperature, majority vote. Stable:
  reliability hardening works.
- ``reference-model``: the unchanged case on a stronger model the user names. Pass: a capacity gap.

No probe ever shows the model the failing case's own expected answer, except the oracle passage,
which carries facts and is skipped where the fact would be the answer itself. Measured outcomes
become ``Evidence`` with ``source="probe"``, which outweighs every heuristic in ``classify_case``.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from promptops.cache import Recording, RecordingFile, read_recording, write_recording
from promptops.config import Project, ResolvedModel
from promptops.errors import ConfigError, ProviderError, UsageError
from promptops.escalation.advice import EscalationReport, escalate_run, gather
from promptops.escalation.evidence import PROBE_WEIGHT, CaseDiagnosis, Evidence, FailedCheck
from promptops.escalation.rules import is_external
from promptops.executor import Executor
from promptops.grading import prepare_grading
from promptops.plan import PlannedCall, RunOptions, render_case, sample_params
from promptops.results import SampleResult, SavedRun, excerpt, failure_history
from promptops.strict import DocumentedModel, StrictModel
from promptops.suites import Case, Suite, companion_path

SCHEMA_VERSION = 1
DEFAULT_BUDGET = 60
PROBES_RECORDING_SUFFIX = ".probes.recording.yaml"
SAMPLING_K = 3
# prompt versions a failure must outlive before fine-tuning is worth it (as the built-in skill rule)
FINE_TUNE_AFTER_VERSIONS = 3
PASSAGE_HEADER = "Retrieved passage (reference facts for this question):"
FEW_SHOT_EXAMPLES = 3
# advice that takes weeks to build: worth measuring before anyone builds it
EXPENSIVE = frozenset({"rag", "fine-tuning", "model-change", "self-hosting", "routing-caching"})
# a case diagnosed with less confidence than this is ambiguous: probes decide it
AMBIGUOUS_BELOW = 0.75
# checks whose expected value is the whole answer: supplying it as "context" hands over the answer
WHOLE_ANSWER = frozenset({"equals", "one-of", "golden", "starts-with"})

ProbeKind = Literal["oracle-context", "format-repair", "few-shot", "sampling", "reference-model"]
PROBE_KINDS: tuple[ProbeKind, ...] = (
    "oracle-context",
    "format-repair",
    "few-shot",
    "sampling",
    "reference-model",
)


class ProbeOutcome(DocumentedModel):
    """What one probe of one case added to the prompt, and what it measured."""

    suite: str
    case: str
    model: str
    """The model alias the case failed on."""
    probe: ProbeKind
    added: str
    """What the probe changed, in words."""
    probe_model: str
    """The model the probe ran on (the same one, except for ``reference-model``)."""
    samples: int = 0
    passed: int = 0
    errored: int = 0
    fixed: bool | None = None
    """The majority of samples passed; None when no sample produced a verdict."""
    finding: str = ""
    """What the outcome means for the remedy."""
    gap: str | None = None
    """The gap the outcome points to (None: a note, not evidence of a gap)."""
    weight: float = 0.0
    diff: str | None = None
    """For ``format-repair``: the patched prompt as a unified diff of the rendered messages."""
    detail: str | None = None
    """e.g. the temperature-0 and suite-temperature counts of ``sampling``."""
    answer: str | None = None
    """The first answer the probe got (an excerpt), or its error."""


class SkippedProbe(StrictModel):
    suite: str
    case: str
    probe: ProbeKind
    reason: str


class DiagnoseReport(StrictModel):
    """``promptops diagnose``: the probes planned and run, their outcomes, and the escalation they led to."""

    version: int = SCHEMA_VERSION
    source: str
    """The run whose failing cases were probed."""
    budget: int
    planned_calls: int
    provider_calls: int = 0
    """Calls that went to a provider (the rest came from the cache or recordings)."""
    plan: list[str] = Field(default_factory=list)
    outcomes: list[ProbeOutcome] = Field(default_factory=list)
    skipped: list[SkippedProbe] = Field(default_factory=list)
    escalation: EscalationReport
    recordings: list[str] = Field(default_factory=list)
    """Recording files the probe answers were written to (commit them for ``--replay``)."""


# --- planning ------------------------------------------------------------------------------------


@dataclass
class Probe:
    """One probe of one case: the calls it makes and what it changed."""

    kind: ProbeKind
    suite: Suite
    case: Case
    model: ResolvedModel
    added: str
    calls: list[PlannedCall]
    diff: str | None = None
    groups: dict[int, str] = field(default_factory=dict)
    """Sample index -> group label (``sampling``: 't=0' or 't=0.7')."""
    case_model: str = ""
    """The model alias the case failed on (``model`` differs for ``reference-model``)."""
    persists: int = 1
    """Prompt versions the case has failed with (from past runs)."""

    def __post_init__(self) -> None:
        self.case_model = self.case_model or self.model.alias


def _text(messages: list[dict[str, str]]) -> str:
    return "\n".join(f"[{m.get('role', 'user')}]\n{m.get('content', '')}" for m in messages)


def _with_system(messages: list[dict[str, str]], addition: str) -> list[dict[str, str]]:
    """``messages`` with ``addition`` appended to the system message (one is added when missing)."""
    out = [dict(m) for m in messages]
    for message in out:
        if message.get("role") == "system":
            message["content"] = f"{message.get('content', '').rstrip()}\n\n{addition}"
            return out
    return [{"role": "system", "content": addition}, *out]


def _last_user(messages: list[dict[str, str]]) -> str:
    return next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")


def reference_facts(case: Case, checks: Iterable[FailedCheck]) -> str | None:
    """The facts an oracle passage supplies, or None when they would be the answer itself.

    The case's ``reference`` when given; else the content the failing assertions look for. A check
    whose expected value is the whole output (a label for ``equals`` or ``one-of``) gives no facts.
    """
    checks = list(checks)
    whole = {c.type for c in checks} & WHOLE_ANSWER
    if case.reference:
        labels = {str(c.expected).strip().lower() for c in checks if c.type in WHOLE_ANSWER}
        return None if case.reference.strip().lower() in labels else case.reference
    if whole:
        return None
    facts: list[str] = []
    for check in checks:
        if check.type.startswith("not-") or check.expected is None:
            continue
        value = check.expected
        if check.type in ("contains", "icontains", "similar", "contains-all", "icontains-all"):
            facts.extend(str(v) for v in (value if isinstance(value, list) else [value]))
        elif check.type in ("contains-any", "icontains-any") and isinstance(value, list) and value:
            facts.append(str(value[0]))
        elif check.type in ("json-match", "contains-json") and isinstance(value, dict | list):
            facts.append(json.dumps(value, ensure_ascii=False))
    return "; ".join(dict.fromkeys(facts)) or None


def expected_texts(case: Case, checks: Iterable[FailedCheck]) -> list[str]:
    """Every text the case's failing checks look for, and its reference: what no example may show."""
    texts = [case.reference] if case.reference else []
    for check in checks:
        values = check.expected if isinstance(check.expected, list) else [check.expected]
        for value in values:
            if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
                texts.append(str(value).strip())
            elif isinstance(value, dict):
                texts += [
                    str(v) for v in value.values() if isinstance(v, str | int | float) and str(v).strip()
                ]
    return texts


def format_instruction(checks: Iterable[FailedCheck]) -> str:
    """An explicit format instruction for what the failing checks ask of the form."""
    types = {c.type.removeprefix("not-") for c in checks}
    if types & {"is-json", "contains-json", "json-schema", "json-match"}:
        return "Reply with the JSON object only, in the same shape as the example: no prose, no code fences."
    for check in checks:
        if check.type in ("word-count", "length") and check.options.get("max") is not None:
            unit = "words" if check.type == "word-count" else "characters"
            return f"Reply in at most {int(check.options['max'])} {unit}, in the form of the example."
    if types & {"equals", "one-of", "starts-with"}:
        return "Reply with the answer only, written exactly as in the example: nothing before or after it."
    return "Reply in exactly the form of the example output: the same structure, nothing before or after."


@dataclass(frozen=True)
class _Passing:
    case: Case
    user: str
    output: str


def _passing_examples(
    suite: Suite, model: str, passing: dict[tuple[str, str, str], str], exclude: str
) -> list[_Passing]:
    """Correct outputs of other cases of the suite: passing answers of the run, else goldens."""
    found = []
    for case in suite.cases:
        if case.id == exclude:
            continue
        output = passing.get((suite.name, case.id, model)) or suite.golden_for(case.id, model)
        if not output:
            continue
        messages = [m.to_dict() for m in render_case(suite, case)]
        found.append(_Passing(case, _last_user(messages), output))
    return found


def _call(
    suite: Suite,
    case: Case,
    model: ResolvedModel,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    sample: int,
    grading: Any,
) -> PlannedCall:
    return PlannedCall(suite, case, model, sample, messages, sample_params(params, sample), grading)


def _temperature(params: dict[str, Any]) -> float:
    try:
        return float(params.get("temperature", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def probes_for_case(
    suite: Suite,
    case: Case,
    model: ResolvedModel,
    diagnosis: CaseDiagnosis,
    checks: list[FailedCheck],
    passing: dict[tuple[str, str, str], str],
    reference: ResolvedModel | None,
    grading: Any,
) -> tuple[list[Probe], list[SkippedProbe]]:
    """The probes that can tell this case's gap apart, each changing one thing."""
    messages = [m.to_dict() for m in render_case(suite, case)]
    params = {**model.params, **suite.params()}
    temperature = _temperature(params)
    samples = 1 if temperature == 0 else SAMPLING_K
    probes: list[Probe] = []
    skipped: list[SkippedProbe] = []

    def skip(kind: ProbeKind, reason: str) -> None:
        skipped.append(SkippedProbe(suite=suite.name, case=case.id, probe=kind, reason=reason))

    def probe(kind: ProbeKind, added: str, changed: list[dict[str, str]], diff: str | None = None) -> None:
        calls = [_call(suite, case, model, changed, params, s, grading) for s in range(samples)]
        probes.append(Probe(kind, suite, case, model, added, calls, diff))

    reliability = diagnosis.gap == "reliability" or 0 < diagnosis.passed_samples
    if reliability:
        calls, groups = [], {}
        settings = [0.0] if temperature == 0 else [0.0, temperature]
        for index, t in enumerate(settings):
            for s in range(SAMPLING_K):
                sample = index * SAMPLING_K + s
                calls.append(
                    _call(suite, case, model, messages, {**params, "temperature": t}, sample, grading)
                )
                groups[sample] = f"t={t:g}"
        shown = " and ".join(f"temperature {t:g}" for t in settings)
        probes.append(
            Probe("sampling", suite, case, model, f"{SAMPLING_K} samples at {shown}", calls, groups=groups)
        )
    else:
        facts = reference_facts(case, checks)
        if facts is None:
            skip(
                "oracle-context",
                "the expected value is the whole answer: supplying it would prove nothing about knowledge",
            )
        else:
            passage = f"{PASSAGE_HEADER}\n{facts}"
            probe(
                "oracle-context",
                f"the reference facts as a retrieved passage: {facts[:160]!r}",
                _with_system(messages, passage),
            )
        # an example that states the case's own expected facts would leak them: a knowledge gap would
        # then look like a gap of form
        leaks = [f.lower() for f in expected_texts(case, checks)]
        examples = [
            e
            for e in _passing_examples(suite, model.alias, passing, case.id)
            if not any(text in e.output.lower() for text in leaks)
        ]
        if not examples:
            skip(
                "format-repair", "no other case of the suite passed and none has a golden: no example to show"
            )
            skip("few-shot", "no other case of the suite passed and none has a golden: no example to show")
        else:
            instruction = format_instruction(checks)
            example = examples[0]
            addition = (
                f"Format: {instruction}\nExample of a correct output (for another input):\n{example.output}"
            )
            changed = _with_system(messages, addition)
            diff = "".join(
                difflib.unified_diff(
                    _text(messages).splitlines(keepends=True),
                    _text(changed).splitlines(keepends=True),
                    fromfile=f"{suite.prompt.name} (rendered for {case.id})",
                    tofile="with the format instruction and an example",
                )
            )
            probe(
                "format-repair",
                f"a format instruction ({instruction!r}) and the correct output of case {example.case.id!r}",
                changed,
                diff,
            )
            shots = examples[:FEW_SHOT_EXAMPLES]
            turns: list[dict[str, str]] = []
            for shot in shots:
                turns += [
                    {"role": "user", "content": shot.user},
                    {"role": "assistant", "content": shot.output},
                ]
            at = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages))
            probe(
                "few-shot",
                f"{len(shots)} passing case(s) as worked examples ({', '.join(s.case.id for s in shots)})",
                [*messages[:at], *turns, *messages[at:]],
            )
    if reference is not None:
        ref_params = {**reference.params, **suite.params()}
        calls = [_call(suite, case, reference, messages, ref_params, s, grading) for s in range(samples)]
        probes.append(
            Probe(
                "reference-model",
                suite,
                case,
                reference,
                f"the same prompt on {reference.alias}",
                calls,
                case_model=model.alias,
            )
        )
    return probes, skipped


def worth_probing(diagnosis: CaseDiagnosis) -> bool:
    """Probes go where the evidence is ambiguous or the advice is expensive to act on."""
    return (
        diagnosis.confidence < AMBIGUOUS_BELOW
        or diagnosis.technique in EXPENSIVE
        or diagnosis.gap in ("knowledge", "skill", None)
        or diagnosis.hint_disagrees is not None
    )


def check_reference_model(project: Project, name: str | None) -> ResolvedModel | None:
    """The ``--reference-model``; refused when the project's constraints forbid an external model."""
    if name is None:
        return None
    model = project.resolve_model(name)
    entry = project.config.models.get(name)
    api_base = entry.api_base if entry is not None and not isinstance(entry, str) else None
    constraints = project.config.constraints
    if is_external(model.model, api_base):
        gate = (
            "data_privacy: internal-only"
            if constraints.data_privacy == "internal-only"
            else f"deployment: {constraints.deployment}"
            if constraints.deployment in ("on-prem", "edge")
            else None
        )
        if gate is not None:
            raise UsageError(
                f"--reference-model {name!r} ({model.model}) is an external model and the project's "
                f"constraints say {gate}: the failing cases may not leave the organisation",
                file=project.config_file,
            )
    return model


# --- running -------------------------------------------------------------------------------------


@dataclass
class ProbePlan:
    probes: list[Probe]
    skipped: list[SkippedProbe]
    over_budget: list[str]

    @property
    def calls(self) -> int:
        return sum(len(p.calls) for p in self.probes)

    def lines(self) -> list[str]:
        cases = {(p.suite.name, p.case.id) for p in self.probes}
        out = [
            f"{len(self.probes)} probes × {len(cases)} cases = {self.calls} calls "
            "(answers already cached or recorded cost nothing)"
        ]
        for p in self.probes:
            out.append(
                f"  {p.suite.name}::{p.case.id} [{p.model.alias}] {p.kind}: {len(p.calls)} call(s); "
                f"adds {p.added}"
            )
        out += [f"  over budget, not probed: {text}" for text in self.over_budget]
        return out


def plan_probes(
    project: Project,
    suites: list[Suite],
    saved: SavedRun,
    escalation: EscalationReport,
    *,
    budget: int,
    reference: ResolvedModel | None,
    replay: bool,
) -> ProbePlan:
    """The probes of the run's failing cases that fit the budget, most expensive advice first."""
    by_name = {s.name: s for s in suites}
    ran = {s.name: s.prompt_fingerprint for s in saved.meta.suites}
    changed = {
        name
        for name, suite in by_name.items()
        if ran.get(name, suite.prompt.fingerprint) != suite.prompt.fingerprint
    }
    failing = [c for c in escalation.cases if c.status == "failed"]
    wanted = {(c.suite, c.case, c.model) for c in failing}
    gathered = gather(saved.results(), wanted)
    passing: dict[tuple[str, str, str], str] = {}
    for result in saved.results():
        if result.passed and result.output and (result.suite, result.case, result.model) not in passing:
            passing[(result.suite, result.case, result.model)] = result.output
    order = sorted(
        failing,
        key=lambda c: (c.technique not in EXPENSIVE, c.confidence, c.suite, c.case),
    )
    selected = [(by_name[c.suite], c) for c in order if c.suite in by_name and worth_probing(c)]
    history = failure_history(project.runs_dir)
    grading = prepare_grading(
        project,
        ((suite, case) for suite, d in selected for case in suite.cases if case.id == d.case),
        judge_repeat=1,
        replay=replay,
    )
    probes: list[Probe] = []
    skipped: list[SkippedProbe] = []
    over: list[str] = []
    used = 0
    for suite, diagnosis in selected:
        if suite.name in changed:
            skipped.append(
                SkippedProbe(
                    suite=suite.name,
                    case=diagnosis.case,
                    probe="oracle-context",
                    reason=f"prompt {suite.prompt.name} changed since run {saved.meta.run_id}: probes would "
                    "test another prompt (diagnose the suites to run them first)",
                )
            )
            continue
        case = next((c for c in suite.cases if c.id == diagnosis.case), None)
        if case is None:
            skipped.append(
                SkippedProbe(
                    suite=suite.name,
                    case=diagnosis.case,
                    probe="oracle-context",
                    reason="the case is no longer in the suite",
                )
            )
            continue
        model = project.resolve_model(diagnosis.model)
        entry = gathered.get((diagnosis.suite, diagnosis.case, diagnosis.model))
        checks = list(entry.checks.values()) if entry is not None else []
        found, skips = probes_for_case(suite, case, model, diagnosis, checks, passing, reference, grading)
        versions = {*history.get((suite.name, case.id, diagnosis.model), set()), suite.prompt.fingerprint}
        for item in found:
            item.persists = len(versions)
        cost = sum(len(p.calls) for p in found)
        if used + cost > budget:
            over.append(f"{suite.name}::{case.id} ({cost} calls)")
            continue
        used += cost
        probes += found
        skipped += skips
    return ProbePlan(probes, skipped, over)


def _first_answer(results: list[SampleResult]) -> str | None:
    for result in results:
        if result.output is not None:
            return excerpt(result.output)
        if result.error is not None:
            return f"{result.error.type}: {result.error.message}"[:200]
    return None


def _outcome(probe: Probe, results: list[SampleResult], others: dict[ProbeKind, bool | None]) -> ProbeOutcome:
    produced = [r for r in results if r.passed is not None]
    passed = sum(1 for r in produced if r.passed)
    fixed = passed * 2 > len(produced) if produced else None
    base: dict[str, Any] = {
        "suite": probe.suite.name,
        "case": probe.case.id,
        "model": probe.case_model,
        "probe": probe.kind,
        "added": probe.added,
        "probe_model": probe.model.alias,
        "samples": len(results),
        "passed": passed,
        "errored": len(results) - len(produced),
        "fixed": fixed,
        "diff": probe.diff if fixed else None,
        "answer": _first_answer(results),
    }
    gap: str | None = None
    weight = 0.0
    if fixed is None:
        finding = "no verdict: every probe call errored"
    elif probe.kind == "oracle-context":
        if fixed and all(PASSAGE_HEADER in (r.output or "") for r in produced if r.passed):
            # a base model continues the prompt: an answer that repeats the passage, header and all,
            # passes a contains check without answering anything
            base["fixed"] = None
            finding = "the answer repeats the prompt, passage included: a pass that proves nothing"
        elif fixed:
            gap, weight = "knowledge", PROBE_WEIGHT
            finding = "with the reference facts supplied as context it passed: retrieval would fix this"
        else:
            gap, weight = "knowledge", -PROBE_WEIGHT
            finding = (
                "it failed even with the reference facts supplied: retrieval will not help "
                "(not a knowledge gap: a skill, form or capacity gap)"
            )
    elif probe.kind == "format-repair":
        if fixed:
            gap, weight = "behavior", PROBE_WEIGHT
            finding = "with a format instruction and one example output it passed: a prompt fix will do"
        else:
            finding = "a format instruction and an example did not fix it: not a matter of form"
    elif probe.kind == "few-shot":
        if fixed and others.get("format-repair"):
            gap, weight = "behavior", PROBE_WEIGHT / 2
            finding = "worked examples fixed it, as the format repair did: the form was missing"
        elif fixed:
            gap, weight = "skill", PROBE_WEIGHT
            finding = "with passing cases as worked examples it passed: few-shot prompting teaches the skill"
        elif others.get("oracle-context") is False:
            gap, weight = "skill", PROBE_WEIGHT / 2
            finding = (
                f"worked examples did not teach it in context, and it has failed on {probe.persists} prompt "
                "versions: fine-tuning on the suite's cases is justified (promptops export finetune)"
                if probe.persists >= FINE_TUNE_AFTER_VERSIONS
                else "worked examples did not teach it in context: if the gap persists over prompt versions, "
                "fine-tuning on the suite's cases is justified (promptops export finetune)"
            )
        else:
            finding = "worked examples did not fix it"
    elif probe.kind == "sampling":
        cold = [r for r in produced if probe.groups.get(r.sample, "t=0") == "t=0"]
        cold_passed = sum(1 for r in cold if r.passed)
        base["detail"] = ", ".join(
            f"{label}: {sum(1 for r in produced if probe.groups.get(r.sample) == label and r.passed)} of "
            f"{sum(1 for r in produced if probe.groups.get(r.sample) == label)} passed"
            for label in dict.fromkeys(probe.groups.values())
        )
        stable = bool(cold) and cold_passed * 2 > len(cold)
        base["fixed"] = stable or bool(fixed)
        if stable or fixed:
            gap, weight = "reliability", PROBE_WEIGHT
            finding = (
                "stable at temperature 0" if stable else "the majority vote passes"
            ) + ": reliability hardening (temperature 0, self-consistency) works"
        else:
            finding = "it fails at temperature 0 and under a majority vote too: not a matter of luck"
    else:
        if fixed:
            finding = (
                f"{probe.model.alias} passes it: a capacity gap; a model change, routing, or distillation "
                "(fine-tuning the smaller model on the stronger model's answers) would fix it"
            )
        else:
            finding = f"{probe.model.alias} fails it too: a stronger model alone will not fix it"
    return ProbeOutcome(**base, finding=finding, gap=gap, weight=weight)


def run_probes(
    project: Project,
    plan: ProbePlan,
    *,
    replay: bool,
    use_cache: bool = True,
) -> tuple[list[ProbeOutcome], int, list[str]]:
    """Make the probe calls through the executor; returns outcomes, provider calls, recordings written."""
    calls = [call for probe in plan.probes for call in probe.calls]
    if not calls:
        return [], 0, []
    if not replay:
        for model in {p.model.alias: p.model for p in plan.probes}.values():
            if model.api_key_env and model.api_key() is None:
                raise ConfigError(
                    f"model {model.alias!r} reads its API key from ${model.api_key_env}, which is not set",
                    file=project.config_file,
                )
    suites = {p.suite.name: p.suite for p in plan.probes}
    recordings = [
        r
        for suite in suites.values()
        if (r := read_recording(probe_recording_path(suite), project.relpath(probe_recording_path(suite))))
    ]
    executor = Executor.from_settings(
        project, RunOptions(use_cache=use_cache, replay=replay), recordings=recordings
    )
    results: dict[int, SampleResult] = {}
    index = {id(call): n for n, call in enumerate(calls)}

    async def go() -> None:
        async def one(call: PlannedCall) -> None:
            results[index[id(call)]] = await executor.perform(call, limiter)

        from promptops.executor import AdaptiveLimiter

        limiter = AdaptiveLimiter(executor.concurrency)
        semaphore = asyncio.Semaphore(max(1, executor.concurrency))

        async def bounded(call: PlannedCall) -> None:
            async with semaphore:
                await one(call)

        await asyncio.gather(*(bounded(c) for c in calls))

    try:
        asyncio.run(go())
    finally:
        executor.close()
    outcomes: list[ProbeOutcome] = []
    position = 0
    by_case: dict[tuple[str, str], dict[ProbeKind, bool | None]] = {}
    per_probe = []
    for probe in plan.probes:
        chunk = [results[n] for n in range(position, position + len(probe.calls))]
        position += len(probe.calls)
        per_probe.append((probe, chunk))
        produced = [r for r in chunk if r.passed is not None]
        by_case.setdefault((probe.suite.name, probe.case.id), {})[probe.kind] = (
            sum(1 for r in produced if r.passed) * 2 > len(produced) if produced else None
        )
    for probe, chunk in per_probe:
        outcomes.append(_outcome(probe, chunk, by_case[(probe.suite.name, probe.case.id)]))
    misses = [r for r in results.values() if r.error is not None and r.error.type == "ReplayMiss"]
    if misses:
        raise ProviderError(
            f"replay miss: {len(misses)} probe call(s) have no recorded answer; run 'promptops diagnose' "
            "with a key and commit the *.probes.recording.yaml files"
        )
    written = [] if replay else _record(project, per_probe)
    return outcomes, executor.provider_calls, written


def probe_recording_path(suite: Suite) -> Any:
    return companion_path(suite.path, PROBES_RECORDING_SUFFIX)


def _record(project: Project, per_probe: list[tuple[Probe, list[SampleResult]]]) -> list[str]:
    """Write each suite's probe answers next to it, so ``diagnose --replay`` runs keyless."""
    by_suite: dict[str, tuple[Suite, dict[str, Recording]]] = {}
    for probe, chunk in per_probe:
        _, fresh = by_suite.setdefault(probe.suite.name, (probe.suite, {}))
        for r in chunk:
            if r.output is None or r.request_key is None:
                continue
            fresh[r.request_key] = Recording(
                case=r.case,
                model=r.model,
                model_id=r.model_id,
                sample=r.sample,
                key=r.request_key,
                output=r.output,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                cost_usd=r.cost_usd,
                latency_ms=r.latency_ms,
            )
    written = []
    for suite, fresh in by_suite.values():
        path = probe_recording_path(suite)
        old = read_recording(path, project.relpath(path))
        case_ids = [c.id for c in suite.cases]
        kept = [e for e in (old.recordings if old else []) if e.key not in fresh and e.case in case_ids]
        recording = RecordingFile(
            suite=suite.name,
            prompt_version=suite.prompt.version,
            prompt_fingerprint=suite.prompt.fingerprint,
            recordings=[*kept, *fresh.values()],
        )
        write_recording(path, recording, case_ids)
        written.append(project.relpath(path))
    return written


def probe_evidence(outcomes: Iterable[ProbeOutcome]) -> dict[tuple[str, str, str], list[Evidence]]:
    """Each case's probe outcomes as evidence for ``classify_case``."""
    found: dict[tuple[str, str, str], list[Evidence]] = {}
    for o in outcomes:
        key = (o.suite, o.case, o.model)
        text = f"{o.probe}: added {o.added}; {o.passed} of {o.samples} passed on {o.probe_model}: {o.finding}"
        found.setdefault(key, []).append(
            Evidence(signal="probe", gap=o.gap, weight=o.weight, source="probe", text=text[:600])  # type: ignore[arg-type]
        )
    return found


def diagnose_run(
    project: Project,
    suites: list[Suite],
    saved: SavedRun,
    *,
    budget: int = DEFAULT_BUDGET,
    reference_model: str | None = None,
    replay: bool = False,
    on_plan: Any = None,
) -> DiagnoseReport:
    """Probe the failing cases of ``saved`` and escalate with the measured outcomes.

    ``on_plan`` receives the plan's lines before any call is made.
    """
    if budget < 1:
        raise UsageError(f"--probe-budget must be at least 1, got {budget}")
    summary = saved.summary()
    if summary is None:
        raise UsageError(f"run {saved.meta.run_id} did not finish: nothing to diagnose")
    reference = check_reference_model(project, reference_model)
    before = escalate_run(project, saved.meta, summary, saved.results())
    plan = plan_probes(project, suites, saved, before, budget=budget, reference=reference, replay=replay)
    lines = plan.lines()
    if on_plan is not None:
        on_plan(lines)
    outcomes, provider_calls, written = run_probes(project, plan, replay=replay)
    evidence = probe_evidence(outcomes)
    after = escalate_run(project, saved.meta, summary, saved.results(), probes=evidence)
    return DiagnoseReport(
        source=saved.meta.run_id,
        budget=budget,
        planned_calls=plan.calls,
        provider_calls=provider_calls,
        plan=lines,
        outcomes=outcomes,
        skipped=plan.skipped,
        escalation=after,
        recordings=written,
    )
