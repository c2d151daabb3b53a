"""Health checks for load balancers, supervisors and monitoring.

`/healthz` is liveness: the web process answers, touching nothing else (a
restart would not help when the database is down). `/readyz` is readiness of
the whole service (service.readiness): 200 when everything answers, 503 with
a JSON body naming what failed. Neither is rate-limited, and neither says
anything a stranger could use: no addresses, versions or server messages.
"""
from flask import Blueprint, jsonify

from service import readiness
from service.extensions import limiter

bp = Blueprint("health", __name__)

NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/healthz")
@limiter.exempt
def healthz():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", **NO_STORE}


@bp.route("/readyz")
@limiter.exempt
def readyz():
    result = readiness.report()
    return jsonify(result.as_json()), 200 if result.ready else 503, NO_STORE
