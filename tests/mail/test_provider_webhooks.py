"""Provider webhooks for bounces and complaints (issue 11, item 10): SES through SNS, Mailgun, Postmark
and SendGrid, in the shapes their documentation gives (tests/fixtures/webhooks), signed here as each
provider signs, each with the outcome a DSN has; a provider not configured answers 404, a forged
request 401, and the same event twice counts once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.models import Enrollment
from mail.addresses import verp
from mail.models import MailEvent, OutgoingMail, Suppression
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.webhooks import sns
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.mail.conftest import gentle_run
from tests.mail.webhook_support import (
    TOPIC,
    SendGridKey,
    SnsStandIn,
    basic,
    fixture,
    mailgun_signed,
    sns_notification,
    stand_in,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
LATER = NOON + timedelta(hours=1)
LEARNERS = [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC"), ("cy@example.org", "Cy", "UTC")]
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK = "postmark:9c7a3f0e-hook"
PATHS = ("/mail/webhooks/ses", "/mail/webhooks/mailgun", "/mail/webhooks/postmark", "/mail/webhooks/sendgrid")


@pytest.fixture
def sns_stand_in() -> Iterator[SnsStandIn]:
    sns.signing_certificate.cache_clear()
    yield from stand_in()
    sns.signing_certificate.cache_clear()


@pytest.fixture
def sendgrid_key() -> SendGridKey:
    return SendGridKey()


@pytest.fixture
def hooked(settings: Settings, sendgrid_key: SendGridKey) -> Iterator[Settings]:
    """The instance with every provider's webhook configured."""
    configured = replace(
        settings,
        webhook_mailgun_key=MAILGUN_KEY,
        webhook_postmark_auth=POSTMARK,
        webhook_sendgrid_key=sendgrid_key.public_text,
        webhook_ses_topics=(TOPIC,),
    )
    use_settings(configured)
    yield configured
    use_settings(settings)


@pytest.fixture
def sent(session: Session, hooked: Settings) -> dict[str, OutgoingMail]:
    """Each learner's first unit mail, sent (to the local outbox) at NOON; by address."""
    with frozen(START):
        gentle_run(session, LEARNERS)
    with frozen(NOON):
        schedule_all_due(session)
        send_all(session)
    mails = {m.to_addr: m for m in session.scalars(select(OutgoingMail).where(OutgoingMail.kind == "unit"))}
    session.commit()
    assert set(mails) == {address for address, _, _ in LEARNERS} and all(m.sent_at for m in mails.values())
    return mails


@pytest.fixture
def client(hooked: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(hooked)) as web:
        yield web


def events(session: Session, kind: str) -> list[MailEvent]:
    session.expire_all()
    return list(session.scalars(select(MailEvent).where(MailEvent.kind == kind)))


def suppression(session: Session, address: str) -> Suppression | None:
    session.expire_all()
    return session.scalar(select(Suppression).where(Suppression.email == address))


def ses_bounce(mail: OutgoingMail, bounce_type: str = "Permanent") -> dict:
    """The documented SES bounce, about one of our mails: our recipient, envelope sender and Message-ID."""
    message = fixture("ses_bounce.json")
    message["bounce"]["bounceType"] = bounce_type
    message["bounce"]["bouncedRecipients"][0]["emailAddress"] = mail.to_addr
    message["mail"]["source"] = verp(mail.token)
    message["mail"]["destination"] = [mail.to_addr]
    message["mail"]["commonHeaders"]["messageId"] = mail.message_id
    return message


def test_a_provider_not_configured_answers_404(sqlite_settings: Settings) -> None:
    with TestClient(create_app(sqlite_settings)) as web:
        for path in PATHS:
            answer = web.post(path, json={})
            assert answer.status_code == 404 and "set MECHMOOC_WEBHOOK_" in answer.text, (path, answer.text)


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounce_through_sns_suppresses_and_counts_once(
    session: Session, sent: dict[str, OutgoingMail], client: TestClient, sns_stand_in: SnsStandIn, version: str
) -> None:
    ann = sent["ann@example.org"]
    signed = sns_stand_in.sign(sns_notification(ses_bounce(ann)), version)
    with frozen(LATER):
        first = client.post("/mail/webhooks/ses", content=json.dumps(signed), headers={"Content-Type": "text/plain"})
        again = client.post("/mail/webhooks/ses", content=json.dumps(signed))
    assert first.status_code == 200, first.text
    assert first.json()["outcomes"] == ["bounce"] and again.json()["outcomes"] == ["duplicate"]
    assert [e.mail_id for e in events(session, "bounce")] == [ann.id]
    row = suppression(session, "ann@example.org")
    assert row is not None and row.active and row.reason == "hard_bounce" and "5.1.1" in row.detail
    # One certificate fetch for both messages; the SNS envelope sent no Subject, and that was signed so too.
    assert [hit for hit in sns_stand_in.hits if hit.endswith(".pem")] == ["/SimpleNotificationService-test.pem"]


def test_ses_transient_bounce_is_scored_and_a_complaint_leaves_the_run(
    session: Session, sent: dict[str, OutgoingMail], client: TestClient, sns_stand_in: SnsStandIn
) -> None:
    bob, cy = sent["bob@example.org"], sent["cy@example.org"]
    complaint = fixture("ses_complaint.json")
    complaint["complaint"]["complainedRecipients"] = [{"emailAddress": cy.to_addr}]
    complaint["mail"].update(source=verp(cy.token), destination=[cy.to_addr])
    complaint["mail"]["commonHeaders"]["messageId"] = cy.message_id
    with frozen(LATER):
        soft = client.post("/mail/webhooks/ses", json=sns_stand_in.sign(sns_notification(ses_bounce(bob, "Transient"))))
        spam = client.post("/mail/webhooks/ses", json=sns_stand_in.sign(sns_notification(complaint, "b1f2c3d4")))
    assert soft.json()["outcomes"] == ["soft_bounce"] and spam.json()["outcomes"] == ["complaint"]
    scored = suppression(session, "bob@example.org")
    assert scored is not None and (scored.soft_bounces, scored.active) == (1, False)
    row = suppression(session, "cy@example.org")
    assert row is not None and row.active and row.reason == "complaint"
    leaver = session.scalar(select(Enrollment).where(Enrollment.email == "cy@example.org"))
    assert leaver is not None and leaver.status == "unsubscribed"
    assert [e.mail_id for e in events(session, "unsubscribe")] == [cy.id]


def test_forged_sns_messages_are_refused(
    session: Session, sent: dict[str, OutgoingMail], client: TestClient, sns_stand_in: SnsStandIn
) -> None:
    ann = sent["ann@example.org"]
    good = sns_stand_in.sign(sns_notification(ses_bounce(ann)))
    tampered = {**good, "Message": good["Message"].replace("Permanent", "Transient")}
    other_topic = sns_stand_in.sign({**sns_notification(ses_bounce(ann)), "TopicArn": TOPIC + "-theirs"})
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = sns_stand_in.sign(sns_notification(ses_bounce(ann)), key=rsa.generate_private_key(65537, 2048))
    elsewhere = sns_stand_in.sign(sns_notification(ses_bounce(ann)), cert_url="https://evil.example/c.pem")
    unknown_version = {**good, "SignatureVersion": "3"}
    for forged, reason in [
        (tampered, "does not match"),
        (other_topic, "is not one of MECHMOOC_WEBHOOK_SES"),
        (stranger, "does not match"),
        (elsewhere, "amazonaws.com"),
        (unknown_version, "SignatureVersion"),
        ({**good, "Signature": "not base64!"}, "base64"),
    ]:
        answer = client.post("/mail/webhooks/ses", json=forged)
        assert answer.status_code == 401 and reason in answer.text, (reason, answer.text)
    assert client.post("/mail/webhooks/ses", content=b"{not json").status_code == 400
    assert suppression(session, "ann@example.org") is None and not events(session, "bounce")
    assert not any("evil" in hit for hit in sns_stand_in.hits)


def test_subscription_confirmation_is_visited_only_when_configured(
    hooked: Settings, client: TestClient, sns_stand_in: SnsStandIn
) -> None:
    confirmation = fixture("sns_subscription_confirmation.json")
    confirmation.update(TopicArn=TOPIC, SubscribeURL=f"{sns_stand_in.base}/?Action=ConfirmSubscription&Token=2336")
    signed = sns_stand_in.sign(confirmation)
    off = client.post("/mail/webhooks/ses", json=signed)
    assert off.status_code == 200 and "not confirmed" in off.text
    assert not [hit for hit in sns_stand_in.hits if "ConfirmSubscription" in hit]
    use_settings(replace(hooked, webhook_ses_confirm=True))
    forged = client.post("/mail/webhooks/ses", json={**signed, "SubscribeURL": f"{sns_stand_in.base}/?Action=Other"})
    assert forged.status_code == 401
    on = client.post("/mail/webhooks/ses", json=signed)
    assert on.status_code == 200 and on.text == "subscription confirmed"
    assert [hit for hit in sns_stand_in.hits if "Action=" in hit] == ["/?Action=ConfirmSubscription&Token=2336"]


def test_mailgun_failures_and_complaints(session: Session, sent: dict[str, OutgoingMail], client: TestClient) -> None:
    ann, bob, cy = sent["ann@example.org"], sent["bob@example.org"], sent["cy@example.org"]

    def about(name: str, mail: OutgoingMail) -> dict:
        payload = fixture(name)
        data = payload["event-data"]
        data["recipient"] = mail.to_addr
        data["message"]["headers"]["message-id"] = mail.message_id.strip("<>")  # Mailgun drops the brackets
        data["envelope"]["sender"] = verp(mail.token)
        return payload

    moment = int(LATER.timestamp())
    with frozen(LATER):
        hard = mailgun_signed(about("mailgun_failed_permanent.json", ann), MAILGUN_KEY, moment)
        answers = [
            client.post("/mail/webhooks/mailgun", json=hard),
            client.post("/mail/webhooks/mailgun", json=hard),  # Mailgun retries: the same event
            client.post(
                "/mail/webhooks/mailgun",
                json=mailgun_signed(about("mailgun_failed_temporary.json", bob), MAILGUN_KEY, moment),
            ),
            client.post(
                "/mail/webhooks/mailgun",
                json=mailgun_signed(about("mailgun_complained.json", cy), MAILGUN_KEY, moment),
            ),
        ]
        wrong_key = mailgun_signed(about("mailgun_failed_permanent.json", bob), "key-someone-else", moment)
        stale = mailgun_signed(about("mailgun_failed_permanent.json", bob), MAILGUN_KEY, moment - 20 * 60)
        as_documented = fixture("mailgun_failed_permanent.json")  # the docs' own signature, of another key
        refused = [client.post("/mail/webhooks/mailgun", json=body) for body in (wrong_key, stale, as_documented)]
    assert [a.json()["outcomes"] for a in answers] == [["bounce"], ["duplicate"], ["soft_bounce"], ["complaint"]]
    assert [r.status_code for r in refused] == [401, 401, 401]
    assert "minutes away from now" in refused[1].text
    assert [e.mail_id for e in events(session, "bounce")] == [ann.id]
    bob_row = suppression(session, "bob@example.org")
    assert bob_row is not None and (bob_row.active, bob_row.soft_bounces) == (False, 1)


def test_postmark_basic_auth_and_the_recipients_last_mail(
    session: Session, sent: dict[str, OutgoingMail], client: TestClient
) -> None:
    ann, cy = sent["ann@example.org"], sent["cy@example.org"]
    bounce = {**fixture("postmark_bounce.json"), "Email": "Ann@Example.org"}
    complaint = {**fixture("postmark_spam_complaint.json"), "Email": cy.to_addr}
    missing = client.post("/mail/webhooks/postmark", json=bounce)
    wrong = client.post("/mail/webhooks/postmark", json=bounce, headers=basic("postmark:guess"))
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    with frozen(LATER):
        answers = [client.post("/mail/webhooks/postmark", json=body, headers=basic(POSTMARK)) for body in (
            bounce, bounce, complaint, {**fixture("postmark_bounce.json"), "ID": 7, "Type": "AutoResponder"}
        )]  # fmt: skip
    assert [a.json()["outcomes"] for a in answers] == [["bounce"], ["duplicate"], ["complaint"], []]
    # Postmark names no mail of ours: the bounce is the recipient's last mail's.
    assert [e.mail_id for e in events(session, "bounce")] == [ann.id]
    assert [e.mail_id for e in events(session, "complaint")] == [cy.id]


def test_sendgrid_signed_batches(
    session: Session, sent: dict[str, OutgoingMail], client: TestClient, sendgrid_key: SendGridKey
) -> None:
    ann, bob, cy = sent["ann@example.org"], sent["bob@example.org"], sent["cy@example.org"]
    batch = fixture("sendgrid_events.json")
    processed, deferred, bounce, blocked, dropped, delivered, spam = batch
    for event, mail in [(processed, ann), (deferred, ann), (bounce, ann), (blocked, bob), (dropped, ann),
                        (delivered, bob), (spam, cy)]:  # fmt: skip
        event.update(email=mail.to_addr, **{"smtp-id": mail.message_id})
    body = json.dumps(batch).encode()
    with frozen(LATER):
        signed = client.post("/mail/webhooks/sendgrid", content=body, headers=sendgrid_key.headers(body))
        again = client.post("/mail/webhooks/sendgrid", content=body, headers=sendgrid_key.headers(body, "1700000100"))
    assert signed.status_code == 200, signed.text
    # bounce, blocked, dropped (Bounced Address), spamreport; the dropped one is Ann's bounce again.
    assert signed.json()["outcomes"] == ["bounce", "soft_bounce", "already counted", "complaint"]
    assert again.json()["outcomes"] == ["duplicate"] * 4
    tampered = body.replace(b"blocked", b"bounce")
    forged = client.post("/mail/webhooks/sendgrid", content=tampered, headers=sendgrid_key.headers(body))
    bare = client.post("/mail/webhooks/sendgrid", content=body, headers={"Content-Type": "application/json"})
    assert (forged.status_code, bare.status_code) == (401, 401)
    assert [e.mail_id for e in events(session, "bounce")] == [ann.id]
    cy_row = suppression(session, "cy@example.org")
    assert cy_row is not None and cy_row.reason == "complaint"


def test_sendgrid_accepts_a_request_sendgrid_signed(session: Session, hooked: Settings) -> None:
    """The signed request of SendGrid's own library tests, with its public key: the scheme is SendGrid's."""
    vector = fixture("sendgrid_sdk_vector.json")
    use_settings(replace(hooked, webhook_sendgrid_key=vector["public_key"]))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": vector["signature"],
        "X-Twilio-Email-Event-Webhook-Timestamp": vector["timestamp"],
    }
    with TestClient(create_app(hooked)) as web:
        answer = web.post("/mail/webhooks/sendgrid", content=vector["payload"].encode(), headers=headers)
        cut = web.post("/mail/webhooks/sendgrid", content=vector["payload"].rstrip().encode(), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcomes"] == ["not one of our mails"]  # hello@world.com was never mailed here
    assert cut.status_code == 401  # the trailing CRLF is part of what was signed


def test_hostile_bodies_are_a_4xx_or_nothing_never_a_500(
    hooked: Settings, client: TestClient, sendgrid_key: SendGridKey, sns_stand_in: SnsStandIn
) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    odd_events = json.dumps([1, "x", None, {"event": "bounce", "email": 5}, {"event": ["bounce"]}]).encode()
    with frozen(LATER):
        moment = int(LATER.timestamp())
        answers = {
            "ses deep": client.post("/mail/webhooks/ses", content=deep),
            "ses array": client.post("/mail/webhooks/ses", json=[]),
            "ses no json inside": client.post(
                "/mail/webhooks/ses", json=sns_stand_in.sign({**sns_notification({}), "Message": "not json"})
            ),
            "ses odd inside": client.post(
                "/mail/webhooks/ses",
                json=sns_stand_in.sign(
                    sns_notification({"notificationType": "Bounce", "bounce": {"bouncedRecipients": "x"}, "mail": []})
                ),
            ),
            "mailgun signature text": client.post("/mail/webhooks/mailgun", json={"signature": "x"}),
            "mailgun odd event": client.post(
                "/mail/webhooks/mailgun", json=mailgun_signed({"event-data": []}, MAILGUN_KEY, moment)
            ),
            "postmark odd": client.post(
                "/mail/webhooks/postmark", json={"RecordType": ["x"], "Email": {}}, headers=basic(POSTMARK)
            ),
            "postmark deep": client.post("/mail/webhooks/postmark", content=deep, headers=basic(POSTMARK)),
            "sendgrid odd events": client.post(
                "/mail/webhooks/sendgrid", content=odd_events, headers=sendgrid_key.headers(odd_events)
            ),
            "sendgrid object": client.post(
                "/mail/webhooks/sendgrid", content=b"{}", headers=sendgrid_key.headers(b"{}")
            ),
            "sendgrid bad signature text": client.post(
                "/mail/webhooks/sendgrid",
                content=b"[]",
                headers={**sendgrid_key.headers(b"[]"), "X-Twilio-Email-Event-Webhook-Signature": "%%%"},
            ),
        }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "ses deep": 400,
        "ses array": 400,
        "ses no json inside": 200,
        "ses odd inside": 200,
        "mailgun signature text": 401,
        "mailgun odd event": 200,
        "postmark odd": 200,
        "postmark deep": 400,
        "sendgrid odd events": 200,
        "sendgrid object": 400,
        "sendgrid bad signature text": 401,
    }, {name: answer.text[:200] for name, answer in answers.items()}
    assert all(a.json()["outcomes"] == [] for a in answers.values() if a.status_code == 200), [
        a.text for a in answers.values() if a.status_code == 200
    ]


def test_a_complaint_by_the_generic_webhook_has_the_same_outcome(
    session: Session, sent: dict[str, OutgoingMail], client: TestClient
) -> None:
    from mail.routes import webhook_token

    bob = sent["bob@example.org"]
    answer = client.post(
        f"/mail/webhooks/complaint?token={webhook_token()}", json={"token": bob.token}, headers={"Accept": "*/*"}
    )
    assert answer.status_code == 200 and answer.json() == {"suppressed": "bob@example.org"}
    leaver = session.scalar(select(Enrollment).where(Enrollment.email == "bob@example.org"))
    assert leaver is not None and leaver.status == "unsubscribed"
    assert [e.mail_id for e in events(session, "complaint")] == [bob.id]
