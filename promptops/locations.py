"""YAML loading that remembers where every key and list item came from.

Config, suites, prompt front matter, rules, goldens and recordings are read by
one validated YAML reader (``parse_yaml_model``); when validation fails, the
error's location path is walked through the loaded data to find the line of the
offending key, so each message names the file and line.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from promptops.errors import PromptOpsError

ModelT = TypeVar("ModelT", bound=BaseModel)


class LineDict(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


# libyaml's parser when available: about ten times faster on suites with thousands of cases
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_YAML_DEPTH = 100
"""Deepest nesting of mappings and lists a YAML file may have (real files stay under 20)."""
MAX_ALIAS_NODES = 100_000
"""Values aliases may add to a document beyond its own: a bound on "billion laughs" expansion."""
_COMPOSER_SAFE_DEPTH = 2_000
"""libyaml's composer recurses in C per level: about 30,000 levels overflow an 8 MB stack (a crash)."""
_LONG_LINE = _COMPOSER_SAFE_DEPTH // 2 - 2
"""Characters in one line from which the cheap depth bound no longer holds."""


def _check_depth_before_composing(text: str) -> None:
    """Refuse nesting beyond ``MAX_YAML_DEPTH`` before libyaml's recursive composer sees it.

    A block collection nested inside another starts at a greater column (or the same
    one, for a list under a key), so block depth is at most about twice the longest
    line; each flow level needs a ``[`` or ``{``. When that bound is safe (nearly every
    file), nothing more is done; otherwise the parser's events, which libyaml produces
    without recursion, are counted (about a tenth of the time a load takes).
    """
    if text.count("[") + text.count("{") + _COMPOSER_SAFE_DEPTH // 2 < _COMPOSER_SAFE_DEPTH and (
        max(map(len, text.split("\n"))) < _LONG_LINE
    ):
        return
    depth = 0
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise _refusal(f"nested more than {MAX_YAML_DEPTH} levels deep", event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _refusal(problem: str, mark: Any) -> yaml.constructor.ConstructorError:
    """A YAML error at ``mark`` (libyaml's marks and PyYAML's differ in type, not in use)."""
    return yaml.constructor.ConstructorError(None, None, problem, mark)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_shape(root: yaml.Node, anchored: bool = True) -> None:
    """Refuse documents nested too deeply, with recursive aliases, or whose aliases expand too far.

    The composed graph shares the node an alias points to, so constructing it is cheap;
    the blow-up comes later, when validation and copies walk every path through the
    shared nodes (nine levels of nine aliases: 387 million nodes, gigabytes of memory).
    The expanded size is counted here once per distinct node, without recursion, so a
    file nested 100,000 deep cannot exhaust the stack either. A document with no anchor
    (``anchored`` False) shares no node, so only its depth is checked (the common case, and
    several times cheaper on a suite of thousands of cases).
    """
    if not anchored:
        _check_depth(root)
        return
    sizes: dict[int, int] = {}
    uses: dict[int, int] = {}
    nodes: dict[int, yaml.Node] = {}
    on_path = {id(root)}
    stack: list[tuple[yaml.Node, list[yaml.Node], int]] = [(root, _children(root), 0)]
    while stack:
        node, children, index = stack[-1]
        if index < len(children):
            stack[-1] = (node, children, index + 1)
            child = children[index]
            key = id(child)
            uses[key] = uses.get(key, 0) + 1
            if key in sizes:
                continue
            if key in on_path:
                raise _refusal("an alias refers to a node that contains it", child.start_mark)
            if len(stack) >= MAX_YAML_DEPTH:
                raise _refusal(f"nested more than {MAX_YAML_DEPTH} levels deep", child.start_mark)
            on_path.add(key)
            stack.append((child, _children(child), 0))
            continue
        stack.pop()
        on_path.discard(id(node))
        # Python ints do not overflow: a billion-laughs total is just a large number here
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
        nodes[id(node)] = node
    expanded = sizes[id(root)]
    if expanded - len(sizes) > MAX_ALIAS_NODES:
        shared = [key for key, count in uses.items() if count > 1]
        worst = max(shared, key=lambda key: sizes[key] * (uses[key] - 1)) if shared else id(root)
        raise _refusal(
            f"aliases expand this document from {len(sizes):,} to {expanded:,} values (at most "
            f"{MAX_ALIAS_NODES:,} more are allowed); the anchor on this line appears {uses.get(worst, 1):,} "
            "times: write the values out or use fewer aliases",
            nodes[worst].start_mark,
        )


def _check_depth(root: yaml.Node) -> None:
    """Refuse nesting beyond ``MAX_YAML_DEPTH``: ``_check_shape``'s walk, in the same order, for a tree."""
    stack: list[Iterator[yaml.Node]] = [iter(_children(root))]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if len(stack) >= MAX_YAML_DEPTH:
            raise _refusal(f"nested more than {MAX_YAML_DEPTH} levels deep", child.start_mark)
        children = _children(child)
        if children:
            stack.append(iter(children))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a large structure that stays alive is built.

    Loading a suite (or folding a run's results) creates hundreds of thousands of objects
    that all stay alive, and each collection the allocations trigger walks them again:
    about 40 % of the time a large suite takes to load. Nothing built so forms garbage cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# the base is chosen at import time, which mypy cannot follow
class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    anchored = True
    """Whether the document's text has an anchor (``&``): without one no node is shared."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_shape(node, self.anchored)
        return super().construct_document(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            # a scalar Python refuses to convert: 2024-13-45 as a date, an integer of 5,000 digits
            problem = "integer with too many digits" if "integer string conversion" in str(exc) else str(exc)
            raise _refusal(f"cannot read value: {problem}", node.start_mark) from None


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise _refusal("a list or mapping cannot be a key", key_node.start_mark)
        if key in result.key_lines:
            raise _refusal(f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, *, file: str | Path, error: type[PromptOpsError], line_offset: int = 0) -> Any:
    """Parse YAML, keeping line numbers; a syntax error becomes ``error`` with file:line.

    Nesting deeper than ``MAX_YAML_DEPTH`` and aliases that expand the document by more
    than ``MAX_ALIAS_NODES`` values are refused, so no file can exhaust memory or the stack.
    """
    try:
        _check_depth_before_composing(text)
        loader = _LineLoader(text)
        loader.anchored = "&" in text
        try:
            with gc_paused():
                data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = exc.problem or str(exc)
        raise error(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 + line_offset
        raise error(
            f"invalid YAML: {exc.reason} (character {exc.character!r})", file=file, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {' '.join(str(exc).split())}", file=file) from None
    except RecursionError:  # the pure-Python parser, where libyaml is missing, recurses per level
        raise error(f"invalid YAML: nested more than {MAX_YAML_DEPTH} levels deep", file=file) from None
    if line_offset:
        _shift_lines(data, line_offset)
    return data


def safe_yaml_value(text: str) -> Any:
    """Plain data from YAML text that is not a file (a ``--var`` value, a quick peek at a suite).

    The same bounds as ``load_yaml``; raises ``yaml.YAMLError`` for anything it refuses.
    """
    try:
        _check_depth_before_composing(text)
        return plain(yaml.load(text, Loader=_LineLoader))  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise yaml.YAMLError(f"nested more than {MAX_YAML_DEPTH} levels deep") from None


def _shift_lines(data: Any, offset: int) -> None:
    if isinstance(data, LineDict):
        data.line += offset
        data.key_lines = {k: v + offset for k, v in data.key_lines.items()}
        for value in data.values():
            _shift_lines(value, offset)
    elif isinstance(data, LineList):
        data.line += offset
        data.item_lines = [v + offset for v in data.item_lines]
        for value in data:
            _shift_lines(value, offset)


def line_of(data: Any, path: tuple[Any, ...]) -> int | None:
    """Line of the deepest node of ``path`` found in ``data``.

    Parts that are not keys of the current node (pydantic's union member tags,
    a key that is missing) are skipped rather than ending the walk.
    """
    line = getattr(data, "line", None) or None
    node = data
    for part in path:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
    return line


def _readable_path(data: Any, path: tuple[Any, ...], missing: bool = True) -> list[str]:
    parts: list[str] = []
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif part is not path[-1] or not missing:
            continue  # a union member tag, not a key
        parts.append(f"[{part}]" if isinstance(part, int) else str(part))
    return parts


def _resolved_parts(data: Any, path: tuple[Any, ...]) -> list[bool]:
    """For each part of ``path``: is it a key or index of the data (not a union member tag)?"""
    found: list[bool] = []
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
            found.append(True)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            found.append(True)
        else:
            found.append(False)
    return found


def _first_error(exc: ValidationError, data: Any, prefix: tuple[Any, ...]) -> Any:
    """The first error, or for a union the error of the member that got furthest into the data.

    A union such as ``str | ModelAlias`` reports one error per member, tagged with the
    member's name; the first (``input should be a valid string``) is rarely the one meant.
    """
    errors = exc.errors()
    first = errors[0]
    loc = prefix + tuple(first["loc"])
    found = _resolved_parts(data, loc)
    if all(found) or (found.index(False) == len(loc) - 1 and first["type"] == "missing"):
        return first
    cut = found.index(False)
    paths = [prefix + tuple(e["loc"]) for e in errors]
    members = [i for i, path in enumerate(paths) if len(path) > cut and path[:cut] == loc[:cut]]
    best = max(members, key=lambda i: (sum(_resolved_parts(data, paths[i])), len(paths[i])))
    return errors[best]


def _error_message(kind: str, parts: list[str], msg: str) -> str:
    where = ".".join(parts).replace(".[", "[") or "top level"
    if kind == "extra_forbidden" and parts:
        parent = ".".join(parts[:-1]).replace(".[", "[")
        return f"unknown key {parts[-1]!r}" + (f" in {parent}" if parent else "")
    if kind == "missing":
        return f"missing required key {where!r}"
    return f"{where}: {msg[0].lower() + msg[1:] if msg else msg}"


def describe_validation_error(
    exc: ValidationError,
    data: Any,
    *,
    file: str | Path,
    error: type[PromptOpsError],
    prefix: tuple[Any, ...] = (),
) -> PromptOpsError:
    """The first pydantic error as one user-facing message with file and line."""
    first = _first_error(exc, data, prefix)
    loc = prefix + tuple(first["loc"])
    kind = first["type"]
    parts = _readable_path(data, loc, missing=kind == "missing")
    return error(_error_message(kind, parts, str(first["msg"])), file=file, line=line_of(data, loc))


_JSON_POSITION = re.compile(r"^(.*) at line (\d+) column (\d+)$")


def _json_problem(text: str, line: int | None) -> tuple[str, int | None]:
    """A parser message without its position, and the file line it points at."""
    match = _JSON_POSITION.match(text)
    if match is None:
        return text, line
    at = int(match[2])
    return f"{match[1]} (column {match[3]})", (line + at - 1) if line else at


def describe_json_error(
    exc: ValidationError, *, file: str | Path, error: type[PromptOpsError], line: int | None = None
) -> PromptOpsError:
    """The first error of validating JSON text as one message: bad JSON, unknown key, wrong type.

    ``line`` is where the JSON text starts in the file (a line of a JSONL file).
    """
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        problem, at = _json_problem(str((first.get("ctx") or {}).get("error", first["msg"])), line)
        return error(f"invalid JSON: {problem}", file=file, line=at)
    parts = [f"[{part}]" if isinstance(part, int) else str(part) for part in first["loc"]]
    return error(_error_message(first["type"], parts, str(first["msg"])), file=file, line=line)


def parse_json(raw: bytes | str, *, file: str | Path, error: type[PromptOpsError]) -> Any:
    """JSON data, or ``error`` naming the file and line.

    pydantic's parser rather than the standard library's: it bounds nesting and the
    size of integers instead of raising RecursionError or ValueError, and reports
    invalid UTF-8 as a parse error with its position.
    """
    from pydantic_core import from_json

    try:
        return from_json(raw)
    except ValueError as exc:
        problem, line = _json_problem(str(exc), None)
        raise error(f"invalid JSON: {problem}", file=file, line=line) from None


def read_json_model(
    path: Path, model: type[ModelT], *, file: str | Path, error: type[PromptOpsError]
) -> ModelT:
    """A JSON file validated as ``model``; every problem (unreadable, bad JSON, bad data) raises ``error``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", file=file) from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise describe_json_error(exc, file=file, error=error) from None


def utf8_error_line(exc: UnicodeDecodeError) -> int:
    """1-based line of the first byte that is not valid UTF-8."""
    return bytes(exc.object[: exc.start]).count(b"\n") + 1


def utf8_error_message(exc: UnicodeDecodeError) -> str:
    return f"file is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x}: {exc.reason}); save it as UTF-8"


def plain(value: Any) -> Any:
    """``value`` with line-tracking containers turned back into plain dicts and lists.

    Values that leave the loader (assertion values, variables) must compare and
    serialise like ordinary data: deepdiff, for one, treats a dict subclass as a
    different type.
    """
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def read_yaml_text(path: Path, *, file: str, error: type[PromptOpsError], what: str = "file") -> str:
    """The text of a YAML file; an unreadable or non-UTF-8 file raises ``error`` naming it (and the line)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(utf8_error_message(exc), file=file, line=utf8_error_line(exc)) from None
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", file=file) from None


def parse_yaml_model(
    text: str,
    model: type[ModelT],
    *,
    file: str,
    error: type[PromptOpsError],
    not_a_mapping: str = "expected a YAML mapping of keys to values",
    line_offset: int = 0,
    empty_ok: bool = False,
    prepare: Callable[[LineDict], Any] | None = None,
) -> tuple[ModelT, LineDict]:
    """The one validated YAML reader: parse ``text`` keeping every key's line, and validate it as ``model``.

    Config, suites, prompt front matter, rules, goldens and recordings all load through it, so each
    mistake is reported the same way: ``error`` with the file and the line of the offending key.

    Args:
        text: The YAML document.
        model: The pydantic model it must satisfy.
        file: The file as the user should see it, for messages.
        error: The error class raised for every mistake (its exit code is that of the input).
        not_a_mapping: The message when the document is not a mapping.
        line_offset: Lines above ``text`` in its file (front matter starts on line 2).
        empty_ok: An empty document stands for an empty mapping.
        prepare: Checks or reshapes the mapping before validation (raising ``error`` with its own
            lines); its result is what ``model`` validates.

    Returns:
        The validated model, and the loaded mapping (for later line lookups with ``line_of``).
    """
    data = load_yaml(text, file=file, error=error, line_offset=line_offset)
    if data is None and empty_ok:
        data = LineDict()
        data.line, data.key_lines = line_offset + 1, {}
    if not isinstance(data, LineDict):
        raise error(not_a_mapping, file=file, line=line_offset + 1)
    try:
        return model.model_validate(prepare(data) if prepare else data), data
    except ValidationError as exc:
        raise describe_validation_error(exc, data, file=file, error=error) from None


def read_yaml_model(
    path: Path, model: type[ModelT], *, file: str, error: type[PromptOpsError]
) -> ModelT | None:
    """A YAML file validated as ``model``, or None when it does not exist; mistakes raise ``error``."""
    if not os.path.isfile(path):  # unlike Path.is_file, False for a name too long for the system
        return None
    return parse_yaml_model(read_yaml_text(path, file=file, error=error), model, file=file, error=error)[0]


class _ReadableDumper(yaml.SafeDumper):
    """Multi-line text as ``|`` blocks so a changed answer reads as a line diff."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and all(ch == "\n" or ch.isprintable() for ch in value) and value == value.rstrip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ReadableDumper.add_representer(str, _str_representer)


def write_readable_yaml(path: Path, data: Any) -> None:
    """Write ``data`` as YAML meant for pull-request diffs, replacing ``path`` atomically."""
    text = yaml.dump(data, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True, width=100)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
