"""``javascript`` assertions: promptfoo's JavaScript checks, run by Node.js.

So that suites imported from promptfoo keep their custom checks, a
``javascript`` assertion runs its code the way promptfoo does: ``output`` (the
model's text) and ``context`` (``{vars}``) are in scope; one line is an
expression (``output.includes('refund')``), several lines are a function body
with ``return``. It may return a boolean, a number (a score that passes at
``threshold``, or above 0 without one) or ``{pass, score, reason}``.

The code runs in one long-lived ``node`` process per promptops process, each
assertion in a fresh V8 context without ``require`` or ``process`` and with a
time limit (``timeout_s``, default 5 s). Node.js must be on PATH; without it
the assertion fails with a reason that says so.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from promptops.assertions.base import AssertionContext, AssertionResult, AssertionSpec, register_assertion

WORKER = Path(__file__).with_name("javascript_worker.js")
DEFAULT_TIMEOUT_S = 5.0
_MAX_ANSWER_BYTES = 1_000_000


class _NodeWorker:
    """One ``node`` process answering one request at a time, restarted after a fault or overrun."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.next_id = 0
        self.pending = b""

    def _start(self, node: str) -> subprocess.Popen[bytes]:
        self.pending = b""
        self.proc = subprocess.Popen(  # noqa: S603  (a fixed script of ours, no shell)
            [node, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        return self.proc

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def call(self, node: str, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        with self.lock:
            proc = self.proc if self.proc is not None and self.proc.poll() is None else self._start(node)
            self.next_id += 1
            request = {**request, "id": self.next_id}
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self.stop()
                return {"error": "the Node.js worker stopped"}
            deadline = time.monotonic() + timeout_s + 1.0
            fd = proc.stdout.fileno()
            while b"\n" not in self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    return {"error": f"took longer than {timeout_s:g} s"}
                ready, _, _ = select.select([fd], [], [], left)
                if not ready:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.stop()
                    return {"error": "the Node.js worker stopped"}
                self.pending += chunk
                if len(self.pending) > _MAX_ANSWER_BYTES:
                    self.stop()
                    return {"error": "the answer was too large"}
            line, _, self.pending = self.pending.partition(b"\n")
            try:
                answer: dict[str, Any] = json.loads(line)
            except ValueError:
                self.stop()
                return {"error": "the Node.js worker answered garbage"}
            if answer.get("id") != request["id"]:
                self.stop()
                return {"error": "the Node.js worker lost track of a request"}
            return answer


_WORKER = _NodeWorker()
atexit.register(_WORKER.stop)


def _check_javascript(spec: AssertionSpec) -> None:
    if not isinstance(spec.value, str) or not spec.value.strip():
        raise ValueError("javascript: needs the code as value, e.g. \"output.includes('refund')\"")
    if spec.value.strip().startswith("file://"):
        raise ValueError("javascript: file:// modules are not supported; write the check inline")
    if spec.threshold is not None and not 0 <= spec.threshold <= 1:
        raise ValueError(f"javascript: threshold must be between 0 and 1, got {spec.threshold:g}")


def _safe_vars(variables: dict[str, Any]) -> Any:
    try:
        return json.loads(json.dumps(variables, default=str))
    except (TypeError, ValueError):
        return {}


@register_assertion("javascript", check=_check_javascript)
def javascript(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """promptfoo-style JavaScript run by Node.js: returns a boolean, a score or {pass, score, reason}."""
    node = shutil.which("node")
    if node is None:
        return AssertionResult(
            False, 0.0, "javascript assertions need Node.js: install node and put it on PATH"
        )
    request = {
        "code": spec.value,
        "output": output,
        "vars": _safe_vars(ctx.vars),
        "timeout_ms": int(DEFAULT_TIMEOUT_S * 1000),
    }
    answer = _WORKER.call(node, request, DEFAULT_TIMEOUT_S)
    if "error" in answer:
        return AssertionResult(False, 0.0, f"javascript error: {str(answer['error'])[:300]}")
    kind = answer.get("kind")
    if kind == "boolean":
        passed = bool(answer["value"])
        return AssertionResult(passed, 1.0 if passed else 0.0, f"returned {str(passed).lower()}")
    if kind == "number":
        score = float(answer["value"])
        passed = score >= spec.threshold if spec.threshold is not None else score > 0
        bound = f">= {spec.threshold:g}" if spec.threshold is not None else "> 0"
        return AssertionResult(passed, score, f"score {score:g} (passes {bound})")
    score = float(answer.get("score", 0.0))
    pass_value = answer.get("pass")
    if pass_value is None:
        passed = score >= spec.threshold if spec.threshold is not None else score > 0
    else:
        passed = bool(pass_value)
    reason = answer.get("reason") or f"returned pass={str(passed).lower()}, score {score:g}"
    return AssertionResult(passed, score, str(reason)[:300])
