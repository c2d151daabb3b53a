"""Time zones as people read them: the picker offers current zones by region with friendly names, in the
coordinator's language; pages and emails say "Central Time (Chicago)" rather than America/Chicago."""
import re
from datetime import datetime, timezone

from service import moments, time_zones
from service.coordinators import create_coordinator
from service.extensions import db
from service.models import Community
from tests.conftest import PASSWORD, login, post_form


def test_only_current_zones_are_offered_never_an_alias():
    zones = time_zones.current_zones()
    assert "America/Denver" in zones and "Europe/Madrid" in zones and "America/Mexico_City" in zones
    for alias in ("US/Eastern", "US/Mountain", "Asia/Calcutta", "America/Buenos_Aires", "Etc/GMT+5", "UTC"):
        assert alias not in zones


def test_the_picker_groups_zones_by_region_with_names_people_read(alice_client, personas):
    html = alice_client.get("/communities/new").get_data(as_text=True)
    assert re.search(r'<optgroup label="Americas">.*<option selected value="America/Chicago">Central Time \(Chicago\)'
                     r'</option>', html, re.S)
    assert '<option value="America/Denver">Mountain Time (Denver)</option>' in html
    assert '<optgroup label="Europe">' in html and "US/Eastern" not in html


def test_a_spanish_speaking_coordinator_reads_the_zones_in_spanish(app, client):
    with app.app_context():
        create_coordinator("lucia@example.org", "Lucía", PASSWORD, language="es")
        db.session.commit()
    assert login(client, "lucia@example.org", PASSWORD).status_code == 302
    html = client.get("/communities/new").get_data(as_text=True)
    assert '<optgroup label="América">' in html
    assert '<option value="America/Denver">hora de las Montañas Rocosas (Denver)</option>' in html


def test_a_community_kept_under_an_older_alias_is_edited_without_losing_its_zone(app, alice_client, personas):
    with app.app_context():
        community = db.session.get(Community, personas["riverside"])
        community.time_zone = "US/Eastern"
        db.session.commit()
    url = f"/communities/{personas['riverside']}/edit"
    html = alice_client.get(url).get_data(as_text=True)
    assert '<optgroup label="Other">' in html and '<option selected value="US/Eastern">' in html
    response = post_form(alice_client, url, {"name": "Riverside COP", "description": "", "time_zone": "US/Eastern",
                                             "stage": "forming", "digest_cadence": "biweekly"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Community, personas["riverside"]).time_zone == "US/Eastern"


def test_a_moment_is_written_in_the_zone_with_its_name_across_a_clock_change(app):
    with app.app_context():
        winter = moments.text(datetime(2026, 1, 15, 0, 30, tzinfo=timezone.utc), "America/Denver", "en", "moment")
        summer = moments.text(datetime(2026, 7, 15, 0, 30, tzinfo=timezone.utc), "America/Denver", "es", "moment")
    assert winter == "Wednesday, January 14, 2026 5:30\u202fPM, Mountain Time (Denver)"  # UTC-7
    assert summer.startswith("martes, 14 de julio de 2026 18:30") and summer.endswith("(Denver)")  # UTC-6

