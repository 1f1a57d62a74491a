"""Checks for data from outside: URLs that may become links, JSON and nested data of bounded depth.

Plain functions, shared by every package that takes input (course files, remote objects, request
bodies) and by the templates that turn stored values into links.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

from server.floor.errors import Invalid

MAX_URL_LENGTH = 2048
# Deep enough for every document we exchange (ActivityStreams objects nest 4-6 levels), shallow
# enough that recursive code downstream (serialisers, sanitisers) never reaches Python's limit.
MAX_DEPTH = 32
# Whitespace and control characters: browsers drop some of them inside a scheme ("java\tscript:").
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\s]")
# JSON strings, whose brackets nest nothing; an unterminated one runs to the end (linear, no backtracking).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NESTING = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_NESTING = bytes(c for c in range(256) if c not in _NESTING)


def http_url(value: object) -> str | None:
    """`value` when it is an absolute http(s) URL that is safe to put in an href, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return None
    if _UNSAFE_URL_CHARS.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return value


def check_http_url(value: object, field: str) -> str:
    """`value` as an http(s) URL, or Invalid naming `field` (javascript:, data: and the like are refused)."""
    url = http_url(value)
    if url is None:
        shown = value if isinstance(value, str) and len(value) <= 100 else f"{str(value)[:100]}..."
        raise Invalid(f"{field} {shown!r} must be an http:// or https:// URL")
    return url


def depth(value: object) -> int:
    """How deeply lists and dicts nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in item)
    return deepest


def check_depth(value: object, where: str, max_depth: int = MAX_DEPTH) -> None:
    """Invalid naming `where` when lists and tables in `value` nest deeper than `max_depth`."""
    if depth(value) > max_depth:
        raise Invalid(f"{where}: nested more than {max_depth} levels deep")


def json_depth(body: bytes | str) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings do not count)."""
    raw = body.encode() if isinstance(body, str) else body
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_NESTING)
    return max(accumulate(_NESTING[b] for b in brackets), default=0)


def bounded_json_loads(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parsed JSON, or Invalid (never RecursionError) when malformed or nested deeper than `max_depth`."""
    # Counted before parsing: a deep document would otherwise cost the parser's recursion first.
    if json_depth(body) > max_depth:
        raise Invalid(f"the JSON is nested more than {max_depth} levels deep")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise Invalid(f"malformed JSON: {error}") from None
