"""The releases API (/v1/releases) and replay (/v1/decisions/{id}/replay): a thin layer over the
workflow (releases.governance) and api.replay. Who may do what is the workflow's; the views only
check a role before reading a body, so a token without it learns nothing more than 403."""
from __future__ import annotations

from http import HTTPStatus

from flask import Blueprint, Response, current_app, g, request
from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema

from engine.errors import RulesError
from engine.types import parse_datetime
from releases.diff import format_text
from releases.governance import Actor, WorkflowError
from releases.snapshot import check_files
from releases.store import StoreUnavailable

from .auth import require
from .problems import Problem
from .replay import NotReplayable, Replayer
from .routes import _SCHEMAS, _body, _json, _service, logged
from .settings import ROLES

bp = Blueprint("releases", __name__)
READERS = ("audit", "author", "approver", "admin")
REPLAYER = "aftersales.replayer"  # the app's Replayer, in app.extensions


class CreateRelease(Schema):
    """Either the whole content (`files`), or an edit of release `from` (`changes`: a text adds or
    replaces a file, null removes it). File names and contents are checked by check_files."""
    message = fields.String(required=True)
    files = fields.Dict()
    from_ = fields.String(data_key="from")
    changes = fields.Dict()

    @validates_schema
    def one_form(self, data, **_):
        if "files" in data and ("from_" in data or "changes" in data):
            raise ValidationError("send files, or from and changes, not both", "files")
        if "files" not in data and "changes" not in data:
            raise ValidationError("send files (the whole release) or from and changes (an edit)", "files")
        if "changes" in data and "from_" not in data:
            raise ValidationError("changes edit a release: name it in from", "from")
        if "from_" in data and "changes" not in data:
            raise ValidationError("an edit of a release needs changes", "changes")


class OptionalReason(Schema):
    reason = fields.String(load_default=None)


class RequiredReason(Schema):
    reason = fields.String(required=True)


class ActivateRelease(Schema):
    at = fields.String(load_default=None)  # parsed by engine.types.parse_datetime (China time without offset)
    reason = fields.String(load_default=None)


class Rollback(Schema):
    to = fields.String(load_default=None)
    reason = fields.String(required=True)


_SCHEMAS.update({cls: cls(unknown=RAISE) for cls in (CreateRelease, OptionalReason, RequiredReason,
                                                      ActivateRelease, Rollback)})


@bp.errorhandler(WorkflowError)
def workflow_error(e: WorkflowError):
    return Problem(e.status, HTTPStatus(e.status).phrase, e.message, kind=e.kind).response()


@bp.errorhandler(StoreUnavailable)
def store_down(e: StoreUnavailable):
    current_app.logger.error("release store unavailable: %s", e)
    return Problem(503, "Service Unavailable", "the release store cannot be reached; nothing was changed",
                   kind="store-unavailable").response()


def _actor(*roles: str) -> Actor:
    """The caller, refused (403) unless they hold one of `roles`; in open mode (no tokens) the
    local caller holds every role."""
    held = frozenset(ROLES) if current_app.config["SETTINGS"].open_access else frozenset(g.roles)
    actor = Actor(g.caller, held)
    if not actor.has(*roles):
        raise Problem(403, "Forbidden", f"this token lacks the role {' or '.join(map(repr, roles))}",
                      kind="forbidden")
    return actor


def _optional_body(schema_cls) -> dict:
    """A body whose fields are all optional: none sent is the same as {}."""
    return _body(schema_cls) if request.content_length else _SCHEMAS[schema_cls].load({})


def _governance():
    return _service().governance


def _invalid_files(e: RulesError) -> Problem:
    errors: dict = {}
    for p in e.problems:
        errors.setdefault(p.file, []).append(p.message)
    return Problem(422, "Invalid files", "the release's files cannot be taken as they are", errors=errors,
                   kind="invalid-files")


@bp.get("/v1/releases")
@require(None)
def list_releases():
    _actor(*READERS)
    gov = _governance()
    return _json({"releases": gov.list(), "active": gov.active()})


@bp.post("/v1/releases")
@require(None)
def create_release():
    actor = _actor("author")
    gov = _governance()
    body = _body(CreateRelease)
    if "files" in body:
        files, parent = body["files"], None
    else:
        parent = body["from_"]
        files = dict(gov.snapshot(parent).files)
        for name, text in body["changes"].items():
            if text is not None:
                files[name] = text
            elif files.pop(name, None) is None:
                raise Problem(422, "Invalid files", f"changes remove a file release {parent} does not have",
                              errors={name: [f"not a file of release {parent}"]}, kind="invalid-files")
    try:
        snap = check_files(files)
    except RulesError as e:
        raise _invalid_files(e) from None
    release = gov.create(actor, snap, body["message"], parent)
    return _json(gov.show(release["id"]), 201)


@bp.get("/v1/releases/<rid>")
@require(None)
def show_release(rid):
    _actor(*READERS)
    return _json(_governance().show(rid))


@bp.get("/v1/releases/<rid>/files")
@require(None)
def release_files(rid):
    _actor(*READERS)
    snap = _governance().snapshot(rid)
    return _json({"id": rid, "digest": snap.digest, "files": snap.files})


@bp.get("/v1/releases/<rid>/diff")
@require(None)
def release_diff(rid):
    _actor(*READERS)
    gov = _governance()
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "text"):
        raise Problem(400, "Bad query", "format must be json or text", kind="bad-query")
    if "against" in request.args:
        against = request.args["against"]
        if not against:
            raise Problem(400, "Bad query", "against must name a release", kind="bad-query")
    else:
        against = gov.show(rid)["parent"]  # none: the first release, everything in it is added
    result = gov.diff(against, rid)
    if fmt == "text":
        return Response(format_text(result) + "\n", mimetype="text/plain")
    return _json(result)


@bp.post("/v1/releases/<rid>/submit")
@require(None)
def submit_release(rid):
    return _json(_governance().submit(_actor("author"), rid), 202)


@bp.post("/v1/releases/<rid>/approve")
@require(None)
def approve_release(rid):
    actor = _actor("approver")
    return _json(_governance().approve(actor, rid, _optional_body(OptionalReason)["reason"]))


@bp.post("/v1/releases/<rid>/reject")
@require(None)
def reject_release(rid):
    actor = _actor("approver")
    return _json(_governance().reject(actor, rid, _body(RequiredReason)["reason"]))


@bp.post("/v1/releases/<rid>/activate")
@require(None)
def activate_release(rid):
    actor = _actor("approver", "admin")
    body = _optional_body(ActivateRelease)
    at = None
    if body["at"] is not None:
        try:
            at = parse_datetime(body["at"])
        except ValueError as e:
            raise Problem(422, "Invalid request", "at is not a date-time", errors={"at": [str(e)]},
                          kind="invalid-request") from None
    return _json(_governance().activate(actor, rid, at, body["reason"]))


@bp.post("/v1/releases/rollback")
@require(None)
def rollback_release():
    actor = _actor("approver", "admin")
    body = _body(Rollback)
    return _json(_governance().rollback(actor, body["to"], body["reason"]))


def _replayer() -> Replayer:
    extensions = current_app.extensions
    if REPLAYER not in extensions:
        extensions.setdefault(REPLAYER, Replayer(_governance().store, current_app.config["SETTINGS"].backend))
    return extensions[REPLAYER]


@bp.get("/v1/decisions/<decision_id>/replay")
@require("audit")
def replay_decision(decision_id):
    record = logged(decision_id)
    try:
        return _json(_replayer().replay(record))
    except NotReplayable as e:
        raise Problem(409, "Conflict", str(e), kind="not-replayable") from None
