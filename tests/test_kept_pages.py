"""The community page and the members list are kept whole between changes (service/views/kept_pages.py): every
change they show is on them at the next look, whoever made it and however (here in plain SQL, as another process
or a bulk job would), time alone moves them when it should, and each session gets its own CSRF token in them."""
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from service.clock import now
from service.extensions import db
from service.models import Community, Meeting
from tests.conftest import CSRF_RE, PASSWORD, login


def _sql(app, statement: str, **params) -> None:
    """A change committed outside the app's session, as another process would make it."""
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text(statement), params)


def _pages(client, community_id: int) -> tuple[str, str]:
    """The community page and the members list as the client sees them, each looked at twice (the second look is
    the kept copy)."""
    pages = []
    for url in (f"/communities/{community_id}", f"/communities/{community_id}/members/"):
        first = client.get(url).get_data(as_text=True)
        second = client.get(url).get_data(as_text=True)
        assert CSRF_RE.sub("", second) == CSRF_RE.sub("", first)  # the same page, with a token signed for now
        pages.append(second)
    return pages[0], pages[1]


def _people_section(page: str) -> str:
    return page[page.index('id="roles"'):] if 'id="roles"' in page else page


CHANGES = [  # (what changes, the SQL, its parameters, what both pages or the community page then say)
    ("a member's address", "UPDATE member SET email = :new WHERE email = :old",
     {"new": "ana.torres@casaverde.org", "old": "ana@example.org"}, "ana.torres@casaverde.org", True),
    ("an organization's name", "UPDATE organization SET name = :new WHERE name = :old",
     {"new": "Casa Verde Unida", "old": "Casa Verde"}, "Casa Verde Unida", True),
    ("a member's pause", "UPDATE member SET paused = :paused WHERE email = :email",
     {"paused": True, "email": "ana@example.org"}, "paused all email", False),
    ("a member's bounce", "UPDATE member SET status = 'bounced' WHERE email = :email",
     {"email": "ana@example.org"}, "their address bounces", False),
]


@pytest.mark.parametrize("what, statement, params, shown, on_members_list", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_change_made_anywhere_is_on_the_kept_pages_at_the_next_look(app, alice_client, personas, what, statement,
                                                                      params, shown, on_members_list):
    riverside = personas["riverside"]
    community_page, members_list = _pages(alice_client, riverside)
    assert shown not in community_page and shown not in members_list
    _sql(app, statement, **params)
    community_page, members_list = _pages(alice_client, riverside)
    assert shown in community_page
    assert (shown in members_list) is on_members_list


def test_the_last_bounce_a_role_given_and_an_accounts_new_name_show_at_the_next_look(app, alice_client, personas):
    riverside = personas["riverside"]
    _sql(app, "UPDATE member SET status = 'bounced' WHERE email = 'ana@example.org'")
    page, _list = _pages(alice_client, riverside)
    assert "Members who are not receiving email" in page and "550 5.1.1 mailbox unknown" not in page
    _sql(app, "INSERT INTO bounce_event (member_id, address, kind, diagnostic, created_at)"
              " SELECT id, email, 'hard', '550 5.1.1 mailbox unknown', CURRENT_TIMESTAMP FROM member"
              " WHERE email = 'ana@example.org'")
    page, _list = _pages(alice_client, riverside)
    assert "550 5.1.1 mailbox unknown" in page

    assert "Bob" not in _people_section(page)
    _sql(app, "INSERT INTO community_coordinator (community_id, coordinator_id, role)"
              " VALUES (:community, :bob, 'observer')", community=riverside, bob=personas["bob"])
    page, _list = _pages(alice_client, riverside)
    assert "Bob" in _people_section(page)
    _sql(app, "UPDATE coordinator SET name = 'Roberto Lago' WHERE id = :bob", bob=personas["bob"])
    page, _list = _pages(alice_client, riverside)
    assert "Roberto Lago" in _people_section(page)


def test_a_digest_issue_and_the_communitys_own_settings_show_at_the_next_look(app, alice_client, personas):
    riverside = personas["riverside"]
    with app.app_context():
        db.session.get(Community, riverside).reminder_offsets = [1440, 60]  # a list in the page's key
        db.session.commit()
    page, _list = _pages(alice_client, riverside)
    assert "Lesson digests are off." in page
    _sql(app, "UPDATE community SET digest_enabled = :on WHERE id = :id", on=True, id=riverside)
    page, _list = _pages(alice_client, riverside)
    assert "No issue in the last" in page
    _sql(app, "INSERT INTO digest_issue (community_id, number, slot_at, created_at)"
              " VALUES (:id, 1, :slot, CURRENT_TIMESTAMP)", id=riverside, slot=now() - timedelta(days=1))
    page, _list = _pages(alice_client, riverside)
    assert "An issue went out in the last" in page


def test_a_meeting_that_starts_counts_as_held_once_its_time_comes(app, alice_client, personas):
    riverside = personas["riverside"]
    with app.app_context():
        db.session.add(Meeting(community_id=riverside, uid="kept-pages@test", title_en="Kickoff call",
                               starts_at=now() + timedelta(seconds=2)))
        db.session.commit()
    page, _list = _pages(alice_client, riverside)
    assert "No meeting has taken place yet." in page
    assert "Kickoff call" in page[page.index('id="rotation"'):]  # among the upcoming meetings
    time.sleep(2.5)
    page, _list = _pages(alice_client, riverside)
    assert "1 meeting held." in page
    assert "Kickoff call" not in page[page.index('id="rotation"'):]


def test_each_session_gets_its_own_token_in_a_kept_page_and_its_forms_work(app, personas):
    riverside = personas["riverside"]
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        assert login(client, "alice@example.org", PASSWORD).status_code == 302
    _pages(first, riverside)  # kept now
    tokens = {}
    for name, client in (("first", first), ("second", second)):
        page = client.get(f"/communities/{riverside}/members/").get_data(as_text=True)
        found = {match.group(1) or match.group(2) for match in CSRF_RE.finditer(page)}
        assert len(found) == 1
        tokens[name] = found.pop()
    # Each token carries its session's own secret (before the first dot), never the session that filled the page.
    assert tokens["first"].split(".")[0] != tokens["second"].split(".")[0]
    page = second.get(f"/communities/{riverside}/members/").get_data(as_text=True)
    deactivate = re.search(r'action="([^"]*/deactivate)"', page).group(1)
    response = second.post(deactivate, data={"csrf_token": tokens["second"]})
    assert response.status_code == 302
    assert "Ana Torres was deactivated." in second.get(response.headers["Location"]).get_data(as_text=True)
    _community_page, members_list = _pages(first, riverside)
    assert 'class="inactive"' in members_list and "Reactivate" in members_list


def test_a_search_of_the_members_list_is_kept_apart_from_the_whole_list(app, alice_client, personas):
    riverside = personas["riverside"]
    _pages(alice_client, riverside)
    found = alice_client.get(f"/communities/{riverside}/members/?q=nobody-by-this-name").get_data(as_text=True)
    assert "No member matches." in found and "Ana Torres" not in found
    whole = alice_client.get(f"/communities/{riverside}/members/").get_data(as_text=True)
    assert "Ana Torres" in whole
