"""``javascript`` assertions run by Node.js, as promptfoo runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer

from promptops.assertions import AssertionContext, AssertionSpec, evaluate_assertion, validate_assertion

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@pytest.mark.parametrize(
    ("code", "output", "threshold", "passed", "score"),
    [
        pytest.param("output.includes('refund')", "a refund", None, True, 1.0, id="expression"),
        pytest.param("output.includes('refund')", "no", None, False, 0.0, id="expression-false"),
        pytest.param(
            "output.length <= 100 ? 1 : 1 - (output.length - 100) / 900",
            "x" * 550,
            0.6,
            False,
            0.5,
            id="score",
        ),
        pytest.param(
            "JSON.parse(output).color === 'yellow'", '{"color": "yellow"}', None, True, 1.0, id="parses-json"
        ),
        pytest.param(
            "const lines = output.split('\\n').filter(l => l.trim());\nreturn lines.length === 3;",
            "a\nb\nc",
            None,
            True,
            1.0,
            id="function-body",
        ),
        pytest.param(
            "const n = output.length; n > 2", "abc", None, True, 1.0, id="declarations-then-expression"
        ),
        pytest.param("context.vars.topic === 'refunds'", "", None, True, 1.0, id="context-vars"),
        pytest.param(
            "({pass: false, score: 0.25, reason: 'too terse'})", "", None, False, 0.25, id="result-object"
        ),
    ],
)
def test_javascript_verdicts(code: str, output: str, threshold, passed: bool, score: float) -> None:
    spec = AssertionSpec(type="javascript", value=code, threshold=threshold)
    validate_assertion(spec)
    result = evaluate_assertion(output, spec, AssertionContext(vars={"topic": "refunds"}))
    assert (result.passed, result.score) == (passed, score), result


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        pytest.param("require('fs').readFileSync('/etc/passwd')", "require is not defined", id="no-require"),
        pytest.param("process.exit(1)", "process is not defined", id="no-process"),
        pytest.param("JSON.parse(output)", "is not valid JSON", id="throws"),
        pytest.param("'text'", "must return a boolean, a number", id="wrong-type"),
        pytest.param("while (true) {}\nreturn 1", "timed out", id="endless-loop"),
        pytest.param("return (", "Unexpected", id="syntax-error"),
    ],
)
def test_javascript_faults_fail_with_a_reason(
    code: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import promptops.assertions.javascript as javascript

    monkeypatch.setattr(javascript, "DEFAULT_TIMEOUT_S", 0.3)
    result = evaluate_assertion("not json", AssertionSpec(type="javascript", value=code), AssertionContext())
    assert not result.passed and fragment in result.reason, result
    # the worker survives every fault: the next assertion still runs
    ok = evaluate_assertion("x", AssertionSpec(type="javascript", value="output === 'x'"), AssertionContext())
    assert ok.passed


def test_bad_javascript_specs_are_refused() -> None:
    for spec, fragment in (
        (AssertionSpec(type="javascript"), "needs the code"),
        (AssertionSpec(type="javascript", value="file://check.js:fn"), "file:// modules are not supported"),
        (AssertionSpec(type="javascript", value="1", threshold=2), "threshold must be between 0 and 1"),
    ):
        with pytest.raises(ValueError, match=fragment):
            validate_assertion(spec)


def test_javascript_in_a_suite_through_the_cli(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "question"}
    project: Path = make_project(
        {
            "suites/triage.yaml": (
                "prompt: support/triage\n"
                "cases:\n"
                "  - id: refund\n"
                "    vars: {ticket: charged twice}\n"
                "    assert: [{type: javascript, value: \"output.trim() === 'refund'\"}]\n"
                "  - id: crash\n"
                "    vars: {ticket: crashes}\n"
                "    assert: [{type: not-javascript, value: \"output.includes('question')\"}]\n"
            )
        }
    )
    result = run_cli("test")
    assert result.exit_code == 1, result.output
    runs = sorted((project / ".promptops" / "runs").iterdir())
    summary = json.loads((runs[-1] / "summary.json").read_text())
    assert {case["case"]: case["status"] for case in summary["cases"]} == {
        "refund": "passed",
        "crash": "failed",
    }
