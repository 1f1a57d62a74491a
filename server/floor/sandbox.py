"""The one Jinja2 environment course text renders in: Jinja2's sandbox, bounded in work and in size.

Unit bodies come from organizers and from other instances, and render on public pages, in mails
and in fediverse posts. Jinja2's sandbox keeps a template away from Python's internals, not from
costing seconds or gigabytes: nested `range` loops, `"x" * 10**9`, `9**9**9`, a text doubled by `~`
forty times, `"x"|center(10**9)`. Every render here has a budget of its own (a ContextVar, so
environments are shared by threads safely):

- each loop turn, call, filter and arithmetic operation is a step: at most MAX_STEPS a render, and
  MAX_SECONDS of wall time as a backstop for steps that are slow one by one;
- `range()` gives at most MAX_RANGE numbers, and calls (macros, recursive loops) nest at most
  MAX_DEPTH deep;
- a value the template makes (joined text, a filter's result, arithmetic) holds at most MAX_VALUE
  characters or items, checked before it is made wherever the size can be foreseen;
- the rendered text holds at most MAX_OUTPUT characters.

Over a bound, rendering raises `TemplateTooCostly` (a `SecurityError`, so a `TemplateError`): import
and the editor refuse the body with its line, and renderers show an error instead of hanging.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import wraps
from itertools import chain, islice
from typing import Any

from jinja2 import TemplateError, TemplateRuntimeError, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.environment import Template
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_STEPS = 10_000
MAX_SECONDS = 1.0
MAX_RANGE = 1_000
MAX_DEPTH = 40
MAX_VALUE = 100_000
MAX_OUTPUT = 4_000_000
MAX_INT_BITS = 4_096
MAX_WIDTH = 1_000  # of a printf field (`%5d`), an indent or a wrap string
# The str methods a template may call: none of them makes a text longer than the one it is called on.
TEXT_METHODS = frozenset(
    {
        "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isascii",
        "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle",
        "isupper", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "rfind", "rindex",
        "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "striptags",
        "swapcase", "title", "unescape", "upper",
    }
)  # fmt: skip
# Errors of Python itself that a template can cause ({{ 1 / 0 }}, {{ [] | first + 1 }}): reported as template errors.
_PYTHON_ERRORS = (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, RecursionError)
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class TemplateTooCostly(SecurityError):
    """A template would cost more work or memory than course text may."""


class _Budget:
    """What one render has spent."""

    def __init__(self) -> None:
        self.steps = 0
        self.depth = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateTooCostly(
                f"the text takes more than {MAX_STEPS:,} steps (loop turns, calls, filters) to render; make its loops smaller"
            )
        if time.monotonic() > self.deadline:
            raise TemplateTooCostly(f"the text takes longer than {MAX_SECONDS:g} s to render; make its loops smaller")


_BUDGET: ContextVar[_Budget | None] = ContextVar("course_text_budget", default=None)


def _spend() -> _Budget | None:
    """Count a step of the current render (none when Jinja2 folds constants while compiling)."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()
    return budget


def size_of(value: Any, limit: int = MAX_VALUE) -> int:
    """Characters of text plus items of containers, counted deep; counting stops just past `limit`."""
    total, pending = 0, [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, range):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset | dict):
            total += len(item)
            inner = chain.from_iterable(item.items()) if isinstance(item, dict) else item
            pending.extend(islice(inner, limit - total + 1))
        else:
            total += 1
    return total


def _fits(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise TemplateTooCostly(f"{what} would hold more than {MAX_VALUE:,} characters or items")


def _check(value: Any, what: str) -> Any:
    _fits(size_of(value), what)
    return value


def _whole(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _check_printf(template: str, what: str) -> None:
    """A printf format (`%` on text, `|format`) may not ask for huge fields (`%999999999d`)."""
    for match in _PRINTF_FIELD.finditer(template):
        for number in match.groups():
            if number == "*" or (number is not None and (len(number) > 4 or int(number) > MAX_WIDTH)):
                raise TemplateTooCostly(f"{what}: a field of {number} characters; at most {MAX_WIDTH}")


def _bounded_range(*args: int) -> range:
    """range() with at most MAX_RANGE numbers."""
    numbers = range(*args)
    try:
        count = len(numbers)
    except OverflowError:
        count = MAX_RANGE + 1
    if count > MAX_RANGE:
        raise TemplateTooCostly(f"range() of more than {MAX_RANGE:,} numbers")
    return numbers


# Filters whose result size follows from their arguments: checked before they run.
def _center(value: Any, width: int = 80) -> None:
    _fits(max(size_of(value), _whole(width)), "|center")


def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    lines = str(s).count("\n") + 1
    _fits(size_of(s) + lines * (len(width) if isinstance(width, str) else _whole(width)), "|indent")


def _wordwrap(s: Any, width: int = 79, break_long_words: bool = True, wrapstring: Any = None, **_: Any) -> None:
    text = str(s)
    lines = len(text) // max(_whole(width), 1) + text.count("\n") + 1
    _fits(len(text) + lines * len(str(wrapstring or "\n")), "|wordwrap")


def _urlize(
    value: Any, trim_url_limit: Any = None, nofollow: bool = False, target: Any = None, rel: Any = None, **_: Any
) -> None:
    if len(str(target or "")) + len(str(rel or "")) > MAX_WIDTH:
        raise TemplateTooCostly(f"|urlize: target and rel of more than {MAX_WIDTH} characters")


def _batch(value: Any, linecount: int, fill_with: Any = None) -> None:
    _fits(size_of(value) + _whole(linecount), "|batch")


def _slice(value: Any, slices: int, fill_with: Any = None) -> None:
    _fits(size_of(value) + _whole(slices), "|slice")


def _replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old, new = str(s), str(old), str(new)
    found = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _fits(len(text) + found * max(len(new) - len(old), 0), "|replace")


def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_printf(str(value), "|format")
    _fits(size_of(value) + size_of(args) + size_of(kwargs), "|format")


def _sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, int | float):
        raise TemplateTooCostly("|sum adds numbers only")


def _tojson(value: Any, indent: Any = None) -> None:
    if _whole(indent) > 16:
        raise TemplateTooCostly("|tojson: indent of more than 16")


_PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "urlize": _urlize, "batch": _batch,
    "slice": _slice, "replace": _replace, "format": _format, "sum": _sum, "tojson": _tojson,
}  # fmt: skip


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (a filter) counting a step, with its input and result sizes checked."""
    passes_first = getattr(function, "jinja_pass_arg", None) is not None
    precheck = _PRECHECKS.get(name)

    @wraps(function)  # keeps `jinja_pass_arg`, so Jinja2 still passes the context or environment
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        given = args[1:] if passes_first else args
        if given:
            _check(given[0], f"the value given to |{name}")
        if name == "join" and given:
            # Materialised once (it may be a generator), so its joined size is known before joining.
            items = list(given[0])
            separator = str(given[1] if len(given) > 1 else kwargs.get("d", ""))
            _fits(size_of(items) + len(separator) * len(items), "|join")
            args = (*args[: len(args) - len(given)], items, *given[1:])
        elif precheck is not None:
            precheck(*given, **kwargs)
        return _check(function(*args, **kwargs), f"|{name}")

    return bounded


def _bounded_concat(parts: Iterable[str]) -> str:
    """ "".join with a limit: the rendered text and each block or macro's output."""
    kept: list[str] = []
    total = 0
    for part in parts:
        total += len(part)
        if total > MAX_OUTPUT:
            raise TemplateTooCostly(f"the rendered text is longer than {MAX_OUTPUT:,} characters")
        kept.append(part)
    return "".join(kept)


def _printable(value: Any) -> Any:
    """Each {{ value }}: text up to the output limit, containers small enough to write out."""
    if isinstance(value, str):
        if len(value) > MAX_OUTPUT:
            raise TemplateTooCostly(f"a value of more than {MAX_OUTPUT:,} characters")
        return value
    return _check(value, "a value written out")


class _MeteredCodeGenerator(CodeGenerator):
    """Compiles loops whose iterables go through the budget, and `~` that weighs its parts before joining."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        metered = nodes.Call(nodes.EnvironmentAttribute("metered"), [node.iter], [], None, None, lineno=node.lineno)
        loop = nodes.For(node.target, metered, node.body, node.else_, node.test, node.recursive, lineno=node.lineno)
        for made in (loop, metered, metered.node):
            made.environment = self.environment
        super().visit_For(loop, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # As CodeGenerator.visit_Concat, with the parts checked by `environment.weighed` first.
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"{join}(environment.weighed((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write(")))")


class BoundedTemplate(Template):
    """A template whose every render has a budget of its own."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render within the budget; Python errors the text causes come out as TemplateRuntimeError."""
        token = _BUDGET.set(_Budget())
        try:
            return super().render(*args, **kwargs)
        except TemplateError:
            raise
        except _PYTHON_ERRORS as error:
            # The traceback (through the template's lines) is kept: callers report the body line from it.
            raise TemplateRuntimeError(str(error) or type(error).__name__).with_traceback(error.__traceback__) from None
        finally:
            _BUDGET.reset(token)

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        """The whole render in one piece (streaming would escape the budget)."""
        yield self.render(*args, **kwargs)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with a budget per render (see the module's docstring)."""

    code_generator_class = _MeteredCodeGenerator
    template_class = BoundedTemplate
    concat = staticmethod(_bounded_concat)
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_printable, **options)
        self.globals["range"] = _bounded_range
        self.globals.pop("lipsum", None)  # lipsum(n=100000) is seconds of work in one call
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Python refuses some literals (an integer of 5,000 digits) and deep nesting with errors of its own.
        try:
            return super()._parse(source, name, filename)
        except (ValueError, RecursionError, MemoryError) as error:
            raise TemplateSyntaxError(f"the text cannot be read: {error}", 1, name, filename) from None

    def _compile(self, source: str, filename: str) -> Any:
        try:
            return super()._compile(source, filename)
        except (SyntaxError, RecursionError, MemoryError) as error:
            raise TemplateSyntaxError(f"the text nests too deeply: {error}", 1, None, filename) from None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Text offers only methods that cannot grow it; numbers offer no methods (`(1).to_bytes(10**9)`)."""
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, str):
            return attr in TEXT_METHODS
        if isinstance(obj, int | float | complex):
            return attr in {"real", "imag"}
        return True

    def wrap_str_format(self, value: Any) -> None:
        """No str.format / format_map: their field widths are unbounded (use ~ and filters)."""
        return None

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Every call the template makes: a step, and one level deeper while it runs."""
        budget = _spend()
        if budget is None:
            raise SecurityError("course text renders only through Template.render")
        if isinstance(obj, LoopContext) and args:
            args = (self.metered(args[0]), *args[1:])  # a recursive loop's next level
        budget.depth += 1
        try:
            if budget.depth > MAX_DEPTH:
                raise TemplateTooCostly(f"calls nest more than {MAX_DEPTH} deep (a macro that calls itself?)")
            return super().call(context, obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """+, *, ** and % with their result sizes checked before they are computed."""
        _spend()
        sequence = (str, list, tuple)
        if operator == "+" and isinstance(left, sequence) and isinstance(right, sequence):
            _fits(size_of(left) + size_of(right), "+")
        elif operator == "*":
            if isinstance(left, sequence) and isinstance(right, int):
                _fits(size_of(left) * max(right, 0), "*")
            elif isinstance(right, sequence) and isinstance(left, int):
                _fits(size_of(right) * max(left, 0), "*")
            elif (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS
            ):
                raise TemplateTooCostly(f"*: a number of more than {MAX_INT_BITS} bits")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                if left.bit_length() * right > MAX_INT_BITS:
                    raise TemplateTooCostly(f"**: a number of more than {MAX_INT_BITS} bits")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, "%")
            _fits(size_of(left) + size_of(right), "%")
        return super().call_binop(context, operator, left, right)

    def metered(self, iterable: Any) -> Iterator[Any]:
        """The items of a loop, a step each."""
        budget = _BUDGET.get()
        if budget is None:
            raise SecurityError("course text renders only through Template.render")
        for item in iterable:
            budget.step()
            yield item

    def weighed(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        """The parts of `a ~ b`, if joined they stay within MAX_VALUE."""
        _spend()
        _fits(sum(size_of(part) for part in parts), "~")
        return parts
