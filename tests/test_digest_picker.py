"""Digest settings: one member picker; the preview it opens sends that same issue to the coordinator as a test."""
import re

from sqlalchemy import select

from service.extensions import db
from service.models import Membership
from tests.conftest import csrf_from, run_worker


def test_one_picker_previews_and_the_preview_sends_the_test_copy(app, alice_client, personas, smtp):
    url = f"/communities/{personas['riverside']}/digest/"
    page = alice_client.get(url).get_data(as_text=True)
    assert len(re.findall(r"<select[^>]*name=\"membership_id\"", page)) == 1
    assert "Send this member's next issue" not in page
    with app.app_context():
        membership_id = db.session.scalar(select(Membership.id).where(
            Membership.community_id == personas["riverside"]))
    preview = alice_client.get(f"{url}preview?membership_id={membership_id}").get_data(as_text=True)
    button = re.search(r'<form method="post" action="([^"]+)">.*?name="membership_id" value="(\d+)"', preview, re.S)
    assert button and button.group(2) == str(membership_id)
    response = alice_client.post(button.group(1), data={"csrf_token": csrf_from(preview),
                                                        "membership_id": button.group(2)})
    assert response.status_code == 302
    run_worker(app)
    [copy] = smtp.to("alice@example.org")
    assert copy.message["Subject"].startswith("[TEST]") and smtp.to("ana@example.org") == []
