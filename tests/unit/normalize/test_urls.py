"""URL canonicalization: one test per rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.normalize.urls import canonicalize_url, names_an_article


@pytest.mark.parametrize(
    "url", [None, "", "   ", "example.com/a", "mailto:a@b.com", "http://", "http://x.com:abc/"]
)
def test_blank_schemeless_or_unparseable_gives_none(url: str | None) -> None:
    assert canonicalize_url(url) is None


def test_scheme_and_host_are_lowercased() -> None:
    assert canonicalize_url("HTTPS://News.Example.COM/Path") == "https://news.example.com/Path"


def test_default_ports_are_dropped_other_ports_kept() -> None:
    assert canonicalize_url("http://example.com:80/a") == "http://example.com/a"
    assert canonicalize_url("https://example.com:443/a") == "https://example.com/a"
    assert canonicalize_url("https://example.com:8443/a") == "https://example.com:8443/a"


def test_tracking_parameters_are_dropped() -> None:
    url = "https://example.com/a?utm_source=tw&UTM_Medium=x&fbclid=1&gclid=2&msclkid=3&id=7"
    assert canonicalize_url(url) == "https://example.com/a?id=7"


def test_query_is_sorted() -> None:
    assert canonicalize_url("https://example.com/a?b=2&a=1&a=0") == "https://example.com/a?a=0&a=1&b=2"


def test_fragment_is_dropped_except_hashbang_routes() -> None:
    assert canonicalize_url("https://example.com/a#comments") == "https://example.com/a"
    assert canonicalize_url("https://example.com/#!/story/1") == "https://example.com/#!/story/1"
    # a single-page site's route names the article: every article was the site's root (v15)
    assert canonicalize_url("https://m.news.example/#/article/1001") == "https://m.news.example/#/article/1001"
    assert canonicalize_url("https://example.com/#top") == "https://example.com/"


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("https://example.com/", False),  # a site's root: what feeds send when they have nothing better
        ("https://example.com", False),
        ("https://example.com/#top", False),
        ("https://example.com/?p=123", True),
        ("https://example.com/#/article/1001", True),
        ("https://example.com/#!/story/1", True),
        ("https://example.com/news/", True),
        ("https://example.com/2024/05/story.html", True),
        (None, False),
    ],
)
def test_a_site_s_root_names_no_article(url: str | None, names: bool) -> None:
    assert names_an_article(canonicalize_url(url)) is names


def test_empty_path_becomes_slash() -> None:
    assert canonicalize_url("https://example.com") == "https://example.com/"


def test_arabic_path_raw_and_percent_encoded_agree() -> None:
    raw = canonicalize_url("https://www.example.net/ar/2018/02/12/فيلم-جديد.html")
    encoded = canonicalize_url(
        "https://www.example.net/ar/2018/02/12/%d9%81%d9%8a%d9%84%d9%85-%D8%AC%D8%AF%D9%8A%D8%AF.html"
    )
    assert raw == encoded
    assert raw is not None and raw.isascii()


def test_unreserved_escapes_are_decoded() -> None:
    assert canonicalize_url("https://example.com/%7euser/%41b") == "https://example.com/~user/Ab"


def test_idn_host_is_punycoded() -> None:
    assert canonicalize_url("https://موقع.مصر/x") == canonicalize_url("https://xn--4gbrim.xn--wgbh1c/x")


#: Golden canonical hosts (IDNA 2008 + UTS 46, non-transitional). These are keys in Redis: a
#: change here (a new `idna` release, another mapping) must bump the fingerprint scheme version.
GOLDEN_HOSTS = [
    ("https://faß.de/a", "https://xn--fa-hia.de/a"),  # IDNA 2003 made it fass.de, another site
    ("https://fass.de/a", "https://fass.de/a"),
    ("https://Bücher.DE/", "https://xn--bcher-kva.de/"),  # case mapped before encoding
    ("https://موقع.مصر/x", "https://xn--4gbrim.xn--wgbh1c/x"),
    ("https://xn--4gbrim.xn--wgbh1c/x", "https://xn--4gbrim.xn--wgbh1c/x"),
    ("https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
    ("https://нтвк.рф/", "https://xn--b1aqhu.xn--p1ai/"),
    ("https://ﬁnance.example/", "https://finance.example/"),  # compatibility ligature mapped
    ("https://example。com/", "https://example.com/"),  # ideographic full stop is a dot
    # a joiner between two joining Persian letters is meaningful and kept (another host) ...
    ("https://می\u200cخواهم.ir/", "https://xn--mgbn2ecje63gr19l.ir/"),
    ("https://میخواهم.ir/", "https://xn--mgbn2ecje63g.ir/"),
    # ... and anywhere else it is invalid: no canonical URL rather than example.com's
    ("https://ex\u200cample.com/", None),
    ("https://ex\u200dample.com/", None),
    ("https://i\u2764.ws/", None),  # symbols are not allowed by IDNA 2008
    ("https://ü" + "a" * 70 + ".de/", None),  # a label over 63 octets
]


@pytest.mark.parametrize(("url", "canonical"), GOLDEN_HOSTS)
def test_golden_hosts_by_idna_2008(url: str, canonical: str | None) -> None:
    assert canonicalize_url(url) == canonical


def test_invalid_host_never_collapses_onto_a_valid_one() -> None:
    assert canonicalize_url("https://ex\u200cample.com/a") != canonicalize_url("https://example.com/a")
    assert canonicalize_url("https://faß.de/") != canonicalize_url("https://fass.de/")


def test_scheme_relative_url_is_https() -> None:
    assert canonicalize_url("//cdn.example.com/a") == "https://cdn.example.com/a"


def test_scheme_and_trailing_slash_are_not_unified() -> None:
    assert canonicalize_url("http://example.com/a") != canonicalize_url("https://example.com/a")
    assert canonicalize_url("https://example.com/a/") != canonicalize_url("https://example.com/a")


@given(st.text(max_size=80))
def test_never_raises_and_is_idempotent(tail: str) -> None:
    for url in (tail, "https://example.com/" + tail, "http://Example.com:80/?" + tail):
        once = canonicalize_url(url)
        if once is not None:
            assert canonicalize_url(once) == once


_PATH_PIECES = ["%D9", "%84", "%d9", "%8a", "%2D", "%2d", "%41", "%7E", "%", "%8", "%ZZ", "a", "Z", "/", " ", "ف"]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PATH_PIECES), max_size=12).map("".join))
def test_path_escapes_skip_only_what_is_normal_already(path: str) -> None:
    from urllib.parse import quote

    from worker.normalize import urls

    quoted = quote(path, safe=urls._PATH_SAFE, encoding="utf-8", errors="surrogatepass")
    if "%" in path:
        quoted = urls._STRAY_PERCENT_RE.sub("%25", urls._ESCAPE_RE.sub(urls._normalize_escape, quoted))
    assert urls._normalize_path(path) == (quoted or "/")


_SCHEMES = ["http", "HTTP", "https", "hTTpS", "ftp", "httpx", "", "//"]
_HOST_PIECES = ["a", "Z", "0", ".", "-", "_", "K", "\u212a", "ß", "ü", "example", "com", "xn--", ":80", ":8080", "@", "[", "]"]  # fmt: skip
_URL_PATH_PIECES = [*_PATH_PIECES, "?", "#", "#!", "=", "&", "@", ":", "\\", "\x00", "\x7f", "\ud800", "é", "新", "\U0001f600", ""]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from(_SCHEMES),
    st.lists(st.sampled_from(_HOST_PIECES), max_size=6).map("".join),
    st.lists(st.sampled_from(_URL_PATH_PIECES), max_size=12).map("".join),
)
def test_the_plain_url_shortcut_gives_what_the_general_path_gives(scheme: str, host: str, path: str) -> None:
    from worker.normalize import urls

    url = (scheme if scheme in ("", "//") else scheme + "://") + host + ("/" + path if path else "")
    stripped = url.strip()
    expected = urls._canonical(stripped) if stripped and not any(c in stripped for c in " \t\r\n") else None
    assert canonicalize_url(url) == expected, url


def test_the_plain_url_shortcut_takes_the_common_shape_only() -> None:
    from worker.normalize import urls

    for url in ("http://www.alarabiya.net/ar/2012/10/11/فيلم-بن-لادن.html", "HTTPS://Example.COM.", "https://a.b/%d9%81?"[:-1]):
        assert urls._PLAIN_URL_RE.fullmatch(url), url
    for url in ("http://a.b/?q=1", "http://a.b/#x", "http://a.b:80/", "http://u@a.b/", "http://[::1]/", "http://\u212a.b/", "ftp://a.b/"):
        assert not urls._PLAIN_URL_RE.fullmatch(url), url



@pytest.mark.parametrize("url", ["http://\x00/", "http://a\x00b.com/x", "http://exa<mple.com/", "https://a%b.com/"])
def test_a_host_of_characters_no_host_name_holds_gives_no_canonical_url(url: str) -> None:
    """``http://\\x00/`` was published as the canonical URL, NUL and all (a review's finding)."""
    assert canonicalize_url(url) is None


@pytest.mark.parametrize(
    ("url", "canonical"),
    [("http://[::1]:8080/a", "http://[::1]:8080/a"), ("https://my_host.Example.com/a", "https://my_host.example.com/a")],
)
def test_ip_literals_and_underscored_hosts_stay(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical
