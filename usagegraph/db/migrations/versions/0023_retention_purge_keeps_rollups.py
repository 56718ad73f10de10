"""Retention: deleting old AI sessions and usage lines leaves their rollups alone.

The AI session rollups are kept by statement-level triggers that append a negative delta for every deleted
row. The retention purge deletes raw rows whose sums the rollups must keep answering for, so each DELETE
trigger now fires unless the deleting transaction has set `usagegraph.retention_purge` to `on` (the purge
sets it with `set_config(..., true)`, for its own transaction only). Every other DELETE is unchanged.

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_TRIGGERS = [
    ("ai_session_hours_apply_delete", "ai_sessions", "ai_session_hours_apply"),
    ("ai_usage_hours_apply_delete", "ai_session_usage", "ai_usage_hours_apply"),
    ("ai_session_user_days_apply_delete", "ai_sessions", "ai_session_user_days_apply"),
    ("ai_session_user_weeks_apply_delete", "ai_sessions", "ai_session_user_weeks_apply"),
    ("ai_session_project_days_apply_delete", "ai_sessions", "ai_session_project_days_apply"),
]

_WHEN = "WHEN (coalesce(current_setting('usagegraph.retention_purge', true), '') <> 'on') "


def _create(name: str, table: str, function: str, when: str) -> str:
    return (
        f"CREATE TRIGGER {name} AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT {when}EXECUTE FUNCTION {function}()"
    )


def upgrade() -> None:
    for name, table, function in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(_create(name, table, function, _WHEN))


def downgrade() -> None:
    for name, table, function in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(_create(name, table, function, ""))
