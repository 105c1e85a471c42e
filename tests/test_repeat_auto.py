"""--repeat auto end to end: rounds of samples on the fake server, the e-process verdict, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer

SAMPLED_PROMPT = """\
---
version: 1.0.0
params: {temperature: 1.0, max_tokens: 4}
inputs:
  ticket: {required: true}
---
{{ ticket }}
"""

SAMPLED_SUITE = """\
prompt: sampled
threshold: 0.6
cases:
  - id: steady
    vars: {ticket: "case steady"}
    assert: [{type: equals, value: pass}]
  - id: dropping
    vars: {ticket: "case dropping"}
    assert: [{type: equals, value: pass}]
  - id: always
    vars: {ticket: "case always"}
    assert: [{type: equals, value: pass}]
"""


@pytest.fixture
def sampled_project(make_project, fake_server: FakeOpenAIServer) -> Path:
    fake_server.state.rng.seed(11)
    fake_server.state.pass_rates = {
        ("fake-model", "case steady"): 0.7,
        ("other-model", "case steady"): 0.7,
        ("fake-model", "case dropping"): 0.95,
        ("other-model", "case dropping"): 0.05,
        ("fake-model", "case always"): 1.0,
        ("other-model", "case always"): 1.0,
    }
    return make_project({"prompts/sampled.j2": SAMPLED_PROMPT, "suites/sampled.yaml": SAMPLED_SUITE})


def test_drift_repeat_auto_spends_samples_where_undecided(sampled_project: Path, run_cli) -> None:
    out = sampled_project / "drift.json"
    result = run_cli(
        "drift",
        "--baseline",
        "fake",
        "--candidate",
        "other",
        "--repeat",
        "auto",
        "--max-repeat",
        "40",
        "--no-cache",
        "sampled",
        "--format",
        "json",
        "-o",
        str(out),
    )
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    assert report["sampling"] == "auto" and report["correction"] == "holm"
    cases = {c["case"]: c for c in report["cases"]}
    dropping = cases["dropping"]
    assert dropping["status"] == "regression" and dropping["method"] == "e-process"
    assert dropping["sequential_stop"] == "drop"
    assert dropping["p_value_adjusted"] <= 0.05
    # a clear drop is decided long before the cap; an always-passing case stops once a big drop is ruled out
    assert 4 <= dropping["baseline"]["samples"] < 40
    assert cases["always"]["sequential_stop"] == "futile" and cases["always"]["baseline"]["samples"] <= 16
    for case in cases.values():
        assert case["baseline"]["samples"] == case["candidate"]["samples"] <= 40
    assert "Holm (family-wise)" in result.output


def test_deterministic_cases_stop_at_one_sample(make_project, fake_server: FakeOpenAIServer, run_cli) -> None:
    # the project's defaults sample at temperature 0: one answer per side is the whole story
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug", "log in": "question"}
    make_project()
    result = run_cli(
        "drift", "--baseline", "fake", "--candidate", "other", "--repeat", "auto", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {c["sequential_stop"] for c in report["cases"]} == {"deterministic"}
    assert {c["baseline"]["samples"] for c in report["cases"]} == {1}
    assert len(fake_server.state.requests) == 2 * len(report["cases"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["drift", "--baseline", "fake", "--candidate", "other", "--repeat", "auto", "--max-repeat", "0"],
            "--max-repeat",
            id="max-repeat-zero",
        ),
        pytest.param(
            ["drift", "--baseline", "fake", "--candidate", "other", "--repeat", "often"],
            "whole number of samples",
            id="repeat-word",
        ),
        pytest.param(
            ["drift", "--baseline", "fake", "--candidate", "other", "--repeat", "0"],
            "whole number of samples",
            id="repeat-zero",
        ),
        pytest.param(
            ["drift", "--baseline", "fake", "--candidate", "other", "--max-repeat", "5"],
            "--max-repeat caps --repeat auto",
            id="max-repeat-without-auto",
        ),
        pytest.param(["test", "--repeat", "auto"], "needs two sides", id="test-without-base-ref"),
        pytest.param(["test", "--max-repeat", "9"], "needs --base-ref", id="test-max-repeat"),
        pytest.param(["record", "--repeat", "auto"], "needs two sides", id="record"),
        pytest.param(["compare", "a", "b", "--correction", "bonferroni"], "--correction", id="correction"),
    ],
)
def test_bad_sampling_input_exits_2(
    make_project, fake_server: FakeOpenAIServer, run_cli, args, message
) -> None:
    make_project()
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert fake_server.state.requests == []


def test_compare_with_benjamini_hochberg_names_the_rule(sampled_project: Path, run_cli) -> None:
    assert run_cli("test", "-m", "fake", "--repeat", "6", "--no-cache", "sampled").exit_code in (0, 1)
    assert run_cli("test", "-m", "other", "--repeat", "6", "--no-cache", "sampled").exit_code == 1
    runs = sorted((sampled_project / ".promptops" / "runs").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    result = run_cli("compare", runs[0].name, runs[1].name, "--correction", "bh", "--format", "json")
    report = json.loads(result.stdout)
    assert report["correction"] == "bh" and report["sampling"] == "fixed"
    case = next(c for c in report["cases"] if c["case"] == "dropping")
    assert case["p_value_adjusted"] >= case["p_value"]
    text = run_cli("compare", runs[0].name, runs[1].name, "--correction", "bh").output
    assert "Benjamini–Hochberg" in text and "this suite cannot see drops under" in text


def test_plan_repeats_states_fixed_and_auto_costs(run_cli) -> None:
    from promptops.statistics import fisher_power, repeats_for_power

    result = run_cli("plan-repeats", "--from", "0.9", "--to", "0.5", "--cases", "20", "--power", "0.95")
    assert result.exit_code == 0, result.output
    needed = repeats_for_power(0.9, 0.5, 0.05 * 0.8 / 20, 0.95)
    assert needed is not None and fisher_power(0.9, 0.5, needed, 0.002) >= 0.95
    assert f"fixed --repeat {needed}: finds it 95% of the time" in result.output
    assert "fixed --repeat 10: finds it 6% of the time" in result.output
    assert "--repeat auto --max-repeat 80: finds it" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--from", "0.5", "--to", "0.9"], "must be below", id="rise"),
        pytest.param(["--from", "1.5", "--to", "0.5"], "--from", id="rate-above-one"),
        pytest.param(["--from", "0.9", "--to", "0.5", "--cases", "0"], "--cases", id="no-cases"),
        pytest.param(["--from", "0.9", "--to", "0.5", "--max-repeat", "0"], "--max-repeat", id="cap-zero"),
    ],
)
def test_plan_repeats_bad_input_exits_2(run_cli, args, message) -> None:
    result = run_cli("plan-repeats", *args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_base_ref_repeat_auto_samples_both_refs(sampled_project: Path, run_cli, fake_server) -> None:
    from git_repo import commit_all, git

    (sampled_project / ".gitignore").write_text(".promptops/\n")
    git(sampled_project, "init", "-q", "-b", "main")
    commit_all(sampled_project, "Add the sampled prompt")
    # both refs run the same model: every case keeps its rate, so nothing may be flagged
    fake_server.state.pass_rates = {
        ("fake-model", "case steady"): 0.7,
        ("fake-model", "case dropping"): 0.9,
        ("fake-model", "case always"): 1.0,
    }
    result = run_cli(
        "test",
        "sampled",
        "--base-ref",
        "main",
        "--repeat",
        "auto",
        "--max-repeat",
        "24",
        "--no-cache",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sampling"] == "auto" and report["counts"]["regressions"] == 0
    stops = {c["case"]: c["sequential_stop"] for c in report["cases"]}
    assert set(stops.values()) <= {"futile", "cap"}
    assert all(4 <= c["baseline"]["samples"] <= 24 for c in report["cases"])


def test_every_report_format_names_the_rule(sampled_project: Path, run_cli) -> None:
    assert run_cli("test", "-m", "fake", "--repeat", "4", "--no-cache", "sampled").exit_code in (0, 1)
    assert run_cli("test", "-m", "other", "--repeat", "4", "--no-cache", "sampled").exit_code == 1
    runs = sorted((sampled_project / ".promptops" / "runs").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    for fmt in ("markdown", "junit", "html"):
        out = sampled_project / f"drift.{fmt}"
        run_cli("compare", runs[0].name, runs[1].name, "--format", fmt, "-o", str(out))
        assert "Holm (family-wise) over" in out.read_text(), fmt
