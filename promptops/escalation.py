"""Escalation: classify each failing or regressed case's gap, then turn the pattern into advice.

Gap classification (``classify_case``) decides, per failing assertion, which
deficiency it shows, in this order of precedence:

1. the assertion's own ``gap`` override, else
2. the case's ``gap`` hint, else
3. the assertion type: expected content (``contains`` and friends) → knowledge;
   format, structure, length, regex, JSON validity and any ``not-`` check →
   behavior; task answers (``equals``, ``one-of``, ``json-match``, ``golden``
   and unknown types) → skill.

A case whose samples both pass and fail, or whose failing outputs disagree, also
shows a reliability gap. A case can show several gaps.

Rules (``promptops/rules/builtin.yaml`` plus an optional project rules file)
are then matched per prompt and model against the gaps, how many cases they
affect, how many prompt versions they have survived (past run records), the
prompt's shape (few-shot, structured output, length), latency and cost against
the budgets, and the project's constraints.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptops.assertions import GapType
from promptops.config import Constraints, Project
from promptops.errors import ConfigError, UsageError
from promptops.locations import describe_validation_error, line_of, load_yaml
from promptops.results import AssertionOutcome, RunMeta, RunSummary, SampleResult

SCHEMA_VERSION = 1
GAPS: tuple[GapType, ...] = ("knowledge", "behavior", "skill", "reliability")
Technique = Literal[
    "prompt-engineering",
    "rag",
    "fine-tuning",
    "reliability-hardening",
    "model-change",
    "routing-caching",
    "self-hosting",
]
Confidence = Literal["high", "medium", "low"]
SELF_HOSTABLE: frozenset[str] = frozenset(
    {"prompt-engineering", "rag", "fine-tuning", "reliability-hardening", "self-hosting", "routing-caching"}
)

KNOWLEDGE_TYPES = frozenset(
    {"contains", "icontains", "contains-any", "contains-all", "icontains-any", "icontains-all"}
)
BEHAVIOR_TYPES = frozenset(
    {"regex", "starts-with", "is-json", "contains-json", "json-schema", "word-count", "length"}
)
BUDGET_TYPES = frozenset({"latency", "cost"})
# providers whose models run on the user's own machines unless api_base says otherwise
_SELF_HOSTED_PROVIDERS = ("local/", "ollama/", "ollama_chat/", "hosted_vllm/", "llamafile/", "lm_studio/")


# --- classification ---------------------------------------------------------------------------


class GapEvidence(BaseModel):
    """Why a case was given a gap."""

    model_config = ConfigDict(extra="forbid")

    gap: GapType
    decided_by: Literal["assertion-gap", "case-hint", "assertion-type", "samples"]
    """Which rule of precedence decided: an assertion's ``gap``, the case's ``gap`` hint, the failing
    assertion's type, or the spread of results across samples."""
    detail: str
    """The assertion and reason, or the sample counts."""


class CaseGaps(BaseModel):
    """A failing or regressed case and the gaps it shows."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    case: str
    prompt: str
    model: str
    model_id: str
    status: str
    """``failed`` (in a test run), or the drift status (``regression``, ``flaky`` ...)."""
    samples: int
    passed_samples: int
    pass_rate: float | None
    prompt_fingerprint: str | None = None
    gaps: list[GapType]
    evidence: list[GapEvidence]


@dataclass(frozen=True)
class CaseSignal:
    """What escalation needs to know about one failing case, from a run or a drift report."""

    suite: str
    case: str
    prompt: str
    model: str
    model_id: str
    status: str
    samples: int
    passed_samples: int
    errored_samples: int
    gap_hint: GapType | None
    failed_assertions: list[AssertionOutcome]
    distinct_failed_outputs: int = 1
    prompt_fingerprint: str | None = None

    @property
    def pass_rate(self) -> float | None:
        produced = self.samples - self.errored_samples
        return self.passed_samples / produced if produced else None


def type_gap(assertion_type: str) -> GapType | None:
    """The gap a failing assertion of this type shows, or None for latency and cost budgets."""
    if assertion_type.startswith("not-"):
        return None if assertion_type[4:] in BUDGET_TYPES else "behavior"
    if assertion_type in BUDGET_TYPES:
        return None
    if assertion_type in KNOWLEDGE_TYPES:
        return "knowledge"
    if assertion_type in BEHAVIOR_TYPES:
        return "behavior"
    return "skill"


def classify_case(signal: CaseSignal) -> CaseGaps:
    """The gaps ``signal`` shows, each with the evidence that decided it."""
    evidence: list[GapEvidence] = []
    for outcome in signal.failed_assertions:
        detail = f"{outcome.type}: {outcome.reason}"
        if outcome.gap is not None:
            evidence.append(GapEvidence(gap=outcome.gap, decided_by="assertion-gap", detail=detail))
        elif signal.gap_hint is not None:
            evidence.append(GapEvidence(gap=signal.gap_hint, decided_by="case-hint", detail=detail))
        else:
            gap = type_gap(outcome.type)
            if gap is not None:
                evidence.append(GapEvidence(gap=gap, decided_by="assertion-type", detail=detail))
    produced = signal.samples - signal.errored_samples
    if 0 < signal.passed_samples < produced:
        evidence.append(
            GapEvidence(
                gap="reliability",
                decided_by="samples",
                detail=f"{signal.passed_samples} of {produced} samples passed",
            )
        )
    elif produced > 1 and signal.distinct_failed_outputs > 1:
        evidence.append(
            GapEvidence(
                gap="reliability",
                decided_by="samples",
                detail=f"{signal.distinct_failed_outputs} different answers across {produced} samples",
            )
        )
    gaps = [g for g in GAPS if any(e.gap == g for e in evidence)]
    return CaseGaps(
        suite=signal.suite,
        case=signal.case,
        prompt=signal.prompt,
        model=signal.model,
        model_id=signal.model_id,
        status=signal.status,
        samples=signal.samples,
        passed_samples=signal.passed_samples,
        pass_rate=signal.pass_rate,
        prompt_fingerprint=signal.prompt_fingerprint,
        gaps=gaps,
        evidence=evidence,
    )


# --- rules -------------------------------------------------------------------------------------


class RuleMatch(BaseModel):
    """Conditions of a rule; all given ones must hold."""

    model_config = ConfigDict(extra="forbid")

    gap: GapType | None = None
    """The gap the affected cases must show; rules without one look at the prompt and model as a whole."""
    min_cases: int = Field(default=1, ge=1)
    """Cases with the gap needed (for gap rules)."""
    min_share: float = Field(default=0.0, ge=0, le=1)
    """Share of the prompt's cases with the gap needed."""
    min_persists_versions: int | None = Field(default=None, ge=1)
    """The same case failed in at least this many prompt versions (from past run records)."""
    max_persists_versions: int | None = Field(default=None, ge=1)
    few_shot: bool | None = None
    """The prompt already shows worked examples (assistant turns or example blocks)."""
    structured_output: bool | None = None
    """The prompt constrains its output (response_format in params)."""
    min_prompt_tokens: int | None = Field(default=None, ge=0)
    """Mean prompt tokens per call at least this."""
    max_prompt_tokens: int | None = Field(default=None, ge=0)
    latency_over_budget: bool | None = None
    """p95 latency above ``constraints.latency_p95_ms``."""
    cost_over_budget: bool | None = None
    """Cost per 1,000 calls above ``constraints.cost_per_1k_calls_usd``."""
    external_model: bool | None = None
    """The model is served by an external provider (not local, not a private api_base)."""
    constraints: dict[str, list[str]] = Field(default_factory=dict)
    """Constraint name → values that match, e.g. ``{update_frequency: [daily, weekly]}``."""

    @field_validator("constraints")
    @classmethod
    def _known_constraints(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = set(Constraints.model_fields)
        for name in value:
            if name not in known:
                raise ValueError(f"unknown constraint {name!r}; known: {', '.join(sorted(known))}")
        return value


class RuleAction(BaseModel):
    """What a rule suggests when it matches."""

    model_config = ConfigDict(extra="forbid")

    technique: Technique
    confidence: Confidence = "medium"
    blocking: bool = False
    """A gate: the current setup violates a constraint (``promptops escalate`` exits 1)."""
    weighs: list[str] = Field(default_factory=list)
    """Constraints the rationale weighs; named in the output."""
    rationale: str
    next_steps: list[str] = Field(default_factory=list)
    supersedes: list[str] = Field(default_factory=list)
    """Rule ids this one replaces when both match the same prompt and model."""
    forbid: list[Technique] = Field(default_factory=list)
    """Techniques that must not be suggested for the same prompt, model and gap."""
    restrict_to_self_hostable: bool = False
    """Suppress suggestions that need an external provider for this model."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    description: str = ""
    when: RuleMatch = Field(default_factory=RuleMatch)
    then: RuleAction


class RulesFile(BaseModel):
    """A rules YAML: the built-in one, or a project's (``escalation.rules``)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    rules: list[Rule] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)
    """Built-in rule ids to switch off."""


PLACEHOLDERS = frozenset(
    {
        "prompt",
        "model",
        "model_id",
        "gap",
        "n_cases",
        "n_total",
        "share",
        "case_ids",
        "suites",
        "versions",
        "pass_rates",
        "prompt_tokens",
        "latency_p95_ms",
        "latency_budget_ms",
        "cost_per_1k",
        "cost_budget",
        "data_privacy",
        "deployment",
        "update_frequency",
        "control",
        "n_golden",
    }
)


def _check_templates(rules: RulesFile, data: Any, file: str) -> None:
    for index, rule in enumerate(rules.rules):
        for key, text in [
            ("rationale", rule.then.rationale),
            *[("next_steps", s) for s in rule.then.next_steps],
        ]:
            for _, name, _, _ in string.Formatter().parse(text):
                if name is not None and name not in PLACEHOLDERS:
                    raise ConfigError(
                        f"rule {rule.id!r}: unknown placeholder {{{name}}} in {key}; "
                        f"known: {', '.join(sorted(PLACEHOLDERS))}",
                        file=file,
                        line=line_of(data, ("rules", index, "then", key)),
                    )


def parse_rules(text: str, file: str) -> RulesFile:
    """Parse and validate a rules file; every mistake is a ConfigError with file and line."""
    data = load_yaml(text, file=file, error=ConfigError)
    if not isinstance(data, dict):
        raise ConfigError("a rules file must be a mapping with a 'rules' list", file=file, line=1)
    try:
        rules = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(exc, data, file=file, error=ConfigError) from None
    _check_templates(rules, data, file)
    seen: set[str] = set()
    for index, rule in enumerate(rules.rules):
        if rule.id in seen:
            raise ConfigError(
                f"duplicate rule id {rule.id!r}", file=file, line=line_of(data, ("rules", index, "id"))
            )
        seen.add(rule.id)
    return rules


def builtin_rules() -> RulesFile:
    text = resources.files("promptops.rules").joinpath("builtin.yaml").read_text(encoding="utf-8")
    return parse_rules(text, "promptops/rules/builtin.yaml")


def load_rules(project: Project | None) -> list[Rule]:
    """Built-in rules, overridden and extended by the project's rules file."""
    rules = {rule.id: rule for rule in builtin_rules().rules}
    path_text = project.config.escalation.rules if project else None
    if project is not None and path_text:
        path = project.root / path_text
        shown = project.relpath(path)
        if not path.is_file():
            raise ConfigError(f"escalation rules file {path_text!r} not found", file=project.config_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read rules file: {exc}", file=shown) from None
        extra = parse_rules(text, shown)
        for rule_id in extra.disable:
            if rule_id not in rules:
                raise ConfigError(f"disable: no built-in rule {rule_id!r}", file=shown)
            del rules[rule_id]
        for rule in extra.rules:
            rules[rule.id] = rule
    return list(rules.values())


# --- context: what is known about a prompt and model ------------------------------------------


@dataclass
class GroupContext:
    """Everything a rule may look at for one prompt and model."""

    prompt: str
    model: str
    model_id: str
    suites: list[str]
    total_cases: int
    cases: list[CaseGaps] = field(default_factory=list)
    latency_p95_ms: float | None = None
    cost_per_1k: float | None = None
    prompt_tokens: float | None = None
    few_shot: bool | None = None
    structured_output: bool | None = None
    external_model: bool = True
    persists: dict[tuple[str, str], int] = field(default_factory=dict)
    """(suite, case) → prompt versions it failed in."""
    n_golden: int = 0


def is_external(model_id: str, api_base: str | None) -> bool:
    """True when calls leave the organisation: a hosted provider not behind a private api_base."""
    if model_id.startswith(_SELF_HOSTED_PROVIDERS):
        return False
    if api_base:
        host = urlparse(api_base).hostname or ""
        private = (
            host in ("localhost", "::1")
            or host.startswith(("127.", "10.", "192.168."))
            or re.match(r"^172\.(1[6-9]|2\d|3[01])\.", host) is not None
            or host.endswith((".internal", ".local", ".lan", ".corp"))
        )
        return not private
    return True


def _prompt_shape(project: Project | None, prompt: str) -> tuple[bool | None, bool | None]:
    """(few_shot, structured_output) of the prompt in the working tree, None when unknown."""
    if project is None:
        return None, None
    from promptops.errors import PromptOpsError
    from promptops.prompts import load_prompt, project_source

    try:
        loaded = load_prompt(project_source(project), prompt)
    except PromptOpsError:
        return None, None
    body = loaded.body + "".join(loaded.source.read(i) or "" for i in loaded.includes)
    few_shot = (
        '{% role "assistant"' in body
        or "{% role 'assistant'" in body
        or len(re.findall(r"(?im)^\s*(example\b|input:|output:|q:|a:)", body)) >= 2
    )
    params = loaded.front_matter.params
    structured = "response_format" in params or "json_schema" in params or "grammar" in params
    return few_shot, structured


def failure_history(project: Project | None) -> dict[tuple[str, str, str], set[str]]:
    """(suite, case, model) → prompt fingerprints it failed with, from every saved run."""
    history: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    if project is None or not project.runs_dir.is_dir():
        return history
    for folder in sorted(project.runs_dir.iterdir()):
        try:
            meta = RunMeta.model_validate_json((folder / "meta.json").read_text(encoding="utf-8"))
            summary = RunSummary.model_validate_json((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError):
            continue  # unfinished or foreign folders carry no verdicts
        fingerprints = {s.name: s.prompt_fingerprint for s in meta.suites}
        for verdict in summary.cases:
            if verdict.status == "failed" and verdict.suite in fingerprints:
                history[(verdict.suite, verdict.case, verdict.model)].add(fingerprints[verdict.suite])
    return history


# --- matching ----------------------------------------------------------------------------------


class CaseEvidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suite: str
    case: str
    status: str
    pass_rate: float | None
    samples: int
    persists_versions: int = 1
    """Prompt versions this case has failed in (this one included)."""
    reasons: list[str] = Field(default_factory=list)


class Escalation(BaseModel):
    """One suggestion: what to do about a prompt on a model, and why."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    technique: Technique
    confidence: Confidence
    blocking: bool = False
    prompt: str
    model: str
    model_id: str
    gap: GapType | None = None
    rationale: str
    next_steps: list[str]
    constraints_weighed: list[str]
    """The production constraints the rule weighed, with their configured values."""
    affected_cases: int = 0
    total_cases: int = 0
    evidence: list[CaseEvidence] = Field(default_factory=list)
    latency_p95_ms: float | None = None
    cost_per_1k_calls_usd: float | None = None


class EscalationReport(BaseModel):
    """Gaps of every failing case and the suggestions they lead to."""

    model_config = ConfigDict(extra="forbid")

    version: int = SCHEMA_VERSION
    source: str
    """Run id or drift report the escalation was computed from."""
    cases: list[CaseGaps]
    escalations: list[Escalation]

    @property
    def blocking(self) -> bool:
        return any(e.blocking for e in self.escalations)


class _SafeFormat(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fmt_number(value: float | None, digits: int = 0) -> str:
    return "unknown" if value is None else f"{value:,.{digits}f}"


def _values(
    ctx: GroupContext, gap: GapType | None, cases: list[CaseGaps], constraints: Constraints
) -> _SafeFormat:
    rates = ", ".join(f"{c.case} {c.passed_samples}/{c.samples}" for c in cases[:6]) + (
        " …" if len(cases) > 6 else ""
    )
    ids = ", ".join(c.case for c in cases[:8]) + (f" and {len(cases) - 8} more" if len(cases) > 8 else "")
    persist = max((ctx.persists.get((c.suite, c.case), 1) for c in cases), default=1)
    return _SafeFormat(
        prompt=ctx.prompt,
        model=ctx.model,
        model_id=ctx.model_id,
        gap=gap or "-",
        n_cases=len(cases),
        n_total=ctx.total_cases,
        share=f"{len(cases) / ctx.total_cases:.0%}" if ctx.total_cases else "-",
        case_ids=ids or "-",
        suites=", ".join(ctx.suites),
        versions=persist,
        pass_rates=rates or "-",
        prompt_tokens=_fmt_number(ctx.prompt_tokens),
        latency_p95_ms=_fmt_number(ctx.latency_p95_ms),
        latency_budget_ms=_fmt_number(constraints.latency_p95_ms),
        cost_per_1k=_fmt_number(ctx.cost_per_1k, 2),
        cost_budget=_fmt_number(constraints.cost_per_1k_calls_usd, 2),
        data_privacy=constraints.data_privacy or "unset",
        deployment=constraints.deployment or "unset",
        update_frequency=constraints.update_frequency or "unset",
        control=constraints.control or "unset",
        n_golden=ctx.n_golden or ctx.total_cases,
    )


def _matches(rule: Rule, ctx: GroupContext, constraints: Constraints) -> list[CaseGaps] | None:
    """The cases a rule matches on for ``ctx`` (empty for whole-group rules), or None when it does not."""
    when = rule.when
    cases: list[CaseGaps] = []
    if when.gap is not None:
        cases = [c for c in ctx.cases if when.gap in c.gaps]
        if len(cases) < when.min_cases or not cases:
            return None
        if ctx.total_cases and len(cases) / ctx.total_cases < when.min_share:
            return None
        persist = max(ctx.persists.get((c.suite, c.case), 1) for c in cases)
        if when.min_persists_versions is not None and persist < when.min_persists_versions:
            return None
        if when.max_persists_versions is not None and persist > when.max_persists_versions:
            return None
    checks: list[tuple[Any, Any]] = [
        (when.few_shot, ctx.few_shot),
        (when.structured_output, ctx.structured_output),
        (when.external_model, ctx.external_model),
    ]
    for wanted, actual in checks:
        if wanted is not None and actual is not wanted:
            return None
    if when.min_prompt_tokens is not None and (
        ctx.prompt_tokens is None or ctx.prompt_tokens < when.min_prompt_tokens
    ):
        return None
    if when.max_prompt_tokens is not None and (
        ctx.prompt_tokens is None or ctx.prompt_tokens > when.max_prompt_tokens
    ):
        return None
    if when.latency_over_budget is not None:
        over = (
            constraints.latency_p95_ms is not None
            and ctx.latency_p95_ms is not None
            and ctx.latency_p95_ms > constraints.latency_p95_ms
        )
        if over is not when.latency_over_budget:
            return None
    if when.cost_over_budget is not None:
        over = (
            constraints.cost_per_1k_calls_usd is not None
            and ctx.cost_per_1k is not None
            and ctx.cost_per_1k > constraints.cost_per_1k_calls_usd
        )
        if over is not when.cost_over_budget:
            return None
    for name, allowed in when.constraints.items():
        if getattr(constraints, name) not in allowed:
            return None
    return cases


def _weighed(rule: Rule, constraints: Constraints) -> list[str]:
    """The constraints a rule weighed, as ``name=value`` with the configured values."""
    names = {"latency": "latency_p95_ms", "cost": "cost_per_1k_calls_usd"}
    out = []
    for name in rule.then.weighs:
        field_name = names.get(name, name)
        value = getattr(constraints, field_name, None)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out.append(f"{field_name}={value if value is not None else 'unset'}")
    return out


def escalate_groups(
    groups: list[GroupContext], rules: list[Rule], constraints: Constraints
) -> list[Escalation]:
    """Match every rule against every prompt and model."""
    found: list[Escalation] = []
    for ctx in groups:
        fired: list[tuple[Rule, list[CaseGaps]]] = []
        for rule in rules:
            cases = _matches(rule, ctx, constraints)
            if cases is not None:
                fired.append((rule, cases))
        superseded = {sid for rule, _ in fired for sid in rule.then.supersedes}
        forbidden = {(rule.when.gap, t) for rule, _ in fired for t in rule.then.forbid}
        self_hosted_only = any(rule.then.restrict_to_self_hostable for rule, _ in fired)
        for rule, cases in fired:
            action = rule.then
            if rule.id in superseded:
                continue
            if (rule.when.gap, action.technique) in forbidden:
                continue
            if self_hosted_only and not action.blocking and action.technique not in SELF_HOSTABLE:
                continue
            values = _values(ctx, rule.when.gap, cases, constraints)
            found.append(
                Escalation(
                    rule=rule.id,
                    technique=action.technique,
                    confidence=action.confidence,
                    blocking=action.blocking,
                    prompt=ctx.prompt,
                    model=ctx.model,
                    model_id=ctx.model_id,
                    gap=rule.when.gap,
                    rationale=" ".join(action.rationale.format_map(values).split()),
                    next_steps=[" ".join(s.format_map(values).split()) for s in action.next_steps],
                    constraints_weighed=_weighed(rule, constraints),
                    affected_cases=len(cases),
                    total_cases=ctx.total_cases,
                    evidence=[
                        CaseEvidence(
                            suite=c.suite,
                            case=c.case,
                            status=c.status,
                            pass_rate=c.pass_rate,
                            samples=c.samples,
                            persists_versions=ctx.persists.get((c.suite, c.case), 1),
                            reasons=[e.detail for e in c.evidence if e.gap == rule.when.gap][:3],
                        )
                        for c in cases[:20]
                    ],
                    latency_p95_ms=ctx.latency_p95_ms,
                    cost_per_1k_calls_usd=ctx.cost_per_1k,
                )
            )
    order = {"high": 0, "medium": 1, "low": 2}
    found.sort(key=lambda e: (not e.blocking, e.prompt, e.model, order[e.confidence], e.rule))
    return found


# --- entry points ------------------------------------------------------------------------------


@dataclass
class _GroupInput:
    model_id: str
    suites: set[str] = field(default_factory=set)
    total_cases: int = 0
    latency_p95_ms: float | None = None
    cost_per_1k: float | None = None
    prompt_tokens: float | None = None


def _api_base(project: Project | None, alias: str) -> str | None:
    if project is None:
        return None
    entry = project.config.models.get(alias)
    return entry.api_base if entry is not None and not isinstance(entry, str) else None


def _golden_count(project: Project | None, suites: Iterable[str]) -> int:
    if project is None:
        return 0
    from promptops.suites import GOLDEN_SUFFIX

    total = 0
    for name in suites:
        path = project.suites_dir / f"{name}{GOLDEN_SUFFIX}"
        if path.is_file():
            total += len(re.findall(r"(?m)^- case: ", path.read_text(encoding="utf-8")))
    return total


def build_report(
    source: str,
    signals: list[CaseSignal],
    inputs: dict[tuple[str, str], _GroupInput],
    project: Project | None,
    current: dict[tuple[str, str, str], str | None] | None = None,
) -> EscalationReport:
    """Classify ``signals`` and match the rules per prompt and model."""
    constraints = project.config.constraints if project else Constraints()
    rules = load_rules(project)
    classified = [classify_case(s) for s in signals]
    history = failure_history(project)
    groups: dict[tuple[str, str], GroupContext] = {}
    for (prompt, model), info in inputs.items():
        few_shot, structured = _prompt_shape(project, prompt)
        groups[(prompt, model)] = GroupContext(
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
            n_golden=_golden_count(project, info.suites),
        )
    for case in classified:
        ctx = groups.get((case.prompt, case.model))
        if ctx is None:
            continue
        ctx.cases.append(case)
        fingerprints = set(history.get((case.suite, case.case, case.model), set()))
        if case.prompt_fingerprint:
            fingerprints.add(case.prompt_fingerprint)
        ctx.persists[(case.suite, case.case)] = max(1, len(fingerprints))
    return EscalationReport(
        source=source,
        cases=[c for c in classified if c.gaps],
        escalations=escalate_groups(list(groups.values()), rules, constraints),
    )


def escalate_run(
    project: Project | None, meta: RunMeta, summary: RunSummary, results: Iterable[SampleResult] = ()
) -> EscalationReport:
    """Escalation for a test run: every failing case of every prompt and model."""
    prompts = {s.name: s.prompt for s in meta.suites}
    fingerprints = {s.name: s.prompt_fingerprint for s in meta.suites}
    outputs: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    failing = {(c.suite, c.case, c.model) for c in summary.cases if c.status == "failed"}
    for result in results:
        key = (result.suite, result.case, result.model)
        if key in failing and result.passed is False and result.output is not None:
            outputs[key].add(" ".join(result.output.split()).casefold())
    inputs: dict[tuple[str, str], _GroupInput] = {}
    for group in summary.groups:
        prompt = prompts.get(group.suite, group.suite)
        info = inputs.setdefault((prompt, group.model), _GroupInput(group.model_id))
        info.suites.add(group.suite)
        info.total_cases += group.cases
        info.latency_p95_ms = max(filter(None, [info.latency_p95_ms, group.latency_p95_ms]), default=None)
        if group.cost_usd is not None and group.samples:
            info.cost_per_1k = group.cost_usd / group.samples * 1000
        if group.samples:
            info.prompt_tokens = group.prompt_tokens / group.samples
    signals = [
        CaseSignal(
            suite=c.suite,
            case=c.case,
            prompt=prompts.get(c.suite, c.suite),
            model=c.model,
            model_id=next(
                (g.model_id for g in summary.groups if g.suite == c.suite and g.model == c.model), c.model
            ),
            status="failed",
            samples=c.samples,
            passed_samples=c.passed_samples,
            errored_samples=c.errored_samples,
            gap_hint=c.gap,
            failed_assertions=c.failed_assertions,
            distinct_failed_outputs=len(outputs.get((c.suite, c.case, c.model), ())) or 1,
            prompt_fingerprint=fingerprints.get(c.suite),
        )
        for c in summary.cases
        if c.status == "failed"
    ]
    return build_report(meta.run_id, signals, inputs, project)


def escalate_drift(project: Project | None, report: Any) -> EscalationReport:
    """Escalation for a drift report: the candidate side's failing and regressed cases."""
    from promptops.drift import DriftReport

    assert isinstance(report, DriftReport)
    inputs: dict[tuple[str, str], _GroupInput] = {}
    prompts: dict[str, str] = {}
    fingerprints: dict[tuple[str, str], str] = {}
    if project is not None:
        prompts.update(_suite_prompts(project))
    for suite in report.suites:
        totals = suite.candidate
        if totals is None:
            continue
        prompt = prompts.get(suite.suite, suite.suite)
        info = inputs.setdefault((prompt, totals.model), _GroupInput(totals.model_id))
        info.suites.add(suite.suite)
        info.total_cases += totals.cases
        info.latency_p95_ms = totals.latency_p95_ms
        info.cost_per_1k = totals.cost_per_1k_calls_usd
        fingerprints[(suite.suite, totals.model)] = totals.prompt_fingerprint
    signals = []
    for case in report.cases:
        side = case.candidate
        if side is None or side.verdict != "failed" or case.candidate_model is None:
            continue
        signals.append(
            CaseSignal(
                suite=case.suite,
                case=case.case,
                prompt=prompts.get(case.suite, case.suite),
                model=side.model,
                model_id=side.model_id,
                status=case.status,
                samples=side.samples,
                passed_samples=side.passed_samples,
                errored_samples=side.errored_samples,
                gap_hint=case.gap,
                failed_assertions=side.failed_assertions,
                prompt_fingerprint=fingerprints.get((case.suite, side.model)),
            )
        )
    return build_report(f"{report.baseline_run}..{report.candidate_run}", signals, inputs, project)


def _suite_prompts(project: Project) -> dict[str, str]:
    """Suite name → prompt name, read from the suite files without full validation."""
    import yaml

    from promptops.suites import discover_suites, suite_name

    found: dict[str, str] = {}
    try:
        paths = discover_suites(project)
    except UsageError:
        return found
    for path in paths:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("prompt"), str):
            found[suite_name(project, path)] = data["prompt"]
    return found
