"""Exit codes CI can act on: a crash is 4 (never 1, "tests failed"), an unreachable provider is named."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

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
