"""Each provider's JSON read into `ProviderEvent`s; what is neither a bounce nor a complaint is left out.

The shapes are those the providers document (tests/fixtures/webhooks/README.md says where each comes
from). Whatever a field holds, a wrong type is skipped, never an error: the signature was checked, but
providers add fields and kinds over time.
"""

from __future__ import annotations

import re
from typing import Any

from mail.bounces import COMPLAINT, HARD, SOFT
from mail.webhooks.events import ProviderEvent, digest, message_id_of, normal
from server.floor.errors import Invalid
from server.floor.untrusted import bounded_json_loads

# SES bounceType: Permanent, Transient, Undetermined (the last: a bounce SES could not classify).
SES_BOUNCE = {"Permanent": HARD, "Transient": SOFT, "Undetermined": SOFT}
# Postmark bounce Type names (https://postmarkapp.com/developer/api/bounce-api#bounce-types).
POSTMARK_HARD = {"HardBounce", "BadEmailAddress"}
POSTMARK_SOFT = {"SoftBounce", "Transient", "DnsError", "SpamNotification", "ChallengeVerification"}
POSTMARK_COMPLAINT = {"SpamComplaint"}
# SendGrid drops mail to addresses on its own lists; these say the address bounced or complained before.
SENDGRID_DROPPED = {"Bounced Address": HARD, "Invalid": HARD, "Spam Reporting Address": COMPLAINT}
_HEADER_LINE = re.compile(r"^Message-ID:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(*parts: Any) -> str:
    return "; ".join(str(part) for part in parts if part not in (None, "", [], {}))[:2000]


def ses_events(message: dict[str, Any], sns_message_id: str) -> list[ProviderEvent]:
    """An SES notification (the JSON in an SNS Notification's Message): its bounced or complaining recipients."""
    kind_name = str(message.get("notificationType") or message.get("eventType") or "")
    mail = _dict(message.get("mail"))
    headers = {str(_dict(h).get("name", "")).lower(): _dict(h).get("value") for h in _list(mail.get("headers"))}
    message_id = message_id_of(_dict(mail.get("commonHeaders")).get("messageId") or headers.get("message-id"))
    sender = str(mail.get("source") or "")
    events = []
    if kind_name == "Bounce":
        bounce = _dict(message.get("bounce"))
        kind = SES_BOUNCE.get(str(bounce.get("bounceType")), SOFT)
        event_id = str(bounce.get("feedbackId") or sns_message_id)
        for recipient in map(_dict, _list(bounce.get("bouncedRecipients"))):
            detail = _text(bounce.get("bounceType"), bounce.get("bounceSubType"), recipient.get("status"),
                           recipient.get("diagnosticCode"))  # fmt: skip
            address = normal(recipient.get("emailAddress"))
            if address:
                events.append(ProviderEvent("ses", event_id, kind, address, message_id, sender, detail))
    elif kind_name == "Complaint":
        complaint = _dict(message.get("complaint"))
        event_id = str(complaint.get("feedbackId") or sns_message_id)
        detail = _text(complaint.get("complaintFeedbackType"), complaint.get("userAgent"))
        for recipient in map(_dict, _list(complaint.get("complainedRecipients"))):
            address = normal(recipient.get("emailAddress"))
            if address:
                events.append(ProviderEvent("ses", event_id, COMPLAINT, address, message_id, sender, detail))
    return events


def mailgun_events(data: dict[str, Any]) -> list[ProviderEvent]:
    """Mailgun's `event-data`: a failed delivery (severity permanent or temporary) or a complaint."""
    event = _dict(data.get("event-data"))
    name = str(event.get("event", ""))
    address = normal(event.get("recipient"))
    if not address:
        return []
    if name == "failed":
        kind = HARD if event.get("severity") == "permanent" else SOFT
    elif name == "complained":
        kind = COMPLAINT
    else:
        return []
    message = _dict(event.get("message"))
    status = _dict(event.get("delivery-status"))
    return [
        ProviderEvent(
            "mailgun",
            str(event.get("id") or digest(event)),
            kind,
            address,
            message_id_of(_dict(message.get("headers")).get("message-id")),
            str(_dict(event.get("envelope")).get("sender") or ""),
            _text(
                event.get("severity"),
                event.get("reason"),
                status.get("code"),
                status.get("message"),
                status.get("description"),
            ),  # fmt: skip
        )
    ]


def postmark_events(data: dict[str, Any]) -> list[ProviderEvent]:
    """A Postmark bounce or spam complaint webhook (RecordType Bounce or SpamComplaint)."""
    record, kind_name = str(data.get("RecordType", "")), str(data.get("Type", ""))
    if record == "SpamComplaint" or kind_name in POSTMARK_COMPLAINT:
        kind = COMPLAINT
    elif record == "Bounce" and kind_name in POSTMARK_HARD:
        kind = HARD
    elif record == "Bounce" and kind_name in POSTMARK_SOFT:
        kind = SOFT
    else:
        return []
    address = normal(data.get("Email"))
    if not address:
        return []
    # Postmark's MessageID is its own; the dump of the bounce (Content) may carry our Message-ID header.
    found = _HEADER_LINE.search(str(data.get("Content") or ""))
    return [
        ProviderEvent(
            "postmark",
            str(data.get("ID") or digest(data)),
            kind,
            address,
            message_id_of(found.group(1)) if found else "",
            "",
            _text(kind_name, data.get("Description"), data.get("Details")),
        )
    ]


def sendgrid_events(batch: list[Any]) -> list[ProviderEvent]:
    """A batch of SendGrid events: bounces (type bounce or blocked), drops of known-bad addresses, spam reports."""
    events = []
    for event in map(_dict, batch):
        name = str(event.get("event", ""))
        if name == "bounce":
            kind = SOFT if event.get("type") == "blocked" else HARD
        elif name == "dropped" and str(event.get("reason")) in SENDGRID_DROPPED:
            kind = SENDGRID_DROPPED[str(event.get("reason"))]
        elif name == "spamreport":
            kind = COMPLAINT
        else:
            continue
        address = normal(event.get("email"))
        if address:
            events.append(
                ProviderEvent(
                    "sendgrid",
                    str(event.get("sg_event_id") or digest(event)),
                    kind,
                    address,
                    message_id_of(event.get("smtp-id")),
                    "",
                    _text(name, event.get("type"), event.get("status"), event.get("reason")),
                )
            )
    return events


def sns_notification(message: dict[str, Any]) -> dict[str, Any]:
    """The SES notification inside a verified SNS Notification (its Message is JSON text)."""
    try:
        inner = bounded_json_loads(str(message.get("Message", "")))
    except Invalid:
        return {}
    return _dict(inner)
