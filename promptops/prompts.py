"""Prompt files: YAML front matter plus a sandboxed Jinja body with role blocks.

A prompt ``support/triage`` is the file ``prompts/support/triage.j2``. Files and
folders starting with ``_`` are partials, included by prompts. Rendering uses a
sandboxed environment with strict undefined variables: a template cannot read
files, import or run code, and every variable it uses must be a declared input.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import jinja2
from jinja2 import meta, nodes
from jinja2.ext import Extension
from jinja2.sandbox import SecurityError
from pydantic import Field, field_validator

from promptops.errors import PromptError
from promptops.locations import (
    parse_yaml_model,
    safe_yaml_value,
    utf8_error_line,
    utf8_error_message,
)
from promptops.sandbox import DEFAULT_MAX_OUTPUT_BYTES, BoundedSandbox, RenderLimitError, text_bytes
from promptops.strict import StrictModel

if TYPE_CHECKING:
    from promptops.config import Project

PROMPT_SUFFIX = ".j2"
ROLES = ("system", "user", "assistant")
Role = Literal["system", "user", "assistant"]

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_ROLE_START = "\x1eROLE:"
_ROLE_SEP = "\x1f"
_ROLE_END = "\x1eEND\x1e"


class InputSpec(StrictModel):
    """A declared template input."""

    required: bool | None = None
    """Whether a value must be given; by default an input is required unless it has a default."""
    default: Any = None
    """Value used when none is given."""
    description: str | None = None

    @property
    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return "default" not in self.model_fields_set


class FrontMatter(StrictModel):
    """The YAML block between ``---`` lines at the top of a prompt file."""

    version: str
    """Semantic version of the prompt, bumped whenever its text changes."""
    description: str | None = None
    model: str | None = None
    """Model alias this prompt is meant for (used when a suite names none)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Call parameters, layered over the project's and alias's params."""
    inputs: dict[str, InputSpec | None] = Field(default_factory=dict)
    """Declared variables; only these are visible to the template."""
    tags: list[str] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _semver(cls, value: Any) -> str:
        text = str(value)
        if not _SEMVER.match(text):
            raise ValueError(f"version {text!r} is not a semantic version like 1.2.0")
        return text

    def input_specs(self) -> dict[str, InputSpec]:
        return {name: spec or InputSpec() for name, spec in self.inputs.items()}


def semver_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Sort key by semantic-versioning precedence (semver.org §11).

    A pre-release sorts before its release; its dot-separated identifiers compare one by one, numeric
    ones as numbers (``alpha.9`` < ``alpha.10``) and below alphanumeric ones, and a shorter list of
    equal identifiers first (``alpha`` < ``alpha.1``). Build metadata (``+...``) does not count.
    """
    match = _SEMVER.match(version)
    if not match:
        raise ValueError(f"not a semantic version: {version!r}")
    pre = version.split("+", 1)[0].partition("-")[2]
    identifiers = (
        tuple((0, int(part)) if part.isdigit() else (1, part) for part in pre.split(".")) if pre else ()
    )
    return (int(match[1]), int(match[2]), int(match[3]), 0 if pre else 1, identifiers)


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class TemplateOutsidePrompts(SecurityError):
    """An include, import or extends that names a file outside the prompts folder."""


def template_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a file inside the prompts folder (None when it can).

    Template names are ``/``-separated paths relative to the prompts folder: an absolute
    path or a ``..`` step would leave it.
    """
    if not name or "\0" in name:
        return "is empty or holds a NUL character"
    if name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path; name templates relative to the prompts folder"
    if ".." in name.split("/"):
        return "steps out of the prompts folder with '..'"
    return None


class PromptSource:
    """Where prompt files are read from: a folder, or (for versions) a git tree."""

    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    """Largest text a prompt from this source may render to."""

    def read(self, name: str) -> str | None:
        """Text of the file at ``name`` (relative to the prompts folder), or None."""
        raise NotImplementedError

    def outside(self, name: str) -> str | None:
        """Why ``name`` is not a file inside the prompts folder, or None when it is (or is missing)."""
        return template_name_problem(name)

    def names(self) -> list[str]:
        """Relative paths of all template files."""
        raise NotImplementedError

    def display(self, name: str) -> str:
        """How to show the file's path in messages."""
        return name


class FolderSource(PromptSource):
    """Prompt files in the working tree."""

    def __init__(
        self, folder: Path, display_root: Path | None = None, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    ) -> None:
        self.folder = folder
        self.display_root = display_root
        self.max_output_bytes = max_output_bytes

    def outside(self, name: str) -> str | None:
        problem = template_name_problem(name)
        if problem is not None:
            return problem
        # symlinks are resolved: a link inside the folder may point anywhere
        try:
            target = (self.folder / name).resolve()
            target.relative_to(self.folder.resolve())
        except ValueError:
            return "is a symbolic link to a file outside the prompts folder"
        except OSError as exc:
            return f"cannot be resolved: {exc.strerror or exc}"
        return None

    def read(self, name: str) -> str | None:
        problem = self.outside(name)
        if problem is not None:
            raise PromptError(f"template {name!r} {problem}", file=self.display_root or self.folder)
        path = self.folder / name
        try:
            if not os.path.isfile(path):  # False, not OSError, for a name too long for the system
                return None
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            file = self.display(name)
            raise PromptError(utf8_error_message(exc), file=file, line=utf8_error_line(exc)) from None
        except OSError as exc:
            raise PromptError(f"cannot read prompt file: {exc}", file=self.display(name)) from None

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob(f"*{PROMPT_SUFFIX}"))

    def display(self, name: str) -> str:
        path = self.folder / name
        if self.display_root is not None:
            try:
                return path.relative_to(self.display_root).as_posix()
            except ValueError:
                pass
        return str(path)


def project_source(project: Project) -> FolderSource:
    """The project's prompts folder, with its render limits."""
    return FolderSource(project.prompts_dir, project.root, project.config.render.max_output_bytes)


@dataclass(frozen=True)
class SplitFile:
    front_matter: str | None
    body: str
    body_line: int
    """1-based line in the file where the body starts."""


def split_front_matter(text: str) -> SplitFile:
    """Separate the ``---`` delimited front matter from the body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        return SplitFile(None, text, 1)
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") in ("---", "..."):
            return SplitFile("".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2)
    return SplitFile(None, text, 1)


def is_partial(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("/"))


def prompt_name(relpath: str) -> str:
    return relpath[: -len(PROMPT_SUFFIX)] if relpath.endswith(PROMPT_SUFFIX) else relpath


class _RoleExtension(Extension):
    """``{% role "system" %}...{% endrole %}`` marks one chat message."""

    tags = {"role"}

    def parse(self, parser: jinja2.parser.Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        role = parser.parse_expression()
        body = parser.parse_statements(("name:endrole",), drop_needle=True)
        call = self.call_method("_render_role", [role, nodes.Const(lineno)])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render_role(self, role: Any, lineno: int, caller: Callable[[], str]) -> str:
        if role not in ROLES:
            raise jinja2.TemplateRuntimeError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        content = caller()
        if _ROLE_START in content:
            raise jinja2.TemplateRuntimeError("role blocks cannot be nested")
        return f"{_ROLE_START}{role}{_ROLE_SEP}{content}{_ROLE_END}"


class _SourceLoader(jinja2.BaseLoader):
    """Serves template bodies with the front matter replaced by blank lines.

    Keeping the line count means Jinja's line numbers are the file's line numbers.
    """

    def __init__(self, source: PromptSource) -> None:
        self.source = source

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        # the one gate every include, import and extends passes through, at load and at render
        problem = self.source.outside(template)
        if problem is not None:
            raise TemplateOutsidePrompts(f"template {template!r} {problem}")
        text = self.source.read(template)
        if text is None:
            raise jinja2.TemplateNotFound(template)
        split = split_front_matter(text)
        return "\n" * (split.body_line - 1) + split.body, template, lambda: True


def _from_json(text: Any) -> Any:
    """``{{ config | from_json }}``: a JSON text given as a variable, as data."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise jinja2.TemplateRuntimeError(f"from_json: not valid JSON ({str(exc)[:80]})") from None


def make_environment(source: PromptSource) -> BoundedSandbox:
    env = BoundedSandbox(
        max_output_bytes=source.max_output_bytes,
        loader=_SourceLoader(source),
        undefined=jinja2.StrictUndefined,
        extensions=[_RoleExtension],
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["from_json"] = env.bounded_filter("from_json", _from_json)
    return env


@dataclass
class Prompt:
    """A loaded prompt file."""

    name: str
    relpath: str
    file: str
    """Path for messages (relative to the project root when known)."""
    front_matter: FrontMatter
    front_matter_text: str
    body: str
    body_line: int
    includes: list[str]
    fingerprint: str
    source: PromptSource = field(repr=False)
    environment: BoundedSandbox = field(repr=False)
    plain_template: PlainTemplate | None = field(default=None, repr=False)
    """The body as text and variables, when it is nothing more (see ``PlainTemplate``)."""

    @property
    def version(self) -> str:
        return self.front_matter.version

    def source_text(self) -> str:
        """The text the fingerprint covers: front matter, body and each included partial."""
        parts = [f"---\n{self.front_matter_text.rstrip()}\n---\n{self.body}"]
        for name in self.includes:
            parts.append(f"\n{{# {name} #}}\n{self.source.read(name) or ''}")
        return "".join(parts)

    def used_variables(self) -> set[str]:
        """Variables the template body reads (not counting loop or set variables)."""
        _, _, used = _parse_template(self.environment, self.relpath, self.file)
        return used

    @functools.cached_property
    def _input_specs(self) -> dict[str, InputSpec]:
        return self.front_matter.input_specs()

    def bind(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Check ``variables`` against the declared inputs and apply defaults."""
        specs = self._input_specs
        unknown = [] if variables.keys() <= specs.keys() else sorted(set(variables) - set(specs))
        if unknown:
            declared = ", ".join(sorted(specs)) or "none"
            raise PromptError(
                f"prompt {self.name}: variable {unknown[0]!r} is not a declared input (declared: {declared})",
                file=self.file,
            )
        bound: dict[str, Any] = {}
        for name, spec in specs.items():
            if name in variables:
                bound[name] = variables[name]
            elif spec.is_required:
                raise PromptError(f"prompt {self.name}: required input {name!r} is missing", file=self.file)
            elif "default" in spec.model_fields_set:
                bound[name] = spec.default
        return bound

    def check_renders(self, variables: dict[str, Any]) -> None:
        """Raise ``PromptError`` as ``render`` would; a plain template's values are checked, not joined."""
        if self.plain_template is not None:
            bound = self.bind(variables)
            if self.plain_template.can_render(bound, self.source.max_output_bytes):
                return
        self.render(variables)

    def render(self, variables: dict[str, Any]) -> list[Message]:
        """Render the chat messages for ``variables``."""
        bound = self.bind(variables)
        if self.plain_template is not None:
            messages = self.plain_template.messages(bound, self.source.max_output_bytes)
            if messages is not None:
                return messages
            text = self.plain_template.render(bound, self.source.max_output_bytes)
            if text is not None:
                return _split_messages(text, self.name, self.file, self._stray_text_line)
        try:
            template = self.environment.get_template(self.relpath)
            text = template.render(bound)
        except PromptError:
            raise
        except (RenderLimitError, TemplateOutsidePrompts) as exc:
            file, line = _template_location(exc, self.source)
            raise PromptError(f"prompt {self.name}: {exc}", file=file or self.file, line=line) from None
        except SecurityError as exc:
            file, line = _template_location(exc, self.source)
            raise PromptError(
                f"prompt {self.name}: unsafe operation blocked: {exc}", file=file, line=line
            ) from None
        except jinja2.UndefinedError as exc:
            file, line = _template_location(exc, self.source)
            raise PromptError(
                f"prompt {self.name}: {exc.message}; declare it under inputs or give it a value",
                file=file,
                line=line,
            ) from None
        except jinja2.TemplateError as exc:
            file, line = _template_location(exc, self.source)
            raise PromptError(f"prompt {self.name}: {exc.message or exc}", file=file, line=line) from None
        except RecursionError as exc:
            file, line = _template_location(exc, self.source)
            raise PromptError(
                f"prompt {self.name}: recursion too deep (templates include each other in a cycle, "
                "or a macro calls itself without end)",
                file=file,
                line=line,
            ) from None
        except Exception as exc:  # noqa: BLE001  (the template's own code failed: a user error, not a crash)
            file, line = _template_location(exc, self.source)
            raise PromptError(
                f"prompt {self.name}: rendering failed: {type(exc).__name__}: {exc}", file=file, line=line
            ) from None
        return _split_messages(text, self.name, self.file, self._stray_text_line)

    def _stray_text_line(self, text: str) -> int | None:
        """Line of the template text outside role blocks that starts with ``text``."""
        ast, _, _ = _parse_template(self.environment, self.relpath, self.file)
        first = text.strip().splitlines()[0] if text.strip() else ""
        pending: list[nodes.Node] = [ast]
        while first and pending:
            node = pending.pop(0)
            if isinstance(node, nodes.CallBlock) and _is_role_call(node):
                continue
            if isinstance(node, nodes.TemplateData) and first in node.data:
                return node.lineno + node.data.count("\n", 0, node.data.index(first))
            pending.extend(node.iter_child_nodes())
        return None


def _is_role_call(node: nodes.CallBlock) -> bool:
    call = node.call
    return (
        isinstance(call, nodes.Call)
        and isinstance(call.node, nodes.ExtensionAttribute)
        and call.node.identifier == _RoleExtension.identifier
        and call.node.name == "_render_role"
    )


Piece = str | tuple[str]
"""Literal text, or ``(name,)``: the value of the variable ``name`` as text."""


@dataclass(frozen=True)
class PlainTemplate:
    """A template body that is only literal text, ``{{ name }}`` outputs and role blocks around them.

    Most prompts are just that, and a large suite renders one per case before any call (and again
    when the call is made): joining the pieces gives, character for character, the text the sandboxed
    Jinja render produces (``str`` of each value, role markers as ``_RoleExtension`` writes them) in a
    few microseconds instead of a hundred. Whenever the render could go another way than plain joining
    (a variable not given, a value holding a role marker, an output over the size limit), ``render``
    returns None and the sandbox renders the case, so every error stays exactly as it was.
    """

    pieces: tuple[Piece, ...]
    roles: tuple[tuple[str, tuple[Piece, ...]], ...] | None = None
    """Each role block's role and pieces, when all text outside them is blank: the messages directly."""

    @staticmethod
    def of(ast: nodes.Template) -> PlainTemplate | None:
        """The template as pieces, or None when it uses anything beyond text, names and role blocks."""
        pieces: list[Piece] = []
        roles: list[tuple[str, tuple[Piece, ...]]] = []
        blank_outside = True
        for node in ast.body:
            if isinstance(node, nodes.Output):
                before = len(pieces)
                if not _plain_output(node, pieces):
                    return None
                blank_outside = blank_outside and all(
                    isinstance(piece, str) and not piece.strip() for piece in pieces[before:]
                )
            elif isinstance(node, nodes.CallBlock) and _is_role_call(node):
                args = node.call.args if isinstance(node.call, nodes.Call) else []
                role = args[0].value if args and isinstance(args[0], nodes.Const) else None
                if role not in ROLES or node.args or node.defaults:
                    return None  # an unknown role is the sandbox's error to report
                pieces.append(f"{_ROLE_START}{role}{_ROLE_SEP}")
                body: list[Piece] = []
                for child in node.body:
                    if not (isinstance(child, nodes.Output) and _plain_output(child, body)):
                        return None
                pieces.extend(body)
                pieces.append(_ROLE_END)
                roles.append((str(role), tuple(body)))
            else:
                return None
        return PlainTemplate(tuple(pieces), tuple(roles) if roles and blank_outside else None)

    def render(self, bound: dict[str, Any], max_output_bytes: int) -> str | None:
        """The rendered text, or None when the sandbox must render (it then reports any problem)."""
        values = self._values(bound, max_output_bytes)
        if values is None:
            return None
        return "".join(piece if isinstance(piece, str) else values[piece[0]] for piece in self.pieces)

    def messages(self, bound: dict[str, Any], max_output_bytes: int) -> list[Message] | None:
        """The messages (as ``_split_messages`` makes them from the text), or None for the sandbox."""
        if self.roles is None:
            return None
        values = self._values(bound, max_output_bytes)
        if values is None:
            return None
        return [
            Message(
                role,
                (
                    values[body[0][0]]
                    if len(body) == 1 and not isinstance(body[0], str)
                    else "".join(p if isinstance(p, str) else values[p[0]] for p in body)
                ).strip(),
            )
            for role, body in self.roles
        ]

    def can_render(self, bound: dict[str, Any], max_output_bytes: int) -> bool:
        """Whether the messages come out of ``bound`` without a problem (text outside role blocks is one)."""
        splits = self.roles is not None or not any(piece == _ROLE_END for piece in self.pieces)
        return splits and self._values(bound, max_output_bytes) is not None

    @functools.cached_property
    def _sizes(self) -> tuple[int, tuple[tuple[str, int], ...]]:
        """Bytes of the literal text, and each variable with the number of times it is output."""
        names: dict[str, int] = {}
        for piece in self.pieces:
            if not isinstance(piece, str):
                names[piece[0]] = names.get(piece[0], 0) + 1
        literal = sum(text_bytes(piece) for piece in self.pieces if isinstance(piece, str))
        return literal, tuple(names.items())

    def _values(self, bound: dict[str, Any], max_output_bytes: int) -> dict[str, str] | None:
        """Each variable's text, or None when plain joining might not be what the sandbox does."""
        size, names = self._sizes
        values: dict[str, str] = {}
        for name, count in names:
            if name not in bound:
                return None  # undefined here: the sandbox names it with the line
            value = str(bound[name])
            if _MARKER_CHAR in value:
                return None  # a value that holds a role marker: the sandbox decides what that means
            values[name] = value
            size += count * text_bytes(value)
        if size > max_output_bytes:
            return None
        return values


_MARKER_CHAR = _ROLE_START[0]


def _plain_output(node: nodes.Output, pieces: list[Piece]) -> bool:
    """Append an output node's pieces; False when it holds more than literal text and plain names."""
    for child in node.nodes:
        if isinstance(child, nodes.TemplateData):
            if _MARKER_CHAR in child.data:
                return False  # text that looks like a role marker: the sandbox's reading decides
            pieces.append(child.data)
        elif isinstance(child, nodes.Name) and child.ctx == "load":
            pieces.append((child.name,))
        else:
            return False
    return True


def _split_messages(
    text: str, name: str, file: str, line_of_text: Callable[[str], int | None] = lambda _: None
) -> list[Message]:
    if _ROLE_START not in text:
        return [Message("user", text.strip())]
    messages: list[Message] = []
    rest = text
    while _ROLE_START in rest:
        before, _, rest = rest.partition(_ROLE_START)
        if before.strip():
            raise PromptError(
                f"prompt {name}: text outside role blocks: {before.strip()[:40]!r}",
                file=file,
                line=line_of_text(before),
            )
        header, _, rest = rest.partition(_ROLE_END)
        role, _, content = header.partition(_ROLE_SEP)
        messages.append(Message(role, content.strip()))
    if rest.strip():
        raise PromptError(
            f"prompt {name}: text outside role blocks: {rest.strip()[:40]!r}",
            file=file,
            line=line_of_text(rest),
        )
    return messages


def _template_location(exc: BaseException, source: PromptSource) -> tuple[str | None, int | None]:
    """File and line of the innermost template frame in ``exc``'s traceback."""
    lineno = getattr(exc, "lineno", None)
    filename = getattr(exc, "filename", None) or getattr(exc, "name", None)
    if lineno and filename:
        return source.display(filename), lineno
    found: tuple[str | None, int | None] = (None, None)
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        code_file = tb.tb_frame.f_code.co_filename
        if code_file.endswith(PROMPT_SUFFIX):
            found = (source.display(code_file), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _parse_template(
    env: BoundedSandbox, relpath: str, file: str
) -> tuple[jinja2.nodes.Template, list[str], set[str]]:
    assert env.loader is not None
    text, _, _ = env.loader.get_source(env, relpath)
    try:
        ast = env.parse(text, name=relpath, filename=relpath)
        # finding the variables compiles the template, which reports unknown filters and tests
        used = set(meta.find_undeclared_variables(ast))
        # compiling now (it is cached for rendering) puts Python's own compile limits at load time
        env.get_template(relpath)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"template syntax error: {exc.message}", file=file, line=exc.lineno) from None
    except (RecursionError, SyntaxError, MemoryError) as exc:
        # Python's error points into Jinja's generated code, not the template: the longest line is
        # where such nesting is written
        lines = text.splitlines() or [""]
        longest = max(range(len(lines)), key=lambda index: len(lines[index])) + 1
        raise PromptError(
            f"template is nested too deeply to compile ({type(exc).__name__})", file=file, line=longest
        ) from None
    refs = [ref for ref in meta.find_referenced_templates(ast) if ref is not None]
    return ast, refs, used


def _reference_line(ast: nodes.Template, ref: str) -> int | None:
    """First line of ``ast`` that includes, imports or extends ``ref``."""
    kinds = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
    lines = []
    for node in ast.find_all(kinds):
        target = getattr(node, "template", None)
        names = [item for item in getattr(target, "items", [target])] if target is not None else []
        if any(getattr(item, "value", None) == ref for item in names):
            lines.append(node.lineno)
    return min(lines, default=None)


def _resolve_includes(env: BoundedSandbox, relpath: str, source: PromptSource) -> list[str]:
    """Every template reachable from ``relpath`` through include/import/extends, in a stable order."""
    seen: list[str] = []
    pending = [relpath]
    while pending:
        current = pending.pop()
        ast, refs, _ = _parse_template(env, current, source.display(current))
        for ref in refs:
            if ref in seen or ref == relpath:
                continue
            problem = source.outside(ref)
            if problem is not None:
                raise PromptError(
                    f"template {ref!r} {problem}",
                    file=source.display(current),
                    line=_reference_line(ast, ref),
                )
            if source.read(ref) is None:
                raise PromptError(
                    f"included template {ref!r} not found",
                    file=source.display(current),
                    line=_reference_line(ast, ref),
                )
            seen.append(ref)
            pending.append(ref)
    return sorted(seen)


def fingerprint_of(front_matter_text: str, body: str, includes: dict[str, str]) -> str:
    """Hash of front matter, body and resolved includes: identifies the exact text tested."""
    digest = hashlib.sha256()
    for part in (front_matter_text, body):
        digest.update(part.encode())
        digest.update(b"\0")
    for name in sorted(includes):
        digest.update(name.encode() + b"\0" + includes[name].encode() + b"\0")
    return digest.hexdigest()[:16]


def load_prompt(source: PromptSource, name: str) -> Prompt:
    """Load prompt ``name`` (e.g. ``support/triage``) from ``source``."""
    relpath = name if name.endswith(PROMPT_SUFFIX) else name + PROMPT_SUFFIX
    file = source.display(relpath)
    problem = source.outside(relpath)
    if problem is not None:
        raise PromptError(f"prompt name {name!r} {problem}")
    text = source.read(relpath)
    if text is None:
        raise PromptError(f"prompt {name!r} not found (expected {file})")
    split = split_front_matter(text)
    if split.front_matter is None:
        raise PromptError(
            "prompt file has no front matter: start it with a '---' line, a YAML block "
            "with at least 'version', and another '---' line",
            file=file,
            line=1,
        )
    front, _ = parse_yaml_model(
        split.front_matter,
        FrontMatter,
        file=file,
        error=PromptError,
        not_a_mapping="front matter must be a YAML mapping",
        line_offset=1,
    )
    env = make_environment(source)
    includes = _resolve_includes(env, relpath, source)
    include_texts = {ref: source.read(ref) or "" for ref in includes}
    ast, _, _ = _parse_template(env, relpath, file)
    return Prompt(
        name=prompt_name(relpath),
        relpath=relpath,
        file=file,
        front_matter=front,
        front_matter_text=split.front_matter,
        body=split.body,
        body_line=split.body_line,
        includes=includes,
        fingerprint=fingerprint_of(split.front_matter, split.body, include_texts),
        source=source,
        environment=env,
        plain_template=PlainTemplate.of(ast),
    )


def iter_prompt_names(source: PromptSource) -> Iterator[str]:
    """Names of all prompts (partials excluded)."""
    for relpath in source.names():
        if not is_partial(relpath):
            yield prompt_name(relpath)


def parse_var(text: str) -> tuple[str, Any]:
    """``k=v`` from the command line; the value is parsed as YAML so lists and numbers work."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise PromptError(f"--var expects KEY=VALUE, got {text!r}")
    try:
        parsed = safe_yaml_value(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    # plain words stay strings even when YAML would read them as booleans or dates
    if not isinstance(parsed, (list, dict, int, float)) or isinstance(parsed, bool):
        parsed = value
    return key.strip(), parsed
