"""The instance's own settings that the admin edits in the web pages (name, rules, contact)."""

from __future__ import annotations

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.db import Base

DEFAULTS = {
    "name": "Mechanical MOOC",
    "description": "A community server for peer-learning courses: study groups, scheduled lessons, no teachers.",
    "rules": "Be kind. Help each other learn.",
    "contact": "",
    # Who may sign up (community.registrations.MODES): open, approval, invite or closed.
    "registrations": "closed",
}


class InstanceSetting(Base):
    """One admin-editable instance property."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


def instance_info(session: Session) -> dict[str, str]:
    """Name, description, rules and contact, with defaults filled in."""
    info = dict(DEFAULTS)
    info.update({row.key: row.value for row in session.scalars(select(InstanceSetting))})
    return info


def set_instance_info(session: Session, **values: str) -> None:
    """Store admin-edited instance properties."""
    for key, value in values.items():
        row = session.get(InstanceSetting, key) or InstanceSetting(key=key)
        row.value = value
        session.add(row)
