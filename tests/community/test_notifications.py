"""Notifications: deduplicated, filtered by type, counted unread, marked read, dismissed, cleared."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from community import notifications, statuses
from server.floor.errors import Invalid, NotFound


def test_page_filters_counts_and_marks(session: Session, person, remote) -> None:
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    first = statuses.post(session, bob, "hi @ann")
    statuses.favourite(session, cy, first)  # not ann's status: nothing for ann
    mine = statuses.post(session, ann, "mine")
    statuses.favourite(session, bob, mine)
    statuses.favourite(session, cy, mine)
    assert notifications.notify(session, ann, "favourite", from_profile_id=bob.id, status_id=mine.id) is None
    assert notifications.notify(session, remote("zed"), "mention", from_profile_id=bob.id) is None
    page = notifications.page(session, ann)
    assert [(n.type, n.from_profile_id) for n in page] == [
        ("favourite", cy.id),
        ("favourite", bob.id),
        ("mention", bob.id),
    ]
    assert [n.type for n in notifications.page(session, ann, types=["mention"])] == ["mention"]
    assert len(notifications.page(session, ann, exclude_types=["mention"])) == 2
    assert [n.from_profile_id for n in notifications.page(session, ann, account_id=cy.id)] == [cy.id]
    with pytest.raises(Invalid, match="types"):
        notifications.page(session, ann, types=["poll"])
    assert notifications.unread_count(session, ann) == 3
    notifications.mark_read(session, ann, up_to_id=page[1].id)
    assert notifications.unread_count(session, ann) == 1
    notifications.mark_read(session, ann, up_to_id=page[2].id)  # never back
    assert notifications.unread_count(session, ann) == 1
    notifications.mark_read(session, ann)
    assert notifications.unread_count(session, ann) == 0
    notifications.dismiss(session, ann, page[0].id)
    with pytest.raises(NotFound):
        notifications.dismiss(session, bob, page[1].id)
    assert notifications.clear(session, ann) == 2
    assert notifications.page(session, ann) == []


def test_an_unfavourite_takes_its_notification_back_and_a_new_favourite_notifies_again(
    session: Session, person
) -> None:
    # Mastodon: app/models/favourite.rb `has_one :notification, as: :activity, dependent: :destroy`.
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    mine = statuses.post(session, ann, "mine")
    statuses.favourite(session, bob, mine)
    statuses.favourite(session, cy, mine)
    first = notifications.page(session, ann)[0].id
    assert statuses.unfavourite(session, bob, mine)
    assert [n.from_profile_id for n in notifications.page(session, ann)] == [cy.id]
    statuses.favourite(session, bob, mine)
    again = notifications.page(session, ann)
    assert [n.from_profile_id for n in again] == [bob.id, cy.id] and again[0].id > first
