"""The views of the web pages (see api/ui/__init__.py)."""
from __future__ import annotations

import hmac
import os
from collections import deque
from datetime import datetime, time, timedelta
from functools import wraps
from urllib.parse import urlencode

from flask import (Blueprint, current_app, g, redirect, render_template, request, session, url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf, validate_csrf
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from engine.evaluation.case import read_as_of
from engine.errors import CaseError
from engine.language.expressions import Expr
from engine.types import CHINA, parse_date, parse_datetime

from ..auth import _caller
from ..decision_log import DecisionLogUnavailable
from ..problems import Problem, localized_status
from ..settings import ROLES, SettingsError
from . import forms, rules, sessions, timeline, words, workings

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static",
               static_url_path="/static")

SCRAP = "scrap_pricing"
SLA = "sla"
# The scrap-price page: what finance types; every other input keeps its default (a choice of form
# fields only: its card, like every card, shows what the decision and the rules hold).
SCRAP_FIELDS = ["weight_t", "market_prices_per_t", "region", "proposed_price", "quotes", "special_reason",
                "buyer_licence", "hazardous", "original_value"]
ORDER = ["warranty", SCRAP, SLA, "depreciation"]  # the start page: the most used first
RECENT_LIMIT = 100
RECENT_SCAN = 50_000


class _Cookies(SecureCookieSessionInterface):
    """Flask's signed session cookie (HttpOnly, SameSite=Lax), marked Secure when the request came over TLS.

    request.is_secure is true behind gunicorn's own TLS, or when a proxy that gunicorn trusts
    (`forwarded_allow_ips`: the FORWARDED_ALLOW_IPS variable, loopback by default) sends
    X-Forwarded-Proto: https; no other client can make it claim TLS."""

    def get_cookie_secure(self, app):
        return request.is_secure


@bp.record_once
def _setup(state):
    app = state.app
    settings = app.config["SETTINGS"]
    try:
        if not app.secret_key:  # the same in every worker, so a cookie signed by one is good in the others
            app.secret_key = os.environ.get("AFTERSALES_SECRET_KEY") or sessions.shared_key(settings.var_dir)
        app.extensions["aftersales_ui"] = (sessions.SessionStore(settings.var_dir / "ui-sessions.db")
                                           if settings.tokens else None)
    except (OSError, sessions.SessionsUnavailable) as e:
        raise SettingsError(f"{settings.var_dir}: the web pages cannot keep their cookie key and sign-ins there "
                            f"({e})") from None
    app.session_interface = _Cookies()
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "aftersales_ui"
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # a form stays good while its sign-in does (sessions.MAX_AGE_S)


def _sessions() -> sessions.SessionStore:
    return current_app.extensions["aftersales_ui"]


def _service():
    return current_app.extensions["aftersales"]


def _settings():
    return current_app.config["SETTINGS"]


# --------------------------------------------------------------------------- language and users

@bp.before_request
def _language():
    asked = request.args.get("lang")
    g.lang = asked if asked in words.LANGS else request.cookies.get("lang") if request.cookies.get("lang") in words.LANGS else "zh"
    g.set_lang = asked in words.LANGS


@bp.after_request
def _remember_language(response):
    if g.get("set_lang"):
        response.set_cookie("lang", g.lang, max_age=365 * 86400, samesite="Lax", secure=request.is_secure)
    return response


def _user() -> tuple[str, frozenset] | None:
    settings = _settings()
    if settings.open_access:
        return "local", frozenset(ROLES)
    if request.headers.get("Authorization"):
        name = _caller(settings)  # a Problem 401 on a bad token
        return name, g.roles
    sid = session.get("sid")
    held = _sessions().token_fp(sid) if isinstance(sid, str) else None
    if held:
        for secret, token in settings.tokens.items():  # roles from the settings, as they are now
            if hmac.compare_digest(sessions.fingerprint(current_app.secret_key, secret), held):
                return token.name, token.roles
    return None


def _csrf_ok() -> bool:
    """The form carries this browser session's CSRF token (open mode too: any local page could post).
    Flask-WTF makes and checks it: a random token kept in the session, signed with the app's key
    into the form, valid while the session lasts (WTF_CSRF_TIME_LIMIT None)."""
    try:
        validate_csrf(request.form.get("csrf"))
    except ValidationError:
        return False
    return True


def page(role: str | None = None, post_role: str | None = None):
    """A page for any signed-in user (or one with `role`); POSTs need `post_role`."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = _user()
            if user is None:
                return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
            g.ui_user, g.ui_roles = user
            g.caller = "ui:" + user[0]
            needed = post_role if request.method == "POST" and post_role else role
            if needed and needed not in g.ui_roles:
                return _error(403, f'{words.text("needs_role", g.lang)} “{needed}”')
            if request.method == "POST" and not _csrf_ok():
                return _error(400, words.text("csrf", g.lang))
            return view(*args, **kwargs)
        return wrapper
    return decorate


def t(key: str) -> str:
    return words.text(key, g.get("lang", "zh"))


@bp.app_context_processor
def _context():
    if not request.blueprint == "ui":
        return {}
    csrf = generate_csrf()
    return {"t": t, "lang": g.get("lang", "zh"), "user": g.get("ui_user"), "roles": g.get("ui_roles", frozenset()),
            "open_access": _settings().open_access, "csrf": csrf,
            "lang_url": lambda lang: request.path + "?" + urlencode({**request.args.to_dict(), "lang": lang})}


def _error(status: int, detail: str = ""):
    title = {403: t("forbidden"), 404: t("not_found")}.get(status, t("error"))
    return render_template("ui/error.html", status=status, title=title, detail=detail), status


@bp.errorhandler(Problem)
def _problem(p: Problem):
    return _error(p.status, p.detail or p.title)


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException):
    return _error(e.code or 500, e.description or "")


@bp.errorhandler(sessions.SessionsUnavailable)
def _sessions_down(e):
    current_app.logger.error("web sign-ins unavailable: %s", e)
    return _error(503, "the sign-in table cannot be read or written; try again later")


@bp.errorhandler(DecisionLogUnavailable)
def _log_down(e):
    current_app.logger.error("decision log unavailable: %s", e)
    return _error(503, "the decision log cannot be written; nothing was decided")


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = request.values.get("next") or url_for("ui.start")
    if not target.startswith("/ui/"):
        target = url_for("ui.start")
    if _settings().open_access:
        return redirect(target)
    error = ""
    if request.method == "POST" and not _csrf_ok():
        return render_template("ui/login.html", next=target, error=t("csrf")), 400
    if request.method == "POST":
        given = request.form.get("token", "").strip()
        for secret in _settings().tokens:
            if hmac.compare_digest(secret.encode(), given.encode()):
                session.clear()  # a new session id and a new CSRF token: nothing carried over from before
                session["sid"] = _sessions().open(sessions.fingerprint(current_app.secret_key, secret))
                return redirect(target)
        error = t("bad_token")
    return render_template("ui/login.html", next=target, error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    """Ends the sign-in server-side: the old cookie no longer works in any worker."""
    if not _csrf_ok():
        return _error(400, t("csrf"))
    sid = session.get("sid")
    if isinstance(sid, str) and _sessions() is not None:
        _sessions().revoke(sid)
    session.clear()
    return redirect(url_for("ui.login"))


# --------------------------------------------------------------------------- the start page

@bp.get("/")
@page()
def start():
    svc = _service()
    sets = []
    status = localized_status(svc.source.status(), g.lang)  # load errors in the page's language
    for item in status:
        if item["name"] == "calendar":
            continue
        loaded = svc.source.book.rulesets.get(item["name"])
        sets.append(dict(item, timeline=loaded is not None and timeline.applies(loaded.ruleset),
                         quick=url_for("ui.scrap") if item["name"] == SCRAP else None))
    sets.sort(key=lambda i: (ORDER.index(i["name"]) if i["name"] in ORDER else len(ORDER), i["name"]))
    calendar_error = next((i for i in status if i["name"] == "calendar"), None)
    return render_template("ui/start.html", rulesets=sets, calendar_error=calendar_error)


# --------------------------------------------------------------------------- decisions

def _facts(ruleset, values: dict, lang: str) -> list[tuple[str, str, str]]:
    """(name, label, value in words) of the facts a rule read."""
    out = []
    for name, value in values.items():
        spec = None
        if ruleset is not None:
            spec = ruleset.inputs.get(name) or ruleset.outputs.get(name) or ruleset.parameters.get(name)
        lab = words.label(name, spec.title, lang)[0] if spec is not None and lang == "zh" else name
        if value == "***":
            shown = "***" + t("pii_masked")
        elif spec is not None:
            shown = words.output_value(name, spec, value, lang)
        elif isinstance(value, bool):
            shown = t("bool_true" if value else "bool_false")
        else:
            shown = "—" if value is None else str(value)
        out.append((name, lab, shown))
    return out


def _source(text: str) -> tuple[str, str]:
    file, sep, clause = (text or "").partition(" § ")
    return (file, clause) if sep else ("", text or "")


def card(ruleset, response: dict, case: dict) -> dict:
    """What the decision card shows, in words."""
    lang = g.lang
    decision = response.get("decision", {})
    outputs = []
    names = list(ruleset.outputs) if ruleset is not None else []
    names += [n for n in decision if n not in names]
    for name in names:
        if name not in decision:
            continue
        spec = ruleset.outputs.get(name) if ruleset is not None else None
        lab = words.label(name, spec.title if spec else "", lang)[0]
        outputs.append({"name": name, "label": lab, "value": words.output_value(name, spec, decision[name], lang),
                        "tone": words.tone(name, decision[name])})
    fired = []
    for f in response.get("fired", []):
        file, clause = _source(f.get("source", ""))
        sets = []
        for o, v in f.get("sets", {}).items():
            spec = ruleset.outputs.get(o) if ruleset is not None else None
            sets.append((words.label(o, spec.title if spec else "", lang)[0], words.output_value(o, spec, v, lang)))
        fired.append({"id": f["id"], "title": f.get("title", ""), "file": file, "clause": clause, "sets": sets,
                      "facts": _facts(ruleset, f.get("values", {}), lang), "overridden": f.get("overridden", [])})
    not_fired = None
    if "not_fired" in response:
        not_fired = []
        for n in response["not_fired"]:
            file, clause = _source(n.get("source", ""))
            because = n.get("because", "")
            if because.startswith("missing: "):
                because = t("because_missing") + "：" + because.removeprefix("missing: ")
            else:
                because = {"false": t("because_false"), "first hit": t("because_first_hit")}.get(because, because)
            failed = n.get("failed", "")
            if ruleset is not None and because != t("because_first_hit"):
                shown = rules.failed_part(ruleset, n["id"], failed, lang) or Markup.escape(failed)
            else:
                shown = Markup.escape(failed)
            not_fired.append({"id": n["id"], "title": n.get("title", ""), "file": file, "clause": clause,
                              "failed": shown, "raw": failed, "because": because,
                              "facts": _facts(ruleset, n.get("values", {}), lang)})
    head, tone = words.headline(ruleset, response, case, lang) if ruleset is not None else ("", "neutral")
    rs = response.get("ruleset", {})
    out = {"id": response.get("decision_id"), "name": rs.get("name"), "version": rs.get("version"),
           "digest": (rs.get("digest") or "")[:19], "title": ruleset.title if ruleset is not None else rs.get("name"),
           "as_of": words.moment(response["as_of"], lang) if response.get("as_of") else "",
           "headline": head, "tone": tone, "outputs": outputs, "fired": fired,
           "warnings": response.get("warnings", []), "not_fired": not_fired, "timeline": None, "workings": []}
    if timeline.applies(ruleset):
        out["timeline"] = timeline.svg(ruleset, response, case, _service().source.book.calendar, lang)
        out["legend"] = timeline.legend(ruleset, response, case, lang)
    if ruleset is not None and rs.get("digest") == ruleset.digest:  # the rules that decided, not a later edit
        out["workings"] = _workings(ruleset, response, case, lang)
    return out


def _workings(ruleset, response: dict, case: dict, lang: str) -> list[dict]:
    """The card's arithmetic in words: each computed output, its expression as the rule wrote it, the
    engine's value, and the facts it read (api/ui/workings.py)."""
    out = []
    for w in workings.of(ruleset, response, case):
        spec = ruleset.outputs.get(w["output"])
        facts = [(n, n, rules.expression(v, ruleset, lang)) if isinstance(v, Expr) else _facts(ruleset, {n: v}, lang)[0]
                 for n, v in w["facts"]]
        out.append({"rule": w["rule"], "name": w["output"],
                    "label": words.label(w["output"], spec.title if spec else "", lang)[0],
                    "expression": rules.expression(w["expr"], ruleset, lang),
                    "value": words.output_value(w["output"], spec, w["value"], lang), "facts": facts})
    return out


def _decide_page(name: str, only: list | None, template: str):
    svc = _service()
    loaded = svc.decisions.loaded(name)
    rs = loaded.ruleset
    only = [f for f in only if f in rs.inputs] if only else None
    errors, typed, result, as_of_text = {}, None, None, forms.now_local()
    if request.method == "POST":
        case, typed = forms.read(rs, request.form, only)
        as_of_text = request.form.get("as_of", "").strip()
        as_of = None
        try:
            as_of = read_as_of(forms.read_as_of(request.form))
        except CaseError as e:
            errors["as_of"] = e.errors.get("as_of", ["?"])
        if as_of is not None:
            try:
                response = svc.decisions.decide(name, case, as_of, "full", g.caller)
            except Problem as p:
                if p.status != 422 or not p.errors:
                    raise
                errors = {k.removeprefix("case."): v for k, v in p.errors.items()}
            else:
                g.decision_ids = [response["decision_id"]]
                result = card(rs, response, case)
    groups = forms.build(rs, g.lang, typed, errors, only)
    status = 422 if errors else 200
    return render_template(template, ruleset=rs, name=name, groups=groups, result=result,
                           as_of=as_of_text, as_of_errors=[words.message(m, g.lang) for m in errors.get("as_of", [])],
                           errors=errors, action=request.path, from_log=False), status


@bp.route("/decide/<name>", methods=["GET", "POST"])
@page(post_role="decide")
def decide(name):
    return _decide_page(name, None, "ui/decide.html")


@bp.route("/scrap", methods=["GET", "POST"])
@page(post_role="decide")
def scrap():
    return _decide_page(SCRAP, SCRAP_FIELDS, "ui/scrap.html")


@bp.get("/sla")
@page()
def sla():
    return redirect(url_for("ui.decide", name=SLA))


@bp.get("/decisions/<decision_id>")
@page("audit")
def decision(decision_id):
    svc = _service()
    record = svc.log.get(decision_id)
    if record is None:
        return _error(404, f"no decision {decision_id!r}")
    response, case = record["response"], record.get("case") or {}
    name = record["ruleset"]
    loaded = svc.source.book.rulesets.get(name)
    rs = loaded.ruleset if loaded else None
    result = card(rs, response, case)
    groups = forms.build(rs, g.lang, {k: v for k, v in case.items() if k in rs.inputs}) if rs else []
    return render_template("ui/decide.html", ruleset=rs, name=name, groups=groups, result=result,
                           as_of=forms.local_datetime(response.get("as_of", "")), as_of_errors=[], errors={},
                           action=url_for("ui.decide", name=name), from_log=True, record=record)


def _arg(key: str, parse):
    """A query parameter read by the engine's own parser (bounded years); bad input is a 400 naming it."""
    value = request.args.get(key, "").strip()
    if not value:
        return None
    try:
        return parse(value)
    except ValueError as e:
        raise Problem(400, "Bad Request", f"{key}: {e}") from None


def _created(value) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@bp.get("/decisions")
@page("audit")
def recent():
    svc = _service()
    today = datetime.now(CHINA).date()
    ruleset = request.args.get("ruleset") or None
    since_day = _arg("since", parse_date)
    until_day = _arg("until", parse_date)
    before = _arg("before", parse_datetime)  # the paging cursor: the time of the last row shown
    if since_day is None and until_day is None and before is None:
        since_day = today - timedelta(days=6)
    since = datetime.combine(since_day, time(0), CHINA) if since_day else None
    until = datetime.combine(until_day + timedelta(days=1), time(0), CHINA) if until_day else None
    if before is not None:
        until = min(until, before) if until else before
    newest: deque = deque(maxlen=RECENT_LIMIT)
    total, cursor, capped = 0, None, False
    while True:
        items, cursor = svc.log.page(ruleset, since, until, 1000, cursor)
        newest.extend(items)
        total += len(items)
        if cursor is None:
            break
        if total >= RECENT_SCAN:
            capped = True
            break
    rows = []
    for item in reversed(newest):
        loaded = svc.source.book.rulesets.get(item["ruleset"])
        rs = loaded.ruleset if loaded else None
        head, tone = words.headline(rs, item["response"], item.get("case") or {}, g.lang) if rs else ("", "neutral")
        created = _created(item["created_at"])
        rows.append({"id": item["decision_id"], "created": words.moment(created, g.lang), "ruleset": item["ruleset"],
                     "title": rs.title if rs else item["ruleset"], "version": item["version"],
                     "as_of": words.moment(item["as_of"], g.lang) if item.get("as_of") else "",
                     "headline": head, "tone": tone, "caller": item.get("caller") or "",
                     "created_raw": created.isoformat()})
    older = None
    if total > len(rows) and rows and not capped:
        older = url_for("ui.recent", **{k: v for k, v in {"ruleset": ruleset, "since": request.args.get("since", since_day.isoformat() if since_day else ""),
                                                           "until": request.args.get("until", ""),
                                                           "before": rows[-1]["created_raw"]}.items() if v})
    names = [(n, svc.source.book.rulesets[n].ruleset.title) for n in sorted(svc.source.book.rulesets)]
    return render_template("ui/decisions.html", rows=rows, total=total, capped=capped, older=older, names=names,
                           ruleset=ruleset or "", since=since_day.isoformat() if since_day else "",
                           until=until_day.isoformat() if until_day else "")


# --------------------------------------------------------------------------- rules

@bp.get("/rules/<name>")
@page()
def rules_page(name):
    svc = _service()
    status = next((s for s in localized_status(svc.source.status(), g.lang) if s["name"] == name), None)
    if status is None:
        return _error(404, f"unknown rule set {name!r}")
    loaded = svc.source.book.rulesets.get(name)
    rs = loaded.ruleset if loaded else None
    stages = []
    coverage = None
    if rs is not None:
        coverage = rules.covered(svc.source, name)
        for stage in rs.stages:
            rows = []
            for r in stage.rules:
                file, clause = _source(r.source)
                rows.append({"id": r.id, "title": r.title, "file": file, "clause": clause, "priority": r.priority,
                             "when": rules.condition(r.when, rs, g.lang), "then": rules.outputs(r, rs, g.lang),
                             "from": words.day(r.effective_from, g.lang) if r.effective_from else "",
                             "to": words.day(r.effective_to, g.lang) if r.effective_to else "",
                             "table": r.table, "line": r.line,
                             "covered": None if coverage is None else r.id in coverage})
            stages.append({"name": stage.name, "title": stage.title or stage.name, "rules": rows})
    params = []
    if rs is not None:
        for p in rs.parameters.values():
            params.append({"name": p.name, "title": p.title, "value": words.output_value(p.name, p, p.value, g.lang)
                           if not isinstance(p.value, bool) else t("bool_true" if p.value else "bool_false"),
                           "source": p.source})
    n_rules = len(rs.rules) if rs else 0
    n_covered = sum(1 for s in stages for r in s["rules"] if r["covered"])
    return render_template("ui/rules.html", status=status, ruleset=rs, stages=stages, params=params,
                           coverage=coverage, n_rules=n_rules, n_covered=n_covered)


from . import releases as _release_pages  # noqa: F401 - its routes register on bp (api/ui/releases.py)
from . import editor as _editor_pages  # noqa: F401,E402 - its routes register on bp (api/ui/editor.py)
