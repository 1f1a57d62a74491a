"""Our own secrets out of text that quotes our mails: magic links, unsubscribe, tracking and signup links, footers.

A member who answers a course mail quotes it, footer included: the link to their own page (the magic
link), their unsubscribe link, click-tracking links. Relayed or archived as written, anyone in the
group could act as them. So a group post is scrubbed when it is stored, again when it is relayed and
again when the archive shows it (posts from the fediverse, and posts stored before, included):
our footers go, a tracked link becomes the link it stood for, any other link carrying a secret of
this instance is removed, and so are `unsubscribe+…@` and `bounces+…@` addresses.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape, unescape
from urllib.parse import parse_qs, unquote, urlsplit

from mail.markup import clean_html
from server.floor.config import get_settings

# Every route of ours whose path carries a secret (a magic link, a mail's capability, a signed link).
SECRET_PATHS = ("/me/", "/mail/unsubscribe/", "/mail/c/", "/mail/o/", "/signup/confirm/", "/password/reset/")
CLICK_PATH = "/mail/c/"
# The labels of the footers we write (mail.render FOOTER_*, mail.lists relay_bodies).
FOOTER_LABELS = ("Your page", "Your group", "Unsubscribe", "Group archive")
REMOVED = "[link removed]"
_TRAILING = ".,;:!?"
_SIGNATURE = re.compile(r"^[>\s]*--\s*$")
_ANCHOR = re.compile(r"<a\b([^>]*)>(.*?)</a>", re.S | re.I)
_HREF = re.compile(r'\bhref="([^"]*)"', re.I)
_EMPTY_PARAGRAPH = re.compile(r"<p>(?:\s|·|\||&nbsp;|&middot;|<br>)*</p>", re.I)
_ANY_URL = re.compile(r"https?://[^\s<>\"']+", re.I)


@lru_cache(maxsize=8)
def _patterns(host: str, mail_domain: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(secret URLs, our footer lines, our unsubscribe/bounce addresses) for this instance."""
    ours = rf"(?<![\w.-])(?:https?://)?{re.escape(host)}"
    paths = "|".join(re.escape(path) for path in SECRET_PATHS)
    secret = re.compile(rf"{ours}(?:{paths})[^\s<>\"'\]\)]*", re.I)
    labels = "|".join(re.escape(label) for label in FOOTER_LABELS)
    pair = rf"(?:{labels})\s*:?\s*<?{ours}/[^\s<>\"']*>?"
    footer = re.compile(rf"^[>\s]*(?:{pair}[\s·|]*)+$", re.I)
    addresses = re.compile(rf"(?:mailto:)?(?:unsubscribe|bounces)\+[^\s@<>\"']*@{re.escape(mail_domain)}", re.I)
    return secret, footer, addresses


def _ours() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    settings = get_settings()
    return _patterns(settings.host.lower(), settings.mail_domain.lower())


def _wraps_secret(url: str) -> bool:
    """True when `url` carries one of our secret links inside it, encoded: mail filters rewrite the links
    of the mails they deliver (`…safelinks…/?url=http%3A%2F%2F…`), and replies quote them so."""
    decoded = unquote(unquote(unescape(url)))
    return _ours()[0].search(decoded) is not None


def is_secret_link(url: str) -> bool:
    """True when `url` is one of our links that carries a secret, or wraps one."""
    url = url.strip()
    parts = urlsplit(url if "://" in url else "//" + url)
    host = parts.netloc.rpartition("@")[2].lower()
    ours = host == get_settings().host.lower() and unquote(parts.path).lower().startswith(SECRET_PATHS)
    return ours or _wraps_secret(url)


def _click_target(url: str) -> str | None:
    """The link a click-tracking URL of ours stood for, if it is an ordinary web link."""
    if CLICK_PATH not in url:
        return None
    target = (parse_qs(urlsplit(url if "://" in url else "http://" + url).query).get("u") or [""])[0]
    if not target.lower().startswith(("http://", "https://")) or is_secret_link(target):
        return None
    return target


def _replace_links(text: str, html: bool) -> str:
    """Every secret link of ours in `text` replaced: a tracked one by its target, any other by REMOVED."""
    secret, _, addresses = _ours()

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        url = found.rstrip(_TRAILING)  # a full stop after a link is the sentence's
        target = _click_target(unescape(url) if html else url)
        kept = REMOVED if target is None else escape(target) if html else target
        return kept + found[len(url) :]

    def unwrap(match: re.Match[str]) -> str:
        return REMOVED if _wraps_secret(match.group(0)) else match.group(0)

    return addresses.sub(REMOVED, _ANY_URL.sub(unwrap, secret.sub(replace, text)))


def scrub_text(text: str) -> str:
    """Plain `text` without our footers, secret links and capability addresses (quoted or not)."""
    if not text:
        return text
    _, footer, _ = _ours()
    lines = text.split("\n")
    drop = [footer.match(line.rstrip("\r")) is not None for line in lines]
    for index, line in enumerate(lines[:-1]):
        # The "-- " line that opened one of our footers goes with it.
        if drop[index + 1] and _SIGNATURE.match(line):
            drop[index] = True
    return _replace_links("\n".join(line for line, dropped in zip(lines, drop, strict=True) if not dropped), False)


def scrub_html(html: str) -> str:
    """Clean `html` (the mail allowlist), then without our secret links: a tracked link points at its
    target, a link to a secret of ours goes with its text, and footers left empty go too."""
    if not html:
        return html

    def anchor(match: re.Match[str]) -> str:
        href = _HREF.search(match.group(1))
        if href is None or not is_secret_link(unescape(href.group(1))):
            return match.group(0)
        target = _click_target(unescape(href.group(1)))
        if target is None:
            return ""
        return match.group(0).replace(href.group(0), f'href="{escape(target)}"', 1)

    scrubbed = _replace_links(_ANCHOR.sub(anchor, clean_html(html)), True)
    return clean_html(_EMPTY_PARAGRAPH.sub("", scrubbed))
