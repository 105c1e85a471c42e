"""Golden outputs: `promptops golden update` and the `golden` assertion."""

from __future__ import annotations

import json

import pytest
import yaml

from promptops.assertions import AssertionContext, AssertionSpec, evaluate_assertion

GOLDEN_SUITE = """\
prompt: support/triage
defaults:
  assert:
    - {type: golden}
cases:
  - id: refund-basic
    vars: {ticket: "I was charged twice"}
  - id: crash
    vars: {ticket: "The app crashes"}
"""


def _golden(output: str, golden: str | None, **spec: object):
    return evaluate_assertion(output, AssertionSpec(type="golden", **spec), AssertionContext(golden=golden))


def test_update_writes_readable_golden_file(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund\nbecause: charged twice", "crashes": "bug"}
    root = make_project({"suites/triage.yaml": GOLDEN_SUITE})
    result = run_cli("golden", "update")
    assert result.exit_code == 0, result.output
    assert "wrote 2 golden outputs to suites/triage.golden.yaml" in result.output
    text = (root / "suites/triage.golden.yaml").read_text()
    assert "output: |-\n    refund\n    because: charged twice" in text
    data = yaml.safe_load(text)
    first = data["goldens"][0]
    assert first["case"] == "refund-basic" and first["model"] == "fake"
    assert first["model_id"] == "openai/fake-model" and first["prompt_version"] == "1.0.0"
    assert len(first["prompt_fingerprint"]) == 16
    # the golden file is not a suite
    assert run_cli("test").exit_code == 0


def test_golden_assertion_flags_drift(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project({"suites/triage.yaml": GOLDEN_SUITE})
    assert run_cli("golden", "update").exit_code == 0
    fake_server.state.answers = {"charged twice": "refund", "crashes": "this is a feature request"}
    result = run_cli("test", "--no-cache")
    assert result.exit_code == 1
    assert "differs from the golden output" in result.output
    assert "triage::crash [fake]" in result.output


def test_update_keeps_other_models_and_drops_removed_cases(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    root = make_project({"suites/triage.yaml": GOLDEN_SUITE})
    assert run_cli("golden", "update", "-m", "fake").exit_code == 0
    assert run_cli("golden", "update", "-m", "other").exit_code == 0
    data = yaml.safe_load((root / "suites/triage.golden.yaml").read_text())
    assert sorted((g["case"], g["model"]) for g in data["goldens"]) == [
        ("crash", "fake"),
        ("crash", "other"),
        ("refund-basic", "fake"),
        ("refund-basic", "other"),
    ]
    suite = root / "suites/triage.yaml"
    suite.write_text(GOLDEN_SUITE.split("  - id: crash")[0])
    assert run_cli("golden", "update", "-m", "fake").exit_code == 0
    data = yaml.safe_load((root / "suites/triage.golden.yaml").read_text())
    assert sorted((g["case"], g["model"]) for g in data["goldens"]) == [
        ("refund-basic", "fake"),
        ("refund-basic", "other"),
    ]


@pytest.mark.parametrize(
    ("output", "golden", "spec", "passed", "fragment"),
    [
        pytest.param(
            "Refund  please",
            "refund please",
            {},
            True,
            "matches the golden output (similarity 1.00",
            id="text-normalised",
        ),
        pytest.param("refund", "bug", {}, False, "differs from the golden output", id="text-different"),
        pytest.param(
            "the refund is approved",
            "the refund was approved",
            {"threshold": 0.8},
            True,
            "matches",
            id="text-close-enough",
        ),
        pytest.param("anything", None, {}, False, "no golden output for this case and model", id="no-golden"),
        pytest.param(
            '{"a": 1, "b": [1, 2]}',
            '{"b": [2, 1], "a": 1}',
            {"ignore_order": True},
            True,
            "JSON matches",
            id="json-ignore-order",
        ),
        pytest.param(
            '{"a": 1.004}', '{"a": 1.0}', {"tolerance": 0.01}, True, "JSON matches", id="json-tolerance"
        ),
        pytest.param(
            '{"a": 2, "c": 3}',
            '{"a": 1, "b": 2}',
            {},
            False,
            "changed root['a']: 1 -> 2; added root['c'] = 3; removed root['b']",
            id="json-diff",
        ),
        pytest.param(
            'sure: ```json\n{"a": 1}\n```', '{"a": 1}', {}, True, "JSON matches", id="json-in-prose"
        ),
        pytest.param(
            "no json here", '{"a": 1}', {}, False, "golden is JSON but the output has none", id="json-missing"
        ),
    ],
)
def test_golden_comparison(output, golden, spec, passed, fragment) -> None:
    result = _golden(output, golden, **spec)
    assert result.passed is passed
    assert fragment in result.reason
    assert 0.0 <= result.score <= 1.0


def test_golden_with_value_is_a_suite_error(make_project, run_cli) -> None:
    suite = GOLDEN_SUITE.replace("- {type: golden}", "- {type: golden, value: x}")
    make_project({"suites/triage.yaml": suite})
    result = run_cli("test")
    assert result.exit_code == 2
    assert "suites/triage.yaml:4: golden: takes no value" in result.output


def test_invalid_golden_file_is_reported_with_line(make_project, run_cli) -> None:
    golden = (
        "version: 1\nsuite: triage\ngoldens:\n  - case: a\n    model: fake\n    model_id: openai/x\n"
        "    prompt_version: 1.0.0\n    prompt_fingerprint: abc\n    output: x\n    acepted: true\n"
    )
    make_project({"suites/triage.golden.yaml": golden})
    result = run_cli("test")
    assert result.exit_code == 2
    assert "suites/triage.golden.yaml:10: unknown key 'acepted'" in result.output


def test_golden_json_report_fields(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": '{"label": "refund"}', "crashes": '{"label": "bug"}'}
    make_project({"suites/triage.yaml": GOLDEN_SUITE})
    assert run_cli("golden", "update").exit_code == 0
    fake_server.state.answers = {"charged twice": '{"label": "refund"}', "crashes": '{"label": "question"}'}
    result = run_cli("test", "--no-cache", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    crash = next(c for c in report["cases"] if c["case"] == "crash")
    assert crash["failed_assertions"][0]["reason"] == "changed root['label']: 'bug' -> 'question'"
