"""Coordinator accounts: creation and password checks."""
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from service import normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Coordinator

MIN_PASSWORD_LENGTH = 10
# Checked when the address is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def create_coordinator(email: str, name: str, password: str, is_admin: bool = False,
                       language: str = "en") -> Coordinator:
    """Create an account; the caller commits."""
    address = normalize.email_address(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), "password")
    if db.session.scalar(select(Coordinator).where(Coordinator.email == address)):
        raise DomainError(_("A coordinator with the address %(address)s already exists.", address=address), "email")
    coordinator = Coordinator(email=address, name=normalize.text(name) or address, is_admin=is_admin,
                              password_hash=generate_password_hash(password), language=language)
    db.session.add(coordinator)
    return coordinator


def authenticate(email: str, password: str) -> Coordinator | None:
    """The active coordinator with this address and password, or None."""
    try:
        address = normalize.email_address(email)
    except DomainError:
        address = None
    coordinator = address and db.session.scalar(
        select(Coordinator).where(func.lower(Coordinator.email) == address))
    if coordinator is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not coordinator.active or not check_password_hash(coordinator.password_hash, password or ""):
        return None
    return coordinator
