"""Running a plan: calls made concurrently, results streamed to a run record, then summarised.

Results are appended to the run record as each call completes, so memory does
not grow with the size of the run, and an interrupted run keeps every finished
result: ``--resume`` makes only the calls it is missing.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path

from promptops.cache import RecordingFile, read_recording, recording_path, request_key
from promptops.errors import RunInterrupted, StorageError, UsageError
from promptops.executor import Caller, Executor
from promptops.plan import Plan, RunOptions, parse_shard
from promptops.providers import acomplete
from promptops.results import (
    RunMeta,
    RunSummary,
    RunWriter,
    SampleResult,
    SavedRun,
    SuitePlan,
    new_run_id,
    now_iso,
    summarize,
)


class ProgressSink:
    """Receives progress; the CLI supplies a progress bar or plain lines."""

    def start(self, total: int) -> None: ...

    def advance(self, result: SampleResult) -> None: ...

    def finish(self) -> None: ...


@dataclass
class RunOutcome:
    folder: Path
    meta: RunMeta
    summary: RunSummary
    provider_calls: int = 0
    """Calls that went to a provider (not answered by the cache or a recording)."""

    def results(self) -> Iterator[SampleResult]:
        """The run's results, one per call (``SavedRun.results``)."""
        return SavedRun(self.folder, self.meta).results()

    @property
    def replay_misses(self) -> list[str]:
        return [
            f"{c.suite}::{c.case} [{c.model}]"
            for c in self.summary.cases
            if c.error is not None and c.error.type == "ReplayMiss"
        ]


def _git_commit(root: Path) -> str | None:
    """The commit checked out at ``root``, or None outside a repository or before the first commit.

    One ``git rev-parse`` (a few milliseconds) instead of gitpython, whose import alone costs more than a
    fully cached run of a thousand cases.
    """
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):  # git not installed, or hung
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and len(commit) in (40, 64) else None


def _suite_plans(plan: Plan) -> list[SuitePlan]:
    return [
        SuitePlan(
            name=s.name,
            file=s.file,
            prompt=s.prompt.name,
            prompt_version=s.prompt.version,
            prompt_fingerprint=s.prompt.fingerprint,
            models=[m.alias for m in plan.models_for(s)],
            cases=len(plan.selected_cases(s)),
            prompt_source=s.prompt.source_text(),
            params=s.params(),
            golden_cases=len(s.goldens),
        )
        for s in plan.suites
    ]


def new_run_meta(plan: Plan, run_id: str | None = None) -> RunMeta:
    from promptops import __version__

    options = plan.options
    shard = options.shard
    return RunMeta(
        run_id=run_id or new_run_id(),
        started_at=now_iso(),
        promptops_version=__version__,
        project_root=str(plan.project.root),
        git_commit=_git_commit(plan.project.root),
        suites=_suite_plans(plan),
        models={alias: model.model for alias, model in plan.models.items()},
        planned_calls=plan.count(),
        repeat=options.repeat,
        concurrency=options.concurrency or plan.project.config.run.concurrency,
        filter=options.filter,
        model_overrides=list(options.models),
        shard=f"{shard[0]}/{shard[1]}" if shard else None,
        timeout_s=options.timeout_s,
        replay=options.replay,
        judge_repeat=options.judge_repeat,
    )


def options_from_meta(meta: RunMeta) -> tuple[list[str], RunOptions]:
    """Suite files and options of a saved run, to resume it as it was started."""
    shard = parse_shard(meta.shard) if meta.shard else None
    options = RunOptions(
        models=tuple(meta.model_overrides),
        repeat=meta.repeat,
        concurrency=meta.concurrency,
        filter=meta.filter,
        timeout_s=meta.timeout_s,
        shard=shard,
        replay=meta.replay,
        judge_repeat=meta.judge_repeat,
    )
    return [s.file for s in meta.suites], options


def prepare_resume(plan: Plan, saved: SavedRun) -> None:
    """Mark the saved run's finished calls as done; refuse when a prompt changed since."""
    before = {s.name: s.prompt_fingerprint for s in saved.meta.suites}
    for suite in plan.suites:
        if before.get(suite.name, suite.prompt.fingerprint) != suite.prompt.fingerprint:
            raise UsageError(
                f"prompt {suite.prompt.name} changed since run {saved.meta.run_id} started; "
                "its results would mix two prompt versions, so start a new run",
                file=suite.prompt.file,
            )
    plan.done = {r.key for r in saved.results() if r.error is None}


def _recordings(plan: Plan) -> Iterator[RecordingFile]:
    """The recording files replay answers from: the plan's extra ones, then each suite's own."""
    yield from plan.extra_recordings
    for suite in plan.suites:
        path = recording_path(suite.path)
        recording = read_recording(path, plan.project.relpath(path))
        if recording is not None:
            yield recording


def _warm_provider(plan: Plan, executor: Executor) -> None:
    """Import (and warm up) litellm before the clock starts when the first call will need it.

    A fully cached or replayed run never imports it (that is what keeps it fast);
    any other run pays the import once, here, rather than inside its first calls.
    """
    if executor.replay is not None or executor.caller is not acomplete:
        return
    first = next(iter(plan), None)
    if first is None:
        return
    if executor.lookup(request_key(first.model.model, first.messages, first.params, first.sample)) is None:
        from promptops.providers import get_litellm

        get_litellm()


async def _until_terminated(work: Awaitable[None]) -> None:
    """Await ``work``; SIGTERM cancels it like Ctrl-C does, and the run ends as interrupted.

    A SIGTERM handler that raised inside whatever code was running (litellm's, say)
    left half-cancelled tasks that printed tracebacks at exit; cancelling the task
    lets every call unwind through its own cleanup first.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        pass
    try:
        await work
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise
    finally:
        try:
            loop.remove_signal_handler(signal.SIGTERM)
        except (NotImplementedError, RuntimeError, ValueError):
            pass


def run_plan(
    plan: Plan,
    *,
    progress: ProgressSink | None = None,
    caller: Caller | None = None,
    run_id: str | None = None,
    resume: SavedRun | None = None,
) -> RunOutcome:
    """Execute ``plan``, streaming results to a run record, and summarise it.

    With ``resume``, results are appended to that run and only calls it has not
    finished are made. SIGINT and SIGTERM stop the run with every finished
    result kept (``RunInterrupted``, exit 3).
    """
    project = plan.project
    if resume is not None:
        prepare_resume(plan, resume)
        meta = resume.meta.model_copy(update={"resumes": resume.meta.resumes + 1})
        folder = resume.folder
    else:
        meta = new_run_meta(plan, run_id)
        folder = project.runs_dir / meta.run_id
    writer = RunWriter(folder, meta)
    try:
        executor = Executor.from_settings(project, plan.options, recordings=_recordings(plan), caller=caller)
    except BaseException:
        writer.close()
        raise
    progress = progress or ProgressSink()
    new_results = 0

    def on_result(result: SampleResult) -> None:
        nonlocal new_results
        writer.append(result)
        new_results += 1
        progress.advance(result)

    _warm_provider(plan, executor)
    started = time.perf_counter()
    progress.start(meta.planned_calls - len(plan.done))
    try:
        asyncio.run(_until_terminated(executor.run(plan, on_result)))
    except KeyboardInterrupt:
        writer.close()
        kept = len(plan.done) + new_results
        raise RunInterrupted(
            f"interrupted; {kept} finished results kept in {project.relpath(folder)}; "
            f"resume with: promptops test --resume {meta.run_id}"
        ) from None
    except StorageError as exc:
        writer.close()
        kept = len(plan.done) + new_results
        raise StorageError(
            f"{exc.message}; {kept} finished results kept in {project.relpath(folder)}; "
            f"then resume with: promptops test --resume {meta.run_id}",
            file=exc.file,
        ) from None
    finally:
        writer.close()
        executor.close()
        progress.finish()
    # lean rows: the fold reads a few fields of each result, and a large run has millions
    summary = summarize(meta, SavedRun(folder, meta).rows(), duration_s=time.perf_counter() - started)
    writer.finish(summary)
    return RunOutcome(folder, meta, summary, provider_calls=executor.provider_calls)
