"""The release pages (issue 12), on the web pages' blueprint:

    /ui/releases                 the releases, newest first, with their states; the active one marked
    /ui/releases/<id>            one release: its diff against its parent in words, the evidence gathered
                                 at submit (refreshing while it runs), its record, and the buttons the
                                 signed-in person may press
    POST /ui/releases/<id>/<action>   submit, approve, reject, activate, rollback

The workflow decides (releases.governance): the pages only show what it holds, offer the buttons
its rules allow, and show its refusal (WorkflowError) in words on the page, never a 500. The person
is the signed-in token's name — the same name the API knows them by, so maker-checker holds across
both — or "local" with every role in open mode.
"""
from __future__ import annotations

from datetime import UTC

from flask import current_app, g, redirect, render_template, request, url_for

from engine.types import parse_datetime
from releases.diff import _file as diff_file
from releases.diff import _value_text as diff_value
from releases.governance import Actor, WorkflowError
from releases.store import StoreUnavailable

from ..releases import READERS
from . import words
from .pages import _error, _service, bp, page, t

REFRESH_S = 2
"""Seconds between two reloads of a release page while its evidence is gathered."""
MAX_SHOWN = 50
"""Test failures, check findings and load problems listed on the page; the rest are counted (a
broken file can fail every test of its rule set: hundreds of lines nobody reads on a page)."""
EXAMPLES_SHOWN = 3
"""Changed decisions shown per rule set as examples of the impact."""
ACTIONS = ("submit", "approve", "reject", "activate", "rollback")
DONE = {"submit": "submitted", "approve": "approved", "reject": "rejected", "activate": "activated",
        "rollback": "rolled_back"}
TONES = {"active": "good", "rejected": "bad", "submitted": "warn", "approved": "warn", "scheduled": "warn"}


@bp.app_context_processor
def _release_link():
    """The navigation shows the releases to those who may read them."""
    if request.blueprint != "ui":
        return {}
    return {"sees_releases": bool(set(g.get("ui_roles", ())) & set(READERS))}


@bp.errorhandler(WorkflowError)
def _refused(e: WorkflowError):
    return _error(e.status, e.message)


@bp.errorhandler(StoreUnavailable)
def _store_down(e):
    current_app.logger.error("release store unavailable: %s", e)
    return _error(503, "the release store cannot be reached; nothing was changed")


def _governance():
    return _service().governance


def _reader():
    """A 403 page unless the signed-in person holds a role that reads releases; else None."""
    if not set(g.ui_roles) & set(READERS):
        return _error(403, f'{t("needs_role")} “{" / ".join(READERS)}”')
    return None


def _when(iso: str | None) -> str:
    return words.moment(iso, g.lang) if iso else ""


@bp.get("/releases")
@page()
def releases_list():
    refused = _reader()
    if refused:
        return refused
    rows = [dict(r, created=_when(r["created_at"]), scheduled=_when(r["scheduled_at"]),
                 tone=TONES.get(r["state"], "neutral")) for r in _governance().list()]
    return render_template("ui/releases.html", rows=rows)


def _diff(rel: dict) -> list[dict]:
    """The changes against the parent, grouped by rule set: [{ruleset, items}] in the differ's order."""
    groups: dict[str, list] = {}
    for item in _governance().diff(rel["parent"], rel["id"])["changes"]:
        groups.setdefault(item["ruleset"], []).append(dict(
            item, kind_words=t(f"kind_{item['kind']}"), change_words=t(f"change_{item['change']}"),
            old_text="" if item["old"] is None else diff_value(item["old"]),
            new_text="" if item["new"] is None else diff_value(item["new"]),
            where=f"{diff_file(item)}:{item['line']}" if item["line"] else diff_file(item)))
    return [{"ruleset": name, "items": items} for name, items in groups.items()]


def _impact(impact: dict | None) -> dict | None:
    """The impact report with money in yuan words and a few examples per rule set."""
    if not impact or "skipped" in impact:
        return impact
    sets = []
    for name, r in impact["rulesets"].items():
        money = [{"output": o, "net": words.money(m["total"], g.lang), "up": words.money(m["up"], g.lang),
                  "down": words.money(m["down"], g.lang), "cases_up": m["cases_up"], "cases_down": m["cases_down"],
                  "largest": m["largest"] and words.money(m["largest"]["change"], g.lang)}
                 for o, m in r["money"].items()]
        examples = []
        for tr in r["transitions"]:
            for ex in tr["examples"]:
                if len(examples) < EXAMPLES_SHOWN:
                    examples.append({"case_id": ex["case_id"], "output": tr["output"],
                                     "before": ex["before"].get("value", ex["before"]["status"]),
                                     "after": ex["after"].get("value", ex["after"]["status"])})
        sets.append(dict(r, name=name, money_rows=money, example_rows=examples))
    return dict(impact, sets=sets)


def _buttons(rel: dict, actor: Actor) -> list[str]:
    """The actions the workflow would let `actor` take on `rel` now."""
    state, evidence = rel["state"], rel["evidence"] if rel["evidence_state"] == "done" else None
    makers = {e["actor"] for e in rel["events"] if e["action"] in ("created", "submitted")} | {rel["author"]}
    out = []
    if state == "draft" and actor.has("author"):
        out.append("submit")
    if state == "submitted" and actor.has("approver") and actor.name not in makers:
        if evidence is not None and evidence["ok_to_approve"]:
            out.append("approve")
        out.append("reject")
    if state == "approved" and actor.has("approver", "admin"):
        out.append("activate")
    if state == "superseded" and actor.has("approver", "admin"):
        out.append("rollback")
    return out


def _release_page(rid: str, refusal: str = "", status: int = 200, form: dict | None = None):
    refused = _reader()
    if refused:
        return refused
    rel = _governance().show(rid)
    evidence = rel["evidence"] if rel["evidence_state"] == "done" else None
    load_problems = evidence["load"]["problems"] if evidence else rel["load_problems"]
    events = [dict(e, when=_when(e["at"])) for e in rel["events"]]
    done = request.args.get("done")
    return render_template(
        "ui/release.html", rel=rel, tone=TONES.get(rel["state"], "neutral"), created=_when(rel["created_at"]),
        scheduled=_when(rel["scheduled_at"]), diff=_diff(rel), evidence=evidence,
        impact=_impact(evidence["impact"]) if evidence else None, load_problems=load_problems,
        progress=rel["evidence_progress"] or {}, refresh=REFRESH_S if rel["evidence_state"] == "running" else None,
        events=events, buttons=_buttons(rel, Actor(g.ui_user, frozenset(g.ui_roles))), max_shown=MAX_SHOWN,
        done=t(f"done_{done}") if done in DONE.values() else "", refusal=refusal, form=form or {}), status


@bp.get("/releases/<rid>")
@page()
def release_page(rid):
    return _release_page(rid)


@bp.post("/releases/<rid>/<action>")
@page()
def release_action(rid, action):
    """One button of the release page; the outcome on the page it came from."""
    if action not in ACTIONS:
        return _error(404, f"no action {action[:40]!r}: expected {', '.join(ACTIONS)}")
    refused = _reader()
    if refused:
        return refused
    gov, actor = _governance(), Actor(g.ui_user, frozenset(g.ui_roles))
    reason = request.form.get("reason", "").strip() or None
    try:
        if action == "submit":
            gov.submit(actor, rid)
        elif action == "approve":
            gov.approve(actor, rid, reason)
        elif action == "reject":
            gov.reject(actor, rid, reason)
        elif action == "activate":
            gov.activate(actor, rid, _at(request.form.get("at", "").strip()), reason)
        else:
            gov.rollback(actor, rid, reason)
    except WorkflowError as e:
        if e.kind == "unknown-release":
            raise
        return _release_page(rid, e.message, e.status, dict(request.form))
    return redirect(url_for("ui.release_page", rid=rid, done=DONE[action]))


def _at(text: str):
    """The activation instant typed on the page (China time), in UTC as the store keeps it."""
    if not text:
        return None
    try:
        return parse_datetime(text).astimezone(UTC)
    except ValueError as e:
        raise WorkflowError(422, "invalid-request", f"at: {e}") from None
