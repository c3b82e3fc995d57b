"""HTML page or fragment -> article title and text blocks, with selectolax's lexbor parser.

What it guarantees: scripts, styles, templates, forms, navigation, headers, footers, asides,
figures and elements whose role, class or id names boilerplate (menus, share bars, related
links, cookie banners, comments, ads, ...) are gone; entities are decoded (the parser does it);
each block element (``p``, headings, list items, ``div``, ``br``, table cells, ...) starts a new
line, while inline markup (``<a>``, ``<b>``, ``<span>``) never splits a sentence; whitespace
inside a block is collapsed (HTML whitespace is not significant), except inside ``<pre>``.

The article is the ``<article>`` (the one with most text when there are several), else the
``itemprop=articleBody`` element, else ``<main>``/``role=main``, else the densest block of
running text. The title is the article's ``<h1>``, else ``og:title``, else the page's first
``<h1>``, else ``<title>`` (marked: the normalizer prefers the body's first line when it is a
headline, as for text); the headline is not repeated in the body. Pages nested deeper than
``MAX_DEPTH`` or holding more than ``MAX_TAGS`` tags are flattened to their text instead of
parsed (HTML5 tree building is superlinear in depth). A page whose visible text is empty (one
its scripts fill in) gives the ``articleBody`` of its schema.org JSON-LD, when it has one, and
its ``headline`` when the page names none of its own.

Why selectolax and not trafilatura: trafilatura is the accuracy leader of published
benchmarks, but on pages of the shape this worker sees it costs ~25x more per page and brings
six dependencies (``docs/NORMALIZATION.md`` has the numbers). Never raises on any ``str``.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from itertools import accumulate
from operator import sub
from typing import Final

import msgspec
from selectolax.lexbor import LexborHTMLParser, LexborNode

#: Elements whose whole subtree is never article text. ``rt`` and ``rp`` are ruby annotations (the
#: readings over Japanese kanji, furigana): read inline they doubled words (``東京とうきょう``) and
#: hid copies (scheme v15). A ``figure`` that holds a table is the story's table (WordPress'
#: ``wp-block-table``), not an illustration: `_extract` keeps it.
DROP_TAGS: Final = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "form", "button", "select", "input", "textarea", "nav", "header", "footer", "aside",
    "figure", "menu", "dialog", "head", "rt", "rp",
)  # fmt: skip
#: ARIA roles of page furniture.
DROP_ROLES: Final = (
    "navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar",
    "dialog", "alert",
)  # fmt: skip
#: class/id tokens of page furniture: a token (split at non-letters) equal to one of these.
#: Not "widget" or "hidden": page builders wrap every block of a page, the article's text
#: included, in classes made of them (Elementor's ``elementor-widget-container``, SiteOrigin's
#: ``widget``, Tailwind's ``overflow-hidden``, Bootstrap's ``hidden-xs``), so they name no
#: furniture as a part of a class (scheme v14); as whole class names, `BOILERPLATE_CLASSES`.
BOILERPLATE_TOKENS: Final = frozenset(
    {
        "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "footer",
        "header", "masthead", "sidebar", "share", "sharing", "social", "related", "recommended",
        "comments", "comment", "cookie", "cookies", "consent", "advert", "advertisement", "ads",
        "ad", "sponsored", "promo", "newsletter", "subscribe", "subscription", "popup", "modal",
        "tags", "taglist", "outbrain", "taboola", "print", "skip", "toolbar", "pagination",
        "pager", "copyright", "disclaimer",
    }
)  # fmt: skip
#: Whole class names (or ids) of furniture: text hidden from sight, a sidebar's widget area.
BOILERPLATE_CLASSES: Final = frozenset(
    {
        "hidden", "sr-only", "visually-hidden", "visuallyhidden", "screen-reader-text",
        "screen-reader-only", "is-hidden", "u-hidden", "widget-area", "byline-share",
    }
)  # fmt: skip
#: A class that shows an element at some screen width (Tailwind's ``md:block``, Bootstrap's
#: ``d-md-block``, ``visible-lg``): beside ``hidden`` it is a layout for desktops, not a hiding.
_RESPONSIVE_SHOW_RE: Final = re.compile(
    r"(?:^|\s)(?:[a-z0-9]+:(?!hidden\b)\S|d-(?:sm|md|lg|xl|xxl)-(?!none)|visible-)"
)
#: Elements that start a new line of text.
BLOCK_TAGS: Final = frozenset(
    {
        "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6",
        "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "tr", "td", "th",
        "caption", "br", "hr", "address", "figcaption", "details", "summary", "center",
        "body", "html",
    }
)  # fmt: skip
#: The parts of a (lowered) class name: its runs of letters and digits.
_PART_SPLIT_RE: Final = re.compile(r"[^a-z0-9]+")
#: A part that is a word with a number after it (``ad300x250``, ``ads2``, ``sidebar1``): the word
#: counts. A part that begins with a digit or mixes letters in after its digits is a generated
#: id (``3ad9f21``, ``ad8f3c``), no word.
_NUMBERED_WORD_RE: Final = re.compile(r"(?<![a-z])([a-z]+)[0-9][0-9x]*")
#: A class name that starts with one of these says what the element is *about* or what state it
#: is in, not what it is: WordPress marks a post's wrapper with its category, tags, type and
#: format (``category-comment``, ``tag-social-security``), themes mark a page's layout
#: (``has-sidebar``), and none of them is furniture (scheme v15).
_STATE_PREFIXES: Final = frozenset({"category", "tag", "type", "status", "format", "has"})
#: ... and a two-part name that says a feature is on or off for the element (``share-enabled`` on
#: a post's wrapper; scheme v17: ``ad-free``, a story's only wrapper, ``article-body ad-free``,
#: whose whole text went and was dead-lettered as empty: a review's finding). Longer names keep
#: their furniture word (``social-share-enabled``), and so do other states
#: (``newsletter-signup-active``, ``comments-count``): a review of v15's first version found
#: those in the text.
_STATE_SUFFIXES: Final = frozenset({"enabled", "disabled", "free"})
_WS_RE: Final = re.compile(r"\s+")
#: A block whose text is mostly link text is a menu, a list of related links or a "read also"
#: box.
MAX_LINK_DENSITY: Final = 0.6
_DENSITY_TAGS: Final = frozenset({"ul", "ol", "div", "section", "table", "p"})
#: Text shorter than this (in one block, not counting its children) is a label, not prose.
MIN_BLOCK_CHARS: Final = 25
#: Sentence ends a paragraph that goes on after its last link ends with (`_goes_on_after_its_links`).
_SENTENCE_ENDS: Final = tuple(".!?؟。！？।")


#: Deepest element nesting parsed as a tree. HTML5 tree building costs O(elements x depth), so
#: 200,000 nested ``<div>`` (a 1 MB message) would take over a minute; real pages nest < 100.
#: Deeper documents are flattened instead (tags dropped, text kept).
MAX_DEPTH: Final = 400
#: More tags than this are not a news page (real pages hold < 10,000); walking them in Python
#: would cost seconds, so such documents are flattened too.
MAX_TAGS: Final = 50_000
_TAG_RE: Final = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,15})[^<>]*?(/?)>")
#: Elements that never contain others, or whose end the parser implies when a sibling starts
#: (``<p>``, ``<li>``...): they do not deepen the tree however many are left open.
_NON_NESTING: Final = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option",
        "optgroup", "rb", "rt", "rp", "thead", "tbody", "tfoot", "colgroup", "caption",
        "html", "head", "body",
    }
)  # fmt: skip
ANY_TAG_RE: Final = re.compile(r"<[^<>]*>")


@dataclass(frozen=True, slots=True)
class ExtractedHtml:
    """What the page holds for the normalizer."""

    title: str | None
    #: Text with one block per line (lines may be blank); not yet cleaned.
    text: str
    #: True when the page nested too deeply to parse and was reduced to its tag-free text.
    flattened: bool = False
    #: True when `title` is only the page's ``<title>`` (a browser tab's text: often the site's
    #: name, or the headline with it), the page naming no headline of its own.
    tab_title: bool = False
    #: True when the page showed no text and `text` is its JSON-LD ``articleBody``.
    from_json_ld: bool = False


def _too_deep(html: str) -> bool:
    """Whether the page is too big a tree: more than ``MAX_TAGS`` tags, formatting elements
    the parser would re-open past ``MAX_TAGS`` times (`_reopened`), or nesting that may exceed
    ``MAX_DEPTH`` (an estimate on the raw tags)."""
    tags = html.count("<")
    if tags > MAX_TAGS:
        return True
    if _reopened(html) > MAX_TAGS:
        return True
    if tags - html.count("</") <= MAX_DEPTH:
        return False  # fewer opening tags than the limit: cannot nest deeper
    depth = 0
    for m in _TAG_RE.finditer(html):
        name = m.group(2).lower()
        if name in _NON_NESTING or m.group(3):
            continue
        if m.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            if depth > MAX_DEPTH:
                return True
    return False


#: Formatting elements: left open, the HTML5 parser re-opens them in every block that follows
#: ("reconstruct the active formatting elements").
_FORMATTING_TAGS: Final = (
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
)  # fmt: skip
#: Their opening and closing tags (case spelled out and first letters looked ahead: ~2x faster
#: than IGNORECASE, ~1 ms for 90 KB of HTML).
_FORMATTING_TAG_RE: Final = re.compile(
    "<(/?)(?=[{}])(?:{})[\\s/>]".format(
        "".join(sorted({c for name in _FORMATTING_TAGS for c in (name[0], name[0].upper())})),
        "|".join("".join(f"[{c}{c.upper()}]" for c in name) for name in _FORMATTING_TAGS),
    )
)
_STEP: Final = {"": 1, "/": -1}


def _reopened(html: str) -> int:
    """An upper bound of the elements the parser makes by re-opening formatting elements left
    open: at most as many as are open at once, each time an element closes. 400 distinct
    ``<b>`` left open before 1,000 ``<p>x</p>`` are 400,000 elements from 12 KB (seconds per 10
    KB, found by an adversarial review: scheme v15); a real page has a few open at once. The
    most open at once is the largest rise of the running count of opening less closing tags
    over any stretch (a stray closing tag closes nothing), counted without a Python loop."""
    steps = list(accumulate(map(_STEP.__getitem__, _FORMATTING_TAG_RE.findall(html))))
    if not steps:
        return 0
    lowest = accumulate(steps, min, initial=0)
    most_open: int = max(map(sub, steps, lowest))
    return most_open * html.count("</")


def _flatten(html: str) -> str:
    text = ANY_TAG_RE.sub(" ", html)
    return html_lib.unescape(text)


def _is_boilerplate(node: LexborNode) -> bool:
    attrs = node.attributes
    role = attrs.get("role")
    if role and role.strip().lower() in DROP_ROLES:
        return True
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    style = (attrs.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    if not names.strip():
        return False
    if _furniture_named(names):
        return True
    return not BOILERPLATE_CLASSES.isdisjoint(names.split()) and _RESPONSIVE_SHOW_RE.search(names) is None


def _furniture_named(names: str) -> bool:
    """Does a class or id name furniture (a part equal to one of `BOILERPLATE_TOKENS`)? Parts
    with a digit are generated ids, not words (Elementor's ``elementor-element-3ad9f21``, CSS
    modules' ``body__3ad8F``), and a name with a state prefix (`_STATE_PREFIXES`) or a state
    suffix (``share-enabled``) names none (scheme v15: both hid whole articles)."""
    for name in names.split():
        parts = [part for part in _PART_SPLIT_RE.split(name) if part]
        if not parts or parts[0] in _STATE_PREFIXES or (len(parts) == 2 and parts[1] in _STATE_SUFFIXES):
            continue
        for part in parts:
            if not part.isalpha():
                numbered = _NUMBERED_WORD_RE.fullmatch(part)
                if numbered is None:
                    continue
                part = numbered.group(1)
            if part in BOILERPLATE_TOKENS:
                return True
    return False


def _text_len(node: LexborNode) -> int:
    return len((node.text(deep=True) or "").strip())


def _link_dense_blocks(root: LexborNode) -> list[LexborNode]:
    """Blocks (lists, divs, sections, tables, paragraphs) whose text is mostly link text.

    Text and link-text lengths are summed bottom-up in one walk (children before parents,
    by reversing document order), so the cost is linear even on pathologically deep trees;
    measuring each block's subtree separately would be quadratic in the nesting depth.
    """
    order: list[LexborNode] = []
    parent_of: dict[int, int] = {}
    text_len: dict[int, int] = {}
    for node in root.traverse(include_text=True):
        parent = node.parent
        if node.tag == "-text":
            if parent is not None:
                key = parent.mem_id
                text_len[key] = text_len.get(key, 0) + len((node.text_content or "").strip())
            continue
        order.append(node)
        if parent is not None and node.mem_id != root.mem_id:
            parent_of[node.mem_id] = parent.mem_id
    link_len: dict[int, int] = {}
    for node in reversed(order):
        key = node.mem_id
        total = text_len.get(key, 0)
        links = total if node.tag == "a" else link_len.get(key, 0)
        link_len[key] = links
        up = parent_of.get(key)
        if up is not None:
            text_len[up] = text_len.get(up, 0) + total
            link_len[up] = link_len.get(up, 0) + links
    dense = []
    for node in order:
        key = node.mem_id
        total = text_len.get(key, 0)
        if (
            node.tag in _DENSITY_TAGS
            and key != root.mem_id
            and total > 0
            and link_len.get(key, 0) / total > MAX_LINK_DENSITY
            and (node.tag != "p" or not _goes_on_after_its_links(node))
        ):
            dense.append(node)
    return dense


def _goes_on_after_its_links(paragraph: LexborNode) -> bool:
    """Whether a paragraph's sentence goes on after its last link: two words or more after it, and
    the paragraph ends a sentence (scheme v17). A sentence that cites its source in a long link
    (``According to <a>a report by the WHO on Monday</a>, cases rose.``) was dropped as a link
    box (a review's finding); a label and its links (``Read also: <a>...</a>``, ``Tags: <a>a</a>,
    <a>b</a>``), a link and its source or medium (``<a>...</a> - Reuters``, ``(video)``) are not
    sentences (a review of the first version, which kept every paragraph with a letter after its
    last link)."""
    linked: set[int] = set()
    for link in paragraph.css("a"):
        linked.update(node.mem_id for node in link.traverse(include_text=True))
    after: list[str] = []
    for node in paragraph.traverse(include_text=True):
        if node.tag == "a":
            after.clear()
        elif node.tag == "-text" and node.mem_id not in linked:
            after.append(node.text_content or "")
    words = [word for word in " ".join(after).split() if any(ch.isalpha() for ch in word)]
    if len(words) < 2:
        return False
    text = (paragraph.text(deep=True) or "").rstrip().rstrip("\"'”’»)]")
    return text.endswith(_SENTENCE_ENDS)


def _densest_block(body: LexborNode) -> LexborNode:
    """The block holding most running text, for pages without semantic markup.

    Readability's idea, reduced: every text block's own text (not its descendants') counts
    for the block itself, a little less for its parent, and half for its grandparent; short
    bits (links, labels, buttons) do not count. A body of several ``<p>`` children is won by
    their parent, a ``<br>``-separated body by itself.
    """
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}

    def credit(node: LexborNode | None, amount: float) -> None:
        if node is None:
            return
        key = node.mem_id
        nodes[key] = node
        scores[key] = scores.get(key, 0.0) + amount

    for node in body.css("p,div,td,pre,blockquote,section"):
        own = len((node.text(deep=False) or "").strip())
        if own < MIN_BLOCK_CHARS:
            continue
        credit(node, own)
        parent = node.parent
        credit(parent, own * 0.99)
        if parent is not None:
            credit(parent.parent, own / 2)
    best: LexborNode = body
    best_score = 0.0
    for key, score in scores.items():
        if score > best_score:
            best, best_score = nodes[key], score
    return best


def _inside_furniture(root: LexborNode) -> set[int]:
    """The nodes under `root` inside page furniture (a footer, an aside, a block classed
    "related"...), by `mem_id`: one walk in document order (parents first), each node's own
    attributes read once (as a parent: a parent of 20,000 children with a long class was read
    per child, minutes for a page)."""
    inside: set[int] = set()
    furniture: dict[int, bool] = {}
    root_id = root.mem_id
    for node in root.traverse():
        parent = node.parent
        key = node.mem_id
        if parent is None or key == root_id:
            continue
        up = parent.mem_id
        if up in inside:
            inside.add(key)
            continue
        if up == root_id:
            continue
        is_furniture = furniture.get(up)
        if is_furniture is None:
            is_furniture = furniture[up] = parent.tag in DROP_TAGS or _is_boilerplate(parent)
        if is_furniture:
            inside.add(key)
    return inside


#: An ``<article>`` with less than this share of the text of the page's densest block outside
#: every ``<article>`` is a card (a teaser of another story) beside a story marked up without one.
_CARD_SHARE: Final = 1 / 3
#: A block of three articles or more is a feed (a live blog's posts) when its longest holds under
#: this share of their text; a story's own article beside teaser cards holds more (about half
#: beside five cards).
_FEED_SHARE: Final = 0.4


def _is_inside(node: LexborNode, block: LexborNode) -> bool:
    """Is `block` one of `node`'s ancestors?"""
    return any(a.mem_id == block.mem_id for a in _ancestors(node))


def _ancestors(node: LexborNode) -> list[LexborNode]:
    out = []
    parent = node.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _card_share(
    block: LexborNode, article: LexborNode, articles: list[LexborNode], body: LexborNode
) -> float:
    """Below what share of `block`'s text `article` is a card beside it, by where the page's
    first ``<h1>`` is: inside `block`, `_CARD_SHARE`; before it with no article between them
    (nor around the headline), any share less than the block's. The headline then heads the
    block, and the articles are cards in a box of their own ("most read"; scheme v15: a short
    story kept its card's text), or, inside the block, a feed: three or more, the longest under
    `_FEED_SHARE` of their text (a live blog's posts, each an ``<article>``: the longest post
    was the text, so a re-crawl with a new, shorter post was an exact duplicate). One card in
    its box is no story, nor are the teaser cards beside a story's own article. Elsewhere, none
    (0). Beside both is not enough: a story's ``<main>`` holds its headline, its ``<article>``
    and a site's "about" box, in that order."""
    h1 = body.css_first("h1")
    if h1 is None:
        return 0.0
    if _is_inside(h1, block):
        return _CARD_SHARE
    if any(a.tag == "article" for a in _ancestors(h1)):
        return 0.0
    if _is_inside(article, block):
        posts = [other for other in articles if _is_inside(other, block)]
        if len(posts) < 3 or _text_len(article) >= _FEED_SHARE * sum(map(_text_len, posts)):
            return 0.0
    order = {node.mem_id: i for i, node in enumerate(body.traverse())}
    start, end = order[h1.mem_id], order[block.mem_id]
    if start > end or any(start < order[a.mem_id] < end for a in articles):
        return 0.0
    return 1.0


def _pick_root(tree: LexborHTMLParser) -> LexborNode | None:
    articles = tree.css("article")
    body = tree.body
    furniture = _inside_furniture(body) if articles and body is not None else set()
    articles = [a for a in articles if a.mem_id not in furniture]  # cards in a footer are no story
    if articles:
        best = max(articles, key=_text_len)
        if body is None:
            return best
        # Teaser cards ("most read", "more stories") may be the only articles, the story being
        # in plain blocks (one card alone too: scheme v15). The densest block wins if it lies
        # in no article, and holds the page's headline (its first <h1>) while the best article
        # is a fraction of it, or has the headline beside it while the article sits in a box
        # of its own (`_card_share`): an "about us" box or an author's bio beside a short story
        # is dense too, but headless.
        if best.css_first("h1") is not None:
            return best
        densest = _densest_block(body)
        if (
            densest.tag not in ("body", "html")
            and densest.mem_id not in furniture
            and not any(a.tag == "article" for a in _ancestors(densest))
            and _text_len(best) < _card_share(densest, best, articles, body) * _text_len(densest)
        ):
            return densest
        return best
    for selector in ('[itemprop="articleBody"]', "main", '[role="main"]'):
        node = tree.css_first(selector)
        if node is not None:
            return node
    return _densest_block(body) if body is not None else None


def _clean(text: str | None) -> str:
    return _WS_RE.sub(" ", text or "").strip()


def _title(tree: LexborHTMLParser, root: LexborNode | None) -> tuple[str | None, bool]:
    """The headline: ``<h1>`` in the article, else ``og:title``, else the page's first
    ``<h1>`` (often the site logo, hence not first), else ``<title>`` (then True)."""
    candidates: list[str] = []
    if root is not None:
        h1 = root.css_first("h1")
        candidates.append(_clean(h1.text(deep=True)) if h1 is not None else "")
    meta = tree.css_first('meta[property="og:title"]')
    candidates.append(_clean(meta.attributes.get("content")) if meta is not None else "")
    h1 = tree.css_first("h1")
    candidates.append(_clean(h1.text(deep=True)) if h1 is not None else "")
    headline = next((c for c in candidates if c), None)
    if headline is not None:
        return headline, False
    node = tree.css_first("title")
    return (_clean(node.text(deep=True)) or None) if node is not None else None, True


def _render(root: LexborNode) -> str:
    """Text of ``root`` with a newline at every block boundary."""
    out: list[str] = []
    for node in root.traverse(include_text=True):
        tag = node.tag
        prev = node.prev
        if prev is not None and prev.tag in BLOCK_TAGS and tag not in BLOCK_TAGS:
            out.append("\n")  # text, or an inline element (a link), after a closed block: a new line
        if tag == "-text":
            text = node.text_content or ""
            parent = node.parent
            if parent is None or parent.tag != "pre":
                text = _WS_RE.sub(" ", text)
            out.append(text)
        elif tag in BLOCK_TAGS:
            out.append("\n")
    return "".join(out)


#: Longest JSON-LD block read (a page's structured data is a few KiB; the article's body, when
#: there, tens of KiB): a larger one is not decoded.
MAX_JSON_LD_CHARS: Final = 1 << 20
#: How many objects of a JSON-LD block are looked at (a `@graph` of a page is a few dozen).
_MAX_JSON_LD_OBJECTS: Final = 1000


def _ld_objects(value: object) -> list[dict[str, object]]:
    """The objects of a JSON-LD block: itself, the lists it is, and its `@graph`s, at most
    `_MAX_JSON_LD_OBJECTS` (the block is at most `MAX_JSON_LD_CHARS`, its nesting msgspec's)."""
    found: list[dict[str, object]] = []
    todo = [value]
    while todo and len(found) < _MAX_JSON_LD_OBJECTS:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item[:_MAX_JSON_LD_OBJECTS])
        elif isinstance(item, dict):
            found.append(item)
            graph = item.get("@graph")
            if isinstance(graph, list):
                todo.extend(graph[:_MAX_JSON_LD_OBJECTS])
    return found


def _json_ld_article(html: str) -> tuple[str | None, str] | None:
    """(headline, body) of the page's schema.org article in JSON-LD (`articleBody`: the longest
    of them), or None. Pages rendered by scripts ship their visible text empty and the article
    only there; `articleBody` is plain text, or sometimes HTML, rendered here as the page is."""
    best: tuple[str | None, str] | None = None
    for script in LexborHTMLParser(html).css('script[type="application/ld+json"]'):
        source = script.text(deep=True) or ""
        if len(source) > MAX_JSON_LD_CHARS:
            continue
        try:
            document = msgspec.json.decode(source.strip())
        except (msgspec.DecodeError, RecursionError):
            continue
        for item in _ld_objects(document):
            body = item.get("articleBody")
            if not isinstance(body, str) or not body.strip():
                continue
            if "<" in body and ">" in body:  # HTML inside the JSON
                fragment = LexborHTMLParser(body).body
                body = _render(fragment) if fragment is not None else body
            else:
                body = html_lib.unescape(body)
            if best is None or len(body) > len(best[1]):
                headline = item.get("headline")
                named = _clean(html_lib.unescape(headline)) if isinstance(headline, str) else ""
                best = named or None, body
    return best


def extract(html: str, *, whole: bool = False) -> ExtractedHtml:
    """Title and article text (one block per line) of an HTML page or fragment. `whole`: the
    fragment is all article (markup sent as an article's text: no page around it), so all of
    its body is read, not the block a page's article would be chosen as."""
    if _too_deep(html):
        return ExtractedHtml(None, _flatten(html), flattened=True)
    tree = LexborHTMLParser(html)
    root = (tree.body or _pick_root(tree)) if whole else _pick_root(tree)
    title, tab = _title(tree, root)
    extracted = _extract(tree, root, title, tab)
    if extracted.text.strip() or "ld+json" not in html:
        return extracted
    # Nothing visible: a page its scripts fill in. Its JSON-LD article, if it has one (parsed
    # again: the first parse's scripts inside the article were dropped with the other scripts).
    article = _json_ld_article(html)
    if article is None:
        return extracted
    headline, body = article
    if headline is not None and (extracted.title is None or extracted.tab_title):
        return ExtractedHtml(headline, body, from_json_ld=True)
    return ExtractedHtml(extracted.title, body, tab_title=extracted.tab_title, from_json_ld=True)


def _extract(tree: LexborHTMLParser, root: LexborNode | None, title: str | None, tab: bool) -> ExtractedHtml:
    if root is None:
        return ExtractedHtml(title, "", tab_title=tab)
    for node in root.css(",".join(DROP_TAGS)):
        if node.tag == "figure" and node.css_first("table") is not None:
            continue
        node.decompose()
    for node in root.css("[class],[id],[role],[hidden],[aria-hidden],[style]"):
        if node is not root and _is_boilerplate(node):
            node.decompose()
    for node in _link_dense_blocks(root):
        node.decompose()
    if title is not None:
        # The headline is the title, not the first paragraph of the body.
        for node in root.css("h1"):
            if _clean(node.text(deep=True)) == title:
                node.decompose()
                break
    return ExtractedHtml(title, _render(root), tab_title=tab)
