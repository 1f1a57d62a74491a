"""One namespace of handles for people, courses, runs and study groups (WebFinger, list addresses)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from courses.models import Course, Run, StudyGroup
from server.floor.accounts import Account

MAX_LENGTH = 63
_UNSAFE = re.compile(r"[^a-z0-9-]+")


def _taken_among(session: Session, candidates: Iterable[str]) -> set[str]:
    """Which of `candidates` are already a handle of someone or something."""
    names = list(candidates)
    if not names:
        return set()
    query = union_all(
        select(Account.handle).where(Account.handle.in_(names)),
        select(Course.slug).where(Course.slug.in_(names)),
        select(Run.handle).where(Run.handle.in_(names)),
        select(StudyGroup.handle).where(StudyGroup.handle.in_(names)),
    )
    return set(session.scalars(query))


def handle_taken(session: Session, handle: str) -> bool:
    """True when `handle` names a person, course, run or study group already."""
    return bool(_taken_among(session, [handle.lower()]))


def slugify(text: str) -> str:
    """`text` as a handle: lower case, a-z 0-9 and single dashes."""
    return _UNSAFE.sub("-", text.lower()).strip("-") or "x"


def free_handle(session: Session, base: str, reserved: set[str] | None = None) -> str:
    """`base` made into a free handle, with `-2`, `-3`... appended when taken."""
    stem = slugify(base)[:MAX_LENGTH]
    reserved = reserved or set()
    for batch_start in range(1, 10_000, 50):
        names = [
            stem if n == 1 else f"{stem[: MAX_LENGTH - len(str(n)) - 1]}-{n}"
            for n in range(batch_start, batch_start + 50)
        ]
        taken = _taken_among(session, names) | reserved
        for name in names:
            if name not in taken:
                return name
    raise RuntimeError(f"no free handle near {stem}")  # pragma: no cover - 10,000 namesakes


def free_handles(session: Session, bases: list[str]) -> list[str]:
    """A free handle for each of `bases`, distinct from each other (one query for the common case)."""
    wanted = [slugify(base)[:MAX_LENGTH] for base in bases]
    taken = _taken_among(session, wanted)
    chosen: list[str] = []
    used: set[str] = set()
    for name in wanted:
        if name in taken or name in used:
            name = free_handle(session, name, reserved=used)
        used.add(name)
        chosen.append(name)
    return chosen
