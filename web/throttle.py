"""The web pages' rate limits; counted by the one database limiter, `server.floor.ratelimit`.

Logins reserve an attempt before the password is checked (`reserve()` inside `write_scope()`), so
parallel guesses cannot all pass the count. A right password (`right_password()`) forgives only the
failures its own browser made before it (their ids kept in that browser's session under
`FAILURES_KEY`): the owner logging in never frees an attacker's guesses. Its own attempt is forgotten
too, unless someone else's attempts at the address are in the window: then it stays counted for
`RIGHT_PASSWORD_COUNTED_FOR`, so that in a burst of guesses it is one of the allowed checks and not a
slot handed to the next guess.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from server.floor import ratelimit
from server.floor.ratelimit import Limit

LOGIN_PER_EMAIL = Limit("login-email", 5, timedelta(minutes=15))
RIGHT_PASSWORD_COUNTED_FOR = timedelta(minutes=1)
FAILURES_KEY = "login-failures"  # this browser's failed logins' hit ids, for its right password to forgive
# Wider, for one client guessing many addresses (a shared NAT may hold several people).
LOGIN_PER_CLIENT = Limit("login-client", 30, timedelta(minutes=15))
RESET_PER_EMAIL = Limit("reset-email", 3, timedelta(hours=1))
# Against one client mailing reset links to many addresses (the mails would look like spam from us).
RESET_PER_CLIENT = Limit("reset-client", 10, timedelta(hours=1))
# A learner who lost their link asks for it again; a learner's page mails another place's link.
FIND_PER_EMAIL = Limit("find-group-email", 3, timedelta(hours=1))
LINK_PER_EMAIL = Limit("place-link-email", 5, timedelta(hours=1))
# Sign-ups from one client address (each one mails a confirmation link to the address it names).
SIGN_UP_PER_CLIENT = Limit("sign-up-client", 5, timedelta(hours=1))
# Login links mailed to an address (passwordless accounts), per address and per client.
LOGIN_MAIL_PER_EMAIL = Limit("login-mail-email", 3, timedelta(hours=1))
LOGIN_MAIL_PER_CLIENT = Limit("login-mail-client", 10, timedelta(hours=1))
# A sign-up's confirmation link mailed again, per address.
RESEND_PER_EMAIL = Limit("sign-up-resend-email", 3, timedelta(hours=1))


def right_password(
    session: Session, checks: Sequence[tuple[Limit, str]], reserved: Sequence[int], mine: object
) -> None:
    """Settle a login's reservation (`reserve(checks)` gave `reserved`, per-address check first) after
    the right password; `mine` is the session's list of this browser's failed hits (untrusted shape)."""
    limit, key = checks[0]
    own = [hit for hit in mine if isinstance(hit, int)] if isinstance(mine, list) else []
    ratelimit.forgive(session, limit, key, own)
    if ratelimit.count(session, limit, key) > 1:  # someone else's attempts besides this one
        ratelimit.hold(session, checks, reserved, RIGHT_PASSWORD_COUNTED_FOR)
    else:
        ratelimit.release(session, reserved)


def failed(session_data: MutableMapping[str, object], reserved: Sequence[int]) -> None:
    """Remember a failed attempt's per-address hit in this browser's session, for `right_password`."""
    earlier = session_data.get(FAILURES_KEY)
    mine = [hit for hit in earlier if isinstance(hit, int)] if isinstance(earlier, list) else []
    session_data[FAILURES_KEY] = [*mine, reserved[0]][-LOGIN_PER_EMAIL.attempts :]
