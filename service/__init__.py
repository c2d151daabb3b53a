"""Application factory: create_app() wires settings, extensions, blueprints and commands."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service.config import PROJECT_ROOT, load_settings


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment, then apply `overrides` (tests use them)."""
    app = Flask(__name__, instance_path=None)
    app.config.update(load_settings())
    if overrides:
        app.config.update(overrides)
    register_logging(app)
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_security(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def register_logging(app: Flask) -> None:
    """Our log format on this process's root logger (tests keep pytest's), and a request id before anything logs."""
    from service import logging_setup, request_id
    if not app.testing:
        logging_setup.configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    request_id.register(app)


def trust_proxies(app: Flask) -> None:
    """Behind PROXY_COUNT proxies, the client's address, scheme and host are the ones they forwarded.

    Rate limits key on the client's address, so without this every client
    behind a proxy shares one bucket; with no proxy, the headers are anyone's
    to forge and are ignored.
    """
    count = app.config["PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def register_extensions(app: Flask) -> None:
    from service import i18n
    from service.extensions import babel, csrf, db, limiter, login_manager, mail, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                    compare_server_default=True)
    mail.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    app.before_request(i18n.reset_locale)
    app.jinja_env.add_extension("jinja2.ext.i18n")  # {% trans %} blocks in templates
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = i18n.LOGIN_MESSAGE
    login_manager.session_protection = "strong"

    from service.coordinators import coordinator_for_session
    login_manager.user_loader(coordinator_for_session)
    import service.conversations.addresses  # noqa: F401  (gives every new community its address)


def register_blueprints(app: Flask) -> None:
    from service.views.converters import DatabaseIdConverter
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route uses it
    from service.views import (announcements, auth, communities, digests, errors, imports, intake, lessons,
                               meetings, member_links, members, outbox, practice_links, practices, rsvp)
    for module in (auth, communities, members, imports, announcements, digests, meetings, outbox, member_links, rsvp,
                   practices, practice_links, lessons, intake, errors):
        app.register_blueprint(module.bp)
    app.register_blueprint(intake.public_bp)
    from service.views import form_review, health, outages, password_reset
    for blueprint in (form_review.bp, form_review.trend_bp, health.bp, outages.bp, password_reset.bp):
        app.register_blueprint(blueprint)
    from service.views import charters  # the dashboard's charter pages and the members' ratify page
    app.register_blueprint(charters.bp)
    app.register_blueprint(charters.member_bp)
    from service.views import form_links, form_requests  # members' forms by link; the dashboard's requests
    app.register_blueprint(form_links.bp)
    app.register_blueprint(form_requests.bp)
    from service.views import inbound_webhook  # providers' webhooks post received mail here
    app.register_blueprint(inbound_webhook.bp)
    from service.views import inbox  # what members wrote, and acting on it by hand
    app.register_blueprint(inbox.bp)
    from service.views import people  # who runs each community; observers change nothing
    app.register_blueprint(people.bp)
    from service.views import needs_you  # the account page: how often the "needs you" summary is emailed
    app.register_blueprint(needs_you.bp)
    from service.views import lifecycle  # confirming the stage a community's checklist suggests
    app.register_blueprint(lifecycle.bp)
    from service.views import engagement  # a member's history in a community; who has gone quiet
    app.register_blueprint(engagement.bp)
    from service.views import facilitation_links  # a facilitator hands their meeting on
    app.register_blueprint(facilitation_links.bp)
    from service.views import conversation_links  # a member mutes one conversation, or lets it through again
    app.register_blueprint(conversation_links.bp)
    from service.views import community_health  # health over time, per community
    app.register_blueprint(community_health.bp)
    from service.views import community_export  # the whole community as a zip, import, archive and restore
    app.register_blueprint(community_export.bp)
    from service.views import moderation  # posts that wait for a coordinator or leader
    app.register_blueprint(moderation.bp)
    from service.views import conversations, member_archive  # conversations: the dashboard's, a member's archive
    app.register_blueprint(conversations.bp)
    app.register_blueprint(member_archive.bp)
    from service.views import post_attachments  # a file attached to a community post, by its signed link
    app.register_blueprint(post_attachments.bp)


def register_security(app: Flask) -> None:
    from service.security import add_security_headers
    app.after_request(add_security_headers)


def register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale
    from service.labels import TEMPLATE_HELPERS
    from service import moments
    from service.bilingual import language_name, readers_sentence
    from service.time_zones import zone_name
    from service.views.row_links import row_url
    app.jinja_env.globals.update(TEMPLATE_HELPERS, get_locale=get_locale, row_url=row_url,
                                 readers_sentence=readers_sentence, language_name=language_name)
    # "Mountain Time (Denver)" for a zone key, in the reader's language.
    app.jinja_env.filters["zone_name"] = lambda zone: zone_name(zone, str(get_locale() or "en"))
    # moment, short, day, time: `{{ meeting.starts_at|short(community.time_zone) }}` as a <time> element.
    app.jinja_env.filters.update(moments.filters(lambda: str(get_locale() or "en"), as_html=True))


def register_commands(app: Flask) -> None:
    from service.cli import communities_cli, demo_cli, lessons_cli, mail_cli, members_cli, status, users_cli
    for group in (users_cli, demo_cli, mail_cli, lessons_cli, members_cli, communities_cli, status):
        app.cli.add_command(group)
