"""The home timeline against the raw indexed SELECT of the same rows, and posting to remote followers.

    python3 bench/timeline.py [--database-url URL] [--profiles 10000] [--posts 1000000]
                              [--following 1000] [--rounds 300] [--limit 40]
                              [--remote-followers 1000] [--hosts 100]

Builds (in bulk, Core executemany) `--profiles` local profiles and `--posts` public statuses spread
over them, ids sorting by time as community's do; one person (with an account) follows
`--following` of the profiles and has their statuses in the feed table (community_feed), as the
fan-out on write leaves them. Then, each round, a page of `--limit` statuses at a random cursor
(and the first page) is read twice in the same run: by `community.timelines.home` (the service:
its filters on deleted statuses, suspended, blocked and muted authors, hidden boosts; ORM Status
objects, in a fresh session per page that has loaded its viewer, as a request has) and by the raw
indexed SELECT of the same rows (the feed's primary key range scan joined to posts, fetched as
tuples, on a fresh connection per page). Only the reading of the page is timed in both; the page's
rows are read once untimed before (both find them in the cache) and the two alternate who goes first. Prints p50/p99 of each and the ratio of the medians (issue 12's target: <= 3x).

Then "posting with 1,000 remote followers on 100 hosts": the time from `community.statuses.post`
until every delivery row is queued (the federation reaction to `status.created` runs in the same
transaction), committed.

SQLite by default (a fresh file in a temporary data dir); PostgreSQL with
`--database-url postgresql+psycopg://postgres@127.0.0.1:5432/mechmooc_bench_timeline` (the database
is dropped and made again; `--reuse` measures again the one an earlier run built, as does
`--data-dir DIR --reuse` for SQLite).
The raw SELECT bounds both primary keys by the cursor, as the service does: with only the feed's
bound, PostgreSQL's generic plan of the prepared statement merge-joins and scans posts from the
newest status down to the cursor (150-260 ms a page at 1,000,000 statuses). A smaller `--posts N` says so in the output.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import BigInteger, create_engine, func, insert, literal, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

FULL_POSTS = 1_000_000
BATCH = 10_000


def fresh_postgres(url: str) -> None:
    """Drop and create the database named in `url`."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def boot(database_url: str | None, reuse: bool = False, data_dir: str | None = None) -> None:
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot as boot_instance

    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="mechmooc-timeline-"))
    data.mkdir(parents=True, exist_ok=True)
    if not reuse and not database_url:
        (data / "mechmooc.sqlite3").unlink(missing_ok=True)
    environ = {"MECHMOOC_DATA_DIR": str(data), "MECHMOOC_URL": "http://127.0.0.1:9", "MECHMOOC_SECRET_KEY": "bench"}
    if database_url:
        if not reuse:
            fresh_postgres(database_url)
        environ["MECHMOOC_DATABASE_URL"] = database_url
    boot_instance(load_settings(environ=environ))


def build(profiles: int, posts: int, following: int) -> int:
    """The world; the viewer's profile id."""
    from community.models import FeedEntry, Follow, Profile, Status
    from community.people import local_profile
    from server.floor import urls
    from server.floor.accounts import create_account
    from server.floor.db import get_engine, session_scope
    from server.floor.ids import floor_id

    began = time.perf_counter()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    engine = get_engine()
    profile_ids = [floor_id(start) + n for n in range(profiles)]
    with engine.begin() as connection:
        for offset in range(0, profiles, BATCH):
            rows = [
                {
                    "id": pid,
                    "uri": urls.person(f"p{pid}"),
                    "url": urls.absolute(f"/@p{pid}"),
                    "username": f"p{pid}",
                    "kind": "person",
                    "display_name": f"Person {n}",
                    "note": "",
                    "note_source": "",
                    "created_at": start,
                }
                for n, pid in enumerate(profile_ids[offset : offset + BATCH], start=offset)
            ]
            connection.execute(insert(Profile), rows)
    rng = random.Random(12)
    step_ms = max(1, int(300 * 86400 * 1000 / max(posts, 1)))  # spread over 300 days
    with engine.begin() as connection:
        for offset in range(0, posts, BATCH):
            rows = []
            for n in range(offset, min(posts, offset + BATCH)):
                at = start + timedelta(milliseconds=n * step_ms)
                sid = floor_id(at) | (n & 0xFFFF)
                rows.append(
                    {
                        "id": sid,
                        "profile_id": profile_ids[rng.randrange(profiles)],
                        "kind": "status",
                        "source": "local",
                        "local": True,
                        "visibility": "public",
                        "ap_id": f"http://127.0.0.1:9/posts/{sid}",
                        "author_name": "",
                        "subject": "",
                        "spoiler_text": "",
                        "sensitive": False,
                        "text": f"status number {n} about things",
                        "html": f"<p>status number {n} about things</p>",
                        "thread_id": sid,
                        "held": False,
                        "deleted": False,
                        "replies_count": 0,
                        "reblogs_count": 0,
                        "favourites_count": 0,
                        "created_at": at,
                    }
                )
            connection.execute(insert(Status), rows)
    print(f"  {profiles:,} profiles and {posts:,} statuses inserted in {time.perf_counter() - began:.0f} s", flush=True)
    with session_scope() as session:
        account = create_account(session, "viewer@example.org", handle="viewer")
        viewer = local_profile(session, account).id
    followed = rng.sample(profile_ids, min(following, profiles))
    with engine.begin() as connection:
        connection.execute(
            insert(Follow), [{"id": floor_id(start) + profiles + n, "profile_id": viewer, "target_id": t, "accepted": True,
                              "show_reblogs": True, "notify": False, "created_at": start} for n, t in enumerate(followed)]
        )  # fmt: skip
        chosen = select(literal(viewer, BigInteger()), Status.id).where(Status.profile_id.in_(followed))
        connection.execute(insert(FeedEntry).from_select(["profile_id", "status_id"], chosen))
        entries = connection.scalar(select(func.count()).select_from(FeedEntry))
        connection.execute(text("ANALYZE"))
    print(f"  the viewer follows {len(followed):,}; {entries:,} statuses in their feed; built in "
          f"{time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    return viewer


def raw_select(limit: int) -> Any:
    """The raw indexed SELECT of a page, its size written in (as the service's is: with `LIMIT $n`
    PostgreSQL never picks the generic plan of the prepared statement and plans every page)."""
    return text(
        "SELECT posts.* FROM community_feed JOIN posts ON posts.id = community_feed.status_id "
        "WHERE community_feed.profile_id = :viewer AND community_feed.status_id < :max_id AND posts.id < :max_id "
        f"ORDER BY community_feed.status_id DESC LIMIT {int(limit)}"
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(viewer_id: int, rounds: int, limit: int) -> None:
    from community import timelines
    from community.models import FeedEntry, Profile
    from server.floor.db import get_engine, session_scope

    engine = get_engine()
    raw_page = raw_select(limit)
    with engine.connect() as connection:
        ids = list(connection.scalars(select(FeedEntry.status_id).where(FeedEntry.profile_id == viewer_id)))
    ids.sort()
    rng = random.Random(7)
    cursors = [ids[-1] + 1] + [rng.choice(ids[limit:]) for _ in range(rounds - 1)]
    service: list[float] = []
    raw: list[float] = []
    for warm in (True, False):
        for number, cursor in enumerate(cursors[: 20 if warm else rounds]):
            # Every transaction commits, as a request's session_scope does (a rollback makes psycopg
            # drop the connection's prepared statements, which a request's commit keeps).
            with engine.begin() as connection:  # the page's rows in the cache for both readers alike
                connection.execute(raw_page, {"viewer": viewer_id, "max_id": cursor}).all()
            took_service = took_raw = 0.0
            for reader in ("service", "raw") if number % 2 else ("raw", "service"):
                if reader == "service":
                    with session_scope() as session:
                        viewer = session.get(Profile, viewer_id)  # a request has its viewer before it reads a timeline
                        assert viewer is not None
                        began = time.perf_counter()
                        page = timelines.home(session, viewer, max_id=cursor, limit=limit)
                        took_service = time.perf_counter() - began
                        got = [s.id for s in page]
                else:
                    with engine.begin() as connection:
                        connection.exec_driver_sql("SELECT 1")  # the connection is checked out, as the session's is
                        began = time.perf_counter()
                        rows = connection.execute(raw_page, {"viewer": viewer_id, "max_id": cursor}).all()
                        took_raw = time.perf_counter() - began
            assert got == [r.id for r in rows], "the service and the raw SELECT disagree"
            if not warm:
                service.append(took_service)
                raw.append(took_raw)
    s50, r50 = statistics.median(service), statistics.median(raw)
    print(f"home timeline page ({limit}), {rounds} pages at random cursors (the first page among them):")
    print(f"  community.timelines.home   p50 {s50 * 1000:7.2f} ms   p99 {percentile(service, 0.99) * 1000:7.2f} ms")
    print(f"  raw indexed SELECT         p50 {r50 * 1000:7.2f} ms   p99 {percentile(raw, 0.99) * 1000:7.2f} ms")
    print(f"  ratio of the medians       {s50 / r50:.2f}x (target <= 3x)")


def delivery(remote_followers: int, hosts: int) -> None:
    """A person with `remote_followers` remote followers on `hosts` servers posts: until every delivery is queued."""
    from community import statuses
    from community.models import Follow, Profile
    from community.people import local_profile, upsert_remote
    from federation.models import Delivery, Follower
    from server.floor.accounts import create_account
    from server.floor.db import session_scope

    with session_scope() as session:
        handle = f"poster{random.randrange(10**6)}"
        author = local_profile(session, create_account(session, f"{handle}@example.org", handle=handle))
        for n in range(remote_followers):
            host = f"host{n % hosts}.{handle}.example"
            remote = upsert_remote(
                session, uri=f"https://{host}/users/f{n}", username=f"f{n}", domain=host,
                inbox_url=f"https://{host}/users/f{n}/inbox", shared_inbox_url=f"https://{host}/inbox",
            )  # fmt: skip
            session.add(Follow(profile_id=remote.id, target_id=author.id, accepted=True))
            session.add(
                Follower(
                    actor=author.uri, follower=remote.uri, inbox=remote.inbox_url, shared_inbox=remote.shared_inbox_url
                )
            )
        author_id = author.id
    timings = []
    for attempt in range(5):
        began = time.perf_counter()
        with session_scope() as session:
            author = session.get(Profile, author_id)
            assert author is not None
            status = statuses.post(session, author, f"Hello, fediverse #{attempt}")
            activity = f"{status.ap_id}/activity"
        took = time.perf_counter() - began
        with session_scope() as session:
            queued = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.activity_id == activity))
        timings.append(took)
    print(f"posting with {remote_followers:,} remote followers on {hosts} hosts: {queued} deliveries queued "
          f"(one per shared inbox); post + queue + commit median {statistics.median(timings) * 1000:.1f} ms "
          f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}) over {len(timings)} posts")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=FULL_POSTS)
    parser.add_argument("--following", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--remote-followers", type=int, default=1_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--reuse", action="store_true", help="measure the database an earlier run built")
    parser.add_argument("--data-dir", default=None, help="SQLite: keep the database here (for --reuse)")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    size = (
        ""
        if args.posts >= FULL_POSTS
        else f" - a SMALLER run than issue 12's 1,000,000 statuses (--posts {args.posts:,})"
    )
    print(f"bench/timeline.py on {backend}{size}", flush=True)
    reuse = bool(args.reuse and (args.database_url or args.data_dir))
    boot(args.database_url, reuse, args.data_dir)
    viewer = existing_viewer() if reuse else None
    if viewer is None:
        viewer = build(args.profiles, args.posts, args.following)
    else:
        print("  reusing the database an earlier run built", flush=True)
    measure(viewer, args.rounds, args.limit)
    delivery(args.remote_followers, args.hosts)


def existing_viewer() -> int | None:
    from community.models import Profile
    from server.floor.db import session_scope

    with session_scope() as session:
        return session.scalar(select(Profile.id).where(Profile.username == "viewer", Profile.domain.is_(None)))


if __name__ == "__main__":
    main()
