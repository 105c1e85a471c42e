"""Counterfactual probes (`promptops diagnose`) against a scripted deficient model on the fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FAKE_KEY_ENV, config_text
from fake_openai import Deficiency, DeficientModel, FakeOpenAIServer

from promptops.config import load_project
from promptops.escalation.evidence import FailedCheck
from promptops.escalation.probes import reference_facts
from promptops.suites import Case

ANSWER_PROMPT = """\
---
version: 1.0.0
description: Answer a question
inputs:
  question: {required: true}
---
{% role "system" %}You answer questions about Nimbus Drive in one sentence.{% endrole %}
{% role "user" %}{{ question }}{% endrole %}
"""

ANSWER_SUITE = """\
prompt: support/answer
cases:
  - id: price
    vars: {question: "How much does the Plus plan cost?"}
    reference: "Plus costs $4.99 a month."
    assert: [{type: icontains, value: "4.99"}]
  - id: trash
    vars: {question: "How many days do files stay in the trash?"}
    assert: [{type: icontains, value: "30 days"}]
  - id: greeting
    vars: {question: "Say hello"}
    assert: [{type: icontains, value: hello}]
  - id: label
    vars: {question: "Is a jpg an image or a video?"}
    assert: [{type: equals, value: image}]
"""

CASES = [
    Deficiency("Plus plan", "knowledge", "It costs $4.99 a month.", "It costs $2 a month.", fact="4.99"),
    Deficiency("trash", "knowledge", "They stay 30 days.", "They stay a week.", fact="30 days"),
    Deficiency("hello", "knowledge", "hello there", "hello there"),
    Deficiency("jpg", "behavior", "image", "Picture."),
]


@pytest.fixture
def project(make_project, fake_server: FakeOpenAIServer) -> Path:
    fake_server.state.default_answer = DeficientModel(CASES, strong="strong-model")
    return make_project(
        {
            "prompts/support/answer.j2": ANSWER_PROMPT,
            "suites/answer.yaml": ANSWER_SUITE,
            "suites/triage.yaml": None,
        },
        config=config_text(fake_server.api_base).replace(
            "  other:",
            f'  strong: {{model: openai/strong-model, api_base: "{fake_server.api_base}", '
            f"api_key_env: {FAKE_KEY_ENV}}}\n  other:",
        ),
    )


def _json(result) -> dict:
    return json.loads(result.output[result.output.index("{") :])


def test_oracle_context_finds_a_knowledge_gap_and_retrieval_fixes_it(project, run_cli, fake_server) -> None:
    assert run_cli("test").exit_code == 1
    result = run_cli("diagnose", "--format", "json")
    assert result.exit_code == 0, result.output
    report = _json(result)
    oracle = {o["case"]: o for o in report["outcomes"] if o["probe"] == "oracle-context"}
    # the passage carries the case's reference when it has one, else what the assertion looks for
    assert "Plus costs $4.99 a month." in oracle["price"]["added"]
    assert oracle["price"]["fixed"] and oracle["trash"]["fixed"]
    assert "retrieval would fix this" in oracle["price"]["finding"]
    cases = {c["case"]: c for c in report["escalation"]["cases"]}
    assert cases["price"]["gap"] == "knowledge" and cases["price"]["technique"] == "rag"
    assert any(e["source"] == "probe" and e["weight"] == 10 for e in cases["price"]["evidence"])
    # the label case: its expected value is the whole answer, so no oracle passage is shown
    skipped = {(s["case"], s["probe"]) for s in report["skipped"]}
    assert ("label", "oracle-context") in skipped
    assert "label" not in oracle


def test_format_repair_shows_an_example_from_another_case_and_a_diff(project, run_cli, fake_server) -> None:
    run_cli("test")
    report = _json(run_cli("diagnose", "--format", "json"))
    repair = next(o for o in report["outcomes"] if o["probe"] == "format-repair" and o["case"] == "label")
    assert repair["fixed"] is True
    # the example is the passing case's answer, never the failing case's own expected output
    assert "'greeting'" in repair["added"]
    assert "hello there" in repair["diff"] and "+" in repair["diff"]
    label_requests = [r for r in fake_server.state.requests if "jpg" in json.dumps(r["messages"][-1])]
    for request in label_requests:
        shown = [m["content"] for m in request["messages"][:-1]]
        assert not any(text.strip() == "image" for text in shown)
    cases = {c["case"]: c for c in report["escalation"]["cases"]}
    assert cases["label"]["gap"] == "behavior"


def test_plan_is_printed_before_any_call_and_second_run_makes_none(project, run_cli, fake_server) -> None:
    run_cli("test")
    fake_server.state.reset()
    first = run_cli("diagnose")
    assert first.exit_code == 0, first.output
    assert "Probe plan:" in first.output and "calls" in first.output
    made = fake_server.state.completions
    assert made > 0
    assert "with the reference supplied as context, 2 of 2 cases passed on fake" in first.output
    fake_server.state.reset()
    second = run_cli("diagnose")
    assert second.exit_code == 0
    assert fake_server.state.completions == 0
    assert "0 made to a provider" in second.output


def test_replay_works_without_a_key(project, run_cli, fake_server, monkeypatch) -> None:
    run_cli("record")
    assert run_cli("diagnose").exit_code == 0
    assert (project / "suites/answer.probes.recording.yaml").is_file()
    (project / ".promptops/cache.sqlite").unlink(missing_ok=True)
    for path in (project / ".promptops").glob("cache*"):
        path.unlink()
    monkeypatch.delenv(FAKE_KEY_ENV)
    fake_server.state.reset()
    result = run_cli("diagnose", "answer", "--replay")
    assert result.exit_code == 0, result.output
    assert fake_server.state.completions == 0
    assert "retrieval would fix this" in result.output


def test_budget_bounds_the_plan(project, run_cli) -> None:
    run_cli("test")
    report = _json(run_cli("diagnose", "--probe-budget", "2", "--format", "json"))
    assert report["planned_calls"] <= 2
    assert any("over budget" in line for line in report["plan"])


def test_sampling_finds_reliability_at_temperature_zero(make_project, fake_server, run_cli) -> None:
    fake_server.state.default_answer = DeficientModel([Deficiency("flaky", "reliability", "yes", "no")])
    make_project(
        {
            "prompts/support/answer.j2": ANSWER_PROMPT,
            "suites/answer.yaml": (
                "prompt: support/answer\nrepeat: 4\nparams: {temperature: 0.8, seed: 10}\ncases:\n"
                "  - id: flaky\n    vars: {question: flaky}\n    assert: [{type: equals, value: 'yes'}]\n"
            ),
            "suites/triage.yaml": None,
        }
    )
    assert run_cli("test").exit_code == 1
    report = _json(run_cli("diagnose", "--format", "json"))
    sampling = next(o for o in report["outcomes"] if o["probe"] == "sampling")
    assert sampling["fixed"] is True and "t=0: 3 of 3 passed" in sampling["detail"]
    case = report["escalation"]["cases"][0]
    assert case["gap"] == "reliability" and case["technique"] == "reliability-hardening"


def test_few_shot_teaches_a_skill(make_project, fake_server, run_cli) -> None:
    fake_server.state.default_answer = DeficientModel(
        [
            Deficiency("ticket A", "skill", "bug", "question"),
            Deficiency("ticket B", "knowledge", "refund", "refund"),
        ]
    )
    make_project(
        {
            "prompts/support/answer.j2": ANSWER_PROMPT,
            "suites/answer.yaml": (
                "prompt: support/answer\ncases:\n"
                "  - id: a\n    vars: {question: ticket A}\n    assert: [{type: equals, value: bug}]\n"
                "  - id: b\n    vars: {question: ticket B}\n    assert: [{type: equals, value: refund}]\n"
            ),
            "suites/triage.yaml": None,
        }
    )
    run_cli("test")
    report = _json(run_cli("diagnose", "--format", "json"))
    few = next(o for o in report["outcomes"] if o["probe"] == "few-shot")
    assert few["fixed"] is True and "(b)" in few["added"]
    case = report["escalation"]["cases"][0]
    assert case["gap"] == "skill" and case["technique"] == "prompt-engineering"


def test_reference_model_shows_a_capacity_gap(project, run_cli) -> None:
    run_cli("test")
    report = _json(run_cli("diagnose", "--reference-model", "strong", "--format", "json"))
    stronger = [o for o in report["outcomes"] if o["probe"] == "reference-model"]
    assert stronger and all(o["fixed"] and o["probe_model"] == "strong" for o in stronger)
    assert all(o["model"] == "fake" for o in stronger)
    assert "capacity gap" in stronger[0]["finding"]


def test_privacy_gate_refuses_an_external_reference_model(make_project, fake_server, run_cli) -> None:
    config = config_text(fake_server.api_base, "constraints: {data_privacy: internal-only}\n").replace(
        "  other:", f"  hosted: {{model: openai/gpt-4o, api_key_env: {FAKE_KEY_ENV}}}\n  other:"
    )
    make_project(config=config)
    fake_server.state.answers = {"charged": "bug"}
    run_cli("test")
    result = run_cli("diagnose", "--reference-model", "hosted")
    assert result.exit_code == 2
    assert "internal-only" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("nosuchrun",), "no saved run and no suite named 'nosuchrun'", id="unknown-run"),
        pytest.param(("--probe-budget", "0"), "--probe-budget must be at least 1", id="budget-zero"),
        pytest.param(("--probe-budget", "-3"), "--probe-budget must be at least 1", id="budget-negative"),
        pytest.param(("--reference-model", "nosuch"), "unknown model 'nosuch'", id="unknown-reference-model"),
    ],
)
def test_bad_input_exits_2(make_project, fake_server, run_cli, args, message) -> None:
    make_project()
    fake_server.state.answers = {"charged": "bug"}
    run_cli("test")
    result = run_cli("diagnose", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_reference_facts_never_hand_over_a_label() -> None:
    label = [FailedCheck(type="equals", reason="", expected="refund")]
    assert reference_facts(Case(id="x"), label) is None
    assert reference_facts(Case(id="x", reference="refund"), label) is None
    fact = [FailedCheck(type="icontains-any", reason="", expected=["5 GB", "5GB"])]
    assert reference_facts(Case(id="x"), fact) == "5 GB"
    assert reference_facts(Case(id="x", reference="Free: 5 GB"), fact) == "Free: 5 GB"


def test_test_diagnose_flag(project, run_cli) -> None:
    result = run_cli("test", "--diagnose")
    assert result.exit_code == 1
    assert "Probes of run" in result.output and "retrieval would fix this" in result.output


def test_project_loads(project) -> None:
    assert load_project().resolve_model("strong").model == "openai/strong-model"


def test_export_finetune_writes_chat_examples_and_says_how_many_more(project, run_cli, tmp_path) -> None:
    run_cli("test")
    out = tmp_path / "data" / "seed.jsonl"
    result = run_cli("export", "finetune", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_user = {row["messages"][-2]["content"]: row["messages"] for row in rows}
    # the passing case's answer, and the failing label case's expected output (stated whole by equals)
    assert by_user["Say hello"][-1] == {"role": "assistant", "content": "hello there"}
    assert by_user["Is a jpg an image or a video?"][-1]["content"] == "image"
    assert by_user["Say hello"][0]["role"] == "system"
    # failing cases whose answer is not known whole are left out, and named
    assert len(rows) == 2
    assert "wrote 2 examples" in result.output and "1 passing, 1 expected" in result.output
    assert "answer::price" in result.output
    assert "add 48 more cases" in result.output


def test_export_finetune_prefers_goldens(project, run_cli, tmp_path) -> None:
    assert run_cli("golden", "update").exit_code == 0
    out = tmp_path / "seed.jsonl"
    result = run_cli("export", "finetune", "answer", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 4 examples" in result.output and "(4 golden)" in result.output


def test_export_finetune_says_how_many_unnamed_cases_it_left_out(make_project, run_cli, tmp_path) -> None:
    cases = "".join(
        f"  - id: q{i}\n    vars: {{question: 'Question {i}?'}}\n"
        "    assert: [{type: icontains, value: x}]\n"
        for i in range(11)
    )
    make_project(
        {
            "prompts/support/answer.j2": ANSWER_PROMPT,
            "suites/answer.yaml": f"prompt: support/answer\ncases:\n{cases}",
            "suites/triage.yaml": None,
        }
    )
    result = run_cli("export", "finetune", "answer", "-o", str(tmp_path / "seed.jsonl"))
    assert result.exit_code == 0, result.output
    assert "11 case(s) have no known-good answer: answer::q0, " in result.output
    assert "answer::q7 and 3 more" in result.output and "answer::q8" not in result.output


def test_export_finetune_bad_input(project, run_cli, tmp_path) -> None:
    result = run_cli("export", "finetune", "nosuchrun", "-o", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2 and "no saved run and no suite named 'nosuchrun'" in result.output
    assert run_cli("export", "finetune").exit_code == 2  # -o is required


def test_a_failed_oracle_rules_knowledge_out_whatever_the_heuristics_said(make_project, fake_server, run_cli):
    # the answer gives another price, which reads as a missing fact; the model fails with the price list
    # supplied and learns from worked examples: a skill gap, measured
    fake_server.state.default_answer = DeficientModel(
        [
            Deficiency("Plus plan", "skill", "It costs $4.99 a month.", "It costs $2 a month."),
            Deficiency("Pro plan", "knowledge", "It costs $9.99 a month.", "It costs $9.99 a month."),
        ]
    )
    make_project(
        {
            "prompts/support/answer.j2": ANSWER_PROMPT,
            "suites/answer.yaml": (
                "prompt: support/answer\ncases:\n"
                "  - id: plus\n    vars: {question: How much is the Plus plan?}\n"
                "    assert: [{type: icontains, value: '4.99'}]\n"
                "  - id: pro\n    vars: {question: How much is the Pro plan?}\n"
                "    assert: [{type: icontains, value: '9.99'}]\n"
            ),
            "suites/triage.yaml": None,
        }
    )
    run_cli("test")
    before = json.loads(run_cli("escalate", "--format", "json").output)
    assert before["cases"][0]["gap"] == "knowledge"
    report = _json(run_cli("diagnose", "--format", "json"))
    oracle = next(o for o in report["outcomes"] if o["probe"] == "oracle-context")
    assert oracle["fixed"] is False and "retrieval will not help" in oracle["finding"]
    case = report["escalation"]["cases"][0]
    assert case["gap"] == "skill" and "knowledge" not in case["gaps"]
    assert case["technique"] != "rag"


def test_a_prompt_changed_since_the_run_is_not_probed(project, run_cli) -> None:
    run_cli("test")
    prompt = project / "prompts/support/answer.j2"
    prompt.write_text(prompt.read_text().replace("one sentence", "two sentences"))
    report = _json(run_cli("diagnose", "--format", "json"))
    assert report["outcomes"] == []
    assert any("changed since run" in s["reason"] for s in report["skipped"])


def test_an_answer_echoing_the_passage_is_not_evidence(make_project, fake_server, run_cli) -> None:
    # a base model that continues the prompt: its answer holds the passage, so a contains check passes
    fake_server.state.default_answer = lambda messages, body: " ".join(m["content"] for m in messages)
    make_project(
        {
            "prompts/support/answer.j2": ANSWER_PROMPT,
            "suites/answer.yaml": (
                "prompt: support/answer\ncases:\n  - id: price\n    vars: {question: Plus price?}\n"
                "    reference: 'Plus costs $4.99 a month.'\n    assert: [{type: icontains, value: '4.99'}]\n"
            ),
            "suites/triage.yaml": None,
        }
    )
    run_cli("test")
    report = _json(run_cli("diagnose", "--format", "json"))
    oracle = report["outcomes"][0]
    assert oracle["probe"] == "oracle-context" and oracle["passed"] == 1
    assert oracle["fixed"] is None and oracle["gap"] is None and "proves nothing" in oracle["finding"]


def test_few_shot_failing_over_prompt_versions_justifies_fine_tuning(
    make_project, fake_server, run_cli
) -> None:
    fake_server.state.default_answer = DeficientModel(
        [
            Deficiency("ticket A", "skill", "bug", "question", teachable=False),
            Deficiency("ticket B", "knowledge", "refund", "refund"),
        ]
    )
    suite = (
        "prompt: support/answer\ncases:\n"
        "  - id: a\n    vars: {question: ticket A}\n    reference: 'a crash is a bug'\n"
        "    assert: [{type: equals, value: bug}]\n"
        "  - id: b\n    vars: {question: ticket B}\n    assert: [{type: equals, value: refund}]\n"
    )
    root = make_project(
        {"prompts/support/answer.j2": ANSWER_PROMPT, "suites/answer.yaml": suite, "suites/triage.yaml": None}
    )
    prompt = root / "prompts/support/answer.j2"
    for wording in ("one short sentence", "a single sentence", "one sentence"):
        prompt.write_text(ANSWER_PROMPT.replace("one sentence", wording))
        assert run_cli("test").exit_code == 1
    report = _json(run_cli("diagnose", "--format", "json"))
    few = next(o for o in report["outcomes"] if o["probe"] == "few-shot")
    assert few["fixed"] is False and "failed on 3 prompt versions" in few["finding"]
    case = report["escalation"]["cases"][0]
    assert case["gap"] == "skill" and case["technique"] == "fine-tuning"
