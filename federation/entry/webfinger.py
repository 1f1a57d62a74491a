"""WebFinger (RFC 7033) and host-meta: `acct:NAME@HOST` to the actor of a person, course, run or group."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from federation.flows.actors import LocalActor, by_handle, local_actor
from server.floor.config import get_settings
from server.floor.errors import Invalid, NotFound

AP_TYPE = "application/activity+json"


def _resource_actor(session: Session, resource: str) -> LocalActor:
    """The local actor a WebFinger `resource` names (acct: URI or actor URL)."""
    settings = get_settings()
    if resource.startswith(("http://", "https://")):
        actor = local_actor(session, resource)
        if actor is None:
            raise NotFound(f"no actor at {resource}")
        return actor
    name, sep, host = resource.removeprefix("acct:").lstrip("@").rpartition("@")
    if not sep or not name:
        raise Invalid(f"resource {resource!r} is not acct:NAME@HOST")
    if host.lower() not in {settings.host.lower(), (urlsplit(settings.url).hostname or "").lower()}:
        raise NotFound(f"{host} is not this instance ({settings.host})")
    actor = by_handle(session, name)
    if actor is None:
        raise NotFound(f"nobody and nothing is called {name} here")
    return actor


def webfinger_document(session: Session, resource: str) -> dict[str, Any]:
    """The JRD of `resource`; NotFound or Invalid naming what is wrong."""
    actor = _resource_actor(session, resource)
    subject = f"acct:{actor.handle}@{get_settings().host}"
    # A person's page is /@handle (Mastodon's short account URL); other actors' pages are their ids.
    page = f"{get_settings().url}/@{actor.handle}" if actor.kind == "person" else actor.id
    return {
        "subject": subject,
        "aliases": list(dict.fromkeys([actor.id, page])),
        "links": [
            {"rel": "self", "type": AP_TYPE, "href": actor.id},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": page},
            # "Follow from your own server": where a visitor's follow of someone elsewhere starts (web pages).
            {
                "rel": "http://ostatus.org/schema/1.0/subscribe",
                "template": f"{get_settings().url}/authorize_interaction?uri={{uri}}",
            },
        ],
    }


def host_meta_xml() -> str:
    """The XRD host-meta document pointing at WebFinger."""
    template = f"{get_settings().url}/.well-known/webfinger?resource={{uri}}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{template}"/>\n'
        "</XRD>\n"
    )


def host_meta_json() -> dict[str, Any]:
    """The JSON form of host-meta."""
    template = f"{get_settings().url}/.well-known/webfinger?resource={{uri}}"
    return {"links": [{"rel": "lrdd", "template": template}]}
