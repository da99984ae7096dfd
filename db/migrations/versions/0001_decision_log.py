"""The decision log as it was before migrations: decisions and the readiness probe's table.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from db.migrations.types import ID_LIST, JSON_TEXT, TIME_TEXT

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.Text, primary_key=True),
        sa.Column("created_at", TIME_TEXT, nullable=False),
        sa.Column("ruleset", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("as_of", sa.Text, nullable=False),
        sa.Column("case_data", JSON_TEXT, nullable=False),
        sa.Column("response", JSON_TEXT, nullable=False),
        sa.Column("fired", ID_LIST, nullable=False),
        sa.Column("duration_ms", sa.Float(precision=53), nullable=False),
        sa.Column("caller", sa.Text, nullable=False),
    )
    op.create_index("decisions_ruleset_created", "decisions", ["ruleset", "created_at", "decision_id"])
    op.create_index("decisions_created", "decisions", ["created_at", "decision_id"])
    op.create_table("decision_log_probe",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("probed_at", TIME_TEXT, nullable=False))
