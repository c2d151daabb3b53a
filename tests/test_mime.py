"""The hand-written MIME bytes read back, with the standard parser, exactly as they were written."""
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default

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


def test_calendar_is_an_alternative_part_and_an_attachment():
    ics = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nSUMMARY:Reunión mensual\nEND:VCALENDAR\n"
    message = parse(message_bytes({"Subject": "s"}, "t", "<p>h</p>", (ics, "REQUEST")))
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    types = [part.get_content_type() for part in alternative.get_payload()]
    assert types == ["text/plain", "text/html", "text/calendar"]
    calendar = alternative.get_payload()[2]
    assert calendar.get_param("method") == "REQUEST"
    assert content(calendar) == ics
    assert attachment.get_filename() == "invite.ics"
    assert content(attachment) == ics


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
