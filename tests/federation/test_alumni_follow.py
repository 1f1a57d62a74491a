"""Following a course's alumni community from the fediverse (issue 13): past learners of the course are
accepted into it, anyone else gets a Reject — the alumni rule, not a run's signup rules."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.alumni import alumni_group
from courses.models import Enrollment
from server.floor import urls
from tests.federation.conftest import InstanceClient, Remote
from tests.federation.test_fediverse_learner import JOHN, cohort, post_in


def test_past_learners_join_the_alumni_community_and_strangers_are_rejected(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    run, _group = cohort(session, client, remote, JOHN)  # John took part in a run of the course
    alumni = alumni_group(session, run.course)
    session.commit()
    alumni_id = urls.group(alumni.handle)

    outcome = post_in(client, remote, {"id": f"{JOHN}#alumni", "type": "Follow", "actor": JOHN, "object": alumni_id})
    assert "accepted follower" in outcome, outcome
    session.expire_all()
    place = session.scalar(select(Enrollment).where(Enrollment.run_id == alumni.run_id, Enrollment.actor == JOHN))
    assert place is not None and place.group_id == alumni.id and place.status == "confirmed"

    stranger = "https://social.example/users/stranger"
    remote.actor(stranger, preferredUsername="stranger")
    outcome = post_in(
        client, remote, {"id": f"{stranger}#alumni", "type": "Follow", "actor": stranger, "object": alumni_id}
    )
    assert "rejected follow" in outcome and "took part in a run" in outcome, outcome
    assert session.scalar(select(Enrollment.id).where(Enrollment.actor == stranger)) is None
