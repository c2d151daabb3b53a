"""Markdown written by coordinators (agendas, lessons), rendered and sanitised for HTML; member text escaped for Markdown."""
import re

import markdown as markdown_lib
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h2", "h3", "h4", "blockquote", "code", "pre", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def to_html(text: str) -> Markup:
    """Markdown to HTML with anything active (script, raw HTML, javascript: links) removed."""
    rendered = markdown_lib.markdown(text or "", extensions=["sane_lists"])
    return Markup(nh3.clean(rendered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                            url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer"))


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """Plain text (a member's name, say) as Markdown that renders as exactly that text, never as markup or HTML."""
    without_html = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", without_html)
