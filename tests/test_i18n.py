"""Spanish: the catalog is complete and faithful, and pages and emails come out in the reader's language."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from service.coordinators import create_coordinator
from service.extensions import db
from service.models import Member
from service.tokens import make_token
from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parents[1]
SPANISH_PO = ROOT / "translations" / "es" / "LC_MESSAGES" / "messages.po"
# The same extraction as `make messages`.
EXTRACT = ["extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location", "--omit-header"]


def _read(path: Path):
    with path.open("rb") as f:
        return read_po(f, locale="es")


def _forms(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _translated(message) -> bool:
    return all(_forms(message.string))


@pytest.fixture(scope="module")
def spanish():
    return _read(SPANISH_PO)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Every message the code holds now, extracted with babel.cfg into a temporary template."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = subprocess.run([sys.executable, "-m", "babel.messages.frontend", *EXTRACT, "-o", str(pot), "."],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return _read(pot)


def test_every_spanish_entry_is_translated_and_not_fuzzy(spanish):
    entries = [m for m in spanish if m.id]
    assert entries, "the Spanish catalog is empty"
    untranslated = [m.id for m in entries if not _translated(m)]
    fuzzy = [m.id for m in entries if m.fuzzy]
    assert not untranslated, f"untranslated in {SPANISH_PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy in {SPANISH_PO.name}: {fuzzy}"
    assert not spanish.fuzzy, "the catalog header is marked fuzzy, so `pybabel compile` would skip it"


def test_every_message_in_the_code_is_in_the_spanish_catalog(spanish, extracted):
    known = {(m.id if isinstance(m.id, str) else tuple(m.id), m.context) for m in spanish if m.id and _translated(m)}
    missing = [m.id for m in extracted
               if m.id and (m.id if isinstance(m.id, str) else tuple(m.id), m.context) not in known]
    assert not missing, ("strings in the code with no Spanish translation (run `make messages`, translate "
                         f"translations/es/LC_MESSAGES/messages.po, then `make translations`): {missing}")


PERCENT_NAMED = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
JINJA_VARIABLE = re.compile(r"{{\s*(\w+)")
BRACED = re.compile(r"(?<!{){(\w+)}(?!})")


def placeholders(text: str) -> dict[str, set[str]]:
    return {"%(name)s": set(PERCENT_NAMED.findall(text)), "{{ name }}": set(JINJA_VARIABLE.findall(text)),
            "{name}": set(BRACED.findall(text))}


def test_translations_keep_every_placeholder(spanish):
    wrong = []
    for message in spanish:
        if not message.id or not _translated(message):
            continue
        ids, strings = _forms(message.id), _forms(message.string)
        for index, string in enumerate(strings):
            source = ids[min(index, len(ids) - 1)]  # msgstr[0] follows msgid, the others msgid_plural
            if placeholders(source) != placeholders(string):
                wrong.append(f"{source!r} -> {string!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_placeholder_check_sees_jinja_and_percent_names():
    assert placeholders("Hello %(name)s, {{ count }} and %(num)d")["%(name)s"] == {"name", "num"}
    assert placeholders("Hello {{ name }}")["{{ name }}"] == {"name"}
    assert placeholders("Hola %(nombre)s") != placeholders("Hello %(name)s")


# The page tests make requests outside any app context of their own: a request inside the `ctx`
# fixture would share its `g`, where Flask-Babel caches the locale chosen by the first request.


def test_spanish_coordinator_sees_the_dashboard_in_spanish(app, client):
    with app.app_context():
        create_coordinator("lucia@example.org", "Lucía", PASSWORD, language="es")
        db.session.commit()
        db.session.remove()
    assert login(client, "lucia@example.org", PASSWORD).status_code == 302
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="es">' in html
    assert "Comunidades" in html and "Cerrar sesión" in html and "Bandeja de salida" in html
    assert "Log out" not in html


def test_english_coordinator_still_sees_english(client, personas):
    login(client, "alice@example.org", PASSWORD)
    html = client.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Log out" in html  # the account's language wins over the browser's


def test_browser_asking_for_spanish_gets_the_login_page_in_spanish(client):
    html = client.get("/login", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="es">' in html
    assert "Iniciar sesión" in html and "Contraseña" in html
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Log in" in english


def _preferences_url(app, email: str) -> str:
    with app.app_context():
        member_id = db.session.scalar(select(Member.id).where(Member.email == email))
        db.session.remove()
        return f"/m/preferences/{make_token('preferences', member_id)}"


def test_member_preferences_page_is_in_the_members_language(app, client, personas):
    ana = client.get(_preferences_url(app, "ana@example.org"))  # Ana reads Spanish
    html = ana.get_data(as_text=True)
    assert ana.status_code == 200
    assert '<html lang="es">' in html
    assert "Preferencias de correo" in html and "Guardar mis opciones" in html and "Darme de baja de todas las comunidades" in html
    assert "Email preferences" not in html
    ben = client.get(_preferences_url(app, "ben@example.org"), headers={"Accept-Language": "es"})
    english = ben.get_data(as_text=True)
    assert ben.status_code == 200 and '<html lang="en">' in english and "Email preferences" in english


def test_member_language_wins_over_a_logged_in_coordinators(app, client, personas):
    login(client, "alice@example.org", PASSWORD)  # Alice reads English; Ana's page stays Spanish
    html = client.get(_preferences_url(app, "ana@example.org")).get_data(as_text=True)
    assert '<html lang="es">' in html and "Preferencias de correo" in html
