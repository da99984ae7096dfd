"""Errors as `application/problem+json` (RFC 9457): never an HTML page or a traceback."""
from __future__ import annotations

from flask import Response, request

from engine.messages import language_from_accept, localize

from .jsonout import dumps

TYPES = "https://aftersales.example/problems/"


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", errors: dict | None = None, kind: str = ""):
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.kind = kind or title.lower().replace(" ", "-")
        super().__init__(detail or title)

    def body(self) -> dict:
        out = {"type": TYPES + self.kind, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if self.errors is not None:
            out["errors"] = self.errors
        return out

    def response(self) -> Response:
        return Response(dumps(self.body()), status=self.status, mimetype="application/problem+json")


def case_errors(errors: dict) -> dict:
    """Engine field errors → field paths of the request body (`case` itself: not an object)."""
    return {(k if k in ("as_of", "explain", "case") else f"case.{k}"): v for k, v in errors.items()}




def localized_status(items: list[dict], lang: str | None = None) -> list[dict]:
    """Rule-set status items (api.rulesource) with each load problem's message in `lang` — by
    default the request's Accept-Language (zh first: Chinese); the rest, keys included, as they are."""
    lang = lang or language_from_accept(request.headers.get("Accept-Language"))
    if lang != "zh":
        return items
    return [{**item, "error": [{**p, "message": localize(p["message"], lang)} for p in item["error"]]}
            if item.get("error") else item for item in items]
