"""The catalogue block of the home page (a hook handed over to the courses pages).

`catalogue_context` returns what catalogue/_catalogue.html shows. The courses pages replace the
body of this function (and that template) with the courses that have upcoming runs.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request


def catalogue_context(request: Request) -> dict[str, Any]:
    """The courses the home page lists: dicts with `title`, `summary` and `url` (none yet)."""
    return {"courses": []}
