"""Exit codes CI can act on: a crash is 4 (never 1, "tests failed"), an unreachable provider is named."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from conftest import FAKE_KEY_ENV, config_text
from fake_openai import FakeOpenAIServer, Reply

from promptops.cli import cli


@pytest.fixture
def failing_command() -> Iterator[str]:
    """A command whose code has a bug, registered on the real command group for one test."""
    name = "fail-for-test"

    @cli.command(name)
    def fail() -> None:
        {"a": 1}["b"]  # a KeyError such as a bug would raise

    @cli.command(name + "-secret")
    def fail_with_secret() -> None:
        raise RuntimeError("upstream said: Authorization: Bearer sk-live-0123456789abcdef\nsecond line")

    yield name
    cli.commands.pop(name)
    cli.commands.pop(name + "-secret")


def test_a_bug_exits_4_with_one_line_and_a_hint(
    failing_command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPTOPS_DEBUG", raising=False)
    result = CliRunner().invoke(cli, [failing_command])
    assert result.exit_code == 4, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: internal error (KeyError: 'b'); this is a bug in promptops")
    assert "PROMPTOPS_DEBUG=1" in lines[0]
    assert "Traceback" not in result.output

    secret = CliRunner().invoke(cli, [failing_command + "-secret"])
    assert secret.exit_code == 4
    assert "sk-live" not in secret.output and "[REDACTED]" in secret.output
    assert len(secret.output.strip().splitlines()) == 1


def test_debug_shows_the_traceback(failing_command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTOPS_DEBUG", "1")
    result = CliRunner().invoke(cli, [failing_command])
    assert isinstance(result.exception, KeyError)


def test_usage_errors_stay_click_usage_errors() -> None:
    result = CliRunner().invoke(cli, ["test", "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_unreachable_provider_names_alias_and_url(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    root = make_project(config=config_text(fake_server.api_base).replace(fake_server.api_base, closed))
    result = run_cli("test")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert f"cannot reach model 'fake' (openai/fake-model) at {closed}" in " ".join(result.output.split())
    assert "InternalServerError" not in result.output
    run = next((root / ".promptops" / "runs").iterdir())
    errors = [json.loads(line)["error"] for line in (run / "results.jsonl").read_text().splitlines()]
    assert {e["type"] for e in errors} == {"ProviderUnreachable"}
    assert all(closed in e["message"] for e in errors)


def test_resume_honours_replay(
    make_project, run_cli, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--resume RUN --replay`` fills the gaps from the cache and recordings, with no API key."""
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    fake_server.state.replies = {"crashes": Reply(500, {"error": {"message": "down"}})}
    root = make_project()
    first = run_cli("test")
    assert first.exit_code == 3, first.output
    run_id = next((root / ".promptops" / "runs").iterdir()).name
    fake_server.state.replies = {}
    assert run_cli("test").exit_code == 0  # a later run caches the missing answer
    calls = len(fake_server.state.requests)
    monkeypatch.delenv(FAKE_KEY_ENV)
    resumed = run_cli("test", "--resume", run_id, "--replay")
    assert resumed.exit_code == 0, resumed.output
    assert "not set" not in resumed.output
    assert len(fake_server.state.requests) == calls
    lines = (root / ".promptops" / "runs" / run_id / "results.jsonl").read_text().splitlines()
    crash = [json.loads(line) for line in lines if json.loads(line)["case"] == "crash"]
    assert crash[-1]["output"] == "bug" and crash[-1]["cached"] is True
