"""A person's profile settings (`/settings/profile`): display name, bio, up to 4 fields, locked,
discoverable, indexable, showing one's courses, and the avatar and header images with their alt text
(checked, resized and stripped by `community.media`). Images are served by `web.pages.media`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import media, text
from community.models import Profile
from community.people import MAX_FIELDS, local_profile
from server.floor.accounts import Account
from server.floor.db import write_scope
from server.floor.errors import Invalid
from server.floor.events import publish
from web.auth import current_account, require_login
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

MAX_NAME = 200
MAX_BIO = 500  # characters, as Mastodon
MAX_FIELD = 255  # a field's name and its value, each
FLAGS = ("locked", "discoverable", "indexable", "show_courses")
IMAGES = ("avatar", "header")


def _values(profile: Profile) -> dict[str, Any]:
    fields = list(profile.fields or [])[:MAX_FIELDS]
    rows = [
        {"name": str(item.get("name", "")), "value": str(item.get("source", item.get("value", "")))} for item in fields
    ]
    rows += [{"name": "", "value": ""} for _ in range(MAX_FIELDS - len(rows))]
    return {
        "display_name": profile.display_name,
        "note": profile.note_source,
        "fields": rows,
        "avatar_description": profile.avatar_description,
        "header_description": profile.header_description,
    } | {flag: bool(getattr(profile, flag)) for flag in FLAGS}


def _page(
    request: Request,
    session: Session,
    profile: Profile,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = {
        "profile": {"handle": profile.username, "avatar_url": profile.avatar_url, "header_url": profile.header_url},
        "values": values,
        "errors": errors,
        "limits": {"name": MAX_NAME, "bio": MAX_BIO, "field": MAX_FIELD, "description": media.MAX_DESCRIPTION},
    }
    return render(request, "settings/profile.html", context, status=status)


def _account(request: Request) -> Account:
    account = current_account(request)
    assert account is not None  # @require_login
    return account


@require_login
def profile_form(request: Request) -> Response:
    """GET /settings/profile."""
    with write_scope() as session:  # the profile is made on first use
        profile = local_profile(session, _account(request))
        return _page(request, session, profile, _values(profile), {})


def _field_html(value: str) -> str:
    """A field's value as HTML: linked like a status, without the paragraph around it."""
    html = text.render(value).html
    return html[3:-4] if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1 else html


def check(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values, cleaned, and errors by field name (empty when they may be saved)."""
    errors: dict[str, str] = {}

    def clean(name: str, limit: int, label: str) -> str:
        value = str(form.get(name, "") or "").replace("\x00", "").replace("\r\n", "\n").strip()
        if len(value) > limit:
            errors[name] = f"{label}: at most {limit} characters (now {len(value):,})."
        return value

    values: dict[str, Any] = {
        "display_name": " ".join(clean("display_name", MAX_NAME, "Display name").split()),
        "note": clean("note", MAX_BIO, "Bio"),
        "avatar_description": clean("avatar_description", media.MAX_DESCRIPTION, "Avatar description"),
        "header_description": clean("header_description", media.MAX_DESCRIPTION, "Header description"),
    }
    rows = []
    for n in range(MAX_FIELDS):  # at most 4: any other numbered field is ignored
        label = f"Field {n + 1}"
        name = " ".join(clean(f"field_{n}_name", MAX_FIELD, f"{label} label").split())
        value = " ".join(clean(f"field_{n}_value", MAX_FIELD, f"{label} content").split())
        if value and not name:
            errors[f"field_{n}_name"] = f"{label} label: give the field a label, or empty its content."
        rows.append({"name": name, "value": value})
    values["fields"] = rows
    for flag in FLAGS:
        values[flag] = form.get(flag) == "1"
    return values, errors


async def _read(upload: Any, kind: str) -> bytes | None:
    """The bytes of an uploaded file (at most its kind's limit plus one byte), None when none was sent."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await upload.read(media.MAX_BYTES[kind] + 1)


async def save_profile(request: Request) -> Response:
    """POST /settings/profile (multipart: the images come with the form)."""
    if current_account(request) is None:
        return RedirectResponse("/login?next=/settings/profile", status_code=303)
    form = posted_form(request)
    uploads = {kind: await _read(form.get(kind), kind) for kind in IMAGES}
    return await run_in_threadpool(_save, request, form, uploads)


def _save(request: Request, form: Any, uploads: dict[str, bytes | None]) -> Response:
    account = _account(request)
    values, errors = check(form)
    prepared: dict[str, media.Prepared] = {}
    for kind, data in uploads.items():
        if data is not None and not errors:
            try:
                prepared[kind] = media.prepare(data, kind)  # Pillow's work before the write transaction
            except Invalid as error:
                errors[kind] = f"{kind.capitalize()}: " + str(error).removeprefix("file: ")
    with write_scope() as session:
        profile = local_profile(session, account)
        if errors:
            return _page(request, session, profile, values, errors, status=400)
        for kind in IMAGES:
            description = values[f"{kind}_description"]
            if kind in prepared:
                media.store(session, profile, prepared[kind], description)
            elif form.get(f"remove_{kind}") == "1":
                media.remove_image(session, profile, kind)
            elif kind == "avatar" and profile.avatar_url:
                profile.avatar_description = description
            elif kind == "header" and profile.header_url:
                profile.header_description = description
        profile.display_name = values["display_name"]
        profile.note_source = values["note"]
        profile.note = text.render(values["note"]).html if values["note"] else ""
        profile.fields = [
            {"name": row["name"], "value": _field_html(row["value"]), "source": row["value"]}
            for row in values["fields"]
            if row["name"]
        ]
        for flag in FLAGS:
            setattr(profile, flag, values[flag])
        stored = session.get(Account, account.id)
        if stored is not None and values["display_name"]:
            stored.display_name = values["display_name"]
        publish(session, "profile.updated", {"profile_id": profile.id})
    flash(request, "Your profile is saved.", "success")
    return RedirectResponse("/settings/profile", status_code=303)


def routes() -> list[BaseRoute]:
    """Profile settings."""
    return [
        Route("/settings/profile", profile_form, methods=["GET"], name="settings_profile"),
        Route("/settings/profile", save_profile, methods=["POST"]),
    ]
