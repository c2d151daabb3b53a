"""The lifecycle checklist answered from a community's data, and the stage that follows it one step at a time."""
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from service import charters, communities, lifecycle, members
from service.clock import now
from service.config import ConfigError, load_settings
from service.errors import DomainError
from service.extensions import db
from service.models import (AuditEvent, Community, CommunityCoordinator, Coordinator, DigestIssue, FormRequest,
                            FormResponse, IntakeEntry, Meeting, Membership)
from tests.conftest import csrf_from, post_form


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _alice() -> Coordinator:
    return db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))


def _items(community: Community) -> dict[str, lifecycle.Item]:
    return {item.key: item for item in lifecycle.checklist(community).items}


def _meeting(community: Community, days: float, **values) -> Meeting:
    meeting = Meeting(community_id=community.id, uid=f"{uuid.uuid4()}@test", title=values.pop("title", "Monthly call"),
                      starts_at=now() + timedelta(days=days), **values)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def _membership(community: Community, email: str) -> Membership:
    return db.session.scalar(select(Membership).join(Membership.member).where(
        Membership.community_id == community.id, Membership.member.has(email=email)))


def _people(community: Community) -> None:
    """Sam and Lee beside Ana: three organizations."""
    members.add_member(None, community, name="Sam Ortiz", email="sam@example.org", organization="Food Bank")
    members.add_member(None, community, name="Lee Park", email="lee@example.org", organization="Youth Org")
    db.session.flush()


def _charter_request(community: Community) -> FormRequest:
    request = FormRequest(community_id=community.id, kind="charter", title="Our charter")
    db.session.add(request)
    db.session.flush()
    return request


def _ratified(community: Community) -> None:
    charter = charters.current_draft(community)
    charters.save_draft(None, charter, "## Purpose\n\nLearning together")
    charters.propose(None, charter)
    charters.ratify(None, charter, override_reason="Agreed at the meeting")  # no votes: the rules are overridden
    db.session.flush()


def _feedback(community: Community, status: str) -> None:
    meeting = _meeting(community, -3, attendance_taken_at=now())
    request = FormRequest(community_id=community.id, kind="feedback", title="How was it?", meeting_id=meeting.id)
    db.session.add(request)
    db.session.flush()
    db.session.add(FormResponse(request_id=request.id, member_id=_membership(community, "ana@example.org").member_id,
                                status=status))


def _leader_account(community: Community) -> None:
    from service.coordinators import create_coordinator
    lea = create_coordinator("lea@example.org", "Lea", "a long enough password")
    db.session.flush()
    db.session.add(CommunityCoordinator(community_id=community.id, coordinator_id=lea.id, role="leader"))


def _two_facilitators(community: Community) -> None:
    _people(community)
    for days, email in ((-14, "sam@example.org"), (-7, "lee@example.org")):
        _meeting(community, days, facilitator_id=_membership(community, email).member_id)


def _willing(community: Community) -> None:
    _people(community)
    for email in ("sam@example.org", "lee@example.org"):
        _membership(community, email).willing_to_facilitate = True


def _digest_issue(community: Community, days_ago: int) -> None:
    community.digest_enabled, community.digest_enabled_at = True, now() - timedelta(days=90)
    db.session.add(DigestIssue(community_id=community.id, number=1, slot_at=now() - timedelta(days=days_ago)))


# Per item: what makes it done, and near misses that leave it open.
DONE = {
    "organizations": [_people],
    "intake": [lambda c: db.session.add(IntakeEntry(community_id=c.id, organization="Casa Verde", name="Eva",
                                                    email="eva@example.org", status="accepted"))],
    "charter_sent": [_charter_request, lambda c: charters.propose(None, _draft(c))],
    "charter_ratified": [_ratified],
    "first_meeting": [lambda c: _meeting(c, -1), lambda c: _meeting(c, 1, attendance_taken_at=now())],
    "feedback": [lambda c: _feedback(c, "submitted")],
    "digests": [lambda c: _digest_issue(c, 3)],
    "leader": [_leader_account, lambda c: setattr(_membership(c, "ana@example.org"), "role", "leader")],
    "rotation": [_two_facilitators, _willing],
    "stepped_back": [lambda c: setattr(c, "stepped_back_at", now())],
}
STILL_OPEN = {
    "organizations": [lambda c: members.add_member(None, c, name="Sam Ortiz", email="sam@example.org",
                                                   organization="casa verde")],  # the same organization
    "intake": [lambda c: db.session.add(IntakeEntry(community_id=c.id, organization="Casa Verde", name="Eva",
                                                    email="eva@example.org", status="pending"))],
    "charter_sent": [lambda c: _draft(c)],  # a draft nobody was sent
    "charter_ratified": [lambda c: charters.propose(None, _draft(c))],
    "first_meeting": [lambda c: _meeting(c, 2), lambda c: _meeting(c, -1, status="cancelled")],
    "feedback": [lambda c: _feedback(c, "draft")],
    "digests": [lambda c: _digest_issue(c, 40),  # biweekly: nothing in the last 28 days
                lambda c: db.session.add(DigestIssue(community_id=c.id, number=1, slot_at=now()))],  # digests off
    "leader": [lambda c: setattr(_membership(c, "ana@example.org"), "role", "facilitator")],
    "rotation": [lambda c: (_people(c), _meeting(c, -7, facilitator_id=_membership(c, "sam@example.org").member_id),
                            _meeting(c, -14, facilitator_id=_membership(c, "sam@example.org").member_id))],
    "stepped_back": [lambda c: setattr(c, "archived_at", now())],
}


def _draft(community: Community):
    charter = charters.current_draft(community)
    charters.save_draft(None, charter, "## Purpose\n\nLearning together")
    return charter


@pytest.mark.parametrize("key, seed", [(key, seed) for key, seeds in DONE.items() for seed in seeds])
def test_each_item_is_done_from_the_data(app, ctx, personas, key, seed):
    community = _riverside()
    assert not _items(community)[key].done
    seed(community)
    db.session.commit()
    assert _items(community)[key].done


@pytest.mark.parametrize("key, seed", [(key, seed) for key, seeds in STILL_OPEN.items() for seed in seeds])
def test_near_misses_leave_the_item_open(app, ctx, personas, key, seed):
    community = _riverside()
    seed(community)
    db.session.commit()
    item = _items(community)[key]
    assert not item.done and item.action is not None


def test_the_organizations_needed_is_a_setting(app, ctx, personas, monkeypatch):
    community = _riverside()
    members.add_member(None, community, name="Sam Ortiz", email="sam@example.org", organization="Food Bank")
    db.session.commit()
    assert not _items(community)["organizations"].done
    assert _items(community)["organizations"].detail == "2 of 3 organizations have active members."
    monkeypatch.setitem(app.config, "CHECKLIST_MIN_ORGANIZATIONS", 2)
    assert _items(community)["organizations"].done


def test_the_organizations_setting_is_parsed_strictly():
    assert load_settings({})["CHECKLIST_MIN_ORGANIZATIONS"] == 3
    assert load_settings({"CHECKLIST_MIN_ORGANIZATIONS": "5"})["CHECKLIST_MIN_ORGANIZATIONS"] == 5
    for bad in ("three", "0", "-2", "2.5"):
        with pytest.raises(ConfigError, match="CHECKLIST_MIN_ORGANIZATIONS"):
            load_settings({"CHECKLIST_MIN_ORGANIZATIONS": bad})


def test_the_community_page_shows_each_open_item_with_its_next_action(app, alice_client, personas):
    riverside = personas["riverside"]
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    section = page[page.index('<section id="lifecycle"'):page.index("</section>")]
    links = dict(re.findall(r'<li class="open" id="checklist-(\w+)">.*?<a href="([^"]+)">', section, re.S))
    base = f"/communities/{riverside}"
    assert links == {
        "organizations": f"{base}/members/new", "intake": f"{base}/intake/",
        "charter_sent": f"{base}/forms/new", "charter_ratified": f"{base}/charter",
        "first_meeting": f"{base}/meetings/new", "feedback": f"{base}/meetings/", "digests": f"{base}/digest/",
        "leader": f"{base}#roles", "rotation": f"{base}#rotation", "stepped_back": f"{base}#step-back"}
    for link in links.values():  # every next action is a page that exists
        assert alice_client.get(link.split("#")[0]).status_code == 200
    assert "0 of 10 done, each from the community's own data." in section
    assert "Suggested next stage" not in section and 'class="done"' not in section
    assert "Forming <span class=\"badge\">current stage</span>" in section


def test_feedback_points_to_taking_attendance_at_the_last_meeting(app, ctx, personas, alice_client):
    community = _riverside()
    _meeting(community, -20, title="First call")
    last = _meeting(community, -2, title="Second call")
    db.session.commit()
    page = alice_client.get(f"/communities/{community.id}").get_data(as_text=True)
    item = re.search(r'id="checklist-feedback">(.*?)</li>', page, re.S).group(1)
    assert f'href="/communities/{community.id}/meetings/{last.id}/attendance"' in item
    assert "Take attendance at Second call" in item
    last.attendance_taken_at = now()
    db.session.commit()
    assert _items(community)["feedback"].action.endpoint == "form_requests.index"


# --- the stage follows the data -------------------------------------------------------------------

@pytest.mark.parametrize("stage, seed, suggested, then", [
    ("forming", _charter_request, "defining", []),
    ("defining", _ratified, "managing", []),
    ("managing", lambda c: (_leader_account(c), setattr(c, "stepped_back_at", now())), "sustaining", []),
    ("forming", lambda c: (_charter_request(c), _ratified(c)), "defining", ["managing"]),
    ("forming", _ratified, "defining", ["managing"]),  # a charter proposed to members was sent too
])
def test_the_data_suggests_the_next_stage(app, ctx, personas, stage, seed, suggested, then):
    community = _riverside()
    community.stage = stage
    db.session.commit()
    assert lifecycle.checklist(community).suggestion is None
    seed(community)
    db.session.commit()
    suggestion = lifecycle.checklist(community).suggestion
    assert (suggestion.stage, suggestion.then) == (suggested, then)


@pytest.mark.parametrize("stage, seed", [
    ("managing", _leader_account),  # a leader, but the TTA coordinator has not stepped back
    ("managing", lambda c: setattr(c, "stepped_back_at", now())),  # stepped back, but no leader
    ("defining", _charter_request),  # already past what the questionnaire shows
    ("sustaining", _ratified),
])
def test_no_suggestion_without_the_next_stages_evidence(app, ctx, personas, stage, seed):
    community = _riverside()
    community.stage = stage
    seed(community)
    db.session.commit()
    assert lifecycle.checklist(community).suggestion is None


def _confirm(client, community_id: int, stage: str):
    page = client.get(f"/communities/{community_id}").get_data(as_text=True)
    return client.post(f"/communities/{community_id}/lifecycle/stage",
                       data={"csrf_token": csrf_from(page), "stage": stage}, follow_redirects=True)


def _seeded_page(client, seed) -> tuple[Community, str]:
    """Riverside with what `seed` adds, and its page."""
    community = _riverside()
    seed(community)
    db.session.commit()
    return community, client.get(f"/communities/{community.id}").get_data(as_text=True)


def test_confirming_the_suggestion_changes_the_stage_and_audits(app, ctx, personas, alice_client):
    community, page = _seeded_page(alice_client, _charter_request)
    assert ("Suggested next stage: Defining its work. The charter went out to members: its questions, "
            "or a version to approve.") in page
    assert 'name="stage" value="defining"' in page and "Move to Defining its work" in page

    response = _confirm(alice_client, community.id, "defining")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The community is now at the stage Defining its work." in html
    assert "Stage: <strong>Defining its work</strong>" in html and "Suggested next stage" not in html
    db.session.expire_all()
    assert _riverside().stage == "defining"
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "community.stage"))
    assert event.actor == "alice@example.org" and event.community_id == community.id
    assert event.details == {"changes": {"stage": ["forming", "defining"]}, "evidence": ["charter_sent"]}

    # A second click (a stale page) changes nothing more and says why.
    again = _confirm(alice_client, community.id, "defining").get_data(as_text=True)
    assert "The community is already at this stage." in again
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "community.stage")).all()) == 1


def test_skipping_a_stage_is_refused_and_shown_as_two_steps(app, ctx, personas, alice_client):
    community, page = _seeded_page(alice_client, _ratified)
    assert "Suggested next stage: Defining its work." in page
    assert "The data also supports the stages after it (Managing): a community moves on one stage at a time" in page

    html = _confirm(alice_client, community.id, "managing").get_data(as_text=True)
    assert ("A community moves on one stage at a time: from Forming, move to Defining its work first, "
            "then to Managing.") in html
    db.session.expire_all()
    assert _riverside().stage == "forming"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "community.stage")) is None

    _confirm(alice_client, community.id, "defining")
    html = _confirm(alice_client, community.id, "managing").get_data(as_text=True)
    assert "The community is now at the stage Managing." in html
    db.session.expire_all()
    assert _riverside().stage == "managing"
    assert [e.details["changes"]["stage"] for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "community.stage").order_by(AuditEvent.id))] == [
        ["forming", "defining"], ["defining", "managing"]]


def test_a_stage_the_data_does_not_support_is_refused(app, ctx, personas, alice_client):
    community = _riverside()
    html = _confirm(alice_client, community.id, "defining").get_data(as_text=True)
    assert "does not show it has reached Defining its work" in html
    with pytest.raises(DomainError, match="Unknown stage"):
        lifecycle.confirm_stage(_alice(), community, "thriving")
    db.session.expire_all()
    assert _riverside().stage == "forming"


def test_confirming_needs_the_csrf_token_a_known_stage_and_the_community(app, ctx, personas, alice_client):
    community = _riverside()
    _charter_request(community)
    db.session.commit()
    url = f"/communities/{community.id}/lifecycle/stage"
    assert alice_client.post(url, data={"stage": "defining"}).status_code == 400
    token = csrf_from(alice_client.get(f"/communities/{community.id}").get_data(as_text=True))
    assert alice_client.post(url, data={"csrf_token": token, "stage": "thriving"}).status_code == 400
    lakeside = f"/communities/{personas['lakeside']}/lifecycle/stage"
    assert alice_client.post(lakeside, data={"csrf_token": token, "stage": "defining"}).status_code == 404
    db.session.expire_all()
    assert _riverside().stage == "forming"


# --- the edit form and ratification follow the same rule ------------------------------------------

EDIT = {"name": "Riverside COP", "time_zone": "America/Chicago", "digest_cadence": "biweekly"}


def test_the_edit_form_refuses_a_skip_next_to_the_field_and_saves_nothing(app, ctx, personas, alice_client):
    url = f"/communities/{personas['riverside']}/edit"
    response = post_form(alice_client, url, {**EDIT, "name": "Renamed", "stage": "managing"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'id="stage-error">A community moves on one stage at a time: from Forming, move to '
                     r'Defining its work first, then to Managing.<', html)
    assert 'value="Renamed"' in html  # what was typed is kept
    db.session.expire_all()
    assert (_riverside().name, _riverside().stage) == ("Riverside COP", "forming")


def test_the_edit_form_moves_one_step_forward_or_back(app, ctx, personas, alice_client):
    url = f"/communities/{personas['riverside']}/edit"
    assert post_form(alice_client, url, {**EDIT, "stage": "defining"}).status_code == 302
    assert post_form(alice_client, url, {**EDIT, "stage": "managing"}).status_code == 302
    assert post_form(alice_client, url, {**EDIT, "stage": "forming"}).status_code == 302  # back is a correction
    changes = [e.details["changes"]["stage"] for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "community.update").order_by(AuditEvent.id))]
    assert changes == [["forming", "defining"], ["defining", "managing"], ["managing", "forming"]]
    with pytest.raises(DomainError, match="one stage at a time"):
        communities.update_community(_alice(), _riverside(), **EDIT, stage="sustaining")


@pytest.mark.parametrize("stage, suggested", [("forming", "Defining its work"), ("defining", "Managing")])
def test_ratifying_the_charter_leaves_the_stage_to_the_coordinator(app, ctx, personas, alice_client,
                                                                   stage, suggested):
    community = _riverside()
    community.stage = stage
    charter = _draft(community)
    charters.propose(None, charter)
    db.session.commit()
    page = alice_client.get(f"/communities/{community.id}/charter").get_data(as_text=True)
    response = alice_client.post(f"/communities/{community.id}/charter/versions/{charter.id}/ratify",
                                 data={"csrf_token": csrf_from(page), "reason": "Agreed at the meeting"},
                                 follow_redirects=True)
    html = response.get_data(as_text=True)
    assert f"The community&#39;s data now suggests the stage {suggested}: confirm it on the community page." in html
    db.session.expire_all()
    assert _riverside().stage == stage  # never forming -> managing in one jump
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "charter.ratify"))
    assert "changes" not in event.details


def test_the_checklist_reads_in_spanish(app, personas, alice_client):
    with app.app_context():
        _alice().language = "es"
        _charter_request(_riverside())
        db.session.commit()
    page = alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)
    assert "Lista de verificación del ciclo de vida" in page
    assert "Etapa siguiente sugerida: Definiendo su trabajo." in page
    assert "Miembros de al menos 3 organizaciones" in page and "1 de 3 organizaciones tiene miembros activos." in page
