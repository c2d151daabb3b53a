"""Markdown written by coordinators (agendas, lessons, charters) as sanitised HTML and as readable plain text.

markdown-it-py parses CommonMark in time linear in the text (Python-Markdown
was quadratic on runs of `[`: a 49,000-character charter held a worker for
minutes). The text is parsed once, when it is saved (`render`), and both
forms are stored beside it; pages and emails read the stored forms.

Linear is not cheap enough: a character that may start an inline construct costs markdown-it-py's inline parser
far more than a letter (every `[` tries a link and scans for its label), and a block of one character costs the
block parser, the renderer and nh3 as much as 60 to 80 letters. 50,000 characters of `![` took 35 times as long as
50,000 of the lessons' prose, of headings `#` or one-letter list items 25 times. So the text's cost is estimated
before it is parsed, from weighted counts of those characters (`INLINE_COST`) and of its lines and their list and
heading markers (`LINE_COST`, `MARKER_COST`), and held to `MAX_COST_PER_CHARACTER`: a text whose lines alone are
over budget is one paragraph shown as typed (`_parse_blocks_within_budget`); otherwise, while the estimate is over
budget, the block with the costliest inline Markdown per character is shown as typed, escaped and unlinked
(`_parse_inline_within_budget`). Every adversarial shape in tests/test_markdown.py then renders within 1.5 times
prose's time (8 to 35 times without the budget), a 10-50% mix of special characters into prose within 3
(bench/markdown_guard.py, which also measures the weights); the worst of 4,000 random short pieces of Markdown,
each repeated to 20,000 characters, took 6.3 times. Ordinary Markdown is far below the budget and renders exactly
as the parser alone renders it; the estimate costs 3% of prose's render time.
"""
import re
from html import unescape
from typing import NamedTuple
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it import rules_core
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h2", "h3", "h4", "blockquote", "code", "pre", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}

# CommonMark, raw HTML parsed as HTML so that nh3 removes it (script and style with their content);
# bare http(s) URLs and email addresses become links.
_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable("linkify")
_MARKDOWN.linkify.set({"fuzzy_link": False})
# Every [text](url) is a link, so a javascript: one shows its text, not its Markdown; nh3 then drops the href.
_MARKDOWN.validateLink = lambda url: True
# Plain text as written: paragraphs at blank lines, each line break kept, bare URLs as links, nothing else.
_PLAIN = MarkdownIt("zero", {"breaks": True, "linkify": True}).enable(["linkify", "newline"])
_PLAIN.linkify.set({"fuzzy_link": False})

# What a character (or a few) that may start an inline construct costs, in letters of prose: a letter costs 1, and
# so does anything not listed. Each of these makes the parser try every inline rule, and again while it scans an
# open `[` for its label; an emphasis mark is a token of its own until the emphasis pass pairs it. A link costs
# its tokens, its rendering and nh3's work on top of its characters: a bare URL ("://") or an autolink ("<" with
# "@") far more than its length. Measured with bench/markdown_guard.py (runs of each, each alternated with
# letters, mixed into prose at 30%, link shapes), raised to cover the worst of random shapes (`._.1> `, `1. *`).
INLINE_COST = {
    "[": 48, "](": 30, "://": 150, "<": 60, "@": 30, "*": 48, "_": 48, "\n": 22,
    **dict.fromkeys("!#$%&+-:=>\\]^`{}~", 16),
}
# What a line costs the block parser, the renderer and the plain text on top of its inline Markdown, and each list
# item or heading marker at its start more (a list item of one character costs about 65 letters of prose; five
# nested on a line, about 330).
LINE_COST = 40
MARKER_COST = 70
# A line's block quote, list item and heading markers (`>` needs no space after it, the others do); a block
# quote's costs little more than its line, so only the others count.
_LINE_START = re.compile(r"^(?:[ \t]*(?:>|(?:#{1,6}|[-+*]|\d{1,9}[.)])(?=[ \t]|$)))+", re.MULTILINE)
_MARKER = re.compile(r"#{1,6}|[-+*]|\d{1,9}[.)]")
# The estimate a text may reach per character: the lessons' prose is about 2.3 (1.65 inline, 0.65 for its lines),
# and the budget keeps any text within about 6 times prose's time.
MAX_COST_PER_CHARACTER = 8
# Estimated cost any text may spend whatever its length (20-40 ms), so a short text full of emphasis and links is
# never cut.
MIN_BUDGET = 50_000


def _inline_cost(text: str) -> int:
    """An estimate of the time `text`'s inline Markdown takes to parse and render, in letters of prose."""
    return len(text) + sum((cost - 1) * text.count(characters) for characters, cost in INLINE_COST.items())


def _block_cost(text: str) -> int:
    """An estimate of the time `text`'s lines take beyond their inline Markdown, in letters of prose."""
    markers = sum(len(_MARKER.findall(start.group())) for start in _LINE_START.finditer(text))
    return LINE_COST * text.count("\n") + MARKER_COST * markers


def _budget(text: str) -> float:
    return max(MIN_BUDGET, MAX_COST_PER_CHARACTER * len(text))


def _as_typed(text: str) -> list[Token]:
    """Inline Markdown shown as typed. text_special: linkify leaves it alone (its bare URLs would cost as much as
    parsing), then markdown-it joins it into plain text."""
    return [Token("text_special", "", 0, content=text)]


def _parse_blocks_within_budget(state: StateCore) -> None:
    """markdown-it's core "block" rule, except that a text whose lines alone cost more than its budget (thousands
    of one-character list items, say) is one paragraph shown as typed."""
    if len(state.src) + _block_cost(state.src) <= _budget(state.src):
        rules_core.block(state)
        return
    paragraph = Token("inline", "", 0, content=state.src.strip(), children=_as_typed(state.src.strip()))
    state.tokens += [Token("paragraph_open", "p", 1, block=True), paragraph,
                     Token("paragraph_close", "p", -1, block=True)]


def _parse_inline_within_budget(state: StateCore) -> None:
    """markdown-it's core "inline" rule, except that while the text's estimate is over budget, the block with the
    costliest inline Markdown per character is shown as typed."""
    blocks = [token for token in state.tokens if token.type == "inline" and not token.children]  # not yet parsed
    costs = {id(block): _inline_cost(block.content) for block in blocks}
    total = sum(costs.values())
    budget = _budget(state.src) - _block_cost(state.src)
    as_typed = set()
    for block in sorted(blocks, key=lambda block: costs[id(block)] / max(len(block.content), 1), reverse=True):
        if total <= budget:
            break
        as_typed.add(id(block))
        total -= costs[id(block)] - len(block.content)
    for block in blocks:
        if id(block) in as_typed:
            block.children = _as_typed(block.content)
        else:
            block.children = []
            state.md.inline.parse(block.content, state.md, state.env, block.children)


_MARKDOWN.core.ruler.at("block", _parse_blocks_within_budget)
_MARKDOWN.core.ruler.at("inline", _parse_inline_within_budget)


class Rendered(NamedTuple):
    """One Markdown text in both forms an email or page shows."""
    html: str
    plain: str


def _clean(html: str) -> Markup:
    """Anything active (script, event handlers, javascript: links, images) removed."""
    return Markup(nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                            link_rel="noopener noreferrer"))


def render(markdown: str) -> Rendered:
    """Markdown as sanitised HTML and as plain text, from one parse (what is stored when a text is saved)."""
    tokens = _MARKDOWN.parse(markdown or "")
    return Rendered(str(_clean(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))), _plain_text(tokens))


def stored_html(html: str) -> Markup:
    """HTML that `render` made when the text was saved: already sanitised, so safe to show as it is."""
    return Markup(html or "")


def to_html(markdown: str) -> Markup:
    """Markdown to sanitised HTML, for a preview of text not saved yet."""
    return _clean(_MARKDOWN.render(markdown or ""))


def to_plain_text(markdown: str) -> str:
    """Markdown as plain text that reads well: no `**`, links as `text <url>`, headings underlined, lists with `-`."""
    return _plain_text(_MARKDOWN.parse(markdown or ""))


def plain_text_html(text: str) -> Markup:
    """Plain text (an announcement) as HTML: escaped, paragraphs and line breaks kept, bare URLs as links."""
    return _clean(_PLAIN.render(text or ""))


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """Plain text (a member's name, say) as Markdown that renders as exactly that text, never as markup or HTML."""
    without_html = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", without_html)


# --- plain text from the token stream -------------------------------------------------------------------------

class _Container:
    """An open block quote or list item: what it puts before its first line and before the lines after."""

    def __init__(self, first: str, rest: str):
        self.first, self.rest, self.started = first, rest, False

    def prefix(self) -> str:
        if self.started:
            return self.rest
        self.started = True
        return self.first


def _inline_text(children: list[Token]) -> str:
    """An inline token's text: emphasis marks dropped, a link as `text <url>` (once when the text is the URL)."""
    parts: list[str] = []
    links: list[tuple[int, str]] = []
    for token in children:
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif token.type == "image":
            parts.append(token.content)
        elif token.type == "link_open":
            links.append((len(parts), str(token.attrGet("href") or "")))
        elif token.type == "link_close" and links:
            start, href = links.pop()
            label = "".join(parts[start:])
            if _shown_scheme(href) and href not in (label, f"mailto:{label}"):
                parts.append(f" <{href}>")
    return "".join(parts)


def _shown_scheme(href: str) -> bool:
    """Whether a link's address is one the HTML part keeps (http, https, mailto), so the text part shows it too."""
    try:
        return urlsplit(href).scheme in URL_SCHEMES
    except ValueError:  # not a URL at all
        return False


def _html_text(html: str) -> str:
    """Raw HTML in Markdown as the text it shows (tags and scripts gone)."""
    return unescape(nh3.clean(html, tags=set())).strip()


def _plain_text(tokens: list[Token]) -> str:
    lines: list[str] = []
    open_blocks: list[_Container] = []
    numbers: list[int | None] = []  # per open list: the next item's number, None for a bullet list
    gap = False  # a blank line is due before the next block

    def emit(text: str) -> None:
        nonlocal gap
        if gap and lines:
            lines.append("".join(block.rest for block in open_blocks if block.started).rstrip())
        gap = False
        for line in text.split("\n"):
            lines.append(("".join(block.prefix() for block in open_blocks) + line).rstrip())

    heading = ""
    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            heading = token.tag
        elif kind == "inline":
            text = _inline_text(token.children or [])
            if heading in ("h1", "h2"):
                text += "\n" + ("=" if heading == "h1" else "-") * max(len(text), 3)
            emit(text)
        elif kind in ("heading_close", "paragraph_close"):
            heading = ""
            gap = gap or not token.hidden
        elif kind in ("bullet_list_open", "ordered_list_open"):
            numbers.append(int(token.attrGet("start") or 1) if kind == "ordered_list_open" else None)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            numbers.pop()
            gap = gap or not numbers  # a list nested in an item runs on into the next item
        elif kind == "list_item_open":
            number = numbers[-1]
            marker = "- " if number is None else f"{number}. "
            if number is not None:
                numbers[-1] = number + 1
            open_blocks.append(_Container(marker, " " * len(marker)))
        elif kind == "blockquote_open":
            open_blocks.append(_Container("> ", "> "))
        elif kind in ("list_item_close", "blockquote_close"):
            open_blocks.pop()
            gap = gap or kind == "blockquote_close"
        elif kind in ("fence", "code_block"):
            emit("\n".join("    " + line for line in token.content.rstrip("\n").split("\n")))
            gap = True
        elif kind == "hr":
            emit("* * *")
            gap = True
        elif kind == "html_block":
            text = _html_text(token.content)
            if text:
                emit(text)
                gap = True
    return "\n".join(lines).strip("\n")
