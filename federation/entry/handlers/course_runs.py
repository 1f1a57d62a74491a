"""Runs are joinable Groups: Follow or Join of a run enrolls the account; Leave or Undo leaves.

The protocol's follow.py records every Follow of a person or course and answers Accept; here a
Follow of a *run* also enrolls the follower (grouped, units delivered as posts). A `Join` of a run
or of one of its study groups does the same and is answered with `Accept` of the Join. A Follow of
a *study group* is accepted from its members; from anyone else it is a join of the group's run
(the run's rules place them), accepted when that places them in this group and answered `Reject`
otherwise (or when the run refuses them): following a group never silently makes a non-member a
follower whose posts the group would then drop.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.alumni import is_alumni_group, join_alumni
from courses.models import Enrollment, Run, StudyGroup
from federation.entry.handlers import Inbound, activity_type, handles, object_id
from federation.entry.handlers.follow import reject_follow
from federation.flows import follows
from federation.flows.cohorts import JoinLimited, is_blocked_from, join, leave
from federation.flows.follows import activity_id
from federation.models import RemoteActor
from federation.protocol.vocabulary import AS
from federation.transport import delivery
from federation.transport.moderation import blocks
from server.floor import urls
from server.floor.errors import Invalid, PermissionDenied

# Actor types that are people: only they are enrolled by a Follow (Mastodon's way of joining).
LEARNER_TYPES = frozenset({"Person"})


def _run_of(inbound: Inbound, target: str | None) -> Run | None:
    """The local run `target` names, directly or through one of its study groups."""
    if not target:
        return None
    session, handle = inbound.session, target.rstrip("/").rsplit("/", 1)[-1]
    if target == urls.run(handle):
        return session.scalar(select(Run).where(Run.handle == handle))
    if target == urls.group(handle):
        group = session.scalar(select(StudyGroup).where(StudyGroup.handle == handle))
        return group.run if group is not None else None
    return None


@handles("Follow")
def follow_run(inbound: Inbound) -> str | None:
    """A Follow of a run (Mastodon's way to join): enroll the follower."""
    run = _run_of(inbound, inbound.object_id)
    if run is None or not (inbound.object_id or "").startswith(urls.run("")):
        return None
    run_id = urls.run(run.handle)
    if blocks(inbound.session, run_id, inbound.actor):
        reject_follow(inbound, run_id)
        return f"rejected follow of {run_id}: blocked"
    follower = inbound.session.scalar(select(RemoteActor).where(RemoteActor.ap_id == inbound.actor))
    if follower is not None and follower.type not in LEARNER_TYPES:
        # An instance or a bot following the run wants its news, not the course: follower only.
        follows.accept_follower(inbound.session, run_id, inbound.activity)
        return f"{inbound.actor} ({follower.type}) follows {run.handle}; not enrolled; accepted follower of {run_id}"
    try:
        enrollment = join(inbound.session, run, inbound.actor, follow_id=inbound.activity.get("id"))
    except JoinLimited as error:
        reject_follow(inbound, run_id)
        return f"rejected follow, not enrolled: {error}"
    except PermissionDenied as error:
        follows.accept_follower(inbound.session, run_id, inbound.activity)
        return f"not enrolled: {error}; accepted follower of {run_id}"
    follows.accept_follower(inbound.session, run_id, inbound.activity)
    return f"enrolled {inbound.actor} in {run.handle} (enrollment {enrollment.id}); accepted follower of {run_id}"


@handles("Join")
def join_run(inbound: Inbound) -> str | None:
    """A Join of a run or a study group: enroll and answer Accept (or Reject when blocked)."""
    target = inbound.object_id
    run = _run_of(inbound, target)
    if run is None or target is None:
        return None
    answer = "Accept"
    try:
        join(inbound.session, run, inbound.actor, follow_id=inbound.activity.get("id"))
    except PermissionDenied:
        answer = "Reject"
    reply = {
        "@context": AS,
        "id": activity_id(target, answer.lower()),
        "type": answer,
        "actor": target,
        "object": {k: inbound.activity[k] for k in ("id", "type", "actor", "object") if k in inbound.activity},
    }
    delivery.enqueue(inbound.session, reply, sender=target, recipients=[inbound.actor])
    return f"{answer} Join of {run.handle} by {inbound.actor}"


@handles("Leave", "Undo")
def leave_run(inbound: Inbound) -> str | None:
    """Leave of a run or group, or Undo of a Follow/Join of a run: the account leaves the run."""
    target = inbound.object
    if inbound.type == "Undo":
        if activity_type(target) not in {"Follow", "Join"} or not isinstance(target, dict):
            return None
        target = target.get("object")
    run = _run_of(inbound, object_id(target))
    if run is None:
        return None
    left = leave(inbound.session, run, inbound.actor)
    return f"{inbound.actor} left {run.handle}" if left else None


@handles("Follow")
def follow_group(inbound: Inbound) -> str | None:
    """A Follow of a study group: a member's is accepted; anyone else's joins the run, or is rejected."""
    target = inbound.object_id or ""
    handle = target.rstrip("/").rsplit("/", 1)[-1]
    if target != urls.group(handle):
        return None
    session = inbound.session
    group = session.scalar(select(StudyGroup).where(StudyGroup.handle == handle))
    if group is None:
        return None
    if blocks(session, target, inbound.actor) or is_blocked_from(session, group.run, inbound.actor):
        reject_follow(inbound, target)
        return f"rejected follow of {target}: blocked"
    member = _membership(session, group, inbound.actor)
    if member is None and is_alumni_group(group):
        # The alumni community takes past learners of the course and accounts of instances that forked
        # it (courses.alumni.may_join), whatever the rules of a run: there is no run to sign up for.
        try:
            join_alumni(session, group.run.course, actor=inbound.actor)
        except Invalid as error:
            reject_follow(inbound, target)
            return f"rejected follow of {target}: {error}"
    elif member is None:
        follower = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == inbound.actor))
        if follower is not None and follower.type not in LEARNER_TYPES:
            reject_follow(inbound, target)
            return f"rejected follow of {target}: {follower.type} accounts do not join study groups"
        try:
            enrollment = join(session, group.run, inbound.actor, follow_id=None)
        except (PermissionDenied, Invalid) as error:  # blocked, too many from one host, signups closed
            reject_follow(inbound, target)
            return f"rejected follow of {target}: {error}"
        if enrollment.group_id != group.id:
            reject_follow(inbound, target)
            placed = enrollment.group.handle if enrollment.group is not None else "no group yet"
            return f"rejected follow of {target}: joined run {group.run.handle} ({enrollment.status}), group {placed}"
    follows.accept_follower(session, target, inbound.activity)
    return f"accepted follower of {target}"


def _membership(session: Session, group: StudyGroup, actor: str) -> Enrollment | None:
    query = select(Enrollment).where(
        Enrollment.group_id == group.id, Enrollment.actor == actor, Enrollment.status.in_(("confirmed", "paused"))
    )
    return session.scalar(query)
