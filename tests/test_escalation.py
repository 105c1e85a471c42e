"""Gap classification and escalation rules on planted runs."""

from __future__ import annotations

import json

import pytest

from promptops.config import Constraints
from promptops.errors import ConfigError
from promptops.escalation import (
    CaseSignal,
    GroupContext,
    builtin_rules,
    classify_case,
    escalate_groups,
    is_external,
    parse_rules,
)
from promptops.results import AssertionOutcome


def failed(kind: str, gap: str | None = None) -> AssertionOutcome:
    return AssertionOutcome(type=kind, passed=False, score=0.0, reason=f"{kind} failed", gap=gap)  # type: ignore[arg-type]


def signal(
    case: str = "c1",
    *,
    assertions: list[AssertionOutcome] | None = None,
    hint: str | None = None,
    samples: int = 1,
    passed: int = 0,
    distinct: int = 1,
) -> CaseSignal:
    return CaseSignal(
        suite="s",
        case=case,
        prompt="p",
        model="m",
        model_id="openai/gpt-x",
        status="failed",
        samples=samples,
        passed_samples=passed,
        errored_samples=0,
        gap_hint=hint,  # type: ignore[arg-type]
        failed_assertions=assertions if assertions is not None else [failed("equals")],
        distinct_failed_outputs=distinct,
        prompt_fingerprint="f1",
    )


# --- classification -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "gap"),
    [
        pytest.param("icontains", "knowledge", id="contains-knowledge"),
        pytest.param("contains-all", "knowledge", id="contains-all-knowledge"),
        pytest.param("is-json", "behavior", id="json-validity-behavior"),
        pytest.param("regex", "behavior", id="regex-behavior"),
        pytest.param("word-count", "behavior", id="length-behavior"),
        pytest.param("not-icontains", "behavior", id="negated-behavior"),
        pytest.param("equals", "skill", id="label-skill"),
        pytest.param("json-match", "skill", id="fields-skill"),
        pytest.param("one-of", "skill", id="one-of-skill"),
        pytest.param("my-plugin-type", "skill", id="unknown-skill"),
    ],
)
def test_gap_from_assertion_type(kind, gap) -> None:
    result = classify_case(signal(assertions=[failed(kind)]))
    assert result.gaps == [gap]
    assert result.evidence[0].decided_by == "assertion-type"


def test_budget_assertions_show_no_gap() -> None:
    assert classify_case(signal(assertions=[failed("latency"), failed("cost")])).gaps == []


def test_precedence_assertion_override_then_case_hint_then_type() -> None:
    by_override = classify_case(signal(assertions=[failed("icontains", gap="skill")], hint="behavior"))
    assert by_override.gaps == ["skill"] and by_override.evidence[0].decided_by == "assertion-gap"
    by_hint = classify_case(signal(assertions=[failed("icontains")], hint="behavior"))
    assert by_hint.gaps == ["behavior"] and by_hint.evidence[0].decided_by == "case-hint"
    by_type = classify_case(signal(assertions=[failed("icontains")]))
    assert by_type.gaps == ["knowledge"]


def test_a_case_can_show_several_gaps() -> None:
    result = classify_case(signal(assertions=[failed("icontains"), failed("is-json")], samples=5, passed=2))
    assert result.gaps == ["knowledge", "behavior", "reliability"]
    assert [e.decided_by for e in result.evidence][-1] == "samples"
    assert "2 of 5 samples passed" in result.evidence[-1].detail


def test_disagreeing_failures_are_reliability() -> None:
    assert "reliability" in classify_case(signal(samples=4, passed=0, distinct=3)).gaps
    assert "reliability" not in classify_case(signal(samples=4, passed=0, distinct=1)).gaps


# --- rules -------------------------------------------------------------------------------------


def context(gap_cases: list[CaseSignal] | None = None, **overrides) -> GroupContext:
    cases = [classify_case(s) for s in (gap_cases or [])]
    ctx = GroupContext(
        prompt="p",
        model="m",
        model_id="openai/gpt-x",
        suites=["s"],
        total_cases=10,
        cases=cases,
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


KNOWLEDGE = [signal("k1", assertions=[failed("icontains")])]
BEHAVIOR = [signal("b1", assertions=[failed("is-json")])]
SKILL = [signal("s1", assertions=[failed("equals")])]
RELIABLE = [signal("r1", samples=5, passed=3)]


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
    assert item.evidence[0].reasons == ["icontains: icontains failed"]


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
    fake_server.state.answers = {"charged twice": "bug", "crashes": "bug"}
    make_project()
    report = tmp_path / "report.json"
    assert run_cli("test", "--format", "json", "-o", str(report)).exit_code == 1
    text = run_cli("escalate").output
    assert "skill → prompt-engineering" in text and "triage::refund-basic" in text
    data = json.loads(run_cli("escalate", str(report), "--format", "json").stdout)
    assert data["cases"][0]["gaps"] == ["skill"]
    assert data["cases"][0]["evidence"][0]["decided_by"] == "case-hint"
    assert run_cli("escalate", "nope").exit_code == 2


def test_nothing_to_escalate(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project()
    assert run_cli("test").exit_code == 0
    result = run_cli("escalate")
    assert result.exit_code == 0, result.output
    assert "nothing to escalate" in result.output


def test_escalate_a_drift_report_file(make_project, run_cli, fake_server, tmp_path) -> None:
    """The JSON that `drift` writes (escalation key included) is a valid input of `escalate`."""
    fake_server.state.default_answer = lambda messages, body: (
        "refund" if body["model"] == "fake-model" else "something else"
    )
    make_project()
    report = tmp_path / "drift.json"
    result = run_cli(
        "drift", "--baseline", "fake", "--candidate", "other", "--format", "json", "-o", str(report)
    )
    assert result.exit_code == 1, result.output
    data = json.loads(run_cli("escalate", str(report), "--format", "json").stdout)
    assert data["source"].count("..") == 1
    assert {c["case"] for c in data["cases"]} == {"refund-basic", "crash"}
    assert any(e["gap"] == "skill" for e in data["escalations"])
