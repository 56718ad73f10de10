"""The OpenTelemetry intake's event ledger.

An AI session fed over OTLP is the sum of the events that reached the server: each event is kept here,
keyed by an identity derived from what it carries, so an exporter that retries a batch adds nothing, and
the session row and usage lines are recomputed from the ledger on every batch that brings a new event
(docs/otlp.md).

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE otlp_events (
            organization_id uuid NOT NULL REFERENCES organizations (id),
            event_id uuid NOT NULL,
            session_id uuid NOT NULL,
            name text NOT NULL,
            occurred_at timestamptz NOT NULL,
            model text,
            input_tokens bigint NOT NULL DEFAULT 0,
            output_tokens bigint NOT NULL DEFAULT 0,
            cache_read_tokens bigint NOT NULL DEFAULT 0,
            cache_write_tokens bigint NOT NULL DEFAULT 0,
            cost numeric(20, 6),
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (organization_id, event_id)
        )
        """
    )
    op.execute("CREATE INDEX otlp_events_session ON otlp_events (organization_id, session_id)")
    # Agents name their user by email: the intake looks members up by lower(email).
    op.execute("CREATE INDEX users_email_lower ON users (lower(email))")


def downgrade() -> None:
    op.execute("DROP INDEX users_email_lower")
    op.execute("DROP TABLE otlp_events")
