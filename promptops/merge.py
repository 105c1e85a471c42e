"""Merging shard runs: the runs of one split plan (``--shard I/N``) become one run record."""

from __future__ import annotations

import shutil

from promptops.config import Project
from promptops.errors import UsageError
from promptops.results import RunWriter, SavedRun, SuitePlan, new_run_id, read_results, summarize
from promptops.runner import RunOutcome


def merge_runs(project: Project, runs: list[SavedRun]) -> RunOutcome:
    """Combine shard runs into one run record and one verdict.

    Every call must appear in one run only; shards of one split must agree on N
    and not repeat an index.
    """
    if len(runs) < 2:
        raise UsageError("merge needs at least two runs")
    shards = [r.meta.shard for r in runs if r.meta.shard]
    counts = {s.split("/")[1] for s in shards}
    if len(counts) > 1:
        raise UsageError(f"runs come from different splits: {', '.join(sorted(set(shards)))}")
    if len(shards) != len(set(shards)):
        raise UsageError(f"the same shard appears twice: {', '.join(sorted(shards))}")
    first = runs[0].meta
    suites: dict[str, SuitePlan] = {}
    for run in runs:
        for suite in run.meta.suites:
            known = suites.get(suite.name)
            if known and known.prompt_fingerprint != suite.prompt_fingerprint:
                raise UsageError(
                    f"suite {suite.name} ran different prompt texts in {first.run_id} and {run.meta.run_id}"
                )
            if known:
                known.cases += suite.cases
            else:
                suites[suite.name] = suite.model_copy()
    meta = first.model_copy(
        update={
            "run_id": new_run_id(),
            "started_at": min(r.meta.started_at for r in runs),
            "suites": list(suites.values()),
            "models": {k: v for r in runs for k, v in r.meta.models.items()},
            "planned_calls": sum(r.meta.planned_calls for r in runs),
            "shard": None,
            "merged_from": [r.meta.run_id for r in runs],
            "resumes": 0,  # the merged record holds one result per call
        }
    )
    folder = project.runs_dir / meta.run_id
    writer = RunWriter(folder, meta)
    seen: set[tuple[str, str, str, int]] = set()
    try:
        for run in runs:
            for result in run.results():
                if result.key in seen:
                    raise UsageError(
                        f"{result.suite}::{result.case} [{result.model}] sample {result.sample} "
                        f"appears in more than one run; merge shards of one split only"
                    )
                seen.add(result.key)
                writer.append(result)
    except UsageError:
        writer.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    writer.close()
    summary = summarize(meta, read_results(folder / "results.jsonl"))
    writer.finish(summary)
    return RunOutcome(folder, meta, summary)
