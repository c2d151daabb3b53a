"""The lesson library: the built-in lesson's files, loading them, rendering modules safely, and the dashboard."""
import re
import shutil

import pytest
from sqlalchemy import func, select

from service import lessons
from service.coordinators import create_coordinator
from service.extensions import db
from service.lesson_files import BUILT_IN_LESSON_DIR, LessonFileError, load_lesson_dir, read_lesson_dir
from service.models import AuditEvent, Community, Lesson, LessonModule
from tests.conftest import PASSWORD, csrf_from, login, post_form

MODULE_ORDER = ["why", "forming", "defining", "managing", "sustaining"]
TITLE_WORDS = {"why": "Why communities of practice work", "forming": "Forming", "defining": "Defining",
               "managing": "Managing", "sustaining": "after the program ends"}


def _modules(app, lesson_id: int) -> list[tuple[int, int, str]]:
    """(id, position, English title) of the lesson's modules, in order."""
    with app.app_context():
        rows = db.session.execute(select(LessonModule.id, LessonModule.position, LessonModule.title_en)
                                  .where(LessonModule.lesson_id == lesson_id).order_by(LessonModule.position))
        result = [tuple(row) for row in rows]
        db.session.remove()
    return result


def _load_built_in(app) -> int:
    with app.app_context():
        lesson_id = load_lesson_dir(BUILT_IN_LESSON_DIR).id
        db.session.commit()
        db.session.remove()
    return lesson_id


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- The built-in lesson's files ----------------------------------------------------------------------------


def test_built_in_lesson_has_five_bilingual_modules_in_the_promised_order():
    lesson, modules = read_lesson_dir(BUILT_IN_LESSON_DIR)
    assert lesson["slug"] == "establishing-a-cop"
    assert lesson["title_en"] == "Establishing a community of practice" and lesson["title_es"]
    assert lesson["summary_en"] and lesson["summary_es"]
    assert len(modules) == 5
    for key, module in zip(MODULE_ORDER, modules):
        assert TITLE_WORDS[key] in module["title_en"], (key, module["title_en"])
        for field in ("title", "goal", "body", "reflection", "practice_prompt"):
            assert module[f"{field}_en"].strip(), f"{module['title_en']}: empty {field}_en"
            assert module[f"{field}_es"].strip(), f"{module['title_en']}: empty {field}_es"
            assert module[f"{field}_en"] != module[f"{field}_es"], f"{module['title_en']}: {field} not translated"


@pytest.mark.parametrize("language, heading", [("en", "### Try this month"), ("es", "### Para hacer este mes")])
def test_every_module_body_is_a_readable_length_and_ends_with_two_to_four_activities(language, heading):
    _lesson, modules = read_lesson_dir(BUILT_IN_LESSON_DIR)
    for module in modules:
        body = module[f"body_{language}"]
        words = len(body.split())
        assert 250 <= words <= 400, f"{module['title_en']} ({language}): {words} words"
        assert heading in body, f"{module['title_en']} ({language}) has no '{heading}' section"
        activities = re.findall(r"^\d+\. \*\*", body.split(heading, 1)[1], flags=re.MULTILINE)
        assert 2 <= len(activities) <= 4, f"{module['title_en']} ({language}): {len(activities)} activities"


def test_the_charter_module_covers_every_part_of_a_charter():
    _lesson, modules = read_lesson_dir(BUILT_IN_LESSON_DIR)
    body = modules[2]["body_en"].lower()
    for part in ("purpose", "goals", "who belongs", "roles", "meeting rhythm", "decision making", "communication",
                 "success"):
        assert part in body, part


# --- Loading -------------------------------------------------------------------------------------------------


def test_loading_twice_gives_one_lesson_with_five_modules(app, ctx):
    first = load_lesson_dir(BUILT_IN_LESSON_DIR)
    db.session.commit()
    module_ids = [m.id for m in first.modules]
    second = load_lesson_dir(BUILT_IN_LESSON_DIR)
    db.session.commit()
    assert second.id == first.id and second.built_in
    assert _count(Lesson) == 1 and _count(LessonModule) == 5
    assert [m.position for m in second.modules] == [0, 1, 2, 3, 4]
    assert [m.id for m in second.modules] == module_ids  # updated in place, not replaced
    assert second.modules[0].title_es == "Por qué funcionan las comunidades de práctica"
    # Only the first load changed anything, so only it left an audit event.
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "lesson.load")) == 1


@pytest.fixture
def lesson_copy(tmp_path):
    folder = tmp_path / "establishing-a-cop"
    shutil.copytree(BUILT_IN_LESSON_DIR, folder)
    return folder


def test_reloading_updates_changed_texts_and_removes_dropped_modules(app, ctx, lesson_copy):
    lesson = load_lesson_dir(lesson_copy)
    db.session.commit()
    ids = [m.id for m in lesson.modules]

    forming = lesson_copy / "02-forming.en.md"
    forming.write_text(forming.read_text(encoding="utf-8")
                       .replace('title = "Forming your community of practice"', 'title = "Starting your community"')
                       .replace("Every community of practice starts", "Each community of practice begins"),
                       encoding="utf-8")
    manifest = lesson_copy / "lesson.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('    "04-managing",\n', "")
                        .replace('title_es = "Cómo establecer', 'title_es = "Cómo crear'), encoding="utf-8")
    lesson = load_lesson_dir(lesson_copy)
    db.session.commit()
    db.session.expire_all()

    assert _count(Lesson) == 1 and _count(LessonModule) == 4
    modules = db.session.scalars(select(LessonModule).order_by(LessonModule.position)).all()
    assert [m.position for m in modules] == [0, 1, 2, 3]
    assert modules[1].id == ids[1] and modules[1].title_en == "Starting your community"
    assert modules[1].body_en.startswith("Each community of practice begins")
    assert modules[3].title_en == "Keeping the community going after the program ends"
    assert lesson.title_es == "Cómo crear una comunidad de práctica"

    # Putting the module back appends it where the list says, with its text.
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('    "05-sustaining",\n',
                                                                     '    "04-managing",\n    "05-sustaining",\n'),
                        encoding="utf-8")
    load_lesson_dir(lesson_copy)
    db.session.commit()
    titles = db.session.scalars(select(LessonModule.title_en).order_by(LessonModule.position)).all()
    assert len(titles) == 5 and titles[3] == "Managing your community day to day"
    assert titles[4] == "Keeping the community going after the program ends"


def test_a_module_without_spanish_file_falls_back_to_english(app, ctx, lesson_copy):
    (lesson_copy / "05-sustaining.es.md").unlink()
    lesson = load_lesson_dir(lesson_copy)
    last = lesson.modules[-1]
    assert last.title_es == "" and last.text("title", "es") == last.title_en
    assert "Try this month" in lessons.module_html(last, "es")


@pytest.mark.parametrize("change, complaint", [
    (lambda f: (f / "02-forming.en.md").write_text("no front matter\n"), "02-forming.en.md: must start with"),
    (lambda f: (f / "02-forming.en.md").write_text('+++\ntitle = "x"\n'), "no closing"),
    (lambda f: (f / "02-forming.en.md").write_text('+++\ntitle = "x"\ngoals = "y"\n+++\nBody'), "unknown"),
    (lambda f: (f / "02-forming.en.md").write_text('+++\ntitle = "x\n+++\nBody'), "not valid TOML"),
    (lambda f: (f / "02-forming.en.md").write_text('+++\ntitle = ""\ngoal = "g"\n+++\nBody'), "title_en"),
    (lambda f: (f / "02-forming.en.md").write_text('+++\ntitle = "t"\ngoal = "g"\n+++\n\n'), "body_en"),
    (lambda f: (f / "03-defining.en.md").unlink(), "03-defining.en.md: missing"),
    (lambda f: (f / "lesson.toml").write_text('title_en = "x"\nmodules = ["../../etc/passwd"]\n'), "plain file"),
    (lambda f: (f / "lesson.toml").write_text('title_en = "x"\nmodules = []\n'), "non-empty list"),
    (lambda f: (f / "lesson.toml").unlink(), "no lesson.toml"),
])
def test_a_broken_lesson_folder_is_refused_with_the_file_and_problem_named(app, ctx, lesson_copy, change,
                                                                          complaint):
    change(lesson_copy)
    with pytest.raises(LessonFileError, match=re.escape(complaint)):
        load_lesson_dir(lesson_copy)
    db.session.rollback()
    assert _count(Lesson) == 0


def test_flask_lessons_load_loads_every_folder_and_can_run_again(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["lessons", "load"])
        assert result.exit_code == 0, result.output
        assert "Loaded establishing-a-cop: Establishing a community of practice (5 modules)." in result.output
    with app.app_context():
        assert _count(Lesson) == 1 and _count(LessonModule) == 5
        assert db.session.scalar(select(Lesson.built_in))
        db.session.remove()


def test_flask_lessons_load_takes_a_path_and_reports_a_broken_file(app, lesson_copy):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["lessons", "load", str(lesson_copy)])
    assert result.exit_code == 0, result.output
    (lesson_copy / "01-why-cops-work.en.md").write_text("oops", encoding="utf-8")
    broken = runner.invoke(args=["lessons", "load", str(lesson_copy)])
    assert broken.exit_code == 1
    assert "01-why-cops-work.en.md: must start with a +++ front-matter line" in broken.output
    empty = runner.invoke(args=["lessons", "load", str(lesson_copy / "..")])  # a folder of folders works too
    assert empty.exit_code == 1 and "01-why-cops-work.en.md" in empty.output
    with app.app_context():
        assert _count(LessonModule) == 5  # the good load stands, the broken one changed nothing
        db.session.remove()


def test_demo_seed_loads_the_built_in_lesson_for_the_demo_community(app, ctx):
    from service.demo import seed_demo
    assert seed_demo()
    community = db.session.scalar(select(Community))
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "establishing-a-cop"))
    assert community.lesson_id == lesson.id and len(lesson.modules) == 5


# --- Rendering -----------------------------------------------------------------------------------------------


HOSTILE_BODY = """Some **bold** advice.

<script>alert("body")</script>

<img src="x" onerror="alert('img')">

<p onclick="alert('p')">Click me</p>

[a trap](javascript:alert('link'))

<a href="javascript:alert('raw')">raw trap</a>

<iframe src="https://evil.example"></iframe>

[a real link](https://example.org/guide)
"""


def test_module_html_renders_markdown_and_makes_scripts_html_and_javascript_links_inert(app, ctx):
    module = lessons.draft_module(title_en="T", goal_en="G", body_en=HOSTILE_BODY)
    html = str(lessons.module_html(module, "en"))
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org/guide"' in html
    for active in ("<script", "alert(", "onerror", "onclick", "<img", "javascript:", "<iframe"):
        assert active not in html.lower(), f"{active} survived: {html}"
    assert "Click me" in html and "raw trap" in html  # the words stay, what they could do goes
    assert str(lessons.module_html(module, "es")) == html  # no Spanish body: the English one


def test_module_text_is_the_markdown_for_the_plain_text_part(app, ctx):
    module = lessons.draft_module(title_en="T", goal_en="G", body_en="Line one\r\n\r\n- item\r\n",
                                  body_es="Primera línea")
    assert lessons.module_text(module, "en") == "Line one\n\n- item"
    assert lessons.module_text(module, "es") == "Primera línea"


# --- The dashboard -------------------------------------------------------------------------------------------


def _login(client, email):
    response = login(client, email, PASSWORD)
    assert response.status_code == 302
    return client


MODULE = {"title_en": "Listening first", "goal_en": "Hear what members need.",
          "body_en": "Ask **three** questions.", "reflection_en": "What did you hear?",
          "practice_prompt_en": "Share a question that worked.", "title_es": "Escuchar primero",
          "goal_es": "Escuchar lo que necesitan.", "body_es": "Haga **tres** preguntas.",
          "reflection_es": "", "practice_prompt_es": ""}


def _new_lesson(client, title="Volunteer retention") -> int:
    response = post_form(client, "/lessons/new", {"title_en": title, "title_es": "", "summary_en": "Keep them.",
                                                  "summary_es": ""})
    assert response.status_code == 302
    return int(re.fullmatch(r"/lessons/(\d+)", response.headers["Location"]).group(1))


def _add_module(client, lesson_id, **changes) -> int:
    url = f"/lessons/{lesson_id}/modules/new"
    response = post_form(client, url, {**MODULE, **changes, "save": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    with client.application.app_context():
        module_id = db.session.scalar(select(func.max(LessonModule.id)))
        db.session.remove()
    return module_id


def test_any_coordinator_reads_the_built_in_lesson_but_cannot_change_it(app, alice_client):
    lesson_id = _load_built_in(app)
    listing = alice_client.get("/lessons/").get_data(as_text=True)
    assert 'href="/lessons/"' in listing  # the nav link
    assert "Establishing a community of practice" in listing and "Built in" in listing

    page = alice_client.get(f"/lessons/{lesson_id}").get_data(as_text=True)
    titles = re.findall(r'<li id="module-\d+">\s*<a [^>]+><strong>([^<]+)</strong>', page)
    assert len(titles) == 5 and titles[0] == "Why communities of practice work"
    assert "only an administrator can change it" in page
    assert "Add a module" not in page and "/edit" not in page and "Move up" not in page

    first = _modules(app, lesson_id)[0][0]
    module_page = alice_client.get(f"/lessons/{lesson_id}/modules/{first}").get_data(as_text=True)
    assert "<h3>Try this month</h3>" in module_page and "<h3>Para hacer este mes</h3>" in module_page
    assert "Objetivo:" in module_page and "Goal:" in module_page  # each card in its own language


def test_a_non_admin_gets_404_on_every_edit_route_of_the_built_in_lesson(app, alice_client):
    lesson_id = _load_built_in(app)
    modules = _modules(app, lesson_id)
    first, second = modules[0][0], modules[1][0]
    token = csrf_from(alice_client.get("/lessons/").get_data(as_text=True))
    get_urls = [f"/lessons/{lesson_id}/edit", f"/lessons/{lesson_id}/modules/new",
                f"/lessons/{lesson_id}/modules/{first}/edit", f"/lessons/{lesson_id}/modules/{first}/delete"]
    post_urls = get_urls + [f"/lessons/{lesson_id}/modules/{second}/up",
                            f"/lessons/{lesson_id}/modules/{first}/down"]
    for url in get_urls:
        assert alice_client.get(url).status_code == 404, url
    for url in post_urls:
        response = alice_client.post(url, data={"csrf_token": token, **MODULE, "save": "1"})
        assert response.status_code == 404, url
    assert _modules(app, lesson_id) == modules
    with app.app_context():
        assert db.session.scalar(select(Lesson.title_en)) == "Establishing a community of practice"
        assert db.session.scalar(select(func.count()).where(AuditEvent.action.like("lesson.module%"))) == 0
        db.session.remove()


def test_an_admin_may_edit_the_built_in_lesson(app, client, personas):
    lesson_id = _load_built_in(app)
    _login(client, "carol@example.org")
    first = _modules(app, lesson_id)[0][0]
    page = client.get(f"/lessons/{lesson_id}").get_data(as_text=True)
    assert "Add a module" in page and "replaced the next time" in page
    response = post_form(client, f"/lessons/{lesson_id}/modules/{first}/edit",
                         {**MODULE, "title_en": "Why peers matter", "save": "1"})
    assert response.status_code == 302
    assert _modules(app, lesson_id)[0][2] == "Why peers matter"


def test_create_a_lesson_with_validation_errors_first(app, alice_client):
    response = post_form(alice_client, "/lessons/new", {"title_en": "  ", "summary_en": "Kept text"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "A lesson needs a title in English." in html and 'id="title_en-error"' in html
    assert "Kept text" in html
    with app.app_context():
        assert _count(Lesson) == 0

    lesson_id = _new_lesson(alice_client, "Volunteer retention")
    page = alice_client.get(f"/lessons/{lesson_id}").get_data(as_text=True)
    assert "Lesson created." in page and "<h1>Volunteer retention</h1>" in page and "No modules yet." in page
    with app.app_context():
        lesson = db.session.get(Lesson, lesson_id)
        assert lesson.slug == "volunteer-retention" and not lesson.built_in
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "lesson.create"))
        assert event.actor == "alice@example.org" and event.object_id == lesson_id
        db.session.remove()
    assert _new_lesson(alice_client, "Volunteer retention") != lesson_id  # same title, its own slug

    response = post_form(alice_client, f"/lessons/{lesson_id}/edit",
                         {"title_en": "Keeping volunteers", "title_es": "Cómo retener voluntarios"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Lesson, lesson_id).title_es == "Cómo retener voluntarios"
        db.session.remove()


def test_add_module_refuses_missing_texts_and_keeps_what_was_typed(app, alice_client, personas):
    lesson_id = _new_lesson(alice_client)
    url = f"/lessons/{lesson_id}/modules/new"
    for field, message in [("title_en", "A module needs a title in English."),
                           ("goal_en", "A module needs a learning goal in English."),
                           ("body_en", "A module needs a body in English.")]:
        response = post_form(alice_client, url, {**MODULE, field: "", "save": "1"})
        html = response.get_data(as_text=True)
        assert response.status_code == 400, field
        assert message in html and f'id="{field}-error"' in html
        assert "Escuchar primero" in html  # the rest of the form is kept
    response = post_form(alice_client, url, {**MODULE, "title_en": "x" * 201, "save": "1"})
    assert response.status_code == 400
    assert _modules(app, lesson_id) == []


def test_preview_shows_unsaved_text_as_the_email_would_and_saves_nothing(app, alice_client, personas):
    lesson_id = _new_lesson(alice_client)
    new_page = alice_client.get(f"/lessons/{lesson_id}/modules/new").get_data(as_text=True)
    assert "press Preview" in new_page and 'name="preview"' in new_page

    response = post_form(alice_client, f"/lessons/{lesson_id}/modules/new",
                         {**MODULE, "body_en": "A *draft* <script>alert(1)</script>", "preview": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "It is not saved yet." in html and "<em>draft</em>" in html
    assert "<script>alert(1)" not in html
    assert "Haga <strong>tres</strong> preguntas." in html and "Objetivo:" in html
    assert _modules(app, lesson_id) == []

    module_id = _add_module(alice_client, lesson_id)
    edit_url = f"/lessons/{lesson_id}/modules/{module_id}/edit"
    saved = alice_client.get(edit_url).get_data(as_text=True)
    assert "Ask <strong>three</strong> questions." in saved and "This is the saved module." in saved
    assert "To think about:</strong> What did you hear?" in saved
    assert "Para reflexionar:</strong> What did you hear?" in saved  # no Spanish text: the English one

    # Preview with a missing title still previews (only Save enforces the rules) and changes nothing.
    response = post_form(alice_client, edit_url, {**MODULE, "title_en": "", "body_en": "Ask **four**.",
                                                   "preview": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Ask <strong>four</strong>." in html and "It is not saved yet." in html
    with app.app_context():
        module = db.session.get(LessonModule, module_id)
        assert module.body_en == "Ask **three** questions." and module.title_en == "Listening first"
        db.session.remove()

    response = post_form(alice_client, edit_url, {**MODULE, "body_en": "Ask **four**.", "save": "1"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(LessonModule, module_id).body_en == "Ask **four**."
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "lesson.module_update"))
        assert event.details["fields"] == ["body_en"] and event.actor == "alice@example.org"
        db.session.remove()


def test_move_and_delete_modules_keep_the_order_without_gaps(app, alice_client, personas):
    lesson_id = _new_lesson(alice_client)
    a, b, c = (_add_module(alice_client, lesson_id, title_en=title) for title in ("A", "B", "C"))
    assert [row[2] for row in _modules(app, lesson_id)] == ["A", "B", "C"]
    page = f"/lessons/{lesson_id}"

    assert post_form(alice_client, page, {}, f"/lessons/{lesson_id}/modules/{c}/up").status_code == 302
    assert [row[2] for row in _modules(app, lesson_id)] == ["A", "C", "B"]
    post_form(alice_client, page, {}, f"/lessons/{lesson_id}/modules/{a}/down")
    assert [row[2] for row in _modules(app, lesson_id)] == ["C", "A", "B"]
    post_form(alice_client, page, {}, f"/lessons/{lesson_id}/modules/{c}/up")  # already first: nothing
    post_form(alice_client, page, {}, f"/lessons/{lesson_id}/modules/{b}/down")  # already last: nothing
    assert [(row[1], row[2]) for row in _modules(app, lesson_id)] == [(0, "C"), (1, "A"), (2, "B")]

    listing = alice_client.get(page).get_data(as_text=True)
    assert listing.index(f'id="module-{c}"') < listing.index(f'id="module-{a}"') < listing.index(f'id="module-{b}"')

    confirm = alice_client.get(f"/lessons/{lesson_id}/modules/{c}/delete")
    assert confirm.status_code == 200 and "This cannot be undone." in confirm.get_data(as_text=True)
    response = post_form(alice_client, f"/lessons/{lesson_id}/modules/{c}/delete", {})
    assert response.status_code == 302
    assert [(row[1], row[2]) for row in _modules(app, lesson_id)] == [(0, "A"), (1, "B")]
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "lesson_module")
                                     .order_by(AuditEvent.id)).all()
        assert actions == ["lesson.module_add"] * 3 + ["lesson.module_move"] * 2 + ["lesson.module_delete"]
        db.session.remove()


def test_changes_without_a_csrf_token_are_refused(app, alice_client, personas):
    lesson_id = _new_lesson(alice_client)
    a, b = (_add_module(alice_client, lesson_id, title_en=title) for title in ("A", "B"))
    before = _modules(app, lesson_id)
    for url, data in [(f"/lessons/{lesson_id}/modules/{b}/up", {}),
                      (f"/lessons/{lesson_id}/modules/{a}/delete", {}),
                      (f"/lessons/{lesson_id}/modules/{a}/edit", {**MODULE, "title_en": "Hacked", "save": "1"}),
                      (f"/lessons/{lesson_id}/modules/new", {**MODULE, "save": "1"}),
                      (f"/lessons/{lesson_id}/edit", {"title_en": "Hacked"}),
                      ("/lessons/new", {"title_en": "Hacked"})]:
        response = alice_client.post(url, data=data)
        assert response.status_code == 400, url
        assert "This form has expired" in response.get_data(as_text=True)
    assert _modules(app, lesson_id) == before
    with app.app_context():
        assert _count(Lesson) == 1
        db.session.remove()


def test_lessons_written_on_the_dashboard_are_shared_with_every_coordinator(app, client, personas):
    _login(client, "alice@example.org")
    lesson_id = _new_lesson(client)
    module_id = _add_module(client, lesson_id)
    bob = app.test_client()
    _login(bob, "bob@example.org")
    assert "Volunteer retention" in bob.get("/lessons/").get_data(as_text=True)
    response = post_form(bob, f"/lessons/{lesson_id}/modules/{module_id}/edit",
                         {**MODULE, "title_en": "Bob's take", "save": "1"})
    assert response.status_code == 302
    assert _modules(app, lesson_id)[0][2] == "Bob's take"


def test_titles_and_bodies_are_escaped_on_dashboard_pages(app, alice_client, personas):
    lesson_id = _new_lesson(alice_client, "<b>Bold</b> lesson")
    module_id = _add_module(alice_client, lesson_id, title_en="<i>x</i>",
                            body_en='<img src=x onerror="alert(1)"> text')
    for url in (f"/lessons/{lesson_id}", f"/lessons/{lesson_id}/modules/{module_id}",
                f"/lessons/{lesson_id}/modules/{module_id}/edit", "/lessons/"):
        html = alice_client.get(url).get_data(as_text=True)
        assert "<b>Bold</b>" not in html and "<i>x</i>" not in html and "<img src=x" not in html, url
    page = alice_client.get(f"/lessons/{lesson_id}/modules/{module_id}").get_data(as_text=True)
    assert "&lt;i&gt;x&lt;/i&gt;" in page


def test_a_spanish_coordinator_sees_lessons_in_spanish(app, client):
    _load_built_in(app)
    with app.app_context():
        create_coordinator("lucia@example.org", "Lucía", PASSWORD, language="es")
        db.session.commit()
        db.session.remove()
    _login(client, "lucia@example.org")
    html = client.get("/lessons/").get_data(as_text=True)
    assert "Cómo establecer una comunidad de práctica" in html
    assert "Lecciones" in html  # the nav link, translated
