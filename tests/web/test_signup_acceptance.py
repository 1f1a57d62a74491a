"""Issue 3's acceptance through the web form: 200 learners in mixed time zones sign up on a served
instance and confirm by the mailed link; `mechmooc run show --json` then shows sensible groups."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES
from tests.support.backends import require_postgres
from tests.support.instances import Instance, fresh_postgres_database

pytestmark = pytest.mark.slow
LEARNERS = 200
# Mixed, uneven zones, as a real signup would bring them (weights sum to 20 → 200 learners).
ZONES = {
    "America/Los_Angeles": 2, "America/New_York": 3, "America/Sao_Paulo": 2, "Europe/London": 2,
    "Europe/Berlin": 4, "Africa/Nairobi": 1, "Asia/Kolkata": 2, "Asia/Tokyo": 2, "Australia/Sydney": 2,
}  # fmt: skip
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIRM = re.compile(r"(/signup/confirm/[A-Za-z0-9_-]+)")


def zone_of(number: int) -> str:
    """The time zone of learner `number`: the ZONES weights, interleaved."""
    cycle = [zone for zone, weight in ZONES.items() for _ in range(weight)]
    return cycle[number % len(cycle)]


def offset_hours(zone: str, day: str) -> float:
    """The UTC offset of `zone` on `day`, in hours."""
    moment = datetime.fromisoformat(day).replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return (moment.utcoffset() or timedelta()).total_seconds() / 3600


def post_form(client: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """GET the page for its CSRF token (and session cookie), then POST the form like a browser."""
    token = CSRF.search(client.get(page).text)
    assert token, f"no form on {page}"
    return client.post(action, data={"csrf_token": token.group(1), **data})


def sign_up(base: str, run: str, number: int) -> int:
    # Each learner from an address of their own, through the instance's reverse proxy: one client
    # may sign up only a few people an hour (courses.signup_limits).
    forwarded = {"X-Forwarded-For": f"10.20.{number // 200}.{number % 200 + 1}"}
    with httpx.Client(base_url=base, timeout=30, headers=forwarded) as client:
        data = {"email": f"learner{number}@example.org", "name": f"Learner {number}", "timezone": zone_of(number)}
        return post_form(client, f"/runs/{run}", f"/runs/{run}/signup", data).status_code


def confirm(base: str, link: str) -> str:
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as client:
        return post_form(client, link, link, {}).text


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`mechmooc serve` (no worker: the outbox rows are read, not sent) on SQLite or PostgreSQL."""
    database_url = None
    if request.param == "postgres":
        require_postgres()
        database_url = fresh_postgres_database(f"mechmooc_web_acceptance_{tmp_path.name[-20:]}".lower())
    instance = Instance(tmp_path / "site", database_url=database_url, worker=False,
                        env={"MECHMOOC_MAIL_DOMAIN": "lists.example.org", "MECHMOOC_TRUSTED_PROXIES": "127.0.0.1"})  # fmt: skip
    with instance:
        instance.database = database_url or f"sqlite:///{instance.data_dir / 'mechmooc.sqlite3'}"  # type: ignore[attr-defined]
        yield instance


def confirmation_links(database: str) -> dict[str, str]:
    """Address → confirmation path, from the confirmation mails in the outbox table."""
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT to_addr, message FROM mail_outgoing WHERE kind = 'confirm'")).all()
    finally:
        engine.dispose()
    links = {}
    for address, raw in rows:
        body = email.message_from_string(raw, policy=email.policy.default).get_body(("plain",)).get_content()
        match = CONFIRM.search(body)
        assert match, f"no confirmation link in the mail to {address}"
        links[address] = match.group(1)
    return links


def test_two_hundred_learners_sign_up_by_the_form_confirm_and_are_grouped(served: Instance) -> None:
    assert served.cli("course", "import", str(FIXTURES / "courses" / "gentle-python")).returncode == 0
    start = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    created = served.cli("run", "create", "gentle-python", "--start", start, "--timezone", "UTC", "--every", "1")
    assert created.returncode == 0, created.stderr
    run = created.stdout.strip().splitlines()[-1].rstrip("/").rsplit("/", 1)[-1]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda n: sign_up(served.url, run, n), range(LEARNERS)))
    assert Counter(statuses) == {303: LEARNERS}  # every form went on to the thank-you page
    links = confirmation_links(served.database)  # type: ignore[attr-defined]
    assert len(links) == LEARNERS
    with ThreadPoolExecutor(max_workers=4) as pool:
        pages = list(pool.map(lambda link: confirm(served.url, link), links.values()))
    assert all("You are in" in page for page in pages)
    assert "Already confirmed" in httpx.get(served.url + next(iter(links.values())), timeout=10).text  # single use

    grouped = served.cli("run", "group", run)
    assert grouped.returncode == 0, grouped.stderr
    shown = served.cli("run", "show", run, "--json")
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)
    assert summary["learners"] == LEARNERS and summary["pending"] == 0
    members = [m for group in summary["groups"] for m in group["members"]]
    assert sorted(m["email"] for m in members) == sorted(f"learner{n}@example.org" for n in range(LEARNERS))
    size = summary["group_size"]
    for group in summary["groups"]:
        assert size / 2 <= len(group["members"]) <= size * 3 / 2, group["handle"]
        assert group["address"] == f"{group['handle']}@lists.example.org"
        offsets = [offset_hours(m["timezone"], start) for m in group["members"]]
        # Sensible: nobody shares a group with someone on the other side of the world.
        assert max(offsets) - min(offsets) <= 6, (group["handle"], sorted({m["timezone"] for m in group["members"]}))
    assert 7 <= len(summary["groups"]) <= 14
    run_page = httpx.get(f"{served.url}/runs/{run}", timeout=10).text
    assert f"{len(summary['groups'])} groups" in run_page
