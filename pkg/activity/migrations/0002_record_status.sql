-- Latest status per record, for the object view, the record view and
-- exports. ReplacingMergeTree keeps the row with the highest version (the
-- event time in microseconds); read it with FINAL.
CREATE TABLE IF NOT EXISTS record_status
(
    connection_id String,
    object        String,
    record_key    String,
    hubspot_id    String,
    qbo_id        String,
    status        String,
    outcome       String,
    stage         String,
    direction     String,
    error_code    String,
    error_message String,
    event_id      String,
    updated_at    DateTime('UTC'),
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (connection_id, object, record_key);

-- status: synced (written by the writer, or nothing to write: not newer,
-- unchanged, our own echo), failing, excluded (by a filter) or pending (on
-- its way through the stages, or retrying).
CREATE MATERIALIZED VIEW IF NOT EXISTS record_status_mv TO record_status AS
SELECT
    connection_id,
    object,
    record_key,
    hubspot_id,
    qbo_id,
    multiIf(outcome = 'failed', 'failing',
            outcome = 'excluded', 'excluded',
            outcome IN ('skipped', 'skipped_echo') OR (outcome = 'success' AND stage = 'writer'), 'synced',
            'pending') AS status,
    outcome,
    stage,
    direction,
    error_code,
    error_message,
    event_id,
    ts AS updated_at,
    ts_us AS version
FROM sync_activity
WHERE record_key != ''
