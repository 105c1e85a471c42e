"""A fake GitHub REST API on 127.0.0.1: issue comments (pull-request comment upsert) and issues (watch)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class GitHubState:
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Comment id -> {id, body, issue, user}."""
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Issue number -> {number, title, body, state, state_reason}; pull requests share the numbers."""
    next_issue: int = 100
    next_id: int = 1000
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request."""
    tokens: list[str] = field(default_factory=list)
    refuse_writes: int | None = None
    """Status code to answer POST/PATCH with (e.g. 403 for a fork's read-only token)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, issue: int, body: str, user: str = "someone") -> int:
        with self.lock:
            self.next_id += 1
            self.comments[self.next_id] = {
                "id": self.next_id,
                "body": body,
                "issue": issue,
                "user": {"login": user},
            }
            return self.next_id

    def open_issue(self, title: str, body: str, state: str = "open") -> int:
        with self.lock:
            self.next_issue += 1
            self.issues[self.next_issue] = {
                "number": self.next_issue,
                "title": title,
                "body": body,
                "state": state,
                "state_reason": None,
            }
            return self.next_issue

    def on_issue(self, issue: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == issue]


def _handler(state: GitHubState) -> type[BaseHTTPRequestHandler]:
    list_path = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments(?:\?(.*))?$")
    edit_path = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
    issues_path = re.compile(r"^/repos/([^/]+/[^/]+)/issues(?:\?(.*))?$")
    issue_path = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)$")

    def page_of(items: list[dict[str, Any]], query: str | None) -> list[dict[str, Any]]:
        params = dict(p.split("=", 1) for p in (query or "").split("&") if "=" in p)
        per_page, page = int(params.get("per_page", 30)), int(params.get("page", 1))
        return items[(page - 1) * per_page : page * per_page]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> dict[str, Any] | None:
            with state.lock:
                state.requests.append((self.command, self.path))
                state.tokens.append(self.headers.get("Authorization", ""))
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else None

        def do_GET(self) -> None:
            self._record()
            listing = issues_path.match(self.path)
            if listing:
                params = dict(p.split("=", 1) for p in (listing.group(2) or "").split("&") if "=" in p)
                state_filter = params.get("state", "open")
                # newest first, as GitHub lists them
                found = sorted(state.issues.values(), key=lambda i: -i["number"])
                found = [i for i in found if state_filter == "all" or i["state"] == state_filter]
                self._reply(200, page_of(found, listing.group(2)))
                return
            match = list_path.match(self.path)
            if not match:
                self._reply(404, {"message": "Not Found"})
                return
            query = dict(p.split("=", 1) for p in (match.group(3) or "").split("&") if "=" in p)
            per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
            comments = sorted(state.on_issue(int(match.group(2))), key=lambda c: c["id"])
            self._reply(200, comments[(page - 1) * per_page : page * per_page])

        def do_POST(self) -> None:
            body = self._record() or {}
            match = list_path.match(self.path)
            if state.refuse_writes:
                self._reply(state.refuse_writes, {"message": "Resource not accessible by integration"})
                return
            if issues_path.match(self.path):
                number = state.open_issue(body["title"], body.get("body", ""))
                self._reply(201, state.issues[number])
                return
            if not match:
                self._reply(404, {"message": "Not Found"})
                return
            comment_id = state.add(int(match.group(2)), body["body"], user="github-actions[bot]")
            self._reply(201, state.comments[comment_id])

        def do_PATCH(self) -> None:
            body = self._record() or {}
            match = edit_path.match(self.path)
            if state.refuse_writes:
                self._reply(state.refuse_writes, {"message": "Resource not accessible by integration"})
                return
            issue = issue_path.match(self.path)
            if issue:
                number = int(issue.group(2))
                if number not in state.issues:
                    self._reply(404, {"message": "Not Found"})
                    return
                with state.lock:
                    for key in ("title", "body", "state", "state_reason"):
                        if key in body:
                            state.issues[number][key] = body[key]
                self._reply(200, state.issues[number])
                return
            if not match or int(match.group(2)) not in state.comments:
                self._reply(404, {"message": "Not Found"})
                return
            with state.lock:
                state.comments[int(match.group(2))]["body"] = body["body"]
            self._reply(200, state.comments[int(match.group(2))])

    return Handler


class FakeGitHub:
    def __init__(self) -> None:
        self.state = GitHubState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.httpd.daemon_threads = True
        # a short poll: stopping waits for serve_forever to look (the standard library's 0.5 s per test)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
