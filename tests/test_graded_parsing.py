"""Judge answers are parsed strictly enough that garbage is never a pass; python assertions run user code."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptops.assertions import AssertionContext, AssertionSpec, evaluate_assertion, validate_assertion
from promptops.assertions.graded import (
    JudgeAnswerError,
    parse_factuality_answer,
    parse_judged_items,
    parse_numbers,
    parse_questions,
    parse_rubric_answer,
    parse_scale_answer,
    split_sentences,
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param('{"reason": "polite", "pass": true, "score": 0.9}', (True, 0.9, "polite"), id="json"),
        pytest.param(
            'Sure!\n```json\n{"pass": "false", "reason": "rude"}\n```', (False, None, "rude"), id="fenced"
        ),
        pytest.param('{"score": 0.2, "reason": "weak"}', (False, 0.2, "weak"), id="score-only"),
        pytest.param("PASS: the reply apologises", (True, None, "the reply apologises"), id="pass-line"),
        pytest.param("fail - no apology", (False, None, "no apology"), id="fail-line"),
    ],
)
def test_rubric_answers(answer: str, expected: tuple[bool, float | None, str]) -> None:
    assert parse_rubric_answer(answer) == expected


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("I think it is quite good overall.", id="prose"),
        pytest.param('{"verdict": "ok"}', id="wrong-keys"),
        pytest.param('{"pass": "maybe", "reason": "?"}', id="bad-bool"),
        pytest.param('{"pass": true, "score": 7}', id="score-out-of-range"),
        pytest.param("", id="empty"),
        pytest.param("passage of time", id="word-starting-with-pass"),
    ],
)
def test_rubric_garbage_is_an_error(answer: str) -> None:
    with pytest.raises(JudgeAnswerError):
        parse_rubric_answer(answer)


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        pytest.param('{"category": "B", "reason": "adds a year"}', "B", id="json"),
        pytest.param('{"category": "(d)", "reason": "wrong city"}', "D", id="json-parenthesised"),
        pytest.param("(A) The submission is a subset.", "A", id="leading-letter"),
        pytest.param("Category: E because wording differs", "E", id="category-line"),
    ],
)
def test_factuality_categories(answer: str, letter: str) -> None:
    assert parse_factuality_answer(answer)[0] == letter


@pytest.mark.parametrize(
    "answer", ["A fine answer overall.", '{"category": "F"}', "The expert and submission agree.", ""]
)
def test_factuality_garbage_is_an_error(answer: str) -> None:
    with pytest.raises(JudgeAnswerError):
        parse_factuality_answer(answer)


def test_scale_answers_are_scaled_and_bounded() -> None:
    assert parse_scale_answer('{"steps": ["a"], "reason": "clear", "score": 8}') == (0.8, "clear")
    assert parse_scale_answer("Reasoning...\nScore: 3")[0] == pytest.approx(0.3)
    for bad in ('{"score": 11}', "no number here", '{"score": -1}'):
        with pytest.raises(JudgeAnswerError):
            parse_scale_answer(bad)


def test_claims_statements_numbers_and_questions() -> None:
    claims = '{"claims": [{"text": "Paris", "supported": true}, {"text": "2M", "supported": false}]}'
    assert parse_judged_items(claims, "claims", "supported") == [("Paris", True), ("2M", False)]
    assert parse_judged_items('{"claims": []}', "claims", "supported") == []
    with pytest.raises(JudgeAnswerError):
        parse_judged_items('{"claims": [{"text": "x"}]}', "claims", "supported")
    assert parse_numbers('{"needed": [1, 3, 3]}', "needed", 3) == {1, 3}
    with pytest.raises(JudgeAnswerError):
        parse_numbers('{"needed": [4]}', "needed", 3)
    assert parse_questions('{"questions": ["How do I get a refund?", " "]}') == ["How do I get a refund?"]
    assert parse_questions("1. What is it?\n2) Why?\nnot a question") == ["What is it?", "Why?"]
    with pytest.raises(JudgeAnswerError):
        parse_questions("no questions at all")


def test_context_is_split_into_sentences_per_chunk() -> None:
    assert split_sentences(["Paris is the capital. France has wine!", "The Eiffel Tower is in Paris"]) == [
        "Paris is the capital.",
        "France has wine!",
        "The Eiffel Tower is in Paris",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"type": "llm-rubric"}, "missing value", id="rubric-without-text"),
        pytest.param({"type": "factuality", "value": " "}, "missing value", id="factuality-blank"),
        pytest.param({"type": "g-eval", "value": "clear", "threshold": 2}, "between 0 and 1", id="threshold"),
        pytest.param({"type": "context-relevance"}, "give a threshold", id="relevance-threshold"),
        pytest.param({"type": "context-faithfulness", "value": "x"}, "takes no value", id="faithful-value"),
        pytest.param({"type": "similar"}, "missing value", id="similar-without-reference"),
        pytest.param({"type": "similar", "value": ["ok", 3]}, "non-empty text", id="similar-list"),
        pytest.param({"type": "python", "value": "check.py"}, "file.py:function", id="python-no-function"),
        pytest.param({"type": "python", "value": "/abs/check.py:f"}, "relative", id="python-absolute"),
    ],
)
def test_unusable_specs_are_rejected_at_load(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_assertion(AssertionSpec.model_validate(spec))


CHECKS = """\
import json

def polite(output, context):
    return "please" in output.lower()

def share(output, context):
    return len(output) / 100

def detailed(output, context):
    return {"pass": context["vars"]["name"] in output, "score": 0.5, "reason": "checked the name"}

def broken(output, context):
    return json.loads(output)["missing"]

def odd(output, context):
    return ["not", "a", "verdict"]
"""


def _python(root: Path, target: str, output: str, threshold: float | None = None) -> object:
    spec = AssertionSpec(type="python", value=target, threshold=threshold)
    validate_assertion(spec)
    return evaluate_assertion(output, spec, AssertionContext(vars={"name": "Ada"}, project_root=root))


def test_python_assertions(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "reply.py").write_text(CHECKS, encoding="utf-8")
    assert _python(tmp_path, "checks/reply.py:polite", "Yes please").passed is True  # type: ignore[attr-defined]
    assert _python(tmp_path, "checks/reply.py:polite", "No").passed is False  # type: ignore[attr-defined]
    graded = _python(tmp_path, "checks/reply.py:share", "x" * 30, threshold=0.5)
    assert (graded.passed, graded.score) == (False, pytest.approx(0.3))  # type: ignore[attr-defined]
    detailed = _python(tmp_path, "checks/reply.py:detailed", "Hello Ada")
    assert (detailed.passed, detailed.score, detailed.reason) == (True, 0.5, "checked the name")  # type: ignore[attr-defined]
    broken = _python(tmp_path, "checks/reply.py:broken", '{"a": 1}')
    assert broken.error and broken.reason.endswith("KeyError: 'missing'")  # type: ignore[attr-defined]
    odd = _python(tmp_path, "checks/reply.py:odd", "x")
    assert odd.error and "expected bool" in odd.reason  # type: ignore[attr-defined]
    missing = _python(tmp_path, "checks/reply.py:absent", "x")
    assert missing.error and "names no function" in missing.reason  # type: ignore[attr-defined]


def test_python_files_must_stay_inside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.py").write_text("def f(output, context):\n    return True\n", encoding="utf-8")
    (project / "link.py").symlink_to(tmp_path / "outside.py")
    for target in ("../outside.py:f", "link.py:f"):
        result = _python(project, target, "x")
        assert result.error and "outside the project" in result.reason  # type: ignore[attr-defined]
    absent = _python(project, "nope.py:f", "x")
    assert absent.error and "does not exist" in absent.reason  # type: ignore[attr-defined]
