"""Following a course from a real client (Mastodon.py, the whole app on a real port): the course's
account is found by its handle, followed with the bell on, and its new version lands in the home
timeline with a `status` notification; someone who does not follow it gets neither."""

from __future__ import annotations

from sqlalchemy import select

from courses import editor
from courses.models import Course
from server.floor.db import session_scope
from tests.api.clients import client_for, register_app
from tests.api.conftest import Person


def test_a_followed_course_news_reaches_the_home_timeline(server_url: str, alice: Person, bob: Person) -> None:
    with session_scope() as db:
        course = editor.create_course(db, "algebra-club", "Algebra Club", summary="Equations, together.")
        editor.add_unit(db, course, "Linear equations", 1, "Solve for x.")
        editor.publish(db, course)
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    account = a.account_lookup("algebra-club")
    assert account.bot is True and account.display_name == "Algebra Club"
    assert a.account_follow(account.id, notify=True).following is True
    with session_scope() as db:
        found = db.scalars(select(Course).where(Course.slug == "algebra-club")).one()
        editor.add_unit(db, found, "Inequalities", 8, "Mind the sign.")
        editor.publish(db, found)
    home = a.timeline_home()
    news = [s for s in home if "has a new version (2)" in s.content]
    assert len(news) == 1 and news[0].account.id == account.id and news[0].visibility == "public"
    bells = [n for n in a.notifications() if n.type == "status"]
    assert [n.status.id for n in bells] == [news[0].id]
    assert not [s for s in b.timeline_home() if s.account.id == account.id]
    assert not [n for n in b.notifications() if n.type == "status"]
