"""The web pages' rate limits; counted by the one database limiter, `server.floor.ratelimit`.

Logins reserve an attempt before the password is checked (`reserve()` inside `write_scope()`), so
parallel guesses cannot all pass the count; a right password `release()`s its reservation.
"""

from __future__ import annotations

from datetime import timedelta

from server.floor.ratelimit import Limit

LOGIN_PER_EMAIL = Limit("login-email", 5, timedelta(minutes=15))
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
