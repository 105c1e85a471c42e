"""``promptops watch``: scheduled drift of each model alias against its last recorded run.

Providers update models behind a stable name (``gpt-4o`` today is not ``gpt-4o`` last month). A watch
runs the suites on each alias with the response cache off, so every answer comes from the provider as
it is now, and compares the run with the last run recorded for that alias (or with a pinned baseline
run). Each result keeps the model id the provider says it served and its ``system_fingerprint``; a
watch reports a change when either the behaviour (regressions, fixes, changed outputs, suite-wide
drops) or the served model changed.

The last recorded run of each alias is kept in ``.promptops/watch.json``; every watch run becomes the
next one's baseline unless a baseline is pinned, so a change is reported once and clears when the next
run matches it. With a pinned baseline, the report stays until behaviour returns to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from promptops.config import display_path
from promptops.drift import DriftReport, compare_results
from promptops.errors import EXIT_FAILED, EXIT_INFRA, EXIT_OK, UsageError
from promptops.escalation import EscalationReport, escalate_drift
from promptops.locations import read_json_model
from promptops.results import SampleResult, SavedRun, open_run
from promptops.strict import DocumentedModel

if TYPE_CHECKING:
    from promptops.config import Project
    from promptops.runner import ProgressSink

WATCH_SCHEMA_VERSION = 1
STATE_FILE = "watch.json"


class WatchState(DocumentedModel):
    """The last recorded watch run of each alias (``.promptops/watch.json``)."""

    version: int = WATCH_SCHEMA_VERSION
    last_runs: dict[str, str] = Field(default_factory=dict)
    """Alias -> run id of its last watch run."""


class ServedModel(DocumentedModel):
    """One model identity a provider reported, with the number of answers it gave."""

    served_model: str | None
    """``model`` of the provider's response."""
    system_fingerprint: str | None
    """``system_fingerprint`` of the response; None when the provider sends none."""
    answers: int


class AliasWatch(DocumentedModel):
    """What one alias did now, compared with its baseline."""

    alias: str
    model_id: str
    """litellm id the alias resolves to."""
    baseline_run: str | None
    """None on the first watch of the alias: this run is recorded as its baseline."""
    candidate_run: str
    served_before: list[ServedModel] = Field(default_factory=list)
    served_now: list[ServedModel] = Field(default_factory=list)
    served_changed: bool = False
    """The served model ids or fingerprints differ from the baseline's."""
    behaviour_changed: bool = False
    """Regressions, fixes, changed outputs or a suite-wide drop against the baseline."""
    drift: DriftReport | None = None
    escalation: EscalationReport | None = None
    """The diagnosis of what changed."""

    @property
    def changed(self) -> bool:
        return self.served_changed or self.behaviour_changed


class WatchReport(DocumentedModel):
    """``promptops watch --format json``."""

    version: int = WATCH_SCHEMA_VERSION
    kind: Literal["watch"] = "watch"
    pinned_baseline: str | None = None
    """The run every alias was compared with, when one was pinned (``--baseline``)."""
    aliases: list[AliasWatch]

    @property
    def changed(self) -> list[AliasWatch]:
        return [a for a in self.aliases if a.changed]

    @property
    def exit_code(self) -> int:
        """1 when an alias changed, 3 when a comparison had errored cases and nothing changed, else 0."""
        if self.changed:
            return EXIT_FAILED
        if any(a.drift is not None and a.drift.status == "error" for a in self.aliases):
            return EXIT_INFRA
        return EXIT_OK


def load_state(project: Project) -> WatchState:
    path = project.state_dir / STATE_FILE
    if not path.is_file():
        return WatchState()
    try:
        return read_json_model(path, WatchState, file=display_path(path), error=UsageError)
    except UsageError as exc:
        message = f"unreadable watch state ({exc.message}); delete it to start over"
        raise UsageError(message, file=exc.file, line=exc.line) from None


def save_state(project: Project, state: WatchState) -> None:
    path = project.state_dir / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(state.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def served_models(results: Iterable[SampleResult], alias: str) -> list[ServedModel]:
    """Model identities the provider reported for ``alias``'s answers, most frequent first."""
    counts: Counter[tuple[str | None, str | None]] = Counter(
        (r.served_model, r.system_fingerprint) for r in results if r.model == alias and r.error is None
    )
    return [
        ServedModel(served_model=model, system_fingerprint=fingerprint, answers=n)
        for (model, fingerprint), n in sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    ]


def _served_changed(before: list[ServedModel], now: list[ServedModel]) -> bool:
    """Different served identities; a baseline recorded before they were kept (all None) never counts."""
    old = {(s.served_model, s.system_fingerprint) for s in before}
    new = {(s.served_model, s.system_fingerprint) for s in now}
    if old <= {(None, None)} or new <= {(None, None)}:
        return False
    return old != new


def _behaviour_changed(drift: DriftReport) -> bool:
    c = drift.counts
    return bool(c.regressions or c.fixes or c.changed or drift.suite_regressions)


def compare_alias(
    project: Project | None, alias: str, model_id: str, baseline: SavedRun | None, candidate: SavedRun
) -> AliasWatch:
    """Compare the candidate run of ``alias`` with its baseline (only the baseline's results for it)."""
    now = served_models(candidate.results(), alias)
    if baseline is None:
        return AliasWatch(
            alias=alias,
            model_id=model_id,
            baseline_run=None,
            candidate_run=candidate.meta.run_id,
            served_now=now,
        )
    before = served_models(baseline.results(), alias)
    drift = compare_results(
        baseline.meta,
        (r for r in baseline.results() if r.model == alias),
        candidate.meta,
        candidate.results(),
        baseline_label=f"{alias} at {baseline.meta.started_at}",
        candidate_label=f"{alias} now",
    )
    behaviour = _behaviour_changed(drift)
    served = _served_changed(before, now)
    escalation = escalate_drift(project, drift, candidate) if behaviour or served else None
    return AliasWatch(
        alias=alias,
        model_id=model_id,
        baseline_run=baseline.meta.run_id,
        candidate_run=candidate.meta.run_id,
        served_before=before,
        served_now=now,
        served_changed=served,
        behaviour_changed=behaviour,
        drift=drift,
        escalation=escalation,
    )


def run_watch(
    project: Project,
    suites: tuple[str, ...],
    aliases: tuple[str, ...] = (),
    *,
    baseline: str | None = None,
    repeat: int | None = None,
    progress: ProgressSink | None = None,
) -> WatchReport:
    """Run the suites on each alias (default: every configured alias) and compare each with its baseline.

    The response cache is not read: every answer comes from the provider as it is now. The new runs
    become the aliases' last recorded runs.
    """
    from promptops.plan import RunOptions, build_plan
    from promptops.runner import run_plan
    from promptops.suites import load_suites

    names = aliases or tuple(project.config.models)
    if not names:
        raise UsageError("no model alias to watch: add one under `models:` in promptops.yaml or pass -m")
    pinned = open_run(project.runs_dir, baseline) if baseline else None
    state = load_state(project)
    loaded = load_suites(project, suites)
    watched: list[AliasWatch] = []
    for alias in names:
        model_id = project.resolve_model(alias).model
        plan = build_plan(project, loaded, RunOptions(models=(alias,), repeat=repeat, use_cache=False))
        outcome = run_plan(plan, progress=progress)
        candidate = SavedRun(outcome.folder, outcome.meta)
        base = pinned
        if base is None and alias in state.last_runs:
            try:
                base = open_run(project.runs_dir, state.last_runs[alias])
            except UsageError:
                base = None  # the run was deleted: this one starts over as the baseline
        watched.append(compare_alias(project, alias, model_id, base, candidate))
        state.last_runs[alias] = outcome.meta.run_id
        save_state(project, state)
    return WatchReport(pinned_baseline=pinned.meta.run_id if pinned else None, aliases=watched)


def load_watch_report(path: Path) -> WatchReport:
    return read_json_model(path, WatchReport, file=path, error=UsageError)
