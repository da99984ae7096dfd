"""API tokens with roles: `decide` (evaluate), `audit` (read the decision log), `admin` (reload).

With no tokens configured the service is open, and `aftersales serve` binds to
127.0.0.1 only. Tokens are compared in constant time.
"""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, g, request

from .problems import Problem


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
