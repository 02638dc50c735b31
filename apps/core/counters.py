"""SQL of the status counters (`apps.core.models.StatusCount`), used by the migrations.

`core_status_count_record()` is attached to a job table by that app's `..._list_counters`
migration (`status_count_triggers_sql`): AFTER triggers on INSERT, DELETE and TRUNCATE at
statement level (transition tables: a bulk write costs one aggregate, not one call per row)
and on UPDATE at row level, only `WHEN (OLD.status IS DISTINCT FROM NEW.status)`: the
progress steps of a run, which are most of the table's updates, never call the function (a
statement-level UPDATE trigger would run on each of them). Each call appends one delta
per status it changed.

`core_status_count_compact(table)` folds a table's deltas into one row per status. An INSERT
or DELETE statement calls it once the table has more than COMPACT_ABOVE delta rows (a
deterministic rule: tests see exactly when it happens); a status change calls it once in
COMPACT_ABOVE on average, so a run of updates alone cannot pile deltas up. It takes a
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
    ELSIF TG_OP = 'UPDATE' THEN  -- one row whose status changed (the trigger's WHEN)
        INSERT INTO core_statuscount (table_name, status, n)
        VALUES (TG_TABLE_NAME, OLD.status, -1), (TG_TABLE_NAME, NEW.status, 1);
        IF random() < 1.0 / {COMPACT_ABOVE} THEN
            PERFORM core_status_count_compact(TG_TABLE_NAME);
        END IF;
        RETURN NULL;
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
    CREATE TRIGGER {table}_count_update AFTER UPDATE OF status ON {table}
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION core_status_count_record();
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
