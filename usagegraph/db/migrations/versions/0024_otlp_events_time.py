"""OTLP's event ledger indexed for the retention purge.

The purge deletes ledger rows older than RETENTION_AI_SESSIONS_DAYS one organization at a time, in
batches, and records the oldest event per organization after each round: otlp_events_time (organization_id,
occurred_at) finds them. A row goes only when its session's latest event is older than the cutoff too:
otlp_events_session gains occurred_at, so that latest event is one index probe (it served, and still
serves, the intake's lookups by session, which also read min and max of occurred_at) (docs/operations.md#retention).

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX otlp_events_time ON otlp_events (organization_id, occurred_at)")
    op.execute("DROP INDEX otlp_events_session")
    op.execute("CREATE INDEX otlp_events_session ON otlp_events (organization_id, session_id, occurred_at)")


def downgrade() -> None:
    op.execute("DROP INDEX otlp_events_session")
    op.execute("CREATE INDEX otlp_events_session ON otlp_events (organization_id, session_id)")
    op.execute("DROP INDEX otlp_events_time")
