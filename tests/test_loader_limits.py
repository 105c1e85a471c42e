"""Inputs that used to crash a loader: each is now exit 2 with one line naming the file (and line).

Run records and reports come from a real run against the fake provider, then get
damaged the way a disk, an editor or an attacker would damage them.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import TRIAGE_SUITE

BILLION_LAUGHS = "\n".join(
    ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"lol{n}: &lol{n} [" + ", ".join([f"*lol{n - 1}"] * 9) + "]" for n in range(1, 9)]
)


def _one_error_line(result, where: str) -> str:
    """The single stderr line of a clean exit 2, checked to name ``where``."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert where in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def saved_run(make_project, run_cli) -> Path:
    """A finished run (one failing case, so reports escalate) and its folder."""
    make_project()
    result = run_cli("test")
    assert result.exit_code == 1, result.output
    runs = sorted((Path.cwd() / ".promptops" / "runs").iterdir())
    return runs[-1]


# --- run records -------------------------------------------------------------------------------


def test_results_line_that_is_not_utf8_names_file_and_line(saved_run: Path, run_cli) -> None:
    path = saved_run / "results.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"case":', b'"ca\xffse":', 1)
    path.write_bytes(b"".join(lines))
    line = _one_error_line(run_cli("report", saved_run.name), "results.jsonl:2")
    assert "corrupt run record line" in line and "invalid JSON" in line


def test_meta_that_is_not_utf8_names_the_file(saved_run: Path, run_cli) -> None:
    path = saved_run / "meta.json"
    path.write_bytes(path.read_bytes().replace(b'"run_id"', b'"run\xe9id"', 1))
    line = _one_error_line(run_cli("report", saved_run.name), "meta.json:3")
    assert "invalid JSON" in line


def test_extra_key_in_meta_is_one_line_with_the_file(saved_run: Path, run_cli) -> None:
    path = saved_run / "meta.json"
    meta = json.loads(path.read_text())
    meta["surprise"] = 1
    path.write_text(json.dumps(meta, indent=2))
    line = _one_error_line(run_cli("report", saved_run.name), "meta.json")
    assert line.endswith("unknown key 'surprise'")


def test_brace_in_summary_is_one_line_with_the_file(saved_run: Path, run_cli) -> None:
    (saved_run / "summary.json").write_text("{")
    line = _one_error_line(run_cli("report", saved_run.name), "summary.json:1")
    assert "invalid JSON: EOF while parsing an object" in line


def test_summary_nested_100000_deep(saved_run: Path, run_cli) -> None:
    path = saved_run / "summary.json"
    summary = json.loads(path.read_text())
    text = json.dumps(summary).replace('"groups": [', '"groups": [' + "[" * 100_000 + "]" * 100_000 + ", ", 1)
    path.write_text(text)
    line = _one_error_line(run_cli("escalate", saved_run.name), "summary.json:1")
    assert "recursion limit exceeded" in line


@pytest.mark.parametrize("which", ["report", "drift"])
def test_json_report_nested_deep_or_with_huge_integer(
    saved_run: Path, run_cli, tmp_path: Path, which: str
) -> None:
    if which == "drift":
        assert (
            run_cli("compare", saved_run.name, saved_run.name, "--format", "json", "-o", "r.json").exit_code
            == 0
        )
    else:
        assert run_cli("report", saved_run.name, "--format", "json", "-o", "r.json").exit_code == 1
    report = Path("r.json").read_text()
    Path("deep.json").write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _one_error_line(run_cli("report", "deep.json"), "deep.json:1")
    Path("big.json").write_text(report.replace('"version": 1', '"version": ' + "9" * 5000, 1))
    line = _one_error_line(run_cli("escalate", "big.json"), "big.json")
    assert "number out of range" in line


def test_comment_markdown_that_is_not_utf8(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    Path("report.md").write_bytes(b"## promptops\n\nall good\ncaf\xe9\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    line = _one_error_line(
        run_cli("github", "comment", "report.md", "--no-comment", "--summary"), "report.md:4"
    )
    assert "not valid UTF-8" in line


def test_comment_markdown_larger_than_github_takes(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    Path("report.md").write_text("## promptops\n" + "| a | b |\n" * 200_000)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    result = run_cli("github", "comment", "report.md", "--no-comment", "--summary")
    line = _one_error_line(result, "report.md")
    assert "the report is 1.9 MiB; GitHub takes at most 1 MiB" in line
    assert not (tmp_path / "summary.md").exists()


# --- suites, config, prompts ----------------------------------------------------------------------


def test_suite_nested_600_deep_names_file_and_line(make_project, run_cli) -> None:
    nested = "".join(" " * (i + 2) + f"k{i}:\n" for i in range(600)) + " " * 602 + "v\n"
    make_project({"suites/triage.yaml": TRIAGE_SUITE + "tags:\n" + nested})
    line = _one_error_line(run_cli("test", "--replay"), "suites/triage.yaml:")
    assert "nested more than 100 levels deep" in line


def test_yaml_nested_100000_deep_in_flow_style(make_project, run_cli) -> None:
    make_project({"suites/triage.yaml": TRIAGE_SUITE + "tags: " + "[" * 100_000 + "]" * 100_000 + "\n"})
    _one_error_line(run_cli("test", "--replay"), "suites/triage.yaml:")


def test_five_thousand_digit_integer_in_a_suite(make_project, run_cli) -> None:
    make_project({"suites/triage.yaml": TRIAGE_SUITE + "repeat: " + "9" * 5000 + "\n"})
    line = _one_error_line(run_cli("test", "--replay"), "suites/triage.yaml:")
    assert "integer with too many digits" in line


@pytest.mark.parametrize("where", ["suite", "defaults.params"])
def test_alias_bomb_is_refused_at_once(make_project, run_cli, fake_server, where: str) -> None:
    from conftest import config_text

    if where == "suite":
        make_project({"suites/triage.yaml": BILLION_LAUGHS + "\n" + TRIAGE_SUITE + "tags: *lol8\n"})
        shown = "suites/triage.yaml:9"
    else:
        config = (
            BILLION_LAUGHS
            + "\n"
            + config_text(fake_server.api_base).replace(
                "params: {temperature: 0, max_tokens: 64}",
                "params: {temperature: 0, max_tokens: 64, x: *lol8}",
            )
        )
        make_project(config=config)
        shown = "promptops.yaml:9"
    started = time.perf_counter()
    line = _one_error_line(run_cli("test", "--replay"), shown)
    assert time.perf_counter() - started < 5  # refused before any expansion (it took minutes and GBs)
    assert "aliases expand this document" in line and "write the values out" in line


def test_a_few_aliases_still_work(make_project, run_cli) -> None:
    suite = TRIAGE_SUITE.replace("    gap: skill\n", "    gap: skill\n    tags: &common [smoke, triage]\n", 1)
    suite = suite.replace("  - id: crash\n", "  - id: crash\n    tags: *common\n", 1)
    make_project({"suites/triage.yaml": suite})
    assert run_cli("lint").exit_code == 0


def test_prompt_name_too_long_for_the_file_system(make_project, run_cli) -> None:
    make_project(
        {"suites/triage.yaml": TRIAGE_SUITE.replace("prompt: support/triage", "prompt: " + "n" * 300)}
    )
    line = _one_error_line(run_cli("test", "--replay"), "suites/triage.yaml:1")
    assert "not found" in line


def test_rules_file_name_too_long(make_project, run_cli, fake_server, saved_run: Path) -> None:
    from conftest import config_text

    Path("promptops.yaml").write_text(
        config_text(fake_server.api_base) + f"escalation: {{rules: {'r' * 300}}}\n"
    )
    _one_error_line(run_cli("escalate", saved_run.name), "promptops.yaml")


# --- rules files ---------------------------------------------------------------------------------

RULE = """\
version: 1
rules:
  - id: mine
    when: {{gap: skill}}
    then:
      technique: prompt-engineering
      rationale: "{rationale}"
"""


@pytest.mark.parametrize(
    ("rationale", "problem"),
    [
        pytest.param("{", "a lone '{'", id="lone-brace"),
        pytest.param("{n_cases:s}", "placeholder {n_cases:s} is not a plain {name}", id="format-spec"),
        pytest.param("{n_cases:1000000000}", "is not a plain {name}", id="width-1e9"),
        pytest.param("{n_cases.__class__}", "is not a plain {name}", id="attribute"),
        pytest.param("{nope}", "unknown placeholder {nope}", id="unknown"),
    ],
)
def test_rules_rationale_is_not_a_format_string(
    saved_run: Path, run_cli, fake_server, rationale: str, problem: str
) -> None:
    from conftest import config_text

    Path("rules.yaml").write_text(RULE.format(rationale=rationale))
    Path("promptops.yaml").write_text(config_text(fake_server.api_base) + "escalation: {rules: rules.yaml}\n")
    line = _one_error_line(run_cli("escalate", saved_run.name), "rules.yaml:7")
    assert problem in line


def test_rules_placeholders_fill_in(saved_run: Path, run_cli, fake_server) -> None:
    from conftest import config_text

    Path("rules.yaml").write_text(RULE.format(rationale="{n_cases} of {n_total} in {{braces}}"))
    Path("promptops.yaml").write_text(config_text(fake_server.api_base) + "escalation: {rules: rules.yaml}\n")
    result = run_cli("escalate", saved_run.name, "--format", "json")
    assert result.exit_code == 0, result.output
    rationales = [e["rationale"] for e in json.loads(result.output)["escalations"] if e["rule"] == "mine"]
    # how many cases show the gap is the diagnosis's business; the text around it is the rule's
    assert len(rationales) == 1 and re.fullmatch(r"[12] of 2 in \{braces\}", rationales[0]), rationales
