"""Web pages for service staff, finance and policy owners, under /ui/ of the same Flask app.

    /ui/                        the rule sets: titles, versions, what each decides, load errors
    /ui/decide/<ruleset>        a form generated from the rule set's inputs → a decision card
    /ui/scrap                   the scrap-price form shaped for finance (its fields only)
    /ui/sla                     the service-level form
    /ui/rules/<ruleset>         each rule as a row, in words, with its clause and test coverage
    /ui/decisions               recent decisions (audit), by rule set and date
    /ui/decisions/<id>          a logged decision, on its decision page (audit)

Every decision card shows what the decision and the rule set hold, never arithmetic of
its own: each computed output with its expression as the rule wrote it and the facts it
read (workings.py), and, when the rule set declares `datetime` outputs, a timeline of
them (timeline.py). Money, numbers and dates are formatted by Babel (words.py).

Roles are the API's (api/auth.py): open when no tokens are configured (loopback Host
names only); otherwise a token typed into /ui/login is checked and a random session id
kept in Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure over TLS; key:
AFTERSALES_SECRET_KEY, else var/ui-secret-key, so every gunicorn worker agrees). What
the id stands for lives server-side (api/ui/sessions.py): logging out ends it in every
worker, and a removed or changed token ends its sign-ins. Every form, login and logout
included, carries the session's CSRF token, with or without tokens. Every decision made from a page goes through
DecisionService.decide — validated, logged and counted like an API decision, with
the caller "ui:<token name>" (or "ui:local").
"""
from __future__ import annotations

from .pages import bp

__all__ = ["bp"]
