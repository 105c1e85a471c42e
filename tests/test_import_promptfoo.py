"""``promptops import promptfoo``: real promptfoo configs and our own, imported, linted and run."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import FAKE_KEY_ENV
from fake_openai import FakeOpenAIServer

# real configs from promptfoo's repository (MIT, see LICENSE there)
EXAMPLES = Path(__file__).parent / "data" / "promptfoo-examples"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "promptfooconfig.yaml").is_file())


# one answer every judge template can read: promptfoo's graders ask for different keys
JUDGE_ANSWER = json.dumps(
    {
        "pass": True,
        "score": 1,
        "reason": "fine",
        "category": "A",
        "questions": ["What is asked?"],
        "statements": [],
        "claims": [],
        "sentences": [],
        "relevant": [1],
        "supported": [1],
        "attributed": [1],
    }
)


def _add_fake_alias(project: Path, server: FakeOpenAIServer) -> None:
    config_path = project / "promptops.yaml"
    config = yaml.safe_load(config_path.read_text())
    fake = {"api_base": server.api_base, "api_key_env": FAKE_KEY_ENV}
    config["models"]["fake"] = {"model": "openai/fake-model", **fake}
    # model-graded assertions grade on the same server, with a scripted verdict
    config["models"]["judge"] = {"model": "openai/fake-judge", **fake}
    config["models"]["embedding"] = {"model": "openai/fake-embedding", **fake}
    config["run"] = {"concurrency": 4, "timeout_s": 2.0, "retries": 1, "backoff_s": 0.01}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    base = server.state.default_answer
    server.state.default_answer = lambda messages, body: (
        JUDGE_ANSWER if body.get("model") == "fake-judge" else base(messages, body)
    )


def _import(run_cli, source: Path, out: Path, *extra: str):
    return run_cli("import", "promptfoo", str(source), "-o", str(out), *extra)


def _lint_and_run(run_cli, out: Path, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(out)
    lint = run_cli("lint")
    assert lint.exit_code == 0, lint.output
    _add_fake_alias(out, server)
    result = run_cli("test", "-m", "fake")
    assert result.exit_code in (0, 1), result.output
    runs = sorted((out / ".promptops" / "runs").iterdir())
    return json.loads((runs[-1] / "summary.json").read_text())


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-test-not-a-real-key")
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_shared_examples_import_lint_and_run(
    name: str, tmp_path: Path, run_cli, fake_server: FakeOpenAIServer, monkeypatch, fake_env
) -> None:
    source = tmp_path / "src"
    shutil.copytree(EXAMPLES / name, source)
    out = tmp_path / "out"
    result = _import(run_cli, source, out)
    assert result.exit_code in (0, 1), result.output
    report = (out / "promptfoo-import.md").read_text()
    assert "assertions carried over" in report
    summary = _lint_and_run(run_cli, out, fake_server, monkeypatch)
    assert summary["cases"], summary
    # nothing disappears: every item not carried over is in the report and kept somewhere
    if result.exit_code == 1:
        assert "## Not carried over" in report
        generated = "".join(
            p.read_text() for p in out.rglob("*") if p.is_file() and p.suffix in (".yaml", ".txt")
        )
        for line in report.splitlines():
            if line.startswith("| ") and "comment in the suite" in line:
                where = line.split(" | ")[1]
                assert f"not carried over from {where}" in generated, (where, generated)


FULL_CONFIG = """\
description: Support bot
prompts:
  - file://prompts/pair.txt
  - file://prompts/chat.json
  - id: file://prompts/chat.yaml
    label: Chat YAML
  - file://prompts/fn.py
  - >-
    Inline {{ topic }}{% if mode === "short" %} briefly{% elseif mode %} at length{% endif %}:
    {{ items | dump }} ({{ items.length }})
providers:
  - id: openai:chat:gpt-4o-mini
    label: Fast model
    config:
      temperature: 0.2
      max_tokens: 64
      apiKeyEnvar: MY_OPENAI_KEY
      apiBaseUrl: https://proxy.example/v1
  - anthropic:messages:claude-3-5-haiku-20241022
  - ollama:chat:llama3
  - id: openai:gpt-4o
    config:
      apiKey: sk-should-never-be-copied
  - echo
  - exec:python run.py
evaluateOptions:
  maxConcurrency: 3
  repeat: 2
  delay: 100
assertionTemplates:
  polite:
    type: not-icontains
    value: stupid
defaultTest:
  vars:
    mode: short
  assert:
    - $ref: "#/assertionTemplates/polite"
tests:
  - description: Refund question
    vars:
      topic: refunds
      items: [a, b]
      policy: file://docs/policy.txt
      facts: file://docs/facts.json
    assert:
      - type: icontains
        value: "{{ topic }}"
      - type: contains-any
        value: [refund, money]
      - type: javascript
        value: output.length > 3
      - type: javascript
        value: file://checks.js:check
      - type: latency
        threshold: 5000
      - type: assert-set
        assert:
          - type: not-contains
            value: sorry
          - type: regex
            value: "\\\\w+"
  - vars:
      topic: [billing, shipping]
      items: []
    options:
      transform: output.toUpperCase()
    threshold: 0.5
    assert:
      - type: is-json
      - type: rouge-n
        value: hello
  - file://tests/cases.csv
  - file://tests/more.jsonl
  - file://tests/*.yaml
redteam:
  purpose: nothing
"""

FULL_FILES = {
    "prompts/pair.txt": "First {{ topic }}\n---\nSecond {{ topic }} {{ mode }}\n",
    "prompts/chat.json": json.dumps(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about {{ topic }}"}]
    ),
    "prompts/chat.yaml": "- role: system\n  content: You help.\n- role: user\n  content: '{{ topic }}?'\n",
    "prompts/fn.py": "def prompt(context):\n    return 'x'\n",
    "docs/policy.txt": "Refunds within 30 days.",
    "docs/facts.json": '{"days": 30}',
    "tests/cases.csv": (
        "topic,__expected,__description\nrefunds,icontains: refund,csv row\nlogin,rouge-n: hi,rouge row\n"
    ),
    "tests/more.jsonl": '{"vars": {"topic": "a"}, "assert": [{"type": "contains", "value": "a"}]}\n',
    "tests/extra.yaml": "- vars: {topic: yaml}\n  assert: [{type: starts-with, value: 'x'}]\n",
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_full_config_maps_every_feature(
    tmp_path: Path, run_cli, fake_server: FakeOpenAIServer, monkeypatch, fake_env
) -> None:
    source = tmp_path / "src"
    _write(source, {"promptfooconfig.yaml": FULL_CONFIG, **FULL_FILES})
    out = tmp_path / "out"
    result = _import(run_cli, source, out)
    assert result.exit_code == 1, result.output  # some things cannot be carried over

    config = yaml.safe_load((out / "promptops.yaml").read_text())
    models = config["models"]
    assert models["fast-model"] == {
        "model": "openai/gpt-4o-mini",
        "params": {"temperature": 0.2, "max_tokens": 64},
        "api_base": "https://proxy.example/v1",
        "api_key_env": "MY_OPENAI_KEY",
    }
    assert models["claude-3-5-haiku-20241022"] == {"model": "anthropic/claude-3-5-haiku-20241022"}
    assert models["llama3"] == {"model": "ollama_chat/llama3"}
    assert config["run"] == {"concurrency": 3} and config["defaults"]["repeat"] == 2
    config_text = (out / "promptops.yaml").read_text()
    assert "sk-should-never-be-copied" not in "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "# echo: not carried over from promptfoo provider 'echo'" in config_text

    prompts = sorted(p.relative_to(out / "prompts").as_posix() for p in (out / "prompts").rglob("*.j2"))
    assert prompts == ["chat-yaml.j2", "chat.j2", "pair-1.j2", "pair-2.j2", "prompt.j2"]
    chat = (out / "prompts" / "chat.j2").read_text()
    assert '{% role "system" %}\nBe brief.\n{% endrole %}' in chat
    inline = (out / "prompts" / "prompt.j2").read_text()
    assert 'mode == "short"' in inline and "{% elif mode %}" in inline
    assert "items | tojson" in inline and "(items | length)" in inline

    suite = (out / "suites" / "chat.yaml").read_text()
    data = yaml.safe_load(suite)
    assert data["models"][:3] == ["fast-model", "claude-3-5-haiku-20241022", "llama3"]
    assert data["defaults"] == {
        "vars": {"mode": "short"},
        "assert": [{"type": "not-icontains", "value": "stupid"}],
    }
    cases = {case["id"]: case for case in data["cases"] if isinstance(case, dict)}
    refund = cases["refund-question-1"]  # an array var runs once per value
    assert refund["vars"]["items"] == "a" and cases["refund-question-2"]["vars"]["items"] == "b"
    assert refund["vars"]["policy"] == "Refunds within 30 days."
    assert refund["vars"]["facts"] == {"days": 30}
    assert {"type": "icontains", "value": "refunds"} in refund["assert"]  # {{ topic }} filled in
    assert {"type": "latency", "max": 5000} in refund["assert"]
    assert {"type": "not-contains", "value": "sorry"} in refund["assert"]  # assert-set flattened
    assert {"type": "javascript", "value": "output.length > 3"} in refund["assert"]
    assert "not carried over from promptfooconfig.yaml" in suite and "file://checks.js:check" in suite
    assert {
        c["vars"]["topic"] for c in data["cases"] if isinstance(c, dict) and c["id"].startswith("test-2")
    } == {
        "billing",
        "shipping",
    }
    assert "rouge row" in suite  # the CSV with a row that does not carry over is written inline
    assert "file://more.jsonl" in suite  # a clean case file is referenced as it is
    assert (out / "suites" / "more.jsonl").is_file() and (out / "suites" / "extra.cases.yaml").is_file()

    report = (out / "promptfoo-import.md").read_text()
    for fragment in (
        "prompt 'file://prompts/fn.py'",
        "provider 'echo'",
        "provider 'exec:python run.py'",
        "an API key written in the config",
        "evaluateOptions.delay",
        "setting 'redteam'",
        "test option 'transform'",
        "test 'threshold'",
        "assertion 'javascript'",
        "assertion 'rouge-n'",
    ):
        assert fragment in report, fragment

    summary = _lint_and_run(run_cli, out, fake_server, monkeypatch)
    suites = {case["suite"] for case in summary["cases"]}
    assert suites == {"chat", "chat-yaml", "pair-1", "pair-2", "prompt"}


def test_default_metadata_reaches_every_case(tmp_path: Path, run_cli) -> None:
    _write(
        tmp_path / "src",
        {
            "promptfooconfig.yaml": (
                "prompts: ['Q {{ q }}']\nproviders: [openai:gpt-4o]\n"
                "defaultTest: {metadata: {owner: support}}\n"
                "tests: [{vars: {q: a}, metadata: {kind: x}}, file://t.jsonl]\n"
            ),
            "t.jsonl": '{"vars": {"q": "b"}}\n',
        },
    )
    result = _import(run_cli, tmp_path / "src", tmp_path / "out")
    assert result.exit_code == 0, result.output
    cases = yaml.safe_load((tmp_path / "out" / "suites" / "prompt.yaml").read_text())["cases"]
    assert [case["metadata"] for case in cases] == [{"owner": "support", "kind": "x"}, {"owner": "support"}]


def test_complete_import_exits_0(tmp_path: Path, run_cli, fake_server, monkeypatch, fake_env) -> None:
    source = tmp_path / "src"
    _write(
        source,
        {
            "promptfooconfig.yaml": textwrap.dedent(
                """\
                prompts: ['Answer: {{ q }}']
                providers: [openai:gpt-4o-mini]
                tests:
                  - vars: {q: hi}
                    assert: [{type: icontains, value: hi}, {type: not-equals, value: ''}]
                """
            )
        },
    )
    out = tmp_path / "out"
    result = _import(run_cli, source, out)
    assert result.exit_code == 0, result.output
    assert "Everything was carried over." in (out / "promptfoo-import.md").read_text()
    summary = _lint_and_run(run_cli, out, fake_server, monkeypatch)
    assert [case["status"] for case in summary["cases"]] == ["passed"]  # the fake server echoes the prompt


@pytest.mark.parametrize(
    ("config", "line", "fragment"),
    [
        pytest.param("prompts: [a\n  b: [", 2, "invalid YAML", id="invalid-yaml"),
        pytest.param("- just\n- a list\n", 1, "a promptfoo config must be a mapping", id="not-mapping"),
        pytest.param(b"description: x\nprompts: ['\xff']\n", 2, "not valid UTF-8", id="not-utf8"),
    ],
)
def test_unreadable_config_exits_2(tmp_path: Path, run_cli, config, line: int, fragment: str) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_bytes(config if isinstance(config, bytes) else config.encode())
    result = _import(run_cli, path, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"error: {path}:{line}: " in result.output, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_missing_config_and_existing_project_exit_2(tmp_path: Path, run_cli) -> None:
    result = _import(run_cli, tmp_path / "nope.yaml", tmp_path / "out")
    assert result.exit_code == 2 and "no promptfoo config at" in result.output
    (tmp_path / "promptfooconfig.yaml").write_text("prompts: ['x']\nproviders: [openai:gpt-4o]\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "promptops.yaml").write_text("version: 1\n")
    result = _import(run_cli, tmp_path, tmp_path / "out")
    assert result.exit_code == 2 and "already holds promptops.yaml" in result.output
    result = _import(run_cli, tmp_path, tmp_path / "out", "--force")
    assert result.exit_code == 0, result.output


def test_files_outside_the_imported_project_are_not_read(tmp_path: Path, run_cli) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    source = tmp_path / "proj"
    _write(
        source,
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            "cfg/promptfooconfig.yaml": (
                "prompts: [file://../../secret.txt, 'Q {{ v }}']\nproviders: [openai:gpt-4o]\n"
                "tests: [{vars: {v: file:///etc/hostname}}]\n"
            ),
        },
    )
    out = tmp_path / "out"
    result = _import(run_cli, source / "cfg", out)
    assert result.exit_code == 1, result.output
    written = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "TOP SECRET" not in written
    assert "points outside the imported project" in (out / "promptfoo-import.md").read_text()


def test_keys_in_what_is_not_carried_over_are_not_copied(tmp_path: Path, run_cli) -> None:
    _write(
        tmp_path / "src",
        {
            "promptfooconfig.yaml": textwrap.dedent(
                """\
                prompts: ['Q {{ q }}']
                providers: [openai:gpt-4o]
                tests:
                  - vars: {q: a}
                    options:
                      provider: {id: 'exec:grade.sh', config: {apiKey: plainsecretvalue1234}}
                    assert:
                      - {type: rouge-n, value: a, provider: {id: x, config: {apiKey: sk-live-0123456789ab}}}
                """
            )
        },
    )
    result = _import(run_cli, tmp_path / "src", tmp_path / "out")
    assert result.exit_code == 1, result.output
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "not carried over from promptfooconfig.yaml:6" in written  # the option is still kept, redacted
    assert "plainsecretvalue1234" not in written and "sk-live-0123456789ab" not in written
    assert "plainsecretvalue1234" not in result.output and "sk-live" not in result.output


def test_unparseable_template_is_kept_aside(tmp_path: Path, run_cli) -> None:
    _write(
        tmp_path / "src",
        {"promptfooconfig.yaml": "prompts: ['{% for x in %}']\nproviders: [openai:gpt-4o]\n"},
    )
    result = _import(run_cli, tmp_path / "src", tmp_path / "out")
    assert result.exit_code == 1
    assert (tmp_path / "out" / "promptfoo-unconverted" / "prompt.txt").read_text() == "{% for x in %}"
    assert "does not parse as Jinja" in (tmp_path / "out" / "promptfoo-import.md").read_text()


def test_grading_providers_become_judges(tmp_path: Path, run_cli) -> None:
    _write(
        tmp_path / "src",
        {
            "promptfooconfig.yaml": textwrap.dedent(
                """\
                prompts: ['Q {{ q }}']
                providers: [openai:gpt-4o-mini]
                defaultTest:
                  options: {provider: openai:chat:gpt-4o}
                tests:
                  - vars: {q: a}
                    assert:
                      - {type: llm-rubric, value: is polite}
                      - {type: factuality, value: a, provider: anthropic:messages:claude-3-5-haiku-20241022}
                      - type: similar
                        value: a
                        threshold: 0.7
                        provider: openai:embedding:text-embedding-3-small
                  - vars: {q: b}
                    options: {provider: {id: 'mistral:mistral-large-latest'}}
                    assert: [{type: llm-rubric, value: is short}]
                """
            )
        },
    )
    result = _import(run_cli, tmp_path / "src", tmp_path / "out")
    assert result.exit_code == 0, result.output
    suite = yaml.safe_load((tmp_path / "out" / "suites" / "prompt.yaml").read_text())
    assert suite["judge"] == "openai/gpt-4o"  # defaultTest's grader grades the whole suite
    first, second = suite["cases"]
    assert first["assert"] == [
        {"type": "llm-rubric", "value": "is polite"},
        {"type": "factuality", "value": "a", "judge": "anthropic/claude-3-5-haiku-20241022"},
        {"type": "similar", "value": "a", "threshold": 0.7, "embedding": "openai/text-embedding-3-small"},
    ]
    assert second["assert"] == [
        {"type": "llm-rubric", "value": "is short", "judge": "mistral/mistral-large-latest"}
    ]
    config = yaml.safe_load((tmp_path / "out" / "promptops.yaml").read_text())
    assert config["models"]["judge"] == {"model": "openai/gpt-4o-mini"}


def test_code_checks_glob_vars_and_provider_files_carry_over(
    tmp_path: Path, run_cli, fake_server: FakeOpenAIServer, monkeypatch, fake_env
) -> None:
    _write(
        tmp_path / "src",
        {
            "promptfooconfig.yaml": textwrap.dedent(
                """\
                prompts: ['Summarize: {{ article }}']
                providers:
                  - id: adaline:openai:chat:gpt-4o-mini
                    config: {tools: file://tools.yaml}
                tests:
                  - vars: {article: file://articles/*.txt}
                    assert:
                      - {type: python, value: "len(output) > 3"}
                      - type: python
                        value: |
                          words = output.split()
                          return {"pass": len(words) > 1, "score": 1.0, "reason": "counted"}
                      - {type: python, value: "file://checks/grade.py:long_enough"}
                      - {type: model-graded-closedqa, value: is a summary}
                """
            ),
            "tools.yaml": "- type: function\n  function: {name: lookup, parameters: {type: object}}\n",
            "articles/a.txt": "Tides rise twice a day.",
            "articles/b.txt": "Bees dance to point at flowers.",
            "checks/grade.py": "def long_enough(output, context):\n    return len(output) > 5\n",
        },
    )
    out = tmp_path / "out"
    result = _import(run_cli, tmp_path / "src", out)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((out / "promptops.yaml").read_text())
    model = config["models"]["gpt-4o-mini"]
    assert model["model"] == "openai/gpt-4o-mini"  # the gateway prefix is dropped
    assert model["params"]["tools"] == [
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    ]
    cases = yaml.safe_load((out / "suites" / "prompt.yaml").read_text())["cases"]
    assert [case["vars"]["article"] for case in cases] == [
        "Tides rise twice a day.",
        "Bees dance to point at flowers.",
    ]
    types = [(a["type"], a.get("value")) for a in cases[0]["assert"]]
    assert types == [
        ("python", "promptfoo_checks.py:check_1"),
        ("python", "promptfoo_checks.py:check_2"),
        ("python", "checks/grade.py:long_enough"),
        ("llm-rubric", "is a summary"),
    ]
    assert (out / "checks" / "grade.py").is_file()
    summary = _lint_and_run(run_cli, out, fake_server, monkeypatch)
    assert [case["status"] for case in summary["cases"]] == ["passed", "passed"]
