"""The bounded Jinja sandbox that prompts render in.

Jinja's ``SandboxedEnvironment`` keeps a template away from Python internals, but
not from exhausting the machine: ``{{ "a" * 10**9 }}`` allocates gigabytes,
nested ``range`` loops run for hours, and ``{{ 9 ** 999999999 }}`` hangs even
before rendering, because Jinja folds constant expressions while compiling.
``BoundedSandbox`` adds the limits, each checked *before* the costly step where
that is possible and right after it otherwise:

- arithmetic is intercepted (which also stops constant folding): powers and
  products whose result would exceed ``MAX_INT_BITS``, and string or list
  repetition past the value limit, are refused;
- every call and filter is checked: an integer argument past the value limit
  (a width, a count), a ``replace``/``join``/``indent``/``%``-format whose result
  would be too large, and any result too large, are refused; ``lipsum`` is capped;
- every loop iteration, call, attribute access, operator and output is a step of
  a budget (``MAX_STEPS``), and the render stops after ``MAX_CPU_S`` of CPU time;
- the text a render produces is counted as it is produced, and the final text
  must fit ``max_output_bytes`` (``render.max_output_bytes`` in promptops.yaml);
- blocks and brackets may nest only ``MAX_NESTING`` deep, so parsing and
  compiling never hit Python's recursion limit.

Every refusal is a ``RenderLimitError`` (a Jinja ``SecurityError``), which
``prompts.py`` reports with the prompt's file and line.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg, generate_lorem_ipsum

DEFAULT_MAX_OUTPUT_BYTES = 1_000_000
MAX_STEPS = 2_000_000
"""Loop iterations, calls, attribute lookups, operators and outputs one render may take."""
MAX_CPU_S = 1.0
"""CPU seconds one render may take (thread time, so a busy machine does not trip it)."""
MAX_INT_BITS = 10_000
"""Largest integer arithmetic may build (about 3,000 digits)."""
MAX_NESTING = 30
"""Deepest nesting of blocks (if, for, macro, role ...) and of brackets in a template."""
MAX_LIPSUM_PARAGRAPHS = 100
MAX_LIPSUM_WORDS = 1_000

_CONFIG_HINT = " (render.max_output_bytes in promptops.yaml)"
_BLOCK_TAGS = frozenset(
    {"if", "for", "macro", "call", "filter", "block", "with", "autoescape", "role", "set"}
)
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d+))?")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
_DIGITS = re.compile(r"\d+")


class RenderLimitError(SecurityError):
    """A template went over one of the render limits."""


@dataclass
class _Budget:
    steps_left: int
    output_left: int
    deadline: float | None


_BUDGET: ContextVar[_Budget | None] = ContextVar("promptops_render_budget", default=None)


def text_bytes(text: str) -> int:
    """UTF-8 size of ``text`` (O(1) for ASCII, which most prompt text is)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _size(value: Any) -> int:
    """Length of a string or container, 0 for anything else."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    return 0


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002  (Jinja's names)
    if n > MAX_LIPSUM_PARAGRAPHS or max > MAX_LIPSUM_WORDS or min > MAX_LIPSUM_WORDS:
        raise RenderLimitError(
            f"lipsum is limited to {MAX_LIPSUM_PARAGRAPHS} paragraphs of at most {MAX_LIPSUM_WORDS} words"
        )
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles templates so that output, loops and ``~`` go through the sandbox's checks."""

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.promptops_output({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.promptops_output(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.promptops_value(")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # each iteration draws on the step budget: nested loops end in the budget, not in hours
        original = node.iter
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("promptops_iter"), [original], [], None, None, lineno=original.lineno
        )
        try:
            super().visit_For(node, frame)
        finally:
            node.iter = original


class _BoundedTemplate(jinja2.Template):
    """A template whose ``render`` runs under a fresh budget and checks the output size."""

    environment: BoundedSandbox

    def render(self, *args: Any, **kwargs: Any) -> str:
        env = self.environment
        # the CPU deadline is set at the first time check (after 1,024 steps): reading the clock costs
        # several microseconds, more than a short prompt takes to render
        budget = _Budget(MAX_STEPS, 4 * env.max_output_bytes, None)
        token = _BUDGET.set(budget)
        try:
            text = super().render(*args, **kwargs)
        finally:
            _BUDGET.reset(token)
        size = text_bytes(text)
        if size > env.max_output_bytes:
            limit = env.max_output_bytes
            raise RenderLimitError(
                f"the rendered text is {size:,} bytes, over the limit of {limit:,}{_CONFIG_HINT}"
            )
        return text


class BoundedSandbox(SandboxedEnvironment):
    """A ``SandboxedEnvironment`` whose renders are bounded in time, memory and output."""

    # intercepting arithmetic also keeps Jinja from folding it at compile time
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    code_generator_class = _BoundedCodeGenerator
    template_class = _BoundedTemplate

    def __init__(self, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_output_bytes = max_output_bytes
        # no single value a template builds may be larger than the whole output may be
        self.max_value = max_output_bytes
        self.globals["lipsum"] = _bounded_lipsum
        self.filters = {name: self.bounded_filter(name, func) for name, func in self.filters.items()}

    # -- parsing ---------------------------------------------------------------------------------

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        self._check_nesting(source, name, filename)
        return super()._parse(source, name, filename)

    def _check_nesting(self, source: str, name: str | None, filename: str | None) -> None:
        """Refuse templates nested deeper than ``MAX_NESTING``, before the recursive parser sees them."""
        blocks = brackets = 0
        after_begin = set_block = False
        for lineno, token, value in self.lexer.tokeniter(source, name, filename):
            if token == "whitespace":
                continue
            if token == "block_begin":
                after_begin = True
                continue
            if after_begin and token == "name":
                after_begin = False
                if value in _BLOCK_TAGS:
                    blocks += 1
                    set_block = value == "set"
                elif value.startswith("end"):
                    blocks -= 1
            else:
                after_begin = False
                if token == "operator" and value == "=" and set_block:
                    blocks -= 1  # ``{% set x = ... %}`` assigns; only ``{% set x %}`` opens a block
                    set_block = False
                elif token == "block_end":
                    set_block = False
                elif token == "operator" and value in "([{":
                    brackets += 1
                elif token == "operator" and value in ")]}":
                    brackets -= 1
            if blocks > MAX_NESTING or brackets > MAX_NESTING:
                what = "blocks" if blocks > MAX_NESTING else "brackets"
                raise jinja2.TemplateSyntaxError(
                    f"{what} are nested more than {MAX_NESTING} deep", lineno, name, filename
                )

    # -- budget ----------------------------------------------------------------------------------

    def _step(self) -> None:
        budget = _BUDGET.get()
        if budget is None:
            return
        budget.steps_left -= 1
        if budget.steps_left <= 0:
            raise RenderLimitError(
                f"rendering took more than {MAX_STEPS:,} steps (loops nested too deep or too long?)"
            )
        if budget.steps_left & 1023 == 0:
            now = time.thread_time()
            if budget.deadline is None:
                budget.deadline = now + MAX_CPU_S
            elif now > budget.deadline:
                raise RenderLimitError(f"rendering took more than {MAX_CPU_S:g} s of CPU time")

    def promptops_output(self, text: str) -> str:
        """Count text as the template produces it (compiled templates call this)."""
        budget = _BUDGET.get()
        if budget is not None:
            budget.steps_left -= 1
            if budget.steps_left & 1023 == 0:
                self._step()  # the full check (limit and CPU time) once in a while: this runs per output
            budget.output_left -= text_bytes(text)
            if budget.output_left < 0:
                limit = self.max_output_bytes
                raise RenderLimitError(
                    f"rendering produced far more than the limit of {limit:,} bytes{_CONFIG_HINT}"
                )
        return text

    def promptops_value(self, value: Any) -> Any:
        """Refuse a value the template built (``~``, an operator, a call) when it is too large."""
        size = _size(value)
        if size > self.max_value:
            what = "text" if isinstance(value, (str, bytes)) else type(value).__name__
            raise RenderLimitError(
                f"a {what} of length {size:,} is over the render limit of {self.max_value:,}{_CONFIG_HINT}"
            )
        return value

    def promptops_iter(self, iterable: Any) -> Iterator[Any]:
        """Iterate a for loop's sequence, one budget step per item."""
        for item in iterable:
            self._step()
            yield item

    def getattr(self, obj: Any, attribute: str) -> Any:
        self._step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self._step()
        return super().getitem(obj, argument)

    # -- checks on operators, calls and filters --------------------------------------------------

    def _refuse_over(self, size: int, limit: int, what: str) -> None:
        if size > limit:
            raise RenderLimitError(
                f"{what} would be {size:,} long, over the render limit of {limit:,}{_CONFIG_HINT}"
            )

    def _check_int_args(self, args: Iterable[Any]) -> None:
        for arg in args:
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > self.max_value:
                raise RenderLimitError(
                    f"the number {arg if arg.bit_length() < 64 else '(huge)'} is too large for a width "
                    f"or count in a template (limit {self.max_value:,})"
                )

    def _check_format(self, fmt: Any, printf: bool) -> None:
        if not isinstance(fmt, str):
            return
        if printf:
            widths = [int(n) for match in _PRINTF_WIDTH.finditer(fmt) for n in match.groups() if n]
        else:
            widths = [int(n) for field in _FORMAT_FIELD.findall(fmt) for n in _DIGITS.findall(field)]
        self._check_int_args(widths)

    def _check_replace(self, text: Any, old: Any, new: Any, count: Any = -1) -> None:
        if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
            return
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        self._refuse_over(len(text) + hits * (len(new) - len(old)), self.max_value, "the replaced text")

    def _check_join(self, items: Any, separator: Any) -> None:
        if not isinstance(items, (list, tuple)):
            return
        total = len(items) * len(separator if isinstance(separator, str) else "")
        total += sum(len(item) if isinstance(item, str) else _size(item) + 1 for item in items)
        self._refuse_over(total, self.max_value, "the joined text")

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        self._step()
        if operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                bits = left.bit_length() * right
                if bits > MAX_INT_BITS:
                    raise RenderLimitError(
                        f"the power ** would make a number of about {bits:,} bits, "
                        f"over the render limit of {MAX_INT_BITS:,}"
                    )
        elif operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                bits = left.bit_length() + right.bit_length()
                if bits > MAX_INT_BITS:
                    raise RenderLimitError(
                        f"the product would make a number of about {bits:,} bits, "
                        f"over the render limit of {MAX_INT_BITS:,}"
                    )
            elif isinstance(right, int) and _size(left):
                self._refuse_over(_size(left) * right, self.max_value, "the repetition")
            elif isinstance(left, int) and _size(right):
                self._refuse_over(_size(right) * left, self.max_value, "the repetition")
        elif operator == "+":
            self._refuse_over(_size(left) + _size(right), self.max_value, "the sum")
        elif operator == "%" and isinstance(left, str):
            self._check_format(left, printf=True)
            self._check_int_args(right if isinstance(right, tuple) else (right,))
        return self.promptops_value(self.binop_table[operator](left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805  (Jinja's signature)
        __self._step()
        if args:
            __self._check_int_args(args)
        if kwargs:
            __self._check_int_args(kwargs.values())
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "replace" and len(args) >= 2:
                __self._check_replace(owner, *args[:3])
            elif name == "join" and args:
                args = (list(args[0]) if not isinstance(args[0], (list, tuple)) else args[0], *args[1:])
                __self._check_join(args[0], owner)
        elif hasattr(__obj, "__wrapped__"):
            # the sandbox's wrapper around ``str.format`` keeps the bound method as ``__wrapped__``
            format_of = getattr(__obj.__wrapped__, "__self__", None)
            if isinstance(format_of, str):
                __self._check_format(format_of, printf=False)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(owner, (list, dict, set)):
            __self.promptops_value(owner)  # ``items.extend(items)`` grows the list in place
        return __self.promptops_value(result)

    def bounded_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` with its arguments and result checked; Jinja's pass-arg marker is kept by ``wraps``."""
        skip = 1 if _PassArg.from_obj(func) is not None else 0

        @functools.wraps(func)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            self._step()
            value, rest = (args[skip], args[skip + 1 :]) if len(args) > skip else (None, ())
            self._check_int_args(rest)
            self._check_int_args(kwargs.values())
            if name == "replace" and len(rest) >= 2:
                self._check_replace(value, *rest[:3])
            elif name == "join":
                if not isinstance(value, (list, tuple, str, dict)) and value is not None:
                    value = list(value)
                    args = (*args[:skip], value, *rest)
                separator = rest[0] if rest else kwargs.get("d", "")
                self._check_join(value, separator)
            elif name == "indent" and isinstance(value, str):
                width = rest[0] if rest else kwargs.get("width", 4)
                pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
                size = len(value) + (value.count("\n") + 1) * pad
                self._refuse_over(size, self.max_value, "the indented text")
            elif name == "format":
                self._check_format(value, printf=True)
            return self.promptops_value(func(*args, **kwargs))

        return bounded
