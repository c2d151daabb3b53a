"""Markdown written by coordinators (agendas, lessons), rendered and sanitised for HTML."""
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
