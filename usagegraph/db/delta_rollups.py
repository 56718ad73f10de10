"""Rollups kept by statement-level triggers that append deltas (+ for new rows, - for old ones), so that
no writer ever updates a rollup row and concurrent writers never wait for each other on them; readers sum
whatever rows a key has, and the server folds each key's rows into one from time to time
(usagegraph.db.queries.sessions.compact_rollups). Used by the migrations that create such rollups."""

# ruff: noqa: S608  (DDL composed only from the callers' constants)
from __future__ import annotations


def apply_function(name: str, rollup: str, rows: str, keys: str, sums: str) -> str:
    new = rows.format(sign=1, table="new_rows")
    old = rows.format(sign=-1, table="old_rows")
    insert = f"INSERT INTO {rollup} ({keys}, {sums.replace('sum(', '').replace(')', '')})"
    grouped = f"SELECT {keys}, {sums} FROM ({{rows}}) AS d GROUP BY {keys}"
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {insert} {grouped.format(rows=new)};
            ELSIF TG_OP = 'UPDATE' THEN
                {insert} {grouped.format(rows=new + " UNION ALL " + old)}
                HAVING {" OR ".join(part + " <> 0" for part in sums.split(", "))};
            ELSE
                {insert} {grouped.format(rows=old)};
            END IF;
            RETURN NULL;
        END $$
    """


def triggers(table: str, function: str) -> list[str]:
    return [
        f"CREATE TRIGGER {function}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_update AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def install(rollup: str, table: str, rows: str, keys: str, sums: str) -> list[str]:
    """The statements that keep `rollup` from `table` (its trigger function and triggers, named after the
    rollup) and fill it from the rows already there; the rollup table itself is created by the caller."""
    function = f"{rollup}_apply"
    columns = sums.replace("sum(", "").replace(")", "")
    backfill = (
        f"INSERT INTO {rollup} ({keys}, {columns}) SELECT {keys}, {sums} "
        f"FROM ({rows.format(sign=1, table=table)}) AS d GROUP BY {keys} ORDER BY {keys}"
    )
    return [apply_function(function, rollup, rows, keys, sums), *triggers(table, function), backfill]


def uninstall(rollup: str, table: str) -> list[str]:
    """What install created, and the rollup table."""
    function = f"{rollup}_apply"
    return [
        *(f"DROP TRIGGER {function}_{event} ON {table}" for event in ("insert", "update", "delete")),
        f"DROP FUNCTION {function}()",
        f"DROP TABLE {rollup}",
    ]


def ai_truncate_function(session_rollups: list[str]) -> str:
    """The function run when ai_sessions or ai_session_usage is truncated: it empties their rollups
    (DELETE, not TRUNCATE: the rollup may be truncated by the same statement)."""
    deletes = " ".join(f"DELETE FROM {rollup};" for rollup in session_rollups)
    return f"""
        CREATE OR REPLACE FUNCTION ai_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'ai_sessions' THEN
                {deletes}
            ELSE
                DELETE FROM ai_usage_hours;
            END IF;
            RETURN NULL;
        END $$
    """
