"""The demo community seeded on first start in embedded mode."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from service import communities, lesson_files, meetings, members
from service.coordinators import create_coordinator
from service.errors import DomainError
from service.extensions import db
from service.models import Coordinator

DEMO_LOGIN = ("coordinator@example.org", "community-demo-2026")

ORGANIZATIONS = ("Riverside Family Center", "Casa de la Esperanza", "Northside Youth Alliance")
# (name, language, role) per organization; addresses are made from the names.
PEOPLE = {
    "Riverside Family Center": [
        ("Maya Thompson", "en", "leader"), ("Daniel Brooks", "en", "member"), ("Priya Natarajan", "en", "member"),
        ("Lucía Herrera", "es", "member"), ("Grace Okafor", "en", "facilitator"), ("Tom Becker", "en", "member"),
        ("Rosa Jiménez", "es", "member"), ("Alan Fischer", "en", "member"), ("Hannah Kim", "en", "member"),
        ("Marcus Reed", "en", "member")],
    "Casa de la Esperanza": [
        ("Carmen Ruiz", "es", "leader"), ("José Martínez", "es", "member"), ("Ana Sofía Torres", "es", "facilitator"),
        ("Miguel Ángel Castro", "es", "member"), ("Elena Vargas", "es", "member"), ("Luis Fernández", "es", "member"),
        ("Patricia Morales", "es", "member"), ("Sara Ortiz", "en", "member"), ("Diego Ramírez", "es", "member"),
        ("Valeria Gómez", "es", "member")],
    "Northside Youth Alliance": [
        ("Jordan Ellis", "en", "leader"), ("Aisha Bello", "en", "member"), ("Kevin Nguyen", "en", "member"),
        ("Isabel Medina", "es", "member"), ("Chris Walker", "en", "facilitator"), ("Fatima Haddad", "en", "member"),
        ("Samuel Ortega", "es", "member"), ("Olivia Grant", "en", "member"), ("Noah Patel", "en", "member"),
        ("Camila Rojas", "es", "member")],
}


def _address(name: str) -> str:
    ascii_name = name.lower().translate(str.maketrans("áéíóúñü", "aeiounu"))
    return ".".join(ascii_name.split()) + "@example.org"


def seed_demo() -> bool:
    """Create the demo coordinator, community and members unless they exist; True if created.

    Refused in production: the demo login's password is published.
    """
    if current_app.config["APP_ENV"] == "production":
        raise DomainError("The demo data is not for production: its login's password is published. "
                          "Create coordinators with `flask users create`.")
    email, password = DEMO_LOGIN
    if db.session.scalar(select(Coordinator).where(Coordinator.email == email)):
        return False
    coordinator = create_coordinator(email, "Demo Coordinator", password)
    db.session.flush()
    community = communities.create_community(
        coordinator, name="Family Services Community of Practice", time_zone="America/Chicago",
        stage="forming", digest_cadence="biweekly",
        description="Three neighborhood organizations learning together how to support families.")
    community.lesson_id = lesson_files.load_lesson_dir(lesson_files.BUILT_IN_LESSON_DIR).id  # the built-in lesson
    for organization, people in PEOPLE.items():
        for name, language, role in people:
            membership = members.add_member(coordinator, community, name=name, email=_address(name),
                                            organization=organization, language=language, role=role)
            membership.willing_to_facilitate = role == "facilitator"  # the facilitation rotation
    db.session.flush()
    _schedule_first_meeting(coordinator, community)
    db.session.commit()
    return True


def _schedule_first_meeting(coordinator, community) -> None:
    """A kickoff a week from now, so the demo's Outbox shows real invitations (caught by the local sink)."""
    day = (datetime.now(ZoneInfo(community.time_zone)) + timedelta(days=7)).date()
    meetings.create_meeting(
        coordinator, community, starts_at=meetings.to_utc(community, day, time(10, 0)), duration_minutes=90,
        title="Kickoff: what do we want to learn together?", location="Riverside Family Center, Room 2",
        agenda="1. Introductions: one thing your organization is proud of\n"
               "2. What each of us hopes to learn this year\n3. How often and where we meet")
