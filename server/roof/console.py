"""What `mechmooc serve` and its embedded worker and scheduler print: little, by default.

`info` (the default): one line per request (uvicorn's access log), one line per background job run
that did something ("sent 12 mails"), warnings and errors, and the ready block once the server
listens. `debug`: everything, Celery's line per task and tick and Alembic's per migration included.
`warning`: warnings and errors only (and the ready block, which says where the instance is).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# uvicorn's own format, so that the lines of the web app, the worker and the scheduler look alike.
FORMAT = "%(levelname)s:     %(message)s"
# Loggers that speak once per task, tick, connection or start-up step: quiet unless debug. uvicorn.error
# says "Started server process", "Waiting for application startup" ...; the ready block replaces them.
# aiosmtpd's "mail.log" says five lines per SMTP connection.
CHATTY = ("celery", "kombu", "alembic", "uvicorn.error", "uvicorn.asgi", "mail.log")
# Paths whose next segment is a key (a learner's page, confirmation, reset and login links, the mail
# links): a console or a log file is no place for them.
SECRET_PATH = re.compile(
    r"^(/(?:me|login/once|password/reset|signup/confirm|mail/c|mail/o|mail/unsubscribe(?:/all)?)/)[^/?]+"
)


def redact(path: str) -> str:
    """`path` with the key of a secret link replaced by "…" (`/me/…/group`)."""
    return SECRET_PATH.sub(r"\1…", path)


class HideKeys(logging.Filter):
    """Keeps the keys of secret links out of uvicorn's access log (its third argument is the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the path argument; never drops the line."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def number(level: str) -> int:
    """The logging module's number of `level` (debug, info, warning)."""
    return int(getattr(logging, level.upper()))


def quiet_level(level: str) -> int:
    """The level of the chatty loggers when the console is at `level`."""
    return logging.INFO if level == "debug" else max(logging.WARNING, number(level))


def quieten(level: str, names: Iterable[str] = CHATTY) -> None:
    """Set the chatty loggers for a console at `level` (call again after a library configured logging)."""
    for name in names:
        logging.getLogger(name).setLevel(quiet_level(level))


def configure(level: str) -> None:
    """Logging of the `serve` process: one format, the root at `level`, the chatty loggers quieter."""
    logging.basicConfig(level=number(level), format=FORMAT, force=True)
    quieten(level)


def access_log(level: str) -> bool:
    """Whether uvicorn prints a line per request (not at warning)."""
    return number(level) <= logging.INFO


def after_uvicorn_config(level: str) -> None:
    """What uvicorn.Config undid or lacks: the chatty loggers quiet again, keys out of the access log."""
    quieten(level)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, HideKeys) for existing in access.filters):
        access.addFilter(HideKeys())


def announce(lines: Iterable[str]) -> None:
    """Print the ready block at every log level: it says where the instance is and what to do next."""
    sys.stderr.write("".join(f"{line}\n" for line in lines))
    sys.stderr.flush()
