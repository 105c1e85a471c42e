"""Secrets out of every error text the tool stores or prints.

Providers sometimes echo the request back in an error (``401 ... Bearer sk-...``),
and an error message travels far: results.jsonl, summary.json, every report
format, the terminal, the job summary and the pull-request comment. ``redact``
removes two kinds of secret from a text:

- **known values**: the value of every ``api_key_env`` variable, header values
  and key-like query parameters in ``api_base`` of every model alias (registered
  by ``load_project`` through ``remember_project_secrets``), and the value of any
  environment variable whose name says it holds a secret (``*_API_KEY``,
  ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*`` ...), since litellm reads provider
  keys from the environment by itself;
- **key shapes**: ``sk-…``, ``Bearer …``, ``Authorization: …``, key-like query
  parameters and JSON fields, and the token formats of the common providers.

``ErrorInfo`` (results.py) redacts its message when it is built or read, so
everything derived from a run record is clean; the CLI's error line and the
GitHub comment redact again, as the last step before text leaves the process.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6
"""Shorter values are not treated as secrets: redacting them would garble ordinary text."""

_SECRET_ENV_NAME = re.compile(
    r"(?:^|_)(?:[A-Z]*KEY|TOKEN|SECRET|PASSWORD|PASSWD|PAT|CREDENTIALS)$", re.IGNORECASE
)
# field and parameter names that hold a secret: any name ending like api_key / access_token / secret,
# or exactly key / token / sig
_KEY_NAME = (
    r"(?:[A-Za-z0-9_\-]*(?:api[_-]?key|apikey|access[_-]?key|access[_-]?token|auth[_-]?token|"
    r"refresh[_-]?token|client[_-]?secret|secret[_-]?key|secret|password|passwd)"
    r"|(?<![A-Za-z0-9_\-])(?:key|token|sig|signature))"
)
_SHAPES = [
    # query parameters and form fields: ?api-key=..., &token=...
    re.compile(rf"(?i)([?&;]{_KEY_NAME}=)(?!\[REDACTED\])[^&#\s\"']+"),
    # JSON or YAML fields: "api_key": "...", api_key: ...; the value must look like a key (8+ characters
    # with a digit), so prose such as "KEY=VALUE" or "token: missing" stays readable
    re.compile(
        rf"(?i)([\"']?{_KEY_NAME}[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])(?=[^\s\"',}}&]*\d)[^\s\"',}}&]{{8,}}"
    ),
    # HTTP authorization headers and bearer tokens
    re.compile(
        r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])(?:(?:bearer|basic|token)\s+)?[^\s\"',}]+"
    ),
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{6,}"),
    # token formats: OpenAI/Anthropic/DeepSeek sk-..., Google AIza..., AWS, GitHub, Hugging Face, Slack, JWTs
    re.compile(r"()\bsk-[A-Za-z0-9_\-*.]{6,}"),
    re.compile(r"()\bAIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"()\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"()\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    re.compile(r"()\bhf_[A-Za-z0-9]{20,}"),
    re.compile(r"()\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"()\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
]
# in a configured api_base, ``code`` holds a key too (Azure Functions)
_KEY_LIKE_PARAM = re.compile(rf"(?i)^(?:{_KEY_NAME}|code)$")

_known: set[str] = set()


def remember_secrets(values: Iterable[Any]) -> None:
    """Add values to redact from now on (values too short to be secrets are ignored)."""
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
            _known.add(value.strip())


def remember_project_secrets(models: Iterable[Any], default_params: dict[str, Any] | None = None) -> None:
    """The secrets of a project's model aliases (key values, header values, key-like URL parameters)
    and of its default call parameters."""
    _remember_param_secrets(default_params or {})
    for alias in models:
        if isinstance(alias, str):
            continue
        if alias.api_key_env:
            remember_secrets([os.environ.get(alias.api_key_env)])
        _remember_param_secrets(alias.params)
        if alias.api_base:
            remember_secrets(url_secrets(alias.api_base))


def _remember_param_secrets(params: dict[str, Any]) -> None:
    for name in ("extra_headers", "headers"):
        headers = params.get(name)
        if isinstance(headers, dict):
            remember_secrets(str(value) for value in headers.values())
    for param in ("api_key", "aws_secret_access_key", "aws_session_token"):
        remember_secrets([params.get(param)])


def url_secrets(url: str) -> list[str]:
    """Values of key-like query parameters, and the password, of ``url``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [value for name, value in parse_qsl(parts.query) if _KEY_LIKE_PARAM.search(name)]
    if parts.password:
        found.append(parts.password)
    return found


def _environment_secrets() -> list[str]:
    return [value for name, value in os.environ.items() if _SECRET_ENV_NAME.search(name)]


def redact(text: str) -> str:
    """``text`` with every known secret value and every key-shaped token replaced by ``[REDACTED]``."""
    if not text:
        return text
    secrets = _known | {value for value in _environment_secrets() if len(value) >= MIN_SECRET_LENGTH}
    # longest first, so a secret that contains another is removed whole
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for shape in _SHAPES:
        text = shape.sub(lambda match: match.group(1) + REDACTED, text)
    return text
