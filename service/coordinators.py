"""Coordinator accounts: creation, password checks, the sessions a login opens, disabling and enabling."""
import secrets

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from service import audit, normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Community, CommunityCoordinator, Coordinator

MIN_PASSWORD_LENGTH = 10
# Checked when the address is unknown, so a wrong address costs as long as a wrong password: a hash made with
# werkzeug's default method, as every account's is (tests/test_security.py checks that they still agree). Written
# out rather than made at import, which cost 0.1 s of CPU in every process: each web worker gunicorn starts, and
# each `flask mail receive` the mail server runs for a message.
_DUMMY_HASH = ("scrypt:32768:8:1$ECw90NVX1uvoBY70$54145a15b57a049a97b4f76acd7acc88fa84708ddcb6bef4e1329053284116d7e5"
               "a3bab576e436b596418de6cde8afc275eb9672a92cb487984d1725eb90ffc3")


# Marks a password hash that no password matches (werkzeug needs "method$salt$hash"): an invited account
# before its invitation link is used.
UNUSABLE_PREFIX = "!"


def create_coordinator(email: str, name: str, password: str | None, is_admin: bool = False,
                       language: str = "en") -> Coordinator:
    """Create an account; without a password, one nobody can log in to until a link sets it. The caller commits."""
    address = normalize.email_address(email)
    if password is not None:
        _check_password(password)
    if db.session.scalar(select(Coordinator).where(Coordinator.email == address)):
        raise DomainError(_("A coordinator with the address %(address)s already exists.", address=address), "email")
    # The unusable hash is random so that each account's link fingerprint (service.password_reset) differs.
    password_hash = generate_password_hash(password) if password is not None \
        else UNUSABLE_PREFIX + secrets.token_hex(16)
    coordinator = Coordinator(email=address, name=normalize.text(name) or address, is_admin=is_admin,
                              password_hash=password_hash, language=language)
    db.session.add(coordinator)
    return coordinator


def has_password(coordinator: Coordinator) -> bool:
    """Whether the account has a password set (an invited one has none until its link is used)."""
    return not coordinator.password_hash.startswith(UNUSABLE_PREFIX)


def find_coordinator(email: str) -> Coordinator | None:
    """The account with this address, whatever its case (None for text that is no address at all)."""
    try:
        address = normalize.email_address(email)
    except DomainError:
        return None
    return db.session.scalar(select(Coordinator).where(func.lower(Coordinator.email) == address))


class AccountDisabled(DomainError):
    """The address and password are right, but an administrator disabled the account."""


def authenticate(email: str, password: str) -> Coordinator | None:
    """The active coordinator with this address and password, or None; AccountDisabled for a disabled one.

    Only someone who knows the password learns that the account is disabled.
    """
    coordinator = find_coordinator(email)
    if coordinator is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(coordinator.password_hash, password or ""):
        return None
    if not coordinator.active:
        raise AccountDisabled(_("This account is disabled. Ask an administrator to enable it again."))
    return coordinator


def accounts() -> list[tuple[Coordinator, list[str]]]:
    """Every coordinator account, by address, with the names of the communities it has a role in (the role
    after the name when it is not "coordinator")."""
    names: dict[int, list[str]] = {}
    for coordinator_id, name, role in db.session.execute(
            select(CommunityCoordinator.coordinator_id, Community.name, CommunityCoordinator.role)
            .join(Community, Community.id == CommunityCoordinator.community_id).order_by(Community.name)):
        names.setdefault(coordinator_id, []).append(name if role == "coordinator" else f"{name} ({role})")
    return [(coordinator, names.get(coordinator.id, []))
            for coordinator in db.session.scalars(select(Coordinator).order_by(Coordinator.email))]


def disable(coordinator: Coordinator) -> bool:
    """Stop the account logging in and end its open sessions, audited; False if it was disabled already.

    Its communities, and everything it did, stay. The caller commits.
    """
    if not coordinator.active:
        return False
    coordinator.active = False
    end_sessions(coordinator)
    audit.record(None, "coordinator.disabled", "coordinator", coordinator.id, address=coordinator.email)
    return True


def enable(coordinator: Coordinator) -> bool:
    """Let a disabled account log in again with its password, audited; False if it was enabled. The caller commits."""
    if coordinator.active:
        return False
    coordinator.active = True
    audit.record(None, "coordinator.enabled", "coordinator", coordinator.id, address=coordinator.email)
    return True


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), "password")


def set_password(coordinator: Coordinator, password: str) -> None:
    """Give the account a new password and end every session opened with the old one; the caller commits."""
    _check_password(password)
    coordinator.password_hash = generate_password_hash(password)
    end_sessions(coordinator)


def end_sessions(coordinator: Coordinator) -> None:
    """Make every session cookie issued to this account so far worthless (they carry the old version).

    Flask's session is a signed cookie that stays valid wherever a copy of it
    is kept; the version in it is what the server can take back. The caller commits.
    """
    coordinator.session_version = Coordinator.session_version + 1  # in SQL: two logouts at once both count


def coordinator_for_session(login_id: str) -> Coordinator | None:
    """The active coordinator a session's login id (`id.version`, see Coordinator.get_id) still stands for."""
    coordinator_id, _dot, version = (login_id or "").partition(".")
    if not (coordinator_id.isascii() and coordinator_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    coordinator = db.session.get(Coordinator, int(coordinator_id))
    if coordinator is None or not coordinator.active or coordinator.session_version != int(version):
        return None
    return coordinator
