"""Policy-owner tooling on top of the engine core: check (gaps, dead rules, overlaps), rule
tests, impact of an edit on past decisions, why-not. The core never imports this package."""
