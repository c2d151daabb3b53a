"""Friendly error pages; users never see a stack trace."""
from flask import Blueprint, render_template, request
from flask_wtf.csrf import CSRFError

from service.extensions import db

bp = Blueprint("errors", __name__)


# Pages members reach from an email or the public interest form: they never log in, so their errors
# say what to do with the email's link instead of pointing at the coordinators' dashboard.
MEMBER_PATHS = ("/m/", "/join/")


def _page(status: int, reason=None):
    template = "member/error.html" if request.path.startswith(MEMBER_PATHS) else "errors/error.html"
    return render_template(template, status=status, reason=reason), status


@bp.app_errorhandler(CSRFError)
def csrf_error(error):
    return _page(400, "csrf")


@bp.app_errorhandler(400)
def bad_request(error):
    return _page(400)


@bp.app_errorhandler(404)
def not_found(error):
    return _page(404)


@bp.app_errorhandler(405)
def not_allowed(error):
    return _page(405)


@bp.app_errorhandler(413)
def too_large(error):
    return _page(413)


@bp.app_errorhandler(429)
def too_many(error):
    return _page(429)


@bp.app_errorhandler(500)
def server_error(error):
    try:
        db.session.rollback()
    except Exception:  # the session may be unusable (its connection gone, or failed in a commit hook)
        db.session.remove()
    return _page(500)
