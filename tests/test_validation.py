"""Every bad input exits 2 with one clear message naming the file and line, and no traceback.

Each table row is one mistake a user can make in a suite, in ``promptops.yaml``, in a
prompt file or on the ``render`` command line. Expected line numbers are counted from
the texts written here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from conftest import FAKE_KEY_ENV
from fake_openai import FakeOpenAIServer

SUITE = "suites/triage.yaml"
PROMPT = "prompts/support/triage.j2"
CONFIG = "promptops.yaml"


def assert_invalid(result: Result, where: str, fragment: str) -> None:
    """Exit 2, one ``error:`` line starting with ``where`` (``file:line``, ``file`` or nothing)."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert errors[0].startswith(f"error: {where}: " if where else "error: "), output
    assert fragment in output, output


# --- suites -------------------------------------------------------------------------------------

SUITE_CASES = [
    pytest.param(
        """\
prompt: support/triage
descripton: a typo in a top-level key
cases:
  - id: a
    vars: {ticket: hi}
""",
        2,
        "unknown key 'descripton'",
        id="suite-unknown-top-level-key",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    asert: [{type: equals, value: refund}]
""",
        5,
        "unknown key 'asert' in cases[0]",
        id="suite-unknown-case-key",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    assert:
      - type: equals
        valeu: refund
""",
        7,
        "unknown key 'valeu' in cases[0].assert[0]",
        id="suite-unknown-assertion-key",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    assert:
      - {type: equals, value: refund}
      - {type: equalz, value: refund}
""",
        7,
        "unknown assertion type 'equalz'",
        id="suite-unknown-assertion-type",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    assert:
      - {type: not-equalz, value: refund}
""",
        6,
        "unknown assertion type 'not-equalz'",
        id="suite-not-of-unknown-type",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    assert:
      - type: regex
        value: "[a-"
""",
        6,
        "regex: invalid regex '[a-'",
        id="suite-bad-regex",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
  - id: b
    vars: {ticket: ho}
    assert:
      - {type: equals}
""",
        8,
        "equals: missing value",
        id="suite-equals-without-value",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    assert:
      - {type: json-schema, value: {type: 12}}
""",
        6,
        "json-schema: invalid JSON schema",
        id="suite-invalid-json-schema",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    assert:
      - {type: word-count, min: 5, max: 2}
""",
        6,
        "word-count: min (5) is greater than max (2)",
        id="suite-word-count-min-above-max",
    ),
    pytest.param(
        """\
defaults:
  assert:
    - {type: contains, value: refund}
    - {type: starts-with}
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
""",
        4,
        "starts-with: missing value",
        id="suite-bad-default-assertion",
    ),
    pytest.param(
        """\
description: the prompt key is missing
cases:
  - id: a
    vars: {ticket: hi}
""",
        1,
        "missing required key 'prompt'",
        id="suite-missing-prompt",
    ),
    pytest.param(
        """\
description: names a prompt that does not exist
prompt: support/triag
cases:
  - id: a
    vars: {ticket: hi}
""",
        2,
        "prompt 'support/triag' not found",
        id="suite-prompt-does-not-exist",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars:
      ticket: hi
      tiket: a typo
""",
        6,
        "variable 'tiket' is not an input of prompt support/triage",
        id="suite-undeclared-variable",
    ),
    pytest.param(
        """\
prompt: support/triage
defaults:
  vars: {ticket: hi, colour: red}
cases:
  - id: a
""",
        3,
        "variable 'colour' is not an input of prompt support/triage",
        id="suite-undeclared-default-variable",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
  - id: b
    vars: {labels: [x, y]}
""",
        5,
        "case 'b': required input 'ticket' of prompt support/triage has no value",
        id="suite-required-input-missing",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
  - vars: {ticket: ho}
    id: a
""",
        6,
        "duplicate case id 'a' (first at line 3)",
        id="suite-duplicate-case-id",
    ),
    pytest.param(
        """\
prompt: support/triage
models:
  - fake
  - nosuch
cases:
  - id: a
    vars: {ticket: hi}
""",
        4,
        "unknown model 'nosuch'",
        id="suite-unknown-model-alias",
    ),
    pytest.param(
        """\
prompt: support/triage
description: no cases yet
cases: []
""",
        3,
        "cases: list should have at least 1 item",
        id="suite-empty-cases",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  id: a
  vars: {ticket: hi}
""",
        2,
        "cases: input should be a valid list",
        id="suite-cases-not-a-list",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    gap: skill: extra
""",
        5,
        "invalid YAML: mapping values are not allowed",
        id="suite-invalid-yaml",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    id: b
""",
        4,
        "invalid YAML: duplicate key 'id'",
        id="suite-duplicate-yaml-key",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {[ticket]: hi}
""",
        4,
        "invalid YAML: a list or mapping cannot be a key",
        id="suite-unhashable-yaml-key",
    ),
    pytest.param(
        """\
- prompt: support/triage
  cases:
    - id: a
""",
        1,
        "a suite must be a mapping with 'prompt' and 'cases'",
        id="suite-is-a-list",
    ),
    pytest.param(
        """\
prompt: support/triage
repeat: x
cases:
  - id: a
    vars: {ticket: hi}
""",
        2,
        "repeat: input should be a valid integer",
        id="suite-repeat-not-an-integer",
    ),
    pytest.param(
        """\
prompt: support/triage
description: a pass rate above 1
threshold: 2
cases:
  - id: a
    vars: {ticket: hi}
""",
        3,
        "threshold: input should be less than or equal to 1",
        id="suite-threshold-above-1",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    gap: knowlege
""",
        5,
        "cases[0].gap: input should be 'knowledge', 'behavior', 'skill' or 'reliability'",
        id="suite-invalid-case-gap",
    ),
    pytest.param(
        """\
prompt: support/triage
cases:
  - id: a
    vars: {ticket: hi}
    assert:
      - {type: equals, value: refund}
      - {type: contains, value: money, gap: facts}
""",
        7,
        "cases[0].assert[1].gap: input should be 'knowledge'",
        id="suite-invalid-assertion-gap",
    ),
]


@pytest.mark.parametrize(("suite", "line", "fragment"), SUITE_CASES)
def test_bad_suite(make_project, run_cli, suite: str, line: int, fragment: str) -> None:
    root = make_project({SUITE: suite})
    result = run_cli("test")
    assert_invalid(result, f"{SUITE}:{line}", fragment)
    assert not (root / ".promptops" / "runs").exists()


def test_suite_that_is_not_utf8(make_project, run_cli) -> None:
    root = make_project()
    (root / SUITE).write_bytes(b"prompt: support/triage\ncases:\n  - id: caf\xe9\n    vars: {ticket: hi}\n")
    result = run_cli("test")
    assert_invalid(result, f"{SUITE}:3", "not valid UTF-8")


# --- promptops.yaml -----------------------------------------------------------------------------

CONFIG_CASES = [
    pytest.param(
        """\
version: 1
models:
  fake: openai/fake-model
defaults: {model: fake}
colour: red
""",
        5,
        "unknown key 'colour'",
        id="config-unknown-key",
    ),
    pytest.param(
        """\
version: 1
models:
  fake: openai/fake-model
  other: {model: openai/other, api_key_env: KEY, temprature: 0}
""",
        4,
        "unknown key 'temprature' in models.other",
        id="config-unknown-alias-key",
    ),
    pytest.param(
        """\
version: 1
models:
  fake: 5
""",
        3,
        "models.fake: input should be a valid string",
        id="config-alias-of-wrong-type",
    ),
    pytest.param(
        """\
version: 1
models:
  fake: {params: {temperature: 0}}
""",
        3,
        "missing required key 'models.fake.model'",
        id="config-alias-without-model",
    ),
    pytest.param(
        """\
version: 1
models:
  fake: openai/fake-model
defaults: model: fake
""",
        4,
        "invalid YAML: mapping values are not allowed",
        id="config-invalid-yaml",
    ),
    pytest.param(
        """\
version: 1
run:
  timeout_s: 5
  concurrency: 0
""",
        4,
        "run.concurrency: input should be greater than or equal to 1",
        id="config-concurrency-zero",
    ),
    pytest.param(
        """\
version: 1
constraints:
  deployment: mainframe
""",
        3,
        "constraints.deployment: input should be 'cloud', 'vpc', 'on-prem' or 'edge'",
        id="config-bad-constraint",
    ),
    pytest.param(
        """\
version: 2
""",
        1,
        "version: input should be 1",
        id="config-unknown-version",
    ),
    pytest.param(
        """\
- version: 1
""",
        1,
        "config must be a mapping",
        id="config-is-a-list",
    ),
]


@pytest.mark.parametrize(("config", "line", "fragment"), CONFIG_CASES)
def test_bad_config(make_project, run_cli, config: str, line: int, fragment: str) -> None:
    make_project(config=config)
    result = run_cli("test")
    assert_invalid(result, f"{CONFIG}:{line}", fragment)


def test_bad_config_found_from_a_subfolder(make_project, run_cli, monkeypatch) -> None:
    root = make_project(config="version: 1\nsuits: tests\n")
    monkeypatch.chdir(root / "suites")
    result = run_cli("render", "support/triage", "--var", "ticket=hi")
    # found in a parent folder: shown relative to where the user is
    assert_invalid(result, f"../{CONFIG}:2", "unknown key 'suits'")


def test_config_that_is_not_utf8(make_project, run_cli) -> None:
    root = make_project()
    (root / CONFIG).write_bytes(b"version: 1\n# caf\xe9\n")
    result = run_cli("test")
    assert_invalid(result, f"{CONFIG}:2", "not valid UTF-8")


def test_unknown_model_option(make_project, run_cli) -> None:
    root = make_project()
    result = run_cli("test", "-m", "nosuchalias")
    assert_invalid(result, CONFIG, "unknown model 'nosuchalias'")
    assert "aliases: fake, other" in result.output
    assert not (root / ".promptops" / "runs").exists()


def test_api_key_variable_not_set(make_project, run_cli, monkeypatch) -> None:
    root = make_project()
    monkeypatch.delenv(FAKE_KEY_ENV)
    result = run_cli("test")
    assert_invalid(result, CONFIG, f"${FAKE_KEY_ENV}, which is not set")
    assert "model 'fake'" in result.output
    assert not (root / ".promptops" / "runs").exists()


def test_no_config_anywhere(run_cli, tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = run_cli("test")
    assert_invalid(result, "", "no promptops.yaml found")
    assert "run 'promptops init'" in result.output


# --- prompt files -------------------------------------------------------------------------------

PROMPT_CASES = [
    pytest.param(
        """\
Reply with one word.
{{ ticket }}
""",
        1,
        "prompt file has no front matter",
        id="prompt-missing-front-matter",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
labels: [refund, bug]
---
{{ ticket }}
""",
        5,
        "unknown key 'labels'",
        id="prompt-front-matter-unknown-key",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {requird: true}
---
{{ ticket }}
""",
        4,
        "unknown key 'requird' in inputs.ticket",
        id="prompt-input-unknown-key",
    ),
    pytest.param(
        """\
---
description: a version that is not semver
version: 1.0
inputs:
  ticket: {required: true}
---
{{ ticket }}
""",
        3,
        "version '1.0' is not a semantic version like 1.2.0",
        id="prompt-version-not-semver",
    ),
    pytest.param(
        """\
---
inputs:
  ticket: {required: true}
---
{{ ticket }}
""",
        2,
        "missing required key 'version'",
        id="prompt-version-missing",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs: [ticket
---
{{ ticket }}
""",
        4,
        "invalid YAML",
        id="prompt-front-matter-invalid-yaml",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Be brief.{% endrole %}
{% role "user" %}{{ ticket + }}{% endrole %}
""",
        7,
        "template syntax error",
        id="prompt-jinja-syntax-error",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}
Be brief.
{% if ticket %}
Answer politely.
{% endrole %}
""",
        10,
        "template syntax error",
        id="prompt-jinja-unclosed-block",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}
Be brief, {{ customer_name }}.
{% endrole %}
{% role "user" %}{{ ticket }}{% endrole %}
""",
        7,
        "'customer_name' is undefined",
        id="prompt-undeclared-variable",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}
Be brief.
{% include "_partials/missing.j2" %}
{% endrole %}
{% role "user" %}{{ ticket }}{% endrole %}
""",
        8,
        "included template '_partials/missing.j2' not found",
        id="prompt-missing-partial",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}
{{ ''.__class__.__mro__ }}
{% endrole %}
{% role "user" %}{{ ticket }}{% endrole %}
""",
        7,
        "unsafe",
        id="prompt-sandbox-escape-attribute",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Be brief.{% endrole %}
{% role "user" %}{{ ticket.__class__.__init__.__globals__ }}{% endrole %}
""",
        7,
        "unsafe",
        id="prompt-sandbox-escape-globals",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Be brief.{% endrole %}
Stray text between the roles.
{% role "user" %}{{ ticket }}{% endrole %}
""",
        7,
        "text outside role blocks: 'Stray text between the roles.'",
        id="prompt-text-outside-roles",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Be brief.{% endrole %}
{% role "narrator" %}{{ ticket }}{% endrole %}
""",
        7,
        "unknown role 'narrator'",
        id="prompt-unknown-role",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}
{% role "user" %}{{ ticket }}{% endrole %}
{% endrole %}
""",
        6,
        "role blocks cannot be nested",
        id="prompt-nested-roles",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Be brief.{% endrole %}
{% role "user" %}{{ ticket | shout }}{% endrole %}
""",
        7,
        "template syntax error: No filter named 'shout'",
        id="prompt-unknown-filter",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Be brief.{% endrole %}
{% role "user" %}
{{ ticket }} {{ 1 / 0 }}
{% endrole %}
""",
        8,
        "rendering failed: ZeroDivisionError: division by zero",
        id="prompt-runtime-error",
    ),
    pytest.param(
        """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Be brief.{% endrole %}
{% role "user" %}{{ ticket }}{{ range(10 ** 9) | list | length }}{% endrole %}
""",
        7,
        "the number 1000000000 is too large for a width or count in a template",
        id="prompt-sandbox-range-limit",
    ),
]


@pytest.mark.parametrize(("prompt", "line", "fragment"), PROMPT_CASES)
def test_bad_prompt_in_test(make_project, run_cli, prompt: str, line: int, fragment: str) -> None:
    root = make_project({PROMPT: prompt})
    result = run_cli("test")
    assert_invalid(result, f"{PROMPT}:{line}", fragment)
    assert not (root / ".promptops" / "runs").exists()


@pytest.mark.parametrize(("prompt", "line", "fragment"), PROMPT_CASES)
def test_bad_prompt_in_render(make_project, run_cli, prompt: str, line: int, fragment: str) -> None:
    make_project({PROMPT: prompt})
    result = run_cli("render", "support/triage", "--var", "ticket=hi")
    assert_invalid(result, f"{PROMPT}:{line}", fragment)


def test_error_in_a_partial_names_the_partial(make_project, run_cli) -> None:
    make_project({"prompts/_partials/tone.j2": "Be brief.\nBe polite, {{ customer }}.\n"})
    result = run_cli("test")
    assert_invalid(result, "prompts/_partials/tone.j2:2", "'customer' is undefined")


def test_partials_that_include_each_other(make_project, run_cli) -> None:
    make_project(
        {
            "prompts/_partials/tone.j2": 'Be brief.\n{% include "_partials/more.j2" %}\n',
            "prompts/_partials/more.j2": 'Be polite.\n{% include "_partials/tone.j2" %}\n',
        }
    )
    result = run_cli("render", "support/triage", "--var", "ticket=hi")
    assert_invalid(result, "", "templates include each other in a cycle")
    # where the recursion stopped depends on the stack depth: either partial, at its include line
    assert re.search(r"^error: prompts/_partials/(tone|more)\.j2:2: ", result.output, re.MULTILINE), (
        result.output
    )


def test_prompt_that_is_not_utf8(make_project, run_cli) -> None:
    root = make_project()
    (root / PROMPT).write_bytes(b"---\nversion: 1.0.0\ninputs: {ticket: {}}\n---\nCaf\xe9 {{ ticket }}\n")
    result = run_cli("test")
    assert_invalid(result, f"{PROMPT}:5", "not valid UTF-8")


# --- render command line ------------------------------------------------------------------------

RENDER_CASES = [
    pytest.param(
        ("support/triage",),
        PROMPT,
        "prompt support/triage: required input 'ticket' is missing",
        id="render-missing-required-var",
    ),
    pytest.param(
        ("support/triage", "--var", "ticket"),
        "",
        "--var expects KEY=VALUE, got 'ticket'",
        id="render-var-without-equals",
    ),
    pytest.param(
        ("support/triage", "--var", "=hi"),
        "",
        "--var expects KEY=VALUE, got '=hi'",
        id="render-var-without-key",
    ),
    pytest.param(
        ("support/triage", "--var", "ticket=hi", "--var", "colour=red"),
        PROMPT,
        "variable 'colour' is not a declared input (declared: labels, ticket)",
        id="render-undeclared-var",
    ),
    pytest.param(
        ("support/nope", "--var", "ticket=hi"),
        "",
        "prompt 'support/nope' not found (expected prompts/support/nope.j2)",
        id="render-unknown-prompt",
    ),
]


@pytest.mark.parametrize(("args", "where", "fragment"), RENDER_CASES)
def test_bad_render_arguments(
    make_project, run_cli, args: tuple[str, ...], where: str, fragment: str
) -> None:
    make_project()
    result = run_cli("render", *args)
    assert_invalid(result, where, fragment)


# --- no data lost -------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_bad_suite_keeps_previous_runs(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    root = make_project()
    assert run_cli("test").exit_code == 0
    runs = root / ".promptops" / "runs"
    before = snapshot(runs)
    assert any(name.endswith("results.jsonl") for name in before)
    calls = len(fake_server.state.requests)

    (root / "suites" / "broken.yaml").write_text(
        "prompt: support/triage\ncases:\n  - id: a\n    colour: red\n"
    )
    result = run_cli("test")
    assert_invalid(result, "suites/broken.yaml:4", "unknown key 'colour' in cases[0]")
    assert snapshot(runs) == before
    assert len(fake_server.state.requests) == calls
    assert (root / "suites" / "triage.yaml").read_text().startswith("prompt: support/triage")


@pytest.mark.parametrize(
    ("file", "text", "where", "fragment"),
    [
        pytest.param(
            "suites/triage.golden.yaml",
            "- case: a\n",
            "suites/triage.golden.yaml:1",
            "mapping",
            id="golden-list",
        ),
        pytest.param(
            "suites/triage.golden.yaml",
            (
                "suite: triage\ngoldens:\n  - case: refund-basic\n    model: fake\n    model_id: m\n"
                "    prompt_version: 1.0.0\n    prompt_fingerprint: x\n    output: refund\n    outptu: bug\n"
            ),
            "suites/triage.golden.yaml:9",
            "unknown key 'outptu'",
            id="golden-typo",
        ),
        pytest.param(
            "suites/triage.recording.yaml",
            "version: 1\nsuite: triage\nprompt_version: 1.0.0\nprompt_fingerprint: x\nrecordings: 3\n",
            "suites/triage.recording.yaml:5",
            "recordings",
            id="recording-not-a-list",
        ),
        pytest.param(
            "promptops.yaml", "- fake\n", "promptops.yaml:1", "config must be a mapping", id="config-list"
        ),
    ],
)
def test_every_yaml_file_reports_mistakes_the_same_way(
    make_project, run_cli, file: str, text: str, where: str, fragment: str
) -> None:
    """Config, suites, goldens and recordings all go through one validated YAML reader."""
    make_project({file: text})
    assert_invalid(run_cli("test", "--replay"), where, fragment)
