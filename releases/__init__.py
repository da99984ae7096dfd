"""Rule releases: the policy as immutable, content-addressed snapshots that go through a workflow
with two people before they serve.

    snapshot.py    a release's files and digest; read from / exported to a folder; compiled
    store.py       releases, their files, events and activations in the database (SQLAlchemy Core)
    governance.py  the workflow: roles, maker-checker, states, what is recorded
    evidence.py    what submitting gathers: load, check, rule tests with coverage, impact
    diff.py        two releases compared in a policy owner's words
"""
