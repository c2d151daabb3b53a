"""Rendering an outbox row into a message: subject, text and HTML parts, and headers.

Each kind is three templates in email_templates/: `KIND.subject.txt`,
`KIND.txt` and `KIND.html`, over the shared layouts `layout.txt` and
`layout.html`. They are rendered in the member's language. The HTML part's
CSS is inlined; it references nothing remote.
"""
import re
import time
from dataclasses import dataclass
from email.utils import formatdate, make_msgid, parseaddr
from functools import lru_cache

import css_inline
from babel.support import Translations
from flask import current_app
from werkzeug.utils import import_string
from markupsafe import Markup
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.addresses import make_address
from service import bilingual, members, moments, senders
from service.config import PROJECT_ROOT
from service.links import token_url
from service.markdown_text import plain_text_html
from service.mime import message_bytes
from service.conversations.addresses import community_address
from service.conversations.archive import archive_url
from service.conversations.content import post_html
from service.mailer import KINDS, TEMPLATE_DIR, EmailKind, kind_named
from service.models import Community, Member, OutboundEmail
from service.test_copies import stand_in_links
from service.tokens import make_token

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


# A Message-ID we put in a header: RFC 5322's dot-atom on both sides, and short. Anything else is left out.
MESSAGE_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}>")


def safe_message_id(value: str | None) -> str | None:
    """`value` when it is a plain Message-ID fit to go into In-Reply-To, else None (no header injection)."""
    value = (value or "").strip()
    return value if MESSAGE_ID.fullmatch(value) else None


class HeaderInjectionError(ValueError):
    """A header value contains a line break: refused before anything is sent."""


@lru_cache(maxsize=4)
def _environment(language: str) -> Environment:
    # Block tags keep their newlines, so paragraphs in .txt templates stay apart; tidy_text folds the extras.
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"], lstrip_blocks=True)
    translations = Translations.load(str(PROJECT_ROOT / "translations"), [language])
    env.install_gettext_translations(translations, newstyle=True)
    env.filters["plain_text_html"] = plain_text_html  # a plain-text body (announcement) as HTML
    env.filters["post_html"] = post_html  # a member's post's HTML, made inert again
    env.filters.update(moments.filters(lambda: language, as_html=False))  # moment, short, day, time
    return env


def compile_templates() -> None:
    """Compile every email template in every language now (workers do it once, before forking).

    Refuses (batch_render.PersonalValueUseError) a shared kind's template that
    does more with a member's name or links than print them.
    """
    from service.batch_render import check_shared_templates  # it renders through this module
    for language in current_app.config["LANGUAGES"]:
        env = _environment(language)
        for name in env.list_templates():
            env.get_template(name)
    check_shared_templates(_environment(current_app.config["LANGUAGES"][0]))


@dataclass
class RenderedEmail:
    subject: str
    text: str
    html: str
    headers: dict[str, str | tuple[str, str]]  # an address header's value as (display name, address)
    sender: str | tuple[str, str]  # MAIL_DEFAULT_SENDER, or (display name, its address)
    recipient: tuple[str, str]  # (display name, address) of the To header
    envelope_from: str
    calendar: tuple[str, str] | None = None  # (ics text, METHOD)


def member_links(member: Member, community: Community | None = None) -> dict[str, str]:
    """The signed links every email's footer carries; a community's email also its archive for this member."""
    links = {
        "unsubscribe_url": token_url("member_links.unsubscribe", make_token("unsubscribe", member.id)),
        "preferences_url": token_url("member_links.preferences", make_token("preferences", member.id)),
        "unsubscribe_mailto": make_address("unsubscribe", member.id),
    }
    if community is not None:
        links["archive_url"] = archive_url(member.id, community.id)
    return links


def render(row: OutboundEmail, member: Member, community: Community | None, preview: bool = False) -> RenderedEmail:
    """Everything needed to send one outbox row, in the member's language.

    A staff copy, or a `preview` shown to a coordinator, is a test copy: its
    links act as nobody and it has no calendar part (service.test_copies).
    """
    kind = kind_named(row.kind)
    member = members.known_in(member, community)  # greeted and addressed by this community's name for them
    links = member_links(member, community)
    context = template_context(row, member, community, links)
    if kind.extras:
        context.update(import_string(kind.extras)(row, member, community))
    parts = render_parts(kind, member.language, context)
    if kind.staff_copy or preview:
        return assemble(kind, row, member, community, links, stand_in_links(parts))
    return assemble(kind, row, member, community, links, parts, calendar=context.get("calendar"))


def subject_of(row: OutboundEmail, member: Member, community: Community | None) -> str:
    """The subject this row was (or will be) sent with, rendered alone (an inbound reply is matched by it)."""
    kind = kind_named(row.kind)
    member = members.known_in(member, community)
    context = template_context(row, member, community, member_links(member, community))
    if kind.extras:
        context.update(import_string(kind.extras)(row, member, community))
    return subject_line(kind, member.language, context)


def subject_line(kind: EmailKind, language: str, context: dict) -> str:
    """The kind's subject template rendered in `language`, on one line."""
    return " ".join(_environment(language).get_template(f"{kind.templates}.subject.txt").render(context).split())


def render_for_coordinator(row: OutboundEmail) -> RenderedEmail:
    """An email about a coordinator's own account: no member links, no list headers, in their language."""
    kind = kind_named(row.kind)
    context = {**row.context, "postal_address": current_app.config["POSTAL_ADDRESS"], "kind": row.kind,
               "base_url": current_app.config["PUBLIC_BASE_URL"]}
    context.update(import_string(kind.extras)(row))
    subject, text, html = render_parts(kind, context["language"], context)
    headers = {"Auto-Submitted": "auto-generated"}
    answered = safe_message_id(row.context.get("in_reply_to"))
    if answered:  # an answer to someone's message (a refused post): RFC 3834, threaded under it, loop-marked
        headers = {"Auto-Submitted": "auto-replied", "In-Reply-To": answered, "References": answered,
                   "X-Loop": current_app.config["INBOUND_DOMAIN"]}
    if context.get("reply_to"):  # a signed address of ours the account answers to (a post to moderate)
        headers["Reply-To"] = context["reply_to"]
    return RenderedEmail(subject=subject, text=text, html=html, headers=headers,
                         sender=current_app.config["MAIL_DEFAULT_SENDER"],
                         recipient=(context.get("recipient_name") or _account_name(context), row.recipient),
                         envelope_from=make_address("bounce", row.id))


def _account_name(context: dict) -> str:
    """The name of the account an email is about ('' for someone without one, like a refused post's sender)."""
    return context["coordinator"].name if "coordinator" in context else ""


def render_template_in(language: str, name: str, context: dict) -> str:
    """One email template rendered alone in `language` (a part of an email shown in a second language)."""
    rendered = _environment(language).get_template(name).render(context)
    return Markup(rendered) if name.endswith(".html") else tidy_text(rendered)


def template_context(row: OutboundEmail, member, community: Community | None, links: dict[str, str]) -> dict:
    """What every kind's templates may use, before the kind's extras: the row's context with its texts in the
    member's language (service.bilingual; `written_in` says when they fell back to the other one)."""
    return {**row.context, **bilingual.pick_context(row.context or {}, member.language),
            "member": member, "community": community, "links": links,
            "community_address": community_address(community) if community is not None and community.slug else "",
            "postal_address": current_app.config["POSTAL_ADDRESS"], "kind": row.kind,
            "base_url": current_app.config["PUBLIC_BASE_URL"]}


def render_parts(kind: EmailKind, language: str, context: dict) -> tuple[str, str, str]:
    """The kind's subject, text part and HTML part (CSS inlined), rendered in `language`."""
    env = _environment(language)
    subject = subject_line(kind, language, context)
    text = tidy_text(env.get_template(f"{kind.templates}.txt").render(context))
    # The subject is the HTML part's <title>: what a screen reader announces when the message opens on its own.
    html = inline_css(env.get_template(f"{kind.templates}.html").render({**context, "email_subject": subject}))
    return subject, text, html


def assemble(kind: EmailKind, row: OutboundEmail, member: Member, community: Community | None,
             links: dict[str, str], parts: tuple[str, str, str], calendar=None) -> RenderedEmail:
    """The rendered parts with the row's headers, sender, recipient and envelope."""
    subject, text, html = parts
    if kind.staff_copy:
        subject = "[TEST] " + subject
    headers = {"Auto-Submitted": "auto-generated"} if kind.automatic else {}
    if kind.reply:
        headers["Auto-Submitted"] = "auto-replied"
        answered = safe_message_id((row.context or {}).get("in_reply_to"))
        if answered:
            headers["In-Reply-To"] = headers["References"] = answered
    # After a step back, the leaders' names on From and Reply-To (service.senders); the addresses stay ours.
    name = senders.display_name(community, member.language)
    if community is not None:
        headers["List-Id"] = (community.name, f"community-{community.id}.{current_app.config['INBOUND_DOMAIN']}")
        # A reply reaches the community as the member; to a test copy, it comes back to the coordinator.
        reply_to = make_address("reply", member.id, community.id)
        headers["Reply-To"] = row.recipient if kind.staff_copy else ((name, reply_to) if name else reply_to)
    if community is not None and community.slug:
        headers["List-Post"] = f"<mailto:{community_address(community)}>"
    if kind.conversation and community is not None:
        return _conversation_copy(kind, row, member, community, links, parts, headers)
    if kind.bulk:
        headers["List-Unsubscribe"] = f"<{links['unsubscribe_url']}>, <mailto:{links['unsubscribe_mailto']}?subject=unsubscribe>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return RenderedEmail(subject=subject, text=text, html=html, headers=headers,
                         sender=senders.sender(current_app.config["MAIL_DEFAULT_SENDER"], name),
                         recipient=("" if kind.staff_copy else member.name, row.recipient),
                         envelope_from=make_address("bounce", row.id), calendar=calendar)


def _conversation_copy(kind: EmailKind, row: OutboundEmail, member: Member, community: Community,
                       links: dict[str, str], parts: tuple[str, str, str], headers: dict) -> RenderedEmail:
    """A copy of a member's post: "Author via Community" on our address, answered to the community (or to the
    author, reply-all reaching both, where the community chose so), threaded under what it answers."""
    subject, text, html = parts
    context = row.context or {}
    address = community_address(community)
    if community.replies_to == "author" and context.get("author_email"):
        headers["Reply-To"] = (context.get("author", ""), context["author_email"])
        headers["Cc"] = (community.name, address)
    else:
        headers["Reply-To"] = (community.name, address)
    answered = safe_message_id(context.get("in_reply_to"))
    references = [ref for ref in map(safe_message_id, context.get("references") or []) if ref]
    if answered:
        headers["In-Reply-To"] = answered
    if references or answered:
        headers["References"] = " ".join(dict.fromkeys([*references, *([answered] if answered else [])]))
    headers["List-Archive"] = f"<{links['archive_url']}>"
    headers["Precedence"] = "list"  # auto-responders that honour it do not answer a list's mail
    headers["X-Loop"] = address  # a copy that comes back to any community address is never posted again
    headers["List-Unsubscribe"] = f"<{links['unsubscribe_url']}>, <mailto:{links['unsubscribe_mailto']}?subject=unsubscribe>"
    headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    author = context.get("author") or ""
    sender_name = f"{author} via {community.name}" if author else community.name
    return RenderedEmail(subject=subject, text=text, html=html, headers=headers,
                         sender=(sender_name, _sender(current_app.config["MAIL_DEFAULT_SENDER"])[1]),
                         recipient=(member.name, row.recipient), envelope_from=make_address("bounce", row.id))


def message_id_for(row: OutboundEmail) -> str:
    """The Message-ID to send `row` with: a post's own (every copy shares it), else a new one."""
    if KINDS[row.kind].conversation:
        own = safe_message_id((row.context or {}).get("message_id"))
        if own:
            return own
    return new_message_id()


def inline_css(html: str) -> str:
    """The HTML with its <style> rules moved onto the elements (mail clients drop <style>)."""
    return _INLINER.inline(html)


def tidy_text(text: str) -> str:
    """At most one blank line between paragraphs, no trailing spaces (but the "-- " signature line)."""
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def check_headers(values) -> None:
    for value in values:
        for text in value if isinstance(value, tuple) else (value,):
            if "\r" in text or "\n" in text:
                raise HeaderInjectionError("header value contains a line break")


def to_bytes(email: RenderedEmail, message_id: str) -> bytes:
    """The whole message as CRLF bytes for smtplib; refuses CR or LF in any header value."""
    check_headers([email.subject, email.sender, email.recipient, *email.headers.values()])
    sender = email.sender if isinstance(email.sender, tuple) else _sender(email.sender)
    headers = {"Subject": email.subject, "From": sender, "To": email.recipient,
               "Date": _date_header(int(time.time())), "Message-ID": message_id, **email.headers}
    return message_bytes(headers, email.text, email.html, email.calendar)


@lru_cache(maxsize=2)
def _date_header(second: int) -> str:
    """The Date header for this second (a batch sends hundreds a second)."""
    return formatdate(second, localtime=False)


@lru_cache(maxsize=2)
def _sender(sender: str) -> tuple[str, str]:
    """MAIL_DEFAULT_SENDER as (display name, address)."""
    return parseaddr(sender)


def new_message_id() -> str:
    """A Message-ID on our domain (make_msgid without one looks up the host name every call)."""
    return make_msgid(domain=current_app.config["INBOUND_DOMAIN"])
