"""One remote host cannot fill a run with throwaway accounts: its Follows/Joins beyond the hour's limit are Rejected."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Enrollment
from federation.flows.cohorts import JOINS_PER_HOST
from federation.models import Delivery
from server.floor import urls
from tests.federation.conftest import InstanceClient, Remote, client, remote, signed_post
from tests.federation.flows_support import course_and_run

__all__ = ["client", "remote"]  # the fixtures, imported for pytest


def _answers(session: Session, kind: str) -> list[str]:
    """Who got an answer of `kind` (Accept or Reject) from us."""
    rows = session.scalars(select(Delivery.body)).all()
    return [body["object"]["actor"] for body in map(json.loads, rows) if body.get("type") == kind]


def test_federation_one_host_cannot_fill_a_run_by_follow_and_join(
    session: Session, remote: Remote, client: InstanceClient
) -> None:
    _course, run = course_and_run(session)
    run_id = urls.run(run.handle)
    throwaways = [f"https://spam.example/users/t{n}" for n in range(JOINS_PER_HOST + 2)]
    for number, actor in enumerate(throwaways):
        kind = "Follow" if number % 2 else "Join"
        activity = {"id": f"{actor}/j/1", "type": kind, "actor": actor, "object": run_id}
        assert signed_post(client, "/inbox", activity, remote.actor(actor)).status_code == 202
    honest = "https://good.example/users/ann"
    honest_join = {"id": f"{honest}/j/1", "type": "Join", "actor": honest, "object": run_id}
    assert signed_post(client, "/inbox", honest_join, remote.actor(honest)).status_code == 202
    client.process_inbox()
    session.expire_all()
    enrolled = session.scalar(select(func.count(Enrollment.id)).where(Enrollment.actor.like("https://spam.example/%")))
    assert enrolled == JOINS_PER_HOST  # was 12: every throwaway got a place
    assert sorted(_answers(session, "Reject")) == sorted(throwaways[JOINS_PER_HOST:])
    assert not set(_answers(session, "Accept")) & set(throwaways[JOINS_PER_HOST:])
    assert session.scalar(select(Enrollment.id).where(Enrollment.actor == honest)) is not None  # other hosts unaffected
