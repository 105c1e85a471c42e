"""Escalation rules: turn diagnosed cases into advice, weighed against budgets and constraints.

Rules (``promptops/rules/builtin.yaml`` plus an optional project rules file) are matched per prompt
and model. A rule about a gap or a cause matches case by case: each case's own persistence (how
many prompt versions it has failed in) is checked, so one long-failing case neither silences nor
triggers a rule for the others, and ``supersedes`` replaces another rule only for the cases both
cover. Rules about the prompt and model as a whole (budgets, gates) match the group.

Three guards hold whatever the rules say, because the advice would be wrong on its face:
fine-tuning is never suggested for a case that lacks a fact (a knowledge gap, or a missing fact in
its evidence whatever its label), retrieval never for a case whose expected content is already in
the prompt, and neither for a regression the prompt change caused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator

from promptops.assertions import GapType
from promptops.config import Constraints, Project
from promptops.errors import ConfigError
from promptops.escalation.evidence import CaseDiagnosis, Cause
from promptops.locations import line_of, parse_yaml_model, read_yaml_text
from promptops.strict import StrictModel

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
# providers whose models run on the user's own machines unless api_base says otherwise
_SELF_HOSTED_PROVIDERS = ("local/", "ollama/", "ollama_chat/", "hosted_vllm/", "llamafile/", "lm_studio/")


# --- rules -------------------------------------------------------------------------------------


class RuleMatch(StrictModel):
    """Conditions of a rule; all given ones must hold."""

    gap: GapType | None = None
    """The gap the affected cases must show (their deciding gap); rules without a gap or a cause look at
    the prompt and model as a whole."""
    cause: list[Cause] | None = None
    """What introduced the affected cases' failure in a drift: ``prompt-change``, ``model-change``,
    ``model-update``, ``already-failing``, ``new-case``."""
    min_cases: int = Field(default=1, ge=1)
    """Cases with the gap needed (for gap rules)."""
    min_share: float = Field(default=0.0, ge=0, le=1)
    """Share of the prompt's cases with the gap needed."""
    min_persists_versions: int | None = Field(default=None, ge=1)
    """Each affected case failed in at least this many prompt versions (from past run records)."""
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


class RuleAction(StrictModel):
    """What a rule suggests when it matches."""

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


class Rule(StrictModel):
    id: str
    description: str = ""
    when: RuleMatch = Field(default_factory=RuleMatch)
    then: RuleAction


class RulesFile(StrictModel):
    """A rules YAML: the built-in one, or a project's (``escalation.rules``)."""

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
        "baseline",
    }
)


# ``{name}`` and nothing else: no format specs, conversions, attributes or indexes, so a
# rules file cannot make str.format raise or allocate (``{n_cases:1000000000}`` is 1 GB)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


def placeholder_problem(text: str) -> str | None:
    """Why ``text`` is not a valid rationale or next step, or None.

    Placeholders are ``{name}`` with a name from ``PLACEHOLDERS``; ``{{`` and ``}}``
    are literal braces.
    """
    for match in _PLACEHOLDER.finditer(text):
        token = match[0]
        if token in ("{{", "}}"):
            continue
        name = match[1]
        if name is None:
            start = match.start()
            closing = text.find("}", start) if token == "{" else -1
            inner = text[start : closing + 1] if 0 <= closing - start <= 40 else token
            if inner != token:
                return (
                    f"placeholder {inner} is not a plain {{name}}: formats, conversions and indexes "
                    "are not supported"
                )
            return f"a lone {token!r}; write {token * 2} for a literal brace"
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name}}}; known: {', '.join(sorted(PLACEHOLDERS))}"
    return None


def fill_placeholders(text: str, values: dict[str, Any]) -> str:
    """``text`` with each ``{name}`` replaced by its value (``?`` when unknown)."""

    def replace(match: re.Match[str]) -> str:
        if match[1] is not None:
            return str(values.get(match[1], "?"))
        return match[0][0]  # {{ -> {, }} -> }, a lone brace (never validated) stays

    return _PLACEHOLDER.sub(replace, text)


def _check_templates(rules: RulesFile, data: Any, file: str) -> None:
    for index, rule in enumerate(rules.rules):
        texts: list[tuple[str, int | None, str]] = [("rationale", None, rule.then.rationale)]
        texts += [("next_steps", number, step) for number, step in enumerate(rule.then.next_steps)]
        for key, number, text in texts:
            problem = placeholder_problem(text)
            if problem is not None:
                path = ("rules", index, "then", key) + ((number,) if number is not None else ())
                raise ConfigError(f"rule {rule.id!r}: {key}: {problem}", file=file, line=line_of(data, path))


def parse_rules(text: str, file: str) -> RulesFile:
    """Parse and validate a rules file; every mistake is a ConfigError with file and line."""
    rules, data = parse_yaml_model(
        text,
        RulesFile,
        file=file,
        error=ConfigError,
        not_a_mapping="a rules file must be a mapping with a 'rules' list",
    )
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
        if not os.path.isfile(path):  # False, not OSError, for a name too long for the system
            raise ConfigError(f"escalation rules file {path_text!r} not found", file=project.config_file)
        extra = parse_rules(read_yaml_text(path, file=shown, error=ConfigError, what="rules file"), shown)
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
    cases: list[CaseDiagnosis] = field(default_factory=list)
    latency_p95_ms: float | None = None
    cost_per_1k: float | None = None
    prompt_tokens: float | None = None
    few_shot: bool | None = None
    structured_output: bool | None = None
    external_model: bool = True
    persists: dict[tuple[str, str], int] = field(default_factory=dict)
    """(suite, case) → prompt versions it failed in."""
    n_golden: int = 0
    baseline: str | None = None
    """What the other side of a drift ran: a model id or a prompt version."""


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


# --- matching ----------------------------------------------------------------------------------


class CaseEvidence(StrictModel):
    suite: str
    case: str
    status: str
    pass_rate: float | None
    samples: int
    persists_versions: int = 1
    """Prompt versions this case has failed in (this one included)."""
    reasons: list[str] = Field(default_factory=list)
    """The evidence that decided the case's gap."""


class Escalation(StrictModel):
    """One suggestion: what to do about a prompt on a model, and why."""

    rule: str
    technique: Technique
    confidence: Confidence
    blocking: bool = False
    prompt: str
    model: str
    model_id: str
    gap: GapType | None = None
    cause: Cause | None = None
    """Set for rules about what introduced a failure (a prompt change, a model change)."""
    rationale: str
    next_steps: list[str]
    constraints_weighed: list[str]
    """The production constraints the rule weighed, with their configured values."""
    affected_cases: int = 0
    total_cases: int = 0
    evidence: list[CaseEvidence] = Field(default_factory=list)
    latency_p95_ms: float | None = None
    cost_per_1k_calls_usd: float | None = None


def _fmt_number(value: float | None, digits: int = 0) -> str:
    return "unknown" if value is None else f"{value:,.{digits}f}"


def _persist(ctx: GroupContext, case: CaseDiagnosis) -> int:
    return ctx.persists.get((case.suite, case.case), 1)


def _values(
    ctx: GroupContext, gap: GapType | None, cases: list[CaseDiagnosis], constraints: Constraints
) -> dict[str, Any]:
    rates = ", ".join(f"{c.case} {c.passed_samples}/{c.samples}" for c in cases[:6]) + (
        " …" if len(cases) > 6 else ""
    )
    ids = ", ".join(c.case for c in cases[:8]) + (f" and {len(cases) - 8} more" if len(cases) > 8 else "")
    persist = max((_persist(ctx, c) for c in cases), default=1)
    return dict(
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
        baseline=ctx.baseline or "the baseline",
    )


def _group_holds(rule: Rule, ctx: GroupContext, constraints: Constraints) -> bool:
    """The conditions of ``rule`` about the prompt and model as a whole."""
    when = rule.when
    checks: list[tuple[Any, Any]] = [
        (when.few_shot, ctx.few_shot),
        (when.structured_output, ctx.structured_output),
        (when.external_model, ctx.external_model),
    ]
    for wanted, actual in checks:
        # an unknown shape (a report that did not keep the prompt) counts as absent
        if wanted is not None and bool(actual) is not wanted:
            return False
    if when.min_prompt_tokens is not None and (
        ctx.prompt_tokens is None or ctx.prompt_tokens < when.min_prompt_tokens
    ):
        return False
    if when.max_prompt_tokens is not None and (
        ctx.prompt_tokens is None or ctx.prompt_tokens > when.max_prompt_tokens
    ):
        return False
    if when.latency_over_budget is not None:
        over = (
            constraints.latency_p95_ms is not None
            and ctx.latency_p95_ms is not None
            and ctx.latency_p95_ms > constraints.latency_p95_ms
        )
        if over is not when.latency_over_budget:
            return False
    if when.cost_over_budget is not None:
        over = (
            constraints.cost_per_1k_calls_usd is not None
            and ctx.cost_per_1k is not None
            and ctx.cost_per_1k > constraints.cost_per_1k_calls_usd
        )
        if over is not when.cost_over_budget:
            return False
    return all(getattr(constraints, name) in allowed for name, allowed in when.constraints.items())


def is_case_rule(rule: Rule) -> bool:
    return rule.when.gap is not None or rule.when.cause is not None


def _case_holds(rule: Rule, ctx: GroupContext, case: CaseDiagnosis) -> bool:
    """The conditions of ``rule`` about one case: its gap, cause and persistence."""
    when = rule.when
    # a hint decides the gap, but the remedy for what the evidence shows stays open (the guards may
    # rule out the hinted gap's remedy, e.g. retrieval for content already in the prompt)
    if when.gap is not None and when.gap not in (case.gap, case.evidence_gap):
        return False
    cause = case.attribution.cause if case.attribution else None
    if when.cause is not None and cause not in when.cause:
        return False
    persist = _persist(ctx, case)
    if when.min_persists_versions is not None and persist < when.min_persists_versions:
        return False
    return when.max_persists_versions is None or persist <= when.max_persists_versions


_MISSING_FACT = ("missing-fact", "different-value")


def lacks_fact(case: CaseDiagnosis) -> bool:
    """The case misses a fact, whatever gap its label says: never fine-tune it in."""
    return (
        case.gap == "knowledge"
        or "knowledge" in case.gaps
        or any(
            e.signal in _MISSING_FACT or (e.signal == "refusal" and e.gap == "knowledge")
            for e in case.evidence
        )
    )


def guard_allows(technique: str, case: CaseDiagnosis) -> bool:
    """The guards that hold whatever the rules say."""
    prompt_caused = case.attribution is not None and case.attribution.cause == "prompt-change"
    if technique == "fine-tuning":
        return not (lacks_fact(case) or prompt_caused)
    if technique == "rag":
        # the expected content is already in the prompt: retrieval would add what the model ignored
        return not (case.grounded is True or prompt_caused)
    return True


def _matches(rule: Rule, ctx: GroupContext, constraints: Constraints) -> list[CaseDiagnosis] | None:
    """The cases a rule matches on for ``ctx`` (empty for whole-group rules), or None when it does not."""
    if not _group_holds(rule, ctx, constraints):
        return None
    if not is_case_rule(rule):
        return []
    cases = [c for c in ctx.cases if _case_holds(rule, ctx, c) and guard_allows(rule.then.technique, c)]
    if not cases or len(cases) < rule.when.min_cases:
        return None
    if ctx.total_cases and len(cases) / ctx.total_cases < rule.when.min_share:
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


def _reasons(case: CaseDiagnosis) -> list[str]:
    deciding = [e.text for e in case.evidence if e.gap == case.gap]
    notes = [case.attribution.text] if case.attribution else []
    return (notes + deciding)[:3]


def _fire(
    ctx: GroupContext, rules: list[Rule], constraints: Constraints
) -> list[tuple[Rule, list[CaseDiagnosis]]]:
    """The rules that hold for ``ctx`` with their cases, after supersedes, forbids and gates."""
    fired: list[tuple[Rule, list[CaseDiagnosis]]] = []
    for rule in rules:
        cases = _matches(rule, ctx, constraints)
        if cases is not None:
            fired.append((rule, cases))
    taken: dict[str, set[tuple[str, str]]] = {}
    for rule, cases in fired:
        for target in rule.then.supersedes:
            taken.setdefault(target, set()).update((c.suite, c.case) for c in cases)
    forbidden = {(rule.when.gap, t) for rule, _ in fired for t in rule.then.forbid}
    self_hosted_only = any(rule.then.restrict_to_self_hostable for rule, _ in fired)
    kept: list[tuple[Rule, list[CaseDiagnosis]]] = []
    for rule, cases in fired:
        action = rule.then
        if self_hosted_only and not action.blocking and action.technique not in SELF_HOSTABLE:
            continue
        if not is_case_rule(rule):
            if rule.id not in taken:
                kept.append((rule, cases))
            continue
        # a superseding rule replaces this one only for the cases it covers itself
        remaining = [
            c
            for c in cases
            if (c.suite, c.case) not in taken.get(rule.id, set())
            and not any((g, action.technique) in forbidden for g in c.gaps[:1])
        ]
        if remaining:
            kept.append((rule, remaining))
    return kept


def escalate_groups(
    groups: list[GroupContext], rules: list[Rule], constraints: Constraints
) -> list[Escalation]:
    """Match every rule against every prompt and model, and note on each case the remedy chosen for it."""
    found: list[Escalation] = []
    order = {"high": 0, "medium": 1, "low": 2}
    for ctx in groups:
        chosen: dict[tuple[str, str], tuple[tuple[int, int, int], Rule]] = {}
        for position, (rule, cases) in enumerate(_fire(ctx, rules, constraints)):
            action = rule.then
            values = _values(ctx, rule.when.gap, cases, constraints)
            for case in cases:
                # a cause rule about a prompt change outranks gap rules; then the case's own gap
                rank = (
                    0 if rule.when.cause and "prompt-change" in rule.when.cause else 1,
                    0 if rule.when.gap == case.gap else 1,
                    order[action.confidence] * 100 + position,
                )
                if rule.when.cause and "prompt-change" not in rule.when.cause:
                    rank = (2, *rank[1:])
                key = (case.suite, case.case)
                if key not in chosen or rank < chosen[key][0]:
                    chosen[key] = (rank, rule)
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
                    cause=rule.when.cause[0] if rule.when.cause else None,
                    rationale=" ".join(fill_placeholders(action.rationale, values).split()),
                    next_steps=[" ".join(fill_placeholders(s, values).split()) for s in action.next_steps],
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
                            persists_versions=_persist(ctx, c),
                            reasons=_reasons(c),
                        )
                        for c in cases[:20]
                    ],
                    latency_p95_ms=ctx.latency_p95_ms,
                    cost_per_1k_calls_usd=ctx.cost_per_1k,
                )
            )
        for case in ctx.cases:
            pick = chosen.get((case.suite, case.case))
            case.technique = pick[1].then.technique if pick else None
            case.rule = pick[1].id if pick else None
    found.sort(key=lambda e: (not e.blocking, e.prompt, e.model, order[e.confidence], e.rule))
    return found
