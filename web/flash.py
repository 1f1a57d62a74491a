"""Flash messages: one-time notices kept in the session until the next page shows them."""

from __future__ import annotations

from typing import Literal, TypedDict

from starlette.requests import HTTPConnection

Level = Literal["info", "success", "error"]
SESSION_KEY = "flash"


class Flash(TypedDict):
    """One notice as stored in the session cookie."""

    level: Level
    text: str


def flash(connection: HTTPConnection, text: str, level: Level = "info") -> None:
    """Show `text` on the next page this browser renders (after a redirect, typically)."""
    messages = list(connection.session.get(SESSION_KEY, []))
    messages.append({"level": level, "text": text})
    connection.session[SESSION_KEY] = messages


def pop_flashes(connection: HTTPConnection) -> list[Flash]:
    """The pending notices, removed from the session."""
    if SESSION_KEY not in connection.session:
        return []
    stored = connection.session.pop(SESSION_KEY)
    # The cookie is signed, but a message may come from an older release: keep only well-formed ones.
    return [
        Flash(level=m["level"], text=str(m.get("text", "")))
        for m in stored
        if isinstance(m, dict) and m.get("level") in {"info", "success", "error"}
    ]
