"""The built-in deterministic assertion types (names follow promptfoo's).

Each type is one small function registered with ``register_assertion``; its
``check`` function rejects unusable specs when the suite is loaded, so the
assertion functions themselves can trust ``spec.value``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from promptops.assertions.base import (
    AssertionContext,
    AssertionResult,
    AssertionSpec,
    register_assertion,
)
from promptops.assertions.regex_worker import REGEX_TIMEOUT_S, RegexTimeout, bounded_search

__all__ = ["excerpt", "find_json", "parse_json_output", "strip_code_fence"]

EXCERPT_CHARS = 60
MAX_LISTED_DIFFS = 3

# A whole output that is one fenced block, e.g. ```json\n{...}\n```.
_WHOLE_FENCE = re.compile(r"\A```[\w+-]*[ \t]*\n(.*?)\n?[ \t]*```\Z", re.DOTALL)
# A fenced block anywhere in the output; models put their JSON there on purpose.
_ANY_FENCE = re.compile(r"```[\w+-]*[ \t]*\n(.*?)```", re.DOTALL)


# --- shared helpers -----------------------------------------------------------------------------


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters, for use in reasons."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def quoted(value: Any) -> str:
    """A short rendering of ``value`` for reasons: strings quoted, other values as JSON."""
    if isinstance(value, str):
        return repr(excerpt(value))
    return excerpt(json.dumps(value, default=str))


def strip_code_fence(text: str) -> str:
    """The stripped text, or the body of the fenced block when the whole text is one."""
    stripped = text.strip()
    match = _WHOLE_FENCE.match(stripped)
    return match.group(1).strip() if match else stripped


def parse_json_output(text: str) -> Any:
    """Parse the whole output (optionally one fenced block) as JSON; raises ``ValueError``."""
    try:
        return json.loads(strip_code_fence(text))
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


def _scan_json(text: str) -> Any | None:
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, index)
            except json.JSONDecodeError:
                continue
            except RecursionError:
                # every later bracket starts inside the same runaway nesting: scanning on would
                # cost a recursion per character (200 KB of "[" took 18 s)
                return None
            return value
    return None


def find_json(text: str) -> Any | None:
    """The first JSON object or array in ``text`` (fenced blocks first), or ``None``."""
    # Prose around JSON often holds brackets such as citations "[1]"; a fenced
    # block is where the model deliberately put its JSON, so it wins.
    for match in _ANY_FENCE.finditer(text):
        found = _scan_json(match.group(1))
        if found is not None:
            return found
    return _scan_json(text)


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but true/false are never meant as numbers here.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return str(value)


def _texts(value: Any) -> list[str]:
    return [str(item) for item in value]


def _schema_error(schema: dict[str, Any], instance: Any) -> str | None:
    """The most relevant validation error as 'path: message', or ``None`` when valid."""
    # deepdiff and jsonschema (with numpy) load only when an assertion needs them: most suites never do
    from jsonschema import exceptions as jsonschema_exceptions
    from jsonschema import validators as jsonschema_validators

    validator = jsonschema_validators.validator_for(schema)(schema)
    error = jsonschema_exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return None
    return f"{error.json_path}: {excerpt(error.message, 100)}"


def _graded(actual: float, low: float | None, high: float | None) -> float:
    """1 within bounds, else the ratio of the bound to the actual value (or vice versa)."""
    if high is not None and actual > high:
        return high / actual if actual > 0 else 0.0
    if low is not None and actual < low:
        return actual / low if low > 0 else 0.0
    return 1.0


def _result(passed: bool, reason: str, score: float | None = None) -> AssertionResult:
    return AssertionResult(passed, (1.0 if passed else 0.0) if score is None else score, reason)


# --- spec checks --------------------------------------------------------------------------------


def _missing(spec: AssertionSpec, what: str) -> ValueError:
    return ValueError(f"{spec.type}: missing value ({what})")


def _check_text(spec: AssertionSpec) -> None:
    if spec.value is None:
        raise _missing(spec, "the text to look for")
    if not isinstance(spec.value, str) and not _is_number(spec.value):
        raise ValueError(f"{spec.type}: value must be a string, got {type(spec.value).__name__}")


def _check_text_list(spec: AssertionSpec) -> None:
    if spec.value is None:
        raise _missing(spec, "a list of strings")
    if not isinstance(spec.value, list) or not spec.value:
        raise ValueError(f"{spec.type}: value must be a non-empty list of strings")
    for item in spec.value:
        if not isinstance(item, str) and not _is_number(item):
            raise ValueError(f"{spec.type}: list items must be strings, got {type(item).__name__}")


def _check_equals(spec: AssertionSpec) -> None:
    if isinstance(spec.value, (dict, list)):
        return
    _check_text(spec)


def _check_regex(spec: AssertionSpec) -> None:
    if spec.value is None:
        raise _missing(spec, "a regular expression")
    if not isinstance(spec.value, str):
        raise ValueError(f"{spec.type}: value must be a regex string, got {type(spec.value).__name__}")
    try:
        re.compile(spec.value)
    except re.error as err:
        raise ValueError(f"{spec.type}: invalid regex {spec.value!r}: {err}") from None


def _check_schema_value(spec: AssertionSpec) -> None:
    if not isinstance(spec.value, dict):
        raise ValueError(f"{spec.type}: value must be a JSON schema object, got {type(spec.value).__name__}")
    from jsonschema import exceptions as jsonschema_exceptions
    from jsonschema import validators as jsonschema_validators

    try:
        jsonschema_validators.validator_for(spec.value).check_schema(spec.value)
    except jsonschema_exceptions.SchemaError as err:
        raise ValueError(f"{spec.type}: invalid JSON schema: {excerpt(err.message, 120)}") from None


def _check_optional_schema(spec: AssertionSpec) -> None:
    if spec.value is not None:
        _check_schema_value(spec)


def _check_required_schema(spec: AssertionSpec) -> None:
    if spec.value is None:
        raise _missing(spec, "a JSON schema")
    _check_schema_value(spec)


def _check_json_match(spec: AssertionSpec) -> None:
    if spec.value is None:
        raise _missing(spec, "the expected JSON object or array")
    if not isinstance(spec.value, (dict, list)):
        kind = type(spec.value).__name__
        raise ValueError(f"{spec.type}: value must be a JSON object or array, got {kind}")
    if spec.threshold is not None and not 0.0 <= spec.threshold <= 1.0:
        raise ValueError(f"{spec.type}: threshold must be between 0 and 1, got {spec.threshold}")
    if spec.tolerance < 0:
        raise ValueError(f"{spec.type}: tolerance must be >= 0, got {spec.tolerance}")


def _check_bounds(spec: AssertionSpec) -> None:
    if spec.value is not None:
        raise ValueError(f"{spec.type}: give bounds as min and/or max, not value")
    if spec.min is None and spec.max is None:
        raise ValueError(f"{spec.type}: needs min and/or max")
    for name, bound in (("min", spec.min), ("max", spec.max)):
        if bound is not None and bound < 0:
            raise ValueError(f"{spec.type}: {name} must be >= 0, got {bound:g}")
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        raise ValueError(f"{spec.type}: min ({spec.min:g}) is greater than max ({spec.max:g})")


def _check_limit(spec: AssertionSpec) -> None:
    if spec.max is not None and spec.value is not None:
        raise ValueError(f"{spec.type}: give the threshold once, as max or as value")
    limit = spec.max if spec.max is not None else spec.value
    if limit is None:
        raise ValueError(f"{spec.type}: needs a threshold (max or value)")
    if not _is_number(limit) or limit < 0:
        raise ValueError(f"{spec.type}: threshold must be a non-negative number, got {limit!r}")


# --- text matching ------------------------------------------------------------------------------


@register_assertion("equals", check=_check_equals)
def equals(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The stripped output equals the value (compared as JSON when the value is an object or array)."""
    if isinstance(spec.value, (dict, list)):
        try:
            actual: Any = parse_json_output(output)
        except ValueError:
            return _result(False, f"expected JSON, got {quoted(output)}")
        return _result(actual == spec.value, f"expected {quoted(spec.value)}, got {quoted(actual)}")
    expected = _text(spec.value)
    stripped = output.strip()
    return _result(stripped == expected, f"expected {quoted(expected)}, got {quoted(stripped)}")


def _contains(output: str, spec: AssertionSpec, fold: bool) -> AssertionResult:
    needle = _text(spec.value)
    found = needle.casefold() in output.casefold() if fold else needle in output
    if found:
        return _result(True, f"found {quoted(needle)}")
    return _result(False, f"missing {quoted(needle)} in {quoted(output)}")


def _partition(output: str, spec: AssertionSpec, fold: bool) -> tuple[list[str], list[str]]:
    haystack = output.casefold() if fold else output
    found: list[str] = []
    missing: list[str] = []
    for needle in _texts(spec.value):
        (found if (needle.casefold() if fold else needle) in haystack else missing).append(needle)
    return found, missing


def _listing(items: list[str]) -> str:
    return ", ".join(quoted(item) for item in items)


def _contains_any(output: str, spec: AssertionSpec, fold: bool) -> AssertionResult:
    found, missing = _partition(output, spec, fold)
    if found:
        return _result(True, f"found {_listing(found)}")
    return _result(False, f"none found of {_listing(missing)}")


def _contains_all(output: str, spec: AssertionSpec, fold: bool) -> AssertionResult:
    found, missing = _partition(output, spec, fold)
    total = len(found) + len(missing)
    if not missing:
        return _result(True, f"found all {total}: {_listing(found)}")
    return _result(False, f"missing {_listing(missing)} ({len(found)}/{total} found)", len(found) / total)


@register_assertion("contains", check=_check_text)
def contains(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output contains the value (case-sensitive)."""
    return _contains(output, spec, fold=False)


@register_assertion("icontains", check=_check_text)
def icontains(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output contains the value, ignoring case."""
    return _contains(output, spec, fold=True)


@register_assertion("contains-any", check=_check_text_list)
def contains_any(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output contains at least one of the listed strings (case-sensitive)."""
    return _contains_any(output, spec, fold=False)


@register_assertion("contains-all", check=_check_text_list)
def contains_all(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output contains every listed string (case-sensitive); score is the share found."""
    return _contains_all(output, spec, fold=False)


@register_assertion("icontains-any", check=_check_text_list)
def icontains_any(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output contains at least one of the listed strings, ignoring case."""
    return _contains_any(output, spec, fold=True)


@register_assertion("icontains-all", check=_check_text_list)
def icontains_all(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output contains every listed string, ignoring case; score is the share found."""
    return _contains_all(output, spec, fold=True)


@register_assertion("regex", check=_check_regex)
def regex(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The regular expression matches somewhere in the output (``re.search``)."""
    try:
        # a worker process with a deadline: a backtracking pattern cannot stall the run
        matched = bounded_search(spec.value, output)
    except RegexTimeout:
        return AssertionResult(
            False,
            0.0,
            f"/{spec.value}/ did not finish within {REGEX_TIMEOUT_S:g} s on {len(output):,} characters "
            "(catastrophic backtracking? make the pattern's repetitions unambiguous)",
            error=True,
        )
    if matched is not None:
        return _result(True, f"/{spec.value}/ matched {quoted(matched)}")
    return _result(False, f"/{spec.value}/ did not match {quoted(output)}")


@register_assertion("starts-with", check=_check_text)
def starts_with(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output, ignoring leading whitespace, starts with the value."""
    prefix = _text(spec.value)
    stripped = output.lstrip()
    if stripped.startswith(prefix):
        return _result(True, f"starts with {quoted(prefix)}")
    return _result(False, f"expected start {quoted(prefix)}, got {quoted(stripped[: max(len(prefix), 20)])}")


@register_assertion("one-of", check=_check_text_list)
def one_of(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The stripped output equals one of the listed strings (case-sensitive)."""
    stripped = output.strip()
    options = _texts(spec.value)
    if stripped in options:
        return _result(True, f"{quoted(stripped)} is one of the options")
    return _result(False, f"expected one of {_listing(options)}, got {quoted(stripped)}")


# --- JSON ---------------------------------------------------------------------------------------


def _validated(found: Any, schema: dict[str, Any] | None, what: str) -> AssertionResult:
    if schema is None:
        return _result(True, f"{what}: {quoted(json.dumps(found))}")
    error = _schema_error(schema, found)
    if error is None:
        return _result(True, f"{what} and it matches the schema")
    return _result(False, f"{what} but it fails the schema at {error}")


@register_assertion("is-json", check=_check_optional_schema)
def is_json(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The whole output (optionally one fenced block) is JSON, valid against the schema if given."""
    try:
        parsed = parse_json_output(output)
    except ValueError as err:
        return _result(False, f"output is not JSON ({excerpt(str(err))}): {quoted(output)}")
    return _validated(parsed, spec.value, "output is JSON")


@register_assertion("contains-json", check=_check_optional_schema)
def contains_json(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The output contains a JSON object or array, valid against the schema if given."""
    found = find_json(output)
    if found is None:
        return _result(False, f"no JSON object or array in {quoted(output)}")
    return _validated(found, spec.value, "output contains JSON")


@register_assertion("json-schema", check=_check_required_schema)
def json_schema(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The JSON found in the output validates against the schema in ``value``."""
    found = find_json(output)
    if found is None:
        return _result(False, f"no JSON object or array in {quoted(output)}")
    error = _schema_error(spec.value, found)
    if error is None:
        return _result(True, "JSON matches the schema")
    return _result(False, f"schema violation at {error}")


# json-match compares only what ``value`` mentions: the output is first cut down
# to the expected shape, then DeepDiff reports what still differs.


def _overlap(actual: Any, expected: Any) -> int:
    """How many expected leaves ``actual`` reproduces; picks partners for unordered lists."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return sum(_overlap(actual[key], value) for key, value in expected.items() if key in actual)
    if isinstance(expected, list) and isinstance(actual, list):
        return sum(_overlap(a, e) for a, e in zip(actual, expected, strict=False))
    return int(actual == expected)


def _project(actual: Any, expected: Any, ignore_order: bool) -> Any:
    """``actual`` without the dict keys that ``expected`` does not mention."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {
            key: _project(value, expected[key], ignore_order)
            for key, value in actual.items()
            if key in expected
        }
    if isinstance(expected, list) and isinstance(actual, list) and expected:
        if ignore_order:

            def partner(item: Any) -> Any:
                return max(expected, key=lambda candidate: _overlap(item, candidate))

            return [_project(item, partner(item), ignore_order) for item in actual]
        paired = [_project(a, e, ignore_order) for a, e in zip(actual, expected, strict=False)]
        return paired + actual[len(expected) :]
    return actual


def _normalise_path(path: str) -> str:
    # Let suites write a bare top-level key ("id") as shorthand for root['id'].
    return path if path.startswith("root") else f"root[{path!r}]"


def _excluded(path: str, excluded: list[str]) -> bool:
    return any(path == ex or path.startswith(ex + "[") for ex in excluded)


def _leaves(value: Any, path: str, excluded: list[str]) -> int:
    """Leaf count of ``value`` (scalars and empty containers), skipping excluded paths."""
    if _excluded(path, excluded):
        return 0
    if isinstance(value, dict) and value:
        return sum(_leaves(item, f"{path}[{key!r}]", excluded) for key, item in value.items())
    if isinstance(value, list) and value:
        return sum(_leaves(item, f"{path}[{index}]", excluded) for index, item in enumerate(value))
    return 1


def _within_tolerance(level: Any, tolerance: float) -> bool:
    # DeepDiff ignores math_epsilon inside nested unordered lists, so numbers
    # are compared here; this also treats 3 and 3.0 as equal.
    return _is_number(level.t1) and _is_number(level.t2) and abs(level.t1 - level.t2) <= tolerance


_MISSING_KINDS = ("dictionary_item_removed", "iterable_item_removed")
_CHANGED_KINDS = ("values_changed", "type_changes")
_EXTRA_KINDS = ("dictionary_item_added", "iterable_item_added")


def _describe(kind: str, level: Any) -> str:
    if kind in _MISSING_KINDS:
        return f"missing {level.path()}"
    if kind in _EXTRA_KINDS:
        return f"unexpected {level.path(use_t2=True)} = {quoted(level.t2)}"
    return f"{level.path()}: expected {quoted(level.t1)}, got {quoted(level.t2)}"


def _tally(diff: Any, excluded: list[str], tolerance: float) -> tuple[int, int, list[str]]:
    """Expected leaves that fail, unexpected extra items, and a note per difference."""
    failed, extra, notes = 0, 0, []
    for kind in (*_CHANGED_KINDS, *_MISSING_KINDS, *_EXTRA_KINDS):
        for level in diff.get(kind, []):
            if kind in _CHANGED_KINDS and _within_tolerance(level, tolerance):
                continue
            if kind in _EXTRA_KINDS:
                extra += 1
            else:
                failed += _leaves(level.t1, level.path(), excluded)
            notes.append(_describe(kind, level))
    return failed, extra, notes


@register_assertion("json-match", check=_check_json_match)
def json_match(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The JSON in the output matches the fields given in ``value``; score is the share that match."""
    found = find_json(output)
    if found is None:
        return _result(False, f"no JSON object or array in {quoted(output)}")
    excluded = [_normalise_path(path) for path in spec.exclude_paths]
    from deepdiff import DeepDiff

    diff = DeepDiff(
        spec.value,
        _project(found, spec.value, spec.ignore_order),
        ignore_order=spec.ignore_order,
        exclude_paths=excluded or None,
        # Always pair up unordered items so a changed field reads as one change,
        # not as a whole item missing plus another unexpected.
        cutoff_distance_for_pairs=1.0,
        cutoff_intersection_for_pairs=1.0,
        view="tree",
    )
    total = _leaves(spec.value, "root", excluded)
    failed, extra, notes = _tally(diff, excluded, spec.tolerance)
    matched = max(0, total - failed)
    score = matched / (total + extra) if total + extra else 1.0
    passed = score >= (spec.threshold if spec.threshold is not None else 1.0)
    if not notes:
        return _result(True, f"all {total} expected fields match", score)
    more = f" (+{len(notes) - MAX_LISTED_DIFFS} more)" if len(notes) > MAX_LISTED_DIFFS else ""
    summary = f"{matched}/{total} fields match; " + "; ".join(notes[:MAX_LISTED_DIFFS]) + more
    return _result(passed, summary, score)


# --- size and budgets ---------------------------------------------------------------------------


def _bounded(actual: float, spec: AssertionSpec, unit: str) -> AssertionResult:
    score = _graded(actual, spec.min, spec.max)
    low = f"{spec.min:g}" if spec.min is not None else "0"
    high = f"{spec.max:g}" if spec.max is not None else "inf"
    verdict = "within" if score == 1.0 else "outside"
    return _result(score == 1.0, f"{actual:g} {unit} {verdict} [{low}, {high}]", score)


@register_assertion("word-count", check=_check_bounds)
def word_count(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The number of whitespace-separated words lies within [min, max]."""
    return _bounded(len(output.split()), spec, "words")


@register_assertion("length", check=_check_bounds)
def length(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The number of characters of the stripped output lies within [min, max]."""
    return _bounded(len(output.strip()), spec, "characters")


def _within_limit(
    actual: float | None, spec: AssertionSpec, what: str, show: Callable[[float], str]
) -> AssertionResult:
    limit = float(spec.max if spec.max is not None else spec.value)
    if actual is None:
        return _result(False, f"{what} unknown (limit {show(limit)})")
    score = _graded(actual, None, limit)
    relation = "<=" if actual <= limit else ">"
    return _result(actual <= limit, f"{what} {show(actual)} {relation} limit {show(limit)}", score)


@register_assertion("latency", check=_check_limit)
def latency(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The call took at most the threshold in milliseconds (``max`` or ``value``)."""
    return _within_limit(ctx.latency_ms, spec, "latency", lambda ms: f"{ms:g} ms")


@register_assertion("cost", check=_check_limit)
def cost(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """The call cost at most the threshold in USD (``max`` or ``value``)."""
    return _within_limit(ctx.cost_usd, spec, "cost", lambda usd: f"${usd:.6g}")
