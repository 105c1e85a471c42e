"""Capturing a run's answers: recordings for keyless replay, and accepted golden outputs.

``promptops record`` writes each suite's successful responses next to it
(``suites/<name>.recording.yaml``) so CI can replay them without an API key;
``promptops golden update`` accepts the outputs as the suite's goldens. Both
keep the entries this run did not replace and drop those of removed cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from promptops.cache import (
    CACHE_FILE,
    JudgeRecording,
    Recording,
    RecordingFile,
    ResponseCache,
    read_recording,
    recording_path,
    write_recording,
)
from promptops.plan import Plan
from promptops.results import SampleResult
from promptops.runner import ProgressSink, RunOutcome, run_plan
from promptops.suites import GoldenFile, GoldenOutput, golden_path, write_golden


def _answers_by_suite(outcome: RunOutcome) -> tuple[dict[str, list[SampleResult]], int]:
    """The run's answered calls per suite, and how many calls failed.

    An output whose grading errored (e.g. a judge answer not understood) is still an answer.
    """
    by_suite: dict[str, list[SampleResult]] = {}
    errors = 0
    for result in outcome.results():
        if result.error is not None:
            errors += 1
        if result.output is None or result.request_key is None:
            continue
        by_suite.setdefault(result.suite, []).append(result)
    return by_suite, errors


def _judge_recordings(result: SampleResult, cache: ResponseCache) -> list[JudgeRecording]:
    """The judge and embedding answers that graded ``result``, read back from the response cache."""
    entries: dict[str, JudgeRecording] = {}
    for outcome in result.assertions:
        trace = outcome.judge
        if trace is None:
            continue
        for key in trace.keys:
            hit = cache.get(key) if key not in entries else None
            if hit is not None:
                entries[key] = JudgeRecording(
                    key=key,
                    model_id=trace.model_id,
                    output=hit.text,
                    prompt_tokens=hit.prompt_tokens,
                    completion_tokens=hit.completion_tokens,
                    cost_usd=hit.cost_usd,
                )
    return list(entries.values())


class _CaseEntry(Protocol):
    @property
    def case(self) -> str: ...


EntryT = TypeVar("EntryT", bound=_CaseEntry)


def _merged(
    old: Iterable[EntryT], fresh: dict[Any, EntryT], key: Callable[[EntryT], Any], case_ids: list[str]
) -> list[EntryT]:
    """Fresh entries, after the old ones they do not replace whose case still exists."""
    existing = set(case_ids)
    return [*(e for e in old if key(e) not in fresh and e.case in existing), *fresh.values()]


def record_suites(plan: Plan, *, progress: ProgressSink | None = None) -> tuple[list[tuple[str, int]], int]:
    """Run ``plan`` and write each suite's successful responses to its recording file.

    Entries for models or samples not in this run are kept; entries for cases
    that no longer exist are dropped. Returns (file, entries) per suite and the
    number of calls that failed.
    """
    by_suite, errors = _answers_by_suite(run_plan(plan, progress=progress))
    cache = ResponseCache(plan.project.state_dir / CACHE_FILE)
    try:
        return _write_recordings(plan, by_suite, cache), errors
    finally:
        cache.close()


def _write_recordings(
    plan: Plan, by_suite: dict[str, list[SampleResult]], cache: ResponseCache
) -> list[tuple[str, int]]:
    written: list[tuple[str, int]] = []
    for suite in plan.suites:
        path = recording_path(suite.path)
        old = read_recording(path, plan.project.relpath(path))
        case_ids = [c.id for c in suite.cases]
        fresh = {
            (r.case, r.model, r.sample): Recording(
                case=r.case,
                model=r.model,
                model_id=r.model_id,
                sample=r.sample,
                key=r.request_key or "",
                output=r.output or "",
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                cost_usd=r.cost_usd,
                latency_ms=r.latency_ms,
                judges=_judge_recordings(r, cache),
            )
            for r in by_suite.get(suite.name, [])
        }
        recording = RecordingFile(
            suite=suite.name,
            prompt_version=suite.prompt.version,
            prompt_fingerprint=suite.prompt.fingerprint,
            recordings=_merged(
                old.recordings if old else [], fresh, lambda e: (e.case, e.model, e.sample), case_ids
            ),
        )
        write_recording(path, recording, case_ids)
        written.append((plan.project.relpath(path), len(recording.recordings)))
    return written


def update_goldens(plan: Plan, *, progress: ProgressSink | None = None) -> tuple[list[tuple[str, int]], int]:
    """Run ``plan`` (first sample of each case) and accept its outputs as golden.

    Goldens of models not in this run are kept; goldens of removed cases are
    dropped. Returns (file, entries) per suite and the number of failed calls.
    """
    by_suite, errors = _answers_by_suite(run_plan(plan, progress=progress))
    written = []
    for suite in plan.suites:
        fresh = {
            (r.case, r.model): GoldenOutput(
                case=r.case,
                model=r.model,
                model_id=r.model_id,
                prompt_version=r.prompt_version,
                prompt_fingerprint=r.prompt_fingerprint,
                output=r.output or "",
            )
            for r in by_suite.get(suite.name, [])
            if r.sample == 0
        }
        case_ids = [c.id for c in suite.cases]
        goldens = _merged(suite.goldens.values(), fresh, lambda g: (g.case, g.model), case_ids)
        golden = GoldenFile(suite=suite.name, goldens=goldens)
        path = golden_path(suite.path)
        write_golden(path, golden, case_ids)
        written.append((plan.project.relpath(path), len(golden.goldens)))
    return written, errors
