"""Model-graded and semantic assertion types (names and semantics follow promptfoo's).

Judges (``llm-rubric``, ``factuality``, ``g-eval``, ``answer-relevance``,
``context-faithfulness``, ``context-recall``, ``context-relevance``) render a
versioned judge prompt (``promptops/judges/*.j2``, overridable by a project's
``prompts/_judges/<type>.j2``) and parse the judge's answer here. Each type is
written for one judge answer (a *vote*); with ``--judge-repeat K`` the same
question is asked K times and the majority of the understood votes decides.
An answer that cannot be understood is never a pass: with no majority, the
assertion is errored and its reason quotes the raw answer.

``similar`` compares embeddings of the output and a reference by cosine.
The calls themselves go through the ``Grader`` the runner supplies, so they
are cached, recorded for replay, retried and counted like any other call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from promptops.assertions.base import (
    AssertionContext,
    AssertionResult,
    AssertionSpec,
    Grader,
    JudgeCallError,
    register_graded_assertion,
)
from promptops.assertions.builtin import excerpt, find_json, quoted
from promptops.embeddings import cosine

DEFAULT_THRESHOLDS = {
    "similar": 0.75,
    "g-eval": 0.7,
    "answer-relevance": 0.7,
    "context-faithfulness": 1.0,
    "context-recall": 1.0,
}
"""Pass marks for score-based types when the assertion gives no ``threshold``."""
FACTUALITY_PASSING = frozenset("ABCE")
"""Factuality categories that pass: all but (D), a disagreement with the reference."""
RAW_CHARS = 200
"""How much of a judge's raw answer an errored assertion quotes."""


class JudgeAnswerError(ValueError):
    """The judge's answer does not have the expected form."""

    raw: str | None = None
    """The answer as the judge gave it."""


@contextmanager
def _about(answer: str) -> Iterator[None]:
    """Attach the raw ``answer`` to a parse error raised inside, so the errored assertion can quote it."""
    try:
        yield
    except JudgeAnswerError as exc:
        exc.raw = answer
        raise


@dataclass(frozen=True)
class Vote:
    passed: bool
    score: float
    reason: str


VoteFn = Callable[[str, AssertionSpec, AssertionContext, Grader, int], Awaitable[Vote]]


# --- answer parsing -----------------------------------------------------------------------------


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "pass", "passed"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "fail", "failed"):
        return False
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _json_object(answer: str) -> dict[str, Any] | None:
    found = find_json(answer)
    return found if isinstance(found, dict) else None


_VERDICT_LINE = re.compile(r"^\W*(pass|fail)(?:ed)?\b\W*(.*)", re.IGNORECASE | re.DOTALL)


def parse_rubric_answer(answer: str) -> tuple[bool, float | None, str]:
    """``{"pass": bool, "score": 0..1, "reason": str}``, or a first line starting PASS or FAIL."""
    data = _json_object(answer)
    if data is not None:
        passed = _as_bool(data.get("pass", data.get("passed")))
        score = _as_number(data.get("score"))
        if score is not None and not 0.0 <= score <= 1.0:
            raise JudgeAnswerError(f"score {score:g} is outside [0, 1]")
        if passed is None and score is None:
            raise JudgeAnswerError("the JSON has neither 'pass' nor 'score'")
        if passed is None:
            passed = score is not None and score >= 0.5
        return passed, score, str(data.get("reason") or "").strip()
    match = _VERDICT_LINE.match(answer.strip())
    if match:
        return match.group(1).lower() == "pass", None, match.group(2).strip()
    raise JudgeAnswerError("expected JSON with 'pass' and 'reason', or a line starting PASS or FAIL")


# "(B) ...", "B." or "B)" at the very start, or the letter after "category", "answer" or "choice"
_LEADING_CATEGORY = re.compile(r"^\(([A-E])\)|^([A-E])(?:$|[).:])", re.IGNORECASE)
_NAMED_CATEGORY = re.compile(r"\b(?:category|answer|choice)\W{0,3}\(?([A-E])\)?(?=$|\W)", re.IGNORECASE)


def parse_factuality_answer(answer: str) -> tuple[str, str]:
    """``{"category": "A".."E", "reason": str}``, or "(B) ..." at the start, or "Category: B"."""
    data = _json_object(answer)
    if data is not None and isinstance(data.get("category"), str):
        letter = data["category"].strip().strip("()").upper()
        if letter in ("A", "B", "C", "D", "E"):
            return letter, str(data.get("reason") or "").strip()
        raise JudgeAnswerError(f"category {data['category']!r} is not one of A-E")
    text = answer.strip()
    match = _LEADING_CATEGORY.match(text) or _NAMED_CATEGORY.search(text)
    if match:
        letter = next(group for group in match.groups() if group)
        return letter.upper(), text[match.end() :].strip(" :.-)\n")
    raise JudgeAnswerError("expected JSON with 'category' (A-E) and 'reason'")


_SCORE_LINE = re.compile(r"\bscore\W{0,3}(\d+(?:\.\d+)?)", re.IGNORECASE)


def parse_scale_answer(answer: str, top: float = 10.0) -> tuple[float, str]:
    """``{"score": 0..top, "reason": str}`` or 'Score: N'; returned scaled to [0, 1]."""
    data = _json_object(answer)
    value: float | None = None
    reason = ""
    if data is not None:
        value = _as_number(data.get("score"))
        reason = str(data.get("reason") or "").strip()
    if value is None:
        match = _SCORE_LINE.search(answer)
        if match is None:
            raise JudgeAnswerError(f"expected JSON with 'score' (0-{top:g}) and 'reason'")
        value = float(match.group(1))
        reason = reason or answer.strip()
    if not 0.0 <= value <= top:
        raise JudgeAnswerError(f"score {value:g} is outside 0-{top:g}")
    return value / top, reason


def parse_judged_items(answer: str, key: str, flag: str) -> list[tuple[str, bool]]:
    """``{key: [{"text": ..., flag: bool}, ...]}``: each item with its verdict."""
    data = _json_object(answer)
    items = data.get(key) if data is not None else find_json(answer)
    if not isinstance(items, list):
        raise JudgeAnswerError(f"expected JSON with a list '{key}'")
    judged: list[tuple[str, bool]] = []
    for item in items:
        if not isinstance(item, dict):
            raise JudgeAnswerError(f"each entry of '{key}' must be an object with '{flag}'")
        verdict = _as_bool(item.get(flag))
        if verdict is None:
            raise JudgeAnswerError(f"an entry of '{key}' has no true/false '{flag}'")
        text = item.get("text", item.get("claim", item.get("statement", "")))
        judged.append((str(text), verdict))
    return judged


def parse_numbers(answer: str, key: str, highest: int) -> set[int]:
    """``{key: [1, 3]}``: the numbers listed, each within 1..highest."""
    data = _json_object(answer)
    items = data.get(key) if data is not None else None
    if not isinstance(items, list):
        raise JudgeAnswerError(f"expected JSON with a list '{key}' of sentence numbers")
    numbers: set[int] = set()
    for item in items:
        number = _as_number(item)
        if number is None or number != int(number) or not 1 <= number <= highest:
            raise JudgeAnswerError(f"'{key}' lists {item!r}, not a sentence number 1-{highest}")
        numbers.add(int(number))
    return numbers


def parse_questions(answer: str) -> list[str]:
    """``{"questions": [...]}``, or one question per line."""
    data = _json_object(answer)
    if data is not None and isinstance(data.get("questions"), list):
        questions = [str(q).strip() for q in data["questions"] if str(q).strip()]
    else:
        lines = (re.sub(r"^\s*(?:[-*]|\d+[.)])\s*", "", line).strip() for line in answer.splitlines())
        questions = [line for line in lines if line.endswith("?")]
    if not questions:
        raise JudgeAnswerError("expected JSON with a list 'questions'")
    return questions[:5]


# --- variables ----------------------------------------------------------------------------------


class MissingVariable(ValueError):
    """The case lacks a variable the assertion reads."""


def _text_var(ctx: AssertionContext, name: str, spec: AssertionSpec, option: str) -> str:
    if name not in ctx.vars:
        raise MissingVariable(
            f"{spec.type}: the case has no variable {name!r} (choose another with {option})"
        )
    value = ctx.vars[name]
    if isinstance(value, list):
        return "\n\n".join(str(item) for item in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _context_chunks(ctx: AssertionContext, spec: AssertionSpec) -> list[str]:
    _text_var(ctx, spec.context_var, spec, "context_var")
    value = ctx.vars[spec.context_var]
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def split_sentences(chunks: list[str]) -> list[str]:
    """Sentences of the context chunks, in order (a chunk never shares a sentence with the next)."""
    sentences: list[str] = []
    for chunk in chunks:
        for line in chunk.splitlines():
            sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


def _reference(spec: AssertionSpec) -> str:
    return spec.value if isinstance(spec.value, str) else json.dumps(spec.value, ensure_ascii=False)


# --- votes and majority -------------------------------------------------------------------------


def _threshold(spec: AssertionSpec) -> float | None:
    return spec.threshold if spec.threshold is not None else DEFAULT_THRESHOLDS.get(spec.base_type)


def _scored_vote(spec: AssertionSpec, score: float, reason: str) -> Vote:
    threshold = _threshold(spec) or 0.0
    return Vote(score + 1e-9 >= threshold, score, f"score {score:.2f} (needs {threshold:.2f}): {reason}")


async def _majority(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: VoteFn
) -> AssertionResult:
    """Ask ``grader.judge_repeat`` times; the majority of all votes decides, else the assertion errors."""
    total = max(1, grader.judge_repeat)
    votes: list[Vote | None] = []
    problems: list[JudgeAnswerError] = []
    for index in range(total):
        try:
            votes.append(await vote(output, spec, ctx, grader, index))
        except JudgeAnswerError as exc:
            votes.append(None)
            problems.append(exc)
    verdicts = tuple(v.passed if v is not None else None for v in votes)
    for side in (True, False):
        chosen = [v for v in votes if v is not None and v.passed is side]
        if len(chosen) * 2 > total:
            score = sum(v.score for v in chosen) / len(chosen)
            agreement = f" [{len(chosen)}/{total} judge votes]" if total > 1 else ""
            return AssertionResult(side, score, chosen[0].reason + agreement, votes=verdicts)
    if problems:
        reason = f"judge answer not understood ({problems[0]})"
        if problems[0].raw is not None:
            reason += f": {quoted(excerpt(problems[0].raw, RAW_CHARS))}"
        return AssertionResult(False, 0.0, reason, error=True, votes=verdicts)
    passes = sum(1 for v in verdicts if v)
    return AssertionResult(
        False, 0.0, f"judges split {passes}/{total}: no majority", error=True, votes=verdicts
    )


def _graded(name: str, check: Callable[[AssertionSpec], None], uses: tuple[str, ...] = ("judge",)) -> Any:
    """Register a judge type from its single-vote function."""

    def decorate(vote: VoteFn) -> VoteFn:
        async def run(
            output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader
        ) -> AssertionResult:
            try:
                return await _majority(output, spec, ctx, grader, vote)
            except MissingVariable as exc:
                return AssertionResult(False, 0.0, str(exc), error=True)
            except JudgeCallError as exc:
                return AssertionResult(False, 0.0, f"judge call failed: {exc}", error=True)

        run.__doc__ = vote.__doc__
        register_graded_assertion(name, check=check, uses=uses)(run)
        return vote

    return decorate


# --- spec checks --------------------------------------------------------------------------------


def _check_threshold(spec: AssertionSpec) -> None:
    if spec.threshold is not None and not 0.0 <= spec.threshold <= 1.0:
        raise ValueError(f"{spec.type}: threshold must be between 0 and 1, got {spec.threshold:g}")


def _check_text_value(what: str) -> Callable[[AssertionSpec], None]:
    def check(spec: AssertionSpec) -> None:
        if spec.value is None or (isinstance(spec.value, str) and not spec.value.strip()):
            raise ValueError(f"{spec.type}: missing value ({what})")
        if not isinstance(spec.value, (str, int, float, dict, list)):
            raise ValueError(f"{spec.type}: value must be text")
        _check_threshold(spec)

    return check


def _check_no_value(spec: AssertionSpec) -> None:
    if spec.value is not None:
        raise ValueError(f"{spec.type}: takes no value (the question and context come from case variables)")
    _check_threshold(spec)


def _check_relevance(spec: AssertionSpec) -> None:
    _check_no_value(spec)
    if spec.threshold is None:
        raise ValueError(
            f"{spec.type}: give a threshold: the share of context sentences needed to answer (e.g. 0.3)"
        )


def _check_similar(spec: AssertionSpec) -> None:
    values = spec.value if isinstance(spec.value, list) else [spec.value]
    if spec.value is None or not values:
        raise ValueError(f"{spec.type}: missing value (the reference text, or a list of them)")
    for item in values:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{spec.type}: each reference must be non-empty text")
    _check_threshold(spec)


# --- judges -------------------------------------------------------------------------------------


@_graded("llm-rubric", _check_text_value("the rubric, in plain language"))
async def llm_rubric(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: int
) -> Vote:
    """A judge model grades the output against a rubric: pass/fail, a score and its reason."""
    answer = await grader.judge("llm-rubric", {"output": output, "rubric": _reference(spec)}, vote)
    with _about(answer):
        passed, score, reason = parse_rubric_answer(answer)
    if spec.threshold is not None and score is not None:
        passed = passed and score + 1e-9 >= spec.threshold
    return Vote(
        passed, score if score is not None else float(passed), reason or ("pass" if passed else "fail")
    )


_FACTUALITY_MEANING = {
    "A": "output is a consistent subset of the reference",
    "B": "output is a consistent superset of the reference",
    "C": "output has the same details as the reference",
    "D": "output disagrees with the reference",
    "E": "output differs from the reference only in ways that do not matter for factuality",
}


@_graded("factuality", _check_text_value("the reference answer"))
async def factuality(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: int
) -> Vote:
    """A judge compares the output's facts with a reference answer (categories A-E; D fails)."""
    variables = {"output": output, "reference": _reference(spec), "question": _question(ctx, spec)}
    answer = await grader.judge("factuality", variables, vote)
    with _about(answer):
        letter, reason = parse_factuality_answer(answer)
    passed = letter in FACTUALITY_PASSING
    detail = f"({letter}) {_FACTUALITY_MEANING[letter]}"
    return Vote(passed, 1.0 if passed else 0.0, f"{detail}: {reason}" if reason else detail)


def _question(ctx: AssertionContext, spec: AssertionSpec) -> str:
    value = ctx.vars.get(spec.query_var)
    return "" if value is None else (value if isinstance(value, str) else json.dumps(value, default=str))


@_graded("g-eval", _check_text_value("the criteria to score"))
async def g_eval(output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: int) -> Vote:
    """A judge writes evaluation steps for the criteria, then scores the output 0-10 (scaled to 0-1)."""
    variables = {"output": output, "criteria": _reference(spec), "question": _question(ctx, spec)}
    answer = await grader.judge("g-eval", variables, vote)
    with _about(answer):
        score, reason = parse_scale_answer(answer)
    return _scored_vote(spec, score, reason)


@_graded("answer-relevance", _check_no_value, uses=("judge", "embedding"))
async def answer_relevance(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: int
) -> Vote:
    """A judge names the questions the output answers; their mean cosine with the query is the score."""
    query = _text_var(ctx, spec.query_var, spec, "query_var")
    answer = await grader.judge("answer-relevance", {"output": output}, vote)
    with _about(answer):
        questions = parse_questions(answer)
    vectors = await grader.embed([query, *questions])
    similarities = [cosine(vectors[0], v) for v in vectors[1:]]
    score = max(0.0, sum(similarities) / len(similarities))
    best = max(range(len(questions)), key=lambda i: similarities[i])
    return _scored_vote(spec, score, f"the output answers e.g. {quoted(questions[best])}")


def _share(judged: list[tuple[str, bool]], what: str, holds: str) -> tuple[float, str]:
    if not judged:
        return 1.0, f"no {what} to check"
    good = [text for text, ok in judged if ok]
    bad = [text for text, ok in judged if not ok]
    note = f"{len(good)}/{len(judged)} {what} {holds}"
    if bad:
        note += f"; not: {quoted(bad[0])}"
    return len(good) / len(judged), note


@_graded("context-faithfulness", _check_no_value)
async def context_faithfulness(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: int
) -> Vote:
    """Every claim of the output is supported by the retrieved context; score = supported claims share."""
    variables = {
        "output": output,
        "context": _text_var(ctx, spec.context_var, spec, "context_var"),
        "question": _question(ctx, spec),
    }
    answer = await grader.judge("context-faithfulness", variables, vote)
    with _about(answer):
        judged = parse_judged_items(answer, "claims", "supported")
    score, note = _share(judged, "claims", "supported by the context")
    return _scored_vote(spec, score, note)


@_graded("context-recall", _check_text_value("the reference answer (ground truth)"))
async def context_recall(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: int
) -> Vote:
    """The reference answer's statements are found in the retrieved context; score = attributed share."""
    variables = {
        "reference": _reference(spec),
        "context": _text_var(ctx, spec.context_var, spec, "context_var"),
    }
    answer = await grader.judge("context-recall", variables, vote)
    with _about(answer):
        judged = parse_judged_items(answer, "statements", "attributed")
    score, note = _share(judged, "reference statements", "found in the context")
    return _scored_vote(spec, score, note)


@_graded("context-relevance", _check_relevance)
async def context_relevance(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader, vote: int
) -> Vote:
    """Share of the context's sentences needed to answer the query (promptfoo's definition)."""
    sentences = split_sentences(_context_chunks(ctx, spec))
    query = _text_var(ctx, spec.query_var, spec, "query_var")
    if not sentences:
        return Vote(False, 0.0, "the context is empty")
    numbered = "\n".join(f"[{i}] {s}" for i, s in enumerate(sentences, 1))
    answer = await grader.judge("context-relevance", {"question": query, "sentences": numbered}, vote)
    with _about(answer):
        needed = parse_numbers(answer, "needed", len(sentences))
    return _scored_vote(
        spec, len(needed) / len(sentences), f"{len(needed)}/{len(sentences)} sentences needed"
    )


# --- embeddings ---------------------------------------------------------------------------------


async def _similar(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader
) -> AssertionResult:
    """The cosine similarity of the output's and a reference's embeddings reaches the threshold."""
    references = spec.value if isinstance(spec.value, list) else [spec.value]
    try:
        vectors = await grader.embed([output, *references])
    except JudgeCallError as exc:
        return AssertionResult(False, 0.0, f"embedding call failed: {exc}", error=True)
    similarities = [cosine(vectors[0], v) for v in vectors[1:]]
    best = max(range(len(references)), key=lambda i: similarities[i])
    score = max(0.0, similarities[best])
    threshold = _threshold(spec) or 0.0
    verdict = "similar to" if score + 1e-9 >= threshold else "not similar to"
    return AssertionResult(
        score + 1e-9 >= threshold,
        score,
        f"{verdict} {quoted(references[best])} (cosine {score:.2f}, needs {threshold:.2f})",
    )


register_graded_assertion("similar", check=_check_similar, uses=("embedding",))(_similar)
