"""The query plans of every query on mail_outgoing, with the mail branch's indexes as they are and as
they were one migration back (`alembic downgrade` of the mail branch's head, then upgrade again).

    python bench/mail_plans.py [--learners 20000] [--history 5] [--postgres]

Populates as bench/mail.py does (a run of `--learners` learners, each one's unit rendered into the
outbox: queued), adds `--history` times as many mails already sent (done) and a few uncertain and
failed ones, vacuums and analyses, then runs the scheduler's, the sender's, the dashboards' (/admin,
/admin/mail, the organizer's run statistics and engagement), the unsubscribe, bounce and webhook
look-ups and the retention queries for real, in transactions rolled back, recording the plan of each
statement (EXPLAIN, or EXPLAIN QUERY PLAN on SQLite) and its time (median of 5). Prints one line per
statement: the indexes (or scans) its plan uses and its time, now and one migration back.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select, text  # noqa: E402

from bench.mail import DUE, _fresh_pg, populate  # noqa: E402
from courses.models import Enrollment, Run  # noqa: E402
from mail import attention  # noqa: E402
from mail.answers import ANSWER, TABLE  # noqa: E402
from mail.bounces import mail_by_token  # noqa: E402
from mail.engagement import run_engagement  # noqa: E402
from mail.models import OutgoingMail  # noqa: E402
from mail.retention import mails_of  # noqa: E402
from mail.scheduler import schedule_all_due, unrender  # noqa: E402
from mail.sender import recover  # noqa: E402
from mail.stats import run_stats  # noqa: E402
from mail.webhooks.events import ProviderEvent, find_mail  # noqa: E402
from server.floor.clock import frozen  # noqa: E402
from server.floor.db import get_engine, session_factory, session_scope  # noqa: E402
from server.floor.queue import lease_update, renew  # noqa: E402
from server.floor.settings import load_settings  # noqa: E402
from server.roof.bootstrap import boot  # noqa: E402
from server.roof.migrate import alembic_config  # noqa: E402

_COLUMNS = "key, token, message_id, kind, to_addr, envelope_from, subject, message, enrollment_id, run_id, group_id, unit_position, unit_slug, attempts, created_at"


def history(session, times: int) -> None:  # type: ignore[no-untyped-def]
    """`times` copies of every queued mail, sent a week earlier; 50 uncertain and 50 failed among them."""
    week = "- interval '7 days'" if session.get_bind().dialect.name == "postgresql" else ""
    for n in range(times):
        sent = f"next_attempt_at {week}"
        copied = _COLUMNS.replace("key, token, message_id", f"key || '-h{n}', token || '-h{n}', message_id || '-h{n}'")
        session.execute(
            text(
                f"INSERT INTO mail_outgoing ({_COLUMNS}, state, next_attempt_at, sent_at, smtp_response) "
                f"SELECT {copied}, 'done', {sent}, {sent}, '250 ok' FROM mail_outgoing "
                "WHERE state = 'queued' AND key NOT LIKE '%-h%'"
            )
        )
    for state in ("uncertain", "failed"):
        session.execute(
            text(
                f"UPDATE mail_outgoing SET state = '{state}' WHERE id IN (SELECT id FROM mail_outgoing WHERE state = 'done' ORDER BY random() LIMIT 50)"
            )
        )
    session.commit()


def calls(session) -> list[tuple[str, Callable[[], object]]]:  # type: ignore[no-untyped-def]
    """The queries on mail_outgoing, each a call of the code that makes it."""
    done = session.execute(
        select(TABLE.c.id, TABLE.c.token, TABLE.c.message_id, TABLE.c.to_addr).where(TABLE.c.state == "done").limit(1)
    ).one()
    queued = session.execute(select(TABLE.c.id, TABLE.c.enrollment_id).where(TABLE.c.state == "queued").limit(5)).all()
    run = session.scalars(select(Run)).one()
    enrollment = session.get(Enrollment, queued[0].enrollment_id)
    ids = [row.id for row in queued]
    answer = {
        "mail_id": ids[0],
        "new_state": "done",
        "error": None,
        "retry_at": None,
        "sent": DUE,
        "response": "250",
        "locked_until": None,
        "sending_at": None,
    }
    with_message = ProviderEvent("bench", "e1", "HARD", done.to_addr, message_id=done.message_id)
    recent = ProviderEvent("bench", "e2", "HARD", done.to_addr)
    return [
        (
            "sender: lease",
            lambda: session.execute(
                lease_update(session, TABLE, 1000, extra=TABLE.c.sending_at.is_(None)).returning(TABLE.c.id)
            ).all(),
        ),
        ("sender: renew", lambda: renew(session, TABLE, ids, timedelta(seconds=30))),
        ("sender: answer", lambda: session.execute(ANSWER, answer)),
        ("sender: recover", lambda: recover(session)),
        ("scheduler: unrender", lambda: unrender(session, enrollment)),
        (
            "/admin and /admin/mail: counts",
            lambda: session.execute(select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)).all(),
        ),
        (
            "/admin: oldest due",
            lambda: session.scalar(
                select(func.min(OutgoingMail.next_attempt_at)).where(OutgoingMail.state == "queued")
            ),
        ),
        ("/admin/mail: attention counts", lambda: attention.counts(session)),
        ("/admin/mail: attention listing", lambda: attention.listing(session)),
        ("/admin/mail: older page", lambda: attention.listing(session, before=done.id)),
        ("organizer: run stats", lambda: run_stats(session, run)),
        ("organizer: engagement", lambda: run_engagement(session, run)),
        ("unsubscribe/bounce: by token", lambda: mail_by_token(session, done.token)),
        ("webhook: by Message-ID", lambda: find_mail(session, with_message)),
        ("webhook: recent to address", lambda: find_mail(session, recent)),
        ("retention: mails of", lambda: mails_of(session, [enrollment.id], enrollment.email)),
    ]


_INDEX = re.compile(
    r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)|Seq Scan on (\w+)|USING (?:COVERING )?INDEX (\w+)|USING INTEGER PRIMARY KEY|SCAN (\w+)\b(?! USING)"
)


def plans(session, engine) -> dict[str, list[tuple[str, float]]]:  # type: ignore[no-untyped-def]
    """{call: [(what its statements' plans use, median ms)]}."""
    dialect = engine.dialect.name
    seen: list[tuple[str, list[str]]] = []
    timing: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if (
            "mail_outgoing" in statement
            and not executemany
            and statement.lstrip().split()[0].upper() in ("SELECT", "UPDATE", "DELETE", "WITH")
        ):
            prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
            cursor.execute(prefix + statement, parameters)
            lines = [str(row[-1]) if dialect == "sqlite" else str(row[0]) for row in cursor.fetchall()]
            seen.append((statement, lines))
            conn.info["began"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "began" in conn.info:
            timing.append((time.perf_counter() - conn.info.pop("began")) * 1000)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    found: dict[str, list[tuple[str, float]]] = {}
    try:
        for name, call in calls(session):
            session.rollback()
            runs: list[list[tuple[str, float]]] = []
            for _ in range(5):
                seen.clear(), timing.clear()
                with frozen(DUE + timedelta(hours=1)):
                    call()
                session.rollback()
                runs.append([(_uses(lines), ms) for (_, lines), ms in zip(seen, timing, strict=False)])
            found[name] = [(runs[0][i][0], statistics.median(r[i][1] for r in runs)) for i in range(len(runs[0]))]
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return found


def _uses(lines: list[str]) -> str:
    parts = []
    for line in lines:
        for match in _INDEX.finditer(line):
            if match.group(0) == "USING INTEGER PRIMARY KEY":
                parts.append("pk")
            elif match.group(2) or match.group(4):
                parts.append(f"scan {match.group(2) or match.group(4)}")
            else:
                parts.append(match.group(1) or match.group(3))
    return ", ".join(parts) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=20000)
    parser.add_argument("--history", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mechmooc-bench-plans-"))
    environ = {"MECHMOOC_DATA_DIR": str(workdir), "MECHMOOC_URL": "https://bench.example.org",
               "MECHMOOC_SECRET_KEY": "bench", "MECHMOOC_MAIL_DOMAIN": "lists.bench.example.org"}  # fmt: skip
    if args.postgres:
        base = os.environ.get("MECHMOOC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        environ["MECHMOOC_DATABASE_URL"] = base.rsplit("/", 1)[0] + "/mechmooc_bench_mail_plans"
        _fresh_pg(environ["MECHMOOC_DATABASE_URL"])
    boot(load_settings(environ=environ))
    engine = get_engine()
    session = session_factory()()
    populate(session, args.learners)
    with frozen(DUE - timedelta(minutes=5)), session_scope() as scheduling:
        schedule_all_due(scheduling)
    history(session, args.history)
    session.close()

    def analyse() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE mail_outgoing" if args.postgres else "ANALYZE"))

    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    analyse()
    now_ = plans(session, engine)
    command.downgrade(config, "mail@-1")
    analyse()
    before = plans(session, engine)
    command.upgrade(config, "heads")
    session.close()
    print(f"{'query':34} {'one migration back':58} {'ms':>7} | {'now':58} {'ms':>7}")
    for name, statements in now_.items():
        for (was, was_ms), (uses, ms) in zip(before[name], statements, strict=False):
            print(f"{name:34} {was:58} {was_ms:7.2f} | {uses:58} {ms:7.2f}")


if __name__ == "__main__":
    main()
