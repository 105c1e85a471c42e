"""The evidence model: what diagnosis is given about a failing case, and what it found.

Inputs (``CaseFacts``) are plain data the run or the drift report already holds: the failing
assertions with what they expected, the distinct failing answers, the rendered prompt, the
case's reference answer, sample counts, and how the case fared on the other side of a drift.

Each finding is an ``Evidence`` item: the signal that fired, the gap it points to, a weight, where
it came from, and the text that showed it. A case's gap is the one with the most weight, so new
kinds of evidence add to the same sum. Heuristic signals weigh 1-3; the spread of verdicts across
samples weighs more than any one answer; a measured counterfactual probe (``source="probe"``)
weighs ``PROBE_WEIGHT``, more than all heuristics of a case together, so a measured outcome
decides whenever there is one. A user's ``gap:`` hint decides outright and a disagreement with the
evidence is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from promptops.assertions import GapType
from promptops.strict import DocumentedModel

Signal = Literal[
    "form-repair",
    "same-value-other-form",
    "answer-in-prose",
    "refusal",
    "grounded",
    "instruction",
    "option-label",
    "label-choice",
    "style",
    "missing-fact",
    "different-value",
    "format-check",
    "samples-disagree",
    "spread",
    "assertion-type",
    "probe",
]
"""What showed a gap:

- ``form-repair``: the failed assertion passes once the answer's wrapping is removed (behavior);
- ``same-value-other-form``: the expected value is in the answer, written differently (behavior);
- ``answer-in-prose``: the expected answer is in the answer, inside prose (behavior);
- ``refusal``: a refusal or hedge (knowledge, or skill when the prompt held the fact);
- ``grounded``: the expected content is in the rendered prompt, the answer lacks it (skill);
- ``instruction``: the prompt tells the model to write the expected text (behavior);
- ``option-label`` / ``label-choice``: a wrong choice among labels (skill);
- ``style``: expected greeting, sign-off or other house style (behavior);
- ``missing-fact`` / ``different-value``: a fact the prompt does not hold is missing, or another
  value of the same kind was given (knowledge);
- ``format-check``: a failing check of form only (length, JSON validity, pattern) (behavior);
- ``samples-disagree``: some samples pass, some fail (reliability);
- ``spread``: all samples fail with different answers (noted, not a gap of its own);
- ``assertion-type``: nothing else to go on: the type of the failing assertion;
- ``probe``: the measured outcome of a counterfactual re-run.
"""
Source = Literal["heuristic", "samples", "probe", "hint"]
Cause = Literal["prompt-change", "model-change", "model-update", "already-failing", "new-case"]

HEURISTIC_MAX = 3.0
SAMPLES_WEIGHT = 6.0
PROBE_WEIGHT = 10.0


class Evidence(DocumentedModel):
    """One finding about a failing case."""

    signal: Signal
    """The detector that fired (see ``Signal``)."""
    gap: GapType | None
    """The gap it points to; None for notes such as the spread of answers."""
    weight: float
    """Heuristics 1-3, the spread of verdicts 6, a measured probe 10."""
    source: Source = "heuristic"
    text: str
    """What showed it: the answer, the prompt sentence, the sample counts."""
    assertion: str | None = None
    """The failing assertion it came from, e.g. ``equals 'refund'``."""


class Attribution(DocumentedModel):
    """What introduced a failure, when two sides were compared."""

    cause: Cause
    """``prompt-change`` (same model, the prompt changed, the base passed), ``model-change`` (another
    model, the baseline passed), ``model-update`` (same model id and prompt, the baseline passed: the
    provider changed behaviour), ``already-failing`` (failed on both sides), ``new-case``."""
    text: str
    baseline_output: str | None = None
    """The baseline's answer, when it passed."""
    prompt_diff: str | None = None
    """The hunk of the prompt change (unified diff), for ``prompt-change``."""


class CaseDiagnosis(DocumentedModel):
    """A failing or regressed case: its gaps, the evidence for each, and a confidence."""

    suite: str
    case: str
    prompt: str
    model: str
    model_id: str
    status: str
    """``failed`` (in a test run), or the drift status (``regression``, ``changed`` ...)."""
    samples: int
    passed_samples: int
    pass_rate: float | None
    prompt_fingerprint: str | None = None
    gap: GapType | None = None
    """The gap that decides the advice: the hint when given, else the evidence's strongest."""
    gaps: list[GapType] = Field(default_factory=list)
    """Every gap with evidence, the deciding one first."""
    confidence: float = 0.0
    """0-1: the deciding gap's share of the evidence weight, lowered when little was known."""
    evidence: list[Evidence] = Field(default_factory=list)
    evidence_gap: GapType | None = None
    """The gap the evidence points to; differs from ``gap`` only when a hint overrides it."""
    hint: GapType | None = None
    """The suite's ``gap:`` hint for the case or a failing assertion."""
    hint_disagrees: str | None = None
    """When the hint and the evidence point to different gaps: what the evidence says."""
    spread: str | None = None
    """All samples failed with different answers: which, how often."""
    attribution: Attribution | None = None
    grounded: bool | None = None
    """The expected content is in the rendered prompt (None: unknown, e.g. no expected content)."""
    technique: str | None = None
    """The remedy the rules chose for this case (filled by the rules)."""
    rule: str | None = None
    """The rule that chose it."""


@dataclass(frozen=True)
class FailedCheck:
    """A failing assertion with what it expected."""

    type: str
    reason: str
    expected: Any = None
    """The assertion's value, or the accepted output for ``golden``."""
    options: dict[str, Any] = field(default_factory=dict)
    """The assertion's other settings (threshold, ignore_order, tolerance, min, max ...)."""
    gap: GapType | None = None
    """The assertion's own gap hint."""

    @property
    def label(self) -> str:
        from promptops.assertions.builtin import quoted

        return self.type if self.expected is None else f"{self.type} {quoted(self.expected)}"


@dataclass
class CaseFacts:
    """Everything diagnosis may look at for one failing case on one model."""

    suite: str
    case: str
    prompt: str
    model: str
    model_id: str
    status: str
    samples: int
    passed_samples: int
    errored_samples: int = 0
    hint: GapType | None = None
    checks: list[FailedCheck] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)
    """Distinct failing answers with how many samples gave each, most frequent first."""
    messages: list[dict[str, str]] | None = None
    """The rendered prompt (None when the run did not keep it)."""
    reference: str | None = None
    """The case's reference answer, when the suite gives one."""
    prompt_fingerprint: str | None = None
    attribution: Attribution | None = None
    probes: list[Evidence] = field(default_factory=list)
    """Measured outcomes of counterfactual re-runs; they outweigh every heuristic."""

    @property
    def produced(self) -> int:
        return self.samples - self.errored_samples

    @property
    def pass_rate(self) -> float | None:
        return self.passed_samples / self.produced if self.produced else None
