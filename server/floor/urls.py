"""Every public URL and ActivityPub id of the instance, built on MECHMOOC_URL."""

from __future__ import annotations

import re

from server.floor.config import get_settings

# The ActivityPub inboxes: the shared one, the instance actor's, and each local actor's.
_INBOX_PATH = re.compile(r"/(?:inbox|actor/inbox|(?:users|courses|runs|groups)/[^/]+/inbox)")


def absolute(path: str) -> str:
    """`path` on this instance's public base URL."""
    return get_settings().url + path


def is_inbox_path(path: str) -> bool:
    """True for exactly the paths of ActivityPub inboxes (not any path that ends in /inbox)."""
    return _INBOX_PATH.fullmatch(path) is not None


def instance_actor() -> str:
    """The instance's own actor (Application)."""
    return absolute("/actor")


def shared_inbox() -> str:
    """The shared inbox of every local actor."""
    return absolute("/inbox")


def person(handle: str) -> str:
    """A local account's actor and profile page."""
    return absolute(f"/users/{handle}")


def course(slug: str) -> str:
    """A course template's actor and page."""
    return absolute(f"/courses/{slug}")


def unit(course_slug: str, unit_slug: str) -> str:
    """One unit of a course."""
    return absolute(f"/courses/{course_slug}/units/{unit_slug}")


def course_version(slug: str, number: int) -> str:
    """A published version of a course."""
    return absolute(f"/courses/{slug}/versions/{number}")


def run(handle: str) -> str:
    """A run's actor and page."""
    return absolute(f"/runs/{handle}")


def group(handle: str) -> str:
    """A study group's actor and page (its archive)."""
    return absolute(f"/groups/{handle}")


def post(post_id: int) -> str:
    """A post (status) stored here."""
    return absolute(f"/posts/{post_id}")


def learner_page(token: str) -> str:
    """A learner's own page, opened by the magic link in every mail."""
    return absolute(f"/me/{token}")


def alumni_join(token: str) -> str:
    """Where a learner joins their course's alumni community (the `links.alumni` merge tag)."""
    return absolute(f"/me/{token}/alumni")


def sample_learner_page() -> str:
    """Where a learner's links lead in previews and test mails: a sample page, nobody's own."""
    return absolute("/me/sample")


def signup_confirm(token: str) -> str:
    """The single-use double opt-in link."""
    return absolute(f"/signup/confirm/{token}")


def unsubscribe(token: str) -> str:
    """The unsubscribe page (GET) and RFC 8058 one-click endpoint (POST)."""
    return absolute(f"/mail/unsubscribe/{token}")


def group_address(handle: str) -> str:
    """A study group's list address."""
    return f"{handle}@{get_settings().mail_domain}"
