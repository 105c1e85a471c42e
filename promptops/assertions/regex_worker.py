"""Regular expressions from suites, matched with a hard deadline.

Python's ``re`` holds the GIL for a whole match, and a pattern with catastrophic
backtracking (``^(a+)+$`` against thirty a's and a ``!``) runs for minutes: in a
thread it would stall the event loop, and the ``regex`` package's own timeout
overshoots by seconds. Patterns therefore run in one small helper process
(``python -I -c``, stdlib only), one match at a time; a match that is not done
within the deadline is abandoned by killing the helper, which is started again
for the next one. A match costs a pipe round trip (tens of microseconds).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO

REGEX_TIMEOUT_S = 1.0
"""Longest one regex assertion may take."""

_SERVE = """
import json, re, sys
for line in sys.stdin:
    request = json.loads(line)
    try:
        match = re.search(request["pattern"], request["text"])
        answer = {"match": None if match is None else match.group(0)}
    except Exception as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\\n")
    sys.stdout.flush()
"""


class RegexTimeout(Exception):
    """A pattern did not finish matching within its deadline."""


@dataclass
class _Helper:
    process: subprocess.Popen[str]
    stdin: IO[str]
    stdout: IO[str]


class RegexWorker:
    """One helper process that runs ``re.search`` calls, killed and restarted on a timeout."""

    def __init__(self) -> None:
        self._helper: _Helper | None = None
        self._lock = threading.Lock()

    def _start(self) -> _Helper:
        process = subprocess.Popen(
            [sys.executable, "-I", "-c", _SERVE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        assert process.stdin is not None and process.stdout is not None
        return _Helper(process, process.stdin, process.stdout)

    def _stop(self) -> None:
        if self._helper is not None:
            self._helper.process.kill()
            self._helper.process.wait()
            self._helper = None

    def search(self, pattern: str, text: str, timeout_s: float = REGEX_TIMEOUT_S) -> str | None:
        """The matched text of ``re.search(pattern, text)``, or None; ``RegexTimeout`` past the deadline."""
        with self._lock:
            if self._helper is None or self._helper.process.poll() is not None:
                self._helper = self._start()
            helper = self._helper
            # ensure_ascii keeps the request one line of ASCII whatever the output holds
            helper.stdin.write(json.dumps({"pattern": pattern, "text": text}) + "\n")
            helper.stdin.flush()
            ready, _, _ = select.select([helper.stdout], [], [], timeout_s)
            if not ready:
                self._stop()
                raise RegexTimeout(f"no result after {timeout_s:g} s")
            line = helper.stdout.readline()
            if not line:
                self._stop()
                raise RegexTimeout("the regex helper process ended")
        answer = json.loads(line)
        if "error" in answer:
            raise ValueError(answer["error"])
        match = answer["match"]
        return match if isinstance(match, str) else None

    def close(self) -> None:
        with self._lock:
            self._stop()


_WORKER: RegexWorker | None = None


def bounded_search(pattern: str, text: str, timeout_s: float = REGEX_TIMEOUT_S) -> str | None:
    """``re.search`` with a hard deadline (the text it matched, or None); raises ``RegexTimeout``."""
    global _WORKER
    if os.name != "posix":  # select() on pipes is POSIX-only: match in process, unbounded
        import re

        found = re.search(pattern, text)
        return None if found is None else found.group(0)
    if _WORKER is None:
        _WORKER = RegexWorker()
    return _WORKER.search(pattern, text, timeout_s)
