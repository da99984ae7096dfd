"""The tables at the newest revision, for SQLAlchemy Core queries (the migrations create them; a test
checks that these definitions and the migrated schema agree)."""
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from db.migrations.types import ID_LIST, JSON_TEXT, TIME_TEXT

metadata = sa.MetaData()
WHEN = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
"""The releases' JSON columns, read and written as Python values (stored as JSON_TEXT makes them)."""

decisions = sa.Table(
    "decisions", metadata,
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
    sa.Column("release", sa.Text, nullable=True),
)

decision_log_probe = sa.Table(
    "decision_log_probe", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("probed_at", TIME_TEXT, nullable=False),
)

releases = sa.Table(
    "releases", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("parent", sa.Text),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("created_at", WHEN, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("rulesets", JSON, nullable=False),
    sa.Column("load_problems", JSON, nullable=False),
    sa.Column("evidence_state", sa.Text, nullable=False),
    sa.Column("evidence_progress", JSON),
    sa.Column("evidence_updated_at", WHEN),
    sa.Column("evidence", JSON),
)

release_files = sa.Table(
    "release_files", metadata,
    sa.Column("release_id", sa.Text, sa.ForeignKey("releases.id"), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("content", sa.Text, nullable=False),
)

release_events = sa.Table(
    "release_events", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.Text, sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", WHEN, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("detail", JSON),
)

release_activations = sa.Table(
    "release_activations", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.Text, sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("effective_at", WHEN, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("emergency", sa.Boolean, nullable=False),
    sa.Column("recorded_at", WHEN, nullable=False),
)
