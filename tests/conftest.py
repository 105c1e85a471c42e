"""Shared fixtures: a fake OpenAI-compatible server and temporary projects."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))

from fake_openai import FakeOpenAIServer, FakeState  # noqa: E402

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

FAKE_KEY_ENV = "PROMPTOPS_TEST_FAKE_KEY"

TRIAGE_PROMPT = """\
---
version: 1.0.0
description: Classify a support ticket into one label
params: {max_tokens: 16}
inputs:
  ticket: {required: true}
  labels: {default: [refund, bug, question]}
---
{% role "system" %}
Reply with exactly one word from: {{ labels | join(", ") }}.
{% include "_partials/tone.j2" %}
{% endrole %}
{% role "user" %}{{ ticket }}{% endrole %}
"""

TONE_PARTIAL = "Be brief and polite.\n"

TRIAGE_SUITE = """\
prompt: support/triage
description: Triage labels
cases:
  - id: refund-basic
    vars: {ticket: "I was charged twice, please give my money back"}
    gap: skill
    assert:
      - {type: equals, value: refund}
  - id: crash
    vars: {ticket: "The app crashes when I open settings"}
    assert:
      - {type: equals, value: bug}
"""


@pytest.fixture(scope="session")
def _fake_server_process_wide() -> Iterator[FakeOpenAIServer]:
    """One fake provider for the whole session: a server per test cost more time than most tests."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def fake_server(_fake_server_process_wide: FakeOpenAIServer) -> FakeOpenAIServer:
    """The fake provider on 127.0.0.1, with fresh answers, faults and request log for each test."""
    _fake_server_process_wide.use(FakeState(hang_s=3.0))
    return _fake_server_process_wide


def config_text(api_base: str, extra: str = "") -> str:
    return (
        textwrap.dedent(
            f"""\
        version: 1
        models:
          fake: {{model: openai/fake-model, api_base: "{api_base}", api_key_env: {FAKE_KEY_ENV}}}
          other: {{model: openai/other-model, api_base: "{api_base}", api_key_env: {FAKE_KEY_ENV}}}
        defaults:
          model: fake
          params: {{temperature: 0, max_tokens: 64}}
        run: {{concurrency: 4, timeout_s: 1.0, retries: 3, backoff_s: 0.01, backoff_max_s: 0.2}}
        """
        )
        + extra
    )


ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: FakeOpenAIServer
) -> ProjectFactory:
    """Write a project into tmp_path (config pointing at the fake server) and chdir into it."""
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-test-not-a-real-key")
    monkeypatch.delenv("CI", raising=False)

    def build(files: dict[str, str] | None = None, *, config: str | None = None) -> Path:
        defaults = {
            "promptops.yaml": config if config is not None else config_text(fake_server.api_base),
            "prompts/support/triage.j2": TRIAGE_PROMPT,
            "prompts/_partials/tone.j2": TONE_PARTIAL,
            "suites/triage.yaml": TRIAGE_SUITE,
        }
        defaults.update(files or {})
        for name, text in defaults.items():
            if text is None:
                continue
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        return tmp_path

    return build


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke the promptops CLI in-process, as a user would from a shell."""
    from promptops.cli import cli

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke
