"""How far `flask mail poll-imap` has read a mailbox folder, so each pass fetches only what arrived since."""
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.clock import now
from service.extensions import db


class ImapMailboxState(db.Model):
    """One row per mailbox folder (user@host:port/folder). IMAP UIDs only grow within one UIDVALIDITY; when the
    server announces another UIDVALIDITY the folder was rebuilt and is read again from its first message (the
    Message-ID keeps what was stored before from being stored twice)."""
    __tablename__ = "imap_mailbox_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500), unique=True)
    uid_validity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
