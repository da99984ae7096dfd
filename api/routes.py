"""The HTTP endpoints of the contract (../shared/contract.md): a thin layer over the engine."""
from __future__ import annotations

import io
import json

from flask import Blueprint, Response, current_app, g, render_template_string, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge

from engine.evaluation.case import JsonInputError
from engine.errors import CaseError
from engine.types import parse_datetime

from . import jsonout
from .auth import require
from .describe import describe_ruleset
from .metrics import exposition, status as metrics_status
from .openapi import build_openapi
from .problems import Problem, localized_status

bp = Blueprint("v1", __name__)
EXPLAIN = validate.OneOf(["fired", "full"])
PAGE, MAX_PAGE = 100, 1000
"""Decisions per page of GET /v1/decisions, by default and at most: 1,000 is a few MB of JSON."""
MAX_URI = 4094
"""Bytes of a request's path and query: gunicorn's own default, answered here as problem+json
(`aftersales serve` raises gunicorn's limit to its maximum, 8190, which it answers itself)."""


class DecisionRequest(Schema):
    case = fields.Dict(required=True)
    as_of = fields.String(allow_none=True, load_default=None)
    explain = fields.String(load_default="fired", validate=EXPLAIN)


class BatchRequest(Schema):
    cases = fields.List(fields.Raw(allow_none=True), required=True)  # a null case is an error item, not a failed batch
    as_of = fields.String(allow_none=True, load_default=None)
    explain = fields.String(load_default="fired", validate=EXPLAIN)


# one instance each: building a marshmallow schema cost ~0.1 ms per request; `load` keeps no state
_SCHEMAS = {cls: cls(unknown=RAISE) for cls in (DecisionRequest, BatchRequest)}


@bp.before_app_request
def bounded_request():
    """Refuse a URI over MAX_URI (414), and read a body sent without Content-Length (chunked)
    here, one byte past the size limit at most: werkzeug stops such a body at the limit and
    hands on the part read as if it were whole. Over the limit is 413 however the body is sent."""
    env = request.environ
    if len(env.get("RAW_URI") or "") > MAX_URI or len(env.get("QUERY_STRING", "")) > MAX_URI:
        raise Problem(414, "URI Too Long", f"the path and query are longer than {MAX_URI} bytes")
    if "chunked" not in env.get("HTTP_TRANSFER_ENCODING", "").lower() or "wsgi.input_terminated" not in env:
        return  # Content-Length: werkzeug refuses one over the limit before reading
    limit, stream, chunks, size = current_app.config["MAX_CONTENT_LENGTH"], env["wsgi.input"], [], 0
    while size <= limit:
        try:
            chunk = stream.read(limit + 1 - size)
        except Exception as e:  # noqa: BLE001 - each server's own error for a bad chunk or a dropped client
            raise Problem(400, "Bad Request", f"the chunked body cannot be read: {type(e).__name__}") from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    body = b"".join(chunks)  # from here on, an ordinary request with a Content-Length
    env.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
    del env["HTTP_TRANSFER_ENCODING"]


@bp.app_errorhandler(405)
def method_not_allowed(e):
    """405 as problem+json, keeping the `Allow` header RFC 9110 requires (found by schemathesis)."""
    response = Problem(405, e.name, e.description or "").response()
    response.headers["Allow"] = ", ".join(sorted(e.valid_methods or ()))
    return response


# jsonout.dumps's encoding, with one encoder built once (json.dumps with options builds one per call)
_encode = json.JSONEncoder(ensure_ascii=False, default=jsonout._default, separators=(",", ":")).encode


def _json(obj, status=200) -> Response:
    return Response(_encode(obj), status=status, mimetype="application/json")


def _service():
    return current_app.extensions["aftersales"]


def _body(schema_cls) -> dict:
    if not request.is_json:
        raise Problem(415, "Unsupported Media Type", "send the body as application/json")
    raw = request.get_data(cache=False)
    try:
        data = jsonout.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise Problem(400, "Malformed JSON", f"the body is not UTF-8 (byte {e.start + 1})") from None
    except JsonInputError as e:
        raise Problem(400, "Malformed JSON", str(e)) from None
    except CaseError as e:
        raise Problem(422, "Invalid request", "text no database can store", errors=e.errors,
                      kind="invalid-request") from None
    if not isinstance(data, dict):
        raise Problem(400, "Malformed JSON", "the body must be a JSON object")
    try:
        return _SCHEMAS[schema_cls].load(data)
    except ValidationError as e:
        raise Problem(422, "Invalid request", "the request body does not fit the contract",
                      errors={k: v if isinstance(v, list) else [json.dumps(v, ensure_ascii=False)]
                              for k, v in e.messages.items()}, kind="invalid-request") from None


def _as_of(value):
    from engine.evaluation.case import read_as_of
    try:
        return read_as_of(value)
    except CaseError as e:
        raise Problem(422, "Invalid case", "as_of is not a date or date-time", errors=e.errors,
                      kind="invalid-case") from None


@bp.post("/v1/decisions/<name>")
@require("decide")
def decide(name):
    svc = _service()
    svc.decisions.loaded(name)  # 404 before reading the body
    body = _body(DecisionRequest)
    response = svc.decisions.decide(name, body["case"], _as_of(body["as_of"]), body["explain"], g.caller)
    g.decision_ids = [response["decision_id"]]
    return _json(response)


@bp.post("/v1/decisions/<name>/batch")
@require("decide")
def decide_batch(name):
    svc = _service()
    svc.decisions.loaded(name)
    body = _body(BatchRequest)
    limit = current_app.config["SETTINGS"].max_batch
    if len(body["cases"]) > limit:
        raise Problem(413, "Batch too large", f"{len(body['cases'])} cases; at most {limit} per batch",
                      kind="batch-too-large")
    results = svc.decisions.decide_batch(name, body["cases"], _as_of(body["as_of"]), body["explain"], g.caller)
    g.decision_ids = [r["decision_id"] for r in results if "decision_id" in r]
    return _json({"results": results})


def logged(decision_id: str) -> dict:
    """The logged decision `decision_id`, or a 404."""
    record = _service().log.get(decision_id)
    if record is None:
        raise Problem(404, "Not Found", f"no decision {decision_id!r}", kind="unknown-decision")
    return record


@bp.get("/v1/decisions/<decision_id>")
@require("audit")
def get_decision(decision_id):
    return _json(logged(decision_id)["response"])


def _time_arg(name):
    value = request.args.get(name)
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError as e:
        raise Problem(400, "Bad query", f"{name}: {e}", kind="bad-query") from None


def _limit() -> int:
    text = request.args.get("limit")
    if text is None:
        return PAGE
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_PAGE):
        raise Problem(400, "Bad query", f"limit must be a whole number from 1 to {MAX_PAGE}", kind="bad-query")
    return int(text)


@bp.get("/v1/decisions")
@require("audit")
def list_decisions():
    log = _service().log
    ruleset, since, until = request.args.get("ruleset") or None, _time_arg("since"), _time_arg("until")
    limit = _limit()
    start = request.args.get("cursor") or None
    if start:
        try:
            log.page(ruleset, since, until, 1, start)  # an invalid cursor is a 400 before streaming starts
        except ValueError as e:
            raise Problem(400, "Bad query", str(e), kind="bad-query") from None
    if request.args.get("format") == "jsonl":
        def lines():
            cursor = start
            while True:
                items, cursor = log.page(ruleset, since, until, 500, cursor)
                for item in items:
                    yield jsonout.dumps(item) + "\n"
                if cursor is None:
                    return
        return Response(lines(), mimetype="application/x-ndjson")
    try:
        items, cursor = log.page(ruleset, since, until, limit, start)
    except ValueError as e:
        raise Problem(400, "Bad query", str(e), kind="bad-query") from None
    return _json({"items": items, "next": cursor})


@bp.get("/v1/rulesets")
@require(None)
def list_rulesets():
    return _json({"rulesets": localized_status(_service().source.status())})


@bp.get("/v1/rulesets/<name>")
@require(None)
def get_ruleset(name):
    return _json(describe_ruleset(_service().decisions.loaded(name)))


@bp.post("/v1/rulesets/reload")
@require("admin")
def reload_rulesets():
    source = _service().source
    report = source.reload(force=True)
    return _json({"reloaded": report, "rulesets": localized_status(source.status())})


@bp.get("/healthz")
def healthz():
    return _json({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when some rule set serves and the log answers. A broken rules source (folder missing or
    emptied) does not make it unready while last good versions serve, since every instance shares
    the folder and taking them all out of rotation would stop every decision; it is named in
    `rules_source` (and in /v1/rulesets) for monitoring to alert on.

    The log must also take a decision now: `decision_log_writable` commits a probe row (not a
    decision; at most once a second per worker), so a read-only database or a full disk is 503.
    `metrics_ok` says whether the metrics folder takes writes (`metrics_error` why not); it does not
    make the service unready, since a metrics failure fails no request (api/metrics)."""
    svc = _service()
    rules_ok = bool(svc.source.book.rulesets)
    db_ok = svc.log.ping()
    writable = db_ok and svc.log.writable()
    metrics_ok, metrics_error = metrics_status()
    status = 200 if rules_ok and writable else 503
    broken = svc.source.source_error
    return _json({"status": "ready" if status == 200 else "not ready", "rules_loaded": rules_ok,
                  "release": svc.source.book.release,
                  "rules_source": {"status": "broken", "error": [p.as_dict() for p in broken.problems]}
                  if broken else {"status": "ok"},
                  "database": svc.log.kind, "database_reachable": db_ok, "decision_log_writable": writable,
                  "metrics_ok": metrics_ok, **({"metrics_error": metrics_error} if not metrics_ok else {})},
                 status)


@bp.get("/metrics")
def metrics():
    try:
        body, content_type = exposition()
    except Exception:  # noqa: BLE001 - e.g. a worker's metrics file cut short by a full disk
        current_app.logger.exception("metrics could not be read")
        raise Problem(503, "Service Unavailable", "the metrics could not be read; the error was logged",
                      kind="metrics-unavailable") from None
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi():
    svc = _service()
    return _json(build_openapi(svc.source.book, security=not current_app.config["SETTINGS"].open_access))


DOCS = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>aftersales API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem}code{background:#f3f3f3}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.25rem;text-align:left;vertical-align:top}
h2{margin-top:2rem}</style></head><body>
<h1>{{ doc.info.title }}</h1><p>{{ doc.info.description }} Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
{% for path, ops in doc.paths.items() %}{% for method, op in ops.items() %}
<h2><code>{{ method.upper() }} {{ path }}</code></h2><p>{{ op.summary }}{% if op.description %} — {{ op.description }}{% endif %}</p>
{% set body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}) %}
{% set ref = body.get("properties", {}).get("case", {}).get("$ref", "") %}
{% if ref %}{% set schema = doc.components.schemas[ref.split("/")[-1]] %}
<table><tr><th>case field</th><th>title</th><th>type</th><th>allowed / default</th></tr>
{% for f, s in schema.properties.items() %}<tr><td><code>{{ f }}</code>{% if f in schema.get("required", []) %} *{% endif %}</td>
<td>{{ s.title }}</td><td>{{ s.type or "string | number" }}{% if s.format %} ({{ s.format }}){% endif %}</td>
<td>{{ (s.enum or []) | join(", ") }}{% if s.default is not none and s.default is defined %} default {{ s.default }}{% endif %}</td></tr>{% endfor %}
</table>{% endif %}{% endfor %}{% endfor %}</body></html>"""


@bp.get("/docs")
def docs():
    doc = build_openapi(_service().source.book, security=not current_app.config["SETTINGS"].open_access)
    return render_template_string(DOCS, doc=doc)
