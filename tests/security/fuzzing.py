"""What the fuzz tests share: bounded hypothesis settings, a time bound, hostile text.

Each property test runs a bounded number of examples with a per-example deadline, so a whole file
stays well under a minute (on each database backend); `bounded` checks one input's time as well.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.support.backends import IN_CI

# Fixtures (the booted instance, its session) are set up once per test, not per example: the
# examples share and pile up state, which is what a hostile peer would do too.
# No per-example deadline and a generous time bound: these tests look for crashes and for inputs
# whose cost grows without bound (seconds to minutes), not for speed, which bench/ measures; on a
# loaded 2-core CI machine a 2 s bound failed on ordinary inputs. In CI the examples are the same
# every run (derandomize), so a red CI is about the change, not about a new random draw; locally
# each run explores new inputs.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=IN_CI,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_PURE = settings(FUZZ, max_examples=150)
TIME_BOUND = 20.0  # seconds one hostile input may take, whatever its size


@contextmanager
def bounded(seconds: float = TIME_BOUND) -> Iterator[None]:
    """Fail when the block takes longer than `seconds` (hostile input must not cost unbounded time)."""
    start = time.monotonic()
    yield
    took = time.monotonic() - start
    assert took < seconds, f"took {took:.2f} s (bound {seconds} s)"


def huge(alphabet: st.SearchStrategy[str] | None = None, low: int = 10_000, high: int = 300_000) -> Any:
    """A huge string, built cheaply: one short piece repeated."""
    piece = alphabet if alphabet is not None else st.text(min_size=1, max_size=8)
    return st.builds(lambda text, n: (text * (n // len(text) + 1))[:n], piece, st.integers(low, high))


# Text that breaks naive parsers: controls, surrogates-free odd unicode, markup, injections.
NASTY = [
    "",
    " ",
    "\x00",
    "\r\n",
    "\n\n\n",
    "\u202e\u200b\ufeff",
    "𝕳𝖊𝖑𝖑𝖔 ☃ 日本語 العربية",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "../../../etc/passwd",
    "{{ 7 * 7 }}",
    "%s%s%s%n",
    "=?utf-8?q?=E2=98=83?=",
    "=?x-unknown?b?////?=",
    "-1",
    "99999999999999999999999999999",
    "NaN",
]
nasty_text: st.SearchStrategy[str] = st.one_of(st.sampled_from(NASTY), st.text(max_size=80))
