"""Reading an existing mailbox over IMAP, for an organization whose mail to INBOUND_DOMAIN lands in a Gmail or
other hosted mailbox rather than on a server that could pipe it to us.

Each pass fetches the messages whose UID is above the last one stored
(ImapMailboxState, per folder and UIDVALIDITY), at most INBOUND_IMAP_BATCH,
without marking them read; each one addressed to INBOUND_DOMAIN goes through
store.receive, and only once it is committed is it marked \\Seen (or moved to
INBOUND_IMAP_MOVE_TO) and the UID recorded. Nothing is deleted. A message
that could not be stored (the database down) stays where it was and is read
on the next pass; the Message-ID keeps a message read twice from being stored
twice. Other mail in the folder is left untouched and unread.
"""
import imaplib
import logging
import ssl
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from flask import current_app
from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage, MailMessageFlags
from imap_tools.errors import ImapToolsError
from redis.exceptions import LockError, RedisError
from sqlalchemy import select

from service import clock
from service.extensions import db
from service.inbound.store import TooLarge, receive
from service.models import ImapMailboxState
from service.queue import redis_connection

log = logging.getLogger(__name__)

LOCK_NAME = "cop:inbound:imap-poll"
LOCK_SECONDS = 15 * 60  # longer than a pass may take; a pass that died frees it after this
# Where a forwarded or routed message says which of our addresses it was for; store.receive reads the standard ones
# again, these are the ones Gmail routing and forwarding services add.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "X-Gm-Original-To", "X-Forwarded-To", "Envelope-To",
                     "To", "Cc")
MAILBOX_ERRORS = (OSError, imaplib.IMAP4.error, ImapToolsError)


class RawMailMessage(MailMessage):
    """imap-tools' message, keeping the bytes exactly as the server sent them."""

    def __init__(self, fetch_data: list) -> None:
        super().__init__(fetch_data)
        self.raw = self._get_message_data_parts(fetch_data)[0]


@dataclass
class PollResult:
    stored: int = 0
    already_stored: int = 0
    not_ours: int = 0  # left unread in the folder: not addressed to INBOUND_DOMAIN
    too_large: int = 0  # left in the folder, flagged for a person
    waiting: int = 0  # beyond this pass's batch: the next pass reads them
    error: str = ""

    def __str__(self) -> str:
        text = (f"{self.stored} stored, {self.already_stored} already stored, {self.not_ours} not for "
                f"{current_app.config['INBOUND_DOMAIN']}, {self.too_large} too large, {self.waiting} waiting")
        return f"{text}; stopped: {self.error}" if self.error else text


def mailbox_name(config) -> str:
    return (f"{config['INBOUND_IMAP_USER']}@{config['INBOUND_IMAP_HOST']}:{config['INBOUND_IMAP_PORT']}"
            f"/{config['INBOUND_IMAP_FOLDER']}")[:500]


def poll_exclusively() -> PollResult | None:
    """One pass, unless another is running (None then). Without Redis it polls anyway: two passes at once
    fetch some messages twice, and the Message-ID stores them once."""
    try:
        lock = redis_connection().lock(LOCK_NAME, timeout=LOCK_SECONDS, blocking=False)
        if not lock.acquire():
            return None
    except RedisError as error:
        log.warning("polling IMAP without the lock, Redis is unavailable: %s", error)
        return poll_once()
    try:
        return poll_once()
    finally:
        try:
            lock.release()
        except (LockError, RedisError):  # expired, or Redis went away: it frees itself
            pass


def poll_once() -> PollResult:
    """Read what arrived in the configured folder since the last pass; see the module's docstring."""
    config = current_app.config
    state = _state(mailbox_name(config))
    result = PollResult()
    try:
        with _connect(config) as box:
            _read_new(box, state, config, result)
        state.last_error = ""
    except MAILBOX_ERRORS as error:
        db.session.rollback()
        result.error = f"{type(error).__name__}: {error}"[:500]
        log.warning("IMAP poll of %s stopped: %s", state.mailbox, result.error)
        state = _state(state.mailbox)
        state.last_error = result.error
    state.polled_at = clock.now()
    db.session.commit()
    return result


def _read_new(box, state: ImapMailboxState, config, result: PollResult) -> None:
    validity = box.folder.status(config["INBOUND_IMAP_FOLDER"], ["UIDVALIDITY"])["UIDVALIDITY"]
    if validity != state.uid_validity:  # a new or rebuilt folder: its UIDs start again
        state.uid_validity, state.last_uid = validity, 0
        db.session.commit()
    # "N:*" always matches the last message, even when its UID is below N: keep only the new ones.
    new = sorted(uid for uid in map(int, box.uids(f"UID {state.last_uid + 1}:*")) if uid > state.last_uid)
    batch = new[:config["INBOUND_IMAP_BATCH"]]
    result.waiting = len(new) - len(batch)
    if not batch:  # imap-tools reads an empty uid_list as "every message"
        return
    for message in box.fetch(uid_list=[str(uid) for uid in batch], mark_seen=False):
        _take(box, message, config, result)
        state.last_uid = int(message.uid)
        db.session.commit()


def _take(box, message: RawMailMessage, config, result: PollResult) -> None:
    """Store one fetched message and mark it in the mailbox; a database error propagates and stops the pass."""
    recipient = _our_recipient(message.raw, config["INBOUND_DOMAIN"])
    if recipient is None:
        result.not_ours += 1
        return
    try:
        _row, new = receive(message.raw, recipient, "imap")
    except TooLarge:
        log.warning("IMAP message %s is over INBOUND_MAX_BYTES; left in the mailbox, flagged", message.uid)
        box.flag(message.uid, MailMessageFlags.FLAGGED, True)
        result.too_large += 1
        return
    if new:
        result.stored += 1
    else:
        result.already_stored += 1
    box.flag(message.uid, MailMessageFlags.SEEN, True)
    if config["INBOUND_IMAP_MOVE_TO"]:
        box.move(message.uid, config["INBOUND_IMAP_MOVE_TO"])


def _our_recipient(raw: bytes, domain: str) -> str | None:
    """The first address at INBOUND_DOMAIN among the recipient headers, or None when the message was not addressed
    to us at all (store.receive prefers a signed one of its own headers when this one is not signed)."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:256 * 1024])
    for name in RECIPIENT_HEADERS:
        for _name, address in getaddresses([str(value) for value in headers.get_all(name, [])]):
            if address.strip("<>").rpartition("@")[2].lower().rstrip(".") == domain.lower():
                return address.strip("<>")
    return None


def _connect(config):
    host, port, timeout = config["INBOUND_IMAP_HOST"], config["INBOUND_IMAP_PORT"], config["MAIL_TIMEOUT"]
    if config["INBOUND_IMAP_SSL"]:
        box = MailBox(host, port, timeout=timeout, ssl_context=ssl.create_default_context())
    elif config["INBOUND_IMAP_STARTTLS"]:
        box = MailBoxStartTls(host, port, timeout=timeout, ssl_context=ssl.create_default_context())
    else:
        box = MailBoxUnencrypted(host, port, timeout=timeout)
    box.email_message_class = RawMailMessage
    return box.login(config["INBOUND_IMAP_USER"], config["INBOUND_IMAP_PASSWORD"],
                     initial_folder=config["INBOUND_IMAP_FOLDER"])


def _state(mailbox: str) -> ImapMailboxState:
    state = db.session.scalar(select(ImapMailboxState).where(ImapMailboxState.mailbox == mailbox))
    if state is None:
        state = ImapMailboxState(mailbox=mailbox, uid_validity=0, last_uid=0, last_error="")
        db.session.add(state)
        db.session.commit()
    return state
