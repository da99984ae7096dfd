"""API tokens with roles: `decide` (evaluate), `audit` (read the decision log), `admin` (reload).

With no tokens configured the service is open, and `aftersales serve` binds to
127.0.0.1 only; it then also refuses every request whose Host header is not a loopback
name, so a web page elsewhere cannot reach it through DNS rebinding. Tokens are compared
in constant time.
"""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, g, request

from .problems import Problem

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
"""The Host names an open service answers: loopback only (any port)."""


def refuse_foreign_host() -> None:
    """Before every request: in open mode, a Host that is not a loopback name is a 421.

    A request without Host (HTTP/1.0) passes: browsers always send one, so it is no rebinding."""
    host = request.headers.get("Host", "")
    if not host or not current_app.config["SETTINGS"].open_access:
        return
    name = host[:host.index("]") + 1] if host.startswith("[") and "]" in host else host.rpartition(":")[0] or host
    if name.lower() not in LOOPBACK_HOSTS:
        raise Problem(421, "Misdirected Request",
                      f"Host {host[:100]!r} is not a loopback name: without API tokens this service answers only "
                      f"{', '.join(sorted(LOOPBACK_HOSTS))}")


def _caller(settings) -> str:
    if settings.open_access:
        return "local"
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'")
    for known, token in settings.tokens.items():
        if hmac.compare_digest(known.encode(), secret.strip().encode()):
            g.roles = token.roles
            return token.name
    raise Problem(401, "Unauthorized", "unknown token")


def require(role: str | None):
    """Route decorator: a valid token, and (if given) one carrying `role`."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            settings = current_app.config["SETTINGS"]
            g.caller = _caller(settings)
            if role and not settings.open_access and role not in g.roles:
                raise Problem(403, "Forbidden", f"this token lacks the role {role!r}")
            return view(*args, **kwargs)
        return wrapper
    return decorate
