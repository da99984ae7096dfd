"""The OpenAPI 3 document, generated from the same marshmallow case schemas that validate
requests (apispec's marshmallow plugin), so the document cannot drift from the service."""
from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from engine.evaluation.case import json_schema

PROBLEM = {"type": "object", "required": ["type", "title", "status"],
           "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                          "detail": {"type": "string"},
                          "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}
AS_OF = {"type": "string", "nullable": True, "example": "2026-11-25",
         "description": "date or date-time the decision is made for; default (absent or null) now (China time)"}


# answers any operation may give: a path and query over the bound (api/routes.py), and in open mode a
# Host that is not a loopback name (api/auth.py, against DNS rebinding)
EVERY_OPERATION = (414, 421)


def _problem_responses(*codes) -> dict:
    texts = {400: "malformed JSON", 401: "missing or unknown token", 403: "token lacks the role",
             404: "unknown rule set or decision", 413: "body or batch too large", 414: "path and query too long",
             409: "the release's state or evidence refuses it, or the decision cannot be replayed",
             415: "not JSON", 421: "Host is not a loopback name (open mode)",
             422: "invalid case or request body", 500: "rule conflict or internal error",
             503: "the decision log cannot be written; nothing was decided"}
    return {str(c): {"description": texts[c], "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for c in codes + EVERY_OPERATION}


def _labelled(schema: dict, t) -> dict:
    """An enum property (or a list of one) with the labels of its codes for people: `x-enum-labels`
    (code → label) and a description listing `code（label）`. The codes stay what the API takes."""
    if t.kind == "list" and "items" in schema:
        _labelled(schema["items"], t.item)
    elif t.kind == "enum":
        schema["x-enum-labels"] = dict(t.labels)
        listing = f"values: {t.choices()}"
        schema["description"] = f"{schema['description']}\n\n{listing}" if schema.get("description") else listing
    return schema


def _decision_schema(rs) -> dict:
    outputs = {n: _labelled(json_schema(o.result_type) | {"title": o.title or n}, o.result_type)
               for n, o in rs.outputs.items()}
    for s in outputs.values():  # money leaves as a string with two decimals
        if "oneOf" in s:
            s.pop("oneOf")
            s["type"] = "string"
    return {"type": "object", "required": ["decision_id", "ruleset", "as_of", "decision", "fired", "warnings"],
            "properties": {"decision_id": {"type": "string"},
                           "ruleset": {"type": "object", "properties": {"name": {"type": "string"},
                                                                          "version": {"type": "string"},
                                                                          "digest": {"type": "string"}}},
                           "as_of": {"type": "string", "format": "date-time"},
                           "decision": {"type": "object", "properties": outputs},
                           "fired": {"type": "array", "items": {"$ref": "#/components/schemas/FiredRule"}},
                           "not_fired": {"type": "array", "items": {"type": "object"}},
                           "warnings": {"type": "array", "items": {"type": "string"}}}}


def build_openapi(book, security: bool) -> dict:
    spec = APISpec(title="aftersales decision API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "After-sales warranty and pricing decisions from YAML rule sets."})
    spec.components.schema("Problem", PROBLEM)
    spec.components.schema("FiredRule", {"type": "object", "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "source": {"type": "string"},
        "stage": {"type": "string"}, "sets": {"type": "object"}, "values": {"type": "object"},
        "overridden": {"type": "array", "items": {"type": "string"}}}})
    if security:
        spec.components.security_scheme("token", {"type": "http", "scheme": "bearer"})
    sec = [{"token": []}] if security else []
    for name, loaded in sorted(book.rulesets.items()):
        rs = loaded.ruleset
        case_ref = f"{rs.case_schema.__class__.__name__}"
        spec.components.schema(case_ref, schema=rs.case_schema.__class__)
        for field, inp in rs.inputs.items():
            _labelled(spec.components.schemas[case_ref]["properties"][field], inp.type)
        spec.components.schema(f"{case_ref}Decision", _decision_schema(rs))
        body = {"type": "object", "required": ["case"], "additionalProperties": False,
                "properties": {"case": {"$ref": f"#/components/schemas/{case_ref}"}, "as_of": AS_OF,
                               "explain": {"type": "string", "enum": ["fired", "full"], "default": "fired"}}}
        decision = {"$ref": f"#/components/schemas/{case_ref}Decision"}
        spec.path(path=f"/v1/decisions/{name}", operations={"post": {
            "summary": f"{rs.title}: decide one case", "description": rs.decides, "security": sec,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"200": {"description": "the decision", "content": {"application/json": {"schema": decision}}},
                          **_problem_responses(400, 401, 403, 413, 415, 422, 500, 503)}}})
        batch = {"type": "object", "required": ["cases"], "additionalProperties": False,
                 "properties": {"cases": {"type": "array", "items": {
                     "description": f"a case (#/components/schemas/{case_ref}); one that does not fit is not a failed "
                                    "batch but an error item in `results` (the contract)"}},
                                "as_of": AS_OF, "explain": {"type": "string", "enum": ["fired", "full"]}}}
        spec.path(path=f"/v1/decisions/{name}/batch", operations={"post": {
            "summary": f"{rs.title}: decide many cases (a bad case gives an error item)", "security": sec,
            "requestBody": {"required": True, "content": {"application/json": {"schema": batch}}},
            "responses": {"200": {"description": "results in order", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"results": {"type": "array", "items": {"oneOf": [
                    decision, {"type": "object", "required": ["index", "error"],
                               "properties": {"index": {"type": "integer"},
                                              "error": {"$ref": "#/components/schemas/Problem"}}}]}}}}}}},
                **_problem_responses(400, 401, 403, 413, 415, 422, 503)}}})
    spec.path(path="/v1/decisions/{decision_id}", operations={"get": {
        "summary": "a stored decision, as it was returned (audit role)", "security": sec,
        "parameters": [{"name": "decision_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the decision", "content": {"application/json": {"schema": {"type": "object"}}}},
                      **_problem_responses(401, 403, 404)}}})
    spec.path(path="/v1/decisions", operations={"get": {
        "summary": "page through the decision log (audit role); format=jsonl exports for replay", "security": sec,
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("ruleset", "since", "until", "cursor")]
        + [{"name": "limit", "in": "query", "description": "items per page, default 100; outside 1–1000: a 400",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
           {"name": "format", "in": "query", "description": "jsonl: the whole log as JSON Lines; otherwise a page",
            "schema": {"type": "string"}}],
        "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {"type": "object"}},
                                                                   "application/x-ndjson": {"schema": {"type": "string"}}}},
                      **_problem_responses(400, 401, 403)}}})
    spec.path(path="/v1/rulesets", operations={"get": {"summary": "rule sets loaded, with status and load errors",
                                                       "security": sec, "responses": {"200": {"description": "list",
        "content": {"application/json": {"schema": {"type": "object"}}}}, **_problem_responses(401)}}})
    spec.path(path="/v1/rulesets/{name}", operations={"get": {
        "summary": "a rule set: inputs, outputs, parameters and rules", "security": sec,
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the rule set", "content": {"application/json": {"schema": {"type": "object"}}}},
                      **_problem_responses(401, 404)}}})
    spec.path(path="/v1/rulesets/reload", operations={"post": {
        "summary": "reload changed rule files now (admin role)", "security": sec,
        "responses": {"200": {"description": "what was reloaded", "content": {"application/json": {"schema": {"type": "object"}}}},
                      **_problem_responses(401, 403)}}})
    _release_paths(spec, sec)
    for path, text in (("/healthz", "alive"), ("/readyz", "rules loaded and database reachable")):
        spec.path(path=path, operations={"get": {"summary": text, "responses": {
            "200": {"description": text, "content": {"application/json": {"schema": {"type": "object"}}}},
            "503": {"description": "not ready", "content": {"application/json": {"schema": {"type": "object"}}}},
            **_problem_responses()}}})
    return _null_in_nullable_enums(spec.to_dict())


def _release_paths(spec: APISpec, sec: list) -> None:
    """The releases workflow (api/releases.py) and replay (api/replay.py)."""
    obj = {"type": "object"}
    json_obj = {"application/json": {"schema": obj}}
    rid = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    reason = {"type": "string", "description": "why (at most 2,000 characters), kept with the event"}

    def body(properties: dict, required=()) -> dict:
        schema = {"type": "object", "additionalProperties": False, "properties": properties}
        if required:
            schema["required"] = list(required)
        return {"required": bool(required), "content": {"application/json": {"schema": schema}}}

    def op(summary, ok, *problems, params=(), request=None, status="200", content=json_obj):
        out = {"summary": summary, "security": sec, "parameters": list(params),
               "responses": {status: {"description": ok, "content": content}, **_problem_responses(*problems)}}
        return out | ({"requestBody": request} if request else {})

    readers = "(audit, author, approver or admin role)"
    files = {"type": "object", "additionalProperties": {"type": "string"},
             "description": "file name (NAME.yaml, calendar.yaml, tests/RULESET/NAME.yaml) → its text"}
    create = {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["message", "files"],
         "properties": {"message": {"type": "string"}, "files": files}},
        {"type": "object", "additionalProperties": False, "required": ["message", "from", "changes"],
         "properties": {"message": {"type": "string"}, "from": {"type": "string", "description": "the release edited"},
                        "changes": {"type": "object", "description": "a text adds or replaces a file, null removes it",
                                    "additionalProperties": {"type": "string", "nullable": True}}}}]}}}}
    spec.path(path="/v1/releases", operations={
        "get": op(f"the releases, newest first, and the active one {readers}", "{releases, active}", 401, 403),
        "post": op("create a draft release (author role): the whole content, or an edit of a release", "the release",
                   400, 401, 403, 404, 413, 415, 422, request=create, status="201")})
    spec.path(path="/v1/releases/{id}", operations={"get": op(
        f"a release with its evidence, events and activations {readers}", "the release", 401, 403, 404, params=rid)})
    spec.path(path="/v1/releases/{id}/files", operations={"get": op(
        f"a release's files {readers}", "{id, digest, files}", 401, 403, 404, params=rid)})
    spec.path(path="/v1/releases/{id}/diff", operations={"get": op(
        f"what a release changes, rule by rule {readers}", "the changes", 400, 401, 403, 404,
        params=rid + [{"name": "against", "in": "query", "schema": {"type": "string"},
                       "description": "the release compared with; default its parent (none: everything is added)"},
                      {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "text"]},
                       "description": "text: one line per change, as the CLI prints it"}],
        content=json_obj | {"text/plain": {"schema": {"type": "string"}}})})
    spec.path(path="/v1/releases/{id}/submit", operations={"post": op(
        "submit a draft for approval (author role); its evidence is gathered in the background",
        "the release, evidence_state running", 401, 403, 404, 409, params=rid, status="202")})
    spec.path(path="/v1/releases/{id}/approve", operations={"post": op(
        "approve a submitted release (approver role, not its author); a reason is required when check has findings",
        "the release", 400, 401, 403, 404, 409, 415, 422, params=rid, request=body({"reason": reason}))})
    spec.path(path="/v1/releases/{id}/reject", operations={"post": op(
        "reject a submitted or approved release (approver role)", "the release", 400, 401, 403, 404, 409, 415, 422,
        params=rid, request=body({"reason": reason}, ["reason"]))})
    spec.path(path="/v1/releases/{id}/activate", operations={"post": op(
        "activate an approved release now or at a time (approver or admin role)", "the release", 400, 401, 403, 404,
        409, 415, 422, params=rid, request=body({"at": {"type": "string", "format": "date-time",
                                                        "description": "when; China time without an offset; default now"},
                                                 "reason": reason}))})
    spec.path(path="/v1/releases/rollback", operations={"post": op(
        "activate an earlier active release again (approver, or admin in an emergency)", "the release now active",
        400, 401, 403, 404, 409, 415, 422,
        request=body({"to": {"type": "string", "description": "default: the release active before the current one"},
                      "reason": reason}, ["reason"]))})
    spec.path(path="/v1/decisions/{decision_id}/replay", operations={"get": op(
        "decide a stored decision again with its release and as_of (audit role)",
        "{decision_id, release, identical, differences: [{field, logged, replayed}]}", 401, 403, 404, 409,
        params=[{"name": "decision_id", "in": "path", "required": True, "schema": {"type": "string"}}])})


def _null_in_nullable_enums(doc: dict) -> dict:
    """An optional case field may be sent as null ("not given"); OpenAPI 3.0.3 wants a nullable
    enum to list null among its values, or null is not allowed after all (found by schemathesis)."""
    for schema in doc.get("components", {}).get("schemas", {}).values():
        for prop in (schema.get("properties") or {}).values():
            if prop.get("nullable") and "enum" in prop and None not in prop["enum"]:
                prop["enum"] = [*prop["enum"], None]
    return doc
