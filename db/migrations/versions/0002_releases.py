"""Rule releases: their files, their workflow's record, their activations; each decision names its release.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from db.migrations.types import JSON_TEXT

revision = "0002"
down_revision = "0001"

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("release", sa.Text, nullable=True))  # NULL: decided before releases
    op.create_table(
        "releases",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("parent", sa.Text, nullable=True),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),      # api | import | development
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("status", sa.Text, nullable=False),      # draft | submitted | approved | rejected
        sa.Column("rulesets", JSON_TEXT, nullable=False),  # {name: {digest, version}}
        sa.Column("load_problems", JSON_TEXT, nullable=False),
        sa.Column("evidence_state", sa.Text, nullable=False),  # none | running | done | failed
        sa.Column("evidence_progress", JSON_TEXT, nullable=True),
        sa.Column("evidence_updated_at", WHEN, nullable=True),
        sa.Column("evidence", JSON_TEXT, nullable=True),
    )
    op.create_table(
        "release_files",
        sa.Column("release_id", sa.Text, sa.ForeignKey("releases.id"), primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_table(
        "release_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("release_id", sa.Text, sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("detail", JSON_TEXT, nullable=True),
    )
    op.create_index("release_events_release", "release_events", ["release_id", "seq"])
    op.create_table(
        "release_activations",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("release_id", sa.Text, sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("effective_at", WHEN, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),        # activate | rollback | import | development
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
    )
    op.create_index("release_activations_effective", "release_activations", ["effective_at", "seq"])
