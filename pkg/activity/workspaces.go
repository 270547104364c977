package activity

import (
	"context"
	"fmt"
	"time"
)

// ConnectionWorkspace is one row of connection_workspaces: the workspace
// a connection belongs to ("" once the connection is deleted), as of the
// connections bucket's revision.
type ConnectionWorkspace struct {
	Connection string
	Workspace  string
	Revision   uint64
	At         time.Time
}

// PutWorkspaces records which workspace owns each connection.
func (s *Store) PutWorkspaces(ctx context.Context, rows []ConnectionWorkspace) error {
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO connection_workspaces (connection_id, workspace, revision, updated_at)")
	if err != nil {
		return fmt.Errorf("connection workspaces: %w", err)
	}
	for _, r := range rows {
		if err := batch.Append(r.Connection, r.Workspace, r.Revision, r.At.UTC()); err != nil {
			return fmt.Errorf("connection workspaces: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("connection workspaces: %w", err)
	}
	return nil
}

// Workspaces answers the current workspace of every connection known to
// ClickHouse (deleted ones have "").
func (s *Store) Workspaces(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	rows, err := s.conn.Query(ctx, "SELECT connection_id, workspace FROM connection_workspaces FINAL")
	if err != nil {
		return nil, fmt.Errorf("connection workspaces: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, w string
		if err := rows.Scan(&c, &w); err != nil {
			return nil, err
		}
		out[c] = w
	}
	return out, rows.Err()
}
