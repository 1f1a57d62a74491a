"""OAuth scopes as Mastodon has them: `read`, `write`, `follow`, `push`, `profile` and the granular
`read:statuses`, `write:media`... A granted `read` covers every `read:*`; the legacy `follow` covers
the follows, blocks and mutes of both read and write."""

from __future__ import annotations

READ = (
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
)
WRITE = (
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
)
TOP = ("read", "write", "follow", "push", "profile")
SUPPORTED = frozenset((*TOP, *(f"read:{name}" for name in READ), *(f"write:{name}" for name in WRITE)))
FOLLOW_COVERS = frozenset(f"{mode}:{name}" for mode in ("read", "write") for name in ("follows", "blocks", "mutes"))
MAX_SCOPES_TEXT = 1000


def parse(text: str | None, default: str = "read") -> list[str]:
    """The scopes of a space (or `+`) separated string, in order, without repeats."""
    words = (text or "").replace("+", " ").split()
    seen: list[str] = []
    for word in words or default.split():
        if word not in seen:
            seen.append(word)
    return seen


def unknown(scopes: list[str]) -> list[str]:
    """The scopes we do not know (an app asking for them is refused)."""
    return [scope for scope in scopes if scope not in SUPPORTED]


def covers(granted: str | list[str], needed: str) -> bool:
    """True when the granted scopes allow `needed` (a top scope or a granular one)."""
    have = set(parse(granted, default="") if isinstance(granted, str) else granted)
    if needed in have:
        return True
    top = needed.split(":", 1)[0]
    if ":" in needed and top in have:
        return True
    if needed in FOLLOW_COVERS and "follow" in have:
        return True
    # `profile` is the narrow form of reading one's own account (verify_credentials).
    return needed == "profile" and bool(have & {"read", "read:accounts"})


def subset(requested: list[str], allowed: list[str]) -> bool:
    """True when every requested scope is within what the app registered for."""
    return all(scope in allowed or covers(allowed, scope) for scope in requested)


DESCRIPTIONS = {
    "read": "read all your account's data",
    "write": "change all your account's data (post, follow, favourite...)",
    "follow": "follow, block and mute accounts (and see whom you follow, block and mute)",
    "push": "receive push notifications",
    "profile": "read only your account's basic profile",
}


def describe(scope: str) -> str:
    """What a scope lets an app do, for the consent page."""
    if scope in DESCRIPTIONS:
        return DESCRIPTIONS[scope]
    mode, _, what = scope.partition(":")
    verb = "read" if mode == "read" else "change"
    return f"{verb} your {what.replace('_', ' ')}"
