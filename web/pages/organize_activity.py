"""A run's activity as charts: who went quiet, each unit's funnel, posts per group and day, signups per day.

Every chart is server-rendered SVG (web/charts.py) with a title and a description, and the same numbers
in a table under it. The page costs a fixed number of queries, whatever the size of the run: the mail
stats (mail.stats.run_stats), the groups (courses.summary), two aggregates (courses.activity) and the
learners' engagement (mail.engagement).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from courses.activity import posts_by_group_day, signups_by_day
from courses.summary import run_summary
from mail.engagement import Engagement, run_engagement
from mail.stats import run_stats
from server.floor.clock import now
from server.floor.db import session_scope
from web.auth import require_role
from web.charts import Series, bar_groups, columns
from web.pages.organize_runs import visible_run
from web.templating import render

QUIET_AFTER = 7  # days without an open, a click or a post
QUIET_SHOWN = 100  # learners listed by name; the chart counts them all
LAST_DAYS = 120  # days shown on the time charts (the most recent)
HISTOGRAM_DAYS = 30  # "quiet for N days" columns before "30 or more"
GROUP_CHARTS = 30  # groups drawn one by one, each small (the numbers' table has them all)
SMALL_WIDTH = 260  # their width in chart units: as wide as their box, so their text is as large as the others'


FUNNEL = (
    ("sent", Series("sent", 1)), ("delivered", Series("delivered", 2)), ("opened", Series("opened (approx.)", 3)),
    ("clicked", Series("clicked", 4)), ("replies", Series("replied", 5)),
)  # fmt: skip
SOURCES = (("email", Series("by email", 1)), ("activitypub", Series("from the fediverse", 4)))
ON_SITE = ("local", Series("on this site", 3))
PLACES = (
    (("confirmed", "paused"), Series("in the run", 1)), (("pending",), Series("still to confirm", 4)),
    (("waitlisted",), Series("on the waiting list", 2)), (None, Series("left or unsubscribed", 6)),
)  # fmt: skip


def day_label(day: date) -> str:
    """A day under a time axis: 5 Dec."""
    return f"{day.day} {day:%b}"


def day_range(first: date, last: date, most: int = LAST_DAYS) -> list[date]:
    """Every day from `first` to `last`, the most recent `most` of them."""
    first = max(first, last - timedelta(days=most - 1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def funnel_chart(report: dict[str, Any]) -> dict[str, Any]:
    """Per unit, by title: sent, delivered, opened, clicked, replied (drawn for the units mailed so far)."""
    units = report["units"]
    rows = [[unit[key] for key, _ in FUNNEL] for unit in units]
    mailed = [(unit["title"], row) for unit, row in zip(units, rows, strict=True) if unit["scheduled"]]
    sums = [sum(row[i] for _, row in mailed) for i in range(len(FUNNEL))]
    desc = f"{len(mailed)} of {len(units)} units mailed so far; together " + ", ".join(
        f"{n} {series.name}" for n, (_, series) in zip(sums, FUNNEL, strict=True)
    )
    svg = bar_groups(
        "chart-funnel",
        "From sent to replied, per unit",
        desc + ".",
        [title for title, _ in mailed],
        [series for _, series in FUNNEL],
        [row for _, row in mailed],
    )
    return {
        "svg": svg if mailed else None,
        "columns": [series.name for _, series in FUNNEL],
        "rows": list(zip([unit["title"] for unit in units], rows, strict=True)),
        "waiting": [unit["title"] for unit in units if not unit["scheduled"]],
    }


def signups_chart(days: dict[date, dict[str, int]]) -> dict[str, Any] | None:
    """Places asked for per day, by where those people are now."""
    if not days:
        return None
    shown = day_range(min(days), max(days))
    known = {status for statuses, _ in PLACES if statuses for status in statuses}
    rows = []
    for day in shown:
        counts = days.get(day, {})
        rows.append(
            [
                sum(counts.get(s, 0) for s in statuses)
                if statuses
                else sum(n for s, n in counts.items() if s not in known)
                for statuses, _ in PLACES
            ]
        )
    total = sum(map(sum, rows))
    busiest = max(range(len(shown)), key=lambda i: sum(rows[i]))
    desc = (
        f"{total} signups from {shown[0].isoformat()} to {shown[-1].isoformat()}; the busiest day, "
        f"{shown[busiest].isoformat()}, had {sum(rows[busiest])}. Now {sum(r[0] for r in rows)} are in the run."
    )
    series = [s for _, s in PLACES]
    labels = [day_label(d) for d in shown]
    svg = columns(
        "chart-signups", "Signups per day", desc, labels, series, rows, caption="the day they signed up (UTC)"
    )
    table = [(day.isoformat(), row) for day, row in zip(shown, rows, strict=True) if any(row)]
    return {"svg": svg, "columns": [s.name for s in series], "rows": table}


def _source_rows(days: Sequence[date], per_day: dict[date, dict[str, int]], keys: Sequence[str]) -> list[list[int]]:
    return [[per_day.get(day, {}).get(key, 0) for key in keys] for day in days]


def posts_charts(
    posts: dict[str | None, dict[date, dict[str, int]]], groups: list[dict[str, Any]], start: date, today: date
) -> dict[str, Any] | None:
    """Posts per day for the whole run (by email, from the fediverse) and for each group on one scale."""
    every_day = {day for days in posts.values() for day in days}
    if not every_day:
        return None
    sources = list(SOURCES) + ([ON_SITE] if any("local" in c for d in posts.values() for c in d.values()) else [])
    keys, series = [key for key, _ in sources], [s for _, s in sources]
    shown = day_range(min(min(every_day), start), max(max(every_day), min(today, max(every_day) + timedelta(days=7))))
    whole: dict[date, dict[str, int]] = {}
    for days in posts.values():
        for day, counts in days.items():
            for key, count in counts.items():
                whole.setdefault(day, {}).setdefault(key, 0)
                whole[day][key] += count
    rows = _source_rows(shown, whole, keys)
    sums = [sum(row[i] for row in rows) for i in range(len(keys))]
    desc = (
        f"{sum(sums)} posts from {shown[0].isoformat()} to {shown[-1].isoformat()}: "
        + ", ".join(f"{n} {s.name}" for n, s in zip(sums, series, strict=True))
        + "."
    )
    labels = [day_label(d) for d in shown]
    drawn = groups[:GROUP_CHARTS]
    per_group = [_source_rows(shown, posts.get(g["handle"], {}), keys) for g in drawn]
    top = max((sum(row) for rows_ in per_group for row in rows_), default=0) or 1
    group_charts = []
    for group, group_rows in zip(drawn, per_group, strict=True):
        total = sum(map(sum, group_rows))
        title = f"{group['name']} ({group['zones']}): posts per day"
        last = max((d for d, row in zip(shown, group_rows, strict=True) if any(row)), default=None)
        desc_group = f"{total} posts" + (f", the last on {last.isoformat()}" if last else "") + "."
        svg = columns(
            f"chart-group-{group['handle']}", title, desc_group, labels, series, group_rows,
            top=top, plot_height=50, legend=False, width=SMALL_WIDTH,
        )  # fmt: skip
        group_charts.append({"name": group["name"], "zones": group["zones"], "svg": svg, "total": total})
    table = [
        (group["name"], day.isoformat(), row)
        for group, group_rows in zip(drawn, per_group, strict=True)
        for day, row in zip(shown, group_rows, strict=True)
        if any(row)
    ]
    return {
        "svg": columns(
            "chart-posts", "Group posts per day, whole run", desc, labels, series, rows, caption="day (UTC)"
        ),
        "columns": [s.name for s in series],
        "rows": [(day.isoformat(), row) for day, row in zip(shown, rows, strict=True) if any(row)],
        "groups": group_charts,
        "group_rows": table,
        "more_groups": max(0, len(groups) - GROUP_CHARTS),
    }


def quiet_days(learner: Engagement, moment: datetime) -> int | None:
    """Whole days since the learner's last sign of life; None if they showed none yet."""
    return None if learner.last_seen is None else max(0, (moment - learner.last_seen).days)


def engagement_chart(learners: list[Engagement], moment: datetime) -> dict[str, Any]:
    """How many learners went quiet for how long, and the quietest by name."""
    labels = [str(n) for n in range(HISTOGRAM_DAYS)] + [f"{HISTOGRAM_DAYS}+", "never"]
    counts = [0] * len(labels)
    for learner in learners:
        days = quiet_days(learner, moment)
        counts[-1 if days is None else min(days, HISTOGRAM_DAYS)] += 1
    rows = [[count, 0] for count in counts[:-1]] + [[0, counts[-1]]]
    quiet = [
        learner for learner in learners if (d := quiet_days(learner, moment)) is None or d >= QUIET_AFTER
    ]  # fmt: skip
    quiet.sort(key=lambda who: (who.last_seen is not None, who.last_seen or who.joined, who.enrollment_id))
    active = len(learners) - len(quiet)
    desc = (
        f"{len(learners)} learners: {active} opened, clicked or posted in the last {QUIET_AFTER} days, "
        f"{len(quiet) - counts[-1]} were quiet longer, {counts[-1]} showed no sign of life yet."
    )
    series = [Series("learners", 1), Series("no sign of life yet", 6)]
    caption = "days since their last open, click or post"
    svg = columns("chart-quiet", "Who went quiet", desc, labels, series, rows, caption=caption)
    table = [(label, count) for label, count in zip(labels, counts, strict=True) if count]
    return {
        "svg": svg, "rows": table, "quiet": [(who, quiet_days(who, moment)) for who in quiet[:QUIET_SHOWN]],
        "quiet_count": len(quiet), "active": active, "learners": len(learners),
    }  # fmt: skip


@require_role("organizer")
def activity_page(request: Request) -> Response:
    """GET /organize/runs/{handle}/activity: the run's charts, each with its numbers."""
    moment = now()
    with session_scope() as session:
        run = visible_run(session, request)
        groups = [
            {"handle": g["handle"], "name": g["name"] or g["handle"], "zones": g["zones"]}
            for g in run_summary(session, run, with_learners=False)["groups"]
        ]
        context = {
            "run": run,
            "quiet_after": QUIET_AFTER,
            "engagement": engagement_chart(run_engagement(session, run), moment),
            "funnel": funnel_chart(run_stats(session, run)),
            "posts": posts_charts(posts_by_group_day(session, run), groups, run.start_date, moment.date()),
            "signups": signups_chart(signups_by_day(session, run)),
        }
        return render(request, "organize/activity.html", context)


def routes() -> list[BaseRoute]:
    """The run's activity charts."""
    return [Route("/organize/runs/{handle}/activity", activity_page)]
