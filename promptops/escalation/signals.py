"""Reading answers and prompts: typed values, refusals, grounding, instructions, form repair.

These are the detectors that diagnosis (``gaps.py``) combines into evidence. Each answers one
question about text, without any model call:

- ``values_in``: the numbers, money, dates, times, codes, e-mail addresses and URLs in a text, as
  comparable values, so "1,200" and "1200", or "5 March 2024" and "2024-03-05", are the same value;
- ``kind_of``: what kind of thing an expected answer is (a number, a date, a code, a name, a label,
  a phrase), because a different value of the same kind is a wrong fact, while a different label is
  a wrong choice;
- ``find_in_prompt``: whether (and where) an expected value appears in the rendered prompt;
- ``is_refusal``: a refusal or hedge ("I'm not sure", "I don't have access to ...");
- ``prescribed_by_instruction`` / ``in_option_list``: whether the prompt tells the model to write this
  exact text, or offers it as one of several options;
- ``repairs``: the output with its wrapping taken off (prose prefix, markdown fence, quotes, trailing
  punctuation, surrounding lines, a JSON object written loosely), so the failed assertion can be
  tried again on what the model meant.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from promptops.assertions.builtin import find_json

Kind = Literal["number", "date", "time", "code", "email", "url", "name", "label", "phrase", "style"]
FACT_KINDS: frozenset[str] = frozenset({"number", "date", "time", "code", "email", "url", "name", "phrase"})

_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(r"\b(?P<day>\d{1,2})[./](?P<mnum>\d{1,2})[./](?P<year>\d{4})\b"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?\b", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+{_YEAR}\b", re.IGNORECASE),
]
_TIME = re.compile(
    r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)(?![a-z])|\b(?P<h24>\d{1,2}):(?P<m24>\d{2})\b",
    re.I,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.IGNORECASE)
# a code mixes letters and digits (ORD-4821, SKU123, E-500, #4821); a number with a unit (5GB) is not one
_CODE = re.compile(
    r"(?<![\w-])(?:#\d{2,}|(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_-]{2,})(?![\w-])"
)
_NUMBER_UNIT = re.compile(r"^\d+(?:[.,]\d+)?(?:[a-zA-Z]{1,3}|%)$")
_NUMBER = re.compile(
    r"(?P<cur>[$€£¥])?\s?(?P<num>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?P<pct>\s?%)?"
    r"(?:\s?(?P<unit>[a-zA-Z]{1,12}))?(?:\s(?P<unit2>[a-zA-Z]{1,12}))?"
)
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100, "thousand": 1000}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b(?:\s(?P<unit>[a-zA-Z]{1,12}))?", re.I)
_CURRENCY_WORDS = {
    "usd": "$",
    "dollars": "$",
    "dollar": "$",
    "eur": "€",
    "euros": "€",
    "euro": "€",
    "gbp": "£",
}

_STOPWORDS = frozenset(
    "a an the of to in on at for by with and or but is are was were be been it its this that these those "
    "as from into than then so if not no do does did your you our we i me my he she they them their his "
    "her per up about all any each".split()
)
# words that make a text house style rather than a fact: greetings, sign-offs, apologies, thanks
_STYLE_WORDS = frozenset(
    "hi hello hey dear greetings thanks thank regards sincerely cheers sorry apologise apologize "
    "apologies welcome goodbye bye best warmly kind".split()
)

_REFUSALS = re.compile(
    r"\b(?:i(?:'m| am) (?:not sure|unsure|not certain|not aware|unable|afraid i)"
    r"|i (?:do not|don't|dont|cannot|can't|can not) "
    r"(?:know|have|find|access|provide|say|tell|determine|answer"
    r"|confirm|see|recall)"
    r"|(?:no|not enough) (?:information|data|details|access|record)"
    r"|(?:unable|not able) to (?:find|provide|access|determine|answer|confirm|help)"
    r"|as an ai\b|i'm sorry,? but|i am sorry,? but|sorry,? i (?:can't|cannot|don't)"
    r"|(?:don't|do not) have (?:access|real-time|that|the|any|specific)"
    r"|not (?:specified|mentioned|provided|stated|available|given) in"
    r"|(?:please )?(?:check|refer to|visit|contact) (?:the|our|your) "
    r"(?:website|documentation|support|provider"
    r"|administrator|help ?cent(?:er|re))"
    r"|it (?:depends|varies)\b|there is no way to (?:know|tell))",
    re.IGNORECASE,
)
# saying one does not know, as opposed to refusing on other grounds ("as an AI ...")
_NOT_KNOWING = re.compile(
    r"\b(?:not sure|unsure|(?:don't|do not|doesn't|does not) know|no idea|no information|not aware"
    r"|(?:can't|cannot|unable to) (?:find|tell|say|determine)|unknown|i don't have)",
    re.IGNORECASE,
)
_BARE_UNKNOWN = re.compile(r"^\W*(?:n/?a|unknown|none|null|not sure|no idea|\?+|-+)\W*$", re.IGNORECASE)

_IMPERATIVE_START = re.compile(
    r"^\W*(?:always|never|start|begin|open|end|close|finish|sign|greet|mention|include|say|write|reply|respond"
    r"|answer|use|add|tell|remind|quote|format|return|output|put|address|refer|call|list|state|keep|make sure"
    r"|be sure|remember|do not|don't)\b",
    re.IGNORECASE,
)
_IMPERATIVE_ANY = re.compile(
    r"\b(?:you must|you should|make sure|be sure to|remember to|must (?:start|begin|end|include|say|use)"
    r"|(?:start|begin|end|open|close|sign off|reply|respond|answer) (?:with|by)|in the format)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


# --- normalising --------------------------------------------------------------------------------


def norm(text: str) -> str:
    """Casefolded, punctuation at word edges removed, whitespace collapsed."""
    text = text.casefold().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[*_`\"]+", " ", text)
    text = re.sub(r"(?<!\w)[^\w\s$€£%#@/.:-]+|[^\w\s$€£%#@/.:-]+(?!\w)", " ", text)
    text = re.sub(r"(?<=\w)[.,:;!?]+(?=\s|$)", " ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return re.findall(r"[\w$€£%#@.-]+", norm(text))


def significant(text: str) -> list[str]:
    return [t.strip(".-") for t in tokens(text) if t.strip(".-") and t.strip(".-") not in _STOPWORDS]


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


# --- typed values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A comparable value found in text."""

    kind: Kind
    key: Any
    """What equality compares: a float, a (year, month, day) triple, minutes, or normalised text."""
    raw: str
    start: int
    end: int
    unit: str | None = None
    currency: str | None = None
    after: tuple[str, ...] = ()
    """The unit and the word after it ("5 unused days": unused, day), so a unit one word away matches."""
    spelled: bool = False
    """Written as a word ("sixteen"): the same value as a digit, but too common ("one of") to count as
    a different value given."""

    def same(self, other: Value) -> bool:
        if self.kind != other.kind:
            return False
        if self.kind == "date":
            return all(a is None or b is None or a == b for a, b in zip(self.key, other.key, strict=True))
        if self.kind == "number":
            if self.currency and other.currency and self.currency != other.currency:
                return False
            return abs(float(self.key) - float(other.key)) < 1e-9
        return bool(self.key == other.key)


def _to_float(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _unit(word: str | None) -> str | None:
    if not word:
        return None
    word = word.casefold()
    if word in _STOPWORDS or word in _CURRENCY_WORDS:
        return None
    return _singular(word)


def values_in(text: str) -> list[Value]:
    """Typed values in ``text`` in order; spans never overlap (emails before codes before numbers)."""
    found: list[Value] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    def add(value: Value) -> None:
        found.append(value)
        taken.append((value.start, value.end))

    for match in _EMAIL.finditer(text):
        add(Value("email", match.group(0).casefold(), match.group(0), match.start(), match.end()))
    for match in _URL.finditer(text):
        if free(match.start(), match.end()):
            key = match.group(0).casefold().rstrip("/.").removeprefix("https://").removeprefix("http://")
            add(Value("url", key.removeprefix("www."), match.group(0), match.start(), match.end()))
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if not free(match.start(), match.end()):
                continue
            parts = match.groupdict()
            month = _MONTHS.get((parts.get("month") or "").casefold().rstrip(".")) or (
                int(parts["mnum"]) if parts.get("mnum") else None
            )
            day = int(parts["day"]) if parts.get("day") else None
            year = int(parts["year"]) if parts.get("year") else None
            if month is None or not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
                continue
            add(Value("date", (year, month, day), match.group(0), match.start(), match.end()))
    for match in _TIME.finditer(text):
        if not free(match.start(), match.end()):
            continue
        hour = int(match.group("h") or match.group("h24"))
        minute = int(match.group("m") or match.group("m24") or 0)
        ampm = (match.group("ampm") or "").casefold().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        if ampm == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60:
            add(Value("time", hour * 60 + minute, match.group(0), match.start(), match.end()))
    for match in _CODE.finditer(text):
        raw = match.group(0)
        if not free(match.start(), match.end()) or _NUMBER_UNIT.match(raw):
            continue
        if re.fullmatch(r"\d+(?:[.,]\d+)*", raw) or re.fullmatch(r"[\d,.-]+", raw):
            continue
        add(Value("code", re.sub(r"[^0-9a-z]", "", raw.casefold()), raw, match.start(), match.end()))
    for match in _NUMBER.finditer(text):
        start, end = match.start("num"), match.end("num")
        if not free(start, end) or (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "-.")):
            continue
        number = _to_float(match.group("num"))
        if number is None:
            continue
        unit_word = match.group("unit")
        currency = match.group("cur") or _CURRENCY_WORDS.get((unit_word or "").casefold())
        span_end = match.end("pct") if match.group("pct") else end
        add(
            Value(
                "number",
                number,
                text[match.start() : span_end].strip(),
                match.start(),
                span_end,
                unit="%" if match.group("pct") else _unit(unit_word),
                currency=currency,
                after=tuple(
                    u
                    for u in (
                        "%" if match.group("pct") else None,
                        _unit(unit_word),
                        _unit(match.group("unit2")),
                    )
                    if u
                ),
            )
        )
    for match in _NUMBER_WORD.finditer(text):
        if free(match.start(), match.end()):
            number = float(_NUMBER_WORDS[match.group(1).casefold()])
            unit = _unit(match.group("unit"))
            add(
                Value(
                    "number",
                    number,
                    match.group(0),
                    match.start(),
                    match.end(),
                    unit=unit,
                    after=(unit,) if unit else (),
                    spelled=True,
                )
            )
    found.sort(key=lambda v: v.start)
    return found


# --- what an expected answer is ----------------------------------------------------------------


def is_style(text: str) -> bool:
    """Greetings, sign-offs, thanks and apologies: how to say it, not what is true."""
    return any(t in _STYLE_WORDS for t in tokens(text))


def kind_of(expected: str) -> Kind:
    """What kind of thing an expected answer (or answer fragment) is."""
    text = expected.strip()
    if not text:
        return "phrase"
    if is_style(text):
        return "style"
    found = values_in(text)
    covered = sum(v.end - v.start for v in found)
    if found and covered >= 0.6 * len(re.sub(r"\s", "", text)) and len(found) == 1:
        return found[0].kind
    words = text.split()
    if re.fullmatch(r"[a-z][a-z_/-]*", text):
        return "label"  # one lowercase token (refund, product-question): a category, not a fact
    if len(words) <= 4 and re.fullmatch(r"[A-Z][\w'&.-]*(?:\s[A-Za-z][\w'&.-]*){0,3}", text):
        return "name"
    if found:
        return found[0].kind
    return "phrase"


# --- the prompt ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """Where an expected value occurs in the prompt."""

    role: str
    sentence: str
    """The sentence of the prompt that holds it, for the evidence text."""


def prompt_sentences(messages: list[dict[str, str]]) -> Iterator[tuple[str, str]]:
    for message in messages:
        for piece in _SENTENCE_END.split(str(message.get("content", ""))):
            sentence = piece.strip()
            if sentence:
                yield str(message.get("role", "user")), sentence


def _phrase_in(needle: str, haystack: str) -> bool:
    n, h = norm(needle), norm(haystack)
    if not n:
        return False
    pattern = r"(?<![\w])" + re.escape(n).replace(r"\ ", r"\s+") + r"(?:s|es)?(?![\w])"
    return re.search(pattern, h) is not None


def contains_value(text: str, expected: str) -> bool:
    """``expected`` occurs in ``text``: as the same typed value(s), or as the same words."""
    wanted = values_in(expected)
    if wanted and kind_of(expected) in ("number", "date", "time", "code", "email", "url"):
        have = values_in(text)
        for value in wanted:
            matches = [h for h in have if h.same(value)]
            if value.kind == "number" and value.unit and matches:
                # "5 days" needs days (or "5 unused days"): a bare 5 elsewhere in a prompt is no evidence
                matches = [h for h in matches if value.unit in h.after]
            if not matches:
                return False
        return True
    if _phrase_in(expected, text):
        return True
    if wanted:  # a phrase with values: all values and its significant words
        have = values_in(text)
        if not all(any(h.same(v) for h in have) for v in wanted):
            return False
        words = [w for w in significant(expected) if not any(c.isdigit() for c in w)]
        text_words = {_singular(w) for w in significant(text)}
        return all(_singular(w) in text_words for w in words)
    return False


_GENERIC = frozenset(
    "how many much what when which where who why can could would will does did get have".split()
)


def _stem(word: str) -> str:
    # a crude stem: the first four letters tell "change"/"changes" and "carry"/"carried" together
    return word[:4]


def _topic_words(messages: list[dict[str, str]], expected: str) -> set[str]:
    """Words of the last user message that say what it is about (not the expected value, not generic)."""
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    drop = {_stem(w) for w in significant(expected)} | {v.unit or "" for v in values_in(expected)}
    sentences = [s for _, s in prompt_sentences(messages)]
    words = {
        _stem(w)
        for w in significant(user)
        if len(w) > 2 and w not in _GENERIC and not any(c.isdigit() for c in w)
    }
    words -= drop
    if len(sentences) < 4:
        return words
    # words that most sentences of the prompt share (the document's own subject) tell nothing apart
    stems = [{_stem(x) for x in significant(s)} for s in sentences]
    return {w for w in words if sum(w in found for found in stems) <= len(sentences) / 2}


def find_in_prompt(messages: list[dict[str, str]], expected: str) -> Found | None:
    """The first sentence of the prompt that holds ``expected``, or None.

    A bare number is easily found by chance in a long prompt ("3 consecutive days" for a question
    about bereavement leave), so a number that is not money, a percentage or the same phrase counts
    only in a sentence of the user's message or in one that shares a topic word with it.
    """
    numeric = kind_of(expected) == "number"
    # money and percentages, or the same words around the number ("5 business days"), are specific
    # enough; a bare or loosely matched number needs the sentence to be about what the user asked
    specific = any(v.currency or v.unit == "%" for v in values_in(expected))
    topic = _topic_words(messages, expected) if numeric and not specific else set()
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    for role, sentence in prompt_sentences(messages):
        if not contains_value(sentence, expected):
            continue
        loose = (
            numeric and not specific and not (len(expected.split()) > 1 and _phrase_in(expected, sentence))
        )
        if loose and topic and sentence not in user and not topic & {_stem(w) for w in significant(sentence)}:
            continue
        return Found(role, sentence)
    if not numeric:
        whole = "\n".join(str(m.get("content", "")) for m in messages)
        if contains_value(whole, expected):
            return Found("prompt", excerpt_around(whole, expected))
    return None


def excerpt_around(text: str, needle: str, width: int = 90) -> str:
    index = text.casefold().find(needle.casefold())
    if index < 0:
        flat = " ".join(text.split())
        return flat[:width] + ("…" if len(flat) > width else "")
    start = max(0, index - width // 2)
    piece = " ".join(text[start : index + len(needle) + width // 2].split())
    return ("…" if start else "") + piece + "…"


def in_option_list(sentence: str, expected: str) -> list[str]:
    """The other options when ``sentence`` offers ``expected`` as one of a list (``a, b or c``)."""
    n = norm(expected)
    # separators matter here, so only case, quotes and spacing are folded
    flat = " ".join(re.sub(r"[\"'`*“”‘’]", " ", sentence.casefold()).split()).rstrip(".!?")
    if not n or n not in flat:
        return []
    # the list is the run of short items separated by commas, "or", "and", "/", "|" around the match
    after_colon = flat.split(":", 1)[1] if ":" in flat and n in flat.split(":", 1)[1] else flat
    parts = [p.strip(" .{}()[]") for p in re.split(r",|;|\s\|\s|\s/\s|\bor\b|\band\b|\|", after_colon)]
    parts = [re.sub(r"^(?:an?|the|either)\s+", "", p) for p in parts if p]
    parts = [p.split(":")[-1].strip() for p in parts]
    if not parts:
        return []
    # the first item may carry the lead-in ("is it an image"), the others must be short
    first = re.sub(r"^.*\b(?:an?|the)\s+", "", parts[0]) if len(parts[0].split()) > 3 else parts[0]
    items = [first, *parts[1:]]
    short = [p for p in items if 0 < len(p.split()) <= 3 and not re.search(r"[()\[\]{}<>=]", p)]
    if n not in short:
        return []
    others = list(dict.fromkeys(p for p in short if p != n))
    return (
        others if len(others) >= 2 or (len(others) == 1 and "," not in flat and " or " in f" {flat} ") else []
    )


def prescribed_by_instruction(found: Found, expected: str) -> bool:
    """The sentence that holds ``expected`` tells the model to write it (not a fact, not an option)."""
    sentence = found.sentence
    if in_option_list(sentence, expected):
        return False
    return bool(_IMPERATIVE_START.search(sentence) or _IMPERATIVE_ANY.search(sentence))


def options_for(messages: list[dict[str, str]], expected: str) -> list[str]:
    """Sibling options offered next to ``expected`` anywhere in the prompt."""
    for _, sentence in prompt_sentences(messages):
        others = in_option_list(sentence, expected)
        if others:
            return others
    return []


# --- the answer ---------------------------------------------------------------------------------


def is_refusal(output: str) -> bool:
    """A refusal or hedge instead of an answer."""
    text = output.strip()
    if not text or _BARE_UNKNOWN.match(text):
        return True
    return _REFUSALS.search(text[:600]) is not None


def says_not_knowing(text: str) -> bool:
    """Text that says the writer does not know ("I'm not sure", "no information", "unknown")."""
    return _NOT_KNOWING.search(text) is not None


def _loose_json(text: str) -> Any | None:
    """JSON written loosely (single quotes, trailing commas, Python literals), or None."""
    found = find_json(text)
    if found is not None:
        return found
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    end = max(text.rfind("}"), text.rfind("]"))
    if end <= start:
        return None
    body = re.sub(r",\s*([}\]])", r"\1", text[start : end + 1])
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(body)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (dict, list)) else None


_QUOTES = "\"'`“”‘’*_"
_PREFIX = re.compile(r"^\s*(?:[\w ()/-]{1,40}?)\s*[:=]\s*(?P<rest>.+?)\s*$")


def unwrap(text: str) -> str:
    """Quotes, emphasis and trailing punctuation taken off."""
    out = text.strip()
    for _ in range(3):
        out = out.strip().strip(_QUOTES).strip().rstrip(".!;,").strip()
    return out


def repairs(output: str) -> list[tuple[str, str]]:
    """The output with its wrapping taken off, each as (what was removed, repaired text)."""
    found: list[tuple[str, str]] = []
    stripped = output.strip()
    found.append(("surrounding whitespace", stripped))
    fences = re.findall(r"```[\w+-]*[ \t]*\n?(.*?)```", output, re.DOTALL)
    for body in fences:
        found.append(("the markdown fence", body.strip()))
    found.append(("quotes and punctuation", unwrap(stripped)))
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    for line in lines[:12]:
        match = _PREFIX.match(line)
        if match:
            found.append((f"the prefix {line[: match.start('rest')].strip()!r}", unwrap(match.group("rest"))))
        if len(lines) > 1:
            found.append(("the lines around the answer", unwrap(line)))
    parsed = _loose_json(output)
    if parsed is not None:
        found.append(("the text around the JSON", json.dumps(parsed, ensure_ascii=False)))
    seen: set[str] = set()
    unique = []
    for how, text in found:
        if text not in seen:
            seen.add(text)
            unique.append((how, text))
    return unique


def loose_json(output: str) -> Any | None:
    return _loose_json(output)


def flatten(value: Any, path: str = "$") -> list[tuple[str, Any]]:
    """Leaves of a JSON value with their paths."""
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in flatten(item, f"{path}.{key}")]
    if isinstance(value, list) and value:
        return [leaf for index, item in enumerate(value) for leaf in flatten(item, f"{path}[{index}]")]
    return [(path, value)]


def same_scalar(expected: Any, actual: Any) -> bool:
    """Equal as answers: case, surrounding space, number formats and date formats do not count."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(expected).casefold() == str(actual).casefold()
    a, b = str(expected), str(actual)
    if norm(a) == norm(b):
        return True
    va, vb = values_in(a), values_in(b)
    if len(va) == 1 and len(vb) == 1 and va[0].kind == vb[0].kind:
        return va[0].same(vb[0])
    return False


def phrase_present(output: str, expected: str) -> bool:
    """``expected`` is in ``output`` as the same words or the same typed values."""
    return contains_value(output, expected)


def short_answer(output: str) -> str | None:
    """The answer when the output is (once unwrapped) a short label-like reply, else None."""
    for _, text in repairs(output):
        candidate = unwrap(text)
        if 0 < len(candidate.split()) <= 3 and len(candidate) <= 40 and "{" not in candidate:
            return candidate
    return None
