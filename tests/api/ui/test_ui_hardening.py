"""Issue 10 on the web pages: the SLA timeline's bounded span (item 9), the session cookie, logout,
CSRF and DNS rebinding (item 12), hostile dates and cursors on /ui/decisions (item 7)."""
import hashlib
import re
import sqlite3
from contextlib import closing

import pytest

from api.settings import SettingsError, Token
from api.ui import sessions, timeline
from engine.calendar import WorkCalendar

from tests.api.test_api import make_app
from tests.api.ui.test_ui import AS_OF, SLA_FORM, WARRANTY_FORM, FormClient, Page, csrf_of, login, text

DECIDE = "decide-token-0123456789"
AUDIT = "audit-token-0123456789"
TOKENS = {DECIDE: Token("counter", frozenset({"decide"})), AUDIT: Token("auditor", frozenset({"audit"}))}
SLA_CASE = {"kind": "repair", "requested_at": "2026-09-29T14:30:00+08:00", "responded_at": "2026-09-29T16:05:00+08:00",
            "appraised_at": "2026-09-30T15:20:00+08:00", "onsite_at": "2026-09-30T15:20:00+08:00",
            "distance_km": 420, "parts_needed": True, "in_warranty": True}


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    app.test_client_class = FormClient
    return app.test_client()


# --------------------------------------------------------------------------- item 9: the SLA timeline

@pytest.fixture
def calendar_calls(monkeypatch):
    """Counts the timeline's calendar look-ups (one per day drawn); stops a run-away loop early."""
    calls = []
    real = WorkCalendar.is_working_day

    def counted(self, d):
        calls.append(d)
        assert len(calls) <= 10 * timeline.MAX_DAYS, "the timeline walks far more days than it may draw"
        return real(self, d)
    monkeypatch.setattr(WorkCalendar, "is_working_day", counted)
    return calls


def sla_decision(client, **case) -> dict:
    r = client.post("/v1/decisions/sla", json={"case": dict(SLA_CASE, **case), "as_of": "2026-10-12T09:00:00+08:00"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _read_as(response: dict, name: str, value: str) -> dict:
    """The decision as if its fired rules had read `value` for `name` (a logged decision can hold anything)."""
    fired = [dict(f, values={k: value if k == name else v for k, v in f.get("values", {}).items()})
             for f in response["fired"]]
    return dict(response, fired=fired)


def test_a_resolution_far_in_the_future_draws_a_bounded_clipped_timeline(client, app, calendar_calls):
    case = dict(SLA_CASE, resolved_at="2199-06-01T10:00:00+08:00")  # 63,000 days after the request
    decision = sla_decision(client, **case)
    ruleset = app.extensions["aftersales"].source.book.rulesets["sla"].ruleset
    calendar = app.extensions["aftersales"].source.book.calendar
    calendar_calls.clear()
    svg = timeline.svg(ruleset, decision, case, calendar, "zh")
    assert len(calendar_calls) <= timeline.MAX_DAYS
    shaded = re.findall(r'<rect class="(?:weekend|holiday)"', svg)
    assert 0 < len(shaded) <= timeline.MAX_DAYS  # the weekends near the due dates are still shaded
    assert re.search(r'class="clipped"[^>]*>»<title>时间轴最多画出 400 天', svg)  # the right edge says it is cut
    assert "2199年6月1日 10:00" in svg  # the real time stays in the tooltip and the summary
    # a request in 1900 with a due date in 2026 is cut on the left, around the steps
    svg = timeline.svg(ruleset, _read_as(decision, "requested_at", "1900-01-01T00:00:00+08:00"), case, calendar, "en")
    assert re.search(r'class="clipped"[^>]*>«<title>The timeline draws at most 400 days', svg)
    # moments beyond the years a datetime holds, in a logged decision, are not drawn
    for far in ("9999-12-31T23:00:00-10:00", "9999-12-31T23:59:00+08:00", "0001-01-01T00:00:00+14:00"):
        calendar_calls.clear()
        moved = _read_as(decision, "requested_at", far)
        assert timeline.svg(ruleset, moved, dict(case, resolved_at=far), calendar, "en") is not None
        logged = dict(decision, decision=dict(decision["decision"], resolution_due=far))
        assert timeline.svg(ruleset, logged, case, calendar, "en") is not None
        assert len(calendar_calls) <= 2 * timeline.MAX_DAYS


def test_every_view_of_a_logged_decision_draws_a_bounded_timeline(client, calendar_calls):
    decision = sla_decision(client, resolved_at="2199-12-31T10:00:00+08:00")  # 63,000 days after the request
    calendar_calls.clear()
    r = client.get(f"/ui/decisions/{decision['decision_id']}")
    assert r.status_code == 200
    assert len(calendar_calls) <= timeline.MAX_DAYS
    html = text(r)
    assert 'class="clipped"' in html and "2199年12月31日 10:00" in html


def test_an_ordinary_sla_case_is_drawn_whole_with_no_clipped_edge(client):
    html = text(client.post("/ui/decide/sla", data=dict(SLA_FORM, resolved_at="2026-10-20T11:00")))
    assert 'class="timeline"' in html and 'class="clipped"' not in html
    assert html.count('class="holiday"') >= 7  # the National Day week, 10-01 to 10-07


# --------------------------------------------------------------------------- item 12: the session cookie

@pytest.fixture
def secured(tmp_path):
    return make_app(tmp_path, TOKENS).test_client()


def cookie_name(client) -> str:
    return client.application.config["SESSION_COOKIE_NAME"]


def session_cookie(client):
    return client.get_cookie(cookie_name(client))


def set_cookie_header(client, path, **kwargs) -> str:
    r = client.get(path, **kwargs)
    return next(h for h in r.headers.getlist("Set-Cookie") if h.startswith(cookie_name(client) + "="))


@pytest.mark.parametrize("tokens, path", [(TOKENS, "/ui/login"), (None, "/ui/decide/warranty")])
def test_the_session_cookie_is_samesite_lax_httponly_and_secure_only_over_tls(tmp_path, tokens, path):
    app = make_app(tmp_path, tokens)
    plain = set_cookie_header(app.test_client(), path)
    assert "SameSite=Lax" in plain and "HttpOnly" in plain and "Secure" not in plain
    tls = set_cookie_header(app.test_client(), path, base_url="https://localhost")
    assert "SameSite=Lax" in tls and "Secure" in tls
    # a client cannot claim TLS with a header: only gunicorn's trusted proxies set the scheme
    forged = set_cookie_header(app.test_client(), path, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in forged


def test_the_cookie_holds_a_random_session_id_and_nothing_from_the_token(secured):
    app = secured.application
    read = app.session_interface.get_signing_serializer(app).loads
    login(secured, DECIDE)
    first = read(session_cookie(secured).value)
    assert set(first) <= {"sid", "csrf_token"}
    blob = repr(first)
    assert DECIDE not in blob and hashlib.sha256(DECIDE.encode()).hexdigest() not in blob
    secured.post("/ui/logout", data={"csrf": csrf_of(secured)})
    login(secured, DECIDE)
    assert read(session_cookie(secured).value)["sid"] != first["sid"]  # a new id per sign-in, not per token


def test_logout_revokes_the_cookie_in_every_worker(tmp_path):
    one, two = make_app(tmp_path, TOKENS).test_client(), make_app(tmp_path, TOKENS).test_client()  # two workers
    login(one, DECIDE)
    cookie = session_cookie(one).value
    two.set_cookie(cookie_name(one), cookie)
    assert two.get("/ui/").status_code == 200  # the sign-in is shared
    assert two.post("/ui/logout", data={"csrf": csrf_of(two)}).status_code == 302
    stolen = make_app(tmp_path, TOKENS).test_client()
    stolen.set_cookie(cookie_name(one), cookie)  # the cookie as it was before logging out
    r = stolen.get("/ui/decide/warranty")
    assert r.status_code == 302 and "/ui/login" in r.headers["Location"]
    one.set_cookie(cookie_name(one), cookie)
    assert one.get("/ui/").status_code == 302


def test_a_changed_token_ends_the_sign_ins_made_with_the_old_one(tmp_path):
    before = make_app(tmp_path, TOKENS).test_client()
    login(before, DECIDE)
    rotated = make_app(tmp_path, {"rotated-token-0123456789": TOKENS[DECIDE], AUDIT: TOKENS[AUDIT]}).test_client()
    rotated.set_cookie(cookie_name(before), session_cookie(before).value)
    assert rotated.get("/ui/").status_code == 302


def test_a_sign_in_ends_after_its_maximum_age(secured, monkeypatch):
    login(secured, DECIDE)
    assert secured.get("/ui/").status_code == 200
    later = sessions.time.time() + sessions.MAX_AGE_S + 1
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    assert secured.get("/ui/").status_code == 302


def test_the_sign_ins_of_one_token_are_bounded_oldest_first(tmp_path, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_PER_TOKEN", 3)
    app = make_app(tmp_path, TOKENS)
    browsers = [app.test_client() for _ in range(5)]
    for b in browsers:
        login(b, DECIDE)
    assert [b.get("/ui/").status_code for b in browsers] == [302, 302, 200, 200, 200]
    with closing(sqlite3.connect(tmp_path / "var" / "ui-sessions.db")) as db:
        assert db.execute("SELECT count(*) FROM ui_session").fetchone()[0] == 3  # the table stays bounded


def test_a_damaged_cookie_key_file_stops_the_start_with_its_name(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "ui-secret-key").write_text("short\n")
    with pytest.raises(SettingsError, match="ui-secret-key: not a 64-character key"):
        make_app(tmp_path, TOKENS)


def test_login_and_logout_need_the_forms_csrf_token(secured):
    r = secured.post("/ui/login", data={"token": DECIDE, "next": "/ui/"})  # a login forced by another site
    assert r.status_code == 400 and "表单已过期" in text(r)
    assert secured.get("/ui/").status_code == 302  # not signed in
    login(secured, DECIDE)
    assert secured.post("/ui/logout").status_code == 400  # a logout forced by another site
    assert secured.get("/ui/").status_code == 200


def test_open_mode_forms_need_the_csrf_token_and_nothing_is_decided_without_it(app):
    plain = app.test_client()
    r = plain.post("/ui/decide/warranty", data=WARRANTY_FORM)  # what a page on another site could send
    assert r.status_code == 400 and "表单已过期" in text(r)
    r = plain.post("/ui/decide/warranty", data=dict(WARRANTY_FORM, csrf="a-guess"))
    assert r.status_code == 400
    log = app.extensions["aftersales"].log
    assert log.page()[0] == []
    r = plain.post("/ui/decide/warranty", data=dict(WARRANTY_FORM, csrf=csrf_of(plain)))
    assert r.status_code == 200 and "免费修理" in text(r)
    other = app.test_client()  # another browser's token does not fit this one
    assert other.post("/ui/decide/warranty", data=dict(WARRANTY_FORM, csrf=csrf_of(plain))).status_code == 400


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil",
                                  "10.0.0.5:8080", "[::2]:8080"])
def test_open_mode_refuses_a_foreign_host_on_pages_and_api(client, app, host):
    r = client.get("/ui/", headers={"Host": host})
    assert r.status_code == 421 and r.mimetype == "text/html"
    r = client.get("/v1/rulesets", headers={"Host": host})
    assert r.status_code == 421 and r.mimetype == "application/problem+json"
    assert "loopback" in r.get_json()["detail"]
    r = client.post("/v1/decisions/warranty", headers={"Host": host},
                    json={"case": {"product_line": "electronics", "purchase_date": "2026-03-10",
                                   "fault_cause": "manufacturing"}, "as_of": "2026-11-25"})
    assert r.status_code == 421
    assert app.extensions["aftersales"].log.page()[0] == []  # nothing decided


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "LOCALHOST:80", "[::1]:8080", "[::1]"])
def test_open_mode_answers_loopback_host_names(client, host):
    assert client.get("/ui/", headers={"Host": host}).status_code == 200
    assert client.get("/v1/rulesets", headers={"Host": host}).status_code == 200


def test_with_tokens_any_host_name_is_served(secured):
    r = secured.get("/v1/rulesets", headers={"Host": "aftersales.bank.example", "Authorization": f"Bearer {AUDIT}"})
    assert r.status_code == 200


# --------------------------------------------------------------------------- item 7: hostile query values

HOSTILE = ["9999-12-31T23:00:00-10:00", "0001-01-01T00:00:00+14:00", "9999-12-31", "0001-01-01", "2026-W11-2",
           "1" * 1000, "1e999999", "-1", "%ED%A0%80", "%00", "garbage", "2026-02-30"]


@pytest.mark.parametrize("field", ["since", "until", "before"])
@pytest.mark.parametrize("value", HOSTILE)
def test_recent_decisions_refuse_hostile_dates_and_cursors_with_the_html_error_page(client, field, value):
    r = client.get(f"/ui/decisions?{field}={value}")
    assert r.status_code == 400, (field, value)
    assert r.mimetype == "text/html" and f"{field}: expected a date" in text(r)


def test_the_older_link_pages_through_the_log(client):
    cases = [{"cost": "1000.00", "stock_in_date": "2026-04-08"}] * 101
    assert client.post("/v1/decisions/depreciation/batch", json={"cases": cases, "as_of": AS_OF}).status_code == 200
    html = text(client.get("/ui/decisions"))
    older = [a for a in Page(html).links if "before=" in a]
    assert len(re.findall(r"<tr data-id=", html)) == 100 and len(older) == 1
    r = client.get(older[0].replace("&amp;", "&"))
    assert r.status_code == 200 and len(re.findall(r"<tr data-id=", text(r))) == 1
