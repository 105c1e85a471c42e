"""The ``golden`` assertion: an output against the accepted output for its case and model.

Text is compared by a normalised similarity (case and whitespace folded,
difflib's ratio); JSON structurally with deepdiff, reporting changed, added and
removed fields, with ``ignore_order`` and a numeric ``tolerance``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from promptops.assertions.base import AssertionContext, AssertionResult, AssertionSpec, register_assertion
from promptops.assertions.builtin import excerpt, find_json, parse_json_output, quoted

DEFAULT_TEXT_THRESHOLD = 0.8
_MAX_NOTES = 3


def normalise_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


_MAX_COMPARED = 4_000_000
"""Largest product of the two lengths compared element by element: difflib is quadratic, and two
20,000-character texts took three minutes."""


def text_similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of two texts after folding case and whitespace.

    Characters are compared for texts of ordinary length; long texts are compared word by word,
    and very long ones by their shared words regardless of order (difflib's ``quick_ratio``), so
    the time stays bounded whatever a model answers.
    """
    left, right = normalise_text(a), normalise_text(b)
    if left == right:
        return 1.0
    if len(left) * len(right) <= _MAX_COMPARED:
        return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()
    words_left, words_right = left.split(" "), right.split(" ")
    matcher = difflib.SequenceMatcher(None, words_left, words_right, autojunk=False)
    if len(words_left) * len(words_right) <= _MAX_COMPARED:
        return matcher.ratio()
    return matcher.quick_ratio()


def _as_json(text: str) -> Any | None:
    try:
        return parse_json_output(text)
    except ValueError:
        return None


def _leaf_count(value: Any) -> int:
    if isinstance(value, dict) and value:
        return sum(_leaf_count(v) for v in value.values())
    if isinstance(value, list) and value:
        return sum(_leaf_count(v) for v in value)
    return 1


def json_differences(
    expected: Any,
    actual: Any,
    *,
    ignore_order: bool = False,
    tolerance: float = 0.0,
    exclude_paths: list[str] | None = None,
) -> list[str]:
    """Changed, added and removed fields of ``actual`` against ``expected``, one note each."""
    from deepdiff import DeepDiff  # with numpy: loaded only for JSON goldens

    diff = DeepDiff(
        expected,
        actual,
        ignore_order=ignore_order,
        exclude_paths=exclude_paths or None,
        cutoff_distance_for_pairs=1.0,
        cutoff_intersection_for_pairs=1.0,
        view="tree",
    )
    notes: list[str] = []
    for kind in ("values_changed", "type_changes"):
        for level in diff.get(kind, []):
            t1, t2 = level.t1, level.t2
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (t1, t2))
            if numbers and abs(t1 - t2) <= tolerance:
                continue
            notes.append(f"changed {level.path()}: {quoted(t1)} -> {quoted(t2)}")
    for kind in ("dictionary_item_added", "iterable_item_added"):
        for level in diff.get(kind, []):
            notes.append(f"added {level.path(use_t2=True)} = {quoted(level.t2)}")
    for kind in ("dictionary_item_removed", "iterable_item_removed"):
        for level in diff.get(kind, []):
            notes.append(f"removed {level.path()}")
    return notes


def _check_golden(spec: AssertionSpec) -> None:
    if spec.value is not None:
        raise ValueError("golden: takes no value; the accepted output comes from the suite's .golden.yaml")
    if spec.threshold is not None and not 0 <= spec.threshold <= 1:
        raise ValueError("golden: threshold must be between 0 and 1")


@register_assertion("golden", check=_check_golden)
def golden(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output matches the accepted output: text by similarity, JSON field by field."""
    if ctx.golden is None:
        return AssertionResult(
            False, 0.0, "no golden output for this case and model; run 'promptops golden update'"
        )
    expected_json = _as_json(ctx.golden)
    if expected_json is not None:
        actual = find_json(output)
        if actual is None:
            return AssertionResult(
                False, 0.0, f"golden is JSON but the output has none: {quoted(excerpt(output))}"
            )
        notes = json_differences(
            expected_json,
            actual,
            ignore_order=spec.ignore_order,
            tolerance=spec.tolerance,
            exclude_paths=spec.exclude_paths,
        )
        total = max(_leaf_count(expected_json), 1)
        score = max(0.0, 1 - len(notes) / total)
        threshold = spec.threshold if spec.threshold is not None else 1.0
        if not notes:
            return AssertionResult(True, 1.0, "JSON matches the golden output")
        more = f" (+{len(notes) - _MAX_NOTES} more)" if len(notes) > _MAX_NOTES else ""
        return AssertionResult(score >= threshold, score, "; ".join(notes[:_MAX_NOTES]) + more)
    score = text_similarity(ctx.golden, output)
    threshold = spec.threshold if spec.threshold is not None else DEFAULT_TEXT_THRESHOLD
    verdict = "matches" if score >= threshold else "differs from"
    return AssertionResult(
        score >= threshold,
        score,
        f"{verdict} the golden output (similarity {score:.2f}, needs {threshold:.2f}); "
        f"golden {quoted(excerpt(ctx.golden))}",
    )
