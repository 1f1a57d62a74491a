"""Course text rendered without Jinja2's per-render machinery, when its merge tags are plain look-ups.

A unit body's template is parsed once per (body, tracking) — so once per unit and course version —
into a list of literal pieces and holes. Most course text uses merge tags only as
`{{ learner.name }}`, `{{ group.address }}`, `{{ x | default("...") }}` and `{% if x %}...{% endif %}`;
for such a template what varies per learner is the values put into the holes, so a learner's mail
is the pieces joined with their values (HTML-escaped in the HTML part) instead of a sandboxed render
with a fresh context, a budget and a finalizer per value (about 0.1 ms each, three per mail).

The result is the same text, byte for byte, as `BoundedSandbox` renders (tests/mail/test_fast_render.py
compares both on the course fixtures and hostile names): the look-ups follow the sandbox's rules —
a dict's item by attribute or subscript, a missing one ChainableUndefined (empty, false, chainable),
`default` as Jinja2's filter, values written with `str` or `markupsafe.escape`. Anything else (a loop,
a test, arithmetic, another filter, a value that is not plain text or a number, a text long enough
to meet one of the sandbox's bounds) is not compiled here, or raises `Unsupported` while
rendering, and the caller renders it with Jinja2 as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import TemplateError, nodes
from markupsafe import escape

from server.floor.sandbox import BoundedSandbox

# Longer values, or more holes, are left to the sandbox, whose bounds (MAX_VALUE characters a value,
# MAX_STEPS calls and filters a render) then apply exactly as before.
LONGEST_VALUE = 10_000
MOST_HOLES = 1_000
_RESERVED = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})
_PLAIN = (str, int, float, bool, type(None))

Values = dict[str, Any]
Piece = Callable[[Values], Any]


class Unsupported(Exception):
    """This template, or this render of it, is left to Jinja2."""


class _Undefined:
    """ChainableUndefined as far as these templates can tell: empty text, false, every look-up itself."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


class Depends(Exception):
    """A hole read a value that differs from one learner to the next (VARYING): it stays a hole."""


class _Varying:
    """A value not known while a template is specialised: any use of it but carrying it raises Depends."""

    __slots__ = ()

    def __bool__(self) -> bool:
        raise Depends

    def __str__(self) -> str:
        raise Depends


VARYING = _Varying()


def _is_dict_attribute(name: object) -> bool:
    # `{{ learner.items }}` is the dict's method in Jinja2, not an item: left to the sandbox.
    return not isinstance(name, str) or name.startswith("_") or hasattr(dict, name)


class _Compiler:
    def __init__(self, environment: BoundedSandbox) -> None:
        self.environment = environment
        self.holes = 0

    def template(self, tree: nodes.Template) -> list[str | Piece]:
        return self.body(tree.body)

    def body(self, statements: list[nodes.Node]) -> list[str | Piece]:
        pieces: list[str | Piece] = []
        for statement in statements:
            if isinstance(statement, nodes.Output):
                for child in statement.nodes:
                    if isinstance(child, nodes.TemplateData):
                        pieces.append(child.data)
                    else:
                        pieces.append(self.output(child))
            elif isinstance(statement, nodes.If):
                pieces.append(self.condition(statement))
            else:
                raise Unsupported(type(statement).__name__)
        return pieces

    def condition(self, node: nodes.If) -> Piece:
        branches = [(self.expression(node.test), _joiner(self.body(node.body)))]
        for extra in node.elif_:
            branches.append((self.expression(extra.test), _joiner(self.body(extra.body))))
        otherwise = _joiner(self.body(node.else_))

        def choose(values: Values) -> str:
            for test, body in branches:
                if test(values):
                    return body(values)
            return otherwise(values)

        return choose

    def output(self, node: nodes.Expr) -> Piece:
        value = self.expression(node)
        self.holes += 1
        if self.holes > MOST_HOLES:
            raise Unsupported("too many merge tags")
        if self.environment.autoescape:

            def html(values: Values) -> str:
                result = value(values)
                if result is UNDEFINED:
                    return ""
                if not isinstance(result, _PLAIN) or (isinstance(result, str) and len(result) > LONGEST_VALUE):
                    raise Depends if result is VARYING else Unsupported("value")
                return str(escape(result))

            return html

        def text(values: Values) -> str:
            result = value(values)
            if result is UNDEFINED:
                return ""
            if not isinstance(result, _PLAIN) or (isinstance(result, str) and len(result) > LONGEST_VALUE):
                raise Depends if result is VARYING else Unsupported("value")
            return str(result)

        return text

    def expression(self, node: nodes.Node) -> Piece:
        keys: list[object] = []  # a chain of look-ups on a name (`learner.name`) is walked by one function
        inner = node
        while (isinstance(inner, nodes.Getattr) and inner.ctx == "load") or (
            isinstance(inner, nodes.Getitem) and inner.ctx == "load" and isinstance(inner.arg, nodes.Const)
        ):
            keys.insert(0, inner.attr if isinstance(inner, nodes.Getattr) else inner.arg.value)  # type: ignore[attr-defined]
            inner = inner.node
        if keys and isinstance(inner, nodes.Name) and inner.ctx == "load":
            return _walk(self.name(inner.name), keys)
        if isinstance(node, nodes.Name) and node.ctx == "load":
            return self.name(node.name)
        if isinstance(node, nodes.Getattr) and node.ctx == "load":
            return _lookup(self.expression(node.node), node.attr)
        if isinstance(node, nodes.Getitem) and node.ctx == "load" and isinstance(node.arg, nodes.Const):
            return _lookup(self.expression(node.node), node.arg.value)
        if isinstance(node, nodes.Not):
            negated = self.expression(node.node)
            return lambda values: not negated(values)
        if isinstance(node, nodes.Filter) and node.name in {"default", "d"}:
            return self.default(node)
        if isinstance(node, nodes.Call):
            return self.track_click(node)
        raise Unsupported(type(node).__name__)

    def name(self, name: str) -> Piece:
        if name in _RESERVED:
            raise Unsupported(name)
        globals_ = self.environment.globals

        def look_up(values: Values) -> Any:
            if name in values:
                return values[name]
            if name in globals_:
                raise Unsupported(name)  # range, dict, namespace...: Jinja2's own
            return UNDEFINED

        return look_up

    def default(self, node: nodes.Filter) -> Piece:
        if node.node is None or node.kwargs or node.dyn_args or node.dyn_kwargs or len(node.args) > 2:
            raise Unsupported("default")
        if not all(isinstance(arg, nodes.Const) and isinstance(arg.value, _PLAIN) for arg in node.args):
            raise Unsupported("default")
        given = [arg.value for arg in node.args]  # type: ignore[attr-defined]
        fallback = given[0] if given else ""
        boolean = bool(given[1]) if len(given) > 1 else False
        if isinstance(fallback, str) and len(fallback) > LONGEST_VALUE:
            raise Unsupported("default")
        inner = self.expression(node.node)

        def default(values: Values) -> Any:
            value = inner(values)
            if isinstance(value, str) and len(value) > LONGEST_VALUE:
                raise Unsupported("value")  # the sandbox's filter checks its input's size
            if value is UNDEFINED or (boolean and not value):
                return fallback
            return value

        return default

    def track_click(self, node: nodes.Call) -> Piece:
        # Only the call render.py itself writes for a tracked link: track_click(body_links[N]).
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name == "track_click"
            and len(node.args) == 1
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            raise Unsupported("call")
        link = node.args[0]
        if not (
            isinstance(link, nodes.Getitem)
            and isinstance(link.node, nodes.Name)
            and link.node.name == "body_links"
            and isinstance(link.arg, nodes.Const)
            and type(link.arg.value) is int
        ):
            raise Unsupported("call")
        index = link.arg.value

        def call(values: Values) -> Any:
            links, track = values.get("body_links"), values.get("track_click")
            if not isinstance(links, tuple) or not callable(track) or not 0 <= index < len(links):
                raise Depends if VARYING in (links, track) else Unsupported("track_click")
            return track(links[index])

        return call


def _lookup(inner: Piece, key: object) -> Piece:
    if _is_dict_attribute(key) and not isinstance(key, int):
        raise Unsupported(f"look-up {key!r}")

    def look_up(values: Values) -> Any:
        value = inner(values)
        if type(value) is dict:
            return value.get(key, UNDEFINED)
        if value is UNDEFINED:
            return UNDEFINED
        if type(value) is tuple and type(key) is int:
            return value[key] if -len(value) <= key < len(value) else UNDEFINED
        raise Depends if value is VARYING else Unsupported("look-up")

    return look_up


def _walk(start: Piece, keys: list[object]) -> Piece:
    """`start` then each look-up of `keys` in turn, as `_lookup` does one."""
    for key in keys:
        if _is_dict_attribute(key) and not isinstance(key, int):
            raise Unsupported(f"look-up {key!r}")

    def walk(values: Values) -> Any:
        value = start(values)
        for key in keys:
            if type(value) is dict:
                value = value.get(key, UNDEFINED)
            elif value is UNDEFINED:
                return UNDEFINED
            elif type(value) is tuple and type(key) is int:
                value = value[key] if -len(value) <= key < len(value) else UNDEFINED
            else:
                raise Depends if value is VARYING else Unsupported("look-up")
        return value

    return walk


def _joiner(pieces: list[str | Piece]) -> Callable[[Values], str]:
    if all(isinstance(piece, str) for piece in pieces):
        text = "".join(pieces)  # type: ignore[arg-type]
        return lambda values: text
    # The literal pieces stay in place; only the holes are filled, each render in a copy of the list.
    layout = [piece if isinstance(piece, str) else "" for piece in pieces]
    holes = [(index, piece) for index, piece in enumerate(pieces) if not isinstance(piece, str)]

    def join(values: Values) -> str:
        out = layout.copy()
        for index, fill in holes:
            out[index] = fill(values)
        return "".join(out)

    return join


class FastTemplate:
    """A template compiled to pieces: `render(values)` gives what Jinja2 would, or raises Unsupported."""

    def __init__(self, pieces: list[str | Piece]) -> None:
        merged: list[str | Piece] = []
        for piece in pieces:
            if isinstance(piece, str) and merged and isinstance(merged[-1], str):
                merged[-1] += piece
            elif piece != "":
                merged.append(piece)
        self._pieces = merged
        self._render = _joiner(merged)

    def render(self, values: Values) -> str:
        """The rendered text; Unsupported when this render must be left to Jinja2."""
        return self._render(values)

    def specialise(self, values: Values) -> FastTemplate:
        """This template with each hole that reads no VARYING value of `values` filled in: what stays a hole
        is what differs per learner. `values` must be what every learner's values are, VARYING where they
        differ. Unsupported when a hole fails whatever the learner (then the caller renders as before)."""
        pieces: list[str | Piece] = []
        for piece in self._pieces:
            if isinstance(piece, str):
                pieces.append(piece)
                continue
            try:
                pieces.append(piece(values))
            except Depends:
                pieces.append(piece)
        return FastTemplate(pieces)


def fast_template(environment: BoundedSandbox, source: str) -> FastTemplate | None:
    """`source` compiled for `environment` (text or HTML), or None when it needs Jinja2."""
    try:
        return FastTemplate(_Compiler(environment).template(environment.parse(source)))
    except (Unsupported, TemplateError, RecursionError):
        return None
