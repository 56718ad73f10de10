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
