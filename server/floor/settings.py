"""The one settings object: read once from the environment (and a `.env` file)."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

from dotenv import dotenv_values

from server.floor.errors import SettingsError
from server.floor.webhook_keys import basic_credentials, sendgrid_public_key, sns_topics

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
PREFIX = "MECHMOOC_"
KNOWN = {
    "URL",
    "DATA_DIR",
    "DATABASE_URL",
    "BROKER_URL",
    "SMTP_URL",
    "INBOUND_SMTP",
    "INSECURE_HTTP",
    "SECRET_KEY",
    "MAIL_FROM",
    "MAIL_DOMAIN",
    "TRACKING",
    "AUTHORIZED_FETCH",
    "MAIL_RATE",
    "DKIM_SELECTOR",
    "DKIM_KEY",
    "ANONYMISE_AFTER_DAYS",
    "SMTP_CONNECTIONS",
    "DELIVERY_GIVE_UP_DAYS",
    "MAIL_AUTHSERV_ID",
    "FETCH_DEADLINE",
    "MAIL_RETRY_HOURS",
    "TRUSTED_PROXIES",
    "MIN_FREE_DISK_MB",
    "WEBHOOK_MAILGUN_KEY",
    "WEBHOOK_POSTMARK_AUTH",
    "WEBHOOK_SENDGRID_KEY",
    "WEBHOOK_SES",
    "WEBHOOK_SES_CONFIRM",
    "LOG_LEVEL",
    "MAX_STATUS_CHARS",
    "PAGE_CACHE_SECONDS",
}
# Where `mechmooc serve` writes the URL it serves, so that other commands on the same data dir link to it.
INSTANCE_FILE = "instance.json"
LOG_LEVELS = ("debug", "info", "warning")


@dataclass(frozen=True)
class Settings:
    """Instance configuration; build it with `load_settings()`."""

    url: str
    data_dir: Path
    database_url: str
    broker_url: str | None = None
    smtp_url: str | None = None
    inbound_smtp: tuple[str, int] | None = None
    insecure_http: bool = False
    secret_key: str = ""
    mail_from: str = ""
    mail_domain: str = ""
    tracking: bool = True
    authorized_fetch: bool = False
    mail_rate: float = 0.0
    smtp_connections: int = 4
    dkim_selector: str | None = None
    dkim_key: str | None = None
    anonymise_after_days: int = 365
    delivery_give_up_days: int = 4
    # The authserv-ids of the MTA in front of our receiver whose Authentication-Results are believed.
    mail_authserv_ids: tuple[str, ...] = ()
    # Seconds one remote fetch or delivery may take in all (connect, headers and body): a server that
    # drips a byte at a time is cut off here, whatever the per-read timeouts allow.
    fetch_deadline: float = 15.0
    # How long a mail the SMTP server keeps refusing for now (4xx, or down) is tried again before it fails.
    mail_retry_hours: int = 48
    # Reverse proxies whose X-Forwarded-For/-Proto are believed; nobody's by default.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Below this many MB free in the data dir's disk `/healthz` says "degraded".
    min_free_disk_mb: int = 100
    # Bounce and complaint webhooks of mail providers (mail.webhooks), each off until its secret is set:
    # Mailgun's webhook signing key, Postmark's Basic auth user:password, SendGrid's verification key,
    # the SNS topics of SES notifications (and whether to confirm their subscriptions).
    webhook_mailgun_key: str | None = None
    webhook_postmark_auth: str | None = None
    webhook_sendgrid_key: str | None = None
    webhook_ses_topics: tuple[str, ...] = ()
    webhook_ses_confirm: bool = False
    # How much `mechmooc serve` and its worker print: debug, info (a line per request, job summaries), warning.
    log_level: str = "info"
    # The longest status a local person may post, counted as Mastodon counts (a URL is 23).
    max_status_chars: int = 500
    # How long a rendered public page may be answered to anonymous visitors when no change was seen
    # (web.page_cache; a write in any process on this data dir ends it at once); 0 turns it off.
    page_cache_seconds: int = 30
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The host[:port] part of the public URL (the WebFinger domain)."""
        return urlsplit(self.url).netloc

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded default database."""
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        """True when no external broker is configured (worker runs inside `serve`)."""
        return not self.broker_url

    def celery_broker(self) -> str:
        """The Celery broker URL, an embedded filesystem transport by default."""
        # A host name, though the files need none: without one kombu warns at every connection.
        return self.broker_url or "filesystem://localhost//"


def _bool(name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{PREFIX}{name} must be 1 or 0, not {value!r}")


def _int(name: str, value: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, not {number}")
    return number


def _check_url(name: str, value: str, schemes: set[str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = ", ".join(sorted(schemes))
        raise SettingsError(f"{PREFIX}{name} must be a {allowed} URL, not {value!r}")
    return value


def _hostport(name: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{PREFIX}{name} must be host:port, not {value!r}")
    return host, int(port)


def _networks(name: str, value: str) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR ranges separated by commas or spaces (`10.0.0.5, 172.28.0.0/16, ::1`)."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"{PREFIX}{name}: {item!r} is not an IP address or CIDR range (like 10.0.0.5 or 172.28.0.0/16)"
            ) from None
    return tuple(networks)


def _authserv_ids(value: str) -> tuple[str, ...]:
    """Host names separated by commas (the authserv-ids of Authentication-Results headers we believe)."""
    ids = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    if any(not part.replace(".", "").replace("-", "").replace("_", "").isalnum() for part in ids):
        raise SettingsError(f"{PREFIX}MAIL_AUTHSERV_ID must be host names separated by commas, not {value!r}")
    return ids


def read_environment(cwd: Path | None = None) -> dict[str, str]:
    """The MECHMOOC_* variables: `.env` in the working directory, overridden by the process env."""
    env_file = (cwd or Path.cwd()) / ".env"
    values: dict[str, str] = {}
    if env_file.is_file():
        values.update({k: v or "" for k, v in dotenv_values(env_file).items() if k.startswith(PREFIX)})
    values.update({k: v for k, v in os.environ.items() if k.startswith(PREFIX)})
    return values


def remembered_url(data_dir: Path) -> str | None:
    """The URL the last `mechmooc serve` on `data_dir` served (DATA_DIR/instance.json), or None."""
    path = data_dir / INSTANCE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path} cannot be read ({error}); delete it or set {PREFIX}URL") from None
    try:
        url = json.loads(text)["url"]
    except (ValueError, KeyError, TypeError):
        url = None
    if not isinstance(url, str) or not url:
        raise SettingsError(f"{path} is not what `mechmooc serve` writes; delete it or set {PREFIX}URL")
    return url


def remember_url(settings: Settings) -> None:
    """Write the URL `serve` serves to DATA_DIR/instance.json (atomically), for the other commands."""
    path = settings.data_dir / INSTANCE_FILE
    partial = path.with_name(f".{INSTANCE_FILE}.{os.getpid()}")
    partial.write_text(json.dumps({"url": settings.url}) + "\n", encoding="utf-8")
    os.replace(partial, path)


def load_settings(host: str | None = None, port: int | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise SettingsError naming the variable at fault.

    The URL is MECHMOOC_URL; else `http://HOST:PORT` when `serve` passes where it listens; else the
    URL the last `serve` on the data dir remembered; else http://127.0.0.1:8000.
    """
    raw = read_environment() if environ is None else dict(environ)
    unknown = sorted(k for k in raw if k[len(PREFIX) :] not in KNOWN)
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]} (known: {', '.join(sorted(PREFIX + k for k in KNOWN))})")

    def get(key: str, default: str = "") -> str:
        return raw.get(PREFIX + key) or default

    insecure = _bool("INSECURE_HTTP", get("INSECURE_HTTP", "0"))
    data_dir = Path(get("DATA_DIR") or "./var").expanduser().resolve()
    if get("URL"):
        url = get("URL")
    elif host is not None or port is not None:
        url = f"http://{host or '127.0.0.1'}:{port or 8000}"
    else:
        url = remembered_url(data_dir) or "http://127.0.0.1:8000"
    _check_url("URL", url, {"http", "https"})
    url = url.rstrip("/")
    if insecure and url.startswith("https://"):
        raise SettingsError(f"{PREFIX}INSECURE_HTTP=1 is for development only and is refused when {PREFIX}URL is https")
    if url.startswith("http://") and not insecure and not _is_local(url):
        raise SettingsError(f"{PREFIX}URL must be https:// in production (set {PREFIX}INSECURE_HTTP=1 for development)")

    database_url = get("DATABASE_URL") or f"sqlite:///{data_dir / 'mechmooc.sqlite3'}"
    if "://" not in database_url or database_url.split("://")[0].split("+")[0] not in {"sqlite", "postgresql"}:
        raise SettingsError(
            f"{PREFIX}DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL, not {database_url!r}"
        )
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    broker = get("BROKER_URL") or None
    if broker:
        _check_url(
            "BROKER_URL",
            broker,
            {"redis", "rediss", "amqp", "pyamqp", "memory", "filesystem", "sqla+sqlite"} | {"sqla+postgresql"},
        )
    smtp = get("SMTP_URL") or None
    if smtp:
        _check_url("SMTP_URL", smtp, {"smtp", "smtps"})
    inbound = _hostport("INBOUND_SMTP", get("INBOUND_SMTP")) if get("INBOUND_SMTP") else None

    host_only = urlsplit(url).hostname or "localhost"
    # An IP literal or bare "localhost" makes no valid list address; use a reserved name instead.
    mail_domain = get("MAIL_DOMAIN") or (
        host_only if "." in host_only and not host_only.replace(".", "").isdigit() else "mechmooc.localhost"
    )
    try:
        mail_rate = float(get("MAIL_RATE", "0") or 0)
    except ValueError:
        raise SettingsError(
            f"{PREFIX}MAIL_RATE must be a number of mails per second, not {get('MAIL_RATE')!r}"
        ) from None
    hooks = _webhooks(get)
    return Settings(
        url=url,
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker,
        smtp_url=smtp,
        inbound_smtp=inbound,
        insecure_http=insecure,
        secret_key=get("SECRET_KEY"),
        mail_from=get("MAIL_FROM") or f"noreply@{mail_domain}",
        mail_domain=mail_domain,
        tracking=_bool("TRACKING", get("TRACKING", "1")),
        authorized_fetch=_bool("AUTHORIZED_FETCH", get("AUTHORIZED_FETCH", "0")),
        mail_rate=mail_rate,
        smtp_connections=_int("SMTP_CONNECTIONS", get("SMTP_CONNECTIONS", "4"), minimum=1),
        dkim_selector=get("DKIM_SELECTOR") or None,
        dkim_key=get("DKIM_KEY") or None,
        anonymise_after_days=_int("ANONYMISE_AFTER_DAYS", get("ANONYMISE_AFTER_DAYS", "365")),
        delivery_give_up_days=_int("DELIVERY_GIVE_UP_DAYS", get("DELIVERY_GIVE_UP_DAYS", "4"), minimum=1),
        mail_authserv_ids=_authserv_ids(get("MAIL_AUTHSERV_ID")),
        mail_retry_hours=_int("MAIL_RETRY_HOURS", get("MAIL_RETRY_HOURS", "48"), minimum=1),
        fetch_deadline=_seconds("FETCH_DEADLINE", get("FETCH_DEADLINE", "15")),
        trusted_proxies=_networks("TRUSTED_PROXIES", get("TRUSTED_PROXIES")),
        min_free_disk_mb=_int("MIN_FREE_DISK_MB", get("MIN_FREE_DISK_MB", "100")),
        webhook_mailgun_key=hooks["webhook_mailgun_key"],
        webhook_postmark_auth=hooks["webhook_postmark_auth"],
        webhook_sendgrid_key=hooks["webhook_sendgrid_key"],
        webhook_ses_topics=hooks["webhook_ses_topics"],
        webhook_ses_confirm=hooks["webhook_ses_confirm"],
        log_level=_log_level(get("LOG_LEVEL", "info")),
        max_status_chars=_int("MAX_STATUS_CHARS", get("MAX_STATUS_CHARS", "500"), minimum=1),
        page_cache_seconds=_int("PAGE_CACHE_SECONDS", get("PAGE_CACHE_SECONDS", "30")),
    )


def _log_level(value: str) -> str:
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{PREFIX}LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return level


class _Webhooks(TypedDict):
    webhook_mailgun_key: str | None
    webhook_postmark_auth: str | None
    webhook_sendgrid_key: str | None
    webhook_ses_topics: tuple[str, ...]
    webhook_ses_confirm: bool


def _webhooks(get: Callable[..., str]) -> _Webhooks:
    """The provider webhooks' settings, each secret checked now (a wrong key is an error at start)."""
    sendgrid = get("WEBHOOK_SENDGRID_KEY") or None
    if sendgrid:
        sendgrid_public_key(sendgrid)
    topics = sns_topics(get("WEBHOOK_SES"))
    confirm = _bool("WEBHOOK_SES_CONFIRM", get("WEBHOOK_SES_CONFIRM", "0"))
    if confirm and not topics:
        raise SettingsError(f"{PREFIX}WEBHOOK_SES_CONFIRM=1 needs {PREFIX}WEBHOOK_SES (the topics to confirm)")
    postmark = get("WEBHOOK_POSTMARK_AUTH") or None
    return {
        "webhook_mailgun_key": get("WEBHOOK_MAILGUN_KEY").strip() or None,
        "webhook_postmark_auth": basic_credentials(postmark) if postmark else None,
        "webhook_sendgrid_key": sendgrid,
        "webhook_ses_topics": topics,
        "webhook_ses_confirm": confirm,
    }


def _seconds(name: str, value: str) -> float:
    """A positive number of seconds (at most an hour)."""
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number of seconds, not {value!r}") from None
    if not 0 < seconds <= 3600:
        raise SettingsError(f"{PREFIX}{name} must be more than 0 and at most 3600 seconds, not {value!r}")
    return seconds


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in {"localhost", "127.0.0.1", "::1"} or host.endswith(".localhost")
