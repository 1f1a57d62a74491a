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
from courses.versions import pinned
from mail.models import Composition, MailEvent, OutgoingMail
from server.floor.config import get_settings
from server.floor.queue import DONE

COLUMNS = ("scheduled", "sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "replies")
# Besides unit mails, a run's one-off mails and group relays count too (in rows of their own, per group
# and in the total); an organizer's test mail to themselves does not.
OTHER_KINDS = ("compose", "relay")
TEST_KEY = "compose-test:"


def _empty() -> dict[str, int]:
    return dict.fromkeys(COLUMNS, 0)


def run_stats(session: Session, run: Run) -> dict[str, Any]:
    """Counts per unit, per one-off mail, for the group relays, per group and for the whole run."""
    mails = session.execute(
        select(
            OutgoingMail.id,
            OutgoingMail.unit_position,
            OutgoingMail.unit_slug,
            OutgoingMail.group_id,
            OutgoingMail.state,
            OutgoingMail.token,
            OutgoingMail.message_id,
            OutgoingMail.kind,
            OutgoingMail.key,
        ).where(
            OutgoingMail.run_id == run.id,
            OutgoingMail.kind.in_(("unit", *OTHER_KINDS)),
            OutgoingMail.key.not_like(f"{TEST_KEY}%"),
        )
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
    # Replies are matched to the unit mail they answer by the Message-ID it was sent with (a lookup: no
    # Message-ID carries a token). Rows from before that column only had their token as Message-ID.
    domain = get_settings().mail_domain
    by_ref = {m.message_id or f"<{m.token}@{domain}>": m for m in mails if m.kind == "unit"}
    # Every unit of the pinned version, zeros until something happens: the table shows what is still to come.
    # Positions are indexes in position order, as the scheduler writes them in `unit_position`.
    ordered = sorted(pinned(session, run).get("units", []), key=lambda unit: int(unit.get("position", 0)))
    units: dict[int, dict[str, Any]] = {
        index: {"position": index, "slug": unit.get("slug"), "title": unit.get("title") or unit.get("slug"), **_empty()}
        for index, unit in enumerate(ordered)
    }
    names = dict(
        session.execute(
            select(StudyGroup.id, StudyGroup.handle).where(StudyGroup.run_id == run.id).order_by(StudyGroup.number)
        ).all()
    )
    groups: dict[int | None, dict[str, int]] = defaultdict(_empty, {g: _empty() for g in names})
    subjects = dict(
        session.execute(select(Composition.id, Composition.subject).where(Composition.run_id == run.id)).all()
    )
    others: dict[tuple[str, int], dict[str, Any]] = {}
    total = _empty()
    for mail in mails:
        if mail.kind == "unit":
            unit = units.setdefault(
                mail.unit_position or 0,
                {"position": mail.unit_position, "slug": mail.unit_slug, "title": mail.unit_slug, **_empty()},
            )
        else:
            unit = _other_row(others, subjects, mail.kind, mail.key)
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
        replied_to = by_ref.get(ref) if ref else None
        if replied_to is not None and replied_to.unit_position in units:
            units[replied_to.unit_position]["replies"] += 1
    return {
        "run": run.handle,
        "headline": {"clicked": total["clicked"], "replies": total["replies"]},
        "opens_are_approximate": True,
        "units": [units[k] for k in sorted(units)],
        # One-off mails (one row each, in the order written) and group relays (one row).
        "mails": [others[k] for k in sorted(others)],
        "groups": [
            {"group": names.get(g, "(no group)") if g is not None else "(no group)", **c}
            for g, c in groups.items()  # the run's groups in number order, then any mail without one
        ],
        "total": total,
    }


def _other_row(
    others: dict[tuple[str, int], dict[str, Any]], subjects: dict[int, str], kind: str, key: str
) -> dict[str, Any]:
    """The row a one-off mail (key `compose:{composition}:{learner}`) or a group relay counts in."""
    if kind == "relay":
        return others.setdefault(("relay", 0), {"kind": "relay", "name": "group relays", **_empty()})
    composition = int(key.split(":")[1]) if key.count(":") >= 2 and key.split(":")[1].isdigit() else 0
    name = subjects.get(composition, "one-off mail")
    return others.setdefault(
        ("compose", composition), {"kind": "compose", "composition": composition, "name": name, **_empty()}
    )


def _other_label(row: dict[str, Any]) -> str:
    return "group relays" if row["kind"] == "relay" else f"one-off: {row['name']}"


def stats_text(report: dict[str, Any]) -> str:
    """A plain table for the terminal; the first column is as wide as its longest name (nothing cut)."""
    mails = report.get("mails", [])
    labels = [str(u["slug"]) for u in report["units"]] + [f"group {g['group']}" for g in report["groups"]]
    labels += [_other_label(m) for m in mails]
    width = max([28, *(len(label) + 2 for label in labels)])

    def row(label: str, counts: dict[str, Any]) -> str:
        return f"{label:<{width}}" + "".join(f"{counts[c]:>13}" for c in COLUMNS)

    lines = [
        f"run {report['run']}: clicks {report['headline']['clicked']}, replies {report['headline']['replies']}"
        " (opens are approximate)",
        f"{'unit':<{width}}" + "".join(f"{c:>13}" for c in COLUMNS),
        *(row(str(unit["slug"]), unit) for unit in report["units"]),
        *(row(_other_label(mail), mail) for mail in mails),
        row("total", report["total"]),
        *(row(f"group {group['group']}", group) for group in report["groups"]),
    ]
    return "\n".join(lines)


def stats_csv(report: dict[str, Any]) -> str:
    """CSV: one row per unit, per group, and the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["level", "name", *COLUMNS])
    for unit in report["units"]:
        writer.writerow(["unit", unit["slug"], *(unit[c] for c in COLUMNS)])
    for mail in report.get("mails", []):
        writer.writerow(["relays" if mail["kind"] == "relay" else "mail", mail["name"], *(mail[c] for c in COLUMNS)])
    for group in report["groups"]:
        writer.writerow(["group", group["group"], *(group[c] for c in COLUMNS)])
    writer.writerow(["run", report["run"], *(report["total"][c] for c in COLUMNS)])
    return out.getvalue()
