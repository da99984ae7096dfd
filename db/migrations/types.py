"""Column types that differ between the two databases, as the decision log has always stored them:
JSON is TEXT on SQLite and JSONB on PostgreSQL, times are fixed-width UTC ISO text on SQLite and
TIMESTAMPTZ on PostgreSQL, a list of ids is JSON text on SQLite and text[] on PostgreSQL.
The migrations use these, frozen: a later change of type is a new migration."""
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON_TEXT = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
TIME_TEXT = sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
ID_LIST = sa.Text().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
