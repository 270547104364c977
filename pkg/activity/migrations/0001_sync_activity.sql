-- One row per activity event. The sink delivers at least once, and a stage
-- that handles a redelivered message emits its event again (same event_id,
-- later ts); rows with the same sorting key, which ends in event_id and not
-- in ts for that reason, collapse in background merges and at once under
-- FINAL, so queries that must count exactly use FINAL or
-- uniqExact(event_id). One record's timeline is a narrow key range, sorted
-- by ts after reading.
CREATE TABLE IF NOT EXISTS sync_activity
(
    event_id      String,
    ts            DateTime('UTC'),
    ts_us         UInt64,
    connection_id String,
    object        String,
    record_key    String,
    hubspot_id    String,
    qbo_id        String,
    source_system String,
    stage         String,
    action        String,
    direction     String,
    outcome       String,
    error_code    String,
    error_message String,
    change_fields Array(String),
    change_old    Array(String),
    change_new    Array(String),
    attempt       UInt16,
    duration_ms   UInt32,
    message_id    String,
    replay_id     String,
    nats_stream   String,
    nats_seq      UInt64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (connection_id, object, record_key, event_id)
