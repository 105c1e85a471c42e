"""Diagnosis (each signal, on planted answers and prompts) and escalation rules (and their holes)."""

from __future__ import annotations

import json

import pytest

from promptops.config import Constraints
from promptops.errors import ConfigError
from promptops.escalation import (
    PROBE_WEIGHT,
    Attribution,
    CaseDiagnosis,
    CaseFacts,
    Evidence,
    FailedCheck,
    GroupContext,
    builtin_rules,
    classify_case,
    escalate_groups,
    is_external,
    parse_rules,
    signals,
)

TRIAGE_SYSTEM = "You route support emails. Answer with exactly one label from: refund, shipping, account."
POLICY = (
    "Policy excerpt: annual leave is 25 days. Employees may carry over up to 5 unused days into the next "
    "year. Sick leave needs a doctor's note after 3 consecutive days. Parental leave is 16 weeks. "
    "Leave requests go to your manager."
)


def facts(
    check: FailedCheck,
    outputs: list[tuple[str, int]] | str,
    prompt: list[tuple[str, str]] | None = None,
    *,
    passed: int = 0,
    hint: str | None = None,
    attribution: Attribution | None = None,
    probes: list[Evidence] | None = None,
) -> CaseFacts:
    answers = [(outputs, 1)] if isinstance(outputs, str) else outputs
    failing = sum(count for _, count in answers)
    return CaseFacts(
        suite="s",
        case="c1",
        prompt="p",
        model="m",
        model_id="openai/gpt-x",
        status="failed",
        samples=failing + passed,
        passed_samples=passed,
        hint=hint,  # type: ignore[arg-type]
        checks=[check],
        outputs=answers,
        messages=None if prompt is None else [{"role": r, "content": c} for r, c in prompt],
        attribution=attribution,
        probes=probes or [],
    )


def check(kind: str, expected: object = None, **options: object) -> FailedCheck:
    return FailedCheck(type=kind, reason=f"{kind} failed", expected=expected, options=options)


# --- each signal ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failed", "answer", "prompt", "gap", "signal"),
    [
        pytest.param(
            check("equals", "refund"),
            "Label: refund.",
            [("system", TRIAGE_SYSTEM)],
            "behavior",
            "form-repair",
            id="label-in-a-prefix",
        ),
        pytest.param(
            check("equals", "refund"),
            "Refund",
            [("system", TRIAGE_SYSTEM)],
            "behavior",
            "form-repair",
            id="letter-case",
        ),
        pytest.param(
            check("is-json"),
            'Sure!\n```json\n{"a": 1}\n```',
            [("user", "x")],
            "behavior",
            "form-repair",
            id="fenced-json",
        ),
        pytest.param(
            check("json-schema", {"type": "object", "required": ["id"]}),
            "{'id': 7}",
            [("user", "x")],
            "behavior",
            "form-repair",
            id="python-dict-for-json",
        ),
        pytest.param(
            check("equals", "$12.50"),
            "Express delivery costs $12.50.",
            [("user", "How much is express?")],
            "behavior",
            "answer-in-prose",
            id="answer-in-prose",
        ),
        pytest.param(
            check("contains", "2024-03-05"),
            "It ships on March 5, 2024.",
            [("user", "When?")],
            "behavior",
            "same-value-other-form",
            id="date-in-another-format",
        ),
        pytest.param(
            check("contains", "16 weeks"),
            "Parental leave is sixteen weeks.",
            [("user", "How long?")],
            "behavior",
            "same-value-other-form",
            id="number-in-words",
        ),
        pytest.param(
            check("json-match", {"order_id": "A-17", "total": 42.5}),
            '{"orderId": "A-17", "sum": "42.50"}',
            [("user", "order A-17, 42.50")],
            "behavior",
            "same-value-other-form",
            id="json-values-under-other-keys",
        ),
        pytest.param(
            check("icontains", "4.99"),
            "I'm not sure what the Plus plan costs.",
            [("user", "Plus price?")],
            "knowledge",
            "refusal",
            id="refusal-fact-not-in-prompt",
        ),
        pytest.param(
            check("icontains", "5 days"),
            "I don't have access to the leave policy.",
            [("system", POLICY), ("user", "How many unused days can I carry over?")],
            "skill",
            "refusal",
            id="refusal-although-the-prompt-holds-it",
        ),
        pytest.param(
            check("equals", "Halyard"),
            "Our loyalty programme is called Nimbus Rewards.",
            [("user", "What is the loyalty programme called?")],
            "knowledge",
            "different-value",
            id="private-name-checked-with-equals",
        ),
        pytest.param(
            check("regex", r"12\.50"),
            "Express costs $15.",
            [("user", "How much is express?")],
            "knowledge",
            "different-value",
            id="price-checked-with-regex",
        ),
        pytest.param(
            check("icontains", "5 days"),
            "You can carry over all unused days.",
            [("system", POLICY), ("user", "How many unused days can I carry over?")],
            "skill",
            "grounded",
            id="fact-in-the-supplied-context",
        ),
        pytest.param(
            check("icontains", "3 days"),
            "You get 10 days of bereavement leave.",
            [("system", POLICY), ("user", "How many days of bereavement leave do we get?")],
            "knowledge",
            "different-value",
            id="a-number-found-only-in-an-unrelated-sentence",
        ),
        pytest.param(
            check("equals", "refund"),
            "shipping",
            [("system", TRIAGE_SYSTEM)],
            "skill",
            "option-label",
            id="wrong-label-among-the-options",
        ),
        pytest.param(
            check("equals", "refund"),
            "Thanks for writing in, we will look into it.",
            [("user", "money back pls")],
            "behavior",
            "format-check",
            id="prose-where-a-label-was-expected",
        ),
        pytest.param(
            check("starts-with", "Hi Tom,"),
            "Sure, you can share folders.",
            [("system", 'Start every reply with "Hi Tom,". Be brief.')],
            "behavior",
            "instruction",
            id="instruction-not-followed",
        ),
        pytest.param(
            check("icontains", "thank you"),
            "We got your review.",
            [("user", "I left a review")],
            "behavior",
            "style",
            id="house-style",
        ),
        pytest.param(
            check("word-count", max=10),
            "word " * 40,
            [("user", "x")],
            "behavior",
            "format-check",
            id="length-only",
        ),
        pytest.param(
            check("json-match", {"order_id": "ORD-4821"}),
            '{"order_id": "ORD-4812"}',
            [("user", "Order ORD-4821 was charged twice")],
            "skill",
            "grounded",
            id="field-in-the-input",
        ),
        pytest.param(
            check("json-match", {"tier": "Summit Club"}),
            '{"tier": "Gold"}',
            [("user", "Order 7, my tier?")],
            "knowledge",
            "different-value",
            id="field-not-in-the-input",
        ),
        pytest.param(
            check("json-match", {"urgent": True}),
            '{"urgent": false}',
            [("user", "The stove caught fire!")],
            "skill",
            "label-choice",
            id="a-yes-no-judgement",
        ),
    ],
)
def test_signal_decides_the_gap(failed, answer, prompt, gap, signal) -> None:
    result = classify_case(facts(failed, answer, prompt))
    assert result.gap == gap, result.evidence
    assert result.evidence[0].signal == signal
    assert result.evidence[0].text and result.confidence > 0.5


def test_grounded_flag_follows_the_evidence() -> None:
    grounded = classify_case(
        facts(
            check("icontains", "5 days"),
            "All of them.",
            [("system", POLICY), ("user", "unused days carry over?")],
        )
    )
    missing = classify_case(facts(check("icontains", "4.99"), "It costs $9.", [("user", "price?")]))
    assert grounded.grounded is True and missing.grounded is False


def test_reliability_only_when_samples_disagree_in_verdict() -> None:
    flips = classify_case(
        facts(check("equals", "refund"), [("shipping", 2)], [("system", TRIAGE_SYSTEM)], passed=3)
    )
    assert flips.gap == "reliability"
    assert (
        flips.evidence[0].signal == "samples-disagree" and "3 of 5 samples passed" in flips.evidence[0].text
    )
    assert "skill" in flips.gaps  # the failing samples' own gap stays listed
    spread = classify_case(
        facts(check("equals", "refund"), [("shipping", 6), ("account", 4)], [("system", TRIAGE_SYSTEM)])
    )
    assert spread.gap == "skill" and "reliability" not in spread.gaps
    assert spread.spread is not None and "'shipping' ×6" in spread.spread


def test_hint_wins_and_a_disagreement_is_reported() -> None:
    agreed = classify_case(
        facts(check("equals", "refund"), "Refund.", [("system", TRIAGE_SYSTEM)], hint="behavior")
    )
    assert agreed.gap == "behavior" and agreed.hint_disagrees is None
    overruled = classify_case(
        facts(check("equals", "refund"), "Refund.", [("system", TRIAGE_SYSTEM)], hint="skill")
    )
    assert overruled.gap == "skill" and overruled.hint == "skill"
    assert overruled.hint_disagrees is not None and overruled.hint_disagrees.startswith(
        "the evidence points to behavior"
    )
    per_assertion = FailedCheck(type="equals", reason="r", expected="refund", gap="knowledge")
    assert classify_case(facts(per_assertion, "bug", [("system", TRIAGE_SYSTEM)])).gap == "knowledge"


def test_a_probe_outcome_outranks_every_heuristic() -> None:
    probe = Evidence(
        signal="probe",
        gap="knowledge",
        weight=PROBE_WEIGHT,
        source="probe",
        text="with the policy supplied as context, 5 of 5 samples passed",
    )
    result = classify_case(
        facts(check("equals", "refund"), "shipping", [("system", TRIAGE_SYSTEM)], probes=[probe])
    )
    assert result.gap == "knowledge" and result.confidence >= 0.95
    assert any(e.source == "probe" for e in result.evidence)


def test_without_the_answer_the_assertion_type_is_all_there_is() -> None:
    result = classify_case(
        CaseFacts(
            suite="s",
            case="c",
            prompt="p",
            model="m",
            model_id="x",
            status="failed",
            samples=1,
            passed_samples=0,
            checks=[check("regex", r"^\d+$"), check("latency", max=10)],
        )
    )
    assert result.gap == "behavior" and result.evidence[0].signal == "assertion-type"


def test_the_prompt_change_that_removed_an_option_is_behavior() -> None:
    diff = (
        "--- p@1.0.0\n+++ p@1.1.0\n"
        "-Answer with exactly one label from: refund, shipping, account.\n+Say what it is about."
    )
    change = Attribution(cause="prompt-change", text="the prompt changed", prompt_diff=diff)
    result = classify_case(
        facts(
            check("icontains", "shipping"),
            "The parcel got wet.",
            [("system", "Say what it is about.")],
            attribution=change,
        )
    )
    assert result.gap == "behavior" and "removed the line" in result.evidence[0].text
    assert result.attribution is not None and result.attribution.cause == "prompt-change"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("$4.99", "number"),
        ("1,200", "number"),
        ("5 GB", "number"),
        ("2025-03-05", "date"),
        ("March 5", "date"),
        ("9:30 am", "time"),
        ("ORD-4821", "code"),
        ("THAW25", "code"),
        ("claims@larkspur.example", "email"),
        ("Halyard", "name"),
        ("Summit Club", "name"),
        ("refund", "label"),
        ("product-question", "label"),
        ("Hi Tom,", "style"),
        ("portable document format", "phrase"),
    ],
)
def test_kind_of_an_expected_answer(text, kind) -> None:
    assert signals.kind_of(text) == kind


def test_values_compare_across_formats() -> None:
    [a], [b] = signals.values_in("1,200 dollars"), signals.values_in("$1200")
    assert a.same(b)
    assert signals.contains_value("Up to 5 unused days a year", "5 days")
    assert not signals.contains_value("after 3 consecutive days", "5 days")
    assert signals.in_option_list("Answer with one label from: refund, shipping, account.", "shipping") == [
        "refund",
        "account",
    ]
    assert signals.in_option_list("Express costs $12.50 and takes 2 business days.", "$12.50") == []


# --- rules --------------------------------------------------------------------------------------


def diagnosed(
    case: str,
    gap: str,
    *,
    grounded: bool | None = None,
    cause: str | None = None,
    gaps: list[str] | None = None,
) -> CaseDiagnosis:
    return CaseDiagnosis(
        suite="s",
        case=case,
        prompt="p",
        model="m",
        model_id="openai/gpt-x",
        status="failed",
        samples=1,
        passed_samples=0,
        pass_rate=0.0,
        gap=gap,
        gaps=gaps or [gap],
        confidence=0.9,
        grounded=grounded,  # type: ignore[arg-type]
        evidence=[Evidence(signal="grounded", gap=gap, weight=3, text=f"{gap} evidence")],  # type: ignore[arg-type]
        attribution=Attribution(cause=cause, text=f"{cause} text", prompt_diff="-a\n+b") if cause else None,  # type: ignore[arg-type]
    )


def context(gap_cases: list[CaseDiagnosis] | None = None, **overrides) -> GroupContext:
    ctx = GroupContext(
        prompt="p",
        model="m",
        model_id="openai/gpt-x",
        suites=["s"],
        total_cases=10,
        cases=[c.model_copy() for c in gap_cases or []],
        few_shot=False,
        structured_output=False,
        external_model=True,
        prompt_tokens=100,
        latency_p95_ms=500,
        cost_per_1k=1.0,
    )
    for key, value in overrides.items():
        setattr(ctx, key, value)
    return ctx


def fired(ctx: GroupContext, constraints: Constraints | None = None, rules=None) -> dict[str, object]:
    found = escalate_groups([ctx], rules or builtin_rules().rules, constraints or Constraints())
    return {e.rule: e for e in found}


KNOWLEDGE = [diagnosed("k1", "knowledge", grounded=False)]
BEHAVIOR = [diagnosed("b1", "behavior")]
SKILL = [diagnosed("s1", "skill", grounded=True)]
RELIABLE = [diagnosed("r1", "reliability")]


@pytest.mark.parametrize(
    ("rule", "ctx", "constraints", "near_miss", "near_constraints"),
    [
        pytest.param(
            "knowledge-rag", {"gap_cases": KNOWLEDGE}, {}, {"gap_cases": SKILL}, {}, id="knowledge-rag"
        ),
        pytest.param(
            "knowledge-rag-fast-changing",
            {"gap_cases": KNOWLEDGE},
            {"update_frequency": "daily"},
            {"gap_cases": KNOWLEDGE},
            {"update_frequency": "rarely"},
            id="knowledge-fast",
        ),
        pytest.param(
            "behavior-prompt-first",
            {"gap_cases": BEHAVIOR},
            {},
            {"gap_cases": KNOWLEDGE},
            {},
            id="behavior-first",
        ),
        pytest.param(
            "behavior-structured-output",
            {"gap_cases": BEHAVIOR},
            {"control": "output-structure"},
            {"gap_cases": BEHAVIOR, "structured_output": True},
            {"control": "output-structure"},
            id="behavior-structured",
        ),
        pytest.param(
            "behavior-fine-tune-persistent",
            {"gap_cases": BEHAVIOR, "persists": {("s", "b1"): 3}, "prompt_tokens": 1200},
            {},
            {"gap_cases": BEHAVIOR, "persists": {("s", "b1"): 3}, "prompt_tokens": 300},
            {},
            id="behavior-fine-tune",
        ),
        pytest.param(
            "skill-few-shot",
            {"gap_cases": SKILL},
            {},
            {"gap_cases": SKILL, "few_shot": True},
            {},
            id="skill-few-shot",
        ),
        pytest.param(
            "skill-decompose",
            {"gap_cases": SKILL, "few_shot": True},
            {},
            {"gap_cases": SKILL, "few_shot": False},
            {},
            id="skill-decompose",
        ),
        pytest.param(
            "skill-fine-tune",
            {"gap_cases": SKILL, "persists": {("s", "s1"): 3}},
            {},
            {"gap_cases": SKILL, "persists": {("s", "s1"): 2}},
            {},
            id="skill-fine-tune",
        ),
        pytest.param(
            "reliability-hardening", {"gap_cases": RELIABLE}, {}, {"gap_cases": SKILL}, {}, id="reliability"
        ),
        pytest.param(
            "reliability-persistent",
            {"gap_cases": RELIABLE, "persists": {("s", "r1"): 4}},
            {},
            {"gap_cases": RELIABLE, "persists": {("s", "r1"): 1}},
            {},
            id="reliability-persistent",
        ),
        pytest.param(
            "latency-over-budget",
            {"latency_p95_ms": 2500},
            {"latency_p95_ms": 2000},
            {"latency_p95_ms": 1900},
            {"latency_p95_ms": 2000},
            id="latency",
        ),
        pytest.param(
            "cost-over-budget-long-prompt",
            {"cost_per_1k": 9.0, "prompt_tokens": 1500},
            {"cost_per_1k_calls_usd": 5.0},
            {"cost_per_1k": 4.0, "prompt_tokens": 1500},
            {"cost_per_1k_calls_usd": 5.0},
            id="cost-long-prompt",
        ),
        pytest.param(
            "cost-over-budget",
            {"cost_per_1k": 9.0, "prompt_tokens": 200},
            {"cost_per_1k_calls_usd": 5.0},
            {"cost_per_1k": 9.0, "prompt_tokens": 200},
            {},
            id="cost-short-prompt",
        ),
        pytest.param(
            "privacy-gate",
            {},
            {"data_privacy": "internal-only"},
            {"external_model": False},
            {"data_privacy": "internal-only"},
            id="privacy-gate",
        ),
        pytest.param(
            "deployment-gate", {}, {"deployment": "edge"}, {}, {"deployment": "vpc"}, id="deployment-gate"
        ),
    ],
)
def test_each_builtin_rule_fires_and_stays_silent_on_a_near_miss(
    rule, ctx, constraints, near_miss, near_constraints
) -> None:
    hit = fired(context(**ctx), Constraints(**constraints))
    assert rule in hit, sorted(hit)
    escalation = hit[rule]
    assert escalation.rationale and escalation.next_steps
    assert "{" not in escalation.rationale and all("{" not in s for s in escalation.next_steps)
    assert rule not in fired(context(**near_miss), Constraints(**near_constraints))


def test_knowledge_gap_never_suggests_fine_tuning() -> None:
    ctx = context(KNOWLEDGE, persists={("s", "k1"): 5}, prompt_tokens=5000, cost_per_1k=50.0)
    techniques = {
        (e.gap, e.technique)
        for e in escalate_groups([ctx], builtin_rules().rules, Constraints(cost_per_1k_calls_usd=1.0))
    }
    assert ("knowledge", "rag") in techniques
    assert ("knowledge", "fine-tuning") not in techniques


def test_persistent_skill_gap_supersedes_few_shot_and_names_seed_set() -> None:
    ctx = context(SKILL, persists={("s", "s1"): 3}, n_golden=14)
    hit = fired(ctx)
    assert "skill-few-shot" not in hit
    assert "The 14 golden cases of s are a seed set for fine-tuning" in hit["skill-fine-tune"].next_steps[0]


def test_privacy_gate_blocks_and_limits_remedies_to_self_hostable() -> None:
    ctx = context(SKILL, cost_per_1k=9.0, prompt_tokens=100)
    hit = fired(ctx, Constraints(data_privacy="internal-only", cost_per_1k_calls_usd=1.0))
    assert hit["privacy-gate"].blocking
    assert "data_privacy=internal-only" in hit["privacy-gate"].constraints_weighed
    assert "cost-over-budget" not in hit  # a hosted-model change is not self-hostable
    assert "skill-few-shot" in hit


def test_rationale_names_constraints_and_evidence() -> None:
    hit = fired(context(KNOWLEDGE), Constraints(update_frequency="weekly"))
    item = hit["knowledge-rag-fast-changing"]
    assert "weekly" in item.rationale
    assert item.constraints_weighed == ["update_frequency=weekly"]
    assert [(e.suite, e.case) for e in item.evidence] == [("s", "k1")]
    assert item.evidence[0].reasons == ["knowledge evidence"]


def test_behavior_persisting_two_versions_on_a_short_prompt_still_gets_advice() -> None:
    for versions in (2, 3, 5):
        hit = fired(context(BEHAVIOR, persists={("s", "b1"): versions}, prompt_tokens=120))
        assert "behavior-prompt-rework" in hit, (versions, sorted(hit))
        assert "behavior-fine-tune-persistent" not in hit
    long_prompt = fired(context(BEHAVIOR, persists={("s", "b1"): 3}, prompt_tokens=1200))
    assert "behavior-fine-tune-persistent" in long_prompt and "behavior-prompt-rework" not in long_prompt


def test_one_persisted_case_does_not_silence_prompt_first_for_the_others() -> None:
    cases = [diagnosed("old", "behavior"), diagnosed("new1", "behavior"), diagnosed("new2", "behavior")]
    hit = fired(context(cases, persists={("s", "old"): 4}, prompt_tokens=1500))
    assert [e.case for e in hit["behavior-prompt-first"].evidence] == ["new1", "new2"]
    assert [e.case for e in hit["behavior-fine-tune-persistent"].evidence] == ["old"]


def test_never_fine_tune_facts_whatever_the_label() -> None:
    # hinted skill, but the evidence shows a fact the prompt does not hold
    hinted = diagnosed("h1", "skill", grounded=False)
    hinted.evidence = [
        Evidence(signal="missing-fact", gap="knowledge", weight=2.5, text="'Halyard' is not in the prompt")
    ]
    plain = diagnosed("s1", "skill", grounded=True)
    ctx = context([hinted, plain], persists={("s", "h1"): 4, ("s", "s1"): 4})
    found = escalate_groups([ctx], builtin_rules().rules, Constraints())
    tuned = [e for e in found if e.technique == "fine-tuning"]
    assert [c.case for e in tuned for c in e.evidence] == ["s1"]
    assert ctx.cases[0].technique == "prompt-engineering"


def test_fine_tuning_rules_from_a_project_file_cannot_reach_facts_either() -> None:
    rules = parse_rules(
        "version: 1\nrules:\n  - id: tune-everything\n    when: {gap: knowledge}\n"
        "    then: {technique: fine-tuning, rationale: tune}\n",
        "team-rules.yaml",
    ).rules
    assert "tune-everything" not in fired(context(KNOWLEDGE), rules=rules)


def test_no_retrieval_for_a_grounded_case_even_when_hinted_knowledge() -> None:
    hinted = diagnosed("g1", "knowledge", grounded=True)
    hit = fired(context([hinted]))
    assert "knowledge-rag" not in hit and "knowledge-rag-fast-changing" not in hit


def test_a_prompt_caused_regression_is_fixed_in_the_prompt_only() -> None:
    cases = [
        diagnosed("p1", "knowledge", grounded=False, cause="prompt-change"),
        diagnosed("p2", "skill", cause="prompt-change"),
    ]
    ctx = context(cases, persists={("s", "p1"): 3, ("s", "p2"): 3}, baseline="p@1.0.0")
    found = escalate_groups([ctx], builtin_rules().rules, Constraints(update_frequency="daily"))
    assert {e.rule for e in found} == {"prompt-regression"}
    assert "p@1.0.0" in found[0].rationale and "caused" in found[0].rationale
    assert [c.technique for c in ctx.cases] == ["prompt-engineering", "prompt-engineering"]


def test_a_model_regression_weighs_pinning_against_adapting() -> None:
    ctx = context([diagnosed("m1", "behavior", cause="model-change")], baseline="openai/gpt-old")
    hit = fired(ctx)
    assert "model-regression" in hit and "behavior-prompt-first" in hit
    assert "Pin openai/gpt-old" in hit["model-regression"].next_steps[0]
    assert ctx.cases[0].technique == "prompt-engineering"  # adapting the prompt is the case's own remedy


@pytest.mark.parametrize(
    ("model_id", "api_base", "external"),
    [
        pytest.param("openai/gpt-4o", None, True, id="hosted"),
        pytest.param("openai/my-model", "http://127.0.0.1:4000/v1", False, id="loopback-proxy"),
        pytest.param("openai/my-model", "https://llm.corp.internal/v1", False, id="internal-host"),
        pytest.param("openai/my-model", "https://api.example.com/v1", True, id="public-api-base"),
        pytest.param("local/smollm2-135m-instruct", None, False, id="built-in-local"),
        pytest.param("ollama/llama3", None, False, id="ollama"),
    ],
)
def test_external_model_detection(model_id, api_base, external) -> None:
    assert is_external(model_id, api_base) is external


# --- rules files ---------------------------------------------------------------------------------

PROJECT_RULES = """\
version: 1
disable: [reliability-persistent]
rules:
  - id: knowledge-rag
    description: "Our team grounds answers in the help centre"
    when: {gap: knowledge}
    then:
      technique: rag
      confidence: high
      rationale: "Use the help-centre index for {prompt} ({n_cases} cases)."
      next_steps: ["Add {case_ids} to the help-centre eval set."]
"""


def test_project_rule_overrides_builtin(make_project, run_cli, fake_server) -> None:
    suite = """\
prompt: support/triage
cases:
  - id: facts
    vars: {ticket: "What is the capital of France?"}
    assert: [{type: icontains, value: Paris}]
"""
    config_extra = "escalation: {rules: team-rules.yaml}\n"
    from conftest import config_text

    make_project(
        {"suites/triage.yaml": suite, "team-rules.yaml": PROJECT_RULES},
        config=config_text(fake_server.api_base, config_extra),
    )
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 1
    escalations = json.loads(result.stdout)["escalation"]["escalations"]
    rag = next(e for e in escalations if e["rule"] == "knowledge-rag")
    assert rag["rationale"] == "Use the help-centre index for support/triage (1 cases)."
    assert rag["next_steps"] == ["Add facts to the help-centre eval set."]
    text = run_cli("escalate").output
    assert "knowledge → rag" in text and "help-centre" in text


@pytest.mark.parametrize(
    ("rules", "line", "fragment"),
    [
        pytest.param(
            "version: 1\nrules:\n  - id: x\n    then: {technique: magic, rationale: r}\n",
            4,
            "technique",
            id="bad-technique",
        ),
        pytest.param(
            "version: 1\nrules:\n  - id: x\n    when: {gapp: skill}\n"
            "    then: {technique: rag, rationale: r}\n",
            4,
            "unknown key 'gapp'",
            id="unknown-key",
        ),
        pytest.param(
            "version: 1\nrules:\n  - id: x\n    then: {technique: rag, rationale: 'hi {nope}'}\n",
            4,
            "unknown placeholder {nope}",
            id="bad-placeholder",
        ),
        pytest.param(
            "version: 1\nrules:\n  - id: x\n    when: {constraints: {budget: [x]}}\n"
            "    then: {technique: rag, rationale: r}\n",
            4,
            "unknown constraint 'budget'",
            id="unknown-constraint",
        ),
        pytest.param(
            "version: 1\nrules:\n  - id: x\n    then: {technique: rag, rationale: r}\n"
            "  - id: x\n    then: {technique: rag, rationale: r}\n",
            5,
            "duplicate rule id 'x'",
            id="duplicate-id",
        ),
        pytest.param("version: 1\nrules: [\n", 3, "invalid YAML", id="bad-yaml"),
    ],
)
def test_invalid_rules_file(rules, line, fragment) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(rules, "team-rules.yaml")
    assert info.value.line == line
    assert fragment in info.value.message


def test_invalid_rules_file_from_the_cli(make_project, run_cli, fake_server) -> None:
    from conftest import config_text

    make_project(
        {"team-rules.yaml": "version: 1\nrules:\n  - id: x\n    then: {technique: magic, rationale: r}\n"},
        config=config_text(fake_server.api_base, "escalation: {rules: team-rules.yaml}\n"),
    )
    fake_server.state.answers = {"charged twice": "nope"}
    result = run_cli("test")
    assert result.exit_code == 2
    assert "error: team-rules.yaml:4:" in result.output
    assert "Traceback" not in result.output


def test_escalate_from_a_saved_run_and_a_report_file(make_project, run_cli, fake_server, tmp_path) -> None:
    fake_server.state.answers = {"charged twice": "bug", "crashes": "Label: bug."}
    make_project()
    report = tmp_path / "report.json"
    assert run_cli("test", "--format", "json", "-o", str(report)).exit_code == 1
    text = run_cli("escalate").output
    assert "skill → prompt-engineering" in text and "triage::refund-basic" in text
    data = json.loads(run_cli("escalate", str(report), "--format", "json").stdout)
    cases = {c["case"]: c for c in data["cases"]}
    assert cases["refund-basic"]["gap"] == "skill" and cases["refund-basic"]["hint"] == "skill"
    assert cases["crash"]["gap"] == "behavior" and cases["crash"]["evidence"][0]["signal"] == "form-repair"
    assert cases["crash"]["grounded"] is True  # 'bug' is one of the labels the prompt offers
    saved = json.loads(report.read_text())["escalation"]["cases"]
    assert [(c["case"], c["gap"], c["confidence"], c["technique"]) for c in saved] == [
        (c["case"], c["gap"], c["confidence"], c["technique"]) for c in data["cases"]
    ]
    assert run_cli("escalate", "nope").exit_code == 2


def test_nothing_to_escalate(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project()
    run_cli("test")
    assert "nothing to escalate" in run_cli("escalate").output


def test_drift_attributes_and_a_saved_drift_report_repeats_the_diagnosis(
    make_project, run_cli, fake_server, tmp_path
) -> None:
    """The JSON that `drift` writes is a valid input of `escalate`, which repeats its diagnosis."""
    fake_server.state.default_answer = lambda messages, body: (
        "refund" if body["model"] == "fake-model" else "Refund."
    )
    make_project()
    report = tmp_path / "drift.json"
    result = run_cli(
        "drift", "--baseline", "fake", "--candidate", "other", "--format", "json", "-o", str(report)
    )
    assert result.exit_code == 1, result.output
    written = json.loads(report.read_text())["escalation"]
    refund = next(c for c in written["cases"] if c["case"] == "refund-basic")
    assert refund["attribution"]["cause"] == "model-change" and refund["gap"] == "skill"  # the hint wins
    assert refund["hint_disagrees"].startswith("the evidence points to behavior")
    crash = next(c for c in written["cases"] if c["case"] == "crash")
    assert crash["attribution"]["cause"] == "already-failing"
    assert any(e["rule"] == "model-regression" for e in written["escalations"])
    again = json.loads(run_cli("escalate", str(report), "--format", "json").stdout)
    assert again["source"].count("..") == 1
    assert again["cases"] == written["cases"]


def test_a_pull_request_regression_shows_the_prompt_hunk(make_project, run_cli, fake_server) -> None:
    from git_repo import commit_all, git, set_prompt

    root = make_project()
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "triage prompt")
    fake_server.state.default_answer = lambda messages, body: (
        "refund" if "exactly one word" in messages[0]["content"] else "It is about a refund."
    )
    set_prompt(root, "1.1.0", "whatever suits")
    result = run_cli("test", "--base-ref", "HEAD", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    escalation = report["escalation"]
    case = next(c for c in escalation["cases"] if c["case"] == "refund-basic")
    assert case["attribution"]["cause"] == "prompt-change"
    assert "-Reply with exactly one word" in case["attribution"]["prompt_diff"]
    assert case["technique"] == "prompt-engineering" and case["rule"] == "prompt-regression"
    assert case["attribution"]["prompt_diff"] == report["prompts"][0]["diff"]
    assert {e["technique"] for e in escalation["escalations"]} & {"rag", "fine-tuning"} == set()


def test_every_report_shows_the_same_diagnosis(make_project, run_cli, fake_server, tmp_path) -> None:
    """test's text, the JSON report, escalate and the pull-request Markdown agree on each case."""
    fake_server.state.answers = {"charged twice": "Refund.", "crashes": "question"}
    make_project()
    text = run_cli("test").output
    assert "Diagnosis (2 failing cases)" in text
    assert "triage::crash [fake] skill 99% → prompt-engineering" in text
    assert "option-label: the prompt offers 'bug' among 'refund', 'question'" in text
    assert "hint skill; the evidence points to behavior" in text  # refund-basic carries gap: skill
    report = tmp_path / "report.json"
    run_cli("report", "latest", "--format", "json", "-o", str(report))
    cases = {c["case"]: c for c in json.loads(report.read_text())["escalation"]["cases"]}
    assert cases["crash"]["gap"] == "skill" and cases["crash"]["confidence"] == 0.99
    markdown = run_cli("report", "latest", "--format", "markdown").stdout
    assert "- diagnosis: **skill** (99%) — option-label" in markdown
    assert "remedy: prompt-engineering (`skill-few-shot`)" in markdown
    again = json.loads(run_cli("escalate", str(report), "--format", "json").stdout)
    assert {c["case"]: (c["gap"], c["technique"]) for c in again["cases"]} == {
        k: (c["gap"], c["technique"]) for k, c in cases.items()
    }


def test_a_reference_answer_counts_as_expected_content() -> None:
    refusal = FailedCheck(type="word-count", reason="3 words outside [10, 80]", options={"min": 10})
    base = facts(refusal, "I don't know.", [("system", POLICY), ("user", "How many unused days carry over?")])
    assert classify_case(base).gap == "knowledge"  # nothing says what the answer should have held
    base.reference = "up to 5 unused days"
    result = classify_case(base)
    assert result.gap == "skill" and result.grounded is True


@pytest.mark.parametrize(
    ("failed", "answer", "prompt", "gap"),
    [
        pytest.param(
            check("contains", "15%"),
            "The discount is 10%.",
            [("system", "Members get 15% off every order."), ("user", "What's the member discount?")],
            "skill",
            id="percent-in-a-short-prompt",
        ),
        pytest.param(
            check("contains", "15%"),
            "The discount is 10%.",
            [("user", "What's the member discount?")],
            "knowledge",
            id="percent-not-in-the-prompt",
        ),
        pytest.param(
            check("contains", "14:30"),
            "It starts at 2:30 pm.",
            [("user", "When is it?")],
            "behavior",
            id="time-in-another-format",
        ),
        pytest.param(
            check("json-match", {"city": "Lyon"}),
            '{"City": "Lyon"}',
            [("user", "I live in Lyon")],
            "behavior",
            id="json-key-case",
        ),
        pytest.param(
            check("equals", "Your refund of $42.10 was issued on 3 May."),
            "Your refund of $40.00 was issued on 3 May.",
            [("user", "Status of my refund?")],
            "knowledge",
            id="a-sentence-with-a-wrong-amount",
        ),
        pytest.param(
            check("json-match", {"eta": "2025-06-01"}),
            '{"eta": "unknown"}',
            [("user", "When does 5521 arrive?")],
            "knowledge",
            id="unknown-in-a-json-field",
        ),
    ],
)
def test_more_answers_as_users_see_them(failed, answer, prompt, gap) -> None:
    assert classify_case(facts(failed, answer, prompt)).gap == gap


@pytest.mark.parametrize(
    ("forbidden", "answer", "gap"),
    [
        pytest.param("sorry", "I'm sorry, but I can't help with that.", "behavior", id="apology-is-style"),
        pytest.param("as an AI", "As an AI, I cannot browse.", "behavior", id="persona-is-style"),
        pytest.param(
            "I don't know", "I don't know the price.", "knowledge", id="not-knowing-is-a-missing-fact"
        ),
    ],
)
def test_a_forbidden_phrase_is_style_unless_it_forbids_not_knowing(forbidden, answer, gap) -> None:
    result = classify_case(
        facts(check("not-icontains", forbidden), answer, [("user", "What does Plus cost?")])
    )
    assert result.gap == gap


def test_a_number_with_its_own_words_grounds_even_when_the_question_is_paraphrased() -> None:
    prompt = [
        (
            "system",
            "Refunds take 5 business days. Exchanges are free. Gift cards never expire. Ask us anything.",
        ),
        ("user", "How long until I get my money?"),
    ]
    result = classify_case(facts(check("icontains", "5 business days"), "It takes a month.", prompt))
    assert result.gap == "skill" and result.grounded is True


def test_compare_of_two_prompt_versions_attributes_the_change(make_project, run_cli, fake_server) -> None:
    """Two saved runs of different prompt texts: the diff comes from what the runs kept."""
    from conftest import TRIAGE_PROMPT

    fake_server.state.default_answer = lambda messages, body: (
        "refund" if "exactly one word" in messages[0]["content"] else "Refund, I think."
    )
    root = make_project()
    assert run_cli("test").exit_code == 1  # crash fails on both versions
    edited = TRIAGE_PROMPT.replace("version: 1.0.0", "version: 1.1.0").replace("exactly one word", "a word")
    (root / "prompts/support/triage.j2").write_text(edited)
    assert run_cli("test").exit_code == 1
    runs = sorted(p.name for p in (root / ".promptops/runs").iterdir())
    result = run_cli("compare", runs[0], runs[1], "--format", "json")
    report = json.loads(result.stdout)
    assert report["prompts"][0]["candidate_version"] == "1.1.0"
    cases = {c["case"]: c for c in report["escalation"]["cases"]}
    refund = cases["refund-basic"]
    assert refund["attribution"]["cause"] == "prompt-change"
    assert "-Reply with exactly one word" in refund["attribution"]["prompt_diff"]
    assert refund["technique"] == "prompt-engineering"
    assert cases["crash"]["attribution"]["cause"] == "already-failing"


def test_past_the_cap_cases_are_judged_by_their_assertion_type(
    make_project, run_cli, fake_server, monkeypatch
) -> None:
    from promptops.escalation import advice

    fake_server.state.answers = {"charged twice": "Refund.", "crashes": "question"}
    make_project()
    monkeypatch.setattr(advice, "MAX_GATHERED_CASES", 1)
    run_cli("test", "-j", "1")  # one call at a time: the refund case is the one gathered in full
    data = json.loads(run_cli("escalate", "--format", "json").stdout)
    signals_seen = sorted(c["evidence"][0]["signal"] for c in data["cases"])
    assert signals_seen == ["assertion-type", "form-repair"]  # one case in full, the other by its type
