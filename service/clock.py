"""The current time, and datetimes from the database made timezone-aware (SQLite returns naive UTC)."""
from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def aware(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)
