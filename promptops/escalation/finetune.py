"""Seed data for fine-tuning: a suite's known-good answers as a JSONL chat dataset.

When the evidence says fine-tuning is justified (a skill gap few-shot prompting did not close, a
behavior gap that persists at volume), the dataset starts from what the suites already hold: the
accepted (golden) outputs, the answers that passed in a run, and, for failing cases, the expected
output where the suite states it whole (an ``equals`` assertion). Each line is one example in the
chat format that OpenAI-compatible fine-tuning APIs accept: ``{"messages": [...]}`` with the
rendered prompt and the assistant's answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from promptops.errors import UsageError
from promptops.plan import render_case
from promptops.results import SavedRun
from promptops.suites import Suite

# fine-tuning providers accept a handful of examples, but their guidance is to start from about 50
# well-chosen ones before judging the result
RECOMMENDED_EXAMPLES = 50

Origin = Literal["golden", "passing", "expected"]


@dataclass
class FinetuneExport:
    """What ``export_finetune`` wrote."""

    path: Path
    counts: dict[Origin, int] = field(default_factory=lambda: {"golden": 0, "passing": 0, "expected": 0})
    missing: list[str] = field(default_factory=list)
    """Cases with no known-good answer (failing, and their expected output is not stated whole)."""

    @property
    def examples(self) -> int:
        return sum(self.counts.values())

    @property
    def more_needed(self) -> int:
        return max(0, RECOMMENDED_EXAMPLES - self.examples)


def _expected_output(suite: Suite, case_id: str) -> str | None:
    """The whole expected answer of a case, when an ``equals`` assertion states it."""
    case = next(c for c in suite.cases if c.id == case_id)
    for spec in suite.case_assertions(case):
        if spec.type == "equals" and spec.value is not None:
            value = spec.value
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return None


def export_finetune(suites: list[Suite], saved: SavedRun | None, path: Path) -> FinetuneExport:
    """Write one chat example per case that has a known-good answer: golden, else passing, else expected."""
    passing: dict[tuple[str, str], str] = {}
    models: set[str] = set()
    if saved is not None:
        models = set(saved.meta.models)
        for result in saved.results():
            if result.passed and result.output and (result.suite, result.case) not in passing:
                passing[(result.suite, result.case)] = result.output
    export = FinetuneExport(path)
    lines = []
    for suite in suites:
        for case in suite.cases:
            goldens = [g.output for (cid, model), g in suite.goldens.items() if cid == case.id]
            preferred = [
                g.output for (cid, model), g in suite.goldens.items() if cid == case.id and model in models
            ]
            answer: str | None
            origin: Origin
            if preferred or goldens:
                answer, origin = (preferred or goldens)[0], "golden"
            elif (suite.name, case.id) in passing:
                answer, origin = passing[(suite.name, case.id)], "passing"
            else:
                answer, origin = _expected_output(suite, case.id), "expected"
            if not answer:
                export.missing.append(f"{suite.name}::{case.id}")
                continue
            messages = [m.to_dict() for m in render_case(suite, case)]
            messages.append({"role": "assistant", "content": answer})
            lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
            export.counts[origin] += 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return export
