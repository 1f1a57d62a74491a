"""Other servers, for the pages: a remote person by `@user@host` (through federation, before any write
transaction opens) and the "follow from your own server" link from a visitor's WebFinger."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select

from community.models import Profile
from federation.flows import people as federated_people
from federation.transport.fetch import JRD_ACCEPT, FetchError, get_json, parse_handle
from federation.transport.keys import instance_signing_key
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.errors import Invalid, MechMoocError, NotFound
from server.floor.untrusted import http_url

SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"


def cached_profile_id(username: str, host: str) -> int | None:
    """The profile of `username@host` if this server has it already."""
    with session_scope() as db:
        return db.scalar(select(Profile.id).where(Profile.username == username, Profile.domain == host))


def resolve(acct: str, refresh: bool = False, with_posts: bool = False) -> int:
    """The profile id of remote `user@host` (or an actor URL): cached, else fetched by WebFinger through
    federation (`with_posts`: their recent public posts too, for their profile page). Network with no
    transaction open; NotFound when the other server does not know them."""
    if not acct.startswith(("http://", "https://")):
        username, host = parse_handle(acct)
        if host == _our_host():
            raise Invalid(f"@{username}@{host} is on this server")
        found = cached_profile_id(username, host)
        if found is not None and not refresh:
            return found
    fresh = _resolve(acct, refresh)
    if with_posts:
        recent_posts(fresh)
    return fresh


def _resolve(acct: str, refresh: bool) -> int:
    try:
        return federated_people.resolve(acct, refresh=refresh).id
    except MechMoocError as error:  # FetchError, Invalid, NotFound: the other server could not say
        raise NotFound(f"{acct} could not be found: {error}") from error


def recent_posts(profile_id: int) -> None:
    """Fetch a remote person's recent public posts from their outbox (network, no transaction open);
    a server that does not answer leaves the profile with what this server knew."""
    try:
        federated_people.recent_posts(profile_id)
    except MechMoocError:
        return


def _our_host() -> str:
    return get_settings().url.split("://", 1)[-1].split("/", 1)[0].lower()


def subscribe_link(their_handle: str, target_uri: str) -> str:
    """Where a visitor follows `target_uri` from their own server: the subscribe template of their
    WebFinger (`http://ostatus.org/schema/1.0/subscribe`) filled with the id. Network (no transaction
    open); Invalid with a message naming the handle when their server has no such template."""
    username, host = parse_handle(their_handle)
    scheme = "http" if get_settings().insecure_http and not host.endswith(":443") else "https"
    url = f"{scheme}://{host}/.well-known/webfinger?resource=acct:{quote(username)}@{host}"
    with session_scope() as db:
        key = instance_signing_key(db)
    try:
        document = get_json(url, key, accept=JRD_ACCEPT, max_bytes=100_000)
    except FetchError as error:
        raise Invalid(f"@{username}@{host}: your server did not answer ({error})") from error
    for link in document.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == SUBSCRIBE and isinstance(link.get("template"), str):
            target = http_url(link["template"].replace("{uri}", quote(target_uri, safe="")))
            if target:
                return target
    raise Invalid(f"@{username}@{host}: your server offers no way to follow from elsewhere")
