-- Which workspace owns each connection, mirrored from the connections
-- bucket by the sink: ClickHouse cannot read NATS, and the SQL readers'
-- row policies (deploy/clickhouse/sql-readers.sql) admit a workspace's
-- rows through this table. The KV revision orders the updates; a deleted
-- connection keeps a row with an empty workspace, so no reader sees it.
CREATE TABLE IF NOT EXISTS connection_workspaces
(
    connection_id String,
    workspace     String,
    revision      UInt64,
    updated_at    DateTime('UTC')
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY connection_id
