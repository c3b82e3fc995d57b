"""HTML -> article title and text blocks."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.normalize.html_text import extract


def page(article: str, *, head: str = "", before: str = "", after: str = "") -> str:
    return f"<html><head>{head}</head><body>{before}{article}{after}</body></html>"


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def test_scripts_styles_and_page_furniture_are_dropped() -> None:
    html = page(
        "<article><p>نص الخبر.</p><script>var x = 1;</script><style>p {}</style></article>",
        head="<script>track()</script><style>body {}</style>",
        before="<header>الموقع</header><nav><a href='/'>الرئيسية</a></nav>",
        after="<aside>إعلان</aside><footer>جميع الحقوق محفوظة</footer>",
    )
    assert lines(extract(html).text) == ["نص الخبر."]


def test_boilerplate_by_class_id_role_and_hidden() -> None:
    html = page(
        "<article><p>نص الخبر.</p>"
        "<div class='share-buttons social'>شارك</div><div id='related'>أخبار ذات صلة</div>"
        "<div role='navigation'>قائمة</div><div class='cookie-banner'>ملفات تعريف</div>"
        "<p hidden>مخفي</p><p style='display: none'>مخفي</p><p aria-hidden='true'>مخفي</p></article>"
    )
    assert lines(extract(html).text) == ["نص الخبر."]


def test_blocks_become_lines_and_inline_markup_does_not_split() -> None:
    html = page(
        "<article><p>قال <b>الوزير</b> <a href='#'>اليوم</a>.</p><p>ثم<br>غادر.</p><p>x</p>tail</article>"
    )
    assert lines(extract(html).text) == ["قال الوزير اليوم.", "ثم", "غادر.", "x", "tail"]


def test_entities_are_decoded() -> None:
    assert lines(extract("<p>AT&amp;T&nbsp;&lt;b&gt; &#1605;&#x0631;</p>").text) == ["AT&T <b> مر"]


def test_whitespace_inside_blocks_is_collapsed_but_pre_kept() -> None:
    text = extract("<p>one\n   two</p><pre>a\n  b</pre>").text
    assert "one two" in text
    assert "a\n  b" in text


def test_largest_article_is_the_root() -> None:
    html = page("<article><p>قصير</p></article><article><p>هذا هو النص الأطول في الصفحة.</p></article>")
    assert lines(extract(html).text) == ["هذا هو النص الأطول في الصفحة."]


def test_article_body_and_main_are_roots_without_article() -> None:
    html = page("<div>خارج</div><div itemprop='articleBody'><p>داخل.</p></div>")
    assert lines(extract(html).text) == ["داخل."]
    html = page("<div>خارج</div><main><p>داخل.</p></main>")
    assert lines(extract(html).text) == ["داخل."]


def test_link_lists_are_dropped() -> None:
    html = page(
        "<article><p>نص.</p><ul><li><a>خبر 1</a></li><li><a>خبر 2</a></li></ul>"
        "<ul><li>نقطة أولى</li><li>نقطة ثانية</li></ul></article>"
    )
    assert lines(extract(html).text) == ["نص.", "نقطة أولى", "نقطة ثانية"]


def test_title_from_h1_then_og_title_then_title_tag() -> None:
    head = "<title>الموقع | عنوان</title><meta property='og:title' content='عنوان og'>"
    with_h1 = extract(page("<article><h1>عنوان  الخبر</h1><p>نص.</p></article>", head=head))
    assert with_h1.title == "عنوان الخبر"
    assert lines(with_h1.text) == ["نص."]  # the headline is not repeated in the body
    assert extract(page("<p>نص.</p>", head=head)).title == "عنوان og"
    assert extract(page("<p>نص.</p>", head="<title>عنوان</title>")).title == "عنوان"
    assert extract("<p>نص.</p>").title is None


def test_fragments_and_non_html_are_accepted() -> None:
    assert lines(extract("<p>one</p><p>two</p>").text) == ["one", "two"]
    assert lines(extract("plain text").text) == ["plain text"]
    assert lines(extract("").text) == []


_SOUP = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<div class='nav'>",
            "</div>",
            "<br>",
            "<article>",
            "<script>",
            "&amp;",
            "&#",
            "نص",
            "a",
            " ",
            "<",
            ">",
            "/",
            '"',
            "=",
        ]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=80, deadline=None)
@given(st.one_of(_SOUP, st.text(max_size=100)))
def test_never_raises_on_tag_soup(html: str) -> None:
    extract(html)


def test_without_semantic_markup_the_densest_text_block_is_the_root() -> None:
    prose = "هذه فقرة طويلة من نص الخبر تكفي لتعد نصا جاريا لا رابطا."
    html = page(
        "<div class='x1'><a href='/'>الرئيسية</a> <a href='/s'>سياسة</a> <a href='/e'>اقتصاد</a></div>"
        f"<div class='k9'><div class='p1'>{prose}</div><div class='p1'>{prose} ثانية</div></div>"
        "<div class='f0'>جميع الحقوق محفوظة 2018</div>"
    )
    assert lines(extract(html).text) == [prose, f"{prose} ثانية"]


def test_br_separated_body_is_its_own_root() -> None:
    prose = "هذه فقرة طويلة من نص الخبر تكفي لتعد نصا جاريا لا رابطا."
    html = page(
        f"<div class='menu2'><a>أ</a></div><div class='s'>{prose}<br><br>{prose} ثانية</div><div>قصير</div>"
    )
    assert lines(extract(html).text) == [prose, f"{prose} ثانية"]


def test_read_also_link_boxes_inside_the_body_are_dropped() -> None:
    html = page(
        "<article><p>الفقرة الأولى من الخبر.</p>"
        "<div class='q1'>اقرأ أيضا: <a href='/x'>عنوان خبر آخر طويل نسبيا هنا</a></div>"
        "<p>الفقرة الثانية فيها <a href='/y'>رابط</a> داخل النص.</p></article>"
    )
    assert lines(extract(html).text) == ["الفقرة الأولى من الخبر.", "الفقرة الثانية فيها رابط داخل النص."]


def test_pathologically_deep_pages_are_flattened_quickly() -> None:
    # HTML5 tree building costs elements x depth: 50,000 nested divs would take many seconds.
    html = "<div>" * 50_000 + "<p>نص &amp; الخبر</p>" + "</div>" * 50_000
    started = time.perf_counter()
    out = extract(html)
    assert time.perf_counter() - started < 1.0
    assert out.flattened
    assert lines(out.text) == ["نص & الخبر"]


def test_pages_with_too_many_tags_are_flattened() -> None:
    assert extract("<span>x</span>" * 60_000).flattened


def test_unclosed_paragraphs_and_list_items_do_not_count_as_depth() -> None:
    out = extract("<ul>" + "<li>بند" * 600 + "</ul>" + "<p>فقرة" * 600)
    assert not out.flattened
    assert len(lines(out.text)) == 1200


def test_site_logo_h1_outside_the_article_does_not_win_over_og_title() -> None:
    head = "<meta property='og:title' content='عنوان الخبر'>"
    html = page("<article><p>نص.</p></article>", head=head, before="<header><h1>اسم الموقع</h1></header>")
    assert extract(html).title == "عنوان الخبر"


def ld(document: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(document, ensure_ascii=False)}</script>'


ARTICLE_LD = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "أقر المجلس الميزانية",
    "articleBody": "أقر مجلس المدينة الميزانية الجديدة يوم الاثنين.\n\nوترفع الخطة الإنفاق على المدارس.",
}


def test_a_page_its_scripts_fill_in_gives_its_json_ld_article() -> None:
    html = page('<div id="root"></div>', head="<title>الموقع</title>" + ld(ARTICLE_LD), before="<nav>الرئيسية</nav>")
    got = extract(html)
    assert got.title == "أقر المجلس الميزانية" and not got.tab_title and got.from_json_ld
    assert lines(got.text) == ["أقر مجلس المدينة الميزانية الجديدة يوم الاثنين.", "وترفع الخطة الإنفاق على المدارس."]


def test_json_ld_in_a_graph_inside_the_body_with_html_in_its_body_is_found() -> None:
    document = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Site", "articleBody": "short"},  # the longest body wins
            {"@type": ["NewsArticle"], "headline": "A &amp; B", "articleBody": "<p>First &amp; one.</p><p>Second.</p>"},
        ],
    }
    got = extract(page(f"<article>{ld(document)}</article>", head="<meta property='og:title' content='Own'>"))
    assert lines(got.text) == ["First & one.", "Second."]
    assert got.title == "Own"  # the page's own headline is kept; JSON-LD's only fills a gap
    assert extract(page(f"<article>{ld(document)}</article>")).title == "A & B"


def test_visible_text_wins_over_json_ld_and_bad_json_ld_is_ignored() -> None:
    visible = page("<article><p>The visible text of the page.</p></article>", head=ld(ARTICLE_LD))
    assert lines(extract(visible).text) == ["The visible text of the page."]  # unchanged by the fallback
    assert not extract(visible).from_json_ld
    for bad in ('{"articleBody": [[[[', "[" * 50_000 + "]" * 50_000, '{"articleBody": 7}', '"text"', ""):
        got = extract(page("<div></div>", head=f'<script type="application/ld+json">{bad}</script>'))
        assert got.text.strip() == ""


def test_page_builder_classes_are_not_furniture() -> None:
    """Elementor wraps every block of a page, the article's text included, in
    ``elementor-widget-container``; Tailwind's ``overflow-hidden`` and Bootstrap's ``hidden-xs``
    are layout: none of them names furniture, and the article's text stays."""
    body = "<p>A powerful explosion ripped through a market in Kirkuk on Monday.</p><p>Police said 12 died.</p>"
    elementor = page(
        "<article class='post'><div class='elementor-widget elementor-widget-theme-post-content'>"
        f"<div class='elementor-widget-container'>{body}</div></div>"
        "<div class='elementor-widget elementor-widget-share-buttons'><div class='elementor-widget-container'>"
        "<div class='share-buttons'>Share</div></div></div></article>"
    )
    expected = ["A powerful explosion ripped through a market in Kirkuk on Monday.", "Police said 12 died."]
    assert lines(extract(elementor).text) == expected
    for wrapper in ("overflow-hidden", "hidden-xs col-md-8", "so-panel widget", "entry-content widget_text"):
        assert lines(extract(page(f"<article><div class='{wrapper}'>{body}</div></article>")).text) == expected


def test_hidden_and_screen_reader_classes_are_furniture_as_whole_names() -> None:
    html = page(
        "<article><p>نص الخبر.</p><span class='sr-only'>Skip to content</span>"
        "<div class='hidden'>مخفي</div><p class='visually-hidden'>مخفي</p>"
        "<aside class='widget-area'>Recent posts</aside></article>"
    )
    assert lines(extract(html).text) == ["نص الخبر."]


def test_an_inline_element_after_a_block_starts_a_new_line() -> None:
    """``<h2>What comes next</h2><a>The House</a> is ...``: the link's words are not glued to
    the heading's (``nextThe``), in any script."""
    html = page(
        "<article><p>The Senate passed the bill.</p><h2>What comes next</h2><a href='/h'>The House</a> will vote."
        "<ul><li>Broadband: 65 billion</li></ul><strong>Critics</strong> said it does too little."
        "<h2>التفاصيل</h2><strong>وقال</strong> الوزير إن الخطة ستبدأ</article>"
    )
    assert lines(extract(html).text) == [
        "The Senate passed the bill.", "What comes next", "The House will vote.", "Broadband: 65 billion",
        "Critics said it does too little.", "التفاصيل", "وقال الوزير إن الخطة ستبدأ",
    ]  # fmt: skip


def test_teaser_cards_are_not_the_story() -> None:
    """A story marked up in plain blocks, with "most read" cards as ``<article>`` elements in the
    footer or beside it: the story is the text, not the longest card."""
    story = "".join(f"<p>Paragraph {i}: the council voted on Monday to approve a budget for schools and roads.</p>" for i in range(6))
    cards = "".join(f"<article class='card'><h3><a href='/s{i}'>Other {i}</a></h3><p>Teaser for another story {i}.</p></article>" for i in range(3))
    for html in (
        page(f"<main><div class='story-body'><h1>Budget approved</h1>{story}</div></main><footer>{cards}</footer>"),
        page(f"<div class='story-body'><h1>Budget approved</h1>{story}</div><div class='more-stories'>{cards}</div>"),
    ):
        out = extract(html)
        assert out.title == "Budget approved"
        assert len(lines(out.text)) == 6 and all(line.startswith("Paragraph") for line in lines(out.text))
    # an article page with cards beside its article keeps its article
    one = page(f"<article><h1>Budget approved</h1>{story}</article><div>{cards}</div>")
    assert len(lines(extract(one).text)) == 6


def test_a_short_story_with_its_headline_beats_a_denser_about_box() -> None:
    """A two-sentence brief in an <article> with its <h1>, teaser cards as <article>s, and a long
    "about us" block: the brief is the text (an about box is dense, but headless)."""
    cards = "".join(f"<article class='teaser'><h3>Other {i}</h3><p>Teaser {i}.</p></article>" for i in range(4))
    about = "<div class='site-about'>" + "<p>Example News is an independent outlet founded in 1990. </p>" * 16 + "</div>"
    html = page(f"<article><h1>Bridge closed</h1><p>The bridge closed on Monday.</p><p>Repairs take a week.</p></article>"
                f"<div class='more-stories'>{cards}</div>{about}")  # fmt: skip
    out = extract(html)
    assert out.title == "Bridge closed" and lines(out.text) == ["The bridge closed on Monday.", "Repairs take a week."]


def test_the_furniture_walk_reads_each_node_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent of 20,000 children with a 300 KB class was read per child (minutes a page)."""
    import worker.normalize.html_text as html_text

    calls = 0
    real = html_text._is_boilerplate

    def counting(node: object) -> bool:
        nonlocal calls
        calls += 1
        return real(node)  # type: ignore[arg-type]

    monkeypatch.setattr(html_text, "_is_boilerplate", counting)
    html = page("<div class='" + "c " * 1000 + "'>" + "<p>x</p>" * 2000 + "</div><article>a</article><article>b</article>")
    extract(html)
    assert calls < 100


def test_a_block_beside_the_headline_is_not_the_story() -> None:
    """<main><h1>...</h1><article>brief</article> cards, an "about" box: the box is beside the
    headline (its parent holds it) but is not the story."""
    cards = "".join(f"<article class='teaser'><p>Teaser {i}.</p></article>" for i in range(4))
    about = "<div class='site-about'>" + "<p>Example News is an independent outlet founded in 1990. </p>" * 16 + "</div>"
    html = page(f"<main><h1>Bridge closed</h1><article><p>The bridge closed on Monday.</p></article>{cards}{about}</main>")
    assert lines(extract(html).text) == ["The bridge closed on Monday."]


def test_a_block_hidden_on_phones_only_is_the_story() -> None:
    """``d-none d-md-block`` (Bootstrap), ``hidden md:block`` (Tailwind): shown on desktops."""
    for classes in ("article-body hidden md:block", "article-body hidden-xs visible-md", "hidden d-md-block"):
        html = page(f"<article><div class='{classes}'><p>The council approved the budget.</p></div></article>")
        assert lines(extract(html).text) == ["The council approved the budget."], classes


def test_class_names_of_categories_states_and_generated_ids_are_not_furniture() -> None:
    """WordPress marks a post's wrapper with its category and tags (``category-comment``,
    ``tag-social-security``), themes a layout (``has-sidebar``, ``share-enabled``), and page
    builders and CSS modules generate ids (``elementor-element-3ad9f21``, ``body__3ad8F``) whose
    parts read as "comment", "social", "sidebar", "share" or "ad": every such page lost its
    whole body (dead-lettered as empty: a review's finding, scheme v15)."""
    body = "<h1>Rates rise</h1><p>The central bank raised its key rate by half a point on Thursday.</p>"
    for classes in (
        "post-881 post type-post status-publish category-economy tag-social-security",
        "post-882 post type-post category-comment",
        "entry-content clearfix share-enabled",
        "content-area has-sidebar",
        "elementor-element elementor-element-3ad9f21",
        "ArticleBody_body__3ad8F",
    ):
        html = page(f"<main id='main'><div class='{classes}'>{body}</div></main>")
        assert lines(extract(html).text) == ["The central bank raised its key rate by half a point on Thursday."], classes
    # furniture named with a number after the word still is: ad slots, numbered sidebars
    for classes in ("ad300x250", "ads2", "sidebar1", "post-tags", "social-share", "social-share-enabled",
                    "newsletter-signup-active", "related-posts-on", "comments-count", "author-related-posts"):
        html = page(f"<article><p>The story.</p><div class='{classes}'>Furniture</div></article>")
        assert lines(extract(html).text) == ["The story."], classes


def test_formatting_elements_left_open_before_many_blocks_are_not_parsed_into_a_huge_tree() -> None:
    """400 distinct ``<b>`` left open, then ``<p>x</p>`` a thousand times: the HTML5 parser
    re-opens the 400 in every paragraph (400,000 elements from 12 KB: seconds per 10 KB, a
    review's finding). Such a page is flattened (its text kept); a real page with links and
    bold words is parsed."""
    from worker.normalize.html_text import _reopened, _too_deep

    opens = "".join(f"<b id=b{i}>" for i in range(399))
    for tail in ("", "</b>" * 399):
        html = "</b>" * 1_000 + page("<article><p>" + opens + "Start of the story.</p>" + "<p>x</p>" * 1000 + tail + "</article>")
        assert _reopened(html) > 50_000 and _too_deep(html)
        assert extract(html).flattened
    real = page("<article>" + "<p>Text with <a href='/x'>a link</a> and <b>bold</b> and <I>more</I>.</p>" * 2000 + "</article>")
    assert _reopened(real) <= 2 * real.count("</") and not _too_deep(real)


def test_a_single_card_beside_a_story_in_plain_blocks_is_not_the_story() -> None:
    """The only ``<article>`` of a page is a "most read" card; the story (headed by the page's
    ``<h1>``, itself in a block of its own or not) is plain blocks: the story is the text, however
    short (v15; one card was the text of every page that showed it)."""
    card = ("<div class='most-read'><h2>Most read</h2><article class='card'><h3>Ten things to do this weekend</h3>"
            "<p>From open-air concerts to food markets, here is our pick of what is on in the city.</p></article></div>")  # fmt: skip
    lines_of_story = [
        "The city council voted 9-2 on Tuesday to build 40 km of protected bike lanes.",
        "Shop owners on the main avenue opposed the plan, which costs 18 million euros.",
    ]
    story = "".join(f"<p>{line}</p>" for line in lines_of_story)
    for head in ("<h1>Bike lanes approved</h1>", "<div class='head'><h1>Bike lanes approved</h1></div>"):
        html = page(f"<div class='wrap'>{head}<div class='story-body'>{story}</div>{card}</div>")
        assert lines(extract(html).text) == lines_of_story


def test_ruby_readings_are_dropped_and_a_figure_holding_a_table_is_kept() -> None:
    html = page(
        "<article><h1>地震</h1><p><ruby>東京<rp>(</rp><rt>とうきょう</rt><rp>)</rp></ruby>で地震がありました。</p>"
        "<figure class='wp-block-table'><table><tr><td>Arsenal</td><td>3</td></tr></table></figure>"
        "<figure><img src='a.jpg'><figcaption>A photo</figcaption></figure></article>"
    )
    assert lines(extract(html).text) == ["東京で地震がありました。", "Arsenal", "3"]


def test_a_live_blog_s_posts_are_all_the_text() -> None:
    """A live blog whose posts are each an ``<article>`` in one feed under the page's ``<h1>``:
    the text is every post, not the longest (v15: a re-crawl with a new, shorter post was an
    exact duplicate, the new post lost; a review's finding)."""
    posts = [
        "Polls have closed in the northern provinces and counting has begun, officials said.",
        "Breaking: the ruling party has won, the commission said.",
        "Turnout reached 61 percent by the afternoon, up from 55 percent four years ago.",
    ]
    feed = "".join(f"<article class='live-post'><p>{p}</p></article>" for p in posts)
    html = page(f"<main><h1>Live: election night</h1><div class='live-feed'>{feed}</div></main>")
    out = extract(html)
    assert out.title == "Live: election night" and lines(out.text) == posts


def test_a_story_article_beside_teaser_cards_in_one_wrapper_is_the_text_alone() -> None:
    """The live-blog rule (a block holding several articles is a feed) must not take a story's
    own <article> and the teaser cards beside it in one wrapper for a feed (a review of v15)."""
    story = "".join(f"<p>Paragraph {i} of the council vote story: members approved the new budget after a long "
                    "debate about schools and roads.</p>" for i in range(4))
    cards = "".join(f"<article class='teaser'><p>Teaser {i}: Police investigate a break-in at a downtown jewelry "
                    "store overnight, officials said.</p></article>" for i in range(5))
    for head in ("<h1>Council approves budget</h1>", "<h1 class='site-title'>Daily Gazette</h1>"):
        html = page(f"<main>{head}<div class='content'><article class='story'>{story}</article>{cards}</div></main>")
        assert [line[:11] for line in lines(extract(html).text)] == ["Paragraph 0", "Paragraph 1", "Paragraph 2", "Paragraph 3"]


@pytest.mark.parametrize(
    "names",
    ["article-body ad-free", "ad-free", "entry-content ad-free story"],
)
def test_a_story_wrapper_marked_ad_free_is_the_story(names: str) -> None:
    """A story's only wrapper marked ``ad-free`` was furniture ("ad"): the whole body went, and
    the article was dead-lettered as empty (a review's finding). Other furniture around or inside
    it still goes. (The first fix kept any furniture named with a word of text where the article
    would keep nothing without it, the largest such: a related box or the comments beside the
    story then were the article, and two stories sharing them exact duplicates: a review.)"""
    story = (
        "<p>The council voted on Monday to close the old bridge for repairs that take a week.</p>"
        "<p>Drivers are asked to use the ring road while the work is under way, officials said.</p>"
    )
    teasers = "".join(f"<p><a href='/t{i}'>Another story of the day, number {i}</a></p>" for i in range(6))
    for html in (
        page(f"<h1>Bridge closed</h1><div class='{names}'>{story}</div>"),
        page(f"<article><h1>Bridge closed</h1><div class='{names}'>{story}</div></article>"),
        page(f"<main><h1>Bridge closed</h1><div class='{names}'>{story}</div><div class='sidebar'>{teasers}</div></main>"),
        page(f"<article><h1>Bridge closed</h1><div class='{names}'>{story}"
             f"<div class='related-content'>{teasers}</div></div></article>"),
    ):
        out = extract(html)
        assert lines(out.text) == [
            "The council voted on Monday to close the old bridge for repairs that take a week.",
            "Drivers are asked to use the ring road while the work is under way, officials said.",
        ]


def test_furniture_beside_the_story_still_goes() -> None:
    """The guard above is for an element holding the story: a share box, an ad, related links or
    comments beside it still go, named with a content word or not, and even when the story is
    short (a review of the first fix: a paywall's ``subscription-content`` beside a one-line
    teaser was kept, and two teasers of different stories were duplicates)."""
    subscribe = "<p>" + "Subscribe now to read this article and every other one, for one euro a month. " * 4 + "</p>"
    for teaser in ("The council approved the budget on Monday.", "City won the derby two-one."):
        html = page(f"<article><h1>T</h1><p>{teaser}</p><div class='subscription-content'>{subscribe}</div></article>")
        assert lines(extract(html).text) == [teaser]
    teasers = "".join(f"<p><a href='/t{i}'>Another story of the day, number {i}</a> and more</p>" for i in range(6))
    story = "<p>The bridge closed on Monday.</p><p>Repairs take a week, officials said.</p>"
    for names in ("sidebar-content", "related-content", "newsletter-body"):
        html = page(f"<article><h1>Bridge</h1>{story}<section class='{names}'>{teasers}</section></article>")
        assert lines(extract(html).text) == ["The bridge closed on Monday.", "Repairs take a week, officials said."]
    # the story marked ad-free beside a bigger related box and comments: the story, not the box
    comments = "".join(f"<p>Reader {i} wrote a long comment about the budget and the bridge.</p>" for i in range(8))
    html = page(f"<main><h1>Bridge</h1><div class='article-body ad-free'>{story}</div>"
                f"<div class='related-content'>{teasers}</div><div class='comments-content'>{comments}</div></main>")
    assert lines(extract(html).text) == ["The bridge closed on Monday.", "Repairs take a week, officials said."]
    html = page(
        "<article><h1>Bridge closed</h1><div class='article-body'><p>The bridge closed on Monday.</p></div>"
        "<div class='ad-slot'>Advertisement: buy a car today at the best price in town</div>"
        "<div class='comments-body'>I drive over that bridge every day and it was fine.</div>"
        "<div class='share-story'>Share this story on your networks</div></article>"
    )
    assert lines(extract(html).text) == ["The bridge closed on Monday."]


def test_a_paragraph_that_cites_its_source_in_a_link_is_kept() -> None:
    """A paragraph mostly of link text was a menu's or a "read also" box's: a sentence citing its
    source in a long link was dropped (a review's finding). A label and a link still go."""
    html = page(
        "<article><h1>Cases rose</h1>"
        "<p>According to <a href='/r'>a report published by the World Health Organization on Monday</a>, cases rose.</p>"
        "<p>Read also: <a href='/y'>Minister resigns after a week of protests in the capital</a></p>"
        "<p>Hospitals in the north are at capacity, the report said on its second page.</p></article>"
    )
    assert lines(extract(html).text) == [
        "According to a report published by the World Health Organization on Monday, cases rose.",
        "Hospitals in the north are at capacity, the report said on its second page.",
    ]
    tags = "Tags: " + ", ".join(f"<a href='/tag/{i}'>topic number {i}</a>" for i in range(20))
    label = "Das könnte Sie auch interessieren: <a href='/x'>Minister tritt nach einer Woche der Proteste in der Hauptstadt zurück</a>"
    boxes = "".join(f"<p>{box}</p>" for box in (
        tags, label, tags + " and more",
        "Read more: <a href='/v'>Minister resigns after a week of protests in the capital</a> (video)",
        "<a href='/r'>Minister resigns after a week of protests in the capital</a> - Reuters",
        "اقرأ أيضا: <a href='/a'>استقالة الوزير بعد أسبوع من الاحتجاجات في العاصمة</a> - فيديو",
    ))
    html = page(f"<article><h1>T</h1><p>The story itself, long enough to be a paragraph.</p>{boxes}</article>")
    assert lines(extract(html).text) == ["The story itself, long enough to be a paragraph."]
