"""Who runs a community from the dashboard: invitations by email, roles, removal, the login page's forgotten
password, and the TTA coordinator stepping back so that the community's mail goes out under its leaders' names."""
import re
import time
from datetime import datetime, timedelta, timezone
from email.utils import parseaddr

from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from service import digest_schedule, digests, lifecycle, meetings, members
from service.extensions import db
from service.models import (AuditEvent, Community, CommunityCoordinator, Coordinator, Membership, OutboundEmail,
                            Reminder)
from tests.conftest import PASSWORD, csrf_from, login, post_form, run_worker

NEW_PASSWORD = "a brand new passphrase"


def people_url(personas, community="riverside") -> str:
    return f"/communities/{personas[community]}/people"


def invite(client, personas, community="riverside", **fields):
    data = {"email": "lea@example.org", "name": "Lea Leader", "role": "leader", "language": "en", **fields}
    return post_form(client, people_url(personas, community), data, post_url=people_url(personas, community) + "/invite")


def emailed_link(app, smtp, address: str, pattern=r"http\S+/(?:invitation|password)/\S+") -> str:
    run_worker(app)
    received = smtp.to(address)[-1]
    text = received.message.get_body(("plain",)).get_content()
    return re.search(pattern, text).group(0).split("127.0.0.1:5000", 1)[1]


def audited(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
    return events


def role_of(app, email: str, community_id: int) -> str | None:
    with app.app_context():
        return db.session.scalar(select(CommunityCoordinator.role).join(
            Coordinator, Coordinator.id == CommunityCoordinator.coordinator_id).where(
            Coordinator.email == email, CommunityCoordinator.community_id == community_id))


# --- invitations ------------------------------------------------------------------------------------------

def test_an_invited_leader_sets_a_password_once_and_sees_only_that_community(app, personas, smtp, alice_client):
    response = invite(alice_client, personas)
    assert response.status_code == 302
    assert "lea@example.org is invited: we emailed them." in alice_client.get(people_url(personas)).get_data(
        as_text=True)

    path = emailed_link(app, smtp, "lea@example.org")
    [received] = smtp.to("lea@example.org")
    message = received.message
    assert message["Subject"] == "You are invited to help run Riverside COP"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Hello Lea Leader,")
    assert "Alice invited you to lead Riverside COP, a community of practice" in text
    assert "The link works once, for the next 7 days." in text
    assert login(app.test_client(), "lea@example.org", "").status_code == 400  # no password until the link

    lea = app.test_client()
    page = lea.get(path)
    assert page.status_code == 200 and "Choose your password" in page.get_data(as_text=True)
    done = post_form(lea, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.location.endswith("/")
    dashboard = lea.get("/").get_data(as_text=True)
    assert "Welcome! Your password is set." in dashboard
    assert "Riverside COP" in dashboard and "Lakeside COP" not in dashboard
    assert lea.get(f"/communities/{personas['riverside']}").status_code == 200
    assert lea.get(f"/communities/{personas['lakeside']}").status_code == 404

    again = app.test_client().get(path)
    assert again.status_code == 410 and "This link was already used" in again.get_data(as_text=True)
    assert login(app.test_client(), "lea@example.org", NEW_PASSWORD).status_code == 302
    [invited] = audited(app, "community.person_invited")
    assert (invited.actor, invited.community_id, invited.details) == (
        "alice@example.org", personas["riverside"], {"address": "lea@example.org", "role": "leader",
                                                     "new_account": True})
    assert [e.actor for e in audited(app, "coordinator.invitation_accepted")] == ["lea@example.org"]


def test_a_member_invited_as_leader_is_the_leader_on_the_members_list(app, personas, smtp, alice_client):
    assert invite(alice_client, personas, email="ANA@example.org", name="").status_code == 302
    with app.app_context():
        ana = db.session.scalar(select(Coordinator).where(Coordinator.email == "ana@example.org"))
        assert ana.name == "Ana Torres"  # the name the community knows her by
        membership = db.session.scalar(select(Membership).where(Membership.community_id == personas["riverside"]))
        assert membership.role == "leader"
    page = alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)
    assert "Ana Torres · Leader" in page and "(invited)" in page


def test_an_expired_or_tampered_invitation_link_is_explained(app, personas, smtp, alice_client, monkeypatch):
    invite(alice_client, personas)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 8 * 24 * 3600)
    path = emailed_link(app, smtp, "lea@example.org")
    monkeypatch.undo()
    page = app.test_client().get(path)
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "This link has expired" in html and "Ask the person who invited you" in html

    tampered = app.test_client().get(path[:-3] + "abc")
    assert tampered.status_code == 404 and "This link does not work" in tampered.get_data(as_text=True)
    # A reset link is no invitation, nor the other way round.
    assert app.test_client().get(path.replace("/invitation/", "/password/")).status_code == 404

    # Sent again, with a link that works.
    with app.app_context():
        grant_id = db.session.scalar(select(CommunityCoordinator.id).where(CommunityCoordinator.role == "leader"))
    again = post_form(alice_client, people_url(personas), {},
                      post_url=f"{people_url(personas)}/{grant_id}/invite-again")
    assert again.status_code == 302
    fresh = emailed_link(app, smtp, "lea@example.org")
    assert app.test_client().get(fresh).status_code == 200


def test_someone_with_an_account_just_gets_the_role_and_an_email_saying_so(app, personas, smtp, alice_client):
    assert invite(alice_client, personas, email="bob@example.org", role="coordinator").status_code == 302
    run_worker(app)
    [received] = smtp.to("bob@example.org")
    assert received.message["Subject"] == "You can now help run Riverside COP"
    text = received.message.get_body(("plain",)).get_content()
    assert "Alice made you a coordinator of Riverside COP" in text and "/login" in text
    assert "/invitation/" not in text
    bob = app.test_client()
    assert login(bob, "bob@example.org", PASSWORD).status_code == 302  # his password is unchanged
    dashboard = bob.get("/").get_data(as_text=True)
    assert "Riverside COP" in dashboard and "Lakeside COP" in dashboard


def test_bad_invitations_are_refused_next_to_the_field_and_change_nothing(app, personas, alice_client):
    bad = invite(alice_client, personas, email="not-an-address")
    assert bad.status_code == 400
    assert "not-an-address is not a valid email address." in bad.get_data(as_text=True)
    assert invite(alice_client, personas, email="bob@example.org").status_code == 302
    twice = invite(alice_client, personas, email="bob@example.org")
    assert twice.status_code == 400
    assert "bob@example.org already has a role here: change it in the list." in twice.get_data(as_text=True)
    unknown_role = invite(alice_client, personas, email="zed@example.org", role="admin")
    assert unknown_role.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Coordinator).where(Coordinator.email.in_(
            ["not-an-address", "zed@example.org"]))) is None


def test_a_leader_invites_leaders_but_names_no_coordinator(app, personas, smtp, alice_client):
    invite(alice_client, personas)
    path = emailed_link(app, smtp, "lea@example.org")
    lea = app.test_client()
    post_form(lea, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    refused = invite(lea, personas, email="zed@example.org", role="coordinator")
    assert refused.status_code == 400 and "Choose coordinator or leader." in refused.get_data(as_text=True)
    assert role_of(app, "zed@example.org", personas["riverside"]) is None
    assert invite(lea, personas, email="zed@example.org", name="Zed").status_code == 302
    assert role_of(app, "zed@example.org", personas["riverside"]) == "leader"
    assert invite(lea, personas, community="lakeside", email="x@example.org").status_code == 404


# --- roles ------------------------------------------------------------------------------------------------

def _grant_id(app, email: str, community_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(CommunityCoordinator.id).join(
            Coordinator, Coordinator.id == CommunityCoordinator.coordinator_id).where(
            Coordinator.email == email, CommunityCoordinator.community_id == community_id))


def test_roles_change_and_go_but_someone_always_runs_the_community(app, personas, alice_client):
    alice = _grant_id(app, "alice@example.org", personas["riverside"])
    url = people_url(personas)
    refused = post_form(alice_client, url, {"role": "observer"}, post_url=f"{url}/{alice}/role",
                        follow_redirects=True)
    assert "Someone must be able to run this community" in refused.get_data(as_text=True)
    post_form(alice_client, url, {}, post_url=f"{url}/{alice}/remove")
    assert role_of(app, "alice@example.org", personas["riverside"]) == "coordinator"

    invite(alice_client, personas, email="new@example.org", role="leader")  # no password yet: cannot run it
    refused = post_form(alice_client, url, {}, post_url=f"{url}/{alice}/remove", follow_redirects=True)
    assert "an invited one counts once they have chosen their password" in refused.get_data(as_text=True)
    invite(alice_client, personas, email="bob@example.org", role="leader")
    bob = _grant_id(app, "bob@example.org", personas["riverside"])
    post_form(alice_client, url, {"role": "observer"}, post_url=f"{url}/{bob}/role")
    assert role_of(app, "bob@example.org", personas["riverside"]) == "observer"
    post_form(alice_client, url, {"role": "leader"}, post_url=f"{url}/{bob}/role")
    done = post_form(alice_client, url, {}, post_url=f"{url}/{alice}/remove", follow_redirects=True)
    assert "They no longer have a role in this community." in done.get_data(as_text=True)
    assert role_of(app, "alice@example.org", personas["riverside"]) is None
    assert alice_client.get(url).status_code == 404  # she is out
    [change, back] = audited(app, "community.role_changed")
    assert change.details == {"address": "bob@example.org", "role": ["leader", "observer"]}
    assert back.details["role"] == ["observer", "leader"]
    [removed] = audited(app, "community.person_removed")
    assert removed.details == {"address": "alice@example.org", "role": "coordinator"}

    # Bob's own community: alice cannot reach its people.
    lakeside_bob = _grant_id(app, "bob@example.org", personas["lakeside"])
    token = csrf_from(alice_client.get("/").get_data(as_text=True))
    assert alice_client.post(f"{people_url(personas, 'lakeside')}/{lakeside_bob}/remove",
                             data={"csrf_token": token}).status_code == 404


def test_an_observer_sees_the_community_but_every_change_is_refused(app, personas, alice_client):
    invite(alice_client, personas, email="bob@example.org", role="leader")
    url = people_url(personas)
    post_form(alice_client, url, {"role": "observer"},
              post_url=f"{url}/{_grant_id(app, 'bob@example.org', personas['riverside'])}/role")
    bob = app.test_client()
    login(bob, "bob@example.org", PASSWORD)
    page = bob.get(f"/communities/{personas['riverside']}")
    assert page.status_code == 200 and "You have read-only access" in page.get_data(as_text=True)
    # Every page of the community says so once, and hides the forms that would change something (style.css).
    for path in ("", "/members/", "/meetings/", "/people"):
        shown = bob.get(f"/communities/{personas['riverside']}{path}").get_data(as_text=True)
        assert shown.count("You have read-only access") == 1 and '<body class="observing">' in shown
    assert '<body class="observing">' not in alice_client.get(f"/communities/{personas['riverside']}").get_data(
        as_text=True)
    refused = post_form(bob, f"/communities/{personas['riverside']}/edit",
                        {"name": "Changed", "time_zone": "UTC", "stage": "forming", "digest_cadence": "weekly"})
    assert refused.status_code == 403
    assert "You observe Riverside COP" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Community, personas["riverside"]).name == "Riverside COP"
    # His own community still takes his changes.
    assert post_form(bob, f"/communities/{personas['lakeside']}/edit",
                     {"name": "Lakeside Two", "time_zone": "America/New_York", "stage": "forming",
                      "digest_cadence": "weekly"}).status_code == 302


# --- forgotten password -----------------------------------------------------------------------------------

def test_forgot_password_emails_a_link_and_answers_the_same_for_an_unknown_address(app, personas, smtp):
    client = app.test_client()
    assert 'href="/forgot-password"' in client.get("/login").get_data(as_text=True)
    answers = []
    for address in ("alice@example.org", "nobody@example.org"):
        response = post_form(client, "/forgot-password", {"email": address}, follow_redirects=True)
        html = response.get_data(as_text=True).replace(address, "ADDRESS")
        answers.append((response.status_code, html.replace(csrf_from(html), "TOKEN")))  # signed at each second
    assert answers[0] == answers[1]
    assert "If an account has the address ADDRESS, we have emailed it a link" in answers[0][1]

    path = emailed_link(app, smtp, "alice@example.org")
    assert smtp.to("nobody@example.org") == []
    text = smtp.to("alice@example.org")[0].message.get_body(("plain",)).get_content()
    assert "asked on the login page for a link" in text
    assert post_form(app.test_client(), path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert login(app.test_client(), "alice@example.org", NEW_PASSWORD).status_code == 302


def test_forgot_password_is_rate_limited_per_address(app, personas, smtp):
    client = app.test_client()
    token = csrf_from(client.get("/forgot-password").get_data(as_text=True))
    codes = [client.post("/forgot-password", data={"csrf_token": token, "email": "alice@example.org"}).status_code
             for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    with app.app_context():
        assert len(db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "password_reset")).all()) == 3
    bad = post_form(app.test_client(), "/forgot-password", {"email": ""})
    assert bad.status_code == 400


# --- stepping back ----------------------------------------------------------------------------------------

def _lea_leads_riverside(app, personas, smtp, alice_client):
    invite(alice_client, personas)
    path = emailed_link(app, smtp, "lea@example.org")
    lea = app.test_client()
    post_form(lea, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    return lea


def _step_back(client, personas, keep: bool):
    data = {"keep_read_only": "y"} if keep else {}
    return post_form(client, f"/communities/{personas['riverside']}", data,
                     post_url=f"/communities/{personas['riverside']}/step-back", follow_redirects=True)


def _digest_and_reminder(app, community_id: int):
    """Send a digest and a meeting reminder of the community now; (digest, reminder) rows."""
    from tests.test_digests import _lesson
    with app.app_context():
        community = db.session.get(Community, community_id)
        community.lesson_id = _lesson().id
        community.digest_enabled, community.digest_cadence = True, "weekly"
        community.digest_enabled_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        members.add_member(None, community, name="Omar Haddad", email="omar@example.org")
        db.session.commit()
        slot = digest_schedule.latest_slot(community, datetime.now(timezone.utc))
        assert digests.tick(slot + timedelta(seconds=30)) == {community.id: 2}
        meeting = meetings.create_meeting(None, community, title="Monthly call",
                                          starts_at=datetime.now(timezone.utc) + timedelta(days=3))
        db.session.commit()
        reminder = db.session.scalars(select(Reminder).where(Reminder.meeting_id == meeting.id)).first()
        assert meetings.send_reminder(reminder.id, int(reminder.due_at.replace(tzinfo=timezone.utc).timestamp()))
        db.session.remove()
    run_worker(app)


def _from(smtp, address: str, subject_start: tuple[str, ...]):
    [message] = [r.message for r in smtp.to(address) if r.message["Subject"].startswith(subject_start)]
    return parseaddr(str(message["From"])), parseaddr(str(message["Reply-To"]))


def test_after_the_step_back_digests_and_reminders_go_out_under_the_leaders_name(app, personas, smtp, alice_client):
    refused = _step_back(alice_client, personas, keep=True).get_data(as_text=True)
    assert "Invite at least one leader first, and wait until they have chosen their password" in refused
    invite(alice_client, personas)  # invited, no password yet: nobody could run it
    refused = _step_back(alice_client, personas, keep=True).get_data(as_text=True)
    assert "Invite at least one leader first, and wait until they have chosen their password" in refused
    assert role_of(app, "alice@example.org", personas["riverside"]) == "coordinator"
    lea = app.test_client()
    post_form(lea, emailed_link(app, smtp, "lea@example.org"), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    page = _step_back(alice_client, personas, keep=True).get_data(as_text=True)
    assert "The community is in its leaders&#39; hands" in page
    assert "You have read-only access to this community" in page
    assert role_of(app, "alice@example.org", personas["riverside"]) == "observer"
    with app.app_context():
        assert db.session.get(Community, personas["riverside"]).stepped_back_at is not None
    [event] = audited(app, "community.stepped_back")
    assert event.details == {"keep_read_only": True, "coordinator_ids": [personas["alice"]]}
    run_worker(app)
    told = smtp.to("lea@example.org")[-1].message
    assert told["Subject"] == "Riverside COP is in your hands now"
    text = told.get_body(("plain",)).get_content()
    assert "Alice, the TTA coordinator, handed Riverside COP to its leaders: you run it now." in text
    assert "As the leaders agreed, Alice keeps read-only access." in text
    with app.app_context():  # the lifecycle checklist reads the same facts
        riverside = db.session.get(Community, personas["riverside"])
        done = {item.key: item.done for item in lifecycle.checklist(riverside).items}
        assert done["leader"] and done["stepped_back"]
        db.session.remove()

    _digest_and_reminder(app, personas["riverside"])
    default_address = parseaddr(app.config["MAIL_DEFAULT_SENDER"])[1]
    (name, address), (reply_name, reply_address) = _from(smtp, "omar@example.org", ("Reminder",))
    assert (name, address) == ("Lea Leader via Riverside COP", default_address)
    assert reply_name == "Lea Leader via Riverside COP" and reply_address.startswith("reply+")
    digest_from, _reply = _from(smtp, "omar@example.org", ("Test lesson", "Riverside", "Module", "Lesson"))
    assert digest_from == ("Lea Leader via Riverside COP", default_address)
    # Ana reads Spanish: the same names, in her language.
    spanish = [parseaddr(str(r.message["From"]))[0] for r in smtp.to("ana@example.org")]
    assert spanish and set(spanish) == {"Lea Leader vía Riverside COP"}

    # The leader undoes it: alice coordinates again, and mail is ours again.
    undone = post_form(lea, people_url(personas), {}, post_url=f"/communities/{personas['riverside']}/step-back/undo",
                       follow_redirects=True)
    assert "The TTA coordinator coordinates this community again." in undone.get_data(as_text=True)
    assert role_of(app, "alice@example.org", personas["riverside"]) == "coordinator"
    assert [e.actor for e in audited(app, "community.step_back_undone")] == ["lea@example.org"]


def test_without_the_leaders_agreement_the_coordinator_leaves(app, personas, smtp, alice_client):
    _lea_leads_riverside(app, personas, smtp, alice_client)
    page = _step_back(alice_client, personas, keep=False)
    assert page.request.path == "/"
    assert "Riverside COP" not in page.get_data(as_text=True).split("</header>", 1)[1].replace(
        "The community is in its leaders&#39; hands", "")
    assert role_of(app, "alice@example.org", personas["riverside"]) is None
    assert alice_client.get(f"/communities/{personas['riverside']}").status_code == 404
    # Before the step back, mail was ours.
    with app.app_context():
        assert db.session.get(Community, personas["riverside"]).stepped_back_at is not None


def test_before_a_step_back_mail_carries_our_sender(app, personas, smtp, alice_client):
    _lea_leads_riverside(app, personas, smtp, alice_client)
    _digest_and_reminder(app, personas["riverside"])
    (name, address), _reply = _from(smtp, "omar@example.org", ("Reminder",))
    assert (name, address) == parseaddr(app.config["MAIL_DEFAULT_SENDER"])


def test_users_list_names_a_leaders_role(app, personas, alice_client):
    invite(alice_client, personas, email="bob@example.org")
    output = app.test_cli_runner().invoke(args=["users", "list"]).output
    assert "    communities: Lakeside COP; Riverside COP (leader)" in output.splitlines()


def test_the_senders_name_follows_the_leaders_at_once(app, ctx, personas):
    """The names are kept per loaded community for a delivery batch; a change of leaders is seen at once."""
    from service import roles, senders
    alice = db.session.get(Coordinator, personas["alice"])
    community = db.session.get(Community, personas["riverside"])
    assert senders.display_name(community, "en") is None  # not stepped back: ours
    lea = roles.invite(alice, community, email="lea@example.org", name="Lea Leader", role="leader")
    lea.password_hash = db.session.get(Coordinator, personas["bob"]).password_hash  # as if her link was used
    roles.step_back(alice, community, keep_read_only=True)
    assert senders.display_name(community, "en") == "Lea Leader via Riverside COP"
    assert senders.display_name(community, "es") == "Lea Leader vía Riverside COP"
    roles.invite(db.session.get(Coordinator, lea.id), community, email="abe@example.org", name="Abe Alpha",
                 role="leader")
    assert senders.display_name(community, "en") == "Abe Alpha, Lea Leader via Riverside COP"
    grant = next(p.grant for p in roles.people(community) if p.account.email == "abe@example.org")
    roles.remove(lea, community, grant)
    assert senders.display_name(community, "en") == "Lea Leader via Riverside COP"
    db.session.rollback()


def test_an_observer_who_is_also_a_member_still_acts_through_their_member_links(app, personas, smtp):
    """The read-only rule is the dashboard's: a member's link carries its own authority."""
    from service import practices
    from service.coordinators import create_coordinator
    with app.app_context():
        ana = create_coordinator("ana@example.org", "Ana", PASSWORD)
        db.session.flush()
        db.session.add(CommunityCoordinator(community_id=personas["riverside"], coordinator_id=ana.id,
                                            role="observer"))
        db.session.commit()
        community = db.session.get(Community, personas["riverside"])
        membership = db.session.scalar(select(Membership).where(Membership.community_id == community.id))
        url = practices.share_url(community, membership.member).split("127.0.0.1:5000", 1)[1]
        db.session.remove()
    client = app.test_client()
    login(client, "ana@example.org", PASSWORD)
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    response = client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                      "title": "Evening hours", "what_we_did": "We opened later on Thursdays."})
    assert response.status_code in (200, 302)
    with app.app_context():
        assert [p.title for p in practices.pending_for(db.session.get(Community, personas["riverside"]))] == \
            ["Evening hours"]


def test_a_leader_reads_the_lesson_library_but_writes_in_it_nothing(app, personas, smtp, alice_client):
    """A lesson may reach every community's digests: a community's leader reads it and picks it, TTA staff write."""
    from service.models import Lesson
    created = post_form(alice_client, "/lessons/new", {"title_en": "Sustaining a COP"})
    assert created.status_code == 302
    lesson_url = created.location
    lea = _lea_leads_riverside(app, personas, smtp, alice_client)
    assert "Sustaining a COP" in lea.get("/lessons/").get_data(as_text=True)
    assert 'href="/lessons/new"' not in lea.get("/lessons/").get_data(as_text=True)
    assert lea.get(lesson_url).status_code == 200
    assert lea.get(lesson_url + "/edit").status_code == 404
    refused = post_form(lea, "/lessons/new", {"title_en": "Mine"})
    assert refused.status_code == 400
    assert "Only TTA coordinators write lessons" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Lesson.title_en)).all() == ["Sustaining a COP"]


def test_who_counts_as_tta_staff(app, ctx, personas):
    """Staff write the shared lesson library; an account that only leads communities does not."""
    from service import communities, roles
    from service.coordinators import create_coordinator
    alice = db.session.get(Coordinator, personas["alice"])
    community = db.session.get(Community, personas["riverside"])
    lea = roles.invite(alice, community, email="lea@example.org", name="Lea Leader", role="leader")
    lea.password_hash = alice.password_hash  # as if her link was used
    fresh = create_coordinator("new@example.org", "New", PASSWORD)  # made on the command line, no role yet
    db.session.flush()
    assert (communities.is_staff(alice), communities.is_staff(lea), communities.is_staff(fresh)) == (True, False, True)
    roles.step_back(alice, community, keep_read_only=True)
    assert communities.is_staff(alice)  # an observer now, still TTA staff
    db.session.rollback()


def test_a_changed_or_removed_role_is_emailed_to_its_account_in_its_language(app, personas, smtp, alice_client):
    invite(alice_client, personas, email="bob@example.org", role="leader")
    url = people_url(personas)
    bob = _grant_id(app, "bob@example.org", personas["riverside"])
    run_worker(app)
    smtp.messages.clear()
    post_form(alice_client, url, {"role": "observer"}, post_url=f"{url}/{bob}/role")
    post_form(alice_client, url, {}, post_url=f"{url}/{bob}/remove")
    run_worker(app)
    changed, removed = [received.message for received in smtp.to("bob@example.org")]
    assert changed["Subject"] == "Your role in Riverside COP changed"
    assert "Alice made you an observer of Riverside COP" in changed.get_body(("plain",)).get_content()
    assert removed["Subject"] == "You no longer help run Riverside COP"
    assert "Alice took away your role in Riverside COP" in removed.get_body(("plain",)).get_content()
    assert smtp.to("alice@example.org") == []  # her own changes are not mailed to her


def test_a_leaders_account_starts_no_community(app, personas, smtp, alice_client):
    assert "New community" in alice_client.get("/").get_data(as_text=True)
    invite(alice_client, personas, email="lea@example.org", role="leader")
    link = emailed_link(app, smtp, "lea@example.org")
    lea = app.test_client()
    post_form(lea, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})  # logs her in
    assert "New community" not in lea.get("/").get_data(as_text=True)
    refused = post_form(lea, "/", {"name": "Lea's own", "time_zone": "UTC"}, post_url="/communities/new",
                        follow_redirects=True)
    assert "staff to start a new one" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Community).where(Community.name == "Lea's own")) is None
