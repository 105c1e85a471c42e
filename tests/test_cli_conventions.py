"""Command-line conventions: colour and verbosity flags, report kinds, JSON Schemas, init, semver order."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from git_repo import commit_all, git, set_prompt

from promptops.cli import cli
from promptops.prompts import semver_key
from promptops.schemas import config_schema, suite_schema

ROOT = Path(__file__).resolve().parent.parent
ANSI = "\x1b["
ANSWERS = {"charged twice": "refund", "crashes": "question"}


# --- semver precedence ----------------------------------------------------------------------------

SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.9",
    "1.0.0-alpha.10",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.3.0-alpha.9",
    "1.3.0-alpha.10",
    "1.3.0",
    "10.0.0",
]


def test_versions_sort_by_semver_precedence() -> None:
    shuffled = sorted(SEMVER_ORDER, key=lambda v: v[::-1])
    assert sorted(shuffled, key=semver_key) == SEMVER_ORDER


@pytest.mark.parametrize(
    "older, newer",
    [
        pytest.param("1.3.0-alpha.9", "1.3.0-alpha.10", id="numeric-identifiers"),
        pytest.param("1.3.0-alpha.10", "1.3.0-beta", id="alphanumeric-after"),
        pytest.param("1.3.0-rc.1", "1.3.0", id="release-after-pre-release"),
        pytest.param("1.3.0+build.9", "1.3.1+build.1", id="build-metadata-ignored"),
    ],
)
def test_lint_accepts_a_pre_release_bump(make_project, run_cli, older: str, newer: str) -> None:
    root = make_project()
    git(root, "init", "-q", "-b", "main")
    set_prompt(root, older)
    commit_all(root, "first")
    set_prompt(root, newer, wording="one single word")
    result = run_cli("lint", "--base", "main", "--format", "json")
    findings = json.loads(result.stdout)["findings"]
    assert result.exit_code == 0, result.output
    assert not [f for f in findings if "version" in f["message"]], findings


def test_lint_rejects_a_lower_pre_release(make_project, run_cli) -> None:
    root = make_project()
    git(root, "init", "-q", "-b", "main")
    set_prompt(root, "1.3.0-alpha.10")
    commit_all(root, "first")
    set_prompt(root, "1.3.0-alpha.9", wording="one single word")
    result = run_cli("lint", "--base", "main")
    assert result.exit_code == 1
    assert "version 1.3.0-alpha.9 is lower than 1.3.0-alpha.10" in result.output


# --- JSON report kinds ----------------------------------------------------------------------------


def test_json_reports_say_their_kind(make_project, run_cli, fake_server, tmp_path: Path) -> None:
    fake_server.state.answers.update(ANSWERS)
    make_project()
    test_report = json.loads(run_cli("test", "--format", "json").stdout)
    assert test_report["kind"] == "test" and "run_id" in test_report
    runs = sorted(p.name for p in (Path.cwd() / ".promptops/runs").iterdir())
    assert run_cli("test", "-m", "other").exit_code == 1
    runs = sorted(p.name for p in (Path.cwd() / ".promptops/runs").iterdir())
    drift_file = tmp_path / "drift.json"
    run_cli("compare", runs[0], runs[1], "--format", "json", "-o", str(drift_file))
    drift = json.loads(drift_file.read_text())
    assert drift["kind"] == "drift" and "baseline_run" in drift
    # both read back as reports
    again = json.loads(run_cli("report", str(drift_file), "--format", "json").stdout)
    assert again["kind"] == "drift"
    lint_file = tmp_path / "lint.json"
    run_cli("lint", "--format", "json", "-o", str(lint_file))
    assert json.loads(lint_file.read_text())["kind"] == "lint"
    wrong = run_cli("report", str(lint_file))
    assert wrong.exit_code == 2 and "a lint report, not a test or drift report" in wrong.output


# --- JSON Schemas and init ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["config", "suite"])
def test_schema_command_prints_a_valid_schema(run_cli, name: str, tmp_path: Path) -> None:
    schema = json.loads(run_cli("schema", name).stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    out = tmp_path / "schema.json"
    assert run_cli("schema", name, "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text()) == schema


def test_this_repository_validates_against_the_schemas() -> None:
    config = jsonschema.Draft202012Validator(config_schema())
    assert not list(config.iter_errors(yaml.safe_load((ROOT / "promptops.yaml").read_text())))
    suites = jsonschema.Draft202012Validator(suite_schema())
    checked = 0
    for path in sorted((ROOT / "suites").glob("*.yaml")):
        if path.name.count(".") > 1:  # goldens, recordings and case files have their own shapes
            continue
        assert not list(suites.iter_errors(yaml.safe_load(path.read_text()))), path.name
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize(
    "document, problem",
    [
        pytest.param({"prompt": "p", "cases": [{"id": "a", "asert": []}]}, "asert", id="misspelt-key"),
        pytest.param({"prompt": "p", "cases": []}, "cases", id="no-cases"),
        pytest.param({"prompt": "p", "threshold": 2, "cases": [{"id": "a"}]}, "threshold", id="range"),
    ],
)
def test_suite_schema_flags_what_the_loader_rejects(document: dict, problem: str) -> None:
    errors = list(jsonschema.Draft202012Validator(suite_schema()).iter_errors(document))
    assert errors and any(problem in (e.message + str(list(e.path))) for e in errors)


def test_suite_schema_accepts_case_files() -> None:
    validator = jsonschema.Draft202012Validator(suite_schema())
    assert not list(validator.iter_errors({"prompt": "p", "cases": "file://cases.csv"}))
    assert not list(validator.iter_errors({"prompt": "p", "cases": ["file://a.jsonl", {"id": "x"}]}))


def test_init_writes_schemas_the_files_name_and_offers_git(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    # not interactive and no flag: a note, no repository
    assert "not a git repository" in result.output and not (tmp_path / ".git").exists()
    config_text = (tmp_path / "promptops.yaml").read_text()
    suite_text = (tmp_path / "suites/answer.yaml").read_text()
    assert config_text.startswith("# yaml-language-server: $schema=schemas/promptops.schema.json\n")
    assert suite_text.startswith("# yaml-language-server: $schema=../schemas/suite.schema.json\n")
    # each comment names a file that exists relative to the file it is in, and the file validates
    for document, text in (
        (tmp_path / "promptops.yaml", config_text),
        (tmp_path / "suites/answer.yaml", suite_text),
    ):
        schema_path = document.parent / text.splitlines()[0].split("$schema=", 1)[1]
        schema = json.loads(schema_path.read_text())
        assert not list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text)))
    assert CliRunner().invoke(cli, ["lint"]).exit_code == 0


def test_init_runs_git_init_when_asked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init", "--git"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".git").is_dir() and "initialised a git repository" in result.output
    # inside a repository it asks nothing
    nested = tmp_path / "sub"
    nested.mkdir()
    monkeypatch.chdir(nested)
    again = CliRunner().invoke(cli, ["init"])
    assert again.exit_code == 0 and "git" not in again.output.replace(".gitignore", "")


# --- colour and verbosity -------------------------------------------------------------------------


@pytest.fixture
def failing_project(make_project, fake_server):
    fake_server.state.answers.update(ANSWERS)
    return make_project()


def test_color_flags_and_no_color(failing_project, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.delenv("NO_COLOR", raising=False)
    forced = runner.invoke(cli, ["--color", "test"])
    assert forced.exit_code == 1 and ANSI in forced.output
    assert ANSI not in runner.invoke(cli, ["test"]).output  # not a terminal
    assert ANSI not in runner.invoke(cli, ["--no-color", "test"]).output
    monkeypatch.setenv("NO_COLOR", "1")
    # an explicit flag wins over the environment
    assert ANSI in runner.invoke(cli, ["--color", "test"]).output
    (Path.cwd() / "prompts/extra.j2").write_text("---\nversion: 1.0.0\n---\n{{ undeclared }}\n")
    assert ANSI in runner.invoke(cli, ["--color", "lint"]).output
    assert ANSI not in runner.invoke(cli, ["lint"], color=True).output


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_no_color_turns_a_terminal_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptops.cli.console import use_color

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(_Terminal()) is True  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(_Terminal()) is False  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: only a non-empty value counts
    assert use_color(_Terminal()) is True  # type: ignore[arg-type]


def test_quiet_and_verbose(failing_project) -> None:
    runner = CliRunner()
    normal = runner.invoke(cli, ["test", "--no-cache"])
    assert "running 2 model calls" in normal.output and "triage" in normal.output
    quiet = runner.invoke(cli, ["-q", "test", "--no-cache"])
    assert quiet.exit_code == 1
    assert "running" not in quiet.output and "triage::crash" in quiet.output  # the report still prints
    silent = runner.invoke(cli, ["-qq", "test", "--no-cache"])
    assert silent.exit_code == 1 and "crash" not in silent.output
    verbose = runner.invoke(cli, ["-v", "test", "--no-cache"])
    lines = [line.strip() for line in verbose.output.splitlines() if line.strip().startswith("[")]
    assert len(lines) == 2 and any("triage::crash [fake] #0 failed" in line for line in lines)
