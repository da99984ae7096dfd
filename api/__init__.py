"""HTTP layer of the decision service: a Flask application factory.

    from api import create_app
    app = create_app()              # settings from the environment (api/settings.py)

The app holds one database (db.Database) with the decision log (DecisionLog) and the rule
releases (releases.Governance over a ReleaseStore), and one RuleSource serving the active release;
the routes in api/routes.py and api/releases.py are a thin layer over the engine and the workflow.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from db import Database
from releases.governance import Governance
from releases.store import ReleaseStore

from . import jsonout
from .auth import refuse_foreign_host
from .decision_log import DecisionLog, DecisionLogUnavailable
from .decisions import DecisionService
from .metrics import RELOAD_FAILURES
from .problems import Problem
from .rulesource import RuleSource
from .settings import Settings

access_log = logging.getLogger("aftersales.access")


@dataclass
class Service:
    source: RuleSource
    log: DecisionLog
    decisions: DecisionService
    governance: Governance


def create_app(settings: Settings | None = None, watch: bool = True) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    log = DecisionLog.open(settings.database_url, settings.var_dir, settings.durability)
    governance = Governance(ReleaseStore(Database.from_url(settings.database_url, settings.var_dir)),
                            cases=lambda since: log.iter_entries(since=since), impact_days=settings.impact_days,
                            backend=settings.backend)
    source = RuleSource(settings.rules_dir, settings.backend, governance,
                        on_failure=lambda name: RELOAD_FAILURES.labels(name).inc(), var_dir=settings.var_dir,
                        development=settings.development)
    app.extensions["aftersales"] = Service(source, log, DecisionService(source, log), governance)
    if watch and settings.reload_interval > 0:
        source.watch(settings.reload_interval)
    _logging()

    from .routes import bp
    app.register_blueprint(bp)
    app.register_blueprint(__import__("api.releases", fromlist=["bp"]).bp)  # /v1/releases and replay
    app.register_blueprint(__import__("api.ui", fromlist=["bp"]).bp)  # the web pages under /ui/ (api/ui)

    @app.errorhandler(Problem)
    def problem(p: Problem):
        return p.response()

    @app.errorhandler(DecisionLogUnavailable)
    def log_down(e):
        app.logger.error("decision log unavailable: %s", e)
        return Problem(503, "Service Unavailable", "the decision log cannot be written; nothing was decided",
                       kind="log-unavailable").response()

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        detail = {413: f"the body is larger than {settings.max_body_bytes} bytes"}.get(e.code, e.description or "")
        return Problem(e.code or 500, e.name, detail).response()

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        app.logger.exception("unexpected error")
        return Problem(500, "Internal Server Error", "the error was logged; nothing was decided").response()

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    app.before_request(refuse_foreign_host)  # open mode: loopback Host names only (DNS rebinding)

    @app.after_request
    def access(response):
        access_log.info(jsonout.dumps({
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "method": request.method, "path": request.path,
            "status": response.status_code, "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            "caller": g.get("caller"), "decision_ids": g.get("decision_ids", [])}))
        return response
    return app


def _logging():
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
        rules_log = logging.getLogger("aftersales.rules")
        rules_log.addHandler(logging.StreamHandler(sys.stderr))
        rules_log.setLevel(logging.INFO)
