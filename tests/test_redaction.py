"""No API key reaches a file or a message, whatever the provider echoes back.

The fake provider answers every call with a 401 whose body repeats the request's
``Authorization`` header and the bare key, as some providers do. The run, its
reports in all five formats, the job summary, the pull-request comment and
everything printed on the way must hold no trace of the key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAKE_KEY_ENV, config_text
from fake_github import FakeGitHub
from fake_openai import AUTHORIZATION, BARE_KEY, FakeOpenAIServer, Reply

from promptops.config import ModelAlias
from promptops.redaction import REDACTED, redact, remember_project_secrets, remember_secrets, url_secrets

ROOT = Path(__file__).resolve().parent.parent

ECHO_401 = Reply(
    401,
    {
        "error": {
            "message": f"Incorrect API key provided: {BARE_KEY}. Request had Authorization: {AUTHORIZATION}",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "headers": {"authorization": AUTHORIZATION},
        }
    },
)


def promptops(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promptops", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env_name", "key"),
    [
        # a key of a well-known shape, in a variable named like a key
        pytest.param(FAKE_KEY_ENV, "sk-proj-Echoed9f3a71c0d2b4e8", id="sk-shaped-key"),
        # a key of no known shape, in a variable whose name says nothing: only the config names it
        pytest.param("PROVIDER_SETTING", "Zq9plainvalue4471xx", id="shapeless-key-from-config"),
    ],
)
def test_echoed_key_reaches_no_artefact(
    make_project, fake_server: FakeOpenAIServer, tmp_path: Path, env_name: str, key: str
) -> None:
    fake_server.state.replies = {"": ECHO_401}
    root = make_project(config=config_text(fake_server.api_base).replace(FAKE_KEY_ENV, env_name))
    with FakeGitHub() as github:
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": 7}}))
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            env_name: key,
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_TOKEN": "ghs_test_token",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
        }
        env.pop(FAKE_KEY_ENV if env_name != FAKE_KEY_ENV else "PROVIDER_SETTING", None)
        (root / "out").mkdir()
        formats = "text,json,markdown,junit,html"
        runs = [
            promptops(root, env, "test", "--format", "text"),
            promptops(root, env, "report", "latest", "--format", formats, "-o", "out/r"),
            promptops(root, env, "report", "latest", "--format", "markdown"),
            promptops(root, env, "github", "comment", "latest", "--summary"),
        ]
        comments = [c["body"] for c in github.state.on_issue(7)]

    # the key really went to the provider and came back in its error
    assert f"Bearer {key}" in fake_server.state.authorizations
    printed = "\n".join(run.stdout + run.stderr for run in runs)
    assert "Traceback" not in printed, printed
    assert runs[0].returncode == 3, printed
    files = [p for p in root.rglob("*") if p.is_file() and ".promptops/cache" not in p.as_posix()]
    files.append(tmp_path / "step-summary.md")
    written = {str(p.relative_to(tmp_path)): p.read_text(encoding="utf-8", errors="replace") for p in files}
    for name in ("results.jsonl", "summary.json", "r.txt", "r.json", "r.md", "r.xml", "r.html"):
        assert any(path.endswith(name) for path in written), sorted(written)
    assert comments, printed
    for where, text in [("output", printed), *written.items(), *(("comment", c) for c in comments)]:
        assert key not in text, where
        assert key[:12] not in text, where
    results = next(text for path, text in written.items() if path.endswith("results.jsonl"))
    assert "Incorrect API key provided: [REDACTED]" in results
    assert "invalid_request_error" in printed or "AuthenticationError" in printed


def test_redact_known_values_and_key_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme-value-123456")
    remember_secrets(["header-secret-value", "short"])
    cases = {
        "Bearer abcdefghijklmnop failed": f"Bearer {REDACTED} failed",
        "got acme-value-123456 and header-secret-value": f"got {REDACTED} and {REDACTED}",
        "key sk-ant-api03-AbCdEf123456 is wrong": f"key {REDACTED} is wrong",
        "GET https://h/v1/chat?api-key=q1w2e3r4&api-version=2024-06-01": (
            f"GET https://h/v1/chat?api-key={REDACTED}&api-version=2024-06-01"
        ),
        '{"api_key": "plain-key-value-7", "n": 2}': f'{{"api_key": "{REDACTED}", "n": 2}}',
        "--var expects KEY=VALUE; token: missing": "--var expects KEY=VALUE; token: missing",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==": f"Authorization: {REDACTED}",
        "token ghp_0123456789abcdefghijABCDEFGHIJ here": f"token {REDACTED} here",
        "AIzaSyA-0123456789abcdefghijklmnopqrs": REDACTED,
        # ordinary error text is left alone
        "Error 429: rate limited; prompt_tokens=12": "Error 429: rate limited; prompt_tokens=12",
    }
    for text, expected in cases.items():
        assert redact(text) == expected, text


def test_key_like_query_parameters_and_url_passwords_are_secrets() -> None:
    assert url_secrets("https://user:pa55word@proxy.example/v1?api-key=K123456&api-version=1&sig=S999") == [
        "K123456",
        "S999",
        "pa55word",
    ]


def test_header_values_and_url_secrets_of_the_config_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_PROXY_CREDENTIAL_VALUE", "credential-4471-value")
    alias = ModelAlias(
        model="openai/x",
        api_base="https://proxy.example/v1?code=QUERYVALUE-81",
        api_key_env="TEAM_PROXY_CREDENTIAL_VALUE",
        params={"extra_headers": {"X-Team-Auth": "hdr-value-5520"}},
    )
    remember_project_secrets([alias, "openai/plain"], {"headers": {"X-Org": "org-header-9911"}})
    text = "echo: credential-4471-value hdr-value-5520 org-header-9911 code=QUERYVALUE-81"
    assert redact(text) == f"echo: {REDACTED} {REDACTED} {REDACTED} code={REDACTED}"
