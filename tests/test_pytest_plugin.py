"""The pytest plugin: suites as pytest items, the ``promptops`` fixture, xdist.

Each test writes a project into ``pytester.path`` whose models point at the
fake OpenAI server, and runs an inner pytest session on it (in-process, or in a
subprocess where xdist needs one).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from conftest import FAKE_KEY_ENV, TONE_PARTIAL, TRIAGE_PROMPT, TRIAGE_SUITE, config_text
from fake_openai import FakeOpenAIServer

pytest_plugins = ["pytester"]

ProjectFactory = Callable[..., Path]

FAQ_SUITE = """\
prompt: support/triage
description: Questions that need product knowledge
cases:
  - id: storage-limit
    vars: {ticket: "How much storage does the free plan include?"}
    assert:
      - {type: icontains, value: "5 GB", gap: knowledge}
  - id: plans
    vars: {ticket: "Which plans do you offer?"}
    assert:
      - {type: contains, value: Plus}
"""

# answers of the fake model: refund-basic passes, crash fails, storage-limit passes, plans fails
ANSWERS = {
    "charged twice": "refund",
    "crashes": "question",
    "storage": "The free plan has 5 GB.",
    "plans": "Free only",
}


@pytest.fixture(autouse=True, scope="module")
def _litellm_imported_outside_inner_sessions() -> None:
    """Import litellm before any in-process inner session.

    pytester forgets the modules an inner session imported; litellm's import adds
    an importlib_metadata finder to sys.meta_path that outlives its forgotten
    module and then hides every pytest11 entry point (this plugin's included) from
    the next inner session.
    """
    from promptops.providers import get_litellm

    get_litellm()


@pytest.fixture
def project(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> ProjectFactory:
    """Write a promptops project into pytester.path (the inner session's working directory)."""
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-test-not-a-real-key")
    monkeypatch.delenv("CI", raising=False)
    fake_server.state.answers = dict(ANSWERS)

    def build(files: dict[str, str | None] | None = None, *, models: str = "") -> Path:
        """``files`` replace (or with None, remove) the defaults; ``models`` adds alias lines."""
        config = config_text(fake_server.api_base).replace("defaults:", f"{models}defaults:")
        contents: dict[str, str | None] = {
            "promptops.yaml": config,
            "prompts/support/triage.j2": TRIAGE_PROMPT,
            "prompts/_partials/tone.j2": TONE_PARTIAL,
            "suites/triage.yaml": TRIAGE_SUITE,
        }
        contents.update(files or {})
        for name, text in contents.items():
            path = pytester.path / name
            if text is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return pytester.path

    return build


def many_cases_suite(count: int) -> str:
    cases = "".join(
        f'  - id: c{i}\n    vars: {{ticket: "ticket number {i}"}}\n'
        f'    assert: [{{type: contains, value: "{i}"}}]\n'
        for i in range(count)
    )
    return f"prompt: support/triage\ncases:\n{cases}"


def down_model() -> str:
    """An alias line for a model on a local port nothing listens on: every call fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f'  down: {{model: openai/down, api_base: "http://127.0.0.1:{port}/v1"}}\n'


def collected_ids(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and not line.startswith(("FAILED", "ERROR"))]


def outcomes_by_id(reprec: pytest.HookRecorder) -> dict[str, str]:
    """``passed`` / ``failed`` / ``error`` per item of an inline run (an error is a failed setup)."""
    outcomes: dict[str, str] = {}
    for report in reprec.getreports("pytest_runtest_logreport"):
        if report.when == "setup" and report.failed:
            outcomes[report.nodeid] = "error"
        elif report.when == "call":
            outcomes[report.nodeid] = report.outcome
    return outcomes


# --- staying out of the way ---------------------------------------------------------------------


def test_plugin_is_inert_without_option_or_suite_path(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project()
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    assert "triage.yaml" not in result.stdout.str()
    assert "promptops:" not in result.stdout.str()
    assert fake_server.state.requests == []


def test_importing_the_plugin_is_cheap() -> None:
    """The plugin loads in every pytest run: it must not import litellm, pydantic or the core."""
    code = (
        "import sys, promptops.pytest_plugin\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('litellm', 'pydantic', 'yaml')"
        " or (m.startswith('promptops.') and m.split('.')[1] != 'pytest_plugin'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_promptops_without_a_project_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--promptops")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*promptops: no promptops.yaml found*"])


# --- collection ---------------------------------------------------------------------------------


def test_items_are_cases_times_models(project: ProjectFactory, pytester: pytest.Pytester) -> None:
    project()
    result = pytester.runpytest("--promptops", "--collect-only", "-q")
    assert collected_ids(result) == [
        "suites/triage.yaml::refund-basic[fake]",
        "suites/triage.yaml::crash[fake]",
    ]
    result = pytester.runpytest(
        "--promptops", "--collect-only", "-q", "--promptops-model", "fake", "--promptops-model", "other"
    )
    assert collected_ids(result) == [
        "suites/triage.yaml::refund-basic[fake]",
        "suites/triage.yaml::refund-basic[other]",
        "suites/triage.yaml::crash[fake]",
        "suites/triage.yaml::crash[other]",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["suites"],
            ["refund-basic[fake]", "crash[fake]", "plans[fake]", "storage-limit[fake]"],
            id="folder",
        ),
        pytest.param(["suites/triage.yaml"], ["refund-basic[fake]", "crash[fake]"], id="file"),
        pytest.param(["suites/triage.yaml::crash"], ["crash[fake]"], id="case"),
    ],
)
def test_naming_a_suite_path_activates_the_plugin(
    project: ProjectFactory, pytester: pytest.Pytester, args: list[str], expected: list[str]
) -> None:
    project({"suites/faq.yaml": FAQ_SUITE})
    result = pytester.runpytest(*args, "--collect-only", "-q")
    assert sorted(i.split("::")[1] for i in collected_ids(result)) == sorted(expected)


def test_promptops_adds_the_suites_to_testpaths(project: ProjectFactory, pytester: pytest.Pytester) -> None:
    project()
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_app.py").write_text("def test_app():\n    pass\n")
    assert len(collected_ids(pytester.runpytest("--collect-only", "-q"))) == 1
    ids = collected_ids(pytester.runpytest("--promptops", "--collect-only", "-q"))
    assert ids == [
        "tests/test_app.py::test_app",
        "suites/triage.yaml::refund-basic[fake]",
        "suites/triage.yaml::crash[fake]",
    ]


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        pytest.param(
            "prompt: support/triage\ncasez: []\ncases: [{id: a, vars: {ticket: x}}]\n",
            "suites/bad.yaml:2: unknown key 'casez'",
            id="unknown-key",
        ),
        pytest.param(
            "prompt: support/triage\ncases:\n  - id: a\n    vars: {ticket: x, mood: sad}\n",
            "suites/bad.yaml:4: case 'a': variable 'mood' is not an input",
            id="undeclared-var",
        ),
        pytest.param(
            "prompt: support/triage\ncases:\n  - id: a\n    vars: {ticket: x}\n"
            "    assert: [{type: equalz, value: x}]\n",
            "suites/bad.yaml:5: unknown assertion type 'equalz'",
            id="unknown-assertion",
        ),
    ],
)
def test_invalid_suite_is_a_collection_error_with_file_and_line(
    project: ProjectFactory,
    pytester: pytest.Pytester,
    fake_server: FakeOpenAIServer,
    suite: str,
    message: str,
) -> None:
    project({"suites/bad.yaml": suite})
    result = pytester.runpytest("--promptops")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting suites/bad.yaml*", f"{message}*"])
    assert "Traceback" not in result.stdout.str() and "pytest_plugin" not in result.stdout.str()
    assert fake_server.state.requests == []


# --- running ------------------------------------------------------------------------------------


def test_pass_and_fail_with_reasons_and_one_batch(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project()
    result = pytester.runpytest("--promptops", "-ra")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ crash[[]fake] _*",
            "equals: expected 'bug', got 'question'",
            "output: 'question'",
            "",
            "suites/triage.yaml:9: triage::crash on model fake failed",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED suites/triage.yaml::crash[[]fake] - equals: expected 'bug', got *"])
    result.stdout.fnmatch_lines(["run record .promptops/runs/*: 2 calls, 2 to a provider, 0 from cache"])
    assert "Traceback" not in result.stdout.str()
    assert len(fake_server.state.requests) == 2
    # a second session answers from the shared response cache
    pytester.runpytest("--promptops").assert_outcomes(passed=1, failed=1)
    assert len(fake_server.state.requests) == 2


def test_provider_failure_is_an_error_with_the_cause(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project(
        {"suites/triage.yaml": TRIAGE_SUITE.replace("description: Triage labels", "models: [down]")},
        models=down_model(),
    )
    result = pytester.runpytest("--promptops", "-ra", "-k", "crash")
    result.assert_outcomes(errors=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of crash[[]down]*",
            "*Error*",
            "",
            "suites/triage.yaml:9: triage::crash on model down errored, no verdict",
        ]
    )
    result.stdout.fnmatch_lines(["ERROR suites/triage.yaml::crash[[]down] - *Error*"])
    assert "Traceback" not in result.stdout.str()


def test_a_plan_that_cannot_start_errors_every_item(
    project: ProjectFactory, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project()
    monkeypatch.delenv(FAKE_KEY_ENV)
    result = pytester.runpytest("--promptops")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([f"*model 'fake' reads its API key from ${FAKE_KEY_ENV}, which is not set*"])


def test_deselected_model_needs_no_key(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    suite = TRIAGE_SUITE.replace("description: Triage labels", "models: [fake, prod]")
    project(
        {"suites/triage.yaml": suite},
        models="  prod: {model: openai/gpt-4o, api_key_env: PROMPTOPS_TEST_UNSET_KEY}\n",
    )
    result = pytester.runpytest("--promptops", "-k", "not prod")
    result.assert_outcomes(passed=1, failed=1, deselected=2)
    assert {body["model"] for body in fake_server.state.requests} == {"fake-model"}


def test_replay_answers_from_cache_and_recordings_only(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project()
    pytester.runpytest("--promptops").assert_outcomes(passed=1, failed=1)
    assert len(fake_server.state.requests) == 2
    pytester.runpytest("--promptops", "--promptops-replay").assert_outcomes(passed=1, failed=1)
    assert len(fake_server.state.requests) == 2
    # a changed case has nothing recorded: an error that says what to do, and still no call
    project({"suites/triage.yaml": TRIAGE_SUITE.replace("open settings", "open the settings")})
    result = pytester.runpytest("--promptops", "-o", "promptops_replay=true")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ReplayMiss: no recorded response for triage::crash [[]fake]*"])
    assert len(fake_server.state.requests) == 2


def test_k_selects_cases_and_models_and_only_those_are_called(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project()
    result = pytester.runpytest(
        "--promptops", "--promptops-model", "fake", "--promptops-model", "other", "-k", "refund and not other"
    )
    result.assert_outcomes(passed=1, deselected=3)
    assert [body["model"] for body in fake_server.state.requests] == ["fake-model"]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        pytest.param("gap_skill", {"suites/triage.yaml::refund-basic[fake]"}, id="case-gap"),
        pytest.param("gap_knowledge", {"suites/faq.yaml::storage-limit[fake]"}, id="assertion-gap"),
        pytest.param(
            "suite_faq", {"suites/faq.yaml::storage-limit[fake]", "suites/faq.yaml::plans[fake]"}, id="suite"
        ),
        pytest.param(
            "promptops and not suite_faq and model_fake",
            {"suites/triage.yaml::refund-basic[fake]", "suites/triage.yaml::crash[fake]"},
            id="model",
        ),
    ],
)
def test_markers_by_gap_suite_and_model(
    project: ProjectFactory,
    pytester: pytest.Pytester,
    fake_server: FakeOpenAIServer,
    marker: str,
    expected: set[str],
) -> None:
    project({"suites/faq.yaml": FAQ_SUITE})
    reprec = pytester.inline_run(
        "--promptops", "--strict-markers", "-W", "error::pytest.PytestUnknownMarkWarning", "-m", marker
    )
    assert set(outcomes_by_id(reprec)) == expected
    assert len(fake_server.state.requests) == len(expected)


def test_exitfirst_and_last_failed(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project({"suites/faq.yaml": FAQ_SUITE})
    result = pytester.runpytest("--promptops", "-x")
    result.assert_outcomes(passed=1, failed=1)  # faq::storage-limit, then faq::plans fails
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    pytester.runpytest("--promptops").assert_outcomes(passed=2, failed=2)
    result = pytester.runpytest("--promptops", "--lf", "-v")
    result.assert_outcomes(failed=2)  # the passing items are left out at collection (or deselected)
    result.stdout.fnmatch_lines(["*rerun previous 2 failures*"])
    result.stdout.no_fnmatch_line("*storage-limit*PASSED*")


def test_repeat_option_and_ini_defaults(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project()
    pytester.makeini("[pytest]\npromptops_models = fake other\npromptops_repeat = 2\n")
    result = pytester.runpytest("--promptops", "-k", "refund")
    result.assert_outcomes(passed=2, deselected=2)
    assert len(fake_server.state.requests) == 4
    result = pytester.runpytest(
        "--promptops",
        "-k",
        "refund",
        "--promptops-repeat",
        "3",
        "--promptops-no-cache",
        "--promptops-model",
        "fake",
    )
    result.assert_outcomes(passed=1, deselected=1)
    assert len(fake_server.state.requests) == 7


def test_xdist_workers_make_no_duplicate_calls(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    pytest.importorskip("xdist")
    project({"suites/many.yaml": many_cases_suite(12), "suites/triage.yaml": None})
    result = pytester.runpytest_subprocess("--promptops", "-n", "2", timeout=180)
    result.assert_outcomes(passed=12)
    contents = [body["messages"][-1]["content"] for body in fake_server.state.requests]
    assert sorted(contents) == sorted(f"ticket number {i}" for i in range(12))
    # a second parallel session is answered by the shared cache
    result = pytester.runpytest_subprocess("--promptops", "-n", "2", timeout=180)
    result.assert_outcomes(passed=12)
    assert len(fake_server.state.requests) == 12


# --- the fixture --------------------------------------------------------------------------------


def test_fixture_completes_checks_and_asserts(
    project: ProjectFactory, pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    project()
    pytester.makepyfile(
        test_llm=textwrap.dedent("""\
        import asyncio

        def test_refund(promptops):
            assert promptops.render("support/triage", ticket="hi")[-1] == {"role": "user", "content": "hi"}
            out = promptops.complete("support/triage", ticket="I was charged twice", model="fake")
            assert out.text == "refund" and str(out) == "refund"
            assert out.latency_ms > 0 and not out.cached and out.model_id == "openai/fake-model"
            result = promptops.check(out, {"type": "equals", "value": "refund"})
            assert result.passed and result.score == 1.0
            assert not promptops.check(out, {"type": "latency", "max": 0.001}).passed
            promptops.assert_that(out, {"type": "icontains", "value": "REFUND"},
                                  {"type": "word-count", "max": 1})
            again = promptops.complete("support/triage", vars={"ticket": "I was charged twice"})
            assert again.cached and again.text == "refund" and again.model == "fake"
            assert not promptops.complete("support/triage", ticket="I was charged twice", sample=1).cached

        def test_reason(promptops):
            out = promptops.complete("support/triage", ticket="The app crashes")
            promptops.assert_that(out, {"type": "equals", "value": "bug"})

        def test_async(promptops):
            async def both():
                return await asyncio.gather(promptops.acomplete("support/triage", ticket="first"),
                                            promptops.acomplete("support/triage", ticket="second"))
            assert [out.text for out in asyncio.run(both())] == ["first", "second"]
    """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["E*Error: equals: expected 'bug', got 'question'", "E*output: 'question'"])
    assert len(fake_server.state.requests) == 5


def test_fixture_reports_prompt_mistakes(project: ProjectFactory, pytester: pytest.Pytester) -> None:
    project()
    pytester.makepyfile(
        test_llm=textwrap.dedent("""\
        import pytest
        from promptops.errors import PromptError, UsageError

        def test_mistakes(promptops):
            with pytest.raises(PromptError, match="required input 'ticket'"):
                promptops.complete("support/triage")
            with pytest.raises(PromptError, match="'mood' is not a declared input"):
                promptops.complete("support/triage", ticket="x", mood="sad")
            with pytest.raises(UsageError, match="unknown assertion type"):
                promptops.check("x", {"type": "equalz", "value": "x"})
    """)
    )
    pytester.runpytest().assert_outcomes(passed=1)


# --- same verdicts as `promptops test` ----------------------------------------------------------


def test_same_verdicts_as_promptops_test(
    project: ProjectFactory, pytester: pytest.Pytester, run_cli: Callable[..., Result]
) -> None:
    suite = TRIAGE_SUITE.replace("description: Triage labels", "models: [fake, other, down]")
    project({"suites/triage.yaml": suite, "suites/faq.yaml": FAQ_SUITE}, models=down_model())
    cli = run_cli("test", "--format", "json")
    assert cli.exit_code == 1, cli.output
    expected = {
        f"suites/{case['suite']}.yaml::{case['case']}[{case['model']}]": case["status"]
        for case in json.loads(cli.stdout)["cases"]
    }
    assert set(expected.values()) == {"passed", "failed", "error"}
    reprec = pytester.inline_run("--promptops", "--promptops-no-cache")
    assert outcomes_by_id(reprec) == expected
