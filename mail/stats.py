"""What happened to a run's mails, per unit, per group and in total; clicks and replies are the headline.

Opens are approximate: mail clients prefetch (or block) images, so they are marked as such everywhere.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Post, Run, StudyGroup
from mail.models import MailEvent, OutgoingMail
from server.errors import NotFound
from server.queue import DONE

COLUMNS = ("scheduled", "sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "replies")


def find_run(session: Session, ref: str) -> Run:
    """A run by id, handle or ActivityPub id (…/runs/HANDLE)."""
    handle = ref.rstrip("/").rsplit("/runs/", 1)[-1]
    run = session.get(Run, int(ref)) if ref.isdigit() else None
    run = run or session.scalar(select(Run).where(Run.handle == handle))
    if run is None:
        raise NotFound(f"no run {ref!r} (give its id, handle or URL)")
    return run


def _empty() -> dict[str, int]:
    return dict.fromkeys(COLUMNS, 0)


def run_stats(session: Session, run: Run) -> dict[str, Any]:
    """Counts per unit, per group and for the whole run."""
    mails = session.execute(
        select(
            OutgoingMail.id,
            OutgoingMail.unit_position,
            OutgoingMail.unit_slug,
            OutgoingMail.group_id,
            OutgoingMail.state,
            OutgoingMail.token,
        ).where(OutgoingMail.run_id == run.id, OutgoingMail.kind == "unit")
    ).all()
    events: dict[int, set[str]] = defaultdict(set)
    ids = [m.id for m in mails]
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for mail_id, kind in session.execute(
            select(MailEvent.mail_id, MailEvent.kind).where(MailEvent.mail_id.in_(chunk))
        ):
            if mail_id is not None:
                events[mail_id].add(kind)
    posts = session.execute(
        select(Post.group_id, Post.in_reply_to_ref).where(
            Post.run_id == run.id, Post.held.is_(False), Post.deleted.is_(False)
        )
    ).all()
    by_ref = {f"<{m.token}@": m for m in mails}
    units: dict[int, dict[str, Any]] = {}
    groups: dict[int | None, dict[str, int]] = defaultdict(_empty)
    total = _empty()
    for mail in mails:
        unit = units.setdefault(
            mail.unit_position or 0, {"position": mail.unit_position, "slug": mail.unit_slug, **_empty()}
        )
        seen = events.get(mail.id, set())
        counts = {
            "scheduled": 1,
            "sent": mail.state == DONE,
            "bounced": "bounce" in seen,
            "delivered": mail.state == DONE and "bounce" not in seen,
            "opened": "open" in seen,
            "clicked": "click" in seen,
            "unsubscribed": "unsubscribe" in seen,
        }
        for name, value in counts.items():
            unit[name] += int(value)
            groups[mail.group_id][name] += int(value)
            total[name] += int(value)
    for group_id, ref in posts:
        groups[group_id]["replies"] += 1
        total["replies"] += 1
        replied_to = by_ref.get(ref.split("@")[0] + "@") if ref else None
        if replied_to is not None and replied_to.unit_position in units:
            units[replied_to.unit_position]["replies"] += 1
    names = dict(session.execute(select(StudyGroup.id, StudyGroup.handle).where(StudyGroup.run_id == run.id)).all())
    return {
        "run": run.handle,
        "headline": {"clicked": total["clicked"], "replies": total["replies"]},
        "opens_are_approximate": True,
        "units": [units[k] for k in sorted(units)],
        "groups": [
            {"group": names.get(g, "(no group)") if g is not None else "(no group)", **c}
            for g, c in sorted(groups.items(), key=lambda i: str(i[0]))
        ],
        "total": total,
    }


def stats_text(report: dict[str, Any]) -> str:
    """A plain table for the terminal."""
    head = f"{'unit':<28}" + "".join(f"{c:>13}" for c in COLUMNS)
    lines = [
        f"run {report['run']}: clicks {report['headline']['clicked']}, replies {report['headline']['replies']}"
        " (opens are approximate)",
        head,
    ]
    for unit in report["units"]:
        lines.append(f"{str(unit['slug'])[:27]:<28}" + "".join(f"{unit[c]:>13}" for c in COLUMNS))
    lines.append(f"{'total':<28}" + "".join(f"{report['total'][c]:>13}" for c in COLUMNS))
    for group in report["groups"]:
        lines.append(f"{'group ' + str(group['group'])[:21]:<28}" + "".join(f"{group[c]:>13}" for c in COLUMNS))
    return "\n".join(lines)


def stats_csv(report: dict[str, Any]) -> str:
    """CSV: one row per unit, per group, and the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["level", "name", *COLUMNS])
    for unit in report["units"]:
        writer.writerow(["unit", unit["slug"], *(unit[c] for c in COLUMNS)])
    for group in report["groups"]:
        writer.writerow(["group", group["group"], *(group[c] for c in COLUMNS)])
    writer.writerow(["run", report["run"], *(report["total"][c] for c in COLUMNS)])
    return out.getvalue()
