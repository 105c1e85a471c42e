"""Run records: what a run planned and what each sample produced.

A run lives in ``.promptops/runs/<run_id>/``: ``meta.json`` (what was run),
``results.jsonl`` (one ``SampleResult`` per line, appended as each call
completes, so memory stays flat and an interrupted run keeps its results) and
``summary.json`` (verdicts, written at the end).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import msgspec
from pydantic import Field, GetCoreSchemaHandler, TypeAdapter, ValidationError, field_validator
from pydantic_core import core_schema

from promptops.assertions import GapType
from promptops.config import display_path
from promptops.errors import UsageError, storage_error
from promptops.locations import describe_json_error, read_json_model
from promptops.redaction import redact
from promptops.strict import StrictModel

SCHEMA_VERSION = 1
CaseStatus = Literal["passed", "failed", "error"]


class ErrorInfo(StrictModel):
    """Why a call produced no output."""

    type: str
    """Exception class, e.g. ``RateLimitError`` or ``Timeout``."""
    message: str
    """One line, with secrets redacted (providers echo keys in errors)."""
    status_code: int | None = None

    @field_validator("message")
    @classmethod
    def _redacted(cls, message: str) -> str:
        # on write and on read: a record written before a key was known is cleaned when shown
        return redact(message)


class JudgeTrace(StrictModel):
    """The model calls behind one graded assertion: which judge, which prompt, what it answered."""

    model: str
    """Alias (or litellm id) of the judge, or of the embedding model for ``similar``."""
    model_id: str
    prompt: str | None = None
    """Judge prompt (built-in ``judges/<type>`` or the project's ``_judges/<type>``); None for embeddings."""
    prompt_version: str | None = None
    prompt_fingerprint: str | None = None
    votes: list[bool | None] = Field(default_factory=list)
    """Each judge call's verdict (``--judge-repeat``); None where the answer was not understood."""
    answers: list[str] = Field(default_factory=list)
    """The judge's raw answers, in call order."""
    keys: list[str] = Field(default_factory=list)
    """Request keys of the calls (judge and embedding), so ``promptops record`` can keep them for replay."""
    provider_calls: int = 0
    """Calls that went to a provider (not answered by the cache or a recording)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    """Cost of the calls, when the provider's price is known."""


class AssertionOutcome(StrictModel):
    type: str
    passed: bool
    score: float
    reason: str
    gap: GapType | None = None
    """The assertion's own gap override, if the suite gave one."""
    error: bool = False
    """No verdict could be reached (judge answer not understood, judge call failed, user code raised)."""
    judge: JudgeTrace | None = None
    """Model-graded and embedding types: the calls behind the verdict."""
    expected: Any = None
    """What the assertion compared the output with (its value, or the accepted output for ``golden``);
    kept on failing assertions only, for diagnosis."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The assertion's other settings (threshold, ignore_order, tolerance, min, max ...), kept on failing
    assertions only, so diagnosis can try the assertion again on a repaired answer."""


class SampleResult(StrictModel):
    """One model call for one case and its assertion verdicts."""

    version: int = SCHEMA_VERSION
    suite: str
    case: str
    model: str
    """Model alias as named in the suite or on the command line."""
    model_id: str
    """litellm model id the alias resolved to."""
    sample: int
    """0-based index among the case's repeats."""
    prompt: str
    prompt_version: str
    prompt_fingerprint: str
    line: int | None = None
    """Line of the case in its suite file."""
    threshold: float = 1.0
    """Pass rate the case needs across its samples."""
    gap: GapType | None = None
    """The case's gap hint."""
    output: str | None = None
    passed: bool | None = None
    """None when the call failed (see ``error``)."""
    score: float | None = None
    """Mean assertion score."""
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    error: ErrorInfo | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int = 1
    cached: bool = False
    """Answered from the response cache or a recording, without a provider call."""
    request_key: str | None = None
    """Hash of the canonical request (the cache and recording key)."""
    judge_calls: int = 0
    """Judge and embedding calls that went to a provider for this sample's assertions."""
    judge_cost_usd: float | None = None
    """Cost of this sample's judge and embedding calls (cached ones included), when known."""
    served_model: str | None = None
    """Model id the provider reported for this answer (``model`` of the response): a provider can serve
    a new snapshot behind the same alias."""
    system_fingerprint: str | None = None
    """The provider's ``system_fingerprint`` of the backend that answered, when it sends one."""
    messages: list[dict[str, str]] | None = None
    """The rendered messages sent, kept on failing samples only: diagnosis checks whether the expected
    content was in the prompt."""
    reference: str | None = None
    """The case's reference answer (from the suite), kept on failing samples only."""

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.suite, self.case, self.model, self.sample)


class SuitePlan(StrictModel):
    name: str
    file: str
    prompt: str
    prompt_version: str
    prompt_fingerprint: str
    models: list[str]
    cases: int
    prompt_source: str | None = None
    """The prompt's text as tested (front matter, body, included partials): for the diff of a prompt
    change and for reading the prompt's shape (examples, structured output)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Call parameters of the prompt and suite (before the model's own)."""
    golden_cases: int = 0
    """Accepted outputs the suite had when the run started."""


class RunMeta(StrictModel):
    """What a run set out to do."""

    version: int = SCHEMA_VERSION
    run_id: str
    started_at: str
    promptops_version: str
    project_root: str
    git_commit: str | None = None
    suites: list[SuitePlan] = Field(default_factory=list)
    models: dict[str, str] = Field(default_factory=dict)
    """Alias -> litellm id."""
    planned_calls: int = 0
    repeat: int | None = None
    concurrency: int = 1
    filter: str | None = None
    model_overrides: list[str] = Field(default_factory=list)
    """``-m`` models that replaced the suites' own."""
    shard: str | None = None
    """``I/N`` when this run is one shard of a split plan."""
    timeout_s: float | None = None
    replay: bool = False
    judge_repeat: int = 1
    """Judge calls per model-graded verdict (``--judge-repeat``)."""
    merged_from: list[str] = Field(default_factory=list)
    """Run ids combined into this one by ``promptops merge``."""
    resumes: int = 0
    """Times the run was resumed. A resume redoes the calls that errored, appending their new
    results, so a resumed run may hold several results for a call (the last one counts)."""


class CaseVerdict(StrictModel):
    """A case's verdict for one model, over its samples."""

    suite: str
    case: str
    model: str
    line: int | None = None
    status: CaseStatus
    samples: int
    passed_samples: int
    errored_samples: int
    pass_rate: float | None
    """Passed share of the samples that produced output; None when all errored."""
    threshold: float
    gap: GapType | None = None
    failed_assertions: list[AssertionOutcome] = Field(default_factory=list)
    """Distinct failing assertions (first sample that failed each)."""
    output_excerpt: str | None = None
    """Output of the first failing sample."""
    error: ErrorInfo | None = None
    duration_ms: float | None = None
    """Summed latency of the samples that produced output (for JUnit test times)."""
    judge_agreement: float | None = None
    """Share of judge votes agreeing with the majority, for the least unanimous graded assertion of the
    case, across samples and ``--judge-repeat`` calls; None with fewer than two votes each."""


class GroupSummary(StrictModel):
    """Totals for one suite and model."""

    suite: str
    model: str
    model_id: str
    cases: int
    passed: int
    failed: int
    errors: int
    pass_rate: float | None
    samples: int
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached_samples: int = 0
    judge_calls: int = 0
    """Judge and embedding calls that went to a provider."""
    judge_cost_usd: float | None = None
    """Cost of all judge and embedding calls, when every price is known."""


_PACKED_FIELDS = (
    "suite",
    "case",
    "model",
    "line",
    "status",
    "samples",
    "passed_samples",
    "errored_samples",
    "pass_rate",
    "threshold",
    "gap",
    "duration_ms",
    "judge_agreement",
)
"""The fields of a verdict with nothing to show beyond its counts, in the order a packed row keeps them."""
_STATUS = _PACKED_FIELDS.index("status")

PackedVerdict = tuple[Any, ...]


class CaseVerdicts(Sequence[CaseVerdict]):
    """A run's case verdicts, in report order.

    A verdict with nothing to show beyond its counts (no failing assertion, output or
    error: a passing case) is kept as a tuple of its fields, about 240 bytes instead of a
    model's 1,500, and becomes a ``CaseVerdict`` when read. At 100,000 cases the summary
    then holds tens of MiB, not hundreds. Serialised and validated as a list of verdicts,
    so summary.json and the JSON report are unchanged.
    """

    __slots__ = ("_rows",)

    def __init__(self, verdicts: Iterable[CaseVerdict | PackedVerdict] = ()) -> None:
        self._rows: list[CaseVerdict | PackedVerdict] = [
            _pack(v) if isinstance(v, CaseVerdict) else v for v in verdicts
        ]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [_unpack(row) for row in self._rows[index]]
        return _unpack(self._rows[index])

    def __iter__(self) -> Iterator[CaseVerdict]:
        return map(_unpack, self._rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CaseVerdicts | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable content, like a list

    def __repr__(self) -> str:
        return f"CaseVerdicts({len(self)} verdicts)"

    def not_passed(self) -> list[CaseVerdict]:
        """The failed and errored verdicts, without unpacking the passing ones."""
        return [
            _unpack(row) for row in self._rows if isinstance(row, CaseVerdict) or row[_STATUS] != "passed"
        ]

    def statuses(self) -> Counter[str]:
        """How many verdicts have each status."""
        return Counter(row.status if isinstance(row, CaseVerdict) else row[_STATUS] for row in self._rows)

    def json_pieces(self, batch: int = 500) -> Iterator[str]:
        """The verdicts as the items of an indented JSON list two levels deep (summary.json's ``cases``),
        a few hundred at a time: pydantic writes each batch, and only a batch is ever unpacked."""
        for start in range(0, len(self._rows), batch):
            verdicts = [_unpack(row) for row in self._rows[start : start + batch]]
            text = _VERDICT_LIST.dump_json(verdicts, indent=2).decode()
            # "[\n  {...},\n  {...}\n]": the items, one level deeper
            yield "  " + text[2:-2].replace("\n", "\n  ")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        items = handler.generate_schema(list[CaseVerdict])

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> CaseVerdicts:
            return value if isinstance(value, CaseVerdicts) else cls(inner(value))

        return core_schema.no_info_wrap_validator_function(
            validate,
            items,
            serialization=core_schema.plain_serializer_function_ser_schema(list, return_schema=items),
        )


_VERDICT_LIST: TypeAdapter[list[CaseVerdict]] = TypeAdapter(list[CaseVerdict])


def _report_order(row: CaseVerdict | PackedVerdict) -> tuple[str, str, int, str]:
    """Verdicts are listed by suite, model, line in the suite file, then case id."""
    if isinstance(row, CaseVerdict):
        return (row.suite, row.model, row.line or 0, row.case)
    return (row[0], row[2], row[3] or 0, row[1])


def _pack(verdict: CaseVerdict) -> CaseVerdict | PackedVerdict:
    if verdict.failed_assertions or verdict.output_excerpt is not None or verdict.error is not None:
        return verdict
    return tuple(getattr(verdict, name) for name in _PACKED_FIELDS)


def _unpack(row: CaseVerdict | PackedVerdict) -> CaseVerdict:
    if isinstance(row, CaseVerdict):
        return row
    return CaseVerdict(**dict(zip(_PACKED_FIELDS, row, strict=True)))


class RunSummary(StrictModel):
    """Verdicts of a finished run; the JSON report."""

    version: int = SCHEMA_VERSION
    run_id: str
    status: CaseStatus
    exit_code: int
    started_at: str
    finished_at: str
    duration_s: float
    planned_calls: int
    completed_calls: int
    groups: list[GroupSummary]
    cases: CaseVerdicts

    @property
    def failures(self) -> list[CaseVerdict]:
        """The failed and errored verdicts."""
        if isinstance(self.cases, CaseVerdicts):
            return self.cases.not_passed()
        return [c for c in self.cases if c.status != "passed"]  # a copy given a plain list

    def status_counts(self) -> Counter[str]:
        """How many cases have each verdict."""
        if isinstance(self.cases, CaseVerdicts):
            return self.cases.statuses()
        return Counter(c.status for c in self.cases)


def summary_json_chunks(
    summary: RunSummary, *, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
) -> Iterator[str]:
    """``summary`` as indented JSON, written a batch of verdicts at a time: a huge run is never one string.

    ``before`` and ``after`` add keys ahead of and behind the summary's own (the JSON report's ``kind``
    and ``escalation``). The text parses to what ``summary.model_dump(mode="json")`` gives.
    """
    head = {**(before or {}), **summary.model_dump(mode="json", exclude={"cases"}), "cases": []}
    text = json.dumps({**head, **(after or {})}, indent=2, ensure_ascii=False)
    # no key before "cases" can hold this text: a string value escapes its quotes
    start, rest = text.split('"cases": []', 1)
    yield start + '"cases": ['
    first = True
    for piece in summary.cases.json_pieces():
        yield ("\n" if first else ",\n") + piece
        first = False
    yield ("]" if first else "\n  ]") + rest


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id() -> str:
    """Sortable by start time to the millisecond (``latest`` relies on it), unique by a random tail."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S") + f"{now.microsecond // 1000:03d}-" + secrets.token_hex(2)


class RunWriter:
    """Appends results to a run folder as they complete.

    A write the disk refuses (full, read-only, no permission) is a ``StorageError``
    naming the file; what was written before stays valid: files are replaced
    atomically and results are appended a whole line at a time (a line torn by a
    full disk is cut on resume, like one torn by a kill).
    """

    def __init__(self, folder: Path, meta: RunMeta) -> None:
        self.folder = folder
        path = folder / "results.jsonl"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _replace_text(folder / "meta.json", meta.model_dump_json(indent=2) + "\n")
            _drop_torn_tail(path)
            self._results: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open while running)
        except OSError as exc:
            where = display_path(Path(exc.filename or folder))
            raise storage_error(exc, where, "write the run record") from None

    def append(self, result: SampleResult) -> None:
        try:
            self._results.write(result.model_dump_json(exclude_defaults=False) + "\n")
            # flushed per line so a killed process keeps every finished result
            self._results.flush()
        except OSError as exc:
            raise storage_error(exc, display_path(self.folder / "results.jsonl"), "append a result") from None

    def finish(self, summary: RunSummary) -> None:
        self.close()
        try:
            _replace_text(self.folder / "summary.json", itertools.chain(summary_json_chunks(summary), "\n"))
        except OSError as exc:
            where = display_path(self.folder / "summary.json")
            raise storage_error(exc, where, "write the summary") from None

    def close(self) -> None:
        if not self._results.closed:
            try:
                self._results.close()
            except OSError:
                pass  # the failed write was reported by append; every complete line is on disk


def _replace_text(path: Path, text: str | Iterable[str]) -> None:
    """Write ``path`` (text, or its pieces) through a temporary file, so a failed write leaves the old
    content intact."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                handle.writelines(text)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by a killed process, so appending stays valid JSONL."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)


@dataclass
class SavedRun:
    folder: Path
    meta: RunMeta

    def results(self) -> Iterator[SampleResult]:
        """The run's results: one per call, the last one written (see ``RunMeta.resumes``)."""
        path = self.folder / "results.jsonl"
        return _last_per_call(path) if self.meta.resumes else read_results(path)

    def rows(self) -> Iterator[SampleRow]:
        """The same results as ``results``, as lean rows (``read_rows``): for folding millions of them."""
        path = self.folder / "results.jsonl"
        return _last_row_per_call(path) if self.meta.resumes else read_rows(path)

    def summary(self) -> RunSummary | None:
        path = self.folder / "summary.json"
        if not path.is_file():
            return None
        return read_json_model(path, RunSummary, file=display_path(path), error=UsageError)


_READ_BUFFER = 1 << 20
"""Bytes read at a time from a run record: iterating lines over the default 8 KiB buffer costs three times
as much (0.3 of the 1.6 µs drift spends on a line)."""


def read_results(path: Path) -> Iterator[SampleResult]:
    """Results of a run; a torn last line (the process was killed mid-write) is skipped.

    Lines are validated as bytes, so a line that is not UTF-8 is reported like any
    other corrupt line, with its number.
    """
    if not path.is_file():
        return
    try:
        with open(path, "rb", buffering=_READ_BUFFER) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield SampleResult.model_validate_json(line)
                except ValidationError as exc:
                    if not line.endswith(b"\n"):
                        return
                    problem = describe_json_error(exc, file=path, error=UsageError, line=number)
                    raise UsageError(
                        f"corrupt run record line: {problem.message}", file=display_path(path), line=number
                    ) from None
    except OSError as exc:
        raise UsageError(f"cannot read run record: {exc.strerror or exc}", file=display_path(path)) from None


def _last_per_call(path: Path) -> Iterator[SampleResult]:
    """The last result of each call, in file order; two passes keep only keys and line numbers in memory."""
    last_line: dict[tuple[str, str, str, int], int] = {}
    for number, result in enumerate(read_results(path)):
        last_line[result.key] = number
    keep = set(last_line.values())
    for number, result in enumerate(read_results(path)):
        if number in keep:
            yield result


# --- lean rows: the read path of drift over millions of results -----------------------------------
#
# Validating a line as a ``SampleResult`` costs about 4 µs, and two runs of 100,000 cases × 10 hold
# two million lines. msgspec decodes and checks a line against the same schema in about 1 µs into a
# slotted struct with the same attribute names, so code that reads results (``CaseTally.add``) reads
# rows alike. The structs mirror the pydantic models field for field (tests/test_results.py holds them
# to it); a line msgspec refuses goes through the pydantic model, which either accepts it (pydantic
# also converts ``1.0`` to an int, ``"true"`` to a bool ...) or names the problem exactly as
# ``read_results`` does.


class JudgeRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``JudgeTrace`` as a lean row."""

    model: str
    model_id: str
    prompt: str | None = None
    prompt_version: str | None = None
    prompt_fingerprint: str | None = None
    votes: list[bool | None] = []
    answers: list[str] = []
    keys: list[str] = []
    provider_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None

    def to_model(self) -> JudgeTrace:
        # the values were checked against the same schema when the row was read
        return JudgeTrace.model_construct(**msgspec.structs.asdict(self))


class OutcomeRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``AssertionOutcome`` as a lean row."""

    type: str
    passed: bool
    score: float
    reason: str
    gap: GapType | None = None
    error: bool = False
    judge: JudgeRow | None = None
    expected: Any = None
    options: dict[str, Any] = {}

    def to_model(self) -> AssertionOutcome:
        fields = msgspec.structs.asdict(self)
        fields["judge"] = self.judge.to_model() if self.judge is not None else None
        return AssertionOutcome.model_construct(**fields)


class ErrorRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``ErrorInfo`` as a lean row (its message redacted when read, as the model's validator does)."""

    type: str
    message: str
    status_code: int | None = None

    def to_model(self) -> ErrorInfo:
        return ErrorInfo.model_construct(**msgspec.structs.asdict(self))


class SampleRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``SampleResult`` as a lean row: the same fields, defaults and checks, without pydantic's cost."""

    suite: str
    case: str
    model: str
    model_id: str
    sample: int
    prompt: str
    prompt_version: str
    prompt_fingerprint: str
    version: int = SCHEMA_VERSION
    line: int | None = None
    threshold: float = 1.0
    gap: GapType | None = None
    output: str | None = None
    passed: bool | None = None
    score: float | None = None
    assertions: list[OutcomeRow] = []
    error: ErrorRow | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int = 1
    cached: bool = False
    request_key: str | None = None
    judge_calls: int = 0
    judge_cost_usd: float | None = None
    served_model: str | None = None
    system_fingerprint: str | None = None
    messages: list[dict[str, str]] | None = None
    reference: str | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.suite, self.case, self.model, self.sample)


_ROW_DECODER = msgspec.json.Decoder(SampleRow)
_MAX_ROW_DEPTH = 64
"""Nesting a row may reach before pydantic's parser checks the line: msgspec nests far deeper than
pydantic's limit (about 200), so a deeper line is left to pydantic to accept or refuse."""


def read_rows(path: Path) -> Iterator[SampleRow]:
    """The results of a run as lean rows, checked exactly as ``read_results`` checks them.

    Every line that ``read_results`` refuses is refused with the same message, file
    and line; every line it accepts gives a row with the same values. A torn last
    line is skipped.
    """
    if not path.is_file():
        return
    decode = _ROW_DECODER.decode
    try:
        with open(path, "rb", buffering=_READ_BUFFER) as handle:
            for number, line in enumerate(handle, 1):
                # a RecursionError: msgspec nests far deeper than pydantic, but not without end
                try:
                    row = decode(line)
                except (msgspec.DecodeError, RecursionError):
                    if not line.strip():
                        continue
                    checked = _row_from_model(path, line, number)
                    if checked is None:
                        return
                    row = checked
                else:
                    if row.error is not None:
                        row.error.message = redact(row.error.message)
                    for outcome in row.assertions:
                        # only an assertion's free-form values can nest deeper than the schema itself
                        free_form = outcome.options or type(outcome.expected) in _CONTAINERS
                        if free_form and not _shallow(outcome):
                            checked = _row_from_model(path, line, number)
                            if checked is None:
                                return
                            row = checked
                            break
                yield row
    except OSError as exc:
        raise UsageError(f"cannot read run record: {exc.strerror or exc}", file=display_path(path)) from None


def _row_from_model(path: Path, line: bytes, number: int) -> SampleRow | None:
    """A line msgspec refused or could not vouch for, read through ``SampleResult``: its row, None for a
    torn last line, or the error ``read_results`` gives."""
    try:
        result = SampleResult.model_validate_json(line)
    except ValidationError as exc:
        if not line.endswith(b"\n"):
            return None
        problem = describe_json_error(exc, file=path, error=UsageError, line=number)
        raise UsageError(
            f"corrupt run record line: {problem.message}", file=display_path(path), line=number
        ) from None
    return row_of(result)


def row_of(result: SampleResult) -> SampleRow:
    """A validated ``SampleResult`` as a row (the values are shared, not copied)."""
    fields = _fields(result)
    fields["assertions"] = [
        OutcomeRow(**(_fields(o) | {"judge": JudgeRow(**_fields(o.judge)) if o.judge is not None else None}))
        for o in result.assertions
    ]
    fields["error"] = ErrorRow(**_fields(result.error)) if result.error is not None else None
    return SampleRow(**fields)


def _fields(model: StrictModel) -> dict[str, Any]:
    # not dict(model): a field named ``keys`` (JudgeTrace) would be taken for a mapping's keys()
    return {name: getattr(model, name) for name in type(model).model_fields}


_CONTAINERS = (dict, list)


def _shallow(outcome: OutcomeRow) -> bool:
    """Whether the free-form values of an outcome nest at most ``_MAX_ROW_DEPTH`` deep."""
    return max(_depth(outcome.expected), _depth(outcome.options)) <= _MAX_ROW_DEPTH


def _depth(value: Any, level: int = 1) -> int:
    """Nesting depth of a JSON value (0 for a scalar), stopping early once past ``_MAX_ROW_DEPTH``."""
    if type(value) not in _CONTAINERS:
        return 0
    if level > _MAX_ROW_DEPTH:
        return level
    deepest = level
    for child in value.values() if type(value) is dict else value:
        deepest = max(deepest, _depth(child, level + 1))
        if deepest > _MAX_ROW_DEPTH:
            break
    return deepest


def _last_row_per_call(path: Path) -> Iterator[SampleRow]:
    """``_last_per_call`` for rows: the last row of each call, in file order.

    The first pass only finds which result is the last of its call; the second reads and checks
    every line with ``read_rows``, so a bad line is refused there as it would be in one pass.
    """
    last = _last_of_calls(path)
    if last is None:  # a line the first pass cannot read alone: number the rows as read_rows does
        last = {row.key: number for number, row in enumerate(read_rows(path))}
    keep = bytearray(max(last.values(), default=-1) + 1)  # 1 for the result that is its call's last
    for number in last.values():
        keep[number] = 1
    del last
    for number, row in enumerate(read_rows(path)):
        if keep[number]:
            yield row


class _Call(msgspec.Struct, gc=False):
    """What identifies a call on a line of a run record; its other fields are skipped, not checked."""

    suite: str
    case: str
    model: str
    sample: int


_CALL_DECODER = msgspec.json.Decoder(_Call)


def _last_of_calls(path: Path) -> dict[tuple[str, str, str, int], int] | None:
    """Each call's last result number, from the calls' identities alone (a million lines a second);
    None at a line this cannot count exactly as ``read_rows`` does (unreadable, lax, or unterminated)."""
    if not path.is_file():
        return {}
    decode = _CALL_DECODER.decode
    names: dict[str, str] = {}  # one string per suite, case and model: a resumed run repeats them
    last: dict[tuple[str, str, str, int], int] = {}
    number = 0
    try:
        with open(path, "rb", buffering=_READ_BUFFER) as handle:
            for line in handle:
                try:
                    call = decode(line)
                except (msgspec.DecodeError, RecursionError):
                    if line.strip():
                        return None
                    continue  # a blank line, skipped by read_rows too
                if not line.endswith(b"\n"):
                    return None
                suite = names.setdefault(call.suite, call.suite)
                case = names.setdefault(call.case, call.case)
                model = names.setdefault(call.model, call.model)
                last[(suite, case, model, call.sample)] = number
                number += 1
    except OSError:
        return None
    return last


def open_run(runs_dir: Path, ref: str) -> SavedRun:
    """A saved run by id, id prefix, folder path, or ``latest``."""
    folder = Path(ref)
    # os.path.isfile: False (not OSError) for a reference too long to be a file name
    if not os.path.isfile(folder / "meta.json"):
        candidates = (
            sorted(p for p in runs_dir.glob("*") if (p / "meta.json").is_file()) if runs_dir.is_dir() else []
        )
        if ref == "latest":
            matches = candidates[-1:]
        else:
            matches = [p for p in candidates if p.name.startswith(ref)]
        if not matches:
            raise UsageError(f"no run {ref!r} under {runs_dir}")
        if len(matches) > 1:
            raise UsageError(f"run id {ref!r} is ambiguous: {', '.join(p.name for p in matches[:5])}")
        folder = matches[0]
    shown = display_path(folder / "meta.json")
    meta = read_json_model(folder / "meta.json", RunMeta, file=shown, error=UsageError)
    return SavedRun(folder, meta)


def failure_history(runs_dir: Path) -> dict[tuple[str, str, str], set[str]]:
    """(suite, case, model) → the prompt fingerprints it failed with, over every finished run.

    A case that keeps failing across prompt fingerprints is a case prompt edits have not fixed.
    Unfinished or foreign folders carry no verdicts and are skipped.
    """
    history: dict[tuple[str, str, str], set[str]] = {}
    if not runs_dir.is_dir():
        return history
    for folder in sorted(runs_dir.iterdir()):
        try:
            meta = RunMeta.model_validate_json((folder / "meta.json").read_bytes())
            summary = RunSummary.model_validate_json((folder / "summary.json").read_bytes())
        except (OSError, ValidationError):
            continue
        fingerprints = {s.name: s.prompt_fingerprint for s in meta.suites}
        for verdict in summary.cases:
            if verdict.status == "failed" and verdict.suite in fingerprints:
                history.setdefault((verdict.suite, verdict.case, verdict.model), set()).add(
                    fingerprints[verdict.suite]
                )
    return history


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100]) or None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


TallyT = TypeVar("TallyT", bound="CaseTally")
MAX_FAILED_ASSERTIONS = 10
"""Distinct failing assertions kept per case (the first sample that failed each)."""


def excerpt(text: str | None, limit: int = 200) -> str | None:
    if text is None:
        return None
    flat = text.strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(slots=True)
class CaseTally:
    """The samples of one case on one model, folded as they stream in; it owns the case's verdict.

    ``promptops test``, drift, escalation, the reports and the pytest plugin all
    judge a case through ``verdict``, so they cannot disagree. Only counts and the
    first failure are kept, so memory stays small for huge runs. Where a choice
    depends on arrival order (results arrive as calls complete), the lowest sample
    index wins, so the same results always give the same tally.
    """

    model_id: str
    prompt_version: str
    line: int | None
    threshold: float
    gap: GapType | None
    samples: int = 0
    passed: int = 0
    errored: int = 0
    failed_assertions: dict[str, tuple[int, AssertionOutcome | OutcomeRow]] = field(default_factory=dict)
    first_failure: tuple[int, str] | None = None
    """(sample, output) of the failing sample with the lowest index."""
    error: tuple[int, ErrorInfo | ErrorRow] | None = None
    """(sample, error) of the errored sample with the lowest index."""
    duration_ms: float = 0.0
    """Summed latency of the samples that produced output."""
    votes: dict[int, list[int]] | None = None
    """Per graded assertion (by position): [passing votes, failing votes]."""

    @classmethod
    def first(cls: type[TallyT], result: SampleResult | SampleRow) -> TallyT:
        """An empty tally for the case ``result`` belongs to."""
        # names shared by every case of a run are kept once, not once per case
        return cls(
            sys.intern(result.model_id),
            sys.intern(result.prompt_version),
            result.line,
            result.threshold,
            result.gap,
        )

    def add(self, result: SampleResult | SampleRow) -> None:
        """Fold in one sample (a result, or the same result read as a lean row)."""
        self.samples += 1
        self._count_votes(result.assertions)
        if result.error is not None or result.output is None:
            self.errored += 1
            if result.error is not None and (self.error is None or result.sample < self.error[0]):
                self.error = (result.sample, result.error)
            return
        if result.latency_ms is not None:
            self.duration_ms += result.latency_ms
        if result.passed:
            self.passed += 1
            return
        sample = result.sample
        if self.first_failure is None or sample < self.first_failure[0]:
            self.first_failure = (sample, result.output)
        for outcome in result.assertions:
            if outcome.passed:
                continue
            key = f"{outcome.type}:{outcome.reason}"
            known = self.failed_assertions.get(key)
            if known is None or sample < known[0]:
                self.failed_assertions[key] = (sample, outcome)

    def _count_votes(self, outcomes: Sequence[AssertionOutcome | OutcomeRow]) -> None:
        for index, outcome in enumerate(outcomes):
            if outcome.judge is None or not outcome.judge.votes:
                continue
            if self.votes is None:
                self.votes = {}
            counts = self.votes.setdefault(index, [0, 0])
            for vote in outcome.judge.votes:
                if vote is not None:
                    counts[0 if vote else 1] += 1

    def agreement(self) -> float | None:
        """The lowest majority share among graded assertions with at least two understood votes."""
        shares = [max(p, f) / (p + f) for p, f in (self.votes or {}).values() if p + f >= 2]
        return min(shares) if shares else None

    @property
    def produced(self) -> int:
        """Samples that produced an output."""
        return self.samples - self.errored

    @property
    def pass_rate(self) -> float | None:
        """Passed share of the samples that produced output; None when all errored."""
        return self.passed / self.produced if self.produced else None

    @property
    def verdict(self) -> CaseStatus:
        """``failed`` when the samples with output already miss the threshold; otherwise ``error`` when
        any sample errored (its answer could still fail the case), else ``passed``."""
        rate = self.pass_rate
        if rate is not None and rate + 1e-9 < self.threshold:
            return "failed"
        return "error" if self.errored else "passed"

    def distinct_failures(self) -> list[AssertionOutcome]:
        """The distinct failing assertions, in the order of the samples that first failed them."""
        ordered = sorted(self.failed_assertions.values(), key=lambda item: item[0])
        return [_as_outcome(outcome) for _, outcome in ordered[:MAX_FAILED_ASSERTIONS]]

    def first_error(self) -> ErrorInfo | None:
        """The error of the errored sample with the lowest index, as a model."""
        if self.error is None:
            return None
        error = self.error[1]
        return error if isinstance(error, ErrorInfo) else error.to_model()

    def packed_verdict(self, suite: str, case: str, model: str) -> CaseVerdict | PackedVerdict:
        """``case_verdict``, as the tuple ``CaseVerdicts`` keeps when there is nothing to show beyond the
        counts (no failing assertion, output or error): no model is built for a passing case."""
        if self.failed_assertions or self.first_failure is not None or self.error is not None:
            return self.case_verdict(suite, case, model)
        return (
            suite,
            case,
            model,
            self.line,
            self.verdict,
            self.samples,
            self.passed,
            self.errored,
            self.pass_rate,
            self.threshold,
            self.gap,
            round(self.duration_ms, 3),
            self.agreement(),
        )

    def case_verdict(self, suite: str, case: str, model: str) -> CaseVerdict:
        """The tally as the run summary's verdict for ``suite::case`` on ``model``."""
        return CaseVerdict(
            suite=suite,
            case=case,
            model=model,
            line=self.line,
            status=self.verdict,
            samples=self.samples,
            passed_samples=self.passed,
            errored_samples=self.errored,
            pass_rate=self.pass_rate,
            threshold=self.threshold,
            gap=self.gap,
            failed_assertions=self.distinct_failures(),
            output_excerpt=excerpt(self.first_failure[1]) if self.first_failure else None,
            error=self.first_error(),
            duration_ms=round(self.duration_ms, 3),
            judge_agreement=self.agreement(),
        )


def _as_outcome(outcome: AssertionOutcome | OutcomeRow) -> AssertionOutcome:
    return outcome if isinstance(outcome, AssertionOutcome) else outcome.to_model()


@dataclass
class _GroupTally:
    model_id: str
    latencies: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cost_known: bool = True
    samples: int = 0
    cached: int = 0
    judge_calls: int = 0
    judge_cost: float = 0.0
    judge_cost_known: bool = True


def summarize(
    meta: RunMeta,
    results: Iterable[SampleResult | SampleRow],
    finished_at: str | None = None,
    duration_s: float = 0.0,
) -> RunSummary:
    """Fold the sample results of a run (results or lean rows) into case verdicts and per-suite/model
    totals."""
    cases: dict[tuple[str, str, str], CaseTally] = {}
    groups: dict[tuple[str, str], _GroupTally] = {}
    completed = 0
    for result in results:
        completed += 1
        case_key = (result.suite, result.case, result.model)
        tally = cases.get(case_key)
        if tally is None:
            # one string object per suite and model name, not one per case: verdicts hold them
            case_key = (sys.intern(result.suite), result.case, sys.intern(result.model))
            tally = cases[case_key] = CaseTally.first(result)
        tally.add(result)
        group = groups.setdefault((result.suite, result.model), _GroupTally(result.model_id))
        group.samples += 1
        group.cached += int(result.cached)
        group.judge_calls += result.judge_calls
        if any(o.judge is not None for o in result.assertions):
            if result.judge_cost_usd is None:
                group.judge_cost_known = False
            else:
                group.judge_cost += result.judge_cost_usd
        if result.error is not None or result.output is None:
            continue
        if result.latency_ms is not None:
            group.latencies.append(result.latency_ms)
        group.prompt_tokens += result.prompt_tokens or 0
        group.completion_tokens += result.completion_tokens or 0
        if result.cost_usd is None:
            group.cost_known = False
        else:
            group.cost += result.cost_usd

    rows: list[CaseVerdict | PackedVerdict] = []
    statuses: dict[tuple[str, str], Counter[str]] = {}
    while cases:  # each tally is dropped once folded, so tallies and verdicts are not all held at once
        (suite, case, model), tally = cases.popitem()
        rows.append(tally.packed_verdict(suite, case, model))
        statuses.setdefault((suite, model), Counter())[tally.verdict] += 1
    rows.sort(key=_report_order)
    verdicts = CaseVerdicts(rows)
    del rows
    summaries: list[GroupSummary] = []
    for (suite, model), group in sorted(groups.items()):
        counts = statuses.get((suite, model), Counter())
        passed, failed, errors = counts["passed"], counts["failed"], counts["error"]
        decided = passed + failed
        summaries.append(
            GroupSummary(
                suite=suite,
                model=model,
                model_id=group.model_id,
                cases=counts.total(),
                passed=passed,
                failed=failed,
                errors=errors,
                pass_rate=passed / decided if decided else None,
                samples=group.samples,
                latency_p50_ms=percentile(group.latencies, 50),
                latency_p95_ms=percentile(group.latencies, 95),
                prompt_tokens=group.prompt_tokens,
                completion_tokens=group.completion_tokens,
                cost_usd=group.cost if group.cost_known else None,
                cached_samples=group.cached,
                judge_calls=group.judge_calls,
                judge_cost_usd=group.judge_cost if group.judge_cost_known else None,
            )
        )

    overall_counts = verdicts.statuses()
    any_failed = overall_counts["failed"] > 0
    any_error = overall_counts["error"] > 0 or completed < meta.planned_calls
    overall: CaseStatus = "failed" if any_failed else ("error" if any_error else "passed")
    exit_code = {"passed": 0, "failed": 1, "error": 3}[overall]
    return RunSummary(
        run_id=meta.run_id,
        status=overall,
        exit_code=exit_code,
        started_at=meta.started_at,
        finished_at=finished_at or now_iso(),
        duration_s=round(duration_s, 3),
        planned_calls=meta.planned_calls,
        completed_calls=completed,
        groups=summaries,
        cases=verdicts,
    )
