"""Web pages for service staff, finance and policy owners, under /ui/ of the same Flask app.

    /ui/                        the rule sets: titles, versions, what each decides, load errors
    /ui/decide/<ruleset>        a form generated from the rule set's inputs → a decision card
    /ui/scrap                   the scrap-price check shaped for finance, with the arithmetic
    /ui/sla                     the service-level form; the card draws each step on a timeline
    /ui/rules/<ruleset>         each rule as a row, in words, with its clause and test coverage
    /ui/decisions               recent decisions (audit), by rule set and date
    /ui/decisions/<id>          a logged decision, on its decision page (audit)

Roles are the API's (api/auth.py): open when no tokens are configured; otherwise a
token typed into /ui/login is checked and a digest of it kept in Flask's signed
session cookie (secret: AFTERSALES_SECRET_KEY, else derived from the configured
tokens, so every gunicorn worker agrees and a changed token list signs everyone out).
Forms then carry a CSRF token. Every decision made from a page goes through
DecisionService.decide — validated, logged and counted like an API decision, with
the caller "ui:<token name>" (or "ui:local").
"""
from __future__ import annotations

from .pages import bp

__all__ = ["bp"]
