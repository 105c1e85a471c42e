"""Cases kept in data files: ``cases: file://cases.csv`` (or .jsonl, .json, .yaml, and globs).

A suite may list its cases inline, name data files, or mix both::

    cases: file://cases.csv
    cases: [file://cases/*.jsonl, {id: extra, vars: {...}}]

CSV files follow promptfoo's conventions, so a team's existing spreadsheets
carry over: every column is a variable except the special ones —
``__expected`` (and ``__expected1``, ``__expected2`` ...) holding an assertion
in promptfoo's short form (``icontains: Paris``, ``not-contains:x``,
``similar(0.8):text``, a bare value meaning ``equals``), ``__description``,
``__metadata:KEY`` (``__metadata:KEY[]`` splits on commas, ``\\,`` escapes one),
``__config:__expectedN:threshold``, and promptops' own ``__id``, ``__gap`` and
``__tags``. JSONL holds one case object a line, JSON a list of them, YAML a
list of them. Each case is placed at its file and line (a CSV row's line), so
every mistake names the data file and row.

Paths are relative to the suite file and must stay inside the project.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from promptops.errors import SuiteError
from promptops.locations import LineDict, LineList, load_yaml, utf8_error_line, utf8_error_message

FILE_PREFIX = "file://"
CASE_FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".yaml", ".yml")
MAX_CASE_FILE_BYTES = 200 * 1024 * 1024
"""A larger data file is refused rather than read into memory."""

# promptfoo's assertion names, so that its short form parses even where promptops
# has no such type (the suite then says the type is unknown, at the row's line)
_PROMPTFOO_TYPES = (
    "answer-relevance",
    "assert-set",
    "bleu",
    "classifier",
    "contains-all",
    "contains-any",
    "contains-html",
    "contains-json",
    "contains-sql",
    "contains-xml",
    "contains",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "cost",
    "equals",
    "factuality",
    "finish-reason",
    "g-eval",
    "gleu",
    "guardrails",
    "icontains-all",
    "icontains-any",
    "icontains",
    "is-html",
    "is-json",
    "is-refusal",
    "is-sql",
    "is-valid-function-call",
    "is-valid-openai-function-call",
    "is-valid-openai-tools-call",
    "is-xml",
    "javascript",
    "latency",
    "levenshtein",
    "llm-rubric",
    "meteor",
    "model-graded-closedqa",
    "model-graded-factuality",
    "moderation",
    "perplexity-score",
    "perplexity",
    "pi",
    "python",
    "regex",
    "rouge-n",
    "similar",
    "starts-with",
    "trace-error-spans",
    "trace-span-count",
    "trace-span-duration",
    "webhook",
    "word-count",
)
_SHORT_FORM = re.compile(
    r"^(not-)?("
    + "|".join(re.escape(t) for t in _PROMPTFOO_TYPES)
    + r")(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$"
)
_LIST_TYPES = {"contains-all", "contains-any", "icontains-all", "icontains-any"}
_SCORED_TYPES = {
    "answer-relevance",
    "classifier",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "levenshtein",
    "perplexity",
    "perplexity-score",
    "rouge-n",
    "similar",
}
LIMIT_TYPES = {"latency", "cost"}
"""promptfoo gives these a threshold; promptops calls the same bound ``max``."""
SIMILAR_DEFAULT_THRESHOLD = 0.8

_CSV_CASE_KEYS = {"__id": "id", "__description": "description", "__gap": "gap"}
_CSV_UNSUPPORTED = ("__prefix", "__suffix", "__providerOutput", "__metric", "__threshold")


def assertion_from_short_form(text: str) -> dict[str, Any]:
    """One assertion from promptfoo's short form, as used in CSV ``__expected`` columns.

    ``icontains: Paris`` → ``{type: icontains, value: Paris}``; ``similar(0.9):text``
    sets a threshold; ``contains-any:a,b`` splits on commas; ``grade:``/``llm-rubric:``
    is a rubric, ``fn:``/``javascript:`` JavaScript, ``python:`` Python; any other text
    is an exact ``equals``.
    """
    for prefix, kind in (("javascript:", "javascript"), ("fn:", "javascript"), ("eval:", "javascript")):
        if text.startswith(prefix):
            return {"type": kind, "value": text[len(prefix) :].strip()}
    for prefix in ("grade:", "llm-rubric:"):
        if text.startswith(prefix):
            return {"type": "llm-rubric", "value": text[len(prefix) :].strip()}
    if text.startswith("python:"):
        return {"type": "python", "value": text[len("python:") :].strip()}
    if text.startswith(FILE_PREFIX) and (text.endswith(".py") or ".py:" in text):
        return {"type": "python", "value": text[len(FILE_PREFIX) :].strip()}
    if text.startswith(FILE_PREFIX) and re.search(r"\.(js|ts|mjs|cjs)(:|$)", text):
        return {"type": "javascript", "value": text[len(FILE_PREFIX) :].strip()}
    match = _SHORT_FORM.match(text)
    if match is None:
        return {"type": "equals", "value": text}
    negated, kind, threshold_text, raw_value = match.groups()
    full_type = f"not-{kind}" if negated else kind
    value = raw_value.strip() if raw_value is not None else None
    spec: dict[str, Any] = {"type": full_type}
    if kind in _LIST_TYPES:
        spec["value"] = [part.strip() for part in (value or "").split(",") if part.strip()]
    elif kind in LIMIT_TYPES:
        limit = threshold_text or value
        if limit:
            spec["threshold"] = float(limit)
        return spec
    elif value is not None and value != "":
        spec["value"] = value
    if kind in _SCORED_TYPES:
        spec["threshold"] = (
            float(threshold_text)
            if threshold_text
            else (SIMILAR_DEFAULT_THRESHOLD if kind == "similar" else 0.75)
        )
    return spec


def to_promptops_assertion(assertion: dict[str, Any]) -> dict[str, Any]:
    """A promptfoo assertion (type, value, threshold) as a promptops assertion spec.

    The two agree but for ``latency`` and ``cost``, whose threshold promptops calls ``max``.
    """
    kind = str(assertion["type"])
    base = kind[4:] if kind.startswith("not-") else kind
    spec: dict[str, Any] = {"type": kind}
    value = assertion.get("value")
    threshold = assertion.get("threshold")
    if base in LIMIT_TYPES:
        limit = threshold if threshold is not None else value
        if limit is not None:
            spec["max"] = limit
        return spec
    if value is not None:
        spec["value"] = value
    if threshold is not None:
        spec["threshold"] = threshold
    return spec


def split_escaped_commas(text: str) -> list[str]:
    """``a,b\\,c`` → ``["a", "b,c"]``: promptfoo's list cells in ``__metadata:KEY[]``."""
    parts = re.split(r"(?<!\\),", text)
    return [part.replace("\\,", ",").strip() for part in parts if part.strip()]


class CaseOrigin(NamedTuple):
    """Where a case was written: the file for messages, and the loaded structure to find lines in.

    A named tuple: a large suite makes one per case, and a tuple is built several times faster
    than a frozen dataclass.
    """

    file: str
    data: Any
    path: tuple[Any, ...]


@dataclass(frozen=True)
class LoadedCases:
    """Raw case mappings with their origins, ready for validation."""

    raw: list[Any]
    origins: list[CaseOrigin]
    reference_lines: list[int]
    """For each case: the line of the suite that brought it in (its own line when inline)."""


def expand_cases(data: LineDict, *, suite_path: Path, suite_file: str, root: Path) -> LoadedCases:
    """The suite's ``cases``: inline mappings as they are, ``file://`` entries read from their files."""
    entries = data.get("cases")
    if isinstance(entries, str):
        listed: list[Any] = [entries]
        lines = [data.key_lines.get("cases", data.line)]
        single_reference = True
    elif isinstance(entries, list):
        listed = list(entries)
        item_lines = getattr(entries, "item_lines", None) or [data.line] * len(entries)
        lines = list(item_lines)
        single_reference = False
    else:
        return LoadedCases([], [], [])
    raw: list[Any] = []
    origins: list[CaseOrigin] = []
    reference_lines: list[int] = []
    for index, (entry, line) in enumerate(zip(listed, lines, strict=True)):
        if isinstance(entry, str):
            if not entry.startswith(FILE_PREFIX):
                raise SuiteError(
                    f"a case must be a mapping or a 'file://' reference to a case file, not {entry[:60]!r}",
                    file=suite_file,
                    line=line,
                )
            for path in _resolve_pattern(
                entry, suite_path=suite_path, suite_file=suite_file, line=line, root=root
            ):
                file = display_path(path, root)
                cases, structure = read_case_file(path, file)
                for position, case in enumerate(cases):
                    raw.append(case)
                    origins.append(CaseOrigin(file, structure, (position,)))
                    reference_lines.append(line)
        else:
            raw.append(entry)
            path_in_suite: tuple[Any, ...] = ("cases",) if single_reference else ("cases", index)
            origins.append(CaseOrigin(suite_file, data, path_in_suite))
            reference_lines.append(line)
    return LoadedCases(raw, origins, reference_lines)


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for messages, or as it is when it lies elsewhere."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _resolve_pattern(entry: str, *, suite_path: Path, suite_file: str, line: int, root: Path) -> list[Path]:
    pattern = entry[len(FILE_PREFIX) :].strip()
    if not pattern:
        raise SuiteError("'file://' needs a path after it", file=suite_file, line=line)
    if Path(pattern).is_absolute():
        raise SuiteError(
            f"case file {pattern!r} must be a path relative to the suite, inside the project",
            file=suite_file,
            line=line,
        )
    base = suite_path.parent
    if glob.has_magic(pattern):
        matches = sorted(Path(p) for p in glob.glob(str(base / pattern), recursive=True))
        matches = [p for p in matches if p.is_file()]
        if not matches:
            raise SuiteError(f"no case files match {pattern!r}", file=suite_file, line=line)
    else:
        matches = [base / pattern]
    project = root.resolve()
    for path in matches:
        resolved = path.resolve()
        if not resolved.is_relative_to(project):
            raise SuiteError(
                f"case file {pattern!r} resolves outside the project ({resolved}); keep case files inside it",
                file=suite_file,
                line=line,
            )
        if not resolved.is_file():
            raise SuiteError(f"case file {pattern!r} does not exist", file=suite_file, line=line)
        if path.suffix.lower() not in CASE_FILE_SUFFIXES:
            raise SuiteError(
                f"case file {pattern!r}: unsupported kind {path.suffix or '(no suffix)'!r}; "
                f"use one of {', '.join(CASE_FILE_SUFFIXES)}",
                file=suite_file,
                line=line,
            )
    return matches


def _read_text(path: Path, file: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_CASE_FILE_BYTES:
            raise SuiteError(
                f"case file is {size // 2**20} MB; the limit is {MAX_CASE_FILE_BYTES // 2**20} MB",
                file=file,
            )
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"cannot read case file: {exc.strerror or exc}", file=file) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SuiteError(utf8_error_message(exc), file=file, line=utf8_error_line(exc)) from None


def read_case_file(path: Path, file: str) -> tuple[list[Any], Any]:
    """The case mappings of one data file, and the line-aware structure they sit in."""
    text = _read_text(path, file)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        cases = _cases_from_csv(text, file, default_id=path.stem)
    elif suffix == ".jsonl":
        cases = _cases_from_jsonl(text, file, default_id=path.stem)
    else:
        cases = _cases_from_document(text, file, suffix, default_id=path.stem)
    if not cases:
        raise SuiteError("case file holds no cases", file=file, line=1)
    structure = LineList(cases)
    structure.line = 1
    structure.item_lines = [getattr(case, "line", 1) for case in cases]
    return cases, structure


def at_line(mapping: dict[str, Any], line: int) -> LineDict:
    """A mapping whose every key (and nested item) reports ``line``: a row of a flat file."""
    result = LineDict()
    result.line = line
    result.key_lines = {}
    for key, value in mapping.items():
        result[key] = _nested_at_line(value, line)
        result.key_lines[key] = line
    return result


def _nested_at_line(value: Any, line: int) -> Any:
    if isinstance(value, dict):
        return at_line(value, line)
    if isinstance(value, list):
        items = LineList(_nested_at_line(item, line) for item in value)
        items.line = line
        items.item_lines = [line] * len(items)
        return items
    return value


def _cases_from_csv(text: str, file: str, *, default_id: str) -> list[Any]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SuiteError("CSV file is empty: it needs a header row", file=file, line=1) from None
    except csv.Error as exc:
        raise SuiteError(f"invalid CSV: {exc}", file=file, line=1) from None
    columns = [name.strip() for name in header]
    for name in columns:
        if not name:
            raise SuiteError("CSV header has an empty column name", file=file, line=1)
        if name.startswith(_CSV_UNSUPPORTED):
            raise SuiteError(
                f"CSV column {name!r} is not supported by promptops; remove it "
                "(promptops import promptfoo explains what each maps to)",
                file=file,
                line=1,
            )
        if name.startswith("__") and not _known_csv_column(name):
            raise SuiteError(f"unknown special CSV column {name!r}", file=file, line=1)
    if len(set(columns)) != len(columns):
        raise SuiteError("CSV header names a column twice", file=file, line=1)
    cases: list[Any] = []
    row_number = 0
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SuiteError(f"invalid CSV: {exc}", file=file, line=line) from None
        if not any(cell.strip() for cell in row):
            line = reader.line_num + 1
            continue
        row_number += 1
        if len(row) != len(columns):
            raise SuiteError(
                f"row {row_number} has {len(row)} cells, the header has {len(columns)}", file=file, line=line
            )
        case = case_from_csv_row(
            dict(zip(columns, row, strict=True)), file, line, f"{default_id}-{row_number}"
        )
        if "assert" in case:
            case["assert"] = [to_promptops_assertion(spec) for spec in case["assert"]]
        cases.append(at_line(case, line))
        line = reader.line_num + 1
    return cases


def _known_csv_column(name: str) -> bool:
    return (
        name.startswith("__expected")
        or name in _CSV_CASE_KEYS
        or name == "__tags"
        or name.startswith("__metadata:")
        or bool(re.fullmatch(r"__config:__expected\d*:threshold", name))
    )


def case_from_csv_row(row: dict[str, str], file: str, line: int, default_id: str) -> dict[str, Any]:
    """One CSV row as a case; its assertions stay in promptfoo's form (see ``to_promptops_assertion``)."""
    case: dict[str, Any] = {"id": default_id}
    variables: dict[str, Any] = {}
    expected: dict[str, dict[str, Any]] = {}
    thresholds: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    for column, cell in row.items():
        if column.startswith("__expected"):
            if cell.strip():
                expected[column] = assertion_from_short_form(cell)
        elif column in _CSV_CASE_KEYS:
            if cell.strip():
                case[_CSV_CASE_KEYS[column]] = cell.strip()
        elif column == "__tags":
            case["tags"] = split_escaped_commas(cell)
        elif column.startswith("__metadata:"):
            key = column[len("__metadata:") :]
            if key.endswith("[]"):
                metadata[key[:-2]] = split_escaped_commas(cell)
            elif cell != "":
                metadata[key] = cell
        elif column.startswith("__config:"):
            target = column.split(":")[1]
            if cell.strip():
                thresholds[target] = cell.strip()
        else:
            variables[column] = cell
    for target, text in thresholds.items():
        # promptfoo's "__expected" also names the first numbered column when there is no plain one
        spec = expected.get(target) or (expected.get("__expected1") if target == "__expected" else None)
        if spec is None:
            continue
        try:
            spec["threshold"] = float(text)
        except ValueError:
            raise SuiteError(
                f"threshold {text!r} for {target} is not a number", file=file, line=line
            ) from None
    case["vars"] = variables
    if expected:
        case["assert"] = [expected[key] for key in sorted(expected, key=_expected_order)]
    if metadata:
        case["metadata"] = metadata
    return case


def _expected_order(column: str) -> int:
    digits = column[len("__expected") :]
    return int(digits) if digits.isdigit() else 0


def _cases_from_jsonl(text: str, file: str, *, default_id: str) -> list[Any]:
    cases: list[Any] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            value = json.loads(raw_line)
        except (ValueError, RecursionError) as exc:
            raise SuiteError(f"invalid JSON: {_json_reason(exc)}", file=file, line=number) from None
        if not isinstance(value, dict):
            raise SuiteError("each line must be one case object", file=file, line=number)
        value.setdefault("id", f"{default_id}-{len(cases) + 1}")
        cases.append(at_line(value, number))
    return cases


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(":")[0] if isinstance(exc, json.JSONDecodeError) else str(exc)


def _cases_from_document(text: str, file: str, suffix: str, *, default_id: str) -> list[Any]:
    if suffix == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
        except (ValueError, RecursionError) as exc:
            raise SuiteError(f"invalid JSON: {_json_reason(exc)}", file=file) from None
        # JSON has no line marks of its own; a YAML read of the same text (JSON is YAML) gives them
        try:
            located = load_yaml(text, file=file, error=SuiteError)
        except SuiteError:
            located = None
        if located is not None and _same_shape(located, value):
            value = located
    else:
        value = load_yaml(text, file=file, error=SuiteError)
    if isinstance(value, dict) and isinstance(value.get("cases"), list):
        value = value["cases"]
    if not isinstance(value, list):
        raise SuiteError("a case file must hold a list of cases", file=file, line=1)
    cases: list[Any] = []
    for index, item in enumerate(value):
        line = value.item_lines[index] if isinstance(value, LineList) else 1
        if not isinstance(item, dict):
            raise SuiteError(f"case {index + 1} must be a mapping", file=file, line=line)
        if not isinstance(item, LineDict):
            item = at_line(item, line)
        item.setdefault("id", f"{default_id}-{index + 1}")
        cases.append(item)
    return cases


def _same_shape(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) or (isinstance(a, int | float) and isinstance(b, int | float))
