"""What of a member's message a post keeps: their own words as plain text, and their HTML made inert.

The HTML keeps only structure and text formatting (no script, style, forms,
event handlers, images or anything else that loads from elsewhere); links
keep http(s) and mailto targets and open nothing with our page's privileges.
It is cleaned when the post is stored and again when a copy is rendered, so
an older row, or one a moderator edited, can never carry more.
"""
import nh3
from markupsafe import Markup

POST_TAGS = {"p", "br", "div", "span", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a", "h1", "h2", "h3",
             "h4", "blockquote", "code", "pre", "hr", "table", "thead", "tbody", "tr", "td", "th"}
POST_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_HTML = 200_000


def clean_html(html: str) -> str:
    """`html` with everything active or remote removed ('' for none)."""
    if not html:
        return ""
    return nh3.clean(html[:MAX_HTML], tags=POST_TAGS, attributes=POST_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def post_html(html: str) -> Markup:
    """A stored post's HTML, cleaned again, for a template."""
    return Markup(clean_html(html))
