"""The corpus of replies (tests/fixtures/inbound/replies/*.eml) and what each one must come to.

The fixtures are replies as mail clients write them, in English and Spanish,
top- and bottom-posted, plain and HTML-only. `@@FROM@@`, `@@TO@@` and
`@@IN_REPLY_TO@@` stand for the member's address, their signed reply address
and the Message-ID of the email of ours they answer; `fill` puts real ones in.
"""
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "inbound" / "replies"


@dataclass(frozen=True)
class Case:
    words: str              # what the member wrote, which trimming must keep
    answers: str            # the kind of our email it replies to
    status: str             # what processing makes of it
    outcome: str | None
    decision: str | None = None  # the RSVP answer or charter decision recorded


CORPUS = {
    "gmail_en_top": Case("Yes, count me in!", "meeting_invitation", "done", "rsvp", "yes"),
    "gmail_es_wrapped_attribution": Case("Sí, allí estaré.", "meeting_invitation", "done", "rsvp", "yes"),
    "gmail_html_only_en": Case("Count me in.", "meeting_invitation", "done", "rsvp", "yes"),
    "gmail_en_signature": Case("No, I can't make it.", "meeting_reminder", "done", "rsvp", "no"),
    "gmail_en_question": Case("Is it online or at the library this time?", "meeting_invitation", "unclear",
                              "comment"),
    "gmail_en_negation": Case("I can't say yes until my director signs off.", "meeting_invitation", "unclear",
                              "comment"),
    "outlook_desktop_en": Case("Sorry, I can't make it this time.", "meeting_invitation", "done", "rsvp", "no"),
    "outlook_desktop_es_original_message": Case("No puedo ir, lo siento.", "meeting_invitation", "done", "rsvp",
                                                "no"),
    "outlook_web_en": Case("Maybe, it depends on my shift.", "meeting_update", "done", "rsvp", "maybe"),
    "outlook_web_es_html_only": Case("Tal vez.", "meeting_invitation", "done", "rsvp", "maybe"),
    "apple_mail_en": Case("ll be there.", "meeting_invitation", "done", "rsvp", "yes"),
    "iphone_es": Case("Cuenten conmigo", "meeting_reminder", "done", "rsvp", "yes"),
    "yahoo_en": Case("Not this time, sorry.", "meeting_invitation", "done", "rsvp", "no"),
    "thunderbird_en_bottom": Case("I will come, yes.", "meeting_invitation", "done", "rsvp", "yes"),
    "thunderbird_es_bottom": Case("Sí, allí estaré.", "meeting_invitation", "done", "rsvp", "yes"),
    "charter_gmail_approve": Case("I approve.", "charter_proposal", "done", "charter_vote", "approve"),
    "charter_outlook_es_change": Case("Propongo un cambio", "charter_proposal", "done", "charter_vote", "change"),
    "digest_apple_practice": Case("We started texting families", "digest", "done", "practice"),
    "gmail_en_unsubscribe": Case("Unsubscribe", "digest", "done", "unsubscribed"),
    "gmail_es_baja_subject": Case("Ya no trabajo en la organización.", "digest", "done", "unsubscribed"),
    "outlook_desktop_en_original_message": Case("Thanks for adding me.", "welcome", "done", "comment"),
}

# Nothing of these may be left after trimming: our email quoted back, its attribution line, a signature.
LEFTOVERS = ("COP Coordinator", "cop@cop.localhost", "invited", "invitad", "recordamos", "Here is the charter",
             "Aquí está", "worth passing", "probó algo", "reminder of", "Everything happens",
             "Northside Community", "Centro Comunitario", "Caring for")


def fill(name: str, sender: str, to: str, in_reply_to: str) -> bytes:
    """The fixture's bytes with the member's address, reply address and answered Message-ID put in."""
    raw = (FIXTURES / f"{name}.eml").read_bytes()
    for placeholder, value in ((b"@@FROM@@", sender), (b"@@TO@@", to), (b"@@IN_REPLY_TO@@", in_reply_to)):
        raw = raw.replace(placeholder, value.encode())
    return raw
