"""SQL of the status counters (`apps.core.models.StatusCount`), used by the migrations.

`core_status_count_record()` is attached to a job table by that app's `..._list_counters`
migration (`status_count_triggers_sql`): one AFTER trigger per INSERT, UPDATE, DELETE
(statement level, with transition tables, so a bulk write costs one aggregate, not one call
per row) and TRUNCATE. It appends one delta per status the statement changed.

`core_status_count_compact(table)` folds a table's deltas into one row per status. A trigger
calls it once the table has more than COMPACT_ABOVE delta rows, so a read sums at most a few
dozen rows (a deterministic rule: tests see exactly when it happens). It takes a
transaction-level advisory lock first and skips if another transaction is compacting, so
two compactions never delete the same rows; it only runs under READ COMMITTED, where its
DELETE sees what an earlier compaction committed.

Migrations import these strings: change them only together with a new migration.
"""

COMPACT_ABOVE = 64  # delta rows of one table

FUNCTIONS_SQL = f"""
CREATE FUNCTION core_status_count_compact(target text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT pg_try_advisory_xact_lock(hashtext('core_statuscount'), hashtext(target)) THEN
        RETURN;
    END IF;
    WITH gone AS (
        DELETE FROM core_statuscount WHERE table_name = target RETURNING status, n
    )
    INSERT INTO core_statuscount (table_name, status, n)
    SELECT target, status, sum(n) FROM gone GROUP BY status HAVING sum(n) <> 0;
END
$$;

CREATE FUNCTION core_status_count_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO core_statuscount (table_name, status, n)
        SELECT TG_TABLE_NAME, status, count(*) FROM new_rows GROUP BY status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO core_statuscount (table_name, status, n)
        SELECT TG_TABLE_NAME, status, -count(*) FROM old_rows GROUP BY status;
    ELSIF TG_OP = 'UPDATE' THEN
        -- A progress step leaves every status as it was: nothing is written.
        INSERT INTO core_statuscount (table_name, status, n)
        SELECT TG_TABLE_NAME, status, sum(n) FROM (
            SELECT status, -count(*) AS n FROM old_rows GROUP BY status
            UNION ALL
            SELECT status, count(*) FROM new_rows GROUP BY status
        ) AS moves GROUP BY status HAVING sum(n) <> 0;
    ELSIF TG_OP = 'TRUNCATE' THEN
        DELETE FROM core_statuscount WHERE table_name = TG_TABLE_NAME;
        RETURN NULL;
    END IF;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written > 0
       AND (SELECT count(*) FROM core_statuscount WHERE table_name = TG_TABLE_NAME) > {COMPACT_ABOVE} THEN
        PERFORM core_status_count_compact(TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;
"""

REVERSE_SQL = """
DROP FUNCTION IF EXISTS core_status_count_record();
DROP FUNCTION IF EXISTS core_status_count_compact(text);
"""


def status_count_triggers_sql(table: str) -> tuple[str, str]:
    """(forward, reverse) SQL attaching the counter triggers to `table` and counting the rows
    it already has. The triggers come first: creating them locks the table against writes,
    so no row is missed or counted twice between the two steps."""
    forward = f"""
    CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION core_status_count_record();
    CREATE TRIGGER {table}_count_update AFTER UPDATE ON {table}
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION core_status_count_record();
    CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION core_status_count_record();
    CREATE TRIGGER {table}_count_truncate AFTER TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION core_status_count_record();
    DELETE FROM core_statuscount WHERE table_name = '{table}';
    INSERT INTO core_statuscount (table_name, status, n)
    SELECT '{table}', status, count(*) FROM {table} GROUP BY status;
    """
    reverse = f"""
    DROP TRIGGER IF EXISTS {table}_count_insert ON {table};
    DROP TRIGGER IF EXISTS {table}_count_update ON {table};
    DROP TRIGGER IF EXISTS {table}_count_delete ON {table};
    DROP TRIGGER IF EXISTS {table}_count_truncate ON {table};
    DELETE FROM core_statuscount WHERE table_name = '{table}';
    """
    return forward, reverse
