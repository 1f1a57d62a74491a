"""A unit's note is written once even when two schedulers find it due at the same moment.

`mechmooc mail send-due` beside a running worker: both emit `unit.due_for_actor` for the same key.
The first look-up cannot see the other's uncommitted row, so the insert itself must not fail: an
IntegrityError there undid the whole scheduler batch (seen in tests/interop/test_fedify.py)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Post
from federation.flows.bridge import _claim_note
from server.floor.clock import now


def test_the_second_claim_of_a_unit_note_gets_none_and_leaves_one_row(session: Session) -> None:
    values = {"ap_id": "https://ours.example/notes/unit-key-1", "kind": "unit", "source": "local",
              "visibility": "direct", "text": "Unit 1", "created_at": now()}  # fmt: skip
    first = _claim_note(session, **values)
    assert first is not None and first.ap_id == values["ap_id"] and first.kind == "unit"
    assert _claim_note(session, **{**values, "text": "again"}) is None
    assert session.scalar(select(func.count()).select_from(Post).where(Post.ap_id == values["ap_id"])) == 1
    assert session.scalar(select(Post.text).where(Post.ap_id == values["ap_id"])) == "Unit 1"
