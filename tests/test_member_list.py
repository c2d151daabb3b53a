"""The members list: search, filters, sorting and pages computed in SQL, scoped to one community; the community
page's summary of it."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from service import members
from service.clock import now
from service.extensions import db
from service.member_list import PAGE_SIZE, SUMMARY_ROWS
from service.models import BounceEvent, Community, Coordinator, Member

ORGANIZATIONS = ("Casa Verde", "Riverside Food Bank", "Northside Pantry", None)


def _url(community_id: int, **args) -> str:
    query = "&".join(f"{key}={value}" for key, value in args.items())
    return f"/communities/{community_id}/members/" + (f"?{query}" if query else "")


def _names(html: str) -> list[str]:
    """The name column of the page's members table, in order."""
    table = re.search(r'<table class="members">(.*?)</table>', html, re.S)
    if table is None:
        return []
    return re.findall(r'<tr class="\w+">\s*<td><a href="[^"]*">(.*?)</a></td>', table.group(1))


def _seed(app, riverside: int, count: int = 30) -> None:
    """`count` more members of Riverside across organizations, roles, languages and statuses, joined a day apart."""
    with app.app_context():
        community = db.session.get(Community, riverside)
        alice = db.session.scalar(db.select(Coordinator).where(Coordinator.email == "alice@example.org"))
        for number in range(count):
            membership = members.add_member(
                alice, community, name=f"Person {number:02d} {'Núñez' if number % 7 == 0 else 'Smith'}",
                email=f"person{number}@{'pantry.org' if number % 3 == 0 else 'example.org'}",
                organization=ORGANIZATIONS[number % 4], language="es" if number % 2 else "en",
                role=("member", "facilitator", "leader")[number % 3])
            membership.created_at = now() - timedelta(days=count - number)
            if number % 5 == 4:
                members.set_membership_status(alice, membership, "inactive")
        db.session.flush()
        people = {m.email: m for m in db.session.scalars(db.select(Member))}
        people["person1@example.org"].status = "unsubscribed"
        people["person2@example.org"].status = "bounced"
        people["person3@pantry.org"].paused = True
        db.session.commit()


def _sql_names(app, community_id: int, where: str = "1 = 1", order: str = "lower(ms.name), ms.id",
               **params) -> list[str]:
    """The same question asked of the database directly, written independently of service/member_list.py."""
    with app.app_context():
        return list(db.session.scalars(text(f"""
            SELECT ms.name FROM membership ms JOIN member m ON m.id = ms.member_id
            LEFT JOIN organization o ON o.id = ms.organization_id
            WHERE ms.community_id = :community AND {where} ORDER BY {order}"""),
            {"community": community_id, **params}))


@pytest.fixture
def seeded(app, personas):
    _seed(app, personas["riverside"])
    return personas


@pytest.mark.parametrize("args, where, params", [
    ({"q": "SMITH"}, "lower(ms.name) LIKE :p", {"p": "%smith%"}),
    ({"q": "pantry"}, "(lower(ms.name) LIKE :p OR m.email LIKE :p OR lower(o.name) LIKE :p)", {"p": "%pantry%"}),
    ({"q": "casa"}, "lower(o.name) LIKE :p", {"p": "%casa%"}),
    ({"q": "100%"}, "1 = 0", {}),  # a wildcard typed in the box is a character, not "anything"
    ({"role": "leader"}, "ms.role = 'leader'", {}),
    ({"language": "es"}, "ms.language = 'es'", {}),
    ({"status": "inactive"}, "ms.status = 'inactive'", {}),
    ({"status": "active"}, "ms.status = 'active' AND m.status = 'active' AND NOT m.paused", {}),
    ({"status": "unsubscribed"}, "ms.status = 'active' AND m.status = 'unsubscribed'", {}),
    ({"status": "paused"}, "ms.status = 'active' AND m.status = 'active' AND m.paused", {}),
    ({"q": "smith", "language": "en", "role": "member"},
     "lower(ms.name) LIKE '%smith%' AND ms.language = 'en' AND ms.role = 'member'", {}),
])
def test_search_and_filters_list_exactly_the_rows_the_database_holds(app, alice_client, seeded, args, where, params):
    riverside = seeded["riverside"]
    expected = _sql_names(app, riverside, where, **params)
    page = alice_client.get(_url(riverside, **args)).get_data(as_text=True)
    assert _names(page) == expected
    if expected:
        assert f"{len(expected)} member" in page
    else:
        assert "No member matches." in page


def test_organization_filter_and_sorts_follow_the_database(app, alice_client, seeded):
    riverside = seeded["riverside"]
    with app.app_context():
        casa = db.session.scalar(text("SELECT id FROM organization WHERE name = 'Casa Verde'"))
    assert _names(alice_client.get(_url(riverside, organization=casa)).get_data(as_text=True)) == \
        _sql_names(app, riverside, "ms.organization_id = :org", org=casa)
    assert _names(alice_client.get(_url(riverside, sort="joined")).get_data(as_text=True)) == \
        _sql_names(app, riverside, order="ms.created_at DESC, ms.id DESC")
    by_organization = _names(alice_client.get(_url(riverside, sort="organization")).get_data(as_text=True))
    assert by_organization == _sql_names(
        app, riverside, order="CASE WHEN o.name IS NULL THEN 1 ELSE 0 END, lower(o.name), lower(ms.name), ms.id")


def test_search_ignores_case_of_accented_letters_on_either_database(app, alice_client, seeded):
    riverside = seeded["riverside"]
    expected = [f"Person {n:02d} Núñez" for n in range(0, 30, 7)]
    for term in ("NÚÑEZ", "núñez", "Ñ"):
        assert _names(alice_client.get(_url(riverside, q=term)).get_data(as_text=True)) == expected


def test_pages_cut_at_the_page_size_and_keep_the_filters_in_their_links(app, alice_client, personas):
    riverside = personas["riverside"]
    _seed(app, riverside, count=2 * PAGE_SIZE + 10)
    everyone = _sql_names(app, riverside)
    first = alice_client.get(_url(riverside)).get_data(as_text=True)
    assert _names(first) == everyone[:PAGE_SIZE]
    assert "Page 1 of 3" in first and 'rel="prev"' not in first
    assert _names(alice_client.get(_url(riverside, page=3)).get_data(as_text=True)) == everyone[2 * PAGE_SIZE:]
    # Past the end: the last page, never an empty one or an error.
    past = alice_client.get(_url(riverside, page=99)).get_data(as_text=True)
    assert _names(past) == everyone[2 * PAGE_SIZE:] and "Page 3 of 3" in past and 'rel="next"' not in past

    english = _sql_names(app, riverside, "ms.language = 'en'", order="ms.created_at DESC, ms.id DESC")
    filtered = alice_client.get(_url(riverside, language="en", sort="joined")).get_data(as_text=True)
    assert _names(filtered) == english[:PAGE_SIZE]
    following = re.search(r'<a rel="next" href="([^"]+)"', filtered).group(1).replace("&amp;", "&")
    assert "language=en" in following and "sort=joined" in following and "page=2" in following
    assert _names(alice_client.get(following).get_data(as_text=True)) == english[PAGE_SIZE:2 * PAGE_SIZE]


@pytest.mark.parametrize("args", [
    {"page": "0"}, {"page": "-3"}, {"page": "abc"}, {"page": "99999999999999999999"}, {"sort": "email;drop"},
    {"status": "deleted"}, {"role": "admin"}, {"language": "fr"}, {"organization": "abc"},
    {"organization": "99999999999999999999"}, {"q": "x" * 5000}, {"q": "%_\\"},
])
def test_bad_parameters_fall_back_to_the_defaults(app, alice_client, seeded, args):
    riverside = seeded["riverside"]
    response = alice_client.get(_url(riverside, **args))
    assert response.status_code == 200
    if "q" not in args:
        assert _names(response.get_data(as_text=True)) == _sql_names(app, riverside)


def test_another_communitys_members_never_appear_and_its_list_is_a_404(app, alice_client, seeded):
    riverside, lakeside = seeded["riverside"], seeded["lakeside"]
    with app.app_context():
        lake_org = db.session.scalar(text("SELECT id FROM organization WHERE name = 'Lake Org'"))
    for args in ({"q": "Ben"}, {"q": "lake"}, {"organization": lake_org}, {}):
        page = alice_client.get(_url(riverside, **args)).get_data(as_text=True)
        assert "Ben Lake" not in page and "ben@example.org" not in page and "Lake Org" not in page
    assert alice_client.get(_url(lakeside)).status_code == 404
    assert alice_client.get(_url(lakeside, q="Ben")).status_code == 404


def test_the_community_page_shows_counts_and_the_first_members_with_a_link_to_the_list(app, alice_client, seeded):
    riverside = seeded["riverside"]
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert len(_names(page)) == SUMMARY_ROWS
    assert _names(page) == _sql_names(app, riverside, "ms.status = 'active'")[:SUMMARY_ROWS]
    assert "Search, filter and sort all 31 members" in page
    inactive = len(_sql_names(app, riverside, "ms.status = 'inactive'"))
    assert f'status=inactive">inactive: {inactive}</a>' in page
    assert 'status=bounced">bounced: 1</a>' in page


def test_members_not_receiving_mail_are_listed_with_their_last_bounce(app, alice_client, seeded):
    riverside = seeded["riverside"]
    with app.app_context():
        bounced = db.session.scalar(db.select(Member).where(Member.email == "person2@example.org"))
        for diagnostic in ("550 earlier", "550 5.1.1 mailbox unknown"):
            db.session.add(BounceEvent(member_id=bounced.id, address=bounced.email, kind="hard",
                                       diagnostic=diagnostic))
        db.session.commit()
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    section = page[page.index("Members who are not receiving email"):]
    assert re.findall(r"<tr><td>(.*?)</td><td>.*?</td><td>(.*?)</td><td>(.*?)</td>", section) == [
        ("Person 01 Smith", "unsubscribed themselves", ""),
        ("Person 02 Smith", "their address bounces", "550 5.1.1 mailbox unknown"),
        ("Person 03 Smith", "paused all email", "")]
