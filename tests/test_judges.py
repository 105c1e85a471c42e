"""Model-graded, semantic and code assertions end to end: suite -> runner -> litellm -> fake provider.

The fake server answers both the model under test (rules keyed on the ticket)
and the judge (rules keyed on text of the judge prompt, which quotes the graded
output), and serves /v1/embeddings with bag-of-words vectors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FAKE_KEY_ENV, config_text
from fake_openai import FakeOpenAIServer, echo_last_user

from promptops import embeddings

REPLY_PROMPT = """\
---
version: 1.0.0
description: Answer a support ticket
inputs:
  ticket: {required: true}
  query: {default: ""}
  context: {default: ""}
---
{% role "system" %}Answer the customer in one or two sentences.{% endrole %}
{% role "user" %}{{ ticket }}{% endrole %}
"""

ANSWERS = {
    "charged twice": "We are sorry. Your refund was issued today.",
    "rude please": "Figure it out yourself.",
    "password": "Open settings and choose reset password.",
}


def _config(api_base: str) -> str:
    # the judge and embedding aliases belong under models:, which config_text ends before defaults
    base = config_text(api_base)
    where = f'api_base: "{api_base}", api_key_env: {FAKE_KEY_ENV}'
    aliases = (
        f"  judge: {{model: openai/fake-judge, {where}}}\n"
        f"  embedding: {{model: openai/fake-embedding, {where}}}\n"
    )
    return base.replace("defaults:\n", aliases + "defaults:\n", 1)


def _suite(cases: list[dict[str, Any]], **top: Any) -> str:
    return yaml.safe_dump({"prompt": "support/reply", **top, "cases": cases}, sort_keys=False)


def _project(make_project, fake_server: FakeOpenAIServer, suite: str, **files: str) -> Path:
    return make_project(
        {
            "prompts/support/reply.j2": REPLY_PROMPT,
            "suites/triage.yaml": None,
            "suites/reply.yaml": suite,
            **files,
        },
        config=_config(fake_server.api_base),
    )


def _report(result) -> dict[str, Any]:
    return json.loads(result.stdout)


def _cases(result) -> dict[str, dict[str, Any]]:
    return {c["case"]: c for c in _report(result)["cases"]}


def _judge_requests(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r for r in server.state.requests if r.get("model") == "fake-judge"]


RUBRIC_PASS = '{"reason": "apologises and gives the outcome", "pass": true, "score": 0.9}'
RUBRIC_FAIL = '{"reason": "no apology", "pass": false, "score": 0.1}'


def test_rubric_factuality_and_geval_pass_fail_and_rerun_makes_no_judge_calls(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    # first match wins: the g-eval rule goes before the rubric ones, whose text its prompt also holds
    fake_server.state.answers = {
        **ANSWERS,
        "<criteria>\nEmpathy": '{"steps": ["look for empathy"], "reason": "kind", "score": 8}',
        "<submission>\nWe are sorry": '{"category": "B", "reason": "adds the date"}',
        "<submission>\nFigure it out": '{"category": "D", "reason": "no refund"}',
        "<text>\nWe are sorry": RUBRIC_PASS,
        "<text>\nFigure it out": RUBRIC_FAIL,
    }
    rubric = {"type": "llm-rubric", "value": "Apologises and says what happens next"}
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [
                    rubric,
                    {"type": "factuality", "value": "A refund was issued."},
                    {"type": "g-eval", "value": "Empathy towards the customer"},
                ],
            },
            {"id": "rude", "vars": {"ticket": "rude please"}, "assert": [rubric]},
            {
                "id": "rude-facts",
                "vars": {"ticket": "rude please"},
                "assert": [{"type": "factuality", "value": "A refund was issued."}],
            },
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 1, result.output
    cases = _cases(result)
    assert cases["refund"]["status"] == "passed"
    assert cases["rude"]["status"] == "failed"
    assert cases["rude"]["failed_assertions"][0]["reason"].startswith("no apology")
    assert "(D) output disagrees with the reference" in cases["rude-facts"]["failed_assertions"][0]["reason"]
    judge_calls = _judge_requests(fake_server)
    assert len(judge_calls) == 5
    assert {r["temperature"] for r in judge_calls} == {0} and {r["seed"] for r in judge_calls} == {0}
    group = _report(result)["groups"][0]
    assert group["judge_calls"] == 5

    before = len(fake_server.state.requests)
    again = run_cli("test", "--format", "json")
    assert again.exit_code == 1
    assert len(fake_server.state.requests) == before  # answers and verdicts from the cache: no judge call
    assert {k: v["status"] for k, v in _cases(again).items()} == {k: v["status"] for k, v in cases.items()}
    assert _report(again)["groups"][0]["judge_calls"] == 0

    run = sorted((Path(".promptops/runs")).iterdir())[-1]
    first = json.loads((run / "results.jsonl").read_text().splitlines()[0])
    trace = first["assertions"][0]["judge"]
    assert (
        trace["model"] == "judge" and trace["prompt"] == "llm-rubric" and trace["prompt_version"] == "1.0.0"
    )
    assert trace["answers"] == [RUBRIC_PASS] and trace["votes"] == [True]


@pytest.mark.parametrize(
    ("judge_answer", "expected"),
    [
        pytest.param("I really like this reply!", "judge answer not understood", id="garbage"),
        pytest.param('{"pass": "perhaps"}', "neither 'pass' nor 'score'", id="bad-json"),
        pytest.param("", "judge answer not understood", id="empty"),
    ],
)
def test_judge_garbage_is_an_errored_assertion_with_the_raw_text(
    make_project, run_cli, fake_server: FakeOpenAIServer, judge_answer: str, expected: str
) -> None:
    fake_server.state.answers = {**ANSWERS, "<rubric>": judge_answer}
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "llm-rubric", "value": "Apologises"}],
            }
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 3, result.output  # no verdict: never a pass
    case = _cases(result)["refund"]
    assert case["status"] == "error"
    assert case["error"]["type"] == "GradingError"
    assert expected in case["error"]["message"]
    if judge_answer.startswith("I really"):
        assert "I really like this reply!" in case["error"]["message"]


def test_a_failing_deterministic_assertion_decides_even_when_the_judge_errs(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = {**ANSWERS, "<rubric>": "no idea"}
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [
                    {"type": "llm-rubric", "value": "Apologises"},
                    {"type": "contains", "value": "voucher"},
                ],
            }
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 1
    assert _cases(result)["refund"]["status"] == "failed"


def test_judge_provider_errors_are_retried_then_errored(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = {**ANSWERS, "<rubric>": RUBRIC_PASS}
    # the answer under test goes through; the judge then meets 500s beyond its retries (3)
    fake_server.state.fault_script[:] = ["ok", "500", "500", "500", "500"]
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "llm-rubric", "value": "Apologises"}],
            }
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 3
    case = _cases(result)["refund"]
    assert case["status"] == "error" and "judge call failed" in case["error"]["message"]
    assert len(_judge_requests(fake_server)) == 4
    # a later run retries the judge (an error is not cached) and reaches a verdict
    assert run_cli("test").exit_code == 0


def test_judge_repeat_takes_the_majority_and_reports_agreement(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    def answer(messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
        if "<rubric>" in echo_last_user(messages, body):
            return RUBRIC_FAIL if body.get("seed") == 2 else RUBRIC_PASS
        return echo_last_user(messages, body)

    fake_server.state.answers = dict(ANSWERS)
    fake_server.state.default_answer = answer
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "llm-rubric", "value": "Apologises"}],
            }
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--judge-repeat", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    case = _cases(result)["refund"]
    assert case["judge_agreement"] == pytest.approx(2 / 3)
    assert sorted(r["seed"] for r in _judge_requests(fake_server)) == [0, 1, 2]
    text = run_cli("test", "--judge-repeat", "3")
    assert "judge agreement" in text.output and "67%" in text.output
    assert len(_judge_requests(fake_server)) == 3  # the second run was answered from the cache


def test_record_then_replay_judges_and_embeddings_without_a_key(
    make_project, run_cli, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_server.state.answers = {**ANSWERS, "<rubric>": RUBRIC_PASS}
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [
                    {"type": "llm-rubric", "value": "Apologises"},
                    {"type": "similar", "value": "Sorry, your refund was issued", "threshold": 0.5},
                ],
            },
            {
                "id": "reset",
                "vars": {"ticket": "password"},
                "assert": [{"type": "similar", "value": "The weather is nice in Lisbon", "threshold": 0.5}],
            },
        ]
    )
    root = _project(make_project, fake_server, suite)
    live = run_cli("test", "--format", "json")
    assert live.exit_code == 1
    assert run_cli("record").exit_code == 1 or True
    recording = yaml.safe_load((root / "suites/reply.recording.yaml").read_text())
    judged = recording["recordings"][0]["judges"]
    assert any(entry["output"] == RUBRIC_PASS for entry in judged)
    assert any(entry["model_id"] == "openai/fake-embedding" for entry in judged)

    (root / ".promptops").rename(root / "old-state")  # no cache: the recording alone must answer
    monkeypatch.delenv(FAKE_KEY_ENV)
    before = len(fake_server.state.requests)
    replayed = run_cli("test", "--replay", "--format", "json")
    assert len(fake_server.state.requests) == before
    assert {k: v["status"] for k, v in _cases(replayed).items()} == {"refund": "passed", "reset": "failed"}
    assert replayed.exit_code == 1


def test_replay_miss_of_a_judge_is_an_error(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {**ANSWERS, "<rubric>": RUBRIC_PASS}
    cases = [
        {
            "id": "refund",
            "vars": {"ticket": "I was charged twice"},
            "assert": [{"type": "contains", "value": "x"}],
        }
    ]
    root = _project(make_project, fake_server, _suite(cases))
    assert run_cli("record").exit_code == 0
    cases[0]["assert"] = [{"type": "llm-rubric", "value": "Apologises"}]
    (root / "suites/reply.yaml").write_text(_suite(cases))
    (root / ".promptops").rename(root / "old-state")
    result = run_cli("test", "--replay", "--format", "json")
    assert result.exit_code == 3
    assert "no recorded answer from judge 'judge'" in _cases(result)["refund"]["error"]["message"]


@pytest.mark.parametrize(
    ("assertion", "judge_rule", "judge_answer", "status", "reason"),
    [
        pytest.param(
            {"type": "context-faithfulness"},
            "<context>",
            '{"claims": [{"text": "refund issued", "supported": true}]}',
            "passed",
            "1/1 claims supported",
            id="faithful",
        ),
        pytest.param(
            {"type": "context-faithfulness", "threshold": 0.6},
            "<context>",
            '{"claims": [{"text": "refund", "supported": true}, {"text": "today", "supported": false}]}',
            "failed",
            "not: 'today'",
            id="unfaithful",
        ),
        pytest.param(
            {"type": "context-recall", "value": "Refunds take 5 days. They go to the card."},
            "<reference>",
            '{"statements": [{"text": "5 days", "attributed": true}, {"text": "card", "attributed": true}]}',
            "passed",
            "2/2 reference statements",
            id="recall",
        ),
        pytest.param(
            {"type": "context-relevance", "threshold": 0.5},
            "<sentences>",
            '{"needed": [1]}',
            "failed",
            "1/3 sentences needed",
            id="relevance",
        ),
        pytest.param(
            {"type": "context-relevance", "threshold": 0.5, "context_var": "chunks"},
            "<sentences>",
            '{"needed": [1, 2]}',
            "passed",
            "2/3 sentences needed",
            id="relevance-other-variable",
        ),
    ],
)
def test_retrieval_judges(
    make_project,
    run_cli,
    fake_server: FakeOpenAIServer,
    assertion: dict[str, Any],
    judge_rule: str,
    judge_answer: str,
    status: str,
    reason: str,
) -> None:
    fake_server.state.answers = {**ANSWERS, judge_rule: judge_answer}
    context = "Refunds take 5 days. They go back to the card. Our office is in Lisbon."
    prompt = REPLY_PROMPT.replace(
        '  context: {default: ""}', '  context: {default: ""}\n  chunks: {default: []}'
    )
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {
                    "ticket": "I was charged twice",
                    "query": "When do I get my refund?",
                    "context": context,
                    "chunks": [
                        "Refunds take 5 days.",
                        "They go back to the card.",
                        "Our office is in Lisbon.",
                    ],
                },
                "assert": [assertion],
            }
        ]
    )
    _project(make_project, fake_server, suite, **{"prompts/support/reply.j2": prompt})
    result = run_cli("test", "--format", "json")
    case = _cases(result)["refund"]
    assert case["status"] == status, result.output
    if status == "failed":
        assert reason in case["failed_assertions"][0]["reason"]
    else:
        run = sorted((Path(".promptops/runs")).iterdir())[-1]
        first = json.loads((run / "results.jsonl").read_text().splitlines()[0])
        assert reason in first["assertions"][0]["reason"]


def test_missing_context_variable_is_an_errored_assertion(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = dict(ANSWERS)
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "context-recall", "value": "x", "context_var": "docs"}],
            }
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 3
    assert "no variable 'docs'" in _cases(result)["refund"]["error"]["message"]
    assert not _judge_requests(fake_server)


def test_answer_relevance_uses_judge_questions_and_embeddings(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    # judge rules first: the judge's prompt quotes the answer, which holds the word "password"
    fake_server.state.answers = {
        "<answer>\nWe are sorry": '{"questions": ["When do I get my refund?", "Was my refund issued?"]}',
        "<answer>\nOpen settings": '{"questions": ["How do I reset my password?"]}',
        **ANSWERS,
    }
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice", "query": "When do I get my refund?"},
                "assert": [{"type": "answer-relevance", "threshold": 0.6}],
            },
            {
                "id": "off-topic",
                "vars": {"ticket": "password", "query": "When do I get my refund?"},
                "assert": [{"type": "answer-relevance", "threshold": 0.6}],
            },
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--format", "json")
    cases = _cases(result)
    assert cases["refund"]["status"] == "passed", result.output
    assert cases["off-topic"]["status"] == "failed"
    assert "When do I get my refund?" in fake_server.state.embedding_inputs


def test_similar_with_a_provider_embedding_model(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = dict(ANSWERS)
    suite = _suite(
        [
            {
                "id": "close",
                "vars": {"ticket": "password"},
                "assert": [{"type": "similar", "value": ["Choose reset password in settings", "unrelated"]}],
            },
            {
                "id": "far",
                "vars": {"ticket": "password"},
                "assert": [{"type": "similar", "value": "Lisbon has sunny weather", "threshold": 0.5}],
            },
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "-j", "1", "--format", "json")
    cases = _cases(result)
    assert cases["close"]["status"] == "passed", result.output
    assert cases["far"]["status"] == "failed"
    assert "cosine" in cases["far"]["failed_assertions"][0]["reason"]
    # each distinct text is embedded once per process (here, the output both cases share)
    assert fake_server.state.embedding_inputs.count("Open settings and choose reset password.") == 1
    before = len(fake_server.state.requests)
    assert run_cli("test").exit_code == 1
    assert len(fake_server.state.requests) == before


@pytest.mark.skipif(not embeddings.builtin_available(), reason="needs promptops[embed] and the model weights")
def test_similar_with_the_builtin_embedding_model_offline(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = dict(ANSWERS)
    suite = _suite(
        [
            {
                "id": "paraphrase",
                "vars": {"ticket": "charged twice"},
                "assert": [{"type": "similar", "value": "Apologies, we have refunded your payment."}],
            },
            {
                "id": "unrelated",
                "vars": {"ticket": "charged twice"},
                "assert": [{"type": "similar", "value": "The museum opens at nine on Sundays."}],
            },
        ],
        embedding="local/all-minilm-l6-v2",
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test", "--format", "json")
    cases = _cases(result)
    assert cases["unrelated"]["status"] == "failed", result.output
    assert not fake_server.state.embedding_inputs  # computed in-process
    run = sorted((Path(".promptops/runs")).iterdir())[-1]
    scores = {
        json.loads(line)["case"]: json.loads(line)["assertions"][0]["score"]
        for line in (run / "results.jsonl").read_text().splitlines()
    }
    assert scores["paraphrase"] > scores["unrelated"] + 0.3


def test_missing_judge_is_an_error_naming_the_suite(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "llm-rubric", "value": "Apologises", "judge": "nobody"}],
            }
        ]
    )
    _project(make_project, fake_server, suite)
    result = run_cli("test")
    assert result.exit_code == 2
    assert "suites/reply.yaml:3: llm-rubric: unknown model 'nobody'" in result.output
    assert not fake_server.state.requests


def test_no_judge_alias_explains_how_to_add_one(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "factuality", "value": "A refund was issued"}],
            }
        ]
    )
    make_project(
        {"prompts/support/reply.j2": REPLY_PROMPT, "suites/triage.yaml": None, "suites/reply.yaml": suite}
    )
    result = run_cli("test")
    assert result.exit_code == 2
    assert "needs a judge model: add a 'judge' alias" in result.output


def test_project_judge_prompt_overrides_the_builtin_one(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = {"HOUSE RUBRIC": RUBRIC_FAIL, **ANSWERS}
    override = """\
---
version: 2.0.0
description: Our own rubric judge
inputs:
  output: {required: true}
  rubric: {required: true}
  vars: {default: {}}
---
HOUSE RUBRIC for ticket {{ vars.ticket }}: {{ rubric }}
Answer: {{ output }}
"""
    suite = _suite(
        [
            {
                "id": "refund",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "llm-rubric", "value": "Apologises"}],
            }
        ]
    )
    _project(make_project, fake_server, suite, **{"prompts/_judges/llm-rubric.j2": override})
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 1
    judge_call = _judge_requests(fake_server)[0]
    assert "for ticket I was charged twice" in judge_call["messages"][-1]["content"]
    run = sorted((Path(".promptops/runs")).iterdir())[-1]
    trace = json.loads((run / "results.jsonl").read_text().splitlines()[0])["assertions"][0]["judge"]
    assert (trace["prompt"], trace["prompt_version"]) == ("_judges/llm-rubric", "2.0.0")


CHECKS = """\
def apologises(output, context):
    return {"pass": "sorry" in output.lower(), "reason": "looked for sorry in " + context["vars"]["ticket"]}

def crashes(output, context):
    raise ValueError("cannot grade " + output[:5])
"""


def test_python_assertions_in_a_suite(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = dict(ANSWERS)
    suite = _suite(
        [
            {
                "id": "polite",
                "vars": {"ticket": "I was charged twice"},
                "assert": [{"type": "python", "value": "checks/reply.py:apologises"}],
            },
            {
                "id": "rude",
                "vars": {"ticket": "rude please"},
                "assert": [{"type": "python", "value": "checks/reply.py:apologises"}],
            },
            {
                "id": "broken",
                "vars": {"ticket": "rude please"},
                "assert": [{"type": "python", "value": "checks/reply.py:crashes"}],
            },
        ]
    )
    _project(make_project, fake_server, suite, **{"checks/reply.py": CHECKS})
    result = run_cli("test", "--format", "json")
    cases = _cases(result)
    assert cases["polite"]["status"] == "passed", result.output
    assert cases["rude"]["status"] == "failed"
    assert cases["rude"]["failed_assertions"][0]["reason"] == "looked for sorry in rude please"
    assert cases["broken"]["status"] == "error"
    assert cases["broken"]["error"]["message"].endswith("ValueError: cannot grade Figur")


@pytest.mark.skipif(not embeddings.builtin_available(), reason="needs promptops[embed] and the model weights")
def test_compare_semantic_calls_an_equivalent_rewording_unchanged(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    case = {"id": "refund", "vars": {"ticket": "charged"}, "assert": [{"type": "contains", "value": "e"}]}
    _project(make_project, fake_server, _suite([case]))
    fake_server.state.answers = {"charged": "Your refund was issued today and reaches your card soon."}
    assert run_cli("test").exit_code == 0
    fake_server.state.answers = {"charged": "We sent the refund today; it will be on your card shortly."}
    assert run_cli("test", "--no-cache").exit_code == 0
    first, second = sorted(p.name for p in Path(".promptops/runs").iterdir())
    plain = json.loads(run_cli("compare", first, second, "--format", "json").stdout)
    semantic = json.loads(run_cli("compare", first, second, "--semantic", "--format", "json").stdout)
    assert plain["cases"][0]["status"] == "changed"
    assert semantic["cases"][0]["status"] == "unchanged"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("checks/absent.py:f", "checks/absent.py does not exist", id="missing"),
        pytest.param("../outside.py:f", "../outside.py is outside the project", id="outside"),
    ],
)
def test_python_file_problems_are_bad_input(
    make_project, run_cli, fake_server: FakeOpenAIServer, target: str, message: str
) -> None:
    case = {"id": "refund", "vars": {"ticket": "charged"}, "assert": [{"type": "python", "value": target}]}
    root = _project(make_project, fake_server, _suite([case]))
    (root.parent / "outside.py").write_text("def f(output, context):\n    return True\n", encoding="utf-8")
    result = run_cli("test")
    assert result.exit_code == 2
    assert f"suites/reply.yaml:3: python: {message}" in result.output
    assert not fake_server.state.requests


def test_pytest_fixture_points_graded_checks_to_suites(make_project, fake_server: FakeOpenAIServer) -> None:
    from promptops.config import load_project
    from promptops.errors import UsageError
    from promptops.plan import RunOptions
    from promptops.pytest_plugin.fixture import PromptOpsFixture

    root = _project(make_project, fake_server, _suite([{"id": "c", "vars": {"ticket": "x"}}]))
    fixture = PromptOpsFixture(load_project(root), RunOptions())
    with pytest.raises(UsageError, match="llm-rubric is checked in suites only"):
        fixture.check("Sorry!", {"type": "llm-rubric", "value": "Apologises"})
    assert fixture.check("Sorry!", {"type": "icontains", "value": "sorry"}).passed


def test_markdown_report_shows_judge_calls_and_agreement(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = {"<rubric>": RUBRIC_PASS, **ANSWERS}
    rubric = {"type": "llm-rubric", "value": "Kind"}
    _project(
        make_project,
        fake_server,
        _suite([{"id": "refund", "vars": {"ticket": "charged twice"}, "assert": [rubric]}]),
    )
    result = run_cli("test", "--judge-repeat", "2", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "judges: 2 provider calls · judge agreement 100% over 1 cases" in result.output
