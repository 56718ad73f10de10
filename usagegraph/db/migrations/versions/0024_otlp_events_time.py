"""The OpenTelemetry event ledger gets an index on (organization_id, occurred_at).

The retention purge deletes ledger rows older than RETENTION_AI_SESSIONS_DAYS one organization at a time,
in batches, and records the oldest event per organization after each round; without this index each batch
and each of those minimums reads every ledger row of the organization (docs/operations.md#retention).

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


def downgrade() -> None:
    op.execute("DROP INDEX otlp_events_time")
