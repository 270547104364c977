-- One row per activity event. The sink delivers at least once; rows with the
-- same sorting key (which ends in event_id) collapse in background merges and
-- at once under FINAL, so queries that must count exactly use FINAL or
-- uniqExact(event_id).
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
ORDER BY (connection_id, object, record_key, ts, event_id)
