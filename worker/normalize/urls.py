"""URL canonicalization for URL-level duplicate detection.

Two URLs that name the same article page must canonicalize to the same string; two that can
name different pages must not. Rules, in order:

- blank, scheme-less (``example.com/a``) or unparseable input gives ``None``; a
  scheme-relative ``//host/path`` is taken as ``https``;
- scheme and host are lower-cased and a trailing dot dropped; an internationalized host is
  encoded by IDNA 2008 with the UTS 46 mapping (so the Unicode and the ``xn--`` spelling agree),
  *not* by Python's ``"idna"`` codec, which is IDNA 2003: that one maps ``faß.de`` to ``fass.de``
  and deletes a zero-width non-joiner, merging hosts that DNS keeps apart (different sites). A
  non-ASCII host that IDNA 2008 rejects (a joiner outside the contexts that allow one, symbols,
  an over-long label) gives ``None``: no canonical URL is safer than one that could name another
  site, and the article is still matched by its text;
- the default port (80 for http, 443 for https) is dropped;
- the path is percent-encoded the same way whatever way it arrived (raw UTF-8 such as
  ``/فيلم.html`` or ``%D9%81...``): escapes upper-cased, unreserved characters decoded, other
  non-ASCII encoded; an empty path becomes ``/``;
- tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ... see ``TRACKING_PARAMS``) are
  dropped and the remaining query is sorted, so parameter order does not matter;
- the fragment is dropped (it never reaches the server), except a route of a single-page
  site, which names the content: a ``#!`` "hashbang" or a ``#/`` path (``/#/article/1001``;
  scheme v15: every article of such a site had the site's root as its URL).

A site's root (``https://example.com/``, no query, no route) is a canonical URL like any other,
but it names no article: feeds that send their home page for every item would make each
article a revision of the one before. `names_an_article` tells; the fingerprint's URL signal is
taken only from a URL that does.

The scheme is *not* unified (``http`` vs ``https``) and a trailing slash is kept: either can
name a different resource on some servers, and this key must never merge two different pages.
Never raises.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import idna

#: Query parameters that only say how a reader arrived, never which article it is.
TRACKING_PARAMS: Final = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "dclid",  # Google Display
        "gbraid",  # Google Ads (iOS)
        "wbraid",  # Google Ads (web-to-app)
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "igshid",  # Instagram share
        "mc_cid",  # Mailchimp campaign
        "mc_eid",  # Mailchimp subscriber
        "_ga",  # Google Analytics cross-domain
        "_gl",  # Google Analytics linker
        "twclid",  # Twitter/X Ads
        "ttclid",  # TikTok Ads
        "oly_enc_id",  # Omeda
        "oly_anon_id",  # Omeda
        "vero_id",  # Vero
        "_hsenc",  # HubSpot
        "_hsmi",  # HubSpot
    }
)
#: Prefixes of tracking parameter families (Google Analytics' ``utm_source`` etc.).
TRACKING_PREFIXES: Final = ("utm_",)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# RFC 3986 reserved characters stay as they are in a path; "%" stays so existing escapes
# are not double-encoded.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"
# Everything printable in ASCII stays as it is in a query ("%" included: existing escapes).
_QUERY_SAFE: Final = "".join(chr(c) for c in range(0x21, 0x7F))
_ESCAPE_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT_RE: Final = re.compile(r"%(?![0-9A-F]{2})")
#: A "%" that is not an upper-case escape of a byte >= 0x80. Escapes of that kind (every escape
#: of an encoded Arabic path) are already normal: upper case, and never an unreserved character.
_ESCAPE_TO_CHECK_RE: Final = re.compile(r"%(?![89A-F][0-9A-F])")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SCHEME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: URLs longer than this are not canonicalized (no real article URL is this long; it bounds
#: the work a hostile value can cause).
MAX_URL_CHARS: Final = 8192


def _normalize_escape(m: re.Match[str]) -> str:
    ch = chr(int(m.group(1), 16))
    return ch if ch in _UNRESERVED else "%" + m.group(1).upper()


def _normalize_path(path: str) -> str:
    had_escapes = "%" in path
    path = quote(path, safe=_PATH_SAFE, encoding="utf-8", errors="surrogatepass")
    # quote() itself writes upper-case escapes and never escapes unreserved characters, so only
    # escapes the URL arrived with need normalizing (an Arabic path is ~30 fresh escapes).
    if had_escapes and _ESCAPE_TO_CHECK_RE.search(path) is not None:
        path = _ESCAPE_RE.sub(_normalize_escape, path)
        # A "%" that starts no valid escape is itself encoded.
        path = _STRAY_PERCENT_RE.sub("%25", path)
    return path or "/"


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES)


#: What an ASCII host may hold: a name's letters, digits, hyphens, dots (and the underscores
#: some hosts have), or an IPv6 literal's hex digits and colons (with an IPv4 tail).
_ASCII_HOST_RE: Final = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+", re.ASCII)


def _host(hostname: str) -> str | None:
    host = hostname.rstrip(".").lower()
    if not host:
        return None
    if host.isascii():
        # Exactly what is sent to DNS and the server already (an ``xn--`` label included); a
        # host of other characters (``http://\x00/``: a NUL in the published canonical URL, a
        # review's finding) names no server.
        return host if _ASCII_HOST_RE.fullmatch(host) else None
    return _idna_host(host)


#: Distinct internationalized hosts remembered: a feed sees few, and the `idna` package is pure
#: Python (~30 µs a host).
_IDNA_CACHE_SIZE: Final = 4096


@lru_cache(maxsize=_IDNA_CACHE_SIZE)
def _idna_host(host: str) -> str | None:
    """The ASCII form of a non-ASCII host by IDNA 2008 + UTS 46 (non-transitional: ``ß``, ``ς``
    and the joiners are kept, as browsers and registries do now), or ``None`` if it is invalid."""
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


#: The shape of most article URLs: http(s), an ASCII host name, no user, port, query or fragment.
#: `canonicalize_url` gives these the result of its general path without `urlsplit` (pure Python,
#: ~8 µs): tests/unit/normalize/test_urls.py compares both on generated URLs.
_PLAIN_URL_RE: Final = re.compile(r"(https?)://([A-Za-z0-9.-]+)(/[^?#]*)?", re.IGNORECASE | re.ASCII)


def canonicalize_url(url: str | None) -> str | None:
    """The canonical form of an article URL, or ``None`` for None/blank/unparseable input."""
    if url is None:
        return None
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS or any(c in url for c in " \t\r\n"):
        return None
    plain = _PLAIN_URL_RE.fullmatch(url)
    if plain is not None:
        scheme, hostname, path = plain.groups()
        host = _host(hostname)
        return None if host is None else f"{scheme.lower()}://{host}{_normalize_path(path or '')}"
    return _canonical(url)


def names_an_article(canonical_url: str | None) -> bool:
    """Whether a canonical URL can name one article: not None, and not a site's root."""
    if canonical_url is None:
        return False
    _, sep, rest = canonical_url.partition("://")
    return bool(sep) and rest.find("/") not in (-1, len(rest) - 1)


def _canonical(url: str) -> str | None:
    """`canonicalize_url` of a stripped URL without spaces, by `urlsplit` (any shape)."""
    if url.startswith("//"):
        url = "https:" + url
    if not _SCHEME_RE.match(url):
        return None
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        hostname = parts.hostname
        port = parts.port
    except ValueError:  # bad port, bad IPv6 literal
        return None
    if not hostname:
        return None
    host = _host(hostname)
    if host is None:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    netloc = f"{userinfo}@{host}" if userinfo else host
    path = _normalize_path(parts.path)
    query = ""
    if parts.query:
        # Non-ASCII characters are percent-encoded as UTF-8 first; then every escape is read
        # and written back byte for byte (latin-1), so an escape that is not valid UTF-8 (%80)
        # survives unchanged instead of being replaced.
        raw_query = quote(parts.query, safe=_QUERY_SAFE, encoding="utf-8", errors="surrogatepass")
        pairs = [
            (k, v)
            for k, v in parse_qsl(raw_query, keep_blank_values=True, encoding="latin-1")
            if not _is_tracking(k)
        ]
        pairs.sort()
        query = urlencode(pairs, quote_via=quote, encoding="latin-1")
    fragment = parts.fragment if parts.fragment.startswith(("!", "/")) else ""
    return urlunsplit((scheme, netloc, path, query, fragment))
