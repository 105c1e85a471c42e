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
from itertools import accumulate
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


class LinesOnDemand(LineDict):
    """A document read by the fast parser (``load_large_yaml``): its lines are found when first asked for.

    Only the items of the lists named when loading (a suite's ``cases``) carry their lines from the
    start; any other line (a mistake's) comes from reading the text again with the line-tracking
    loader, which only a mistake needs. Values inside are plain dicts and lists.
    """

    def __init__(self, data: dict[Any, Any], locate: Callable[[], LineDict]) -> None:
        super().__init__(data)
        self._locate: Callable[[], LineDict] | None = locate
        self._located: LineDict | None = None

    def located(self) -> LineDict:
        """The same document with every line (read once, on the first call)."""
        if self._located is None:
            assert self._locate is not None
            self._located, self._locate = self._locate(), None
        return self._located

    # plain attributes on LineDict, read-only here: the exact loader's answers
    @property
    def line(self) -> int:  # type: ignore[override]
        return self.located().line

    @property
    def key_lines(self) -> dict[Any, int]:  # type: ignore[override]
        return self.located().key_lines

    def knows(self, path: tuple[Any, ...]) -> bool:
        """Whether ``path`` is an item of a list whose lines were found up front."""
        if len(path) != 2 or path[0] not in self:
            return False
        items, index = self[path[0]], path[1]
        return isinstance(items, LineList) and isinstance(index, int) and 0 <= index < len(items)


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


try:  # a YAML parser in Rust: a large suite in a tenth of libyaml's time (see load_large_yaml)
    import yaml_rs as _yaml_rs
except ImportError:  # pragma: no cover  (a platform without its wheel: every file takes the exact path)
    _yaml_rs = None  # type: ignore[assignment]

LARGE_YAML_CHARS = 50_000
"""Documents at least this long may take the fast parser; shorter ones always take the line-tracking one."""

_REFUSED_CHARS = re.compile(
    # what PyYAML refuses (its non-printable characters), and what YAML 1.1 and 1.2 break lines at or
    # escape differently
    "[\t\r\\\\\x85\u2028\u2029\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"
)
_PLAIN_ASCII = bytes([10, *(byte for byte in range(0x20, 0x7F) if byte != 0x5C)])
"""The ASCII characters that need no such doubt: line feed and the printable ones but the backslash."""
_INDICATORS = "&*!|>%@`?"
"""Indicators of anchors, aliases, tags, block scalars, directives, reserved characters, complex keys."""
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}\n")
_OTHER_NUMBERS = tuple(
    re.compile(pattern)
    for pattern in (
        # plain scalars YAML 1.2 reads as numbers and YAML 1.1 does not, or as other numbers: 017,
        # 0o17, _1, 1e3, 1.0e3, -.5 (and 0x1f, 0b1, read alike, but not worth the doubt). Each
        # pattern starts with one character, so its search is a fast scan.
        r"0(?:(?<=[ \n\[{,]0)|(?<=[ \n\[{,][-+]0))[0-9xXbBoO_]",
        r"_(?:(?<=[ \n\[{,]_)|(?<=[ \n\[{,][-+.]_)|(?<=[ \n\[{,][-+]\._))",
        r"e(?<=[0-9._]e)[-+]?[0-9_]",
        r"E(?<=[0-9._]E)[-+]?[0-9_]",
        r"\.(?<=[-+]\.)[0-9]",
    )
)
_YAML11_WORDS = frozenset("yes Yes YES no No NO on On ON off Off OFF = <<".split())
"""Plain scalars YAML 1.1 reads as booleans, merge keys or the value tag, and YAML 1.2 as text."""
_NUMBER_FIRST = frozenset("0123456789-+.")
_PYYAML_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers


def load_large_yaml(
    text: str, *, file: str | Path, error: type[PromptOpsError], item_lines_of: tuple[str, ...]
) -> LinesOnDemand | None:
    """A large mapping read by the fast parser, or None when the line-tracking loader must read it.

    PyYAML (YAML 1.1, through libyaml) builds a Python object per node and a line per key: about
    60 ms per 1,000 suite cases, seconds for a large test set. ``yaml_rs`` (YAML 1.2, in Rust)
    reads the same text in a twentieth of that, but the two versions disagree on some plain
    scalars (``yes``, ``017``, ``1e3``, ``1:20``, dates) and yaml_rs knows no lines. So it is only
    used when its reading is PyYAML's: the text has none of the forms the two read differently
    (numbers are let through only in the forms both read alike), no anchors, tags, block scalars
    or escapes, and no nesting deeper than ``MAX_YAML_DEPTH``; anything else, and any text it
    refuses, goes to the line-tracking loader, which reports problems with their lines as always.

    The lines of the items of the top-level lists ``item_lines_of`` (a suite's cases, whose line
    every result records) are found from the text: a block sequence's items are the lines that
    start with ``-`` at its column, and the count must equal the parsed items, or the fast path is
    not taken. Every other line is found on demand (``LinesOnDemand``), by the exact loader.
    """
    if _yaml_rs is None or len(text) < LARGE_YAML_CHARS or not _fast_path_safe(text):
        return None
    try:
        data = _yaml_rs.loads(text, parse_datetime=False)
    except BaseException as exc:  # noqa: BLE001  (anything it refuses or fails at, the exact loader reports)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return None
    if not isinstance(data, dict) or not _read_alike(data):
        return None
    lists: dict[str, LineList] = {}
    for key in item_lines_of:
        items = data.get(key)
        if not isinstance(items, list):
            continue
        lines = _block_item_lines(text, key)
        if lines is None or len(lines) != len(items):
            return None
        lists[key] = LineList(items)
        lists[key].item_lines = lines
        lists[key].line = lines[0] if lines else 0
    data.update(lists)
    return LinesOnDemand(data, lambda: load_yaml(text, file=file, error=error))


def _fast_path_safe(text: str) -> bool:
    """Whether ``text`` has none of the forms that YAML 1.1 and 1.2 (or PyYAML and yaml_rs) read apart.

    Each check is a scan for a character that is rare in suites, so a large plain suite passes in
    about a tenth of the time yaml_rs takes to parse it; the few places found are looked at closely.
    """
    padded = "\n" + text  # so that a scalar at the very start has a line break before it
    if text.isascii():  # the common case, checked at memory speed
        if text.encode("ascii").translate(None, _PLAIN_ASCII):
            return False
    elif _REFUSED_CHARS.search(padded):
        return False
    # the brackets and line breaks alone: a flow collection that goes on over several lines (YAML 1.1
    # and 1.2 indent those differently) leaves a line unbalanced
    brackets = text.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    flow = b"[" in brackets or b"{" in brackets
    if (flow or b"]" in brackets or b"}" in brackets) and not _BALANCED_LINES.fullmatch(brackets.decode()):
        return False
    for indicator in _INDICATORS:
        at = padded.find(indicator)
        while at >= 0:
            before = padded[at - 1]
            if before in "\n[{," or (before == " " and _starts_scalar(padded, at)):
                return False  # where a node starts: it means what it says
            if flow and indicator == "?" and _in_flow(padded, at):
                return False  # YAML 1.1 ends a plain scalar at ``?`` inside brackets, 1.2 does not
            at = padded.find(indicator, at + 1)
    # an empty key (``: x``, ``{: x}``), or a colon before a flow indicator: read apart or refused
    for match in _EMPTY_KEY.finditer(padded):
        if match[0] != ":" or _starts_scalar(padded, match.start()):
            return False
    if padded.find("\n---") >= 0 or padded.find("\n...") >= 0:
        return False  # several documents, or a marker whose reading is not worth checking
    # block nesting deep enough to exhaust yaml_rs's stack is refused by the exact loader instead
    if "\n" + " " * 200 in text or _DASH_RUN.search(text):
        return False
    return not any(pattern.search(padded) for pattern in _OTHER_NUMBERS)


_DASH_RUN = re.compile(r"-(?: +-){49}")
_EMPTY_KEY = re.compile(r":(?:[\[\]{},]|(?<=[\n\[{,]:)|(?<= :))")
_FLOW_TOKEN = re.compile(r"'(?:[^'\n]|'')*'|\"[^\"\n]*\"|['\"\[\]{}]")


def _in_flow(text: str, at: int) -> bool:
    """Whether ``at`` may lie inside a flow collection outside quotes (flow collections keep to one line).

    Quotes count only where a scalar may start (``it's`` is plain text); an unclosed one leaves the
    answer in doubt, which is a yes.
    """
    start = text.rfind("\n", 0, at) + 1
    if text.find("[", start, at) < 0 and text.find("{", start, at) < 0:
        return False  # no bracket before it on its line
    end = text.find("\n", at)
    depth = 0
    for token in _FLOW_TOKEN.finditer(text, start, len(text) if end < 0 else end):
        if token.start() > at:
            break
        first = token[0][0]
        if first in "'\"":
            if not _starts_scalar(text, token.start()):
                continue  # a quote inside plain text
            if len(token[0]) == 1:
                return True  # a quote that does not close on this line
            if token.end() > at:
                return False  # inside quotes
        elif first in "[{":
            depth += 1
        else:
            depth -= 1
    return depth > 0


_BALANCED = r"(?:\[\]|\{\})*"
for _ in range(3):  # pairs nested up to four deep on one line
    _BALANCED = rf"(?:\[{_BALANCED}\]|\{{{_BALANCED}\}})*"
_BALANCED_LINES = re.compile(rf"(?:{_BALANCED}\n)*{_BALANCED}")


def _starts_scalar(text: str, at: int) -> bool:
    """Whether the character at ``at`` may start a node (so an indicator there means what it says)."""
    before = text[max(0, at - 400) : at].rstrip(" ")
    if not before and at > 400:
        return True  # 400 spaces: the start of something, whatever it is
    if not before or before[-1] in "\n[{,":
        return True
    return len(before) < at and before[-1] in "-?:"


def _read_alike(root: dict[Any, Any]) -> bool:
    """Whether every value of ``root`` reads the same in PyYAML, within ``MAX_YAML_DEPTH``.

    yaml_rs gives text where PyYAML reads a date, a sexagesimal number or a YAML 1.1 boolean (so such
    text, quoted or not, is left to PyYAML); flow collections as keys, and integers too large for
    PyYAML's limit, are PyYAML's to refuse. The loop runs over every value of a large suite, so the
    common case (text that cannot be a number or a 1.1 word) costs two set lookups.
    """
    words, first_chars = _YAML11_WORDS, _NUMBER_FIRST
    keys: set[Any] = set()  # checked once at the end: a suite repeats the same few keys in every case
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is dict:
            keys.update(node)
            values = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind is str:
                if value in words or value[:1] in first_chars:
                    if not _scalar_alike(value):
                        return False
            elif kind is dict or kind is list:
                if depth >= MAX_YAML_DEPTH - 1:  # its items would lie past the limit
                    return False
                stack.append((value, depth + 1))
            elif not _scalar_alike(value):
                return False
    return all(_scalar_alike(key) for key in keys)


def _scalar_alike(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        if value in _YAML11_WORDS:
            return False
        if value[:1] in _NUMBER_FIRST:
            return all(
                tag == "tag:yaml.org,2002:str" or not pattern.match(value)
                for tag, pattern in _PYYAML_RESOLVERS.get(value[0], [])
            )
        return True
    if kind is int:
        return -(10**18) < value < 10**18
    return kind is float or kind is bool or value is None


def _block_item_lines(text: str, key: str) -> list[int] | None:
    """Lines of the items of the block sequence under the top-level ``key``, or None when unsure.

    Every item of a block sequence starts with ``-`` at the sequence's column, so the items are
    among the lines found here; when as many are found as were parsed, they are exactly the items.
    An item whose value starts on a later line is left to the exact loader (its line is that one's).
    """
    # the key at the start of a line, found by a plain search (a regex scan of the whole text costs more)
    padded = "\n" + text
    head = re.compile(rf"{re.escape(key)}[ ]*:[ ]*(?:#[^\n]*)?(?=\n|$)")
    heads: list[int] = []
    at = padded.find("\n" + key)
    while at >= 0:
        match = head.match(padded, at + 1)
        if match is not None:
            heads.append(match.end() - 1)  # the line break that ends the key's line (in ``text``)
        at = padded.find("\n" + key, at + 1)
    if len(heads) != 1:
        return None
    start = heads[0]
    first = re.compile(r"\n([ ]*)-[ \n]").search(text, start)
    if first is None:
        return None
    # the region ends at the next line that starts at column 0 with anything but an item or a comment
    end_match = re.compile(r"\n[^ \n#-]").search(text, start)
    end = end_match.start() if end_match is not None else len(text)
    item = "\n" + first[1] + "-"
    region = text[start:end]
    if item + "\n" in region:
        return None  # an item whose value starts below it
    chunks = region.split(item + " ")
    if any(
        chunk[:1] in (" ", "#", "\n", "") and chunk.lstrip(" ")[:1] in ("#", "\n", "") for chunk in chunks[1:]
    ):
        return None  # nothing after the dash but a comment: the value starts below
    # item k starts on the line after every line break before it: those in the chunks before it,
    # and one in each dash that starts an item
    base = text.count("\n", 0, start) + 1
    return [base + k + before for k, before in enumerate(accumulate(c.count("\n") for c in chunks[:-1]), 1)]


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
    if isinstance(data, LinesOnDemand):
        if data.knows(path):
            return int(data[path[0]].item_lines[path[1]])
        data = data.located()
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
    if isinstance(data, LinesOnDemand):
        data = data.located()  # the document as read, with its lines (its cases may be gone)
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
    item_lines_of: tuple[str, ...] = (),
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
        item_lines_of: Top-level lists whose items' lines are needed whatever happens (a suite's
            cases): naming them lets a large document take the fast parser (``load_large_yaml``).

    Returns:
        The validated model, and the loaded mapping (for later line lookups with ``line_of``).
    """
    data: Any = None
    if item_lines_of and not line_offset:
        data = load_large_yaml(text, file=file, error=error, item_lines_of=item_lines_of)
    if data is None:
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
