"""Groups after the run (issue 13): a finished run's group still relays fediverse posts to its members;
once its organizer closes it, a post to it is not taken and nobody gets a copy."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.closing import close_groups
from courses.models import Run
from server.floor import urls
from tests.federation.conftest import InstanceClient, Remote, payload
from tests.federation.test_fediverse_learner import JOHN, MISSKEY, cohort, group_posts, post_in, sent, swap


def test_a_finished_runs_group_relays_until_its_organizer_closes_it(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    run, group = cohort(session, client, remote, MISSKEY, JOHN)
    session.get(Run, run.id).status = "finished"  # type: ignore[union-attr]
    session.commit()
    create = swap(payload("misskey-create-note"), {f"{MISSKEY}/followers": urls.group(group.handle)})
    assert "post" in post_in(client, remote, create)
    (copy,) = sent(session, "Create", JOHN)  # the run ended; the group goes on
    assert "meow" in copy["object"]["content"]

    assert [g.handle for g in close_groups(session, session.get(Run, run.id))] == [group.handle]  # type: ignore[arg-type]
    session.commit()
    again = swap(create, {"93e7nm8wqg": "93e7nm8wqh"})  # another note by the same member
    assert again["object"]["id"] != create["object"]["id"]
    outcome = post_in(client, remote, again)
    assert f"group {group.handle} is closed: not posted" in outcome
    assert len(group_posts(session, group)) == 1
    assert len(sent(session, "Create", JOHN)) == 1  # no copy of anything after closing
    assert session.scalar(select(Run.status).where(Run.id == run.id)) == "finished"
