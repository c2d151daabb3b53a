"""A liveness check for load balancers and deployments: answers "ok" without touching the database."""
from flask import Blueprint

from service.extensions import limiter

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@limiter.exempt
def healthz():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
