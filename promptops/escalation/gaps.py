"""Gap classification: which deficiency a failing case shows, from its answers and its prompt.

For each distinct failing answer and each failing assertion, in this order:

1. a refusal or hedge → **knowledge**, or **skill** when the prompt held the expected content;
2. the assertion passes once the answer's wrapping is removed (prose prefix, fence, quotes, case,
   punctuation, loose JSON), or the expected value is in the answer in another form, or the expected
   label sits in prose → **behavior** (content right, form wrong);
3. a check of form only (length, JSON validity, a pattern without literal content) → **behavior**;
4. otherwise each expected value the answer lacks is judged on its own: text the prompt tells the
   model to write, or house style (greeting, sign-off) → **behavior**; content the rendered prompt
   holds, or a label → **skill**; a fact the prompt does not hold (a number, date, code, name,
   phrase) → **knowledge**.

An answer's gap is its content gap (knowledge or skill) when it has one, since fixing the form alone
would not make it pass; else behavior. Samples vote by how often each answer was given. When some
samples pass and others fail, the case's gap is **reliability** (the others stay listed). A ``gap:``
hint decides outright; a disagreement with the evidence is reported.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from promptops.assertions import GAPS, AssertionContext, AssertionSpec, GapType, evaluate_assertion
from promptops.assertions.builtin import quoted
from promptops.escalation import signals
from promptops.escalation.evidence import (
    HEURISTIC_MAX,
    PROBE_WEIGHT,
    SAMPLES_WEIGHT,
    CaseDiagnosis,
    CaseFacts,
    Evidence,
    FailedCheck,
)

BUDGET_TYPES = frozenset({"latency", "cost"})
FORM_TYPES = frozenset({"is-json", "contains-json", "json-schema", "word-count", "length"})
WHOLE_OUTPUT_TYPES = frozenset({"equals", "one-of", "starts-with", "regex"})
CONTAINS_TYPES = frozenset(
    {"contains", "icontains", "contains-any", "contains-all", "icontains-any", "icontains-all"}
)
# checks that can be tried again on a repaired answer without any call or user code
REPAIRABLE = WHOLE_OUTPUT_TYPES | CONTAINS_TYPES | FORM_TYPES | {"json-match", "golden"}
# judged against criteria, not an expected answer: the judge's reason is all there is
JUDGED_TYPES: dict[str, GapType] = {
    "llm-rubric": "skill",
    "g-eval": "skill",
    "answer-relevance": "skill",
    "context-faithfulness": "skill",  # the answer strays from the context it was given
    "context-recall": "knowledge",  # the retrieved context lacks the facts
    "context-relevance": "knowledge",  # retrieval brought the wrong passages
}
# expected content given as a reference text
REFERENCE_TYPES = frozenset({"factuality", "similar"})
_CONTENT_FIRST: tuple[GapType, ...] = ("knowledge", "skill", "behavior")
_TEXT_CHARS = 160


def _q(text: Any) -> str:
    return quoted(text)


def _base(check: FailedCheck) -> str:
    return check.type[4:] if check.type.startswith("not-") else check.type


def _spec(check: FailedCheck) -> AssertionSpec | None:
    value = None if _base(check) == "golden" else check.expected
    try:
        return AssertionSpec(type=check.type, value=value, **check.options)
    except (ValueError, TypeError):
        return None


def _passes(check: FailedCheck, spec: AssertionSpec, text: str) -> bool:
    ctx = AssertionContext(golden=check.expected if _base(check) == "golden" else None)
    try:
        return evaluate_assertion(text, spec, ctx).passed
    except Exception:  # noqa: BLE001  (an assertion that cannot judge a repaired text is no evidence)
        return False


def _casefolded(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list):
        return [_casefolded(v) for v in value]
    if isinstance(value, dict):
        return {str(k).casefold(): _casefolded(v) for k, v in value.items()}
    return value


def repaired(check: FailedCheck, output: str) -> tuple[str, str] | None:
    """(what was removed, the repaired answer) when the failed assertion passes on it."""
    spec = _spec(check)
    if spec is None or spec.negated or _base(check) not in REPAIRABLE:
        return None
    if _base(check) == "golden" and signals.loose_json(str(check.expected or "")) is None:
        return None  # a similarity threshold moves with any edit: the values decide, not a re-run
    candidates = signals.repairs(output)
    for how, text in candidates:
        if text != output and _passes(check, spec, text):
            return how, text
    if _base(check) in WHOLE_OUTPUT_TYPES | CONTAINS_TYPES | {"json-match", "golden"}:
        folded = spec.model_copy(update={"value": _casefolded(spec.value)})
        if _base(check) == "regex" and isinstance(spec.value, str):
            folded = spec.model_copy(update={"value": "(?i)" + spec.value})
        for how, text in [("letter case", output), *candidates]:
            if _passes(check, folded, _casefolded_text(text)):
                return ("letter case" if how == "letter case" else f"{how} and letter case"), text
    return None


def _casefolded_text(text: str) -> str:
    parsed = signals.loose_json(text) if text.lstrip().startswith(("{", "[")) else None
    if parsed is not None:
        return json.dumps(_casefolded(parsed), ensure_ascii=False)
    return text.casefold()


# --- what an assertion expected -----------------------------------------------------------------

_REGEX_META = re.compile(r"[\[\](){}*+?\\^$|]")


def regex_literals(pattern: str) -> list[str] | None:
    """The literal alternatives of a pattern such as ``(?i)^(refund|bug)$`` or ``\\$4\\.99``, else None."""
    p = re.sub(r"^\(\?[aiLmsux]+\)", "", pattern)
    p = p.replace(r"\b", "").replace(r"\s+", " ").replace(r"\s*", " ").replace(r"\s", " ")
    p = p.strip("^$")
    match = re.fullmatch(r"\((?:\?:)?(.*)\)", p)
    if match and "(" not in match.group(1):
        p = match.group(1)
    found = []
    for alternative in p.split("|"):
        text = alternative.strip("^$").replace("s?", "")
        bare = re.sub(r"\\[.\-$ /:#,'&]", "", text)
        if _REGEX_META.search(bare) or not bare.strip():
            return None
        found.append(re.sub(r"\\(.)", r"\1", text).strip())
    return [f for f in found if f] or None


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    return []


def expected_texts(check: FailedCheck) -> list[str]:
    """The expected content of a check as text (empty for checks of form only)."""
    base = _base(check)
    if base in BUDGET_TYPES or base in FORM_TYPES or base in JUDGED_TYPES:
        return []
    if base not in REPAIRABLE and base not in REFERENCE_TYPES:
        return []  # a plugin's or user code's value means what that code makes of it
    if base == "regex":
        return regex_literals(str(check.expected)) or [] if isinstance(check.expected, str) else []
    if isinstance(check.expected, (dict, list)) and base in ("json-match", "equals", "golden"):
        return [str(v) for _, v in signals.flatten(check.expected) if v is not None and str(v).strip()]
    if base == "golden" and isinstance(check.expected, str):
        parsed = signals.loose_json(check.expected) if check.expected.lstrip()[:1] in "{[" else None
        if parsed is not None:
            return [str(v) for _, v in signals.flatten(parsed) if v is not None and str(v).strip()]
    return _strings(check.expected)


# --- judging one missing value --------------------------------------------------------------------


class _Judge:
    """Evidence about one answer of one case."""

    def __init__(self, facts: CaseFacts, output: str) -> None:
        self.facts = facts
        self.output = output
        self.messages = facts.messages
        self.short = signals.short_answer(output)

    def prompt_has(self, text: str) -> signals.Found | None:
        return signals.find_in_prompt(self.messages, text) if self.messages else None

    def ev(self, signal: Any, gap: GapType | None, weight: float, text: str, check: FailedCheck) -> Evidence:
        if self.messages is None and signal in ("missing-fact", "different-value", "label-choice"):
            weight *= 0.7  # the prompt is unknown, so "not in the prompt" is a guess
            text += " (the rendered prompt was not kept, so grounding is unknown)"
        return Evidence(signal=signal, gap=gap, weight=weight, text=text[:400], assertion=check.label[:120])

    def refusal(self, check: FailedCheck) -> Evidence:
        wanted = expected_texts(check) or ([self.facts.reference] if self.facts.reference else [])
        for text in wanted:
            found = self.prompt_has(text)
            if found is not None:
                return self.ev(
                    "refusal",
                    "skill",
                    3.0,
                    f"the answer {_q(self.output)} holds back, yet the prompt gives {_q(text)}: "
                    f"{_q(found.sentence)}",
                    check,
                )
        return self.ev("refusal", "knowledge", 3.0, f"a refusal or hedge: {_q(self.output)}", check)

    def removed_by_change(self, options: list[str]) -> str | None:
        """A line the prompt change removed that held the expected text (an option, an instruction)."""
        attribution = self.facts.attribution
        if attribution is None or attribution.cause != "prompt-change" or not attribution.prompt_diff:
            return None
        for line in attribution.prompt_diff.splitlines():
            if line.startswith("-") and not line.startswith("---"):
                if any(signals.contains_value(line[1:], option) for option in options):
                    return line[1:].strip()
        return None

    def value(
        self, check: FailedCheck, expected: str, *, alternatives: list[str] | None = None, actual: Any = None
    ) -> Evidence:
        """Evidence about one expected value the answer lacks."""
        options = alternatives or [expected]
        if expected == "null" and actual not in (None, ""):
            return self.ev(
                "grounded",
                "skill",
                2.5,
                f"the answer fills in {_q(actual)} where nothing was expected (null): "
                "the input does not hold it",
                check,
            )
        kind = signals.kind_of(expected)
        found = next(((o, f) for o in options if (f := self.prompt_has(o)) is not None), None)
        got = _q(actual) if actual is not None else _q(self.short or self.output)
        removed = self.removed_by_change(options)
        if removed is not None:
            return self.ev(
                "instruction",
                "behavior",
                3.0,
                f"the prompt change removed the line that gave {_q(expected)}: {_q(removed)}; "
                f"the answer is {got}",
                check,
            )
        if found is not None and signals.prescribed_by_instruction(found[1], found[0]):
            return self.ev(
                "instruction",
                "behavior",
                2.5,
                f"the prompt tells the model to write {_q(found[0])} ({_q(found[1].sentence)}); "
                f"the answer {got} does not",
                check,
            )
        if kind == "style":
            return self.ev(
                "style",
                "behavior",
                2.0,
                f"{_q(expected)} is house style, not a fact; the answer {got}",
                check,
            )
        siblings = signals.options_for(self.messages or [], found[0]) if found is not None else []
        yes_no = expected.casefold() in ("true", "false") and actual is not None
        is_label = (
            bool(siblings)
            or yes_no
            or (kind == "label" and (actual is not None or _base(check) in WHOLE_OUTPUT_TYPES))
        )
        if is_label:
            chose = actual is not None or self.short is not None
            rivals = [s for s in siblings if signals.phrase_present(self.output, s)]
            if not chose and not rivals:
                return self.ev(
                    "format-check",
                    "behavior",
                    2.5,
                    f"a label was expected ({_q(expected)}); the answer is prose without any label: {got}",
                    check,
                )
            if siblings:
                return self.ev(
                    "option-label",
                    "skill",
                    3.0,
                    f"the prompt offers {_q(found[0] if found else expected)} among "
                    f"{', '.join(_q(s) for s in siblings[:5])}; "
                    f"the answer chose {_q(rivals[0]) if rivals else got}",
                    check,
                )
            return self.ev(
                "label-choice", "skill", 2.5, f"a wrong label: {got} where {_q(expected)} was expected", check
            )
        if found is not None:
            return self.ev(
                "grounded",
                "skill",
                3.0,
                f"{_q(found[0])} is in the prompt ({_q(found[1].sentence)}) but the answer is {got}",
                check,
            )
        others = self.other_values(expected, actual)
        if others:
            return self.ev(
                "different-value",
                "knowledge",
                3.0,
                f"the answer gives {', '.join(_q(o) for o in others[:3])} where {_q(expected)} was expected, "
                "and the prompt does not hold it",
                check,
            )
        return self.ev(
            "missing-fact",
            "knowledge",
            2.5,
            f"{_q(expected)} is not in the prompt, and the answer {got} lacks it",
            check,
        )

    def other_values(self, expected: str, actual: Any) -> list[str]:
        """Values in the answer of the same kind as ``expected`` that differ from it."""
        kind = signals.kind_of(expected)
        source = str(actual) if actual is not None else self.output
        if kind in ("name", "label", "phrase"):
            if actual is not None and str(actual).strip():
                return [str(actual)]
            if kind == "name":
                names = re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*", source)
                return [n for n in names if signals.norm(n) != signals.norm(expected)][:3]
            return []
        return list(
            dict.fromkeys(v.raw for v in signals.values_in(source) if v.kind == kind and not v.spelled)
        )[:3]


# --- one answer against one failing check -------------------------------------------------------


def _json_items(check: FailedCheck, output: str) -> tuple[list[tuple[str, Any]], list[str]] | None:
    """(wrong leaves as (expected, actual), leaves found under other keys) of a JSON check."""
    expected = check.expected
    if _base(check) not in ("json-match", "equals", "golden"):
        return None
    if _base(check) == "golden" and isinstance(expected, str):
        expected = signals.loose_json(expected) if expected.lstrip()[:1] in ("{", "[") else None
    if not isinstance(expected, (dict, list)):
        return None
    actual = signals.loose_json(output)
    if actual is None:
        return [], []
    actual_leaves = signals.flatten(actual)
    wrong: list[tuple[str, Any]] = []
    moved: list[str] = []
    for path, value in signals.flatten(expected):
        here = _at(actual, path)
        if here is not _MISSING and signals.same_scalar(value, here):
            continue
        if value is not None and any(signals.same_scalar(value, v) for _, v in actual_leaves):
            moved.append(path)
            continue
        shown = json.dumps(value) if isinstance(value, (bool, type(None))) else str(value)
        wrong.append((shown, None if here is _MISSING else here))
    return wrong, moved


_MISSING = object()


def _at(value: Any, path: str) -> Any:
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        key, index = part
        if key:
            if not isinstance(value, dict):
                return _MISSING
            match = next((k for k in value if str(k).casefold() == key.casefold()), None)
            if match is None:
                return _MISSING
            value = value[match]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def assess(check: FailedCheck, output: str, facts: CaseFacts) -> list[Evidence]:
    """Evidence from one failing assertion on one answer."""
    judge = _Judge(facts, output)
    base = _base(check)
    if base in BUDGET_TYPES:
        return []
    negated = check.type.startswith("not-")
    # a forbidden phrase is house style ("sorry", "as an AI"), unless what it forbids is not knowing
    if signals.is_refusal(output) and (
        not negated or signals.says_not_knowing(" ".join(_strings(check.expected)))
    ):
        return [judge.refusal(check)]
    if negated:
        return [
            judge.ev(
                "format-check", "behavior", 2.0, f"the answer holds what it must not: {check.reason}", check
            )
        ]
    fixed = repaired(check, output)
    if fixed is not None:
        how, text = fixed
        return [
            judge.ev(
                "form-repair",
                "behavior",
                3.0,
                f"the answer passes once {how} is removed: {_q(text)} (was {_q(output)})",
                check,
            )
        ]
    json_items = _json_items(check, output)
    if json_items is not None:
        wrong, moved = json_items
        if signals.loose_json(output) is None:
            return [judge.ev("format-check", "behavior", 2.0, f"no JSON in the answer: {_q(output)}", check)]
        if not wrong:
            where = f", some under other keys ({', '.join(moved[:4])})" if moved else ""
            return [
                judge.ev(
                    "same-value-other-form",
                    "behavior",
                    3.0,
                    f"every expected value is in the answer, written differently{where}: {_q(output)}",
                    check,
                )
            ]
        return [judge.value(check, exp, actual=act) for exp, act in wrong[:6]]
    wanted = expected_texts(check)
    if not wanted and base not in REPAIRABLE:
        gap = _type_fallback(check)
        return (
            []
            if gap is None
            else [judge.ev("assertion-type", gap, 1.0, f"{check.type}: {check.reason}", check)]
        )
    if not wanted:
        return [judge.ev("format-check", "behavior", 2.0, f"a check of form failed: {check.reason}", check)]
    if base in ("one-of", "contains-any", "icontains-any") or (base == "regex" and len(wanted) > 1):
        return [_whole_or_value(judge, check, wanted)]
    missing = [w for w in wanted if not _has(output, w, base)] if base in CONTAINS_TYPES else wanted
    found: list[Evidence] = []
    for text in missing[:6] or wanted[:1]:
        found.append(_whole_or_value(judge, check, [text]))
    return found


def _has(output: str, expected: str, base: str) -> bool:
    if base.startswith("i"):
        return expected.casefold() in output.casefold()
    return expected in output


def _whole_or_value(judge: _Judge, check: FailedCheck, options: list[str]) -> Evidence:
    """Behavior when an option is in the answer (in prose or another form), else the value's gap."""
    output = judge.output
    for option in options:
        if signals.phrase_present(output, option):
            siblings = [
                s
                for s in (signals.options_for(judge.messages or [], option) or options)
                if signals.norm(s) != signals.norm(option)
            ]
            rivals = [s for s in siblings if signals.phrase_present(output, s)]
            negated = re.search(
                r"\bnot\s+(?:an?\s+|the\s+)?" + re.escape(signals.norm(option)), signals.norm(output)
            )
            if rivals or negated:
                continue
            if signals.norm(option) in signals.norm(output):
                return judge.ev(
                    "answer-in-prose",
                    "behavior",
                    3.0,
                    f"the expected {_q(option)} is in the answer, wrapped in {_q(output)}",
                    check,
                )
            return judge.ev(
                "same-value-other-form",
                "behavior",
                3.0,
                f"the expected {_q(option)} is in the answer in another form: {_q(output)}",
                check,
            )
    long_text = [o for o in options if len(o.split()) >= 6]
    if long_text:
        expected = long_text[0]
        values = signals.values_in(expected)
        lacking = [v.raw for v in values if not any(h.same(v) for h in signals.values_in(output))]
        if lacking:
            return judge.value(check, lacking[0])
        words = set(signals.significant(expected))
        overlap = len(words & set(signals.significant(output))) / len(words) if words else 0
        if overlap >= 0.6:
            return judge.ev(
                "same-value-other-form",
                "behavior",
                2.5,
                f"the answer says the same in other words ({overlap:.0%} of the expected words): "
                f"{_q(output)}",
                check,
            )
    return judge.value(check, options[0], alternatives=options)


# --- a case ---------------------------------------------------------------------------------------


def _answer_gap(found: list[Evidence]) -> GapType | None:
    """An answer's gap: its content gap when it has one, else behavior."""
    best: dict[GapType, float] = {}
    for item in found:
        if item.gap is not None:
            best[item.gap] = max(best.get(item.gap, 0.0), item.weight)
    for group in (("knowledge", "skill"), ("behavior",)):
        present = [g for g in group if g in best]
        if present:
            return max(present, key=lambda g: (best[g], -_CONTENT_FIRST.index(g)))
    return None


def _type_fallback(check: FailedCheck) -> GapType | None:
    base = _base(check)
    if base in BUDGET_TYPES:
        return None
    if base in JUDGED_TYPES:
        return JUDGED_TYPES[base]
    if check.type.startswith("not-") or base in FORM_TYPES or base == "regex":
        return "behavior"
    return "knowledge" if base in CONTAINS_TYPES else "skill"


def classify_case(facts: CaseFacts) -> CaseDiagnosis:
    """The gaps of a failing case, each with the evidence that decided it, and a confidence."""
    evidence: list[Evidence] = []
    votes: Counter[GapType] = Counter()
    strength: dict[GapType, float] = {}
    outputs = facts.outputs or [("", 0)]
    failing = sum(count for _, count in outputs) or 1
    for index, (output, count) in enumerate(outputs[:8]):
        found = [item for check in facts.checks for item in assess(check, output, facts)]
        if not facts.outputs:
            found = [
                Evidence(
                    signal="assertion-type",
                    gap=gap,
                    weight=1.0,
                    text=f"no answer was kept; {check.type} failed: {check.reason}"[:400],
                    assertion=check.label[:120],
                )
                for check in facts.checks
                if (gap := _type_fallback(check)) is not None
            ]
        gap = _answer_gap(found)
        if gap is not None:
            votes[gap] += max(count, 1)
            strength[gap] = max(strength.get(gap, 0.0), max(e.weight for e in found if e.gap == gap))
        for item in found if index == 0 else [e for e in found if e.gap not in {x.gap for x in evidence}]:
            evidence.append(item)
    produced = facts.produced
    scores: dict[GapType, float] = {g: votes[g] / failing * HEURISTIC_MAX for g in votes}
    if 0 < facts.passed_samples < produced:
        scores["reliability"] = scores.get("reliability", 0.0) + SAMPLES_WEIGHT
        evidence.insert(
            0,
            Evidence(
                signal="samples-disagree",
                gap="reliability",
                weight=SAMPLES_WEIGHT,
                source="samples",
                text=f"{facts.passed_samples} of {produced} samples passed: the verdict depends on the draw",
            ),
        )
    spread = None
    if len(facts.outputs) > 1 and produced > 1 and facts.passed_samples == 0:
        shown = ", ".join(f"{quoted(text)} ×{count}" for text, count in facts.outputs[:4])
        more = f" and {len(facts.outputs) - 4} more" if len(facts.outputs) > 4 else ""
        spread = (
            f"no sample passed; {len(facts.outputs)} different answers across {produced} samples: "
            f"{shown}{more}"
        )
        evidence.append(Evidence(signal="spread", gap=None, weight=0.0, source="samples", text=spread))
    ruled_out: set[GapType] = set()
    for probe in facts.probes:
        evidence.append(probe)
        if probe.gap is None:
            continue
        if probe.weight < 0:
            # a measured remedy that did not work rules its gap out (e.g. the facts supplied as
            # context and still failing: not a knowledge gap), whatever the heuristics said
            ruled_out.add(probe.gap)
            continue
        scores[probe.gap] = scores.get(probe.gap, 0.0) + max(probe.weight, PROBE_WEIGHT / 2)
    for gap_out in ruled_out:
        scores.pop(gap_out, None)
    hint = next((c.gap for c in facts.checks if c.gap is not None), None) or facts.hint
    ranked = sorted(scores, key=lambda g: (-scores[g], GAPS.index(g) if g != "reliability" else -1))
    found_gap: GapType | None = ranked[0] if ranked else None
    total = sum(scores.values())
    confidence = (scores[found_gap] / total) if found_gap and total else 0.0
    if found_gap is not None and found_gap in strength:
        confidence *= min(1.0, strength[found_gap] / HEURISTIC_MAX)
    if found_gap is not None and any(e.source == "probe" and e.gap == found_gap for e in evidence):
        confidence = max(confidence, 0.95)
    disagreement = None
    gap = found_gap
    if hint is not None:
        if found_gap is not None and found_gap != hint:
            top = next((e for e in evidence if e.gap == found_gap), None)
            disagreement = f"the evidence points to {found_gap}" + (f": {top.text}" if top else "")
            confidence = 0.5 + 0.5 * (scores.get(hint, 0.0) / total if total else 0.0)
        else:
            confidence = max(confidence, 0.9)
        gap = hint
    gaps = [g for g in ([gap] if gap else []) + ranked if g is not None]
    gaps = [
        g
        for g in dict.fromkeys(gaps)
        if g == gap or scores.get(g, 0.0) > 0 or (g not in ruled_out and any(e.gap == g for e in evidence))
    ]
    return CaseDiagnosis(
        suite=facts.suite,
        case=facts.case,
        prompt=facts.prompt,
        model=facts.model,
        model_id=facts.model_id,
        status=facts.status,
        samples=facts.samples,
        passed_samples=facts.passed_samples,
        pass_rate=facts.pass_rate,
        prompt_fingerprint=facts.prompt_fingerprint,
        gap=gap,
        evidence_gap=found_gap,
        gaps=gaps,
        confidence=round(min(0.99, confidence), 2),
        evidence=evidence[:12],
        hint=hint,
        hint_disagrees=disagreement,
        spread=spread,
        attribution=facts.attribution,
        grounded=grounded(facts, evidence),
    )


def grounded(facts: CaseFacts, evidence: list[Evidence]) -> bool | None:
    """Whether the expected content the answer lacks is in the rendered prompt; None: unknown.

    The evidence decides first (a missing fact is not grounded, content the prompt held is); otherwise
    every expected text (and the reference answer) must be in the prompt.
    """
    if any(e.signal in ("missing-fact", "different-value") for e in evidence) or any(
        e.signal == "refusal" and e.gap == "knowledge" for e in evidence
    ):
        return False
    if any(e.signal in ("grounded", "option-label") for e in evidence) or any(
        e.signal == "refusal" and e.gap == "skill" for e in evidence
    ):
        return True
    wanted = [text for check in facts.checks for text in expected_texts(check)]
    wanted += [facts.reference] if facts.reference else []
    if facts.messages is None or not wanted:
        return None
    return all(signals.find_in_prompt(facts.messages, text) is not None for text in wanted[:12])
