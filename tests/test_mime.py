"""The hand-written MIME bytes read back, with the standard parser, exactly as they were written."""
import re
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import compat32, default
from email.utils import parseaddr

from hypothesis import given, settings, strategies as st

from service.mime import message_bytes

LONG_URL = "https://cop.example.org/m/unsubscribe/" + "eyJtIjoxMjM0NX0.ZxYw" * 6


def parse(raw: bytes):
    return message_from_bytes(raw, policy=default)


def content(part) -> str:
    return part.get_content().replace("\r\n", "\n")  # SMTP's CRLF, as a mail client reads it


def test_headers_read_back_with_long_urls_unbroken_and_non_ascii_encoded():
    headers = {"Subject": " ".join(["Resumen de la comunidad: ¿qué aprendimos en otoño?"] * 3),
               "From": "COP <cop@example.org>", "To": "=?utf-8?q?In=C3=A9s_Garc=C3=ADa?= <ines@example.org>",
               "List-Unsubscribe": f"<{LONG_URL}>, <mailto:unsubscribe+1.abc@in.example.org?subject=unsubscribe>"}
    raw = message_bytes(headers, "Hola", "<p>Hola</p>")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.isascii()
    message = parse(raw)
    assert message["Subject"] == headers["Subject"]
    assert str(make_header(decode_header(headers["To"]))) in str(message["To"])
    assert message["To"].addresses[0].display_name == "Inés García"
    assert f"<{LONG_URL}>" in str(message["List-Unsubscribe"]).replace(" ", "")


def test_bodies_survive_quoted_printable_exactly():
    text = ("Línea con = y ñ\n" + "palabra " * 40 + "\n.a line starting with a dot\ntrailing spaces   \n"
            "From the start of a line\n")
    html = '<p style="color: #333">Café</p>\n' + "<td>x</td>" * 60 + "\n"
    message = parse(message_bytes({"Subject": "s"}, text, html))
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_payload()
    assert plain.get_content_type() == "text/plain" and plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert content(plain) == text
    assert content(rich) == html
    boundary = message.get_boundary()
    assert boundary.encode() not in plain.get_payload(decode=True) + rich.get_payload(decode=True)


def test_an_invitation_has_one_calendar_part_inside_the_alternative():
    ics = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nSUMMARY:Reunión mensual\nEND:VCALENDAR\n"
    message = parse(message_bytes({"Subject": "s"}, "t", "<p>h</p>", (ics, "REQUEST")))
    assert message.get_content_type() == "multipart/mixed"
    [alternative] = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in alternative.get_payload()]
    assert types == ["text/plain", "text/html", "text/calendar"]
    calendar = alternative.get_payload()[2]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_disposition() is None
    assert content(calendar) == ics
    assert [part.get_content_type() for part in message.walk()].count("text/calendar") == 1


def test_every_body_reads_back_exactly_with_encoded_lines_of_at_most_76_characters():
    bodies = ["no final line break, trailing space ", "x" * 73 + " \t", "=" * 30 + "\n" + "é" * 40,
              "line one\r\nline two\rline three\n\n", "\t.\n" + "word " * 16 + "\n", "", "\n"]
    for body in bodies:
        raw = message_bytes({"Subject": "s"}, body, f"<p>{body}</p>")
        plain, rich = parse(raw).get_payload()
        expected = body.replace("\r\n", "\n").replace("\r", "\n")
        assert content(plain) == expected and content(rich) == f"<p>{expected}</p>", repr(body)
        encoded = raw.split(b"\r\n\r\n", 2)[2]  # past the message's and the first part's headers
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), repr(body)


# --- headers: RFC 2047 words of at most 75 characters, lines of at most 78 ---------------------------

SPANISH_NAME = "María Fernanda de los Ángeles González Rodríguez de la Santísima"  # 63 characters
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
# Header text as people type it: anything but surrogates and control characters (forms refuse those).
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=300)
ASCII_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=1000)


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def display_name(message, name: str) -> str:
    """The display name of header `name` as an RFC 2047 reader shows it.

    CPython's address parser puts a space between adjacent encoded words in a
    display name, where RFC 2047 (section 6.2) says to ignore the folding
    between them (mail clients do): so the words are decoded by the standard
    library's RFC 2047 decoder, email.header, and a quoted name by parseaddr.
    """
    value = re.sub(r"\r\n(?=[ \t])", "", message[name])
    phrase = value.rpartition(" <")[0]
    if phrase.startswith('"') or "=?" not in phrase:
        return parseaddr(value)[0]
    return str(make_header(decode_header(phrase)))


def assert_well_formed(raw: bytes) -> None:
    lines = header_lines(raw)
    assert raw.isascii()
    # Within 78 where a line can be folded: a longer one is a single word (an address, a URL).
    assert all(len(line) <= 78 or b" " not in line.split(b": ", 1)[-1].strip() for line in lines), max(lines, key=len)
    assert all(len(word) <= 75 for line in lines for word in ENCODED_WORD.findall(line))
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    message = parse(raw)
    assert not message.defects and all(not header.defects for header in message.values())


def test_long_names_subjects_and_community_names_fold_into_encoded_words_of_at_most_75_characters():
    emoji = "😀" * 184
    headers = {"Subject": "x" * 990, "From": ("COP Coordinator", "cop@example.org"),
               "To": (SPANISH_NAME, "maria@example.org"), "List-Id": (emoji, "community-7.in.example.org"),
               "Reply-To": ("", "reply+1.7.0123456789abcdef@in.example.org")}
    raw = message_bytes(headers, "t", "<p>t</p>")
    assert_well_formed(raw)
    message = parse(raw)
    assert message["Subject"] == "x" * 990
    assert message["To"].addresses[0].addr_spec == "maria@example.org"
    assert display_name(message_from_bytes(raw, policy=compat32), "To") == SPANISH_NAME
    assert message["List-Id"] == f"{emoji} <community-7.in.example.org>"
    assert message["Reply-To"] == "reply+1.7.0123456789abcdef@in.example.org"


def test_plain_names_and_subjects_stay_readable():
    raw = message_bytes({"Subject": "Our next meeting: " + " ".join(["agenda"] * 20), "To": ("Pat O'Brien", "pat@example.org"),
                         "From": ("Ana Lopez, COP", "cop@example.org")}, "t", "h")
    assert_well_formed(raw)
    lines = b"\r\n".join(header_lines(raw))
    assert b"=?" not in lines
    assert b"To: Pat O'Brien <pat@example.org>" in lines and b'From: "Ana Lopez, COP" <cop@example.org>' in lines


@settings(max_examples=200, deadline=None)
@given(name=TEXT, community=TEXT, subject=st.one_of(TEXT, ASCII_TEXT), address=st.emails())
def test_any_name_subject_community_and_address_reads_back_the_same(name, community, subject, address):
    headers = {"Subject": subject, "From": (community, "cop@example.org"), "To": (name, address),
               "List-Id": (community, "community-1.in.example.org")}
    raw = message_bytes(headers, "t", "h")
    assert_well_formed(raw)
    message = parse(raw)
    assert message["Subject"] == subject
    assert message["To"].addresses[0].addr_spec == address
    legacy = message_from_bytes(raw, policy=compat32)
    assert display_name(legacy, "To") == name and display_name(legacy, "From") == community
    assert display_name(legacy, "List-Id") == community
    assert message["List-Id"].endswith("community-1.in.example.org" if not community else "<community-1.in.example.org>")


def test_a_member_and_community_with_long_non_ascii_names_get_their_email_and_no_bounce(app, ctx, personas, smtp):
    """The whole way: at 184 emoji the To line was 1,084 octets, the server said 500 and we suppressed the member."""
    from sqlalchemy import select

    from service import members
    from service.extensions import db
    from service.models import Community, Member, OutboundEmail, Suppression
    from tests.conftest import run_worker
    community = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    community.name = "Comunidad de práctica 🌽" * 8
    members.add_member(None, community, name="😀" * 184, email="emoji@example.org", welcome=True)
    members.add_member(None, community, name=SPANISH_NAME, email="maria@example.org", welcome=True)
    db.session.commit()
    run_worker(app)
    db.session.expire_all()
    for address, name in (("emoji@example.org", "😀" * 184), ("maria@example.org", SPANISH_NAME)):
        assert db.session.scalar(select(OutboundEmail.status).where(OutboundEmail.recipient == address)) == "sent"
        assert db.session.scalar(select(Member.status).where(Member.email == address)) == "active"
        [received] = smtp.to(address)
        assert_well_formed(received.raw)
        assert display_name(message_from_bytes(received.raw, policy=compat32), "To") == name
        assert display_name(message_from_bytes(received.raw, policy=compat32), "List-Id") == community.name
    assert db.session.scalar(select(Suppression.address)) is None
