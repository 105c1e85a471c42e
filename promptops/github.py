"""GitHub integration: one upserted pull-request comment, the job summary, and annotations.

Everything is read from the GitHub Actions environment (``GITHUB_REPOSITORY``,
``GITHUB_EVENT_PATH``, ``GITHUB_API_URL``, ``GITHUB_TOKEN``,
``GITHUB_STEP_SUMMARY``) and can be overridden by options. The comment is found
again by a hidden marker, so each push updates one comment instead of adding
another.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptops.errors import ProviderError, UsageError
from promptops.locations import utf8_error_line, utf8_error_message
from promptops.redaction import redact
from promptops.reports import ReportData
from promptops.reports.markdown import MARKER
from promptops.watch import WatchReport

_USER_AGENT = "promptops"


@dataclass(frozen=True)
class PullRequest:
    """Where the comment goes and how to authenticate."""

    api_url: str
    repository: str
    number: int
    token: str


def pull_request_from_env(
    repository: str | None = None,
    number: int | None = None,
    api_url: str | None = None,
    env: dict[str, str] | None = None,
) -> PullRequest:
    """The pull request of the current Actions run; options win over the environment."""
    env = dict(os.environ) if env is None else env
    repository = repository or env.get("GITHUB_REPOSITORY")
    if not repository or "/" not in repository:
        raise UsageError("no repository: set GITHUB_REPOSITORY=owner/name or pass --repo")
    if number is None:
        number = _pr_number(env)
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise UsageError(
            "no GITHUB_TOKEN in the environment; give the step `env: GITHUB_TOKEN: ${{ github.token }}`"
        )
    return PullRequest(
        (api_url or env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        repository,
        number,
        token,
    )


def _pr_number(env: dict[str, str]) -> int:
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).is_file():
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            event = {}
        number = (event.get("pull_request") or {}).get("number") or event.get("number")
        if isinstance(number, int):
            return number
    ref = env.get("GITHUB_REF", "")
    parts = ref.split("/")
    if len(parts) >= 3 and parts[1] == "pull" and parts[2].isdigit():
        return int(parts[2])
    raise UsageError(
        "not a pull-request run: no pull request number in GITHUB_EVENT_PATH or GITHUB_REF; pass --pr"
    )


@dataclass(frozen=True)
class Repository:
    """A repository's API endpoint and token: where the watch issue goes."""

    api_url: str
    repository: str
    token: str


def repository_from_env(
    repository: str | None = None, api_url: str | None = None, env: dict[str, str] | None = None
) -> Repository:
    """The repository of the current Actions run; options win over the environment."""
    env = dict(os.environ) if env is None else env
    repository = repository or env.get("GITHUB_REPOSITORY")
    if not repository or "/" not in repository:
        raise UsageError("no repository: set GITHUB_REPOSITORY=owner/name or pass --repo")
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise UsageError(
            "no GITHUB_TOKEN in the environment; give the step `env: GITHUB_TOKEN: ${{ github.token }}`"
        )
    return Repository(
        (api_url or env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"), repository, token
    )


def _request(pr: PullRequest | Repository, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{pr.api_url}{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {pr.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": _USER_AGENT,
            **({"Content-Type": "application/json"} if data is not None else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https API URL)
            payload = response.read()
    except urllib.error.HTTPError as exc:
        hint = ""
        if exc.code in (401, 403) and isinstance(pr, PullRequest):
            hint = (
                " (pull requests from forks get a read-only token; the job summary still carries the report,"
                " or grant `pull-requests: write`)"
            )
        elif exc.code in (401, 403):
            hint = " (grant the job `issues: write`)"
        raise ProviderError(f"GitHub API {method} {path} answered {exc.code}{hint}") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise ProviderError(f"cannot reach the GitHub API at {pr.api_url}: {exc}") from None
    return json.loads(payload) if payload else None


def find_comment(pr: PullRequest) -> int | None:
    """Id of the comment carrying the promptops marker, if one exists."""
    page = 1
    while True:
        comments = _request(
            pr, "GET", f"/repos/{pr.repository}/issues/{pr.number}/comments?per_page=100&page={page}"
        )
        if not comments:
            return None
        for comment in comments:
            if MARKER in (comment.get("body") or ""):
                return int(comment["id"])
        if len(comments) < 100:
            return None
        page += 1


def upsert_comment(pr: PullRequest, body: str) -> tuple[str, int]:
    """Create the promptops comment, or update it when it exists; returns (action, comment id)."""
    # the last step before text leaves for GitHub: whatever the markdown holds, no key goes with it
    body = redact(body)
    if MARKER not in body:
        body = f"{MARKER}\n{body}"
    existing = find_comment(pr)
    if existing is not None:
        _request(pr, "PATCH", f"/repos/{pr.repository}/issues/comments/{existing}", {"body": body})
        return "updated", existing
    created = _request(pr, "POST", f"/repos/{pr.repository}/issues/{pr.number}/comments", {"body": body})
    return "created", int(created["id"])


MAX_MARKDOWN_BYTES = 1 << 20
"""GitHub's limit for one step's job summary; a comment takes far less (65,536 characters)."""


def read_markdown(path: Path) -> str:
    """A Markdown report to post as it is; a file that is not UTF-8 text is an error naming its line.

    A file larger than GitHub accepts is refused before it is read (and redacted) whole.
    """
    try:
        size = path.stat().st_size
        if size > MAX_MARKDOWN_BYTES:
            raise UsageError(
                f"the report is {size / (1 << 20):.1f} MiB; GitHub takes at most 1 MiB in a job summary "
                "and 65,536 characters in a comment: post a shorter report",
                file=path,
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read report: {exc.strerror or exc}", file=path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(utf8_error_message(exc), file=path, line=utf8_error_line(exc)) from None


def append_step_summary(markdown: str, env: dict[str, str] | None = None) -> Path:
    """Append the report to the job summary file GitHub Actions shows on the run page."""
    env = dict(os.environ) if env is None else env
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        raise UsageError("--summary needs GITHUB_STEP_SUMMARY (set by GitHub Actions)")
    path = Path(target)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(redact(markdown.replace(MARKER, "").lstrip()) + "\n")
    return path


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_lines(data: ReportData, limit: int = 50, prefix: str = "") -> list[str]:
    """Workflow commands that put each finding on its file and line in the pull request's diff.

    Lint errors and what the change introduced (regressions, new failing cases; failing cases of a plain
    test run) are ``::error``; cases already failing on the base and lint warnings are ``::warning``.
    ``prefix`` is the project's folder within the repository (GitHub wants repository paths).
    """
    files: dict[str, str] = {s.name: s.file for s in data.meta.suites} if data.meta else {}
    if data.drift is not None:
        files |= {s.suite: s.file for s in data.drift.suites if s.file}

    def where(file: str | None) -> str | None:
        return f"{prefix}{file}" if file else None

    lines: list[str] = []
    if data.lint is not None:
        for finding in data.lint.findings:
            lines.append(
                _command(finding.level, where(finding.file), finding.line, "promptops lint", finding.message)
            )
    if data.drift is not None:
        for case in data.drift.cases:
            if not (case.introduced or case.already_failing):
                continue
            side = case.candidate
            reasons = "; ".join(f"{o.type}: {o.reason}" for o in (side.failed_assertions if side else []))
            if side is not None and side.error is not None:
                reasons = reasons or f"{side.error.type}: {side.error.message}"
            if case.introduced:
                kind = "regression" if case.status == "regression" else "new case fails"
                title = f"promptops {kind}: {case.suite}::{case.case} [{case.candidate_model}]"
                lines.append(
                    _command("error", where(files.get(case.suite)), case.line, title, reasons or kind)
                )
            else:
                name = f"{case.suite}::{case.case} [{case.candidate_model}]"
                title = f"promptops already failing on the base: {name}"
                lines.append(_command("warning", where(files.get(case.suite)), case.line, title, reasons))
    elif data.summary is not None:
        for verdict in data.summary.cases:
            if verdict.status != "failed":
                continue
            reasons = "; ".join(f"{o.type}: {o.reason}" for o in verdict.failed_assertions)
            title = f"promptops {verdict.suite}::{verdict.case} [{verdict.model}]"
            lines.append(
                _command("error", where(files.get(verdict.suite)), verdict.line, title, reasons or "failed")
            )
    # errors first: GitHub shows a limited number of annotations per step
    lines.sort(key=lambda line: not line.startswith("::error"))
    return lines[:limit]


def _command(level: str, file: str | None, line: int | None, title: str, message: str) -> str:
    props = [f"file={_escape_property(file)}"] if file else []
    if file and line:
        props.append(f"line={line}")
    props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message or title)}"


def source_url_from_env(env: dict[str, str] | None = None, prefix: str = "") -> str | None:
    """``https://github.com/OWNER/REPO/blob/HEAD_SHA/PREFIX``: the pull request's head, where cases link to.

    The head commit comes from the pull-request event (``GITHUB_SHA`` of a pull-request run is a merge
    commit that the pull request's page does not show); None outside GitHub Actions.
    """
    env = dict(os.environ) if env is None else env
    repository = env.get("GITHUB_REPOSITORY")
    if not repository:
        return None
    sha = None
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).is_file():
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            event = {}
        head = (event.get("pull_request") or {}).get("head") or {}
        sha = head.get("sha") if isinstance(head, dict) else None
    sha = sha or env.get("GITHUB_SHA")
    if not sha:
        return None
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    return f"{server}/{repository}/blob/{sha}/{prefix}"


def repository_prefix(root: Path) -> str:
    """The project's folder inside its git repository (``""`` at the top, or outside a repository)."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return ""
    top = Path(repo.working_tree_dir or root).resolve()
    relative = root.resolve().relative_to(top).as_posix()
    return "" if relative == "." else relative + "/"


def comment_report(
    source: str | None,
    lint_file: str | None,
    artifact_url: str | None = None,
    artifact_hint: str | None = None,
    source_url: str | None = None,
) -> tuple[ReportData, str, str]:
    """What ``github comment`` posts: (report data, Markdown body, the project's folder in the repository).

    ``source`` is a saved run, a JSON report or a Markdown file; None means the latest run, or, with a
    lint report, no test verdict at all (the test step stopped before writing one).
    """
    from promptops.config import find_project_root, load_project
    from promptops.lint import load_lint_report
    from promptops.report_data import load_report_data
    from promptops.reports.markdown import render_markdown

    root = find_project_root()
    prefix = repository_prefix(root) if root is not None else ""
    lint = load_lint_report(Path(lint_file)) if lint_file else None
    if source is not None and source.endswith(".md") and os.path.isfile(source):
        return ReportData(lint=lint), read_markdown(Path(source)), prefix
    project = load_project() if root is not None else None
    if source is None and lint is not None:
        data = ReportData()
    else:
        data = load_report_data(project, source or "latest")
    data.lint = lint
    data.artifact_url = artifact_url
    data.artifact_hint = artifact_hint
    data.source_url = source_url or source_url_from_env(prefix=prefix)
    return data, render_markdown(data), prefix


from promptops.reports.markdown import WATCH_MARKER  # noqa: E402  (hidden in the one watch issue's body)


def find_issue(repo: Repository, marker: str = WATCH_MARKER) -> dict[str, Any] | None:
    """The issue (open first, else the most recently closed) whose body carries ``marker``."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        issues = _request(repo, "GET", f"/repos/{repo.repository}/issues?state=all&per_page=100&page={page}")
        if not issues:
            break
        found += [i for i in issues if "pull_request" not in i and marker in (i.get("body") or "")]
        if len(issues) < 100:
            break
        page += 1
    found.sort(key=lambda i: (i.get("state") == "open", int(i["number"])), reverse=True)
    return found[0] if found else None


def upsert_issue(repo: Repository, title: str, body: str, marker: str = WATCH_MARKER) -> tuple[str, int]:
    """Open the marked issue, or update (and reopen) it; returns (action, issue number)."""
    body = redact(body)
    if marker not in body:
        body = f"{marker}\n{body}"
    existing = find_issue(repo, marker)
    if existing is None:
        created = _request(repo, "POST", f"/repos/{repo.repository}/issues", {"title": title, "body": body})
        return "opened", int(created["number"])
    number = int(existing["number"])
    update: dict[str, Any] = {"title": title, "body": body}
    action = "updated"
    if existing.get("state") != "open":
        update["state"] = "open"
        action = "reopened"
    _request(repo, "PATCH", f"/repos/{repo.repository}/issues/{number}", update)
    return action, number


def close_issue(repo: Repository, note: str, marker: str = WATCH_MARKER) -> int | None:
    """Close the open marked issue with a comment saying why; None when there is none open."""
    existing = find_issue(repo, marker)
    if existing is None or existing.get("state") != "open":
        return None
    number = int(existing["number"])
    _request(repo, "POST", f"/repos/{repo.repository}/issues/{number}/comments", {"body": note})
    _request(
        repo,
        "PATCH",
        f"/repos/{repo.repository}/issues/{number}",
        {"state": "closed", "state_reason": "completed"},
    )
    return number


def sync_watch_issue(repo: Repository, report: WatchReport, body: str) -> tuple[str, int | None]:
    """Open or update the watch issue when an alias changed; close it when nothing did.

    Returns (action, issue number): ``opened``, ``updated``, ``reopened``, ``closed`` or ``none``.
    """
    if report.changed:
        aliases = ", ".join(a.alias for a in report.changed)
        return upsert_issue(repo, f"promptops watch: model drift on {aliases}", body)
    number = close_issue(repo, body.replace(WATCH_MARKER, "").lstrip())
    return ("closed", number) if number is not None else ("none", None)
