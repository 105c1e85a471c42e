"""The built-in assertion types, negation, and spec validation."""

from __future__ import annotations

from typing import Any

import pytest

from promptops.assertions import (
    AssertionContext,
    AssertionSpec,
    assertion_types,
    evaluate_assertion,
    validate_assertion,
)
from promptops.assertions.builtin import excerpt, find_json, parse_json_output, strip_code_fence

NO_CONTEXT = AssertionContext()

BUILTIN_TYPES = {
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "regex",
    "starts-with",
    "is-json",
    "contains-json",
    "json-schema",
    "json-match",
    "one-of",
    "word-count",
    "length",
    "latency",
    "cost",
}

TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["category", "priority"],
    "properties": {
        "category": {"type": "string", "enum": ["refund", "bug", "question"]},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
    },
}

FENCED_TICKET = 'Here you go:\n```json\n{"category": "refund", "priority": 2}\n```\nAnything else?'


def run(output: str, ctx: AssertionContext = NO_CONTEXT, **spec: Any) -> tuple[bool, float, str]:
    parsed = AssertionSpec(**spec)
    validate_assertion(parsed)
    result = evaluate_assertion(output, parsed, ctx)
    return result.passed, result.score, result.reason


def test_all_builtin_types_are_registered_with_a_description() -> None:
    types = assertion_types()
    assert BUILTIN_TYPES <= set(types)
    for name in BUILTIN_TYPES:
        assert types[name].description, name
        assert types[name].check is not None, name


# (output, spec, passed, score, text the reason must mention)
TEXT_CASES = [
    # equals
    pytest.param(
        "  refund \n", {"type": "equals", "value": "refund"}, True, 1.0, "refund", id="equals-stripped"
    ),
    pytest.param(
        "bug",
        {"type": "equals", "value": "refund"},
        False,
        0.0,
        "expected 'refund', got 'bug'",
        id="equals-mismatch",
    ),
    pytest.param("Refund", {"type": "equals", "value": "refund"}, False, 0.0, "'Refund'", id="equals-case"),
    pytest.param("42", {"type": "equals", "value": 42}, True, 1.0, "42", id="equals-number-as-text"),
    pytest.param(
        '{"b": [1, 2], "a": 1}',
        {"type": "equals", "value": {"a": 1, "b": [1, 2]}},
        True,
        1.0,
        "",
        id="equals-json-structural",
    ),
    pytest.param(
        "```json\n[1, 2]\n```", {"type": "equals", "value": [1, 2]}, True, 1.0, "", id="equals-json-fenced"
    ),
    pytest.param(
        '{"a": 2}', {"type": "equals", "value": {"a": 1}}, False, 0.0, '{"a": 2}', id="equals-json-mismatch"
    ),
    pytest.param(
        "not json",
        {"type": "equals", "value": {"a": 1}},
        False,
        0.0,
        "expected JSON",
        id="equals-json-unparsable",
    ),
    # contains / icontains
    pytest.param(
        "The capital is Paris.",
        {"type": "contains", "value": "Paris"},
        True,
        1.0,
        "found 'Paris'",
        id="contains-found",
    ),
    pytest.param(
        "The capital is paris.",
        {"type": "contains", "value": "Paris"},
        False,
        0.0,
        "missing 'Paris'",
        id="contains-case-sensitive",
    ),
    pytest.param(
        "Order 1234 shipped", {"type": "contains", "value": 1234}, True, 1.0, "'1234'", id="contains-number"
    ),
    pytest.param(
        "The capital is PARIS.",
        {"type": "icontains", "value": "paris"},
        True,
        1.0,
        "found 'paris'",
        id="icontains-found",
    ),
    pytest.param(
        "The capital is Lyon.",
        {"type": "icontains", "value": "paris"},
        False,
        0.0,
        "missing 'paris'",
        id="icontains-missing",
    ),
    # contains-any / contains-all and their case-insensitive forms
    pytest.param(
        "We will refund you",
        {"type": "contains-any", "value": ["refund", "credit"]},
        True,
        1.0,
        "found 'refund'",
        id="contains-any-found",
    ),
    pytest.param(
        "We will fix it",
        {"type": "contains-any", "value": ["refund", "credit"]},
        False,
        0.0,
        "none found of 'refund', 'credit'",
        id="contains-any-none",
    ),
    pytest.param(
        "Paris and Rome",
        {"type": "contains-all", "value": ["Paris", "Rome"]},
        True,
        1.0,
        "found all 2",
        id="contains-all-found",
    ),
    pytest.param(
        "Paris and Berlin",
        {"type": "contains-all", "value": ["Paris", "Rome", "Berlin", "Oslo"]},
        False,
        0.5,
        "missing 'Rome', 'Oslo' (2/4 found)",
        id="contains-all-partial",
    ),
    pytest.param(
        "Room 101 and 7",
        {"type": "contains-all", "value": [101, 7]},
        True,
        1.0,
        "'101'",
        id="contains-all-numbers",
    ),
    pytest.param(
        "WE WILL REFUND",
        {"type": "icontains-any", "value": ["refund", "credit"]},
        True,
        1.0,
        "found 'refund'",
        id="icontains-any-found",
    ),
    pytest.param(
        "nothing here",
        {"type": "icontains-any", "value": ["Refund"]},
        False,
        0.0,
        "'Refund'",
        id="icontains-any-none",
    ),
    pytest.param(
        "paris, ROME",
        {"type": "icontains-all", "value": ["Paris", "Rome"]},
        True,
        1.0,
        "found all",
        id="icontains-all-found",
    ),
    pytest.param(
        "paris only",
        {"type": "icontains-all", "value": ["Paris", "Rome", "Oslo"]},
        False,
        1 / 3,
        "missing 'Rome', 'Oslo'",
        id="icontains-all-partial",
    ),
    # regex / starts-with / one-of
    pytest.param(
        "Ticket ID: AB-1234",
        {"type": "regex", "value": r"[A-Z]{2}-\d{4}"},
        True,
        1.0,
        "'AB-1234'",
        id="regex-match",
    ),
    pytest.param(
        "Ticket ID: none",
        {"type": "regex", "value": r"[A-Z]{2}-\d{4}"},
        False,
        0.0,
        "did not match",
        id="regex-no-match",
    ),
    pytest.param(
        "\n  Dear customer, thanks",
        {"type": "starts-with", "value": "Dear"},
        True,
        1.0,
        "'Dear'",
        id="starts-with-after-whitespace",
    ),
    pytest.param(
        "Hi customer",
        {"type": "starts-with", "value": "Dear"},
        False,
        0.0,
        "expected start 'Dear', got 'Hi customer'",
        id="starts-with-mismatch",
    ),
    pytest.param(
        " bug\n", {"type": "one-of", "value": ["refund", "bug"]}, True, 1.0, "'bug'", id="one-of-found"
    ),
    pytest.param(
        "Bug",
        {"type": "one-of", "value": ["refund", "bug"]},
        False,
        0.0,
        "expected one of 'refund', 'bug', got 'Bug'",
        id="one-of-case-sensitive",
    ),
    pytest.param(
        "bug report",
        {"type": "one-of", "value": ["refund", "bug"]},
        False,
        0.0,
        "'bug report'",
        id="one-of-not-whole-output",
    ),
]


@pytest.mark.parametrize(("output", "spec", "passed", "score", "mention"), TEXT_CASES)
def test_text_assertions(output: str, spec: dict[str, Any], passed: bool, score: float, mention: str) -> None:
    got_passed, got_score, reason = run(output, **spec)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert mention in reason
    assert "\n" not in reason


JSON_CASES = [
    # is-json
    pytest.param(' {"a": 1} ', {"type": "is-json"}, True, 1.0, "output is JSON", id="is-json-plain"),
    pytest.param(
        '```json\n{"a": 1}\n```', {"type": "is-json"}, True, 1.0, "output is JSON", id="is-json-fenced"
    ),
    pytest.param("```\n[1, 2]\n```", {"type": "is-json"}, True, 1.0, "", id="is-json-fenced-no-language"),
    pytest.param('Sure! {"a": 1}', {"type": "is-json"}, False, 0.0, "not JSON", id="is-json-with-prose"),
    pytest.param('{"a": 1', {"type": "is-json"}, False, 0.0, "not JSON", id="is-json-truncated"),
    pytest.param(
        '{"category": "refund", "priority": 2}',
        {"type": "is-json", "value": TICKET_SCHEMA},
        True,
        1.0,
        "matches the schema",
        id="is-json-schema-ok",
    ),
    pytest.param(
        '{"category": "refund"}',
        {"type": "is-json", "value": TICKET_SCHEMA},
        False,
        0.0,
        "'priority' is a required property",
        id="is-json-schema-fails",
    ),
    # contains-json
    pytest.param(
        'Result: {"a": [1, 2]} done',
        {"type": "contains-json"},
        True,
        1.0,
        '{"a": [1, 2]}',
        id="contains-json-in-prose",
    ),
    pytest.param(
        "Braces {not json} then [1, 2]",
        {"type": "contains-json"},
        True,
        1.0,
        "[1, 2]",
        id="contains-json-skips-invalid",
    ),
    pytest.param(
        "no json here, just 42",
        {"type": "contains-json"},
        False,
        0.0,
        "no JSON object or array",
        id="contains-json-none",
    ),
    pytest.param(
        FENCED_TICKET,
        {"type": "contains-json", "value": TICKET_SCHEMA},
        True,
        1.0,
        "matches the schema",
        id="contains-json-fenced-schema",
    ),
    pytest.param(
        'x {"category": "other", "priority": 2}',
        {"type": "contains-json", "value": TICKET_SCHEMA},
        False,
        0.0,
        "$.category",
        id="contains-json-schema-fails",
    ),
    # json-schema
    pytest.param(
        FENCED_TICKET,
        {"type": "json-schema", "value": TICKET_SCHEMA},
        True,
        1.0,
        "matches the schema",
        id="json-schema-ok",
    ),
    pytest.param(
        '{"category": "bug", "priority": 9}',
        {"type": "json-schema", "value": TICKET_SCHEMA},
        False,
        0.0,
        "$.priority: 9 is greater than the maximum of 5",
        id="json-schema-violation",
    ),
    pytest.param(
        "I cannot help with that.",
        {"type": "json-schema", "value": TICKET_SCHEMA},
        False,
        0.0,
        "no JSON",
        id="json-schema-no-json",
    ),
]


@pytest.mark.parametrize(("output", "spec", "passed", "score", "mention"), JSON_CASES)
def test_json_assertions(output: str, spec: dict[str, Any], passed: bool, score: float, mention: str) -> None:
    got_passed, got_score, reason = run(output, **spec)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert mention in reason
    assert "\n" not in reason


TICKET = {"category": "refund", "priority": 2, "tags": ["billing", "urgent"]}

JSON_MATCH_CASES = [
    pytest.param(
        '{"category": "refund", "priority": 2, "tags": ["billing", "urgent"]}',
        {},
        True,
        1.0,
        "all 4 expected fields match",
        id="exact",
    ),
    pytest.param(
        '{"category": "bug", "priority": 2, "tags": ["billing", "urgent"]}',
        {},
        False,
        0.75,
        "root['category']: expected 'refund', got 'bug'",
        id="changed-field",
    ),
    pytest.param(
        '{"category": "refund", "tags": ["billing", "urgent"]}',
        {},
        False,
        0.75,
        "missing root['priority']",
        id="missing-field",
    ),
    pytest.param(
        '{"id": 7, "category": "refund", "priority": 2, "tags": ["billing", "urgent"], "note": "x"}',
        {},
        True,
        1.0,
        "all 4",
        id="extra-fields-ignored",
    ),
    pytest.param(
        '{"category": "refund", "priority": 2, "tags": ["urgent", "billing"]}',
        {},
        False,
        0.5,
        "root['tags'][0]: expected 'billing', got 'urgent'",
        id="order-matters-by-default",
    ),
    pytest.param(
        '{"category": "refund", "priority": 2, "tags": ["urgent", "billing"]}',
        {"ignore_order": True},
        True,
        1.0,
        "",
        id="ignore-order",
    ),
    pytest.param(
        '{"category": "refund", "priority": 2, "tags": ["billing", "urgent", "vip"]}',
        {},
        False,
        0.8,
        "unexpected root['tags'][2] = 'vip'",
        id="extra-list-item",
    ),
    pytest.param(
        '{"category": "bug", "priority": 3, "tags": ["billing", "urgent"]}',
        {"threshold": 0.5},
        True,
        0.5,
        "2/4 fields match",
        id="threshold-met",
    ),
    pytest.param(
        '{"category": "bug", "priority": 3, "tags": ["x", "y"]}',
        {"threshold": 0.5},
        False,
        0.0,
        "(+1 more)",
        id="threshold-missed-lists-three",
    ),
    pytest.param(
        '{"category": "bug", "priority": 2, "tags": ["billing", "urgent"]}',
        {"exclude_paths": ["root['category']"]},
        True,
        1.0,
        "all 3",
        id="exclude-paths",
    ),
    pytest.param(
        '{"category": "bug", "priority": 2, "tags": ["billing", "urgent"]}',
        {"exclude_paths": ["category"]},
        True,
        1.0,
        "",
        id="exclude-bare-key",
    ),
    pytest.param(
        'Sure, here is the ticket:\n```json\n{"category": "refund", "priority": 2, '
        '"tags": ["billing", "urgent"]}\n```\nLet me know.',
        {},
        True,
        1.0,
        "",
        id="fenced-in-prose",
    ),
    pytest.param(
        'Classified [see note 1] as {"category": "refund", "priority": 2.0, "tags": ["billing", "urgent"]}',
        {},
        True,
        1.0,
        "",
        id="prose-brackets-and-int-float",
    ),
    pytest.param("Sorry, I can't classify this.", {}, False, 0.0, "no JSON", id="no-json"),
    pytest.param('["refund"]', {}, False, 0.0, "root", id="wrong-root-type"),
]


@pytest.mark.parametrize(("output", "options", "passed", "score", "mention"), JSON_MATCH_CASES)
def test_json_match(output: str, options: dict[str, Any], passed: bool, score: float, mention: str) -> None:
    got_passed, got_score, reason = run(output, type="json-match", value=TICKET, **options)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert mention in reason
    assert "\n" not in reason


NESTED = {"customer": {"name": "Ada", "address": {"city": "London", "zip": "N1"}}, "total": 10.5}

NESTED_CASES = [
    pytest.param(
        '{"customer": {"name": "Ada", "address": {"city": "London", "zip": "N1", "line": "x"}}, '
        '"total": 10.5}',
        {},
        True,
        1.0,
        "",
        id="nested-subset",
    ),
    pytest.param(
        '{"customer": {"name": "Ada", "address": {"city": "Paris", "zip": "N1"}}, "total": 10.5}',
        {},
        False,
        0.75,
        "root['customer']['address']['city']: expected 'London', got 'Paris'",
        id="nested-changed",
    ),
    pytest.param(
        '{"customer": {"name": "Ada"}, "total": 10.5}',
        {},
        False,
        0.5,
        "missing root['customer']['address']",
        id="nested-missing-subtree",
    ),
    pytest.param(
        '{"customer": {"name": "Ada", "address": {"city": "London", "zip": "N1"}}, "total": 10.54}',
        {"tolerance": 0.05},
        True,
        1.0,
        "",
        id="tolerance-within",
    ),
    pytest.param(
        '{"customer": {"name": "Ada", "address": {"city": "London", "zip": "N1"}}, "total": 10.7}',
        {"tolerance": 0.05},
        False,
        0.75,
        "root['total']: expected 10.5, got 10.7",
        id="tolerance-exceeded",
    ),
    pytest.param(
        '{"customer": {"name": "Ada", "address": "London"}, "total": 10.5}',
        {},
        False,
        0.5,
        "root['customer']['address']",
        id="nested-type-change",
    ),
    pytest.param(
        '{"customer": {"name": "Ada", "address": {"city": "Paris", "zip": "N1"}}, "total": 10.5}',
        {"exclude_paths": ["root['customer']['address']"]},
        True,
        1.0,
        "all 2",
        id="exclude-subtree",
    ),
]


@pytest.mark.parametrize(("output", "options", "passed", "score", "mention"), NESTED_CASES)
def test_json_match_nested(
    output: str, options: dict[str, Any], passed: bool, score: float, mention: str
) -> None:
    got_passed, got_score, reason = run(output, type="json-match", value=NESTED, **options)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert mention in reason


LINES = [{"sku": "A", "qty": 1, "price": 2.0}, {"sku": "B", "qty": 3, "price": 5.0}]

UNORDERED_CASES = [
    pytest.param(
        '{"lines": [{"sku": "B", "qty": 3, "price": 5.0, "name": "bolt"}, {"sku": "A", "qty": 1, '
        '"price": 2.0}]}',
        {"ignore_order": True},
        True,
        1.0,
        "",
        id="unordered-dicts-with-extras",
    ),
    pytest.param(
        '{"lines": [{"sku": "B", "qty": 4, "price": 5.0}, {"sku": "A", "qty": 1, "price": 2.0}]}',
        {"ignore_order": True},
        False,
        5 / 6,
        "expected 3, got 4",
        id="unordered-one-change",
    ),
    pytest.param(
        '{"lines": [{"sku": "B", "qty": 3, "price": 5.01}, {"sku": "A", "qty": 1, "price": 1.99}]}',
        {"ignore_order": True, "tolerance": 0.02},
        True,
        1.0,
        "",
        id="unordered-with-tolerance",
    ),
    pytest.param(
        '{"lines": [{"sku": "B", "qty": 3, "price": 5.0}, {"sku": "A", "qty": 1, "price": 2.0}]}',
        {},
        False,
        0.0,
        "(+3 more)",
        id="ordered-swapped",
    ),
]


@pytest.mark.parametrize(("output", "options", "passed", "score", "mention"), UNORDERED_CASES)
def test_json_match_lists_of_objects(
    output: str, options: dict[str, Any], passed: bool, score: float, mention: str
) -> None:
    got_passed, got_score, reason = run(output, type="json-match", value={"lines": LINES}, **options)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert mention in reason


SIZE_CASES = [
    pytest.param(
        "one two three",
        {"type": "word-count", "min": 2, "max": 5},
        True,
        1.0,
        "3 words within [2, 5]",
        id="word-count-within",
    ),
    pytest.param(
        "one two three four",
        {"type": "word-count", "max": 2},
        False,
        0.5,
        "4 words outside [0, 2]",
        id="word-count-over",
    ),
    pytest.param(
        "one",
        {"type": "word-count", "min": 4},
        False,
        0.25,
        "1 words outside [4, inf]",
        id="word-count-under",
    ),
    pytest.param("", {"type": "word-count", "min": 1}, False, 0.0, "0 words", id="word-count-empty"),
    pytest.param(
        "  abcde  ",
        {"type": "length", "min": 5, "max": 5},
        True,
        1.0,
        "5 characters",
        id="length-stripped-exact",
    ),
    pytest.param(
        "a" * 200,
        {"type": "length", "max": 50},
        False,
        0.25,
        "200 characters outside [0, 50]",
        id="length-over",
    ),
    pytest.param("abc", {"type": "length", "min": 12}, False, 0.25, "3 characters", id="length-under"),
]


@pytest.mark.parametrize(("output", "spec", "passed", "score", "mention"), SIZE_CASES)
def test_size_assertions(output: str, spec: dict[str, Any], passed: bool, score: float, mention: str) -> None:
    got_passed, got_score, reason = run(output, **spec)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert mention in reason


BUDGET_CASES = [
    pytest.param(
        {"type": "latency", "max": 1000},
        AssertionContext(latency_ms=800),
        True,
        1.0,
        "800 ms <= limit",
        id="latency-within-max",
    ),
    pytest.param(
        {"type": "latency", "value": 1000},
        AssertionContext(latency_ms=1000),
        True,
        1.0,
        "1000 ms",
        id="latency-value-boundary",
    ),
    pytest.param(
        {"type": "latency", "max": 1000},
        AssertionContext(latency_ms=4000),
        False,
        0.25,
        "4000 ms > limit 1000 ms",
        id="latency-over",
    ),
    pytest.param(
        {"type": "latency", "max": 1000},
        AssertionContext(),
        False,
        0.0,
        "latency unknown",
        id="latency-unknown",
    ),
    pytest.param(
        {"type": "cost", "max": 0.01}, AssertionContext(cost_usd=0.002), True, 1.0, "$0.002", id="cost-within"
    ),
    pytest.param(
        {"type": "cost", "value": 0.01},
        AssertionContext(cost_usd=0.04),
        False,
        0.25,
        "> limit $0.01",
        id="cost-over",
    ),
    pytest.param(
        {"type": "cost", "max": 0.01},
        AssertionContext(latency_ms=5),
        False,
        0.0,
        "cost unknown",
        id="cost-unknown",
    ),
]


@pytest.mark.parametrize(("spec", "ctx", "passed", "score", "mention"), BUDGET_CASES)
def test_budget_assertions(
    spec: dict[str, Any], ctx: AssertionContext, passed: bool, score: float, mention: str
) -> None:
    got_passed, got_score, reason = run("any output", ctx, **spec)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert mention in reason


NEGATION_CASES = [
    pytest.param(
        "Sorry, I cannot",
        {"type": "not-contains", "value": "As an AI"},
        True,
        1.0,
        "missing 'As an AI'",
        id="not-contains-passes",
    ),
    pytest.param(
        "As an AI model",
        {"type": "not-icontains", "value": "as an ai"},
        False,
        0.0,
        "found 'as an ai'",
        id="not-icontains-fails",
    ),
    pytest.param(
        "Paris only",
        {"type": "not-contains-all", "value": ["Paris", "Rome", "Oslo", "Bern"]},
        True,
        0.75,
        "missing",
        id="not-contains-all-inverts-partial-score",
    ),
    pytest.param(
        "call 555-1234",
        {"type": "not-regex", "value": r"\d{3}-\d{4}"},
        False,
        0.0,
        "'555-1234'",
        id="not-regex-fails",
    ),
    pytest.param("plain text", {"type": "not-is-json"}, True, 1.0, "not JSON", id="not-is-json-passes"),
    pytest.param(
        '{"category": "bug", "priority": 2, "tags": ["billing", "urgent"]}',
        {"type": "not-json-match", "value": TICKET},
        True,
        0.25,
        "expected 'refund', got 'bug'",
        id="not-json-match",
    ),
    pytest.param("a b c d", {"type": "not-word-count", "max": 2}, True, 0.5, "4 words", id="not-word-count"),
    pytest.param("x", {"type": "not-one-of", "value": ["x", "y"]}, False, 0.0, "'x'", id="not-one-of"),
]


@pytest.mark.parametrize(("output", "spec", "passed", "score", "mention"), NEGATION_CASES)
def test_negation_inverts_verdict_and_score(
    output: str, spec: dict[str, Any], passed: bool, score: float, mention: str
) -> None:
    got_passed, got_score, reason = run(output, **spec)
    assert (got_passed, got_score) == (passed, pytest.approx(score))
    assert reason.startswith("not (")
    assert mention in reason


INVALID_SPECS = [
    pytest.param(
        {"type": "contains-some", "value": "x"}, "unknown assertion type 'contains-some'", id="unknown-type"
    ),
    pytest.param(
        {"type": "not-frobnicate", "value": "x"},
        "unknown assertion type 'not-frobnicate'",
        id="not-unknown-type",
    ),
    pytest.param(
        {"type": "regex", "value": "([a-z"},
        "invalid regex '([a-z': unterminated character set",
        id="bad-regex",
    ),
    pytest.param({"type": "not-regex", "value": "*oops"}, "nothing to repeat", id="not-bad-regex"),
    pytest.param({"type": "regex", "value": 5}, "must be a regex string", id="regex-not-string"),
    pytest.param({"type": "regex"}, "regex: missing value", id="regex-missing"),
    pytest.param({"type": "contains"}, "contains: missing value", id="contains-missing"),
    pytest.param(
        {"type": "icontains", "value": ["a"]}, "value must be a string, got list", id="contains-list"
    ),
    pytest.param({"type": "contains", "value": True}, "value must be a string, got bool", id="contains-bool"),
    pytest.param({"type": "equals"}, "equals: missing value", id="equals-missing"),
    pytest.param({"type": "starts-with", "value": {"a": 1}}, "must be a string", id="starts-with-dict"),
    pytest.param({"type": "contains-any", "value": "refund"}, "non-empty list of strings", id="any-not-list"),
    pytest.param({"type": "contains-all", "value": []}, "non-empty list of strings", id="all-empty-list"),
    pytest.param(
        {"type": "icontains-all", "value": ["a", None]},
        "list items must be strings, got NoneType",
        id="all-none-item",
    ),
    pytest.param({"type": "one-of"}, "one-of: missing value", id="one-of-missing"),
    pytest.param(
        {"type": "is-json", "value": {"type": "objekt"}}, "is-json: invalid JSON schema", id="bad-schema"
    ),
    pytest.param(
        {"type": "contains-json", "value": {"minimum": "zero"}},
        "invalid JSON schema",
        id="bad-schema-contains-json",
    ),
    pytest.param({"type": "json-schema"}, "json-schema: missing value (a JSON schema)", id="schema-missing"),
    pytest.param(
        {"type": "json-schema", "value": "object"},
        "must be a JSON schema object, got str",
        id="schema-not-dict",
    ),
    pytest.param({"type": "json-match"}, "json-match: missing value", id="json-match-missing"),
    pytest.param(
        {"type": "json-match", "value": "refund"}, "JSON object or array, got str", id="json-match-scalar"
    ),
    pytest.param(
        {"type": "json-match", "value": {"a": 1}, "threshold": 1.5},
        "threshold must be between 0 and 1",
        id="json-match-threshold",
    ),
    pytest.param(
        {"type": "json-match", "value": {"a": 1}, "tolerance": -1},
        "tolerance must be >= 0",
        id="json-match-tolerance",
    ),
    pytest.param(
        {"type": "word-count", "min": 10, "max": 5}, "min (10) is greater than max (5)", id="min-over-max"
    ),
    pytest.param({"type": "length"}, "length: needs min and/or max", id="length-no-bounds"),
    pytest.param({"type": "length", "min": -1}, "min must be >= 0", id="length-negative"),
    pytest.param({"type": "word-count", "value": 5}, "not value", id="word-count-value"),
    pytest.param({"type": "latency"}, "latency: needs a threshold", id="latency-no-threshold"),
    pytest.param(
        {"type": "cost", "value": "cheap"}, "non-negative number, got 'cheap'", id="cost-not-number"
    ),
    pytest.param({"type": "cost", "max": 1, "value": 2}, "give the threshold once", id="cost-twice"),
]


@pytest.mark.parametrize(("spec", "message"), INVALID_SPECS)
def test_validate_rejects_unusable_specs(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_assertion(AssertionSpec(**spec))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_type_message_lists_known_types() -> None:
    with pytest.raises(ValueError, match="known types: .*contains-all.*json-match.*word-count"):
        validate_assertion(AssertionSpec(type="jsonmatch", value={}))


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"type": "equals", "value": {"a": [1]}}, id="equals-json"),
        pytest.param({"type": "is-json"}, id="is-json-no-schema"),
        pytest.param({"type": "json-schema", "value": TICKET_SCHEMA}, id="json-schema"),
        pytest.param({"type": "word-count", "min": 3}, id="word-count-min-only"),
        pytest.param({"type": "length", "min": 5, "max": 5}, id="length-equal-bounds"),
        pytest.param({"type": "latency", "value": 2000}, id="latency-value"),
        pytest.param({"type": "not-contains-any", "value": ["x", 3]}, id="not-any-with-number"),
    ],
)
def test_validate_accepts_usable_specs(spec: dict[str, Any]) -> None:
    validate_assertion(AssertionSpec(**spec))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"a": 1}', {"a": 1}, id="bare-object"),
        pytest.param('The answer: [1, {"b": 2}] as requested', [1, {"b": 2}], id="array-in-prose"),
        pytest.param('Note {weird} then {"ok": true} and {"second": 1}', {"ok": True}, id="first-valid"),
        pytest.param('See [1].\n```json\n{"x": 1}\n```', {"x": 1}, id="fenced-block-wins"),
        pytest.param("just text 42", None, id="nothing"),
        pytest.param('"a string"', None, id="scalar-not-found"),
    ],
)
def test_find_json(text: str, expected: Any) -> None:
    assert find_json(text) == expected


def test_parse_helpers() -> None:
    assert strip_code_fence('```json\n{"a": 1}\n```\n') == '{"a": 1}'
    assert strip_code_fence("  plain  ") == "plain"
    assert parse_json_output("```\n[1]\n```") == [1]
    with pytest.raises(ValueError):
        parse_json_output('prose {"a": 1}')


def test_excerpt_is_one_short_line() -> None:
    text = "line one\nline two " + "x" * 100
    short = excerpt(text)
    assert "\n" not in short
    assert len(short) == 60
    assert short.endswith("...")
    assert excerpt("short") == "short"


def test_long_outputs_are_truncated_in_reasons() -> None:
    _, _, reason = run("word " * 200, type="contains", value="Paris")
    assert len(reason) < 120
    assert "..." in reason
