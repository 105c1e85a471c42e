"""Suites that take their cases from CSV, JSONL, JSON and YAML files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer

from promptops.case_files import assertion_from_short_form, split_escaped_commas, to_promptops_assertion

SUITE_FROM = """\
prompt: support/triage
cases: {ref}
"""


def _summary(project: Path) -> dict:
    runs = sorted((project / ".promptops" / "runs").iterdir())
    return json.loads((runs[-1] / "summary.json").read_text())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("refund", {"type": "equals", "value": "refund"}, id="bare-value-is-equals"),
        pytest.param("icontains: Paris", {"type": "icontains", "value": "Paris"}, id="short-form"),
        pytest.param("not-contains:sorry", {"type": "not-contains", "value": "sorry"}, id="negated"),
        pytest.param(
            "contains-any: a, b ,c",
            {"type": "contains-any", "value": ["a", "b", "c"]},
            id="list-split-on-commas",
        ),
        pytest.param(
            "similar(0.9):hello",
            {"type": "similar", "value": "hello", "threshold": 0.9},
            id="threshold-in-parens",
        ),
        pytest.param(
            "similar:hello", {"type": "similar", "value": "hello", "threshold": 0.8}, id="similar-default"
        ),
        pytest.param("grade: is polite", {"type": "llm-rubric", "value": "is polite"}, id="grade-is-rubric"),
        pytest.param(
            "fn: output.length > 3", {"type": "javascript", "value": "output.length > 3"}, id="fn-is-js"
        ),
        pytest.param("is-json", {"type": "is-json"}, id="no-value"),
        pytest.param("latency(1500)", {"type": "latency", "threshold": 1500.0}, id="latency-threshold"),
    ],
)
def test_short_form(text: str, expected: dict) -> None:
    assert assertion_from_short_form(text) == expected


def test_latency_threshold_becomes_max_and_commas_escape() -> None:
    assert to_promptops_assertion({"type": "latency", "threshold": 1500}) == {"type": "latency", "max": 1500}
    assert to_promptops_assertion({"type": "not-cost", "value": 0.1}) == {"type": "not-cost", "max": 0.1}
    assert split_escaped_commas(r"physics,advanced\,theory, quantum") == [
        "physics",
        "advanced,theory",
        "quantum",
    ]


def test_csv_cases_run_with_promptfoo_columns(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "question", "password": "question"}
    project = make_project(
        {
            "suites/triage.yaml": SUITE_FROM.format(ref="file://data/tickets.csv"),
            "suites/data/tickets.csv": (
                "ticket,__expected,__expected2,__description,__metadata:team,__metadata:tags[],"
                "__config:__expected2:threshold\n"
                '"I was charged twice",refund,"not-contains: bug",money back,billing,"a,b\\,c",0.5\n'
                '"The app crashes",bug,,a crash,mobile,,\n'
                "\n"
                '"I forgot my password",icontains: QUESTION,,,,,\n'
            ),
        }
    )
    result = run_cli("test")
    assert result.exit_code == 1, result.output
    summary = _summary(project)
    verdicts = {case["case"]: case["status"] for case in summary["cases"]}
    assert verdicts == {"tickets-1": "passed", "tickets-2": "failed", "tickets-3": "passed"}


def test_jsonl_yaml_json_and_globs_mix_with_inline_cases(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    project = make_project(
        {
            "suites/triage.yaml": (
                "prompt: support/triage\n"
                "cases:\n"
                "  - file://cases/*.jsonl\n"
                "  - file://more.cases.yaml\n"
                "  - file://extra.json\n"
                "  - {id: inline, vars: {ticket: crashes}, assert: [{type: equals, value: bug}]}\n"
            ),
            "suites/cases/a.jsonl": json.dumps(
                {"vars": {"ticket": "charged twice"}, "assert": [{"type": "equals", "value": "refund"}]}
            )
            + "\n",
            "suites/cases/b.jsonl": json.dumps({"id": "named", "vars": {"ticket": "crashes"}}) + "\n",
            "suites/more.cases.yaml": (
                "- id: from-yaml\n  vars: {ticket: crashes}\n  assert: [{type: equals, value: bug}]\n"
            ),
            "suites/extra.json": json.dumps(
                [{"vars": {"ticket": "charged twice"}, "metadata": {"src": "x"}}]
            ),
        }
    )
    result = run_cli("test")
    assert result.exit_code == 0, result.output
    cases = {case["case"] for case in _summary(project)["cases"]}
    assert cases == {"a-1", "named", "from-yaml", "extra-1", "inline"}


@pytest.mark.parametrize(
    ("files", "where", "fragment"),
    [
        pytest.param({}, "suites/triage.yaml:2", "case file 'missing.csv' does not exist", id="missing-file"),
        pytest.param(
            {"outside.csv": "ticket\nx\n"},
            "suites/triage.yaml:2",
            "resolves outside the project",
            id="outside-project",
        ),
        pytest.param(
            {"suites/missing.csv": "ticket,__prefix\nx,y\n"},
            "suites/missing.csv:1",
            "CSV column '__prefix' is not supported",
            id="unsupported-column",
        ),
        pytest.param(
            {"suites/missing.csv": "ticket,__expectd\nx,y\n"},
            "suites/missing.csv:1",
            "unknown special CSV column '__expectd'",
            id="misspelt-column",
        ),
        pytest.param(
            {"suites/missing.csv": "ticket,__expected\na,b\nc\n"},
            "suites/missing.csv:3",
            "row 2 has 1 cells, the header has 2",
            id="short-row",
        ),
        pytest.param(
            {"suites/missing.csv": "ticket,__expected\na,b\nc,rouge-n: hello\n"},
            "suites/missing.csv:3",
            "unknown assertion type 'rouge-n'",
            id="unknown-assertion-in-row",
        ),
        pytest.param(
            {"suites/missing.csv": "tikket,__expected\na,b\n"},
            "suites/missing.csv:2",
            "variable 'tikket' is not an input",
            id="unknown-var-in-row",
        ),
        pytest.param(
            {"suites/missing.csv": b"ticket\n\xff\xfe\n"},
            "suites/missing.csv:2",
            "not valid UTF-8",
            id="not-utf8",
        ),
        pytest.param({"suites/missing.csv": ""}, "suites/missing.csv:1", "CSV file is empty", id="empty-csv"),
        pytest.param(
            {"suites/missing.csv": "ticket,__id\na,x\nb,x\n"},
            "suites/missing.csv:3",
            "duplicate case id 'x' (first at suites/missing.csv:2)",
            id="duplicate-id",
        ),
    ],
)
def test_bad_case_files(make_project, run_cli, files: dict, where: str, fragment: str) -> None:
    binary = {k: v for k, v in files.items() if isinstance(v, bytes)}
    text = {k: v for k, v in files.items() if isinstance(v, str)}
    ref = "file://../../outside.csv" if "outside.csv" in files else "file://missing.csv"
    project = make_project({"suites/triage.yaml": SUITE_FROM.format(ref=ref), **text})
    for name, data in binary.items():
        (project / name).write_bytes(data)
    result = run_cli("test")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"error: {where}: " in result.output, result.output
    assert fragment in result.output, result.output


@pytest.mark.parametrize(
    ("name", "text", "line", "fragment"),
    [
        pytest.param(
            "c.jsonl", '{"vars": {"ticket": "a"}}\n{"vars": \n', 2, "invalid JSON", id="jsonl-bad-line"
        ),
        pytest.param("c.jsonl", '["a"]\n', 1, "each line must be one case object", id="jsonl-not-object"),
        pytest.param(
            "c.jsonl",
            '{"vars": {"ticket": "a"}, "options": {}}\n',
            1,
            "unknown key 'options'",
            id="jsonl-extra",
        ),
        pytest.param("c.json", '{"a": 1}', 1, "a case file must hold a list of cases", id="json-not-list"),
        pytest.param("c.json", '[{"vars": {"ticket": 1}},\n {"vars": 5}]', 2, "vars", id="json-bad-vars"),
        pytest.param(
            "c.cases.yaml",
            "- id: a\n  vars: {ticket: x}\n- id: b\n  varz: {}\n",
            4,
            "unknown key 'varz'",
            id="yaml",
        ),
        pytest.param("c.txt", "x", 2, "unsupported kind '.txt'", id="bad-suffix"),
        pytest.param("c.json", "[" * 100_000, 1, "invalid JSON", id="json-deep"),
    ],
)
def test_bad_structured_case_files(
    make_project, run_cli, name: str, text: str, line: int, fragment: str
) -> None:
    make_project({"suites/triage.yaml": SUITE_FROM.format(ref=f"file://{name}"), f"suites/{name}": text})
    result = run_cli("test")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    where = "suites/triage.yaml" if name.endswith(".txt") else f"suites/{name}"
    assert f"error: {where}:{line}: " in result.output or (
        name == "c.json" and "[" * 10 in text and f"error: {where}" in result.output
    ), result.output
    assert fragment in result.output, result.output


def test_glob_matching_nothing_and_non_file_entry(make_project, run_cli) -> None:
    make_project({"suites/triage.yaml": "prompt: support/triage\ncases:\n  - file://none/*.csv\n"})
    result = run_cli("test")
    assert result.exit_code == 2
    assert "suites/triage.yaml:3: no case files match 'none/*.csv'" in result.output
    make_project({"suites/triage.yaml": "prompt: support/triage\ncases:\n  - just text\n"})
    result = run_cli("test")
    assert result.exit_code == 2
    assert "suites/triage.yaml:3: a case must be a mapping or a 'file://' reference" in result.output
