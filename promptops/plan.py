"""Plan building: which calls a run makes (cases × models × samples), rendered lazily.

``build_plan`` resolves the models, checks their keys and renders every case
once, so a mistake surfaces before any model call; iterating the plan then
yields one ``PlannedCall`` at a time, so memory does not grow with the run.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from promptops.config import Project, ResolvedModel
from promptops.errors import ConfigError, PromptError, UsageError
from promptops.grading import GradingSetup, prepare_grading
from promptops.providers.local import check_model_available
from promptops.suites import Case, Suite, case_matches


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One model call of the plan (slots: a run may hold thousands in flight and queued)."""

    suite: Suite
    case: Case
    model: ResolvedModel
    sample: int
    messages: list[dict[str, str]]
    params: dict[str, Any]
    grading: GradingSetup | None = None
    """Judge and embedding models and judge prompts for the case's graded assertions."""


@dataclass(frozen=True)
class RunOptions:
    models: tuple[str, ...] = ()
    """Model aliases or ids replacing each suite's models (``-m``)."""
    repeat: int | None = None
    concurrency: int | None = None
    filter: str | None = None
    timeout_s: float | None = None
    shard: tuple[int, int] | None = None
    """``(I, N)``: run only the I-th of N deterministic parts of the plan (1-based)."""
    use_cache: bool = True
    """Read answers from the response cache (results are always written to it)."""
    replay: bool = False
    """Answer only from the cache and recording files; never call a provider."""
    judge_repeat: int = 1
    """Judge calls per model-graded verdict (``--judge-repeat``); the majority decides."""


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` with 1 <= I <= N."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard expects I/N with 1 <= I <= N, got {text!r}")
    return i, n


def shard_of(suite_name: str, case_id: str, count: int) -> int:
    """Shard (1-based) a case belongs to: by a stable hash, so adding cases moves no others."""
    return zlib.crc32(f"{suite_name}::{case_id}".encode()) % count + 1


@dataclass
class Plan:
    """What a run will call, generated lazily."""

    project: Project
    suites: list[Suite]
    options: RunOptions
    models: dict[str, ResolvedModel] = field(default_factory=dict)
    done: set[tuple[str, str, str, int]] = field(default_factory=set)
    """(suite, case, model, sample) already finished (when resuming)."""
    extra_recordings: list[Any] = field(default_factory=list)
    """More ``RecordingFile``s for replay, e.g. the recordings of a base git ref."""
    only: set[tuple[str, str, str]] | None = None
    """(suite, case, model alias) to run, e.g. the tests pytest selected; None runs every selected case."""
    grading: GradingSetup | None = None
    """What the selected cases' model-graded assertions need (set by ``build_plan``)."""
    targets: dict[tuple[str, str], int] | None = None
    """(suite, case id) -> samples per model, replacing the repeat count: the rounds of ``--repeat auto``
    raise the targets of undecided cases only (a case missing here gets no samples)."""

    def models_for(self, suite: Suite) -> list[ResolvedModel]:
        names = list(self.options.models) or suite.models(self.project)
        return [self.models[name] for name in names]

    def wanted(self, suite: Suite, case: Case, model: ResolvedModel) -> bool:
        """Whether ``only`` (when set) includes this case on this model."""
        return self.only is None or (suite.name, case.id, model.alias) in self.only

    def selected_cases(self, suite: Suite) -> list[Case]:
        if self.only is None and self.options.shard is None and not self.options.filter:
            return suite.cases  # every case (the common run, and the cheapest on a large suite)
        shard = self.options.shard
        models = self.models_for(suite) if self.only is not None else []
        return [
            case
            for case in suite.cases
            if case_matches(suite, case, self.options.filter)
            and (shard is None or shard_of(suite.name, case.id, shard[1]) == shard[0])
            and (self.only is None or any(self.wanted(suite, case, model) for model in models))
        ]

    def repeat_of(self, suite: Suite, case: Case) -> int:
        """Samples per model the plan makes of a case."""
        if self.targets is not None:
            return self.targets.get((suite.name, case.id), 0)
        return suite.repeat_for(case, self.project, self.options.repeat)

    def call_params(self, suite: Suite, model: ResolvedModel) -> dict[str, Any]:
        """Call parameters of a suite's cases on a model (before the per-sample seed)."""
        return {**model.params, **suite.params()}

    def count(self) -> int:
        """Calls in the whole plan, finished ones included."""
        total = 0
        for suite in self.suites:
            models = self.models_for(suite)
            if self.only is None and self.targets is None:  # every case on every model: no per-case test
                repeat = self.options.repeat
                cases = self.selected_cases(suite)
                # Suite.repeat_for without a call per case: the case's repeat, else the suite's or project's
                default = suite.spec.repeat or self.project.config.defaults.repeat
                samples = repeat * len(cases) if repeat else sum(case.repeat or default for case in cases)
                total += samples * len(models)
                continue
            for case in self.selected_cases(suite):
                wanted = sum(self.wanted(suite, case, model) for model in models)
                total += wanted * self.repeat_of(suite, case)
        return total

    def __iter__(self) -> Iterator[PlannedCall]:
        """Calls still to make, rendered one case at a time."""
        for suite in self.suites:
            models = self.models_for(suite)
            for case in self.selected_cases(suite):
                repeat = self.repeat_of(suite, case)
                todo = [
                    (model, sample)
                    for model in models
                    if self.wanted(suite, case, model)
                    for sample in range(repeat)
                    if (suite.name, case.id, model.alias, sample) not in self.done
                ]
                if not todo:
                    continue
                messages = [m.to_dict() for m in render_case(suite, case)]
                for model, sample in todo:
                    params = self.call_params(suite, model)
                    yield PlannedCall(
                        suite, case, model, sample, messages, sample_params(params, sample), self.grading
                    )


def sample_params(params: dict[str, Any], sample: int) -> dict[str, Any]:
    """Params for one sample: a fixed seed is offset per sample so repeats differ yet reproduce."""
    if sample and isinstance(params.get("seed"), int):
        return {**params, "seed": params["seed"] + sample}
    return params


def render_case(suite: Suite, case: Case, *, check_only: bool = False) -> list[Any]:
    """The case's messages; with ``check_only``, only whether it renders (an error says where it fails)."""
    try:
        if check_only:  # a case without suite defaults renders from its own variables (nothing changes them)
            suite.prompt.check_renders(suite.case_vars(case) if suite.spec.defaults.vars else case.vars)
            return []
        return suite.prompt.render(suite.case_vars(case))
    except PromptError as exc:
        raise PromptError(
            f"{exc.message} (rendering case {case.id!r} of {suite.file}:{suite.case_lines.get(case.id, 0)})",
            file=exc.file,
            line=exc.line,
        ) from None


def _cases_with_new_assertions(plan: Plan) -> Iterator[tuple[Suite, Case]]:
    """Each suite's selected cases, less those whose every assertion an earlier case of it had.

    Cases of a large suite share their assertion specs (``suites.load_suite``): what grading needs for a
    spec (its judge, embedding model, judge prompt) is found, and any problem with it reported, at the
    first case that uses it, exactly as if every case were looked at.
    """
    for suite in plan.suites:
        seen: set[int] = set()
        for case in plan.selected_cases(suite):
            if any(id(spec) not in seen for spec in case.assert_) or not seen:
                seen.update(id(spec) for spec in case.assert_)
                yield suite, case


def build_plan(
    project: Project,
    suites: list[Suite],
    options: RunOptions,
    *,
    only: set[tuple[str, str, str]] | None = None,
) -> Plan:
    """Resolve models, check keys and render every case once so mistakes surface before any call.

    ``only`` narrows the plan to (suite, case, model alias) triples, e.g. the tests pytest selected.
    """
    plan = Plan(project, suites, options, only=only)
    for suite in suites:
        for name in list(options.models) or suite.models(project):
            if name not in plan.models:
                plan.models[name] = project.resolve_model(name)
    used = None if only is None else {alias for _, _, alias in only}
    for model in plan.models.values():
        if used is not None and model.alias not in used:
            continue  # deselected (e.g. pytest -k "not prod"): needs no key and no local install
        # replay never calls a provider, so keyless CI needs no secrets
        if not options.replay and model.api_key_env and model.api_key() is None:
            raise ConfigError(
                f"model {model.alias!r} reads its API key from ${model.api_key_env}, which is not set",
                file=project.config_file,
            )
        if not options.replay:  # a local model without the promptops-cli[local] extra: one clear exit 2
            check_model_available(model.model)
    for suite in suites:
        for case in plan.selected_cases(suite):
            render_case(suite, case, check_only=True)
    plan.grading = prepare_grading(
        project,
        _cases_with_new_assertions(plan),
        judge_repeat=options.judge_repeat,
        replay=options.replay,
    )
    if plan.count() == 0:
        raise UsageError(
            f"no cases match the filter {options.filter!r}" if options.filter else "no cases to run"
        )
    return plan
