"""What an SMTP server's refusal is about: the recipient's address, or us (our sender, the relay, the content).

Only the first is a bounce. A 5xx at MAIL FROM or after the message's data,
or with an enhanced status code about security or policy (5.7.x), the mail
system (5.3.x) or the protocol (5.5.x), says nothing about the member: the
same message would be refused for anyone. A 5xx at RCPT, or an enhanced code
about the address (5.1.x, 5.2.1 "mailbox disabled"), is about the recipient.
"""
import re
from dataclasses import dataclass

_ENHANCED = re.compile(r"\s*[245]\.(\d{1,3})\.(\d{1,3})\b")
_ABOUT_US = {"3", "5", "7"}  # the mail system, the protocol, security or policy


@dataclass(frozen=True)
class Refusal:
    """A server's refusal: the step it came at ("mail", "rcpt" or "data"), its code and its words."""
    stage: str
    code: int
    text: str

    def __str__(self) -> str:
        return f"SMTP {self.code} {self.text}"

    @property
    def is_temporary(self) -> bool:
        return not 500 <= self.code < 600

    @property
    def is_about_recipient(self) -> bool:
        """A permanent refusal of the recipient's address: a hard bounce."""
        if self.is_temporary or self.stage == "mail":
            return False
        enhanced = _ENHANCED.match(self.text)
        if enhanced:
            subject, detail = enhanced.groups()
            if subject == "1" or (subject, detail) == ("2", "1"):
                return True
            if subject in _ABOUT_US:
                return False
        return self.stage == "rcpt"


def refusal(stage: str, code: int, response: bytes | str) -> Refusal:
    """The refusal with the server's words as one line of printable text (a reply can carry a NUL)."""
    text = response.decode("utf-8", errors="replace") if isinstance(response, bytes) else str(response)
    return Refusal(stage, code, printable_line(text)[:900])


def printable_line(text: str) -> str:
    """One line of printable text (PostgreSQL refuses NUL; folded headers and multi-line replies carry newlines)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
