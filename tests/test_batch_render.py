"""A batch shares one rendering among copies of an email, and every member still gets exactly their own copy."""
import time

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined
from sqlalchemy import select

from service import mailer, members
from service.batch_render import BatchRenderer, is_plain, share
from service.email_render import render
from service.extensions import db
from service.models import Community, Member, Membership, OutboundEmail
from service.tokens import read_token
from tests.conftest import run_worker

NAMES = [("Ana Lopez", "en"), ("José Núñez", "es"), ("Zoë Kowalski", "en"), ("Mia Chen", "es"), ("Li Wei", "en"),
         ("Pat O'Brien", "en"), ("Sam <b>&amp;</b> Lee", "es")]  # the last two: markup, so rendered alone


@pytest.fixture
def riverside(ctx, personas):
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _add(community, names):
    added = []
    for index, (name, language) in enumerate(names):
        membership = members.add_member(None, community, name=name, email=f"shared{index}@example.org",
                                        language=language, welcome=False)
        added.append(membership.member)
    db.session.commit()
    return added


def test_every_shared_copy_equals_the_one_rendered_for_that_member_alone(app, riverside, monkeypatch):
    # The signed links carry the second they were made: one clock for both renderings, or a second boundary
    # between them makes the copies differ.
    monkeypatch.setattr(time, "time", lambda: 1_790_000_000.0)
    people = _add(riverside, NAMES)
    renderer = BatchRenderer()
    for kind, context in [("announcement", {"subject": "Our next meeting", "body": "One.\n\nTwo & three."}),
                          ("welcome", {}), ("test_message", {})]:
        for member in people:
            row = OutboundEmail(id=1000 + member.id, kind=kind, recipient=member.email, context=context,
                                community_id=riverside.id)
            assert renderer.render(row, member, riverside) == render(row, member, riverside), (kind, member.name)
    # Per kind and language, the first plain name was rendered alone and the others filled in.
    assert renderer.filled == 3 * (2 + 1)


def test_a_member_with_markup_or_odd_spacing_in_their_name_is_rendered_alone():
    assert all(is_plain(value) for value in ("Ana Lopez", "José Núñez", "https://cop.example/m/x.y_z-1"))
    for value in ("Pat O'Brien", 'Sam "the man"', "A&B", "<b>", "Kim  Ng", " Ana", "Ana\nLopez",
                  "Ana\u00a0Lopez", "", None):
        assert not is_plain(value), value


def _environment(templates: dict) -> Environment:
    return Environment(loader=DictLoader(templates), autoescape=True, undefined=StrictUndefined)


@pytest.mark.parametrize("template", [
    "Hello {{ member.name|upper }}", "Hello {{ member.name[:1] }}.", "Hello {{ member.name|truncate(20) }}",
    "{% if member.name|length > 25 %}Hi{% else %}Hello{% endif %} {{ member.name }}",
    "Hello {{ member.name }} <{{ member.email }}>",  # reads what the placeholder member does not have
])
def test_a_template_that_does_more_than_print_a_personal_value_is_never_shared(template):
    env = _environment({"t": template})

    def render_with(placeholders):
        member = type("M", (), {"name": placeholders["name"]})()
        return (env.get_template("t").render(member=member),)
    assert share(render_with, ("name",)) is None


def test_a_template_that_prints_personal_values_shares_one_rendering_filled_per_member():
    env = _environment({"t": '<p>Hello {{ name }},</p><a href="{{ url }}">stop</a> {{ name }}'})

    def render_with(placeholders):
        return (env.get_template("t").render(**placeholders),)
    shared = share(render_with, ("name", "url"))
    assert shared.fill({"name": "José", "url": "https://x.example/u/abc.def"}) == (
        '<p>Hello José,</p><a href="https://x.example/u/abc.def">stop</a> José',)
    # A value that looks like another field's placeholder is printed as it is, never filled in again.
    placeholder = shared.parts[0].split("Hello ")[1].split(",")[0]
    assert shared.fill({"name": "x", "url": placeholder})[0].count(placeholder) == 1


def test_a_fan_out_greets_each_member_by_name_with_links_that_are_theirs(app, riverside, smtp):
    people = _add(riverside, NAMES)
    mailer.queue_bulk("announcement", people, lambda m: f"shared:{m.id}",
                      lambda m: {"subject": "Lessons this month", "body": "Read on."}, riverside)
    db.session.commit()
    run_worker(app)
    for member in people:
        [received] = smtp.to(member.email)
        text = received.message.get_body(("plain",)).get_content()
        html = received.message.get_body(("html",)).get_content()
        assert member.name in text.split("\n")[0]  # the greeting, in either language
        assert received.message["To"].addresses[0].display_name == member.name
        token = text.split("/m/unsubscribe/")[1].split()[0]
        assert read_token("unsubscribe", token) == member.id
        assert token in html and token in received.message["List-Unsubscribe"]
    others = {m.name for m in people[1:]}
    first = smtp.to(people[0].email)[0].message.get_body(("plain",)).get_content()
    assert not any(name in first for name in others)


def test_a_person_in_two_communities_is_greeted_in_each_fan_out_by_the_name_that_community_knows(
        app, riverside, smtp, personas):
    lakeside = db.session.get(Community, personas["lakeside"])
    ana = members.add_member(None, lakeside, name="Anita T", email="ana@example.org", welcome=False).member
    _add(riverside, NAMES[:3])  # others in the batch, so Ana's copy is filled into a shared rendering
    for community in (riverside, lakeside):
        people = list(db.session.scalars(select(Member).join(Membership).where(
            Membership.community_id == community.id)))
        mailer.queue_bulk("announcement", people, lambda m, c=community: f"names:{c.id}:{m.id}",
                          lambda m: {"subject": "Lessons this month", "body": "Read on."}, community)
    db.session.commit()
    run_worker(app)

    greetings = {}
    for received in smtp.to(ana.email):
        first_line = received.message.get_body(("plain",)).get_content().split("\n")[0]
        greetings[received.message["List-Id"].split("<")[0].strip()] = \
            (received.message["To"].addresses[0].display_name, "Ana Torres" in first_line, "Anita T" in first_line)
    assert greetings == {"Riverside COP": ("Ana Torres", True, False), "Lakeside COP": ("Anita T", False, True)}


# --- the start-up check: a shared template may print a personal value, never branch on it -------------

def _overlay(templates: dict, shipped: Environment):
    """The shipped email templates, with `templates` in place of those of the same names; the shipped
    environment's filters, which the templates use."""
    from jinja2 import ChoiceLoader, FileSystemLoader
    from service.mailer import TEMPLATE_DIR
    env = Environment(loader=ChoiceLoader([DictLoader(templates), FileSystemLoader(str(TEMPLATE_DIR))]),
                      extensions=["jinja2.ext.i18n"])
    env.install_null_translations(newstyle=True)
    env.filters.update(shipped.filters)
    return env


@pytest.mark.parametrize("name, template, use", [
    ("welcome.txt", "{% if member.name|length > 25 %}Hi{% else %}Hello{% endif %} {{ member.name }}", "member.name"),
    ("welcome.html", "Hello {{ member.name|upper }}", "member.name"),
    ("announcement.txt", "{% set who = member.name %}Hello {{ who }}", "member.name"),
    ("layout.txt", "{% if links.unsubscribe_url %}{{ links.unsubscribe_url }}{% endif %}", "links.unsubscribe_url"),
    ("layout.html", "{% for c in links['preferences_url'] %}{{ c }}{% endfor %}", "links.preferences_url"),
    ("test_message.subject.txt", "{{ greet(member) }}", "`member` used whole"),
])
def test_a_shared_template_that_branches_on_a_personal_value_is_refused_at_start_up(app, monkeypatch, name,
                                                                                     template, use):
    from service import email_render
    from service.batch_render import PersonalValueUseError
    shipped = email_render._environment
    monkeypatch.setattr(email_render, "_environment", lambda language: _overlay({name: template}, shipped(language)))
    with app.app_context(), pytest.raises(PersonalValueUseError) as refused:
        email_render.compile_templates()  # what a worker does at start-up, before taking any job
    assert f"{name}, line 1: " in str(refused.value) and use in str(refused.value)
    assert "print the value as it is" in str(refused.value)


def test_shared_templates_that_only_print_personal_values_pass(app, monkeypatch):
    from service import email_render
    good = {"welcome.txt": "{% trans name=member.name %}Hello {{ name }},{% endtrans %} {{ member.name }}\n"
                           "{% if member.language == 'es' %}Hola{% endif %} {{ links.unsubscribe_url }}",
            # Kinds with extras are rendered per member, so they may do as they like.
            "digest.txt": "{% if member.name|length > 25 %}Hi{% endif %}"}
    shipped = email_render._environment
    monkeypatch.setattr(email_render, "_environment", lambda language: _overlay(good, shipped(language)))
    with app.app_context():
        email_render.compile_templates()


def test_every_kind_is_known_without_importing_the_module_that_sends_it():
    """Kinds live in one table (service.mailer.KINDS), not registered as a side effect of an import."""
    import subprocess
    import sys
    probe = ("import sys; from service.mailer import KINDS; "
             "print(sorted(KINDS), [m for m in ('service.charters', 'service.form_requests') if m in sys.modules])")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "'charter_proposal'" in found and "'form_reminder'" in found and "'form_request'" in found
    assert found.rstrip().endswith("[]")  # neither sending module was imported
