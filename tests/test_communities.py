"""Communities on the dashboard: creating, editing, and what a community's page shows."""
import re

from sqlalchemy import func, select

from service import members
from service.extensions import db
from service.models import AuditEvent, Community, Membership
from tests.conftest import post_form

NEW_COMMUNITY = {"name": "Hillside COP", "description": "Food banks sharing volunteer practices",
                 "time_zone": "America/Denver", "stage": "forming", "digest_cadence": "monthly"}


def _community_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Community))


def test_create_community_then_it_is_listed_and_shown(app, alice_client, personas):
    response = post_form(alice_client, "/communities/new", NEW_COMMUNITY)
    assert response.status_code == 302
    match = re.fullmatch(r"/communities/(\d+)", response.headers["Location"])
    assert match
    page = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Community created." in page
    assert "<h1>Hillside COP</h1>" in page
    assert "Food banks sharing volunteer practices" in page
    assert "Mountain Time (Denver)" in page and "Monthly" in page  # the zone as people read it
    assert "No members yet" in page
    dashboard = alice_client.get("/").get_data(as_text=True)
    assert "Hillside COP" in dashboard and "Riverside COP" in dashboard
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "community.create",
                                                           AuditEvent.community_id == int(match.group(1))))
        assert event.actor == "alice@example.org" and event.details["name"] == "Hillside COP"


def test_a_new_community_is_not_visible_to_other_coordinators(app, alice_client, personas):
    response = post_form(alice_client, "/communities/new", NEW_COMMUNITY)
    community_url = response.headers["Location"]
    bob = app.test_client()
    from tests.conftest import PASSWORD, login
    login(bob, "bob@example.org", PASSWORD)
    assert "Hillside COP" not in bob.get("/").get_data(as_text=True)
    assert bob.get(community_url).status_code == 404


def test_create_community_with_empty_name_shows_error_and_saves_nothing(app, alice_client, personas):
    before = _community_count(app)
    response = post_form(alice_client, "/communities/new", {**NEW_COMMUNITY, "name": "   "})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="name-error"' in html and "Please correct the following" in html
    assert "Food banks sharing volunteer practices" in html  # what was typed is kept
    assert _community_count(app) == before


def test_create_community_with_unknown_time_zone_is_refused(app, alice_client, personas):
    before = _community_count(app)
    response = post_form(alice_client, "/communities/new", {**NEW_COMMUNITY, "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert 'id="time_zone-error"' in response.get_data(as_text=True)
    assert _community_count(app) == before


def test_edit_community_changes_name_stage_and_audits(app, alice_client, personas):
    riverside = personas["riverside"]
    url = f"/communities/{riverside}/edit"
    form = alice_client.get(url).get_data(as_text=True)
    assert 'value="Riverside COP"' in form and '<option selected value="America/Chicago">' in form
    response = post_form(alice_client, url, {
        "name": "Riverside Food COP", "description": "Now with a charter", "time_zone": "America/Chicago",
        "stage": "defining", "digest_cadence": "weekly"})
    assert response.status_code == 302
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "Changes saved." in page
    assert "<h1>Riverside Food COP</h1>" in page
    assert "Stage: <strong>Defining its work</strong>" in page and "Weekly" in page
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "community.update"))
        assert event.details["changes"]["stage"] == ["forming", "defining"]
        assert event.details["changes"]["name"] == ["Riverside COP", "Riverside Food COP"]


def test_edit_community_with_empty_name_keeps_the_old_one(app, alice_client, personas):
    riverside = personas["riverside"]
    response = post_form(alice_client, f"/communities/{riverside}/edit", {
        "name": "", "time_zone": "America/Chicago", "stage": "managing", "digest_cadence": "weekly"})
    assert response.status_code == 400
    assert 'id="name-error"' in response.get_data(as_text=True)
    with app.app_context():
        community = db.session.get(Community, riverside)
        assert (community.name, community.stage) == ("Riverside COP", "forming")


def test_community_page_shows_stage_organizations_with_counts_members_and_roles(app, alice_client, personas):
    riverside = personas["riverside"]
    with app.app_context():
        community = db.session.get(Community, riverside)
        alice = community.coordinators[0]
        from service.models import Coordinator
        alice = db.session.get(Coordinator, alice.coordinator_id)
        members.add_member(alice, community, name="Sam Lee", email="sam@example.org",
                           organization="casa verde", role="facilitator")
        members.add_member(alice, community, name="Lea Park", email="lea@example.org",
                           organization="Riverside Food Bank", role="leader")
        gone = members.add_member(alice, community, name="Old Timer", email="old@example.org",
                                  organization="Riverside Food Bank")
        members.add_member(alice, community, name="Solo Person", email="solo@example.org")
        members.set_membership_status(alice, gone, "inactive")
        db.session.commit()

    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "Stage: <strong>Forming</strong>" in page
    organizations = re.search(r'<ul class="orgs">(.*?)</ul>', page, re.S).group(1)
    # "casa verde" is the same organization as "Casa Verde"; the inactive member is not counted.
    assert re.findall(r"<li>(.*?) <span class=\"count\">\((\d+) members?\)</span></li>", organizations) == \
        [("Casa Verde", "2"), ("Riverside Food Bank", "1")]
    rows = re.findall(r'<tr class="(\w+)">\s*<td><a href="[^"]*">(.*?)</a></td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>'
                      r'\s*<td>(.*?)</td>', page)  # each name links to the member's page
    assert [(status, name, role) for status, name, _email, _org, role in rows] == [
        ("active", "Ana Torres", "Member"), ("active", "Lea Park", "Leader"),
        ("active", "Sam Lee", "Facilitator"), ("active", "Solo Person", "Member"),
        ("inactive", "Old Timer", "Member")]
    assert "Ben Lake" not in page  # Lakeside's member
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.community_id == riverside)) == 5
