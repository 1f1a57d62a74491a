"""The site navigation: which links an account sees depends on its role."""

from __future__ import annotations

from dataclasses import dataclass

from server.floor.accounts import Account
from web.auth import has_role


@dataclass(frozen=True)
class NavLink:
    """One entry of the main navigation; `role` None means everyone sees it."""

    label: str
    path: str
    role: str | None = None


# Page modules add their entries here, in the order they should appear (see web/README.md).
LINKS: tuple[NavLink, ...] = (
    NavLink("Home", "/"),
    NavLink("Courses", "/courses"),
    NavLink("Find my group", "/find-my-group"),
    NavLink("Timeline", "/home", role="learner"),
    NavLink("Community", "/public/local"),
    NavLink("Organize", "/organize", role="organizer"),
    NavLink("About", "/about"),
    NavLink("Moderation", "/admin/reports", role="moderator"),
    NavLink("Admin", "/admin", role="admin"),
)


def navigation(account: Account | None, current_path: str) -> list[dict[str, object]]:
    """The links `account` may follow, marking the one for `current_path` as current."""
    visible = [link for link in LINKS if link.role is None or has_role(account, link.role)]
    return [
        {"label": link.label, "path": link.path, "current": _is_current(link.path, current_path)} for link in visible
    ]


def _is_current(path: str, current_path: str) -> bool:
    if path == "/":
        return current_path == "/"
    return current_path == path or current_path.startswith(path.rstrip("/") + "/")
