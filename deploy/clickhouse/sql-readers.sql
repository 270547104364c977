-- Read-only SQL access to the sync history, limited to one workspace.
--
-- Who sees what: a workspace owns its connections (pkg/connection: the
-- "workspace" field of each connection in the connections bucket), and
-- every activity row carries its connection_id. ClickHouse does not see the
-- connections bucket, so the activity sink mirrors it into
-- connection_workspaces (migration 0003: connection_id, workspace, revision;
-- a deleted connection keeps an empty workspace), and each workspace's row
-- policies admit the rows of its connections only.
-- A connection without a row is visible to no SQL reader (never to the
-- wrong one).
--
-- Needs a current ClickHouse (22.11 or later: SQL-managed roles and row
-- policies whose condition has an IN subquery). CI's ClickHouse 18.16 has
-- no row policies, so this file is not run by the tests;
-- services/syncd/kustomize_test.go parses it and checks it against the
-- migrations and the manifests instead.
--
-- Run it as ledgersync_admin (deploy/k8s/dependencies/clickhouse-installation.yaml)
-- after activitysink has created the schema:
--   kubectl -n clickhouse exec -i chi-ledgersync-ledgersync-0-0-0 -- \
--     clickhouse-client --user ledgersync_admin --password "$CH_ADMIN_PASSWORD" --multiquery < deploy/clickhouse/sql-readers.sql
-- Every statement is idempotent.

-- Once a table has any row policy, a user that no policy names sees none of
-- its rows. The app's own user (CLICKHOUSE_USERNAME, which writes and reads
-- the activity for the web app) and the admin keep every row.
CREATE ROW POLICY OR REPLACE ledgersync_all ON ledgersync.sync_activity FOR SELECT USING 1 TO ledgersync, ledgersync_admin;
CREATE ROW POLICY OR REPLACE ledgersync_all ON ledgersync.record_status FOR SELECT USING 1 TO ledgersync, ledgersync_admin;
CREATE ROW POLICY OR REPLACE ledgersync_all ON ledgersync.record_state FOR SELECT USING 1 TO ledgersync, ledgersync_admin;
CREATE ROW POLICY OR REPLACE ledgersync_all ON ledgersync.connection_workspaces FOR SELECT USING 1 TO ledgersync, ledgersync_admin;

-- What every SQL reader may do: SELECT on the history tables, nothing else
-- (row policies only hold for users who cannot write or move partitions),
-- with bounded queries.
CREATE ROLE IF NOT EXISTS ledgersync_sql_reader;
GRANT SELECT ON ledgersync.sync_activity TO ledgersync_sql_reader;
GRANT SELECT ON ledgersync.record_status TO ledgersync_sql_reader;
GRANT SELECT ON ledgersync.record_state TO ledgersync_sql_reader;
GRANT SELECT ON ledgersync.connection_workspaces TO ledgersync_sql_reader;
CREATE SETTINGS PROFILE OR REPLACE ledgersync_sql_reader
    SETTINGS readonly = 2, max_execution_time = 60 CONST, max_memory_usage = 4000000000 CONST, max_result_rows = 1000000 CONST
    TO ledgersync_sql_reader;

-- One block per workspace; this one is "default", the workspace of the
-- first super admin (SYNC_ADMIN_EMAIL). For workspace W copy the block and
-- replace default with W in the role, the policy names and the literals.
-- The conditions test connection_id, the first column of the sorting keys
-- of sync_activity and record_status; record_state's key starts with a
-- hash of connection_id and object (migration 0004), so every row of one
-- of its keys has the same connection_id too. Applying them before FINAL
-- collapses rows is exact.
CREATE ROLE IF NOT EXISTS ledgersync_ws_default;
GRANT ledgersync_sql_reader TO ledgersync_ws_default;
CREATE ROW POLICY OR REPLACE ws_default ON ledgersync.connection_workspaces FOR SELECT
    USING workspace = 'default' TO ledgersync_ws_default;
CREATE ROW POLICY OR REPLACE ws_default ON ledgersync.sync_activity FOR SELECT
    USING connection_id IN (SELECT connection_id FROM ledgersync.connection_workspaces FINAL WHERE workspace = 'default')
    TO ledgersync_ws_default;
CREATE ROW POLICY OR REPLACE ws_default ON ledgersync.record_status FOR SELECT
    USING connection_id IN (SELECT connection_id FROM ledgersync.connection_workspaces FINAL WHERE workspace = 'default')
    TO ledgersync_ws_default;
CREATE ROW POLICY OR REPLACE ws_default ON ledgersync.record_state FOR SELECT
    USING connection_id IN (SELECT connection_id FROM ledgersync.connection_workspaces FINAL WHERE workspace = 'default')
    TO ledgersync_ws_default;

-- A person of the workspace (not run here: choose the name and password):
--   CREATE USER sql_jane IDENTIFIED WITH sha256_password BY '...';
--   GRANT ledgersync_ws_default TO sql_jane;   -- a new user's granted roles are its default roles
