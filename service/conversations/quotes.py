"""The member's own part of an HTML post: the quoted history and signature cut off, as in the plain text.

Every copy of a post is sent to people who already have what it quotes, so
a copy carries the new words only (the plain text is trimmed the same way by
service/inbound/trim.py). Mail clients mark where their quote or signature
begins: Gmail's `gmail_quote` and `gmail_signature`, Apple Mail's and
Thunderbird's `<blockquote type="cite">`, Outlook's `divRplyFwdMsg`,
`appendonsend` and the bordered "From:" block, Outlook on the web's
`Signature`. The HTML is cut at the first such mark; what is left goes to
quotequail, which finds an "On ... wrote:" line no mark announced. The
result is not yet safe: content.clean_html makes it inert (and closes what
the cut left open).
"""
import re

import quotequail

from service.conversations.content import MAX_HTML
from service.inbound.message import html_to_text

MARK_CLASSES = ("gmail_quote", "gmail_signature", "gmail_signature_prefix", "gmail_attr", "moz-cite-prefix",
                "moz-signature", "yahoo_quoted", "protonmail_quote", "OutlookMessageHeader")
MARK_IDS = ("appendonsend", "divRplyFwdMsg", "mail-editor-reference-message-container", "Signature",
            "ms-outlook-mobile-signature", "ymail_android_signature", "stopSpelling")
QUOTE_OR_SIGNATURE = re.compile(
    r"<(?:div|span|blockquote|pre|table|hr)\b[^>]{0,500}?\b(?:"
    rf"class\s*=\s*[\"'][^\"'>]{{0,200}}\b(?:{'|'.join(MARK_CLASSES)})\b"
    rf"|id\s*=\s*[\"'](?:{'|'.join(MARK_IDS)})[\"']"
    r"|type\s*=\s*[\"']cite[\"']"
    r"|style\s*=\s*[\"'][^\"'>]{0,500}border-top:\s*solid\s+#(?:E1E1E1|B5C4DF))"  # Outlook's "From:" block
    r"|(?:<br\s*/?>|<div>|<p>)\s*--(?:\s|&nbsp;|&#160;)*(?:<br\s*/?>|</div>|</p>)",  # a "-- " signature line
    re.IGNORECASE)
MAX_QUOTE_LINES = 2000  # quotequail reads this many lines at most


def own_html(html: str) -> str:
    """The HTML above the first quote or signature mark (not yet cleaned); '' when no words are left."""
    if not html:
        return ""
    html = html[:MAX_HTML]
    mark = QUOTE_OR_SIGNATURE.search(html)
    above = html[:mark.start()] if mark else html
    try:
        parts = quotequail.quote_html(above, limit=MAX_QUOTE_LINES)
    except Exception:  # quotequail reads any HTML; this guards what its parser still rejects
        parts = [(True, above)]
    own = []
    for expanded, part in parts:
        if not expanded:
            break
        own.append(part)
    own_html = "".join(own)
    return own_html if html_to_text(own_html).strip() else ""
