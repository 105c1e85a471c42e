"""Seeded mutation fuzzing of every file promptops loads.

Shared by ``tests/test_fuzz_loaders.py`` (a few hundred mutants per kind, on every
CI run) and ``benchmarks/fuzz_loaders.py`` (as many as you like). A seed project is
built once through the real commands (``record`` against the fake OpenAI server,
``test --replay``, ``compare``), so every input starts out valid and realistic. Each
mutant replaces one file, runs the commands that load it through the CLI in this
process, and is put back. Anything but exit 0-3 (a clean message) is a traceback; a
run over the per-input time bound is a hang; memory is bounded by ``RLIMIT_AS``, so
a blow-up shows as ``MemoryError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import FAKE_KEY_ENV, TONE_PARTIAL, TRIAGE_PROMPT

CONFIG = """\
version: 1
models:
  fake: {{model: openai/fake-model, api_base: "{api_base}", api_key_env: {key_env}}}
  other: {{model: openai/other-model, api_base: "{api_base}", api_key_env: {key_env}}}
defaults:
  model: fake
  params: {{temperature: 0, max_tokens: 64}}
run: {{concurrency: 2, timeout_s: 2.0, retries: 0, backoff_s: 0.01, backoff_max_s: 0.1}}
constraints: {{data_privacy: external-ok, deployment: cloud, latency_p95_ms: 2000}}
escalation: {{rules: rules.yaml}}
"""

SUITE = """\
prompt: support/triage
description: Triage labels
models: [fake]
defaults:
  vars: {labels: [refund, bug, question]}
cases:
  - id: refund-basic
    vars: {ticket: "I was charged twice, please give my money back"}
    gap: skill
    assert:
      - {type: equals, value: refund}
  - id: crash
    vars: {ticket: "The app crashes when I open settings"}
    assert:
      - {type: icontains, value: crashes, gap: behavior}
      - {type: regex, value: "^The"}
  - id: json
    vars: {ticket: "Return JSON"}
    threshold: 1.0
    assert:
      - {type: is-json}
      - {type: json-match, value: {category: refund}, ignore_order: true}
"""

EXTRA_SUITE = """\
prompt: support/triage
description: Cases kept in data files
models: [fake]
cases: [file://extra.csv, file://extra.jsonl]
"""

EXTRA_CSV = """\
__id,ticket,__expected,__description
csv-refund,I want my money back,icontains: refund,a refund request
csv-bug,"The app crashes, again",contains-any:crash,bug
"""

EXTRA_JSONL = """\
{"id": "jsonl-one", "vars": {"ticket": "Where is my bill?"}, "assert": [{"type": "contains", "value": "x"}]}
{"id": "jsonl-two", "vars": {"ticket": "Cancel my plan"}, "gap": "skill", "assert": [{"type": "is-json"}]}
"""

RULES = """\
version: 1
disable: []
rules:
  - id: project-skill-examples
    description: Failing labels in a project rule
    when: {gap: skill, min_cases: 1}
    then:
      technique: prompt-engineering
      confidence: medium
      weighs: [update_frequency]
      rationale: "{n_cases} of {n_total} cases of {prompt} on {model} fail ({share}); cases: {case_ids}"
      next_steps: ["Add examples for {case_ids}", "Re-run {suites}"]
"""


@dataclass(frozen=True)
class Kind:
    """One kind of input: the file a mutant replaces, and the commands that load it."""

    name: str
    path: str
    """Relative to the project root."""
    syntax: str
    """yaml, json, jsonl, markdown, jinja or sqlite: picks the structural mutations."""
    commands: tuple[tuple[str, ...], ...]
    """Mutant i runs commands[i % len(commands)]."""


@dataclass
class Outcome:
    kind: str
    mutation: str
    command: tuple[str, ...]
    exit_code: int | None
    seconds: float
    cpu_seconds: float = 0.0
    problem: str | None = None
    """None (clean), or 'traceback: <type> at <where>', 'hang', 'unnamed file'."""
    message: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def tracebacks(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem and not o.problem.startswith("unnamed")]

    @property
    def unnamed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem and o.problem.startswith("unnamed")]

    def distinct(self) -> Counter[str]:
        return Counter(f"{o.kind}: {o.problem}" for o in self.tracebacks)


class Hang(BaseException):
    """Raised by the per-input timer; a BaseException so no ``except Exception`` swallows it."""


# --- the seed project ------------------------------------------------------------------------


def invoke(args: list[str] | tuple[str, ...], env: dict[str, str] | None = None) -> Any:
    from promptops.cli import cli

    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)


def build_seed_project(root: Path, api_base: str) -> list[Kind]:
    """Write the seed project into ``root`` (the working directory) and make its run records.

    ``FAKE_KEY_ENV`` must be set. Returns the kinds of input, each pointing at a file
    of this project.
    """
    files = {
        "promptops.yaml": CONFIG.format(api_base=api_base, key_env=FAKE_KEY_ENV),
        "prompts/support/triage.j2": TRIAGE_PROMPT,
        "prompts/_partials/tone.j2": TONE_PARTIAL,
        "suites/triage.yaml": SUITE,
        "rules.yaml": RULES,
        "suites/extra.yaml": EXTRA_SUITE,
        "suites/extra.csv": EXTRA_CSV,
        "suites/extra.jsonl": EXTRA_JSONL,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    steps = [
        ["record", "-m", "fake", "-m", "other"],
        ["golden", "update", "-m", "fake"],
        ["test", "--replay", "-m", "other"],
        ["test", "--replay", "--format", "json", "-o", "report.json"],
        ["compare", "latest~", "latest", "--format", "json", "-o", "drift.json"],
        ["report", "latest", "--format", "markdown", "-o", "report.md"],
        ["lint", "--format", "json", "-o", "lint.json"],
    ]
    runs = root / ".promptops" / "runs"
    for step in steps:
        if step[0] == "compare":
            first, second = sorted(p.name for p in runs.iterdir())[-2:]
            step = ["compare", first, second, *step[3:]]
        result = invoke(step)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise RuntimeError(f"seed step {step} failed: {result.output}") from result.exception
        if result.exit_code not in (0, 1):
            raise RuntimeError(f"seed step {step} exited {result.exit_code}: {result.output}")
    run = sorted(p.name for p in runs.iterdir())[-1]
    record = f".promptops/runs/{run}"
    lint = ("lint",)
    replay = ("test", "--replay", "--format", "json")
    return [
        Kind("config", "promptops.yaml", "yaml", (lint, ("escalate", run))),
        Kind("suite", "suites/triage.yaml", "yaml", (lint, replay)),
        Kind(
            "prompt",
            "prompts/support/triage.j2",
            "jinja",
            (lint, ("render", "support/triage", "--var", "ticket=x")),
        ),
        Kind("partial", "prompts/_partials/tone.j2", "jinja", (lint,)),
        Kind("golden", "suites/triage.golden.yaml", "yaml", (lint, replay)),
        Kind("case-csv", "suites/extra.csv", "csv", (lint, replay)),
        Kind("case-jsonl", "suites/extra.jsonl", "jsonl", (lint, replay)),
        Kind("recording", "suites/triage.recording.yaml", "yaml", (replay,)),
        Kind("rules", "rules.yaml", "yaml", (("escalate", run), ("report", run))),
        Kind(
            "results",
            f"{record}/results.jsonl",
            "jsonl",
            (("report", run), ("escalate", run), ("merge", run, run)),
        ),
        Kind("meta", f"{record}/meta.json", "json", (("report", run), ("compare", run, run), ("escalate",))),
        Kind(
            "summary",
            f"{record}/summary.json",
            "json",
            (("report", run), ("escalate", run), ("compare", run, run)),
        ),
        Kind("json-report", "report.json", "json", (("report", "report.json"), ("escalate", "report.json"))),
        Kind("drift-report", "drift.json", "json", (("report", "drift.json"), ("escalate", "drift.json"))),
        Kind(
            "markdown",
            "report.md",
            "markdown",
            (("github", "comment", "report.md", "--no-comment", "--summary"),),
        ),
        Kind(
            "lint-report",
            "lint.json",
            "json",
            (("github", "comment", "--lint", "lint.json", "--no-comment"),),
        ),
        Kind("cache", ".promptops/cache.sqlite3", "sqlite", (replay, ("cache", "stats"))),
    ]


# --- mutations ---------------------------------------------------------------------------------

LONG_NAME = "n" * 300
NON_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80", b"\xf8\x88\x80\x80\x80"]
FORMAT_STRINGS = [
    "{",
    "}",
    "{n_cases:s}",
    "{n_cases:1000000000}",
    "{0}",
    "{n_cases.__class__}",
    "{case_ids[0]}",
    "{n_cases!r:>999999999}",
    "{{{{",
    "{:}",
    "{prompt:%Y}",
    "{share:,.999999999f}",
]
YAML_TOKENS = [
    ": ",
    "- ",
    "[",
    "{",
    "]",
    "}",
    "&a ",
    "*a",
    "!!python/object:os.system ",
    "!!binary ",
    "<<: *a",
    "? ",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "'",
    '"',
    "#",
    "\t",
    "!!float ",
    "!!int ",
    "!!timestamp ",
    "!!set ",
    "!!omap ",
    "~",
    "\x00",
    "\x1b[31m",
]
JSON_TOKENS = [
    '"',
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "1e999",
    "-0",
    "NaN",
    "Infinity",
    "\\u0000",
    "\\ud800",
    '"\\',
    "\x00",
]
SCALARS_YAML = [
    "null",
    "[]",
    "{}",
    "''",
    "-1",
    "0",
    "1e309",
    ".nan",
    "true",
    "'\\x00'",
    "../../etc/passwd",
    "/etc/passwd",
    LONG_NAME,
    "1" * 5000,
    "2024-13-45",
    "0x" + "f" * 40,
    "&x [*x]",
    "!!python/name:os.system",
    "{type: nope}",
    "[1, [2, [3]]]",
    "-" * 50,
]
SCALARS_JSON = [
    "null",
    "[]",
    "{}",
    '""',
    "-1",
    "0",
    "1e309",
    "true",
    '"' + LONG_NAME + '"',
    "1" * 5000,
    '"\\ud800"',
    '"\\u0000"',
    '{"extra": 1}',
    "[" * 100 + "]" * 100,
    "-1e400",
    "1.5",
]


def _yaml_bomb(depth: int = 9, width: int = 9) -> str:
    lines = ['x0: &x0 ["lol"' + ', "lol"' * (width - 1) + "]"]
    for level in range(1, depth):
        lines.append(f"x{level}: &x{level} [" + ", ".join([f"*x{level - 1}"] * width) + "]")
    return "\n".join(lines)


def _positions(data: bytes, pattern: bytes) -> list[int]:
    found, start = [], 0
    while (index := data.find(pattern, start)) != -1 and len(found) < 200:
        found.append(index)
        start = index + 1
    return found


def _replace_value(rng: random.Random, data: bytes, values: list[str], sep: bytes) -> bytes:
    """Replace the text after a random ``key<sep>`` up to the end of the line or the next , } ]."""
    spots = _positions(data, sep)
    if not spots:
        return data + values[0].encode()
    start = rng.choice(spots) + len(sep)
    end = start
    while end < len(data) and data[end : end + 1] not in (b"\n", b",", b"}", b"]"):
        end += 1
    return data[:start] + rng.choice(values).encode() + data[end:]


def _mutators(syntax: str) -> dict[str, Callable[[random.Random, bytes], bytes]]:
    def flip(rng: random.Random, data: bytes) -> bytes:
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            if out:
                out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)

    def truncate(rng: random.Random, data: bytes) -> bytes:
        return data[: rng.randrange(len(data) + 1)]

    def non_utf8(rng: random.Random, data: bytes) -> bytes:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice(NON_UTF8) + data[at:]

    def delete_lines(rng: random.Random, data: bytes) -> bytes:
        lines = data.split(b"\n")
        start = rng.randrange(len(lines))
        del lines[start : start + rng.randint(1, 3)]
        return b"\n".join(lines)

    def duplicate_line(rng: random.Random, data: bytes) -> bytes:
        lines = data.split(b"\n")
        at = rng.randrange(len(lines))
        lines.insert(at, lines[rng.randrange(len(lines))])
        return b"\n".join(lines)

    def empty(rng: random.Random, data: bytes) -> bytes:
        return rng.choice([b"", b"\n", b" ", b"\xef\xbb\xbf", b"\x00" * 16])

    common = {
        "flip": flip,
        "truncate": truncate,
        "non-utf8": non_utf8,
        "delete-lines": delete_lines,
        "duplicate-line": duplicate_line,
        "empty": empty,
    }
    if syntax == "sqlite":
        return {
            "flip": flip,
            "truncate": truncate,
            "junk": lambda rng, data: bytes(rng.randrange(256) for _ in range(rng.choice([16, 100, 4096]))),
            "header-flip": lambda rng, data: flip(rng, data[:100]) + data[100:],
            "empty": lambda rng, data: b"",
        }
    if syntax in ("json", "jsonl"):

        def json_token(rng: random.Random, data: bytes) -> bytes:
            at = rng.randrange(len(data) + 1)
            return data[:at] + rng.choice(JSON_TOKENS).encode() + data[at:]

        def json_value(rng: random.Random, data: bytes) -> bytes:
            return _replace_value(rng, data, SCALARS_JSON, b'": ' if syntax == "json" else b'":')

        def deep(rng: random.Random, data: bytes) -> bytes:
            depth = rng.choice([1000, 100_000])
            return _replace_value(
                rng, data, ["[" * depth + "]" * depth], b'": ' if syntax == "json" else b'":'
            )

        def huge_int(rng: random.Random, data: bytes) -> bytes:
            return _replace_value(
                rng, data, ["9" * 5000, "-" + "1" * 4400], b'": ' if syntax == "json" else b'":'
            )

        def extra_key(rng: random.Random, data: bytes) -> bytes:
            spots = _positions(data, b"{")
            at = (rng.choice(spots) + 1) if spots else 0
            return data[:at] + b'"surprise": 1, ' + data[at:]

        def long_string(rng: random.Random, data: bytes) -> bytes:
            return _replace_value(rng, data, ['"' + LONG_NAME + '"', '"' + "x" * 200_000 + '"'], b'": ')

        extra: dict[str, Callable[[random.Random, bytes], bytes]] = {
            "json-token": json_token,
            "json-value": json_value,
            "deep-nesting": deep,
            "huge-int": huge_int,
            "extra-key": extra_key,
            "long-string": long_string,
        }
        if syntax == "jsonl":
            extra["torn-line"] = lambda rng, data: data + data.split(b"\n")[0][: rng.randrange(1, 60)]
        return {**common, **extra}
    if syntax == "csv":

        def csv_token(rng: random.Random, data: bytes) -> bytes:
            at = rng.randrange(len(data) + 1)
            token = rng.choice(['"', ",", "\r", "\n", '""', "__expected", "__metadata:x[]", "\\,", "\x00"])
            return data[:at] + token.encode() + data[at:]

        def csv_cell(rng: random.Random, data: bytes) -> bytes:
            value = rng.choice(
                ["9" * 5000, LONG_NAME, "similar(9e999):x", "regex:(a+)+$", "{{ x }}", '"' * 7]
            )
            return _replace_value(rng, data, [value], b",")

        return {
            **common,
            "csv-token": csv_token,
            "csv-cell": csv_cell,
            "huge-field": lambda rng, data: (
                data + b"big," + b"y" * rng.choice([200_000, 2_000_000]) + b",equals:x,\n"
            ),
        }
    if syntax == "markdown":
        return {
            **common,
            "huge": lambda rng, data: data * rng.choice([50, 2000]),
            "nul": lambda rng, data: data.replace(b"|", b"\x00", 3),
        }
    # yaml and jinja (front matter is YAML too)

    def yaml_token(rng: random.Random, data: bytes) -> bytes:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice(YAML_TOKENS).encode() + data[at:]

    def yaml_value(rng: random.Random, data: bytes) -> bytes:
        return _replace_value(rng, data, SCALARS_YAML, b": ")

    def deep(rng: random.Random, data: bytes) -> bytes:
        depth = rng.choice([600, 100_000])
        if rng.random() < 0.5:
            nested = "[" * depth + "]" * depth
        else:
            depth = 600
            nested = (
                "\n" + "".join(" " * (i + 4) + f"k{i}:\n" for i in range(depth)) + " " * (depth + 4) + "v"
            )
        return _replace_value(rng, data, [nested], b": ")

    def bomb(rng: random.Random, data: bytes) -> bytes:
        text = data.decode("utf-8", "replace")
        if text.startswith("---\n"):  # front matter: the bomb goes inside it
            return ("---\n" + _yaml_bomb() + "\n" + text[4:]).encode()
        spot = rng.choice(["params", "vars", "value", "models", "rules", "recordings", "goldens"])
        replaced = _replace_value(rng, data, ["*x8"], f"{spot}: ".encode())
        return (_yaml_bomb() + "\n").encode() + replaced

    def huge_int(rng: random.Random, data: bytes) -> bytes:
        return _replace_value(rng, data, ["9" * 5000], b": ")

    def long_name(rng: random.Random, data: bytes) -> bytes:
        for key in (b"prompt: ", b"id: ", b"model: ", b"rules: ", b"suites: ", b"prompts: "):
            if key in data and rng.random() < 0.5:
                return _replace_value(rng, data, [LONG_NAME, LONG_NAME + "/" + LONG_NAME], key)
        return _replace_value(rng, data, [LONG_NAME], b": ")

    def format_string(rng: random.Random, data: bytes) -> bytes:
        value = json.dumps(rng.choice(FORMAT_STRINGS))
        key = rng.choice([b"rationale: ", b"description: ", b"value: ", b"id: "])
        if rng.random() < 0.3:
            return data.replace(b"- Add examples for", f"- {value[1:-1]} for".encode(), 1)
        return _replace_value(rng, data, [value], key)

    yaml_extra = {
        "yaml-token": yaml_token,
        "yaml-value": yaml_value,
        "deep-nesting": deep,
        "alias-bomb": bomb,
        "huge-int": huge_int,
        "long-name": long_name,
        "format-string": format_string,
    }
    if syntax == "jinja":

        def jinja_token(rng: random.Random, data: bytes) -> bytes:
            at = rng.randrange(len(data) + 1)
            token = rng.choice(
                [
                    "{{",
                    "}}",
                    "{%",
                    "%}",
                    "{#",
                    '{% include "' + LONG_NAME + '" %}',
                    "{% endrole %}",
                    '{% role "x" %}',
                    "{{ labels[0] }}",
                    "---\n",
                ]
            )
            return data[:at] + token.encode() + data[at:]

        yaml_extra["jinja-token"] = jinja_token
    return {**common, **yaml_extra}


def mutants(kind: Kind, data: bytes, count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` (mutation name, bytes) pairs, the same for the same seed."""
    rng = random.Random(f"{seed}:{kind.name}")
    table = _mutators(kind.syntax)
    names = sorted(table)
    for index in range(count):
        # every mutation kind early, then a random mix (twice as many flips as anything else)
        name = names[index] if index < len(names) else rng.choice([*names, "flip"])
        yield name, table[name](rng, data)


# --- running -----------------------------------------------------------------------------------


@contextlib.contextmanager
def memory_bound(extra_bytes: int) -> Iterator[None]:
    """Cap this process's address space at its current size plus ``extra_bytes``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as handle:
        current = int(handle.read().split()[0]) * resource.getpagesize()
    limit = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise ``Hang`` once this process has spent ``seconds`` of CPU time.

    CPU time rather than wall time: a busy shared machine does not make an input
    look hung, and the wall-clock timer stays free for pytest-timeout.
    """

    def expire(signum: int, frame: object) -> None:
        raise Hang

    previous = signal.signal(signal.SIGVTALRM, expire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def _where(exc: BaseException) -> str:
    """The innermost frame in promptops (else the innermost frame) of ``exc``'s traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [
        f for f in frames if "/promptops/" in f.filename.replace(os.sep, "/") and "/tests/" not in f.filename
    ]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return "?"
    return f"{Path(frame.filename).name}:{frame.name}"


def _classify(result: Any, kind: Kind) -> tuple[str | None, str]:
    from promptops.errors import PromptOpsError

    exc = result.exception
    output = (result.output or "").strip()
    if exc is None or isinstance(exc, SystemExit):
        code = result.exit_code
        if code in (0, 1, 2, 3):
            return None, output[-300:]
        return f"exit {code}", output[-300:]
    if isinstance(exc, Hang):
        return "hang", ""
    if isinstance(exc, PromptOpsError) and exc.exit_code in (2, 3):
        message = str(exc)
        if "\n" in message:
            return "multi-line message", message[:300]
        if exc.exit_code == 2 and Path(kind.path).name not in message and not _names_other_input(message):
            return "unnamed file", message[:300]
        return None, message[:300]
    return f"traceback: {type(exc).__name__} at {_where(exc)}", f"{type(exc).__name__}: {str(exc)[:300]}"


def _exit_code(result: Any) -> int | None:
    """The code the command exits with outside PROMPTOPS_DEBUG=1 (which re-raises clean errors)."""
    from promptops.errors import PromptOpsError

    if isinstance(result.exception, PromptOpsError):
        return result.exception.exit_code
    if result.exception is None or isinstance(result.exception, SystemExit):
        return int(result.exit_code)
    return None


def _names_other_input(message: str) -> bool:
    """A mutant can make another file the culprit (a suite naming a prompt that is not there)."""
    return any(part in message for part in ("promptops.yaml", ".yaml", ".j2", ".json", ".md", "--", "run"))


def run_mutant(root: Path, kind: Kind, mutation: str, data: bytes, index: int, time_limit: float) -> Outcome:
    target = root / kind.path
    original = target.read_bytes()
    runs = root / ".promptops" / "runs"
    before = {p.name for p in runs.iterdir()} if runs.is_dir() else set()
    state = root / ".promptops"
    before_state = {p.name for p in state.iterdir()}
    command = kind.commands[index % len(kind.commands)]
    env = {"PROMPTOPS_DEBUG": "1", "GITHUB_STEP_SUMMARY": str(root / "step-summary.md"), "CI": "1"}
    try:
        target.write_bytes(data)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            with time_bound(time_limit):
                result = invoke(command, env=env)
        except Hang:  # raised outside the CLI's own handling
            return Outcome(kind.name, mutation, command, None, time.perf_counter() - started, problem="hang")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        problem, message = _classify(result, kind)
        if problem is None and seconds > 3 * time_limit:  # waiting, not computing (a lock, a sleep)
            problem = "hang"
        return Outcome(kind.name, mutation, command, _exit_code(result), seconds, cpu, problem, message)
    finally:
        target.write_bytes(original)
        for name in ({p.name for p in runs.iterdir()} if runs.is_dir() else set()) - before:
            shutil.rmtree(runs / name, ignore_errors=True)
        if kind.syntax == "sqlite":  # a WAL left by the mutant's run belongs to the mutant
            for suffix in ("-wal", "-shm"):
                Path(str(target) + suffix).unlink(missing_ok=True)
        for name in {p.name for p in state.iterdir()} - before_state:
            path = state / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        (root / "step-summary.md").unlink(missing_ok=True)


def fuzz(
    root: Path,
    kinds: list[Kind],
    per_kind: int,
    seed: int,
    time_limit: float = 5.0,
    memory_bytes: int = 1 << 30,
    only: set[str] | None = None,
) -> Report:
    """Run ``per_kind`` mutants of each kind in ``root`` (the working directory)."""
    report = Report()
    with memory_bound(memory_bytes):
        for kind in kinds:
            if only and kind.name not in only:
                continue
            original = (root / kind.path).read_bytes()
            if kind.syntax == "sqlite":
                _checkpoint(root / kind.path)
                original = (root / kind.path).read_bytes()
            for index, (mutation, data) in enumerate(mutants(kind, original, per_kind, seed)):
                report.outcomes.append(run_mutant(root, kind, mutation, data, index, time_limit))
    return report


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the cache file so the file alone holds every answer."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
