"""Escalation: diagnose each failing or regressed case from evidence, then turn the pattern into advice.

- ``evidence``: what diagnosis is given about a case (``CaseFacts``) and what it found (``Evidence``,
  ``CaseDiagnosis``), with weights that let measured probe outcomes outrank heuristics;
- ``signals``: the detectors (typed values, refusals, grounding in the prompt, form repair);
- ``gaps``: ``classify_case``, the one function that decides a case's gaps;
- ``rules``: the rules files and the matching engine, with its guards;
- ``advice``: ``escalate_run`` and ``escalate_drift``, the entry points for runs and drift reports.
"""

from __future__ import annotations

from promptops.assertions import GAPS
from promptops.escalation.advice import (
    EscalationReport,
    escalate_drift,
    escalate_run,
    gather,
    prompt_shape,
)
from promptops.escalation.evidence import (
    PROBE_WEIGHT,
    Attribution,
    CaseDiagnosis,
    CaseFacts,
    Evidence,
    FailedCheck,
)
from promptops.escalation.gaps import classify_case
from promptops.escalation.rules import (
    CaseEvidence,
    Escalation,
    GroupContext,
    Rule,
    RulesFile,
    Technique,
    builtin_rules,
    escalate_groups,
    guard_allows,
    is_external,
    load_rules,
    parse_rules,
)

__all__ = [
    "GAPS",
    "PROBE_WEIGHT",
    "Attribution",
    "CaseDiagnosis",
    "CaseEvidence",
    "CaseFacts",
    "Escalation",
    "EscalationReport",
    "Evidence",
    "FailedCheck",
    "GroupContext",
    "Rule",
    "RulesFile",
    "Technique",
    "builtin_rules",
    "classify_case",
    "escalate_drift",
    "escalate_groups",
    "escalate_run",
    "gather",
    "guard_allows",
    "is_external",
    "load_rules",
    "parse_rules",
    "prompt_shape",
]
