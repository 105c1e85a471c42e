"""YAML loading that remembers where every key and list item came from.

Config, suites, prompt front matter, rules, goldens and recordings are read by
one validated YAML reader (``parse_yaml_model``); when validation fails, the
error's location path is walked through the loaded data to find the line of the
offending key, so each message names the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from promptops.errors import PromptOpsError


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


# the base is chosen at import time, which mypy cannot follow
class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a list or mapping cannot be a key", key_node.start_mark
            )
        if key in result.key_lines:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
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
    """Parse YAML, keeping line numbers; a syntax error becomes ``error`` with file:line."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = exc.problem or str(exc)
        raise error(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", file=file) from None
    if line_offset:
        _shift_lines(data, line_offset)
    return data


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
    where = ".".join(parts).replace(".[", "[") or "top level"
    if kind == "extra_forbidden":
        parent = ".".join(parts[:-1]).replace(".[", "[")
        message = f"unknown key {parts[-1]!r}" + (f" in {parent}" if parent else "")
    elif kind == "missing":
        message = f"missing required key {where!r}"
    else:
        msg = str(first["msg"])
        message = f"{where}: {msg[0].lower() + msg[1:] if msg else msg}"
    return error(message, file=file, line=line_of(data, loc))


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


ModelT = TypeVar("ModelT", bound=BaseModel)


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
    if not path.is_file():
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
